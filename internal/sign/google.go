package sign

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/gwcurl/gwcurl/internal/hostcheck"
	"github.com/gwcurl/gwcurl/internal/profiles"
)

// Auth kind "google": a Google-signed ID token as a bearer token
// (docs/auth/google.md).
//
// The credential is found in Application Default Credentials order:
//
//  1. a credentials file: auth.credentials, else GOOGLE_APPLICATION_CREDENTIALS,
//     else gcloud's application_default_credentials.json. Its type selects
//     the mechanism: service_account (jwt-bearer grant with target_audience),
//     authorized_user (refresh-token grant; the id_token's audience is the
//     OAuth client, not chosen by us), impersonated_service_account, or
//     external_account (workload identity federation; ID tokens only through
//     its service_account_impersonation_url);
//  2. the metadata server, when GCE_METADATA_HOST is set or the machine says
//     it runs on Google Cloud (Cloud Run / Functions environment variables,
//     or the DMI product name). Nothing else ever reaches it.
//
// auth.impersonate (a service account email, or a comma-separated chain whose
// last entry is the target, as gcloud's --impersonate-service-account takes)
// turns any of them into the base credential of an IAM Credentials
// generateIdToken call.
//
// Tokens are cached in the TokenCache under "google|PROFILE|AUDIENCE|SOURCE"
// and reused until 60 s before they expire.

const googleKind = "google"

// googleHint is what to do when no Google credential is found.
const googleHint = "run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS (or auth.credentials) to a service-account key file"

// Google endpoints used when a credential names none.
const (
	googleTokenURL   = "https://oauth2.googleapis.com/token"
	googleIAMDefault = "https://iamcredentials.googleapis.com"
	cloudPlatform    = "https://www.googleapis.com/auth/cloud-platform"
	// metadataIP is the metadata server's link-local address (Google's
	// libraries use it rather than metadata.google.internal, to skip DNS).
	metadataIP = "169.254.169.254"
	// mockIAMPath is where gwcurl's mock gateway serves IAM Credentials,
	// beside its token endpoint and metadata server.
	mockIAMPath = "/_mock/google/iam"
)

// EnvGoogleIAMEndpoint overrides the IAM Credentials endpoint (scheme://host
// and optional path prefix; "/v1/projects/-/serviceAccounts/..." is appended).
const EnvGoogleIAMEndpoint = "GWCURL_GOOGLE_IAM_ENDPOINT"

// googleEnv holds what the Google signer reads from the machine beyond Deps,
// so tests can pin it.
type googleEnv struct {
	// dmiProductName is the file whose content says the machine is a
	// Google Compute Engine VM ("" skips the check).
	dmiProductName string
	readFile       func(string) ([]byte, error)
}

func defaultGoogleEnv() googleEnv {
	env := googleEnv{readFile: os.ReadFile}
	if runtime.GOOS == "linux" {
		env.dmiProductName = "/sys/class/dmi/id/product_name"
	}
	return env
}

func newGoogle(ctx context.Context, a profiles.Auth, target string, d Deps) (Signer, error) {
	t, err := googleTokenSource(ctx, a, target, d, defaultGoogleEnv())
	if err != nil {
		return nil, err
	}
	return &googleSigner{Signer: Bearer(t, t.header), t: t}, nil
}

// googleSigner sends the ID token with Bearer and, once per request, drops
// a cached token the server refused as expired or signed by an unknown key
// (the gateway restarted with new keys, a clock moved) and mints another.
type googleSigner struct {
	Signer
	t *googleTokens
}

var _ RetryOnResponse = (*googleSigner)(nil)

// Retry implements RetryOnResponse.
func (s *googleSigner) Retry(ctx context.Context, resp *http.Response) bool {
	if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
		return false
	}
	if s.t.mintedHere.Load() {
		// A token minted by this run was refused: another would be too.
		return false
	}
	why := staleTokenSign(resp)
	if why == "" {
		return false
	}
	s.t.d.Tracef("google: the server refused the cached ID token (%s); minting a new one", why)
	s.t.invalidate()
	return true
}

