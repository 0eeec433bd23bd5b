// Package cfverify is the mock gateway's Cloudflare Access: the verifier of
// `cf_access` routes and the Access endpoints a client talks to (the team's
// certs, the CLI login page and the token transfer).
//
// # What it emulates
//
// A request reaches the origin only with a credential Access accepts:
//
//   - a service token (CF-Access-Client-Id and CF-Access-Client-Secret), for
//     an application with a "Service Auth" policy. The secret is compared in
//     constant time and never forwarded. On success the gateway mints the
//     application token, passes it to the origin as Cf-Access-Jwt-Assertion
//     and returns it in a CF_Authorization cookie, so the client can reuse it
//     instead of the pair;
//   - an application token, in the CF_Authorization cookie or the
//     cf-access-token header (what `cloudflared access` sends), either the
//     cookie above or one obtained by a person through the CLI login
//     (/cdn-cgi/access/cli and /cdn-cgi/access/transfer/). It is verified like
//     an origin verifies Access's JWT: RS256 against the team's keys, iss,
//     aud, exp and nbf.
//
// A HEAD or GET with `cf-access-metadata-request: true` is answered with a
// signed `cf-access-metadata` JWT naming the application (its AUD tag and
// auth domain), which is how `cloudflared access login` discovers the app.
//
// # Rules
//
// Every client-supplied Access header (the credentials, Cf-Access-Jwt-Assertion,
// Cf-Access-Authenticated-User-Email) and the CF_Authorization and
// CF_AppSession cookies are removed from the request before anything else,
// whatever the outcome; the origin sees only headers this package derived from
// its own verification. No secret or token appears in a rejection.
package cfverify

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/gwcurl/gwcurl/internal/lazyre"
	"github.com/gwcurl/gwcurl/internal/strictyaml"

	"github.com/golang-jwt/jwt/v5"
	"gopkg.in/yaml.v3"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/rejectcode"
)

// Header and cookie names, as Cloudflare spells them.
const (
	HeaderClientID        = "Cf-Access-Client-Id"
	HeaderClientSecret    = "Cf-Access-Client-Secret"
	HeaderToken           = "Cf-Access-Token" // cloudflared's header for an app token
	HeaderAssertion       = "Cf-Access-Jwt-Assertion"
	HeaderUserEmail       = "Cf-Access-Authenticated-User-Email"
	HeaderMetadataRequest = "Cf-Access-Metadata-Request"
	HeaderMetadata        = "Cf-Access-Metadata"
	CookieAuthorization   = "CF_Authorization"
	CookieAppSession      = "CF_AppSession"
)

// Kind is the verifier's name in gateway configs and in Identity.Kind.
const Kind = "cf_access"

// defaultSession is Access's default application session duration.
const defaultSession = 24 * time.Hour

// Reasons for refusals (the JSON "reason" field).
const (
	reasonMissing = "missing CF Access service token (CF-Access-Client-Id / CF-Access-Client-Secret)"
)

