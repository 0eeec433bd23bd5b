package sign_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"

	"github.com/gwcurl/gwcurl/internal/gateway/verify/cfverify/cfaccesstest"
	"github.com/gwcurl/gwcurl/internal/login"
	"github.com/gwcurl/gwcurl/internal/profiles"
	"github.com/gwcurl/gwcurl/internal/sign"
)

// traceLog collects -v traces.
type traceLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *traceLog) trace(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *traceLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

type cfEnv struct {
	srv    *cfaccesstest.Server
	deps   sign.Deps
	traces *traceLog
	env    map[string]string
}

func newCFEnv(t *testing.T) *cfEnv {
	t.Helper()
	srv := cfaccesstest.New(t, nil)
	e := &cfEnv{srv: srv, traces: &traceLog{}, env: map[string]string{"DEMO_CF_SECRET": cfaccesstest.ClientSecret}}
	getenv := func(k string) string { return e.env[k] }
	e.deps = sign.Deps{
		Profile:    "demo-cf",
		HTTPClient: srv.Client(),
		Now:        time.Now,
		Getenv:     getenv,
		Secrets:    &profiles.Resolver{Getenv: getenv},
		CacheDir:   t.TempDir(),
		Trace:      e.traces.trace,
		Stderr:     io.Discard,
	}
	return e
}

func demoAuth() profiles.Auth {
	return profiles.Auth{Kind: "cf-access", ClientID: cfaccesstest.ClientID, ClientSecret: "env:DEMO_CF_SECRET"}
}

// client builds what the CLI builds: a signing transport (which passes
// responses to the signer).
func (e *cfEnv) client(t *testing.T, a profiles.Auth) *http.Client {
	t.Helper()
	target := e.srv.URL + "/admin/"
	s, err := sign.New(t.Context(), a, target, e.deps)
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(e.srv.URL, "http://")
	return &http.Client{Transport: &sign.Transport{Signer: s, Base: e.srv.Client().Transport, AllowedHost: host}}
}

func (e *cfEnv) get(t *testing.T, c *http.Client, path string) (int, cfaccesstest.Echo, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", e.srv.URL+path, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var echo cfaccesstest.Echo
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(b, &echo); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, echo, string(b)
}

// lastSent is what the client sent on its latest request.
func (e *cfEnv) lastSent(t *testing.T) http.Header {
	t.Helper()
	r := e.srv.Received()
	if len(r) == 0 {
		t.Fatal("nothing sent")
	}
	return r[len(r)-1]
}

func (e *cfEnv) noSecretLeaks(t *testing.T) {
	t.Helper()
	if strings.Contains(e.traces.String(), cfaccesstest.ClientSecret) {
		t.Errorf("a trace holds the client secret:\n%s", e.traces)
	}
}

func TestCFAccessServiceTokenThenCookie(t *testing.T) {
	t.Parallel()
	e := newCFEnv(t)
	c := e.client(t, demoAuth())

	status, echo, body := e.get(t, c, "/admin/one")
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	if echo.Identity.Principal != cfaccesstest.ClientID {
		t.Errorf("identity %+v", echo.Identity)
	}
	sent := e.lastSent(t)
	if sent.Get("CF-Access-Client-Id") != cfaccesstest.ClientID || sent.Get("CF-Access-Client-Secret") != cfaccesstest.ClientSecret || sent.Get("cf-access-token") != "" {
		t.Errorf("first request sent %v", sent)
	}

	// The CF_Authorization cookie was kept: the second request carries the
	// token, not the pair.
	status, echo, body = e.get(t, c, "/admin/two")
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	sent = e.lastSent(t)
	if sent.Get("CF-Access-Client-Secret") != "" || sent.Get("CF-Access-Client-Id") != "" || sent.Get("cf-access-token") == "" {
		t.Errorf("second request sent %v", sent)
	}
	if echo.Identity.Principal != cfaccesstest.ClientID || echo.Headers.Get("Cf-Access-Jwt-Assertion") != sent.Get("cf-access-token") {
		t.Errorf("second identity %+v", echo.Identity)
	}

	// Cached on disk, 0600, for the next process.
	key, err := sign.CFAccessCacheKey("demo-cf", e.srv.URL+"/admin/")
	if err != nil {
		t.Fatal(err)
	}
	cached, err := (&profiles.TokenCache{Dir: e.deps.CacheDir}).Get(key)
	if err != nil || cached == nil || cached.AccessToken != sent.Get("cf-access-token") {
		t.Fatalf("cache entry %s: %v %v", key, cached, err)
	}
	files, _ := filepath.Glob(filepath.Join(e.deps.CacheDir, "*.json"))
	for _, f := range files {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v", f, fi.Mode())
		}
		if b, _ := os.ReadFile(f); strings.Contains(string(b), cfaccesstest.ClientSecret) {
			t.Errorf("the cache holds the client secret")
		}
	}

	// A new process with no service token at all uses the cached token; its
	// secret reference is never resolved.
	e2 := *e
	c2 := e2.client(t, profiles.Auth{Kind: "cf-access", ClientSecret: "cmd:exit 3"})
	if status, _, body := e.get(t, c2, "/admin/three"); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	if sent := e.lastSent(t); sent.Get("cf-access-token") == "" || sent.Get("CF-Access-Client-Secret") != "" {
		t.Errorf("third request sent %v", sent)
	}
	e.noSecretLeaks(t)
}

