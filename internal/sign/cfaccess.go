package sign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/gwcurl/gwcurl/internal/hostcheck"
	"github.com/gwcurl/gwcurl/internal/jwtclaims"
	"github.com/gwcurl/gwcurl/internal/profiles"
)

// Cloudflare Access (auth kind "cf-access").
//
// Rules for this file:
//   - A request carries one credential: a cached, unexpired application token
//     (cf-access-token header, as `cloudflared access curl` sends it), or else
//     the service token pair (CF-Access-Client-Id / CF-Access-Client-Secret).
//   - The application token comes from `gwcurl login` (a person) or from the
//     CF_Authorization cookie Access sets after a service token was accepted;
//     either is cached per profile and host (see CFAccessCacheKey), so the
//     secret crosses the network once per session, not on every request.
//   - The client secret is resolved only when it is about to be sent, is sent
//     only over https (or plain http to a loopback address: the local mock
//     gateway), and never appears in an error or a trace.

// Cloudflare Access header and cookie names.
const (
	CFAccessClientIDHeader     = "CF-Access-Client-Id"
	CFAccessClientSecretHeader = "CF-Access-Client-Secret"
	CFAccessTokenHeader        = "cf-access-token"
	CFAuthorizationCookie      = "CF_Authorization"
)

// Environment variables read for service tokens (docs/auth/cf-access.md, "Service tokens").
const (
	envCFClientID     = "CF_ACCESS_CLIENT_ID"
	envCFClientSecret = "CF_ACCESS_CLIENT_SECRET"
)

// CFAccessCacheKey is the token cache key of the Cloudflare Access
// application token for a profile ("" for an ad-hoc request) and a target
// URL: one entry per profile and host. `gwcurl login` stores the token of
// [login.CFAccessLogin] under it, and `gwcurl logout` deletes it.
func CFAccessCacheKey(profile, target string) (string, error) {
	host, err := cfHost(target)
	if err != nil {
		return "", err
	}
	if profile == "" {
		profile = "-"
	}
	return "cf-access/" + profile + "/" + host, nil
}

func cfHost(target string) (string, error) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("cf-access: %q is not an http(s) URL", target)
	}
	return strings.ToLower(u.Host), nil
}

// cfAccess is the cf-access Signer.
type cfAccess struct {
	d        Deps
	host     string // host[:port] the credentials and the cached token belong to
	key      string // token cache key
	cache    *profiles.TokenCache
	clientID string
	// Where the secret comes from: a reference (auth.client_secret) or
	// CF_ACCESS_CLIENT_SECRET. Resolved on first use.
	secretRef string
	secretEnv bool

	mu       sync.Mutex
	secret   string
	resolved bool
	tok      string    // the application token in use, if any
	exp      time.Time // its expiry
}

// Interface guards.
var (
	_ Signer           = (*cfAccess)(nil)
	_ ResponseObserver = (*cfAccess)(nil)
)

