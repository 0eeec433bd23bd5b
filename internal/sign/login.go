package sign

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/gwcurl/gwcurl/internal/login"
	"github.com/gwcurl/gwcurl/internal/profiles"
)

// Browser-login auth kinds ("cognito", "magic-link").
//
// Rules for this file:
//   - A request carries the token `gwcurl login` stored for the profile: the
//     ID token, or with use_token: access the access token, as
//     "Authorization: Bearer" (auth.header overrides the header name).
//   - An expired token is refreshed with the refresh token grant before the
//     request; a 401 that says the token is no longer valid triggers one
//     forced refresh and one retry ([RetryOnResponse]).
//   - Without a usable login the request fails at once with a
//     *CredentialError (exit 4) whose hint is `gwcurl login -p P`: a request
//     never opens a browser or waits for one, on a terminal or in CI.
//   - Tokens never appear in errors or traces, only a short prefix.

// LoginOptions returns the login.Options of a profile's auth block with the
// signer's dependencies: its tokens live in d.Secrets.Store. The CLI's
// login, logout, token and whoami commands start from these and add the
// browser, the timeout and the streams.
func LoginOptions(a profiles.Auth, d Deps) login.Options {
	o := login.Options{
		Profile:     d.Profile,
		Auth:        a,
		HTTPClient:  d.HTTPClient,
		Now:         d.Now,
		Stderr:      d.Stderr,
		Interactive: d.Interactive,
		Resolver:    d.Secrets,
	}
	if d.Secrets != nil {
		o.Store = d.Secrets.Store
	}
	return o
}

// LoginToken is [login.Token] for the CLI's `gwcurl token` and `gwcurl
// whoami`: a missing, expired or revoked login is a *CredentialError (exit
// 4) with the hint `gwcurl login -p P`.
func LoginToken(ctx context.Context, o login.Options) (*oauth2.Token, error) {
	t, err := login.Token(ctx, o)
	if err != nil {
		return nil, loginError(o.Auth.Kind, err)
	}
	return t, nil
}

// loginError turns "login required" and a missing secret store into a
// CredentialError; other errors (a provider that cannot be reached) stay.
func loginError(kind string, err error) error {
	var lr *login.LoginRequiredError
	if errors.As(err, &lr) {
		return &CredentialError{Kind: kind, Err: err, Hint: lr.Hint()}
	}
	return err
}

func newLogin(_ context.Context, a profiles.Auth, target string, d Deps) (Signer, error) {
	if err := login.Validate(a); err != nil {
		return nil, err
	}
	o := LoginOptions(a, d)
	if o.Store == nil {
		return nil, Credentialf(a.Kind, "use the OS keyring, or --insecure-storage for a 0600 file", "no secret store is available to read the login tokens from")
	}
	if d.Profile == "" {
		return nil, Credentialf(a.Kind, "use a profile and run `gwcurl login -p NAME`", "a browser login needs a profile")
	}
	header := a.Header
	if header == "" {
		header = "Authorization"
	}
	return &loginSigner{o: o, header: header, trace: d.Tracef}, nil
}

// loginSigner is the Signer of the browser-login kinds.
type loginSigner struct {
	o      login.Options
	header string
	trace  func(format string, args ...any)

	mu  sync.Mutex
	tok *oauth2.Token
}

// Interface guards.
var (
	_ Signer          = (*loginSigner)(nil)
	_ RetryOnResponse = (*loginSigner)(nil)
)

func (s *loginSigner) now() time.Time { return Clock(s.o.Now)() }

// bearer returns the credential to send, from memory while it is valid,
// else from the store (refreshed if needed); force refreshes regardless.
func (s *loginSigner) bearer(ctx context.Context, force bool) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !force && s.tok != nil && (s.tok.Expiry.IsZero() || s.now().Before(s.tok.Expiry.Add(-profiles.EarlyExpiry))) {
		return login.BearerToken(s.tok, s.o.Auth)
	}
	var t *oauth2.Token
	var err error
	if force {
		t, err = login.Refresh(ctx, s.o)
	} else {
		t, err = login.Token(ctx, s.o)
	}
	if err != nil {
		return "", loginError(s.o.Auth.Kind, err)
	}
	s.tok = t
	v, err := login.BearerToken(t, s.o.Auth)
	if err != nil {
		return "", &CredentialError{Kind: s.o.Auth.Kind, Err: err, Hint: "run `gwcurl login -p " + s.o.Profile + "`"}
	}
	s.trace("%s: using the login token of profile %s (%s, expires %s)", s.o.Auth.Kind, s.o.Profile, loginRedact(v), t.Expiry.UTC().Format(time.RFC3339))
	return v, nil
}

// Sign implements Signer.
func (s *loginSigner) Sign(ctx context.Context, req *http.Request) error {
	v, err := s.bearer(ctx, false)
	if err != nil {
		return err
	}
	req.Header.Set(s.header, "Bearer "+v)
	return nil
}

// Retry implements RetryOnResponse: a 401 that says the token is not (or
// no longer) valid is retried once with a refreshed token. When another
// request refreshed meanwhile, the new token is used without refreshing
// again.
func (s *loginSigner) Retry(ctx context.Context, resp *http.Response) bool {
	if resp == nil || resp.StatusCode != http.StatusUnauthorized || !expiredTokenSign(resp.Header) {
		return false
	}
	sent := ""
	if resp.Request != nil {
		sent = strings.TrimPrefix(resp.Request.Header.Get(s.header), "Bearer ")
	}
	if cur, err := s.bearer(ctx, false); err == nil && sent != "" && cur != sent {
		s.trace("%s: the server refused an older token; retrying with the current one", s.o.Auth.Kind)
		return true
	}
	s.trace("%s: the server answered 401 for the login token; refreshing it once and retrying", s.o.Auth.Kind)
	if _, err := s.bearer(ctx, true); err != nil {
		s.trace("%s: refresh failed: %v", s.o.Auth.Kind, err)
		return false
	}
	return true
}

// expiredTokenSign reports whether a 401's WWW-Authenticate allows that a
// fresh token would be accepted: error="invalid_token" (RFC 6750), or no
// error at all (API Gateway's Cognito authorizer answers a bare 401 for an
// expired token). Another error (invalid_request, insufficient_scope) is
// not fixed by refreshing.
func expiredTokenSign(h http.Header) bool {
	for _, v := range h.Values("Www-Authenticate") {
		lv := strings.ToLower(v)
		if !strings.HasPrefix(strings.TrimSpace(lv), "bearer") {
			continue
		}
		i := strings.Index(lv, "error=")
		if i < 0 {
			return true
		}
		return strings.HasPrefix(strings.Trim(lv[i+len("error="):], `"`), "invalid_token")
	}
	return true
}

// loginRedact shows a token's first characters only.
func loginRedact(s string) string {
	if len(s) <= 12 {
		return "****"
	}
	return s[:8] + "…"
}