// staleTokenSign says why resp looks like the refusal of a token that a
// fresh one would fix, or "". It peeks at the start of the body and puts it
// back.
func staleTokenSign(resp *http.Response) string {
	if resp.StatusCode == http.StatusUnauthorized && strings.Contains(resp.Header.Get("Www-Authenticate"), "invalid_token") {
		return "invalid_token"
	}
	if resp.Body == nil {
		return ""
	}
	prefix, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(prefix), resp.Body), resp.Body}
	body := strings.ToLower(string(prefix))
	for _, sign := range []string{"token expired", "unknown key id", "invalid_token"} {
		if strings.Contains(body, sign) {
			return sign
		}
	}
	return ""
}

// GoogleIDToken returns the Google ID token the auth block would send to
// target (from the cache when still valid, else freshly minted and
// cached): the token is AccessToken, and Extra("id_token") holds it too.
// `gwcurl token` and `gwcurl whoami` use it; see [DecodeGoogleIDToken].
func GoogleIDToken(ctx context.Context, a profiles.Auth, target string, d Deps) (*oauth2.Token, error) {
	ts, err := googleTokenSource(ctx, a, target, d, defaultGoogleEnv())
	if err != nil {
		return nil, err
	}
	return ts.Token()
}

// GoogleAudience returns the audience an ID token for target gets: the
// profile's audience, else the origin of target (docs/auth/google.md, "Audience").
func GoogleAudience(a profiles.Auth, target string) (string, error) {
	if a.Audience != "" {
		return a.Audience, nil
	}
	u, err := url.Parse(target)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("google: cannot infer the audience from %q: set auth.audience (--audience) to the service URL", target)
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Host)
	if p := u.Port(); (scheme == "https" && p == "443") || (scheme == "http" && p == "80") {
		host = strings.ToLower(u.Hostname())
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	return scheme + "://" + host, nil
}

func googleHeader(h string) (string, error) {
	switch {
	case h == "", strings.EqualFold(h, "Authorization"):
		return "Authorization", nil
	case strings.EqualFold(h, "X-Serverless-Authorization"):
		return "X-Serverless-Authorization", nil
	}
	return "", fmt.Errorf("google: auth.header %q: want Authorization or X-Serverless-Authorization", h)
}

// googleTokenSource resolves the credential and returns the cached token
// source.
func googleTokenSource(ctx context.Context, a profiles.Auth, target string, d Deps, genv googleEnv) (*googleTokens, error) {
	header, err := googleHeader(a.Header)
	if err != nil {
		return nil, err
	}
	aud, err := GoogleAudience(a, target)
	if err != nil {
		return nil, err
	}
	src, err := resolveGoogleSource(a, d, genv)
	if err != nil {
		return nil, err
	}
	d.Tracef("google: source: %s", src.desc)
	d.Tracef("google: audience %s, sent in %s", aud, header)
	t := &googleTokens{
		header: header,
		d:      d,
		ctx:    context.WithValue(ctx, oauth2.HTTPClient, d.HTTPClient),
		cache:  &profiles.TokenCache{Dir: d.CacheDir, Now: d.Now, Trace: d.Trace},
		key:    "google|" + d.Profile + "|" + aud + "|" + src.id,
	}
	t.mint = func(ctx context.Context) (*oauth2.Token, error) {
		t.mintedHere.Store(true)
		return src.mint(ctx, aud)
	}
	t.ts = t.cache.Source(t.ctx, t.key, t.mint)
	return t, nil
}

// googleTokens is the cached ID token source of one auth block and target.
// It traces the claims of each new token once (never the token).
type googleTokens struct {
	header string
	d      Deps
	ctx    context.Context
	cache  *profiles.TokenCache
	key    string
	mint   func(ctx context.Context) (*oauth2.Token, error)
	// mintedHere is set once this process minted a token (rather than
	// reading one from the cache).
	mintedHere atomic.Bool

	mu   sync.Mutex
	ts   oauth2.TokenSource
	last string
}

