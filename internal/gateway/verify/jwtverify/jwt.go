// Package jwtverify is the mock gateway's `jwt` verifier: it accepts a
// request whose bearer token is a JWT signed by a configured issuer, as an
// API Gateway Cognito authorizer or any OIDC resource server does. It is
// used for the Cognito-compatible and magic-link mock providers' tokens and
// works as well for any issuer with a JWKS.
//
// # Route config
//
//	auth:
//	  kind: jwt
//	  issuer: https://cognito-idp.us-east-1.amazonaws.com/us-east-1_X  # required, exact iss
//	  jwks_url: https://…/.well-known/jwks.json   # optional, see below
//	  client_id: gwcurl-demo         # or a list; aud of ID tokens, client_id of access tokens
//	  audience: [api://x]            # optional; aud must contain one of these
//	  token_use: id                  # id | access | any (default any)
//	  scopes: [orders/read]          # optional; all must be in the scope claim
//	  header: Authorization          # optional, where the Bearer token is
//	  algorithms: [RS256]            # optional
//	  leeway: 30s                    # optional clock skew allowance (default 0 for exp, 60s for nbf/iat)
//
// # Keys
//
// When jwks_url is set, keys are fetched from it (cached, refetched for an
// unknown kid). Otherwise, when a mock provider of the same gateway issues
// tokens as `issuer`, its keys are used in process (no HTTP round trip to
// itself). Otherwise the issuer's OIDC discovery document names jwks_uri.
//
// # Rules (RFC 7519, RFC 6750; docs/on-call.md, "Cognito and magic-link tokens")
//
// Signature by kid with an allowed algorithm (never "none" or HMAC); iss
// equal to the issuer; exp required and in the future; nbf and iat not in
// the future; token_use as configured; an ID token's aud and an access
// token's client_id among the configured client ids. An expired, unsigned
// or badly signed token is a 401 with `WWW-Authenticate: Bearer
// error="invalid_token"` (RFC 6750), which tells a client to refresh and
// retry; a valid token for something else (issuer, audience, token_use,
// scope) is a 403.
package jwtverify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/golang-jwt/jwt/v5"
	"gopkg.in/yaml.v3"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/tokencache"
	"github.com/gwcurl/gwcurl/internal/jwtclaims"
	"github.com/gwcurl/gwcurl/internal/rejectcode"
	"github.com/gwcurl/gwcurl/internal/strictyaml"
)

// Kind is the verifier's name in gateway configs and in Identity.Kind.
const Kind = "jwt"

// issuersKey is where mock providers register their key sets in
// auth.Env.Shared.
const issuersKey = "jwt:issuers"

// Defaults.
const (
	defaultFutureLeeway = 60 * time.Second
	maxLeeway           = 10 * time.Minute
	maxTokenBytes       = 16 << 10
	fetchTimeout        = 10 * time.Second
	// jwksRefetchInterval is the least time between two fetches of a
	// remote JWKS: a token with an unknown kid makes go-oidc's key set
	// refetch, so without it every such token costs the issuer a request
	// (amplification). Cached keys keep verifying in between.
	jwksRefetchInterval = 10 * time.Second
)

// RegisterIssuer tells the gateway's jwt verifiers that a mock provider of
// this gateway issues tokens as issuer, signed with keys. Mock providers are
// built before verifiers, from one goroutine, so Shared needs no lock.
func RegisterIssuer(env *auth.Env, issuer string, keys oidc.KeySet) error {
	if env == nil || issuer == "" || keys == nil {
		return errors.New("jwt: RegisterIssuer needs an environment, an issuer and keys")
	}
	if env.Shared == nil {
		env.Shared = map[string]any{}
	}
	m, _ := env.Shared[issuersKey].(map[string]oidc.KeySet)
	if m == nil {
		m = map[string]oidc.KeySet{}
		env.Shared[issuersKey] = m
	}
	if _, dup := m[issuer]; dup {
		return fmt.Errorf("jwt: two mock providers issue tokens as %s", issuer)
	}
	m[issuer] = keys
	return nil
}

