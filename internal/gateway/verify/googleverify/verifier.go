// Package googleverify is the mock gateway's Google: the verifier of
// `google_id` routes (what Cloud Run and IAP check) and the Google endpoints
// a client talks to to mint ID tokens, all offline.
//
// # Verifier
//
//	auth:
//	  kind: google_id
//	  audiences: ["https://svc-abc.a.run.app"]   # required; exact match
//	  emails: [demo@gwcurl-demo.iam.gserviceaccount.com]  # optional allowlist
//	  issuer: https://accounts.google.com       # optional; default: the mock's issuer
//	  leeway: 30s                                # optional clock leeway
//
// The token comes from `X-Serverless-Authorization: Bearer ...` when present
// (Cloud Run then leaves Authorization to the application), else from
// `Authorization: Bearer ...`; the header it came from is removed before the
// origin sees the request. Rules (docs/auth/google.md, "The mock gateway"): RS256 only, key chosen
// by kid among the mock's published keys, iss in the accepted set, aud exact
// and never empty, exp in the future and iat not in the future (within the
// leeway), and with an allowlist a verified email on it.
//
// # Mock endpoints
//
// See [Mocks]: the OAuth token endpoint (jwt-bearer with target_audience,
// refresh-token grant), the certs (JWKS and PEM), IAM Credentials
// generateIdToken / generateAccessToken, an STS token exchange for workload
// identity federation, and the GCE metadata server's identity, token and
// email endpoints. They sign with the same keys the verifier trusts, shared
// through [StateFor].
package googleverify

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/tokencache"
	"github.com/gwcurl/gwcurl/internal/jwtclaims"
	"github.com/gwcurl/gwcurl/internal/rejectcode"
)

// Kind is the verifier's name in gateway configs.
const Kind = "google_id"

// IdentityKind is Identity.Kind for a verified Google ID token.
const IdentityKind = "google"

// HeaderServerless is Cloud Run's alternative to Authorization (docs/auth/google.md, "Cloud Run setup").
const HeaderServerless = "X-Serverless-Authorization"

const defaultLeeway = 30 * time.Second

type verifierConfig struct {
	Kind      string   `yaml:"kind"`
	Audiences []string `yaml:"audiences"`
	Emails    []string `yaml:"emails"`
	Issuer    string   `yaml:"issuer"`
	Leeway    string   `yaml:"leeway"`
}

var verifierKeys = []string{"kind", "audiences", "emails", "issuer", "leeway"}

// Verifier checks Google-signed ID tokens against the mock issuer's keys.
type Verifier struct {
	state     *State
	audiences []string
	emails    map[string]bool // lower-case; nil means any
	issuers   []string        // nil: the state's accepted issuers
	leeway    time.Duration
	now       func() time.Time
	// verified caches tokens that passed check (tokencache); sigChecks
	// counts RS256 verifications, for the tests of that cache.
	verified  *tokencache.Cache
	sigChecks atomic.Int64
}

// SignatureChecks is how many signatures the verifier has checked.
func (v *Verifier) SignatureChecks() int64 { return v.sigChecks.Load() }

var _ auth.Verifier = (*Verifier)(nil)