func TestCFAccessEnvironment(t *testing.T) {
	t.Parallel()
	e := newCFEnv(t)
	e.env["CF_ACCESS_CLIENT_ID"] = cfaccesstest.ClientID
	e.env["CF_ACCESS_CLIENT_SECRET"] = cfaccesstest.ClientSecret
	e.deps.CacheDir = "" // no file cache: the token is kept in memory only
	c := e.client(t, profiles.Auth{Kind: "cf-access"})
	for range 2 {
		if status, _, body := e.get(t, c, "/admin/env"); status != 200 {
			t.Fatalf("%d %s", status, body)
		}
	}
	sent := e.srv.Received()
	if sent[0].Get("CF-Access-Client-Id") != cfaccesstest.ClientID || sent[0].Get("CF-Access-Client-Secret") != cfaccesstest.ClientSecret {
		t.Errorf("env credentials not used: %v", sent[0])
	}
	if sent[1].Get("cf-access-token") == "" || sent[1].Get("CF-Access-Client-Secret") != "" {
		t.Errorf("the token was not reused in memory: %v", sent[1])
	}
}

func TestCFAccessMissingCredentials(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		a       profiles.Auth
		env     map[string]string
		profile string
		want    string
		hint    string
	}{
		{"nothing", profiles.Auth{Kind: "cf-access"}, nil, "demo-cf", "no service token and no login for 127.0.0.1", "`gwcurl login -p demo-cf`"},
		{"nothing ad hoc", profiles.Auth{Kind: "cf-access"}, nil, "", "no service token and no login", "gwcurl login -p NAME"},
		{"id only", profiles.Auth{Kind: "cf-access", ClientID: "demo.access"}, nil, "p", "client id demo.access is configured but no client secret", "CF_ACCESS_CLIENT_SECRET"},
		{"secret only", profiles.Auth{Kind: "cf-access"}, map[string]string{"CF_ACCESS_CLIENT_SECRET": "s3cr3t-value"}, "p", "no client id", "CF_ACCESS_CLIENT_ID"},
		{"literal secret", profiles.Auth{Kind: "cf-access", ClientID: "demo.access", ClientSecret: "s3cr3t-value"}, nil, "p", "must be a secret reference", "env:NAME"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			getenv := func(k string) string { return tt.env[k] }
			d := sign.Deps{Profile: tt.profile, HTTPClient: http.DefaultClient, Now: time.Now, Getenv: getenv,
				Secrets: &profiles.Resolver{Getenv: getenv}, CacheDir: t.TempDir(), Stderr: io.Discard}
			_, err := sign.New(t.Context(), tt.a, "http://127.0.0.1:9/admin", d)
			var ce *sign.CredentialError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a CredentialError", err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(ce.Hint, tt.hint) {
				t.Errorf("err = %q hint %q", err, ce.Hint)
			}
			if strings.Contains(err.Error()+ce.Hint, "s3cr3t-value") {
				t.Errorf("the secret is in the error")
			}
		})
	}
}