func registered(env *auth.Env, issuer string) oidc.KeySet {
	if env == nil {
		return nil
	}
	m, _ := env.Shared[issuersKey].(map[string]oidc.KeySet)
	return m[issuer]
}

// config is a jwt route's auth block.
type config struct {
	Kind       string     `yaml:"kind"`
	Issuer     string     `yaml:"issuer"`
	JWKSURL    string     `yaml:"jwks_url"`
	ClientID   stringList `yaml:"client_id"`
	Audience   stringList `yaml:"audience"`
	TokenUse   string     `yaml:"token_use"`
	Scopes     stringList `yaml:"scopes"`
	Header     string     `yaml:"header"`
	Algorithms stringList `yaml:"algorithms"`
	Leeway     string     `yaml:"leeway"`
}

// stringList accepts a scalar or a list.
type stringList []string

func (s *stringList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*s = []string{n.Value}
		return nil
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		*s = l
		return nil
	}
	return fmt.Errorf("line %d: want a string or a list of strings", n.Line)
}

// allowedAlgs are the asymmetric JWS algorithms a route may accept (never
// "none" or HMAC), as golang-jwt names them.
var allowedAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// parser decodes a compact JWS with golang-jwt, numbers kept as
// json.Number; the signature is checked by the issuer's key set.
var parser = jwt.NewParser(jwt.WithJSONNumber())

// Verifier is one jwt route.
type Verifier struct {
	issuer    string
	clientIDs []string
	audiences []string
	tokenUse  string // "", "id" or "access"
	scopes    []string
	header    string
	algs      []string
	leeway    time.Duration
	now       func() time.Time
	keys      keySource
	// verified caches tokens that passed check (tokencache).
	verified *tokencache.Cache
}

// Interface guards.
var (
	_ auth.Factory  = Factory
	_ auth.Verifier = (*Verifier)(nil)
)

// Factory builds a jwt route's verifier from its auth block.
func Factory(node *yaml.Node, env *auth.Env) (auth.Verifier, error) {
	return New(node, env)
}

// New is Factory with the concrete type.
func New(node *yaml.Node, env *auth.Env) (*Verifier, error) {
	if node == nil || node.Kind != yaml.MappingNode {
		return nil, errors.New("jwt: the auth block must be a mapping")
	}
	known := []string{"kind", "issuer", "jwks_url", "client_id", "audience", "token_use", "scopes", "header", "algorithms", "leeway"}
	if err := strictyaml.Check(node, "auth", known...); err != nil {
		return nil, fmt.Errorf("jwt: %w", err)
	}
	var c config
	if err := node.Decode(&c); err != nil {
		return nil, fmt.Errorf("jwt: %w", err)
	}
	if c.Kind != "" && c.Kind != Kind {
		return nil, fmt.Errorf("jwt: auth.kind is %q, want %q", c.Kind, Kind)
	}
	if c.Issuer == "" {
		return nil, errors.New("jwt: auth.issuer is required (the exact iss of accepted tokens)")
	}
	if u, err := url.Parse(c.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("jwt: auth.issuer %q: want an http(s) URL", c.Issuer)
	}
	if len(c.ClientID) == 0 && len(c.Audience) == 0 {
		return nil, errors.New("jwt: set auth.client_id (the app client id) or auth.audience: a token for any audience is never accepted")
	}
	v := &Verifier{
		issuer:    c.Issuer,
		clientIDs: c.ClientID,
		audiences: c.Audience,
		scopes:    c.Scopes,
		header:    http.CanonicalHeaderKey(c.Header),
		now:       time.Now,
		verified:  tokencache.New(0),
	}
	if env != nil && env.Now != nil {
		v.now = env.Now
	}
	if v.header == "" {
		v.header = "Authorization"
	}
	switch c.TokenUse {
	case "", "any":
	case "id", "access":
		v.tokenUse = c.TokenUse
	default:
		return nil, fmt.Errorf("jwt: auth.token_use %q: want id, access or any", c.TokenUse)
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = []string{"RS256"}
	}
	for _, a := range c.Algorithms {
		if !slices.Contains(allowedAlgs, a) {
			return nil, fmt.Errorf("jwt: auth.algorithms: %q is not an asymmetric JWS algorithm (RS256, ES256, PS256, EdDSA, ...)", a)
		}
		v.algs = append(v.algs, a)
	}
	if c.Leeway != "" {
		d, err := time.ParseDuration(c.Leeway)
		if err != nil || d < 0 || d > maxLeeway {
			return nil, fmt.Errorf("jwt: auth.leeway %q: want a duration between 0s and %s", c.Leeway, maxLeeway)
		}
		v.leeway = d
	}
	switch {
	case c.JWKSURL != "":
		u, err := url.Parse(c.JWKSURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("jwt: auth.jwks_url %q: want an http(s) URL", c.JWKSURL)
		}
		v.keys = &remoteKeys{jwksURL: c.JWKSURL, now: v.now}
	case registered(env, c.Issuer) != nil:
		v.keys = staticKeys{registered(env, c.Issuer)}
	default:
		v.keys = &remoteKeys{issuer: c.Issuer, now: v.now}
	}
	return v, nil
}