func newCFAccess(ctx context.Context, a profiles.Auth, target string, d Deps) (Signer, error) {
	host, err := cfHost(target)
	if err != nil {
		return nil, err
	}
	key, _ := CFAccessCacheKey(d.Profile, target)
	s := &cfAccess{
		d:        d,
		host:     host,
		key:      key,
		cache:    &profiles.TokenCache{Dir: d.CacheDir, Now: d.Now, Trace: d.Trace},
		clientID: strings.TrimSpace(a.ClientID),
	}
	if s.clientID == "" {
		s.clientID = strings.TrimSpace(d.Getenv(envCFClientID))
	}
	switch {
	case a.ClientSecret != "":
		if !profiles.IsRef(a.ClientSecret) {
			return nil, Credentialf("cf-access", "store the secret with `gwcurl profiles add`, or set auth.client_secret to env:NAME, cmd:COMMAND, file:PATH or keyring:KEY",
				"auth.client_secret must be a secret reference, not the secret itself")
		}
		s.secretRef = a.ClientSecret
	case d.Getenv(envCFClientSecret) != "":
		s.secretEnv = true
	}
	s.loadCached()
	if s.current() == "" {
		if err := s.pairConfigured(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *cfAccess) now() time.Time { return Clock(s.d.Now)() }

// loginHint tells a person or a script what to do when there is no credential.
func (s *cfAccess) loginHint() string {
	login := "run `gwcurl login -p " + s.d.Profile + "` to log in as a person"
	if s.d.Profile == "" {
		login = "use a profile and run `gwcurl login -p NAME` to log in as a person"
	}
	return login + ", or set CF_ACCESS_CLIENT_ID and CF_ACCESS_CLIENT_SECRET (or auth.client_id and auth.client_secret) for a service token"
}

// pairConfigured reports, as a CredentialError, why the service token pair
// cannot be sent.
func (s *cfAccess) pairConfigured() error {
	hasSecret := s.secretRef != "" || s.secretEnv
	switch {
	case s.clientID == "" && !hasSecret:
		return Credentialf("cf-access", s.loginHint(), "no service token and no login for %s", s.host)
	case s.clientID == "":
		return Credentialf("cf-access", "set auth.client_id, --cf-client-id or CF_ACCESS_CLIENT_ID", "a client secret is configured but no client id")
	case !hasSecret:
		return Credentialf("cf-access", "set auth.client_secret to a secret reference (env:NAME, cmd:COMMAND, keyring:KEY) or CF_ACCESS_CLIENT_SECRET",
			"client id %s is configured but no client secret", s.clientID)
	}
	return nil
}

// resolveSecret returns the client secret, resolving it once.
func (s *cfAccess) resolveSecret(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resolved {
		return s.secret, nil
	}
	var v string
	if s.secretRef != "" {
		if s.d.Secrets == nil {
			return "", Credentialf("cf-access", "", "auth.client_secret: no secret resolver is available")
		}
		var err error
		v, err = s.d.Secrets.Resolve(ctx, s.d.Profile, "auth.client_secret", s.secretRef)
		if err != nil {
			return "", &CredentialError{Kind: "cf-access", Err: err, Hint: "check the client_secret reference in the profile"}
		}
	} else {
		v = s.d.Getenv(envCFClientSecret)
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return "", Credentialf("cf-access", "", "the client secret is empty")
	}
	s.secret, s.resolved = v, true
	return v, nil
}

// Sign implements Signer.
func (s *cfAccess) Sign(ctx context.Context, req *http.Request) error {
	req.Header.Del(CFAccessClientIDHeader)
	req.Header.Del(CFAccessClientSecretHeader)
	req.Header.Del(CFAccessTokenHeader)
	if tok := s.current(); tok != "" {
		req.Header.Set(CFAccessTokenHeader, tok)
		s.d.Tracef("cf-access: sending the cached application token (%s)", redactToken(tok))
		return nil
	}
	if err := s.pairConfigured(); err != nil {
		return err
	}
	if !hostcheck.SecureURL(req.URL) {
		return fmt.Errorf("cf-access: refusing to send the service token secret over plain http to %s; use https (plain http is allowed only to loopback addresses)", req.URL.Host)
	}
	secret, err := s.resolveSecret(ctx)
	if err != nil {
		return err
	}
	req.Header.Set(CFAccessClientIDHeader, s.clientID)
	req.Header.Set(CFAccessClientSecretHeader, secret)
	s.d.Tracef("cf-access: sending service token %s (secret redacted)", s.clientID)
	return nil
}

// current returns the application token in use while it is valid (until
// profiles.EarlyExpiry before it expires).
func (s *cfAccess) current() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != "" && s.now().Before(s.exp.Add(-profiles.EarlyExpiry)) {
		return s.tok
	}
	s.tok = ""
	return ""
}

// loadCached reads the cached application token, dropping it if it is not
// an unexpired application token (a cache file is local and 0600, so its
// claims are read, not re-verified; the server verifies the signature).
func (s *cfAccess) loadCached() {
	t, err := s.cache.Get(s.key)
	if err != nil {
		s.d.Tracef("cf-access: %v", err)
		return
	}
	if t == nil {
		return
	}
	c, err := parseAppToken(t.AccessToken)
	if err == nil && !s.now().Before(c.exp.Add(-profiles.EarlyExpiry)) {
		err = errors.New("expired")
	}
	if err != nil {
		s.d.Tracef("cf-access: dropping cached token %s: %v", s.key, err)
		if err := s.cache.Delete(s.key); err != nil {
			s.d.Tracef("cf-access: %v", err)
		}
		return
	}
	s.mu.Lock()
	s.tok, s.exp = t.AccessToken, c.exp
	s.mu.Unlock()
}

// Observe implements ResponseObserver: it keeps the CF_Authorization cookie
// Access sets after accepting the service token, and forgets a cached token
// the server refused (so the next attempt sends the pair, or asks for a
// login).
func (s *cfAccess) Observe(resp *http.Response) {
	if resp == nil || resp.Request == nil || resp.Request.URL == nil || !strings.EqualFold(resp.Request.URL.Host, s.host) {
		return
	}
	if resp.Request.Header.Get(CFAccessClientIDHeader) != "" {
		for _, c := range resp.Cookies() {
			if c.Name == CFAuthorizationCookie && c.Value != "" {
				s.remember(c.Value)
				break
			}
		}
	}
	if sent := resp.Request.Header.Get(CFAccessTokenHeader); sent != "" &&
		(resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
		s.forget(sent)
	}
}

func (s *cfAccess) remember(raw string) {
	c, err := parseAppToken(raw)
	if err != nil {
		s.d.Tracef("cf-access: ignoring the CF_Authorization cookie: %v", err)
		return
	}
	if !s.now().Before(c.exp) {
		return
	}
	s.mu.Lock()
	same := s.tok == raw
	s.tok, s.exp = raw, c.exp
	s.mu.Unlock()
	if same {
		return
	}
	if err := s.cache.Put(s.key, &oauth2.Token{AccessToken: raw, Expiry: c.exp}); err != nil {
		s.d.Tracef("cf-access: cannot cache the application token: %v", err)
		return
	}
	s.d.Tracef("cf-access: cached the CF_Authorization application token as %s (expires %s)", s.key, c.exp.UTC().Format(time.RFC3339))
}

func (s *cfAccess) forget(sent string) {
	s.mu.Lock()
	mine := s.tok == sent
	if mine {
		s.tok = ""
	}
	s.mu.Unlock()
	if !mine {
		return
	}
	s.d.Tracef("cf-access: the server refused the cached application token; dropping %s", s.key)
	if err := s.cache.Delete(s.key); err != nil {
		s.d.Tracef("cf-access: %v", err)
	}
}

// appToken is what the client reads from an application token it holds.
type appToken struct {
	exp        time.Time
	email      string
	commonName string
}

// parseAppToken reads an application token's claims without verifying the
// signature (the client does not hold the team's keys; the server checks
// them). It requires an app token with an expiry and an audience.
func parseAppToken(raw string) (*appToken, error) {
	var c struct {
		Exp        json.Number `json:"exp"`
		Type       string      `json:"type"`
		Email      string      `json:"email"`
		CommonName string      `json:"common_name"`
		Aud        any         `json:"aud"`
	}
	if err := jwtclaims.Into(raw, &c); err != nil {
		return nil, errors.New("not a JWT")
	}
	exp, err := c.Exp.Float64()
	if err != nil || exp <= 0 {
		return nil, errors.New("no exp claim")
	}
	if c.Type != "app" {
		return nil, fmt.Errorf("type %q is not an application token", c.Type)
	}
	if c.Aud == nil || c.Aud == "" {
		return nil, errors.New("no aud claim")
	}
	return &appToken{exp: time.Unix(int64(exp), 0), email: c.Email, commonName: c.CommonName}, nil
}

// redactToken shows a short prefix of a token for traces.
func redactToken(t string) string {
	if len(t) <= 8 {
		return "****"
	}
	return t[:8] + "…"
}

// CFAccessHeaders returns the headers a cf-access request to target would
// carry right now (the cached application token, or the service token
// pair), for `gwcurl token --header`. The result holds a secret: print it
// only where asked to.
func CFAccessHeaders(ctx context.Context, a profiles.Auth, target string, d Deps) (http.Header, error) {
	s, err := newCFAccess(ctx, a, target, d)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	if err := s.Sign(ctx, req); err != nil {
		return nil, err
	}
	h := http.Header{}
	for _, k := range []string{CFAccessTokenHeader, CFAccessClientIDHeader, CFAccessClientSecretHeader} {
		if v := req.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	return h, nil
}

// CFAccessIdentity names who cf-access requests to target act as, for
// `gwcurl whoami`: the user's email when a login token is cached, the
// service token's client id otherwise (from the cached token's common_name,
// or the configured client id). It resolves no secret.
func CFAccessIdentity(ctx context.Context, a profiles.Auth, target string, d Deps) (string, error) {
	sg, err := newCFAccess(ctx, a, target, d)
	if err != nil {
		return "", err
	}
	s := sg.(*cfAccess)
	if tok := s.current(); tok != "" {
		if c, err := parseAppToken(tok); err == nil {
			if c.email != "" {
				return c.email, nil
			}
			if c.commonName != "" {
				return c.commonName, nil
			}
		}
	}
	return s.clientID, nil
}