func TestCFAccessSecretResolution(t *testing.T) {
	t.Parallel()
	e := newCFEnv(t)
	a := demoAuth()
	a.ClientSecret = "env:UNSET_VAR"
	s, err := sign.New(t.Context(), a, e.srv.URL+"/admin", e.deps)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", e.srv.URL+"/admin", nil)
	err = s.Sign(t.Context(), req)
	if !sign.IsCredentialError(err) || !strings.Contains(err.Error(), "UNSET_VAR is not set") {
		t.Fatalf("err = %v", err)
	}
}

// TestCFAccessPlainHTTP: the secret goes only over https or to loopback.
func TestCFAccessPlainHTTP(t *testing.T) {
	t.Parallel()
	e := newCFEnv(t)
	for _, tt := range []struct {
		target string
		ok     bool
	}{
		{"http://gateway.example.com/admin", false},
		{"http://10.0.0.8:8080/admin", false},
		{"https://gateway.example.com/admin", true},
		{"http://localhost:8080/admin", true},
		{"http://[::1]:8080/admin", true},
		{"http://127.0.0.1:8080/admin", true},
	} {
		s, err := sign.New(t.Context(), demoAuth(), tt.target, e.deps)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(t.Context(), "GET", tt.target, nil)
		err = s.Sign(t.Context(), req)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v", tt.target, err)
		}
		if !tt.ok && req.Header.Get("CF-Access-Client-Secret") != "" {
			t.Errorf("%s: secret set on a refused request", tt.target)
		}
	}
}

// TestCFAccessRefusedTokenDropped: a cached token the server refuses is
// forgotten, the same request is retried once with the pair, and the new
// token is cached.
func TestCFAccessRefusedTokenDropped(t *testing.T) {
	t.Parallel()
	e := newCFEnv(t)
	key, _ := sign.CFAccessCacheKey("demo-cf", e.srv.URL+"/admin/")
	cache := &profiles.TokenCache{Dir: e.deps.CacheDir}
	// A well-formed app token, but not signed by the gateway's keys.
	forged, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"type": "app", "aud": []string{cfaccesstest.AUD}, "common_name": "demo.access",
		"exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte("not the key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cache.Put(key, &oauth2.Token{AccessToken: forged, Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	c := e.client(t, demoAuth())
	if status, _, body := e.get(t, c, "/admin/a"); status != 200 {
		t.Fatalf("refused cached token, then the pair: status %d %s", status, body)
	}
	if e.lastSent(t).Get("CF-Access-Client-Id") == "" || e.lastSent(t).Get("cf-access-token") != "" {
		t.Errorf("the retry did not send the pair instead of the token")
	}
	if tok, _ := cache.Get(key); tok == nil || tok.AccessToken == forged {
		t.Errorf("refused token still cached, or the new one not cached")
	}
}

// TestCFAccessExpiredCacheIgnored: a token expiring within a minute is not
// used (and is removed).
func TestCFAccessExpiredCacheIgnored(t *testing.T) {
	t.Parallel()
	e := newCFEnv(t)
	key, _ := sign.CFAccessCacheKey("demo-cf", e.srv.URL+"/admin/")
	cache := &profiles.TokenCache{Dir: e.deps.CacheDir}
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"type": "app", "aud": "x", "exp": time.Now().Add(30 * time.Second).Unix(),
	}).SignedString([]byte("k"))
	_ = cache.Put(key, &oauth2.Token{AccessToken: tok})
	if _, err := sign.New(t.Context(), profiles.Auth{Kind: "cf-access"}, e.srv.URL+"/admin/", e.deps); !sign.IsCredentialError(err) {
		t.Fatalf("err = %v", err)
	}
	if got, _ := cache.Get(key); got != nil {
		t.Errorf("expired entry kept")
	}
}