// keySource yields the key set lazily (discovery may need the network).
type keySource interface {
	keySet(ctx context.Context) (oidc.KeySet, error)
}

type staticKeys struct{ ks oidc.KeySet }

func (s staticKeys) keySet(context.Context) (oidc.KeySet, error) { return s.ks, nil }

// remoteKeys fetches a JWKS over HTTP, from jwks_url or the issuer's
// discovery document, with go-oidc's RemoteKeySet (cached; refetched for an
// unknown kid, at most once per jwksRefetchInterval). A failed discovery is
// retried on the next request.
type remoteKeys struct {
	issuer  string
	jwksURL string
	now     func() time.Time

	mu sync.Mutex
	ks oidc.KeySet
}

func (r *remoteKeys) keySet(ctx context.Context) (oidc.KeySet, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ks != nil {
		return r.ks, nil
	}
	client := &http.Client{Timeout: fetchTimeout}
	jwksURL := r.jwksURL
	if jwksURL == "" {
		dctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, client), fetchTimeout)
		defer cancel()
		p, err := oidc.NewProvider(dctx, r.issuer)
		if err != nil {
			return nil, fmt.Errorf("discovery of %s failed: %v", r.issuer, err)
		}
		var doc struct {
			JWKSURI string `json:"jwks_uri"`
		}
		if err := p.Claims(&doc); err != nil || doc.JWKSURI == "" {
			return nil, fmt.Errorf("the discovery document of %s has no jwks_uri", r.issuer)
		}
		jwksURL = doc.JWKSURI
	}
	limited := &http.Client{Timeout: fetchTimeout, Transport: &fetchLimiter{base: http.DefaultTransport, now: r.now, every: jwksRefetchInterval}}
	r.ks = oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), limited), jwksURL)
	return r.ks, nil
}

// fetchLimiter is the JWKS client's transport: it refuses a fetch within
// every of the previous one, without touching the network. go-oidc's
// RemoteKeySet has no such limit (it only merges concurrent fetches) and
// keeps its cached keys when a fetch fails, so known keys keep working.
type fetchLimiter struct {
	base  http.RoundTripper
	now   func() time.Time
	every time.Duration

	mu   sync.Mutex
	last time.Time
}

var errRefetchLimited = errors.New("JWKS refetch refused: the key set was fetched less than " + jwksRefetchInterval.String() + " ago (unknown kid)")

func (f *fetchLimiter) RoundTrip(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	now := f.now()
	if !f.last.IsZero() && now.Sub(f.last) < f.every && now.Sub(f.last) > -f.every {
		f.mu.Unlock()
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, errRefetchLimited
	}
	f.last = now
	f.mu.Unlock()
	return f.base.RoundTrip(req)
}

