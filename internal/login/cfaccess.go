// Package login gets tokens interactively: a person logs in in a browser and
// the command line receives the token. It knows nothing about cobra or the
// process; the CLI injects the browser, the streams, the clock and the HTTP
// client.
package login

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/golang-jwt/jwt/v5"
	"github.com/gwcurl/gwcurl/internal/hostcheck"
	"golang.org/x/crypto/nacl/box"
	"golang.org/x/oauth2"

	"github.com/gwcurl/gwcurl/internal/jwtclaims"
)

// Cloudflare Access's CLI login ("transfer flow"), as `cloudflared access
// login` runs it:
//
//  1. Discover the application: HEAD the app URL with
//     `cf-access-metadata-request: true` (no redirects). Access answers a
//     signed `cf-access-metadata` JWT {type: match, hostname, auth_domain, aud,
//     app_hostname, iat}. Verify it against the auth domain's keys, require the
//     auth domain to be <team>.cloudflareaccess.com, hostname to be the host
//     asked for, type "match", a non-empty aud and iat no older than 24 h nor
//     more than 5 min in the future.
//  2. Generate an ephemeral NaCl box key pair and open the browser at
//     <app origin>/cdn-cgi/access/cli?aud=…&token=<public key>&redirect_url=…
//     &send_org_token=true&edge_token_transfer=true. The person logs in there.
//  3. Long-poll <transfer service>/transfer/<public key>. The answer is
//     base64(nonce || box(JSON {app_token, org_token})), sealed to our key by
//     the service's key (`service-public-key` header); decrypt it.
//  4. Verify the app token: RS256 with the team's keys, iss
//     https://<auth domain>, aud containing the app's AUD tag, exp, type "app".
//
// Which transfer service and which keys: Cloudflare serves the transfer at
// https://login.cloudflareaccess.org/transfer/ and the keys at
// https://<auth domain>/cdn-cgi/access/certs. gwcurl's mock gateway serves both
// on its own origin (/cdn-cgi/access/transfer/ and /cdn-cgi/access/certs), so
// a login never leaves the machine. An application served over plain http or
// from a loopback address cannot be behind Cloudflare's edge (the edge only
// speaks https and is never on loopback), so for those the app's own origin
// is used; CFLoginOptions.TransferURL and CertsURL override both choices.
// Only the app token is kept; the org token (used by cloudflared to skip the
// browser for other apps of the same team) is discarded.

// Cloudflare Access names.
const (
	cfMetadataRequestHeader = "Cf-Access-Metadata-Request"
	cfMetadataHeader        = "Cf-Access-Metadata"
	cfServicePublicKey      = "Service-Public-Key"
	cfAccessDomainSuffix    = ".cloudflareaccess.com"
	cfTransferService       = "https://login.cloudflareaccess.org/"
	cfCLIPath               = "/cdn-cgi/access/cli"
	cfCertsPath             = "/cdn-cgi/access/certs"
	cfLocalTransferPath     = "/cdn-cgi/access/"
	cfMetadataMaxAge        = 24 * time.Hour
	cfMetadataSkew          = 5 * time.Minute
	cfMaxBody               = 1 << 20
	defaultLoginTimeout     = 2 * time.Minute
	defaultPollInterval     = time.Second
)

// CFLoginOptions configures [CFAccessLogin].
type CFLoginOptions struct {
	// AppURL is the protected application, e.g. https://app.example.com/admin.
	AppURL string
	// HTTPClient makes every request (metadata, certs, transfer polls). nil
	// means a client with no timeout of its own: Timeout bounds the login.
	HTTPClient *http.Client
	// Browser opens the login URL. nil, or an error, means the URL is only
	// printed (headless machines: open it on another device).
	Browser func(url string) error
	// Stderr receives the login URL and progress. nil discards them.
	Stderr io.Writer
	// Now is the clock for checking tokens. nil means time.Now.
	Now func() time.Time
	// Timeout bounds the whole login. 0 means 2 minutes.
	Timeout time.Duration

	// TransferURL is the base URL of the token transfer service (the poll
	// goes to TransferURL + "transfer/<key>"). "" means the app's origin +
	// "/cdn-cgi/access/" for a local Access emulation (plain http or a
	// loopback host: gwcurl's gateway), else https://login.cloudflareaccess.org/.
	TransferURL string
	// CertsURL is where the team's signing keys are. "" means the app's
	// origin + "/cdn-cgi/access/certs" for a local emulation, else
	// https://<auth domain>/cdn-cgi/access/certs.
	CertsURL string
	// PollInterval is the pause after a poll that answered "not yet" at once.
	// 0 means 1 second.
	PollInterval time.Duration
}