var (
	audPattern  = lazyre.New(`^[0-9a-f]{64}$`)
	teamPattern = lazyre.New(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?\.cloudflareaccess\.com$`)
)

// config is a cf_access route's auth block.
//
//	auth:
//	  kind: cf_access
//	  team_domain: https://<team>.cloudflareaccess.com
//	  aud: <64 hex characters, the application's AUD tag>
//	  session_duration: 24h            # optional, lifetime of minted tokens
//	  service_tokens:
//	    - {client_id: demo.access, client_secret: demo-cf-secret}
type config struct {
	Kind            string         `yaml:"kind"`
	TeamDomain      string         `yaml:"team_domain"`
	AUD             string         `yaml:"aud"`
	SessionDuration string         `yaml:"session_duration"`
	ServiceTokens   []serviceToken `yaml:"service_tokens"`
}

type serviceToken struct {
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
}

// verifier is one cf_access route.
type verifier struct {
	st     *state
	app    *application
	tokens map[string][32]byte // client id → SHA-256 of the client secret
}

// Interface guards.
var (
	_ auth.Factory     = Factory
	_ auth.MockFactory = Mocks
	_ auth.Verifier    = (*verifier)(nil)
)

// Factory builds a cf_access route's verifier from its auth block and
// registers the application (its AUD tag and team domain) with the gateway's
// mock Access endpoints.
func Factory(node *yaml.Node, env *auth.Env) (auth.Verifier, error) {
	cfg, err := parseConfig(node)
	if err != nil {
		return nil, err
	}
	st, err := sharedState(env)
	if err != nil {
		return nil, err
	}
	session := defaultSession
	if cfg.SessionDuration != "" {
		session, err = time.ParseDuration(cfg.SessionDuration)
		if err != nil || session < time.Minute || session > 30*24*time.Hour {
			return nil, fmt.Errorf("cf_access: session_duration %q: want a duration between 1m and 720h, such as 24h", cfg.SessionDuration)
		}
	}
	app := &application{aud: cfg.AUD, teamDomain: cfg.TeamDomain, session: session}
	if err := st.register(app); err != nil {
		return nil, fmt.Errorf("cf_access: %w", err)
	}
	v := &verifier{st: st, app: app, tokens: map[string][32]byte{}}
	for _, t := range cfg.ServiceTokens {
		v.tokens[t.ClientID] = sha256.Sum256([]byte(t.ClientSecret))
	}
	return v, nil
}

// parseConfig decodes and validates an auth block; errors name the line and
// the key.
func parseConfig(node *yaml.Node) (*config, error) {
	if node == nil || node.Kind != yaml.MappingNode {
		return nil, errors.New("cf_access: the auth block must be a mapping")
	}
	if err := knownKeys(node, "auth", "kind", "team_domain", "aud", "session_duration", "service_tokens"); err != nil {
		return nil, err
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		if node.Content[i].Value != "service_tokens" {
			continue
		}
		list := node.Content[i+1]
		if list.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("cf_access: line %d: auth.service_tokens: want a list of {client_id, client_secret}", list.Line)
		}
		for _, item := range list.Content {
			if item.Kind != yaml.MappingNode {
				return nil, fmt.Errorf("cf_access: line %d: auth.service_tokens: each entry must be {client_id, client_secret}", item.Line)
			}
			if err := knownKeys(item, "auth.service_tokens[]", "client_id", "client_secret"); err != nil {
				return nil, err
			}
		}
	}
	var cfg config
	if err := node.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("cf_access: %w", err)
	}
	if cfg.Kind != "" && cfg.Kind != Kind {
		return nil, fmt.Errorf("cf_access: line %d: auth.kind is %q, want %q", node.Line, cfg.Kind, Kind)
	}
	td, err := normalizeTeamDomain(cfg.TeamDomain)
	if err != nil {
		return nil, fmt.Errorf("cf_access: line %d: auth.team_domain: %w", node.Line, err)
	}
	cfg.TeamDomain = td
	cfg.AUD = strings.ToLower(strings.TrimSpace(cfg.AUD))
	if !audPattern.MatchString(cfg.AUD) {
		return nil, fmt.Errorf("cf_access: line %d: auth.aud: want the application's AUD tag (64 hex characters)", node.Line)
	}
	seen := map[string]bool{}
	for i, t := range cfg.ServiceTokens {
		switch {
		case t.ClientID == "":
			return nil, fmt.Errorf("cf_access: auth.service_tokens[%d].client_id is empty", i)
		case t.ClientSecret == "":
			return nil, fmt.Errorf("cf_access: auth.service_tokens[%d].client_secret is empty", i)
		case seen[t.ClientID]:
			return nil, fmt.Errorf("cf_access: auth.service_tokens[%d]: client_id %q appears twice", i, t.ClientID)
		}
		seen[t.ClientID] = true
	}
	return &cfg, nil
}

func knownKeys(m *yaml.Node, where string, keys ...string) error {
	if err := strictyaml.Check(m, where, keys...); err != nil {
		return fmt.Errorf("cf_access: %w", err)
	}
	return nil
}

// normalizeTeamDomain checks a team domain and returns it as the issuer
// Access uses: "https://<team>.cloudflareaccess.com", no trailing slash.
func normalizeTeamDomain(s string) (string, error) {
	if s == "" {
		return "", errors.New("missing; want https://<team>.cloudflareaccess.com")
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Port() != "" {
		return "", fmt.Errorf("%q: want https://<team>.cloudflareaccess.com", s)
	}
	host := strings.ToLower(u.Hostname())
	if !teamPattern.MatchString(host) {
		return "", fmt.Errorf("%q: want https://<team>.cloudflareaccess.com (Access's auth domain)", s)
	}
	return "https://" + host, nil
}

// presented is what a request carried, taken off it before verification.
type presented struct {
	clientID, clientSecret string
	hasID, hasSecret       bool
	token                  string // cf-access-token header, else CF_Authorization cookie
	metadata               bool   // cf-access-metadata-request: true
}

// take reads the client's Access credentials and removes every Access header
// and cookie from r, so nothing client-supplied reaches the origin.
func take(r *http.Request) presented {
	var p presented
	_, p.hasID = r.Header[HeaderClientID]
	_, p.hasSecret = r.Header[HeaderClientSecret]
	p.clientID = strings.TrimSpace(r.Header.Get(HeaderClientID))
	p.clientSecret = strings.TrimSpace(r.Header.Get(HeaderClientSecret))
	p.metadata = strings.EqualFold(strings.TrimSpace(r.Header.Get(HeaderMetadataRequest)), "true")
	p.token = strings.TrimSpace(r.Header.Get(HeaderToken))
	cookies := stripCookies(r.Header, CookieAuthorization, CookieAppSession)
	if p.token == "" {
		p.token = cookies[CookieAuthorization]
	}
	for _, h := range []string{HeaderClientID, HeaderClientSecret, HeaderToken, HeaderAssertion, HeaderUserEmail, HeaderMetadataRequest} {
		r.Header.Del(h)
	}
	return p
}

// stripCookies removes the named cookies from every Cookie header of h,
// keeping the others byte for byte, and returns the first value of each.
// Hand-written because net/http can parse cookies but not remove one from a
// request.
func stripCookies(h http.Header, names ...string) map[string]string {
	found := map[string]string{}
	lines := h.Values("Cookie")
	if len(lines) == 0 {
		return found
	}
	var kept []string
	for _, line := range lines {
		var keep []string
		for part := range strings.SplitSeq(line, ";") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			name, value, _ := strings.Cut(part, "=")
			drop := false
			for _, n := range names {
				if strings.TrimSpace(name) == n {
					drop = true
					if _, ok := found[n]; !ok {
						found[n] = strings.Trim(strings.TrimSpace(value), `"`)
					}
				}
			}
			if !drop {
				keep = append(keep, part)
			}
		}
		if len(keep) > 0 {
			kept = append(kept, strings.Join(keep, "; "))
		}
	}
	h.Del("Cookie")
	for _, k := range kept {
		h.Add("Cookie", k)
	}
	return found
}