// Verify implements auth.Verifier.
func (v *Verifier) Verify(_ http.ResponseWriter, r *http.Request) (*auth.Identity, error) {
	raw, rej := v.bearer(r)
	if rej != nil {
		return nil, rej
	}
	now := v.now()
	claims, hit := v.verified.Get(raw, now)
	if !hit {
		claims, rej = v.check(r.Context(), raw)
		if rej != nil {
			return nil, rej
		}
		if exp, ok := numericDate(claims["exp"]); ok {
			v.verified.Put(raw, claims, exp, now)
		}
	}
	r.Header.Del(v.header) // consumed: the origin sees the identity, not the token
	return &auth.Identity{Kind: Kind, Principal: principal(claims), Claims: claims}, nil
}

func (v *Verifier) bearer(r *http.Request) (string, *auth.Rejection) {
	vals := r.Header.Values(v.header)
	if len(vals) == 0 {
		rej := auth.Unauthorized(rejectcode.MissingBearer, "missing bearer token in the %s header", v.header).With("header", v.header)
		rej.Header = http.Header{"Www-Authenticate": {`Bearer realm="gwcurl"`}}
		return "", rej
	}
	if len(vals) > 1 {
		return "", invalidRequest(rejectcode.MalformedToken, "more than one %s header", v.header)
	}
	scheme, tok, ok := strings.Cut(strings.TrimSpace(vals[0]), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", invalidRequest(rejectcode.MalformedToken, "the %s header must be \"Bearer <token>\"", v.header)
	}
	tok = strings.TrimSpace(tok)
	if tok == "" || len(tok) > maxTokenBytes {
		return "", invalidRequest(rejectcode.MalformedToken, "the bearer token is empty or too long")
	}
	return tok, nil
}