// CFAppInfo is the application a metadata request discovered.
type CFAppInfo struct {
	AuthDomain  string // e.g. "team.cloudflareaccess.com"
	AUD         string // the application's AUD tag
	AppHostname string
}

// CFAccessLogin logs a person in to the Cloudflare Access application at
// opts.AppURL the way `cloudflared access login` does, and returns the
// application token (a JWT, sent on requests in the cf-access-token header)
// with its expiry. The token's signature, issuer, audience and expiry have
// been verified. A login not completed within opts.Timeout returns an error
// wrapping context.DeadlineExceeded.
func CFAccessLogin(ctx context.Context, opts CFLoginOptions) (*oauth2.Token, error) {
	app, err := url.Parse(opts.AppURL)
	if err != nil || (app.Scheme != "https" && app.Scheme != "http") || app.Host == "" {
		return nil, fmt.Errorf("cf-access login: %q is not an http(s) URL of the application", opts.AppURL)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = defaultLoginTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	l := &cfLogin{opts: opts, app: app, now: opts.Now, stderr: opts.Stderr, timeout: timeout}
	if l.now == nil {
		l.now = time.Now
	}
	if l.stderr == nil {
		l.stderr = io.Discard
	}
	l.client = opts.HTTPClient
	if l.client == nil {
		l.client = &http.Client{}
	}
	// Access endpoints are fetched without following redirects, as
	// cloudflared does: a redirect would mean we are not talking to Access.
	noRedirect := *l.client
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	l.client = &noRedirect

	tok, err := l.run(ctx)
	if err != nil && ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("no login completed within %s: %w", timeout, context.DeadlineExceeded)
	}
	return tok, err
}

type cfLogin struct {
	opts    CFLoginOptions
	timeout time.Duration
	app     *url.URL
	client  *http.Client
	now     func() time.Time
	stderr  io.Writer
	keys    oidc.KeySet // the team's keys (go-oidc: cached, refetched for an unknown kid)
}

func (l *cfLogin) run(ctx context.Context) (*oauth2.Token, error) {
	info, err := l.discover(ctx)
	if err != nil {
		return nil, err
	}
	pub, priv, err := box.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("cf-access login: generate key pair: %w", err)
	}
	pubStr := base64.URLEncoding.EncodeToString(pub[:])
	loginURL := l.loginURL(info, pubStr)
	l.announce(loginURL)

	sealed, servicePub, err := l.poll(ctx, l.transferURL()+"transfer/"+pubStr)
	if err != nil {
		return nil, err
	}
	var nonce [24]byte
	if len(sealed) < len(nonce)+box.Overhead {
		return nil, errors.New("cf-access login: the transfer service answered a message too short to be sealed")
	}
	copy(nonce[:], sealed)
	msg, ok := box.Open(nil, sealed[len(nonce):], &nonce, servicePub, priv)
	if !ok {
		return nil, errors.New("cf-access login: cannot decrypt the transferred token (not sealed to this login's key)")
	}
	var payload struct {
		AppToken string `json:"app_token"`
		OrgToken string `json:"org_token"`
	}
	if err := json.Unmarshal(msg, &payload); err != nil || payload.AppToken == "" {
		return nil, errors.New("cf-access login: the transferred message holds no app_token")
	}
	exp, err := l.verifyAppToken(ctx, info, payload.AppToken)
	if err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: payload.AppToken, Expiry: exp}, nil
}

// localEmulation reports whether the app cannot be behind Cloudflare's edge
// (plain http, or a loopback host), so the Access endpoints are the app's own.
func localEmulation(u *url.URL) bool {
	return u.Scheme == "http" || hostcheck.Loopback(u.Hostname())
}

func (l *cfLogin) origin() string { return l.app.Scheme + "://" + l.app.Host }

func (l *cfLogin) transferURL() string {
	if l.opts.TransferURL != "" {
		return strings.TrimRight(l.opts.TransferURL, "/") + "/"
	}
	if localEmulation(l.app) {
		return l.origin() + cfLocalTransferPath
	}
	return cfTransferService
}

func (l *cfLogin) certsURL(authDomain string) string {
	if l.opts.CertsURL != "" {
		return l.opts.CertsURL
	}
	if localEmulation(l.app) {
		return l.origin() + cfCertsPath
	}
	return "https://" + authDomain + cfCertsPath
}