// Token implements oauth2.TokenSource.
func (g *googleTokens) Token() (*oauth2.Token, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t, err := g.ts.Token()
	if err != nil || g.d.Trace == nil {
		return t, err
	}
	if t.AccessToken != g.last {
		g.last = t.AccessToken
		if cl, err := DecodeGoogleIDToken(t.AccessToken); err == nil {
			g.d.Tracef("google: id token iss=%s aud=%s email=%s sub=%s exp=%s", cl.Issuer, cl.Audience, orNone(cl.Email), cl.Subject, cl.Expiry.UTC().Format(time.RFC3339))
		} else {
			g.d.Tracef("google: id token cannot be decoded: %v", err)
		}
	}
	return t, nil
}

// invalidate forgets the cached token (memory and file): the next Token
// mints.
func (g *googleTokens) invalidate() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.cache.Delete(g.key); err != nil {
		g.d.Tracef("google: %v", err)
	}
	g.ts = g.cache.Source(g.ctx, g.key, g.mint)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// googleSource mints ID tokens from one credential.
type googleSource struct {
	id   string // part of the cache key: names the credential, never a secret
	desc string // for the -v trace
	mint func(ctx context.Context, aud string) (*oauth2.Token, error)
}

// googleBase is a resolved credential before impersonation.
type googleBase struct {
	id, desc string
	// idToken mints an ID token for aud directly; nil when the credential
	// cannot (external_account needs impersonation).
	idToken func(ctx context.Context, aud string) (*oauth2.Token, error)
	// access returns an OAuth access token, to call IAM Credentials.
	access func(ctx context.Context) (*oauth2.Token, error)
	// localIAM is the IAM Credentials endpoint beside a local emulator's
	// token endpoint or metadata server ("" for real Google endpoints).
	localIAM string
	// universe is the credential's universe domain ("" means googleapis.com).
	universe string
	// impersonate is the target chain a credentials file asks for
	// (impersonated_service_account, external_account), and iamFromFile the
	// IAM endpoint its service_account_impersonation_url names.
	impersonate []string
	iamFromFile string
}

func resolveGoogleSource(a profiles.Auth, d Deps, genv googleEnv) (*googleSource, error) {
	base, err := resolveGoogleBase(a, d, genv)
	if err != nil {
		return nil, err
	}
	chain := base.impersonate
	if a.Impersonate != "" {
		chain = nil
		for _, e := range strings.Split(a.Impersonate, ",") {
			if e = strings.TrimSpace(e); e != "" {
				chain = append(chain, e)
			}
		}
		if len(chain) == 0 {
			return nil, fmt.Errorf("google: auth.impersonate %q names no service account", a.Impersonate)
		}
	}
	if len(chain) == 0 {
		if base.idToken == nil {
			return nil, Credentialf(googleKind, "set auth.impersonate (--impersonate-service-account) to a service account the workload may impersonate",
				"%s cannot mint ID tokens by itself", base.desc)
		}
		return &googleSource{id: base.id, desc: base.desc, mint: base.idToken}, nil
	}
	target, delegates := chain[len(chain)-1], chain[:len(chain)-1]
	endpoint, why := iamEndpoint(d, base)
	imp := &impersonation{base: base, endpoint: endpoint, target: target, delegates: delegates}
	return &googleSource{
		id:   base.id + "|imp:" + strings.Join(chain, ","),
		desc: fmt.Sprintf("%s, impersonating %s via generateIdToken at %s (%s)", base.desc, strings.Join(chain, " -> "), endpoint, why),
		mint: imp.mint,
	}, nil
}