// check verifies raw and returns its claims, or the rejection.
func (v *Verifier) check(ctx context.Context, raw string) (map[string]any, *auth.Rejection) {
	if strings.Count(raw, ".") != 2 {
		return nil, invalidToken(rejectcode.MalformedToken, "the bearer token is not a JWT")
	}
	claims := jwt.MapClaims{}
	tok, _, perr := parser.ParseUnverified(raw, claims)
	if tok == nil || tok.Header == nil {
		return nil, invalidToken(rejectcode.MalformedToken, "the bearer token is not a JWT")
	}
	if alg, _ := tok.Header["alg"].(string); !slices.Contains(v.algs, alg) {
		return nil, invalidToken(rejectcode.MalformedToken, "JWT signature algorithm not accepted (want %s): alg %s", strings.Join(v.algs, ", "), quoteOrMissing(tok.Header["alg"]))
	}
	if err := jwtclaims.CheckCrit(tok.Header); err != nil {
		return nil, invalidToken(rejectcode.MalformedToken, "%v", err)
	}
	if perr != nil {
		// The payload is decoded before the signature: a payload that
		// decoded leaves the signature segment as what is wrong.
		var payload map[string]any
		if b, err := parser.DecodeSegment(strings.Split(raw, ".")[1]); err == nil && json.Unmarshal(b, &payload) == nil && payload != nil {
			kid, _ := tok.Header["kid"].(string)
			return nil, invalidToken(rejectcode.TokenSignatureInvalid, "signature: not signed by a key of %s (kid %q): the signature is not base64url", v.issuer, kid).
				With("issuer", v.issuer).With("kid", kid)
		}
		return nil, invalidToken(rejectcode.MalformedToken, "the JWT payload is not a JSON object")
	}
	// The issuer is compared before the signature only to explain a token
	// meant for another issuer (403, no point refreshing); nothing is
	// accepted on unverified claims.
	if iss, _ := claims["iss"].(string); iss != v.issuer {
		return nil, forbidden(rejectcode.IssuerMismatch, "claim iss: want %s, got %s", v.issuer, quoteOrMissing(claims["iss"])).
			With("want", v.issuer).With("got", quoteOrMissing(claims["iss"]))
	}
	ks, err := v.keys.keySet(ctx)
	if err != nil {
		return nil, &auth.Rejection{Status: http.StatusServiceUnavailable, Code: rejectcode.IdPUnavailable, Reason: "cannot get the signing keys of " + v.issuer + ": " + err.Error(),
			Header: http.Header{"Retry-After": {"5"}}}
	}
	// The key set checks the signature of raw, whose payload is what
	// claims were decoded from: from here on they are verified.
	_, err = ks.VerifySignature(ctx, raw)
	if err != nil && strings.HasPrefix(err.Error(), "fetching keys") && !errors.Is(err, errRefetchLimited) {
		// The issuer's JWKS could not be fetched (go-oidc's "fetching
		// keys ..."): an outage of the identity provider, not a bad token.
		return nil, &auth.Rejection{Status: http.StatusServiceUnavailable, Code: rejectcode.IdPUnavailable, Reason: "cannot get the signing keys of " + v.issuer + ": " + err.Error(),
			Header: http.Header{"Retry-After": {"5"}}}
	}
	if err != nil {
		kid, _ := tok.Header["kid"].(string)
		return nil, invalidToken(rejectcode.TokenSignatureInvalid, "signature: not signed by a key of %s (kid %q): %v", v.issuer, kid, err).
			With("issuer", v.issuer).With("kid", kid)
	}
	if rej := v.checkTimes(claims); rej != nil {
		return nil, rej
	}
	use, _ := claims["token_use"].(string)
	if v.tokenUse != "" && use != v.tokenUse {
		return nil, forbidden(rejectcode.WrongTokenType, "claim token_use: want %s, got %s", v.tokenUse, quoteOrMissing(claims["token_use"])).
			With("want", v.tokenUse).With("got", quoteOrMissing(claims["token_use"]))
	}
	aud := jwtclaims.Audience(claims)
	if len(v.clientIDs) > 0 {
		if use == "access" || (use == "" && len(aud) == 0) {
			cid, _ := claims["client_id"].(string)
			if !slices.Contains(v.clientIDs, cid) {
				return nil, forbidden(rejectcode.AudienceMismatch, "claim client_id: want %s, got %s", strings.Join(v.clientIDs, " or "), quoteOrMissing(claims["client_id"])).
					With("want", strings.Join(v.clientIDs, " or ")).With("got", quoteOrMissing(claims["client_id"]))
			}
		} else if !overlaps(aud, v.clientIDs) {
			return nil, forbidden(rejectcode.AudienceMismatch, "claim aud: want %s, got %s", strings.Join(v.clientIDs, " or "), audString(aud)).
				With("want", strings.Join(v.clientIDs, " or ")).With("got", audString(aud))
		}
	}
	if len(v.audiences) > 0 && !overlaps(aud, v.audiences) {
		return nil, forbidden(rejectcode.AudienceMismatch, "claim aud: want %s, got %s", strings.Join(v.audiences, " or "), audString(aud)).
			With("want", strings.Join(v.audiences, " or ")).With("got", audString(aud))
	}
	if len(v.scopes) > 0 {
		scope, _ := claims["scope"].(string)
		have := strings.Fields(scope)
		for _, s := range v.scopes {
			if !slices.Contains(have, s) {
				rej := forbidden(rejectcode.InsufficientScope, "claim scope: missing %s (have %q)", s, scope).With("want", s)
				rej.Header = http.Header{"Www-Authenticate": {fmt.Sprintf(`Bearer error="insufficient_scope", scope=%q`, strings.Join(v.scopes, " "))}}
				return nil, rej
			}
		}
	}
	return claims, nil
}