// metadataClaims are the claims of the cf-access-metadata JWT.
type metadataClaims struct {
	Type        string `json:"type"`
	Hostname    string `json:"hostname"`
	AuthDomain  string `json:"auth_domain"`
	AUD         string `json:"aud"`
	AppHostname string `json:"app_hostname"`
	IAT         int64  `json:"iat"`
	jwt.RegisteredClaims
}

// discover finds the application protecting l.app (step 1).
func (l *cfLogin) discover(ctx context.Context) (*CFAppInfo, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, l.app.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set(cfMetadataRequestHeader, "true")
	resp, err := l.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cf-access login: discover the Access application at %s: %w", l.origin(), err)
	}
	resp.Body.Close()
	raw := resp.Header.Get(cfMetadataHeader)
	if raw == "" {
		return nil, fmt.Errorf("cf-access login: no Cloudflare Access application at %s (the metadata request got %s without a cf-access-metadata header)", redactURL(l.app), resp.Status)
	}
	// The auth domain is needed to find the keys that verify the claims:
	// read it unverified, check its shape, then verify everything.
	var unverified metadataClaims
	if err := jwtclaims.Into(raw, &unverified); err != nil {
		return nil, fmt.Errorf("cf-access login: malformed application metadata: %w", err)
	}
	authDomain, err := checkAuthDomain(unverified.AuthDomain)
	if err != nil {
		return nil, err
	}
	var claims metadataClaims
	if err := l.verify(ctx, authDomain, raw, &claims); err != nil {
		return nil, fmt.Errorf("cf-access login: application metadata does not verify with the keys of %s: %w", authDomain, err)
	}
	switch {
	case claims.AuthDomain != unverified.AuthDomain:
		return nil, errors.New("cf-access login: application metadata changed between reads")
	case !strings.EqualFold(claims.Hostname, l.app.Hostname()):
		return nil, fmt.Errorf("cf-access login: application metadata is for host %q, not %q", claims.Hostname, l.app.Hostname())
	case claims.Type != "match":
		return nil, fmt.Errorf("cf-access login: application metadata type is %q, want \"match\"", claims.Type)
	case claims.AUD == "":
		return nil, errors.New("cf-access login: application metadata has no aud")
	}
	now := l.now()
	iat := time.Unix(claims.IAT, 0)
	if claims.IAT <= 0 || iat.Before(now.Add(-cfMetadataMaxAge)) || iat.After(now.Add(cfMetadataSkew)) {
		return nil, fmt.Errorf("cf-access login: application metadata iat %s is not within 24h before and 5m after now", iat.UTC().Format(time.RFC3339))
	}
	host := claims.AppHostname
	if host == "" {
		host = claims.Hostname
	}
	return &CFAppInfo{AuthDomain: authDomain, AUD: claims.AUD, AppHostname: host}, nil
}

// checkAuthDomain accepts only <team>.cloudflareaccess.com, as cloudflared
// does: the metadata must not be able to point us at arbitrary keys.
func checkAuthDomain(s string) (string, error) {
	u, err := url.Parse("https://" + strings.TrimPrefix(s, "https://"))
	if err != nil || u.Port() != "" || (u.Path != "" && u.Path != "/") {
		return "", fmt.Errorf("cf-access login: application metadata auth_domain %q is not a host name", s)
	}
	host := strings.ToLower(u.Hostname())
	if !strings.HasSuffix(host, cfAccessDomainSuffix) || len(host) == len(cfAccessDomainSuffix) {
		return "", fmt.Errorf("cf-access login: application metadata auth_domain %q does not end with %s", s, cfAccessDomainSuffix)
	}
	return host, nil
}

// verify checks raw as an origin checks an Access JWT: its RS256 signature
// with the team's key set (go-oidc's remote key set over the team's certs,
// which refetches them once for an unknown kid, after a rotation), then its
// claims with golang-jwt's validator and opts.
func (l *cfLogin) verify(ctx context.Context, authDomain, raw string, claims jwt.Claims, opts ...jwt.ParserOption) error {
	if l.keys == nil {
		l.keys = oidc.NewRemoteKeySet(oidc.ClientContext(ctx, l.client), l.certsURL(authDomain))
	}
	opts = append(opts, jwt.WithTimeFunc(l.now))
	p := jwt.NewParser(opts...)
	tok, _, err := p.ParseUnverified(raw, claims)
	if err != nil {
		return err
	}
	if alg := tok.Method.Alg(); alg != jwt.SigningMethodRS256.Alg() {
		return fmt.Errorf("signing method %s is invalid (want RS256)", alg)
	}
	if _, err := l.keys.VerifySignature(ctx, raw); err != nil {
		return err
	}
	return jwt.NewValidator(opts...).Validate(claims)
}