// Factory builds a google_id verifier from a route's auth block. It is an
// auth.Factory.
func Factory(node *yaml.Node, env *auth.Env) (auth.Verifier, error) {
	if node == nil {
		return nil, fmt.Errorf("%s: no auth block", Kind)
	}
	if node.Kind == yaml.DocumentNode && len(node.Content) == 1 {
		node = node.Content[0]
	}
	if err := checkKeys(node, "", verifierKeys); err != nil {
		return nil, fmt.Errorf("%s: %w", Kind, err)
	}
	var c verifierConfig
	if err := node.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", Kind, err)
	}
	if c.Kind != "" && c.Kind != Kind {
		return nil, fmt.Errorf("%s: line %d: kind is %q", Kind, node.Line, c.Kind)
	}
	if len(c.Audiences) == 0 {
		return nil, fmt.Errorf("%s: line %d: audiences is required (the service URL, e.g. https://svc-abc.a.run.app)", Kind, node.Line)
	}
	for _, a := range c.Audiences {
		// An empty audience would disable the aud check in Google's own
		// libraries (docs/auth/google.md, "The mock gateway"); here it is simply refused.
		if strings.TrimSpace(a) == "" {
			return nil, fmt.Errorf("%s: line %d: audiences: an audience must not be empty", Kind, node.Line)
		}
		if strings.Contains(a, "${") {
			return nil, fmt.Errorf("%s: line %d: audiences: %q has an unexpanded variable", Kind, node.Line, a)
		}
	}
	s, err := StateFor(env)
	if err != nil {
		return nil, err
	}
	v := &Verifier{state: s, audiences: c.Audiences, leeway: defaultLeeway, now: s.now, verified: tokencache.New(0)}
	if len(c.Emails) > 0 {
		v.emails = map[string]bool{}
		for _, e := range c.Emails {
			if !strings.Contains(e, "@") {
				return nil, fmt.Errorf("%s: line %d: emails: %q is not an email address", Kind, node.Line, e)
			}
			v.emails[strings.ToLower(e)] = true
		}
	}
	if c.Issuer != "" {
		v.issuers = []string{c.Issuer}
	}
	if c.Leeway != "" {
		d, err := time.ParseDuration(c.Leeway)
		if err != nil || d < 0 || d > 5*time.Minute {
			return nil, fmt.Errorf("%s: line %d: leeway %q: want a duration between 0s and 5m", Kind, node.Line, c.Leeway)
		}
		v.leeway = d
	}
	return v, nil
}

// bearer extracts the token and the header it came from.
func bearer(r *http.Request) (tok, header string, rej *auth.Rejection) {
	for _, h := range []string{HeaderServerless, "Authorization"} {
		v := r.Header.Get(h)
		if v == "" {
			continue
		}
		scheme, rest, _ := strings.Cut(v, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return "", h, unauthorized("%s uses scheme %q, want Bearer <Google ID token>", h, scheme)
		}
		tok = strings.TrimSpace(rest)
		if tok == "" {
			return "", h, unauthorized("%s: empty bearer token", h)
		}
		return tok, h, nil
	}
	return "", "", unauthorized("no Google ID token: send Authorization: Bearer <id token> (or %s)", HeaderServerless)
}

func unauthorized(format string, args ...any) *auth.Rejection {
	r := auth.Unauthorized(rejectcode.MissingGoogleToken, format, args...)
	r.Header = http.Header{"Www-Authenticate": {`Bearer realm="google_id"`}}
	return r
}

// Verify implements auth.Verifier.
func (v *Verifier) Verify(w http.ResponseWriter, r *http.Request) (*auth.Identity, error) {
	tok, header, rej := bearer(r)
	if header != "" {
		// Consume the credential whatever the outcome: the origin never
		// sees it (docs/gateway.md, "Header sanitization").
		r.Header.Del(header)
	}
	if rej != nil {
		return nil, rej
	}
	now := v.now()
	claims, hit := v.verified.Get(tok, now)
	if !hit {
		var exp time.Time
		claims, exp, rej = v.check(tok)
		if rej != nil {
			return nil, rej
		}
		v.verified.Put(tok, claims, exp, now)
	}
	principal, _ := claims["sub"].(string)
	if email, _ := claims["email"].(string); email != "" && jwtclaims.Bool(claims, "email_verified") {
		principal = email
	}
	return &auth.Identity{Kind: IdentityKind, Principal: principal, Claims: claims}, nil
}

