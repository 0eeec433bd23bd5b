package sign

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/demo"
	"github.com/gwcurl/gwcurl/internal/demoflow"
	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
	"github.com/gwcurl/gwcurl/internal/login"
	"github.com/gwcurl/gwcurl/internal/profiles"
)

type loginMemStore struct {
	mu sync.Mutex
	m  map[string]string
}

func (s *loginMemStore) Get(_ context.Context, p, k string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[p+"/"+k]
	if !ok {
		return "", profiles.ErrNotFound
	}
	return v, nil
}

func (s *loginMemStore) Set(_ context.Context, p, k, v string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[p+"/"+k] = v
	return nil
}

func (s *loginMemStore) Delete(_ context.Context, p, k string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, p+"/"+k)
	return nil
}

// loginEnv is the demo gateway with its own clock (to play a server whose
// clock runs ahead), and signer deps over an in-memory secret store.
type loginEnv struct {
	srv      *gatewaytest.Server
	mu       sync.Mutex
	gwOffset time.Duration
	store    *loginMemStore
	cfg      *profiles.Config
	trace    *strings.Builder
}

func newLoginEnv(t *testing.T) *loginEnv {
	e := &loginEnv{store: &loginMemStore{m: map[string]string{}}, trace: &strings.Builder{}}
	e.srv = gatewaytest.StartDemo(t, gateway.Options{Now: func() time.Time {
		e.mu.Lock()
		defer e.mu.Unlock()
		return time.Now().Add(e.gwOffset)
	}})
	e.cfg = demoflow.Profiles(e.srv.URL, "")
	return e
}

func (e *loginEnv) deps(profile string) Deps {
	var mu sync.Mutex
	return Deps{
		Profile:    profile,
		HTTPClient: e.srv.Client(),
		Now:        time.Now,
		Getenv:     func(string) string { return "" },
		Secrets:    &profiles.Resolver{Store: e.store},
		Stderr:     io.Discard,
		Trace: func(f string, a ...any) {
			mu.Lock()
			defer mu.Unlock()
			e.trace.WriteString(strings.TrimSpace(strings.ReplaceAll(f, "%", "")) + "\n")
		},
	}
}

func (e *loginEnv) login(t *testing.T, profile string) {
	t.Helper()
	o := LoginOptions(e.cfg.Profiles[profile].Auth, e.deps(profile))
	o.Timeout = 10 * time.Second
	if err := demoflow.Login(t.Context(), o, e.srv.URL); err != nil {
		t.Fatalf("login %s: %v", profile, err)
	}
}