func (l *cfLogin) loginURL(info *CFAppInfo, pubKey string) string {
	q := url.Values{}
	q.Set("aud", info.AUD)
	q.Set("token", pubKey)
	q.Set("redirect_url", l.app.String())
	q.Set("send_org_token", "true")
	q.Set("edge_token_transfer", "true")
	return l.origin() + cfCLIPath + "?" + q.Encode()
}

// announce opens the browser and always prints the URL, so a headless
// machine can open it elsewhere (docs/auth/cf-access.md, "People: `gwcurl login`").
func (l *cfLogin) announce(loginURL string) {
	AnnounceURL(l.stderr, l.opts.Browser, loginURL, "log in")
	fmt.Fprintf(l.stderr, "Waiting for the login (up to %s)…\n", l.timeout)
}

// poll long-polls the transfer service until it hands over the sealed
// tokens (200), fails (5xx), or ctx ends. Any other answer means "not yet".
func (l *cfLogin) poll(ctx context.Context, transferURL string) ([]byte, *[32]byte, error) {
	interval := l.opts.PollInterval
	if interval <= 0 {
		interval = defaultPollInterval
	}
	failures := 0
	for {
		body, key, err := l.pollOnce(ctx, transferURL)
		switch {
		case err == nil && body != nil:
			return body, key, nil
		case err != nil && ctx.Err() != nil:
			return nil, nil, ctx.Err()
		case err != nil:
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break // the client gave up on a long poll: poll again
			}
			var fatal *fatalPollError
			if errors.As(err, &fatal) {
				return nil, nil, err
			}
			if failures++; failures >= 3 {
				return nil, nil, err
			}
		default:
			failures = 0
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(interval):
		}
	}
}

type fatalPollError struct{ msg string }

func (e *fatalPollError) Error() string { return e.msg }

// pollOnce does one poll: (body, key, nil) when the tokens are there,
// (nil, nil, nil) when not yet.
func (l *cfLogin) pollOnce(ctx context.Context, transferURL string) ([]byte, *[32]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, transferURL, nil)
	if err != nil {
		return nil, nil, &fatalPollError{err.Error()}
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("cf-access login: poll the transfer service: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 500 {
		return nil, nil, &fatalPollError{fmt.Sprintf("cf-access login: the transfer service answered %s", resp.Status)}
	}
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, cfMaxBody))
		return nil, nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, cfMaxBody))
	if err != nil {
		return nil, nil, fmt.Errorf("cf-access login: read the transferred token: %w", err)
	}
	sealed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, nil, &fatalPollError{"cf-access login: the transferred token is not base64"}
	}
	kb, err := base64.URLEncoding.DecodeString(resp.Header.Get(cfServicePublicKey))
	if err != nil || len(kb) != 32 {
		return nil, nil, &fatalPollError{"cf-access login: the transfer service sent no valid service-public-key header"}
	}
	var key [32]byte
	copy(key[:], kb)
	return sealed, &key, nil
}

// appClaims are the claims of an Access application token.
type appClaims struct {
	Type  string `json:"type"`
	Email string `json:"email"`
	jwt.RegisteredClaims
}

// verifyAppToken checks the transferred app token (step 4; docs/auth/cf-access.md, "How an origin validates the assertion") and
// returns its expiry.
func (l *cfLogin) verifyAppToken(ctx context.Context, info *CFAppInfo, raw string) (time.Time, error) {
	var c appClaims
	err := l.verify(ctx, info.AuthDomain, raw, &c,
		jwt.WithIssuer("https://"+info.AuthDomain),
		jwt.WithAudience(info.AUD),
		jwt.WithExpirationRequired(),
	)
	if err != nil {
		return time.Time{}, fmt.Errorf("cf-access login: the transferred app token does not verify: %w", err)
	}
	if c.Type != "app" {
		return time.Time{}, fmt.Errorf("cf-access login: the transferred token is of type %q, want \"app\"", c.Type)
	}
	return c.ExpiresAt.Time, nil
}

// redactURL drops the query and user info of u for messages.
func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	c.Fragment = ""
	return c.String()
}