// TestCFAccessCrossHost: the credentials and cookie handling stay with the
// host the signer was built for.
func TestCFAccessCrossHost(t *testing.T) {
	t.Parallel()
	e := newCFEnv(t)
	other := cfaccesstest.New(t, nil)
	c := e.client(t, demoAuth())
	req, _ := http.NewRequestWithContext(t.Context(), "GET", other.URL+"/admin/x", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("another host got credentials: %d", resp.StatusCode)
	}
	if r := other.Received(); r[0].Get("CF-Access-Client-Secret") != "" {
		t.Errorf("secret sent to another host")
	}
}

// TestCFAccessLoginToken: a person's login token, cached under the key,
// is sent as cf-access-token, and whoami names the person.
func TestCFAccessLoginToken(t *testing.T) {
	t.Parallel()
	e := newCFEnv(t)
	errs := make(chan error, 1)
	tok, err := login.CFAccessLogin(t.Context(), login.CFLoginOptions{
		AppURL:     e.srv.URL + "/admin",
		HTTPClient: e.srv.Client(),
		Browser:    cfaccesstest.Browser(e.srv.Client(), cfaccesstest.UserEmail, cfaccesstest.UserPassword, errs),
		Timeout:    10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := sign.CFAccessCacheKey("demo-cf", e.srv.URL+"/admin")
	if err := (&profiles.TokenCache{Dir: e.deps.CacheDir}).Put(key, tok); err != nil {
		t.Fatal(err)
	}
	a := profiles.Auth{Kind: "cf-access"}
	c := e.client(t, a)
	status, echo, body := e.get(t, c, "/admin/me")
	if status != 200 || echo.Identity.Principal != cfaccesstest.UserEmail {
		t.Fatalf("%d %s", status, body)
	}
	who, err := sign.CFAccessIdentity(t.Context(), a, e.srv.URL+"/admin/x", e.deps)
	if err != nil || who != cfaccesstest.UserEmail {
		t.Errorf("whoami = %q, %v", who, err)
	}
	h, err := sign.CFAccessHeaders(t.Context(), a, e.srv.URL+"/admin/x", e.deps)
	if err != nil || h.Get("cf-access-token") != tok.AccessToken || len(h) != 1 {
		t.Errorf("headers = %v, %v", h, err)
	}
}

func TestCFAccessHeadersAndIdentity(t *testing.T) {
	t.Parallel()
	e := newCFEnv(t)
	target := e.srv.URL + "/admin/"
	h, err := sign.CFAccessHeaders(t.Context(), demoAuth(), target, e.deps)
	if err != nil {
		t.Fatal(err)
	}
	if h.Get("CF-Access-Client-Id") != cfaccesstest.ClientID || h.Get("CF-Access-Client-Secret") != cfaccesstest.ClientSecret || len(h) != 2 {
		t.Errorf("headers = %v", h)
	}
	if who, err := sign.CFAccessIdentity(t.Context(), demoAuth(), target, e.deps); err != nil || who != cfaccesstest.ClientID {
		t.Errorf("whoami = %q, %v", who, err)
	}
	if _, err := sign.CFAccessIdentity(t.Context(), profiles.Auth{Kind: "cf-access"}, target, e.deps); !sign.IsCredentialError(err) {
		t.Errorf("whoami without credentials: %v", err)
	}
}

func TestCFAccessCacheKey(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ profile, target, want string }{
		{"demo-cf", "http://127.0.0.1:8080/admin/x?y", "cf-access/demo-cf/127.0.0.1:8080"},
		{"", "https://App.Example.com/", "cf-access/-/app.example.com"},
	} {
		if got, err := sign.CFAccessCacheKey(tt.profile, tt.target); err != nil || got != tt.want {
			t.Errorf("%q %q: %q %v", tt.profile, tt.target, got, err)
		}
	}
	if _, err := sign.CFAccessCacheKey("p", "not a url"); err == nil {
		t.Error("bad target accepted")
	}
}

// TestCFAccessConcurrent signs and observes from many goroutines (-race).
func TestCFAccessConcurrent(t *testing.T) {
	t.Parallel()
	e := newCFEnv(t)
	c := e.client(t, demoAuth())
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(context.Background(), "GET", e.srv.URL+"/admin/c", nil)
			resp, err := c.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Error(resp.Status)
			}
		})
	}
	wg.Wait()
	e.noSecretLeaks(t)
}