// get sends GET path through a signing Transport.
func (e *loginEnv) get(t *testing.T, s Signer, path string) (int, map[string]any) {
	t.Helper()
	c := &http.Client{Transport: &Transport{Signer: s, Base: e.srv.Client().Transport, AllowedHost: strings.TrimPrefix(e.srv.URL, "http://")}}
	resp, err := c.Get(e.srv.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func (e *loginEnv) hits(prefix string) (n int) {
	for _, r := range e.srv.Gateway.Requests() {
		if strings.HasPrefix(r.Path, prefix) {
			n++
		}
	}
	return n
}

func TestLoginSigner(t *testing.T) {
	t.Parallel()
	e := newLoginEnv(t)
	for _, tc := range []struct{ profile, path string }{{"demo-cognito", "/app/echo"}, {"demo-magic", "/magic/echo"}} {
		e.login(t, tc.profile)
		s, err := New(t.Context(), e.cfg.Profiles[tc.profile].Auth, e.srv.URL+tc.path, e.deps(tc.profile))
		if err != nil {
			t.Fatal(err)
		}
		st, m := e.get(t, s, tc.path)
		id, _ := m["identity"].(map[string]any)
		if st != 200 || id["principal"] != demo.UserEmail || id["kind"] != "jwt" {
			t.Errorf("%s: %d %v", tc.profile, st, m)
		}
	}
	if strings.Contains(e.trace.String(), "eyJ") && !strings.Contains(e.trace.String(), "…") {
		t.Error("a token in the trace")
	}
}

// TestLoginSignerNoLogin: without a login a request fails at once with a
// CredentialError (exit 4) and the hint; nothing is sent.
func TestLoginSignerNoLogin(t *testing.T) {
	t.Parallel()
	e := newLoginEnv(t)
	d := e.deps("demo-cognito")
	d.Interactive = false
	s, err := New(t.Context(), e.cfg.Profiles["demo-cognito"].Auth, e.srv.URL+"/app/echo", d)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &Transport{Signer: s, Base: e.srv.Client().Transport}}
	start := time.Now()
	_, err = c.Get(e.srv.URL + "/app/echo")
	var ce *CredentialError
	if !errors.As(err, &ce) || ce.Kind != "cognito" || ce.Hint != "run `gwcurl login -p demo-cognito`" {
		t.Fatalf("no login: %v", err)
	}
	if time.Since(start) > time.Second || e.hits("/app") != 0 {
		t.Error("the request waited or was sent")
	}
	if _, err := LoginToken(t.Context(), LoginOptions(e.cfg.Profiles["demo-cognito"].Auth, d)); !IsCredentialError(err) {
		t.Errorf("LoginToken: %v", err)
	}
	// No store, no profile, bad settings.
	d.Secrets = &profiles.Resolver{}
	if _, err := New(t.Context(), e.cfg.Profiles["demo-cognito"].Auth, e.srv.URL, d); !IsCredentialError(err) {
		t.Errorf("no store: %v", err)
	}
	d = e.deps("")
	if _, err := New(t.Context(), e.cfg.Profiles["demo-cognito"].Auth, e.srv.URL, d); !IsCredentialError(err) {
		t.Errorf("no profile: %v", err)
	}
	if _, err := New(t.Context(), profiles.Auth{Kind: "cognito"}, e.srv.URL, e.deps("x")); err == nil || IsCredentialError(err) {
		t.Errorf("bad settings: %v", err)
	}
}

// TestLoginSignerRefreshAndRetry: the server's clock is ahead, so it finds
// the token expired while gwcurl does not: the 401 with
// error="invalid_token" triggers one refresh and one retry.
func TestLoginSignerRefreshAndRetry(t *testing.T) {
	t.Parallel()
	e := newLoginEnv(t)
	e.login(t, "demo-cognito")
	a := e.cfg.Profiles["demo-cognito"].Auth
	s, err := New(t.Context(), a, e.srv.URL+"/app/echo", e.deps("demo-cognito"))
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := e.get(t, s, "/app/echo"); st != 200 {
		t.Fatal(st)
	}
	e.mu.Lock()
	e.gwOffset = 2 * time.Hour
	e.mu.Unlock()
	before := e.hits("/app")
	st, m := e.get(t, s, "/app/echo")
	if st != 200 {
		t.Fatalf("after refresh-and-retry: %d %v", st, m)
	}
	if n := e.hits("/app") - before; n != 2 {
		t.Errorf("%d attempts, want 2 (one 401, one retry)", n)
	}
	// The refreshed token is stored: a new signer uses it at once.
	s2, _ := New(t.Context(), a, e.srv.URL+"/app/echo", e.deps("demo-cognito"))
	before = e.hits("/app")
	if st, _ := e.get(t, s2, "/app/echo"); st != 200 || e.hits("/app")-before != 1 {
		t.Errorf("stored refreshed token: %d", st)
	}

	// A 403 (a valid token for something else) is not retried.
	acc := a
	acc.UseToken = "access"
	s3, _ := New(t.Context(), acc, e.srv.URL+"/app/echo", e.deps("demo-cognito"))
	before = e.hits("/app")
	if st, _ := e.get(t, s3, "/app/echo"); st != 403 || e.hits("/app")-before != 1 {
		t.Errorf("403: %d, %d attempts", st, e.hits("/app")-before)
	}

	// A revoked session: the retry's refresh fails, the 401 is the answer
	// (one attempt more, no loop), and the next request needs a login.
	o := LoginOptions(a, e.deps("demo-cognito"))
	tok, _ := login.Token(t.Context(), o)
	resp, err := e.srv.Client().PostForm(e.srv.URL+"/_mock/cognito/oauth2/revoke", map[string][]string{"token": {tok.RefreshToken}, "client_id": {demo.CognitoClientID}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	e.mu.Lock()
	e.gwOffset = 4 * time.Hour
	e.mu.Unlock()
	before = e.hits("/app")
	if st, _ := e.get(t, s2, "/app/echo"); st != 401 || e.hits("/app")-before != 1 {
		t.Errorf("revoked: %d, %d attempts", st, e.hits("/app")-before)
	}
	if _, err := login.Token(t.Context(), o); !errors.Is(err, login.ErrLoginRequired) {
		t.Errorf("after a failed refresh: %v", err)
	}
}

func TestExpiredTokenSign(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]bool{
		"":                             true, // API Gateway: a bare 401
		`Bearer realm="x"`:             true,
		`Bearer error="invalid_token"`: true,
		`Bearer realm="gwcurl", error="invalid_token", error_description="token expired"`: true,
		`Bearer error=invalid_token`:        true,
		`Bearer error="invalid_request"`:    false,
		`Bearer error="insufficient_scope"`: false,
		`Basic realm="x"`:                   true,
	} {
		h := http.Header{}
		if v != "" {
			h.Set("WWW-Authenticate", v)
		}
		if got := expiredTokenSign(h); got != want {
			t.Errorf("%q: %v, want %v", v, got, want)
		}
	}
}