// Verify implements auth.Verifier.
func (v *verifier) Verify(w http.ResponseWriter, r *http.Request) (*auth.Identity, error) {
	p := take(r)
	var meta string
	if p.metadata {
		var err error
		if meta, err = v.metadata(r); err != nil {
			return nil, err
		}
	}
	reject := func(rej *auth.Rejection) error {
		if meta != "" {
			rej.Header = http.Header{HeaderMetadata: {meta}}
		}
		return rej
	}

	var (
		token  string
		claims jwt.MapClaims
		id     *auth.Identity
	)
	switch {
	case p.hasID || p.hasSecret:
		if p.clientID == "" || p.clientSecret == "" {
			return nil, reject(auth.Reject(rejectcode.MissingCFAccess, "%s", reasonMissing).With("missing", missingHeader(p)))
		}
		if rej := v.checkServiceToken(p.clientID, p.clientSecret); rej != nil {
			return nil, reject(rej)
		}
		a, err := v.st.appToken(r.Context(), v.app, principal{clientID: p.clientID, secret: sha256.Sum256([]byte(p.clientSecret))})
		if err != nil {
			return nil, err
		}
		token, claims, id = a.token, a.claims, a.identity
		w.Header().Add("Set-Cookie", a.setCookie(v.st.now(), r.TLS != nil))
	case p.token != "":
		var err error
		claims, err = v.st.verifyApp(v.app, p.token)
		if err != nil {
			return nil, reject(auth.Reject(tokenCode(err), "invalid CF_Authorization token: %s", err))
		}
		token = p.token
	default:
		return nil, reject(auth.Reject(rejectcode.MissingCFAccess, "%s", reasonMissing).
			With("hint", "services send CF-Access-Client-Id and CF-Access-Client-Secret; people run `gwcurl login` and send the app token in cf-access-token"))
	}

	if id == nil {
		id = identityOf(claims)
	}
	if email, _ := claims["email"].(string); email != "" {
		r.Header.Set(HeaderUserEmail, email)
	}
	r.Header.Set(HeaderAssertion, token)
	if meta != "" {
		w.Header().Set(HeaderMetadata, meta)
	}
	return id, nil
}

// identityOf is the gateway identity of an application token's claims:
// the user's email, else the service token's client id.
func identityOf(claims jwt.MapClaims) *auth.Identity {
	id := &auth.Identity{Kind: Kind, Claims: claims}
	if email, _ := claims["email"].(string); email != "" {
		id.Principal = email
	} else {
		id.Principal, _ = claims["common_name"].(string)
	}
	return id
}

func missingHeader(p presented) string {
	if p.clientID == "" {
		return "CF-Access-Client-Id"
	}
	return "CF-Access-Client-Secret"
}