// check verifies a token and returns its claims and exp. The signature is checked
// before any claim is believed.
func (v *Verifier) check(tok string) (map[string]any, time.Time, *auth.Rejection) {
	j, err := splitJWT(tok)
	if err != nil {
		return nil, time.Time{}, auth.Reject(rejectcode.MalformedToken, "malformed token: %v", err)
	}
	if alg := j.alg(); alg != "RS256" {
		if alg == "" {
			alg = "(none given)"
		}
		return nil, time.Time{}, auth.Reject(rejectcode.MalformedToken, "alg %s not allowed (want RS256)", alg)
	}
	kid := j.kid()
	pub, ok := v.state.publicKey(kid)
	if !ok {
		return nil, time.Time{}, auth.Reject(rejectcode.UnknownKeyID, "unknown key id %q", kid).With("kid", kid).With("known key ids", v.state.KeyIDs())
	}
	v.sigChecks.Add(1)
	if err := j.verifyRS256(pub); err != nil {
		return nil, time.Time{}, auth.Reject(rejectcode.TokenSignatureInvalid, "signature mismatch (key id %s)", kid)
	}
	issuers := v.issuers
	if issuers == nil {
		issuers = v.state.acceptedIssuers()
	}
	if iss := j.str("iss"); !contains(issuers, iss) {
		return nil, time.Time{}, auth.Reject(rejectcode.IssuerMismatch, "claim iss: want %s, got %q", strings.Join(issuers, " or "), iss).
			With("want", strings.Join(issuers, " or ")).With("got", iss)
	}
	auds := j.audiences()
	matched := false
	for _, a := range auds {
		if a != "" && contains(v.audiences, a) {
			matched = true
		}
	}
	if !matched {
		got := strings.Join(auds, ", ")
		if len(auds) == 0 {
			got = "(none)"
		}
		return nil, time.Time{}, auth.Reject(rejectcode.AudienceMismatch, "claim aud: want %s, got %s", strings.Join(v.audiences, " or "), got).
			With("want", strings.Join(v.audiences, " or ")).With("got", got).
			With("hint", "the client must request an ID token for exactly this audience (gwcurl: --audience)")
	}
	exp, rej := checkTimes(j, v.now, v.leeway)
	if rej != nil {
		return nil, time.Time{}, rej
	}
	if v.emails != nil {
		email := j.str("email")
		switch {
		case email == "":
			return nil, time.Time{}, auth.Reject(rejectcode.PrincipalNotAllowed, "claim email: missing; the route allows only listed emails (service accounts: request the token with the email included)")
		case !j.boolClaim("email_verified"):
			return nil, time.Time{}, auth.Reject(rejectcode.PrincipalNotAllowed, "claim email_verified: %s is not verified", email)
		case !v.emails[strings.ToLower(email)]:
			return nil, time.Time{}, auth.Reject(rejectcode.PrincipalNotAllowed, "email %s is not allowed on this route", email)
		}
	}
	return j.claims, exp, nil
}

// checkTimes validates exp (required), iat (required) and nbf with
// golang-jwt's validator, all within leeway, after checking that each
// present one is a NumericDate; it returns exp.
func checkTimes(j *rawJWT, clock func() time.Time, leeway time.Duration) (time.Time, *auth.Rejection) {
	dates := map[string]time.Time{}
	for _, c := range []string{"exp", "iat", "nbf"} {
		t, ok, err := j.numericDate(c)
		switch {
		case err != nil:
			return time.Time{}, auth.Reject(rejectcode.MalformedToken, "%v", err)
		case !ok && c != "nbf":
			return time.Time{}, auth.Reject(rejectcode.MalformedToken, "claim %s: missing", c)
		}
		dates[c] = t
	}
	now := clock()
	err := jwt.NewValidator(jwt.WithTimeFunc(clock), jwt.WithLeeway(leeway), jwt.WithIssuedAt()).Validate(jwt.MapClaims(j.claims))
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return time.Time{}, auth.Reject(rejectcode.TokenExpired, "token expired at %s (now %s)", fmtTime(dates["exp"]), fmtTime(now)).
			With("at", fmtTime(dates["exp"])).With("now", fmtTime(now))
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return time.Time{}, auth.Reject(rejectcode.TokenNotYetValid, "token issued in the future at %s (now %s): check the clocks", fmtTime(dates["iat"]), fmtTime(now)).
			With("claim", "iat").With("at", fmtTime(dates["iat"])).With("now", fmtTime(now))
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return time.Time{}, auth.Reject(rejectcode.TokenNotYetValid, "token not valid before %s (now %s)", fmtTime(dates["nbf"]), fmtTime(now)).
			With("claim", "nbf").With("at", fmtTime(dates["nbf"])).With("now", fmtTime(now))
	}
	return dates["exp"], nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