// checkTimes validates exp, nbf and iat with golang-jwt's validator: exp
// required and in the future within the route's leeway, nbf and iat not in
// the future within at least defaultFutureLeeway.
func (v *Verifier) checkTimes(claims jwt.MapClaims) *auth.Rejection {
	// RFC 7519 §4.1.4-6: exp, nbf and iat are NumericDates; a value of
	// another type is refused, not ignored.
	for _, c := range []string{"exp", "nbf", "iat"} {
		if val, present := claims[c]; present {
			if _, ok := numericDate(val); !ok {
				return invalidToken(rejectcode.MalformedToken, "claim %s is not a NumericDate (seconds since the epoch): %s", c, shortJSON(val))
			}
		}
	}
	now := v.now()
	err := jwt.NewValidator(jwt.WithTimeFunc(v.now), jwt.WithLeeway(v.leeway), jwt.WithExpirationRequired()).Validate(claims)
	exp, _ := numericDate(claims["exp"])
	switch {
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return invalidToken(rejectcode.MalformedToken, "claim exp is missing")
	case errors.Is(err, jwt.ErrTokenExpired):
		return invalidToken(rejectcode.TokenExpired, "token expired at %s (%s ago)", exp.UTC().Format(time.RFC3339), now.Sub(exp).Round(time.Second)).
			With("at", exp.UTC().Format(time.RFC3339)).With("now", now.UTC().Format(time.RFC3339))
	}
	future := max(v.leeway, defaultFutureLeeway)
	err = jwt.NewValidator(jwt.WithTimeFunc(v.now), jwt.WithLeeway(future), jwt.WithIssuedAt()).Validate(claims)
	if errors.Is(err, jwt.ErrTokenNotValidYet) {
		nbf, _ := numericDate(claims["nbf"])
		return invalidToken(rejectcode.TokenNotYetValid, "token not valid before %s", nbf.UTC().Format(time.RFC3339)).
			With("claim", "nbf").With("at", nbf.UTC().Format(time.RFC3339))
	}
	if errors.Is(err, jwt.ErrTokenUsedBeforeIssued) {
		iat, _ := numericDate(claims["iat"])
		return invalidToken(rejectcode.TokenNotYetValid, "claim iat is in the future (%s): check the clocks", iat.UTC().Format(time.RFC3339)).
			With("claim", "iat").With("at", iat.UTC().Format(time.RFC3339))
	}
	return nil
}

// principal names the caller: the e-mail, else the Cognito user name, else
// the subject.
func principal(c map[string]any) string {
	for _, k := range []string{"email", "cognito:username", "username", "sub"} {
		if s, _ := c[k].(string); s != "" {
			return s
		}
	}
	return "unknown"
}

func numericDate(v any) (time.Time, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || f < -(1<<53) || f > 1<<53 {
			return time.Time{}, false
		}
		return time.Unix(int64(f), 0), true
	case float64:
		return time.Unix(int64(n), 0), true
	}
	return time.Time{}, false
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

func audString(aud []string) string {
	switch len(aud) {
	case 0:
		return "(missing)"
	case 1:
		return aud[0]
	}
	return "[" + strings.Join(aud, ", ") + "]"
}

func quoteOrMissing(v any) string {
	if v == nil {
		return "(missing)"
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// invalidToken is a 401 telling the client its token is unusable (RFC
// 6750 §3.1): a client holding a refresh token refreshes and retries once.
func invalidToken(code rejectcode.Code, format string, args ...any) *auth.Rejection {
	rej := auth.Unauthorized(code, format, args...)
	rej.Header = http.Header{"Www-Authenticate": {`Bearer realm="gwcurl", error="invalid_token", error_description=` + quoteHeader(rej.Reason)}}
	return rej
}

func invalidRequest(code rejectcode.Code, format string, args ...any) *auth.Rejection {
	rej := auth.Unauthorized(code, format, args...)
	rej.Header = http.Header{"Www-Authenticate": {`Bearer realm="gwcurl", error="invalid_request"`}}
	return rej
}

func forbidden(code rejectcode.Code, format string, args ...any) *auth.Rejection {
	return auth.Reject(code, format, args...)
}

// quoteHeader makes a quoted-string of s for an auth-param: printable
// ASCII only, quotes and backslashes escaped.
func quoteHeader(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// shortJSON renders a claim value for a reason line, cut to 40 bytes.
func shortJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "?"
	}
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}