// checkServiceToken compares the secret in constant time (over SHA-256
// digests, so the length does not leak either).
func (v *verifier) checkServiceToken(id, secret string) *auth.Rejection {
	got := sha256.Sum256([]byte(secret))
	want, known := v.tokens[id]
	if !known {
		// Compare anyway, so an unknown id costs the same as a wrong secret.
		subtle.ConstantTimeCompare(got[:], want[:])
		return auth.Reject(rejectcode.UnknownServiceToken, "unknown service token client id %q", printable(id, 64)).With("client_id", printable(id, 64))
	}
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return auth.Reject(rejectcode.ServiceTokenSecret, "invalid service token secret for client id %s", printable(id, 64)).With("client_id", printable(id, 64))
	}
	return nil
}

// verifyApp checks an application token of app as an origin checks
// Access's JWT: RS256 signature with the team's current or previous key,
// iss, aud, exp, nbf, and that it is an application token (not an org
// token).
func (s *state) verifyApp(app *application, raw string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, s.keyfunc,
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(app.teamDomain),
		jwt.WithAudience(app.aud),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(s.now),
	)
	if err != nil {
		return nil, err
	}
	if typ, _ := claims["type"].(string); typ != "app" {
		return nil, fmt.Errorf("%w: want \"app\", got %q", errClaimType, printable(typ, 16))
	}
	email, _ := claims["email"].(string)
	cn, _ := claims["common_name"].(string)
	if email == "" && cn == "" {
		return nil, errors.New("token names neither a user (email) nor a service token (common_name)")
	}
	return claims, nil
}

// errClaimType is an Access token of another type than "app" (an org token).
var errClaimType = errors.New("claim type")

// tokenCode is the rejection code of verifyToken's error: golang-jwt's
// validation errors, or a token of the wrong type.
func tokenCode(err error) rejectcode.Code {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return rejectcode.TokenExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return rejectcode.TokenNotYetValid
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return rejectcode.AudienceMismatch
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return rejectcode.IssuerMismatch
	case errors.Is(err, errClaimType):
		return rejectcode.WrongTokenType
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return rejectcode.TokenSignatureInvalid
	}
	return rejectcode.MalformedToken
}

// mintApp mints an application token (the CF_Authorization value), with the
// claims Access puts in one.
func (s *state) mintApp(app *application, who principal) (string, jwt.MapClaims, error) {
	now := s.now()
	claims := jwt.MapClaims{
		"iss":            app.teamDomain,
		"aud":            []string{app.aud},
		"iat":            now.Unix(),
		"nbf":            now.Unix(),
		"exp":            now.Add(app.session).Unix(),
		"type":           "app",
		"identity_nonce": randomHex(16),
	}
	if who.email != "" {
		claims["email"] = who.email
		claims["sub"] = userID(who.email)
	} else {
		claims["common_name"] = who.clientID
		claims["sub"] = "" // service tokens carry no user identity
	}
	tok, err := s.sign(claims)
	return tok, claims, err
}

// mintOrg mints the organization token the CLI login also returns
// (send_org_token=true). It is scoped to the team domain, not to an
// application, so no cf_access route accepts it.
func (s *state) mintOrg(app *application, email string) (string, error) {
	now := s.now()
	return s.sign(jwt.MapClaims{
		"iss":   app.teamDomain,
		"aud":   []string{strings.TrimPrefix(app.teamDomain, "https://")},
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(app.session).Unix(),
		"type":  "org",
		"email": email,
		"sub":   userID(email),
	})
}

// metadata answers cloudflared's app discovery: a signed JWT naming the
// application that protects the requested host.
func (v *verifier) metadata(r *http.Request) (string, error) {
	host := strings.ToLower(hostOnly(r.Host))
	return v.st.sign(jwt.MapClaims{
		"type":         "match",
		"hostname":     host,
		"app_hostname": host,
		"auth_domain":  strings.TrimPrefix(v.app.teamDomain, "https://"),
		"aud":          v.app.aud,
		"iat":          v.st.now().Unix(),
	})
}

// hostOnly returns the host of a host[:port].
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.Trim(hostport, "[]")
}

// userID is a stable, UUID-shaped subject for a user, as Access's sub is.
func userID(email string) string {
	sum := sha256.Sum256([]byte("gwcurl-cf-access-user:" + strings.ToLower(email)))
	h := hex.EncodeToString(sum[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// printable quotes client input for a message: control characters become
// '?', and it is cut to n bytes.
func printable(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return '?'
	}, s)
	return truncate(s, n)
}