// iamEndpoint picks the IAM Credentials endpoint for impersonation, and
// says why:
//
//  1. GWCURL_GOOGLE_IAM_ENDPOINT, when set (explicit wins);
//  2. the host of the credentials file's service_account_impersonation_url
//     (the file says where its IAM is);
//  3. beside a local emulator: when the base credential's token endpoint or
//     metadata server is on a loopback address, the emulator's IAM path
//     (gwcurl's mock gateway serves /_mock/google/iam beside
//     /_mock/google/token and the metadata server);
//  4. iamcredentials.<universe_domain> of the credential;
//  5. https://iamcredentials.googleapis.com.
func iamEndpoint(d Deps, base *googleBase) (string, string) {
	if v := strings.TrimRight(d.Getenv(EnvGoogleIAMEndpoint), "/"); v != "" {
		return v, EnvGoogleIAMEndpoint
	}
	if base.iamFromFile != "" {
		return base.iamFromFile, "from service_account_impersonation_url"
	}
	if base.localIAM != "" {
		return base.localIAM, "beside the local token endpoint"
	}
	if u := base.universe; u != "" && u != "googleapis.com" {
		return "https://iamcredentials." + u, "universe domain " + u
	}
	return googleIAMDefault, "default"
}

// resolveGoogleBase finds the credential in ADC order.
func resolveGoogleBase(a profiles.Auth, d Deps, genv googleEnv) (*googleBase, error) {
	if d.googleJSON != nil {
		return googleFileBase(d.googleJSON, "inline credentials", d, 0)
	}
	path, from := a.Credentials, "auth.credentials"
	if path == "" {
		path, from = d.Getenv("GOOGLE_APPLICATION_CREDENTIALS"), "GOOGLE_APPLICATION_CREDENTIALS"
	}
	if path == "" {
		if wk := wellKnownADCFile(d.Getenv); wk != "" {
			if _, err := os.Stat(wk); err == nil {
				path, from = wk, "gcloud application-default credentials"
			}
		}
	}
	if path != "" {
		path = expandHome(path, d.Getenv)
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, Credentialf(googleKind, "check the path in "+from, "cannot read Google credentials file %s (from %s): %v", path, from, err)
		}
		return googleFileBase(b, path+" (from "+from+")", d, 0)
	}
	if host := metadataHost(d.Getenv, genv); host != "" {
		return metadataBase(host, d), nil
	}
	return nil, Credentialf(googleKind, googleHint, "no Google credentials found (no auth.credentials, GOOGLE_APPLICATION_CREDENTIALS, gcloud application-default credentials or metadata server)")
}

// wellKnownADCFile is where `gcloud auth application-default login` writes.
func wellKnownADCFile(getenv func(string) string) string {
	if dir := getenv("CLOUDSDK_CONFIG"); dir != "" {
		return filepath.Join(dir, "application_default_credentials.json")
	}
	if runtime.GOOS == "windows" {
		if dir := getenv("APPDATA"); dir != "" {
			return filepath.Join(dir, "gcloud", "application_default_credentials.json")
		}
		return ""
	}
	if home := getenv("HOME"); home != "" {
		return filepath.Join(home, ".config", "gcloud", "application_default_credentials.json")
	}
	return ""
}

func expandHome(p string, getenv func(string) string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home := getenv("HOME"); home != "" {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}

// metadataHost returns the metadata server to use, or "" when nothing says
// this machine has one: GCE_METADATA_HOST, else environment variables set by
// Cloud Run, Cloud Functions and App Engine, else the DMI product name of a
// Compute Engine VM. These are local signals; no request is made to find
// out, so a laptop without credentials fails fast.
func metadataHost(getenv func(string) string, genv googleEnv) string {
	if h := getenv("GCE_METADATA_HOST"); h != "" {
		return h
	}
	for _, v := range []string{"K_SERVICE", "CLOUD_RUN_JOB", "FUNCTION_TARGET", "GAE_SERVICE"} {
		if getenv(v) != "" {
			return metadataIP
		}
	}
	if genv.dmiProductName != "" && genv.readFile != nil {
		if b, err := genv.readFile(genv.dmiProductName); err == nil {
			if name := strings.TrimSpace(string(b)); strings.HasPrefix(name, "Google") {
				return metadataIP
			}
		}
	}
	return ""
}

// localIAMBeside returns the mock IAM endpoint beside a loopback token URL.
func localIAMBeside(tokenURL string) string {
	u, err := url.Parse(tokenURL)
	if err != nil || u.Host == "" || !hostcheck.Loopback(u.Host) {
		return ""
	}
	return u.Scheme + "://" + u.Host + mockIAMPath
}
