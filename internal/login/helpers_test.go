package login_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gwcurl/gwcurl/internal/demo"
	"github.com/gwcurl/gwcurl/internal/demoflow"
	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
	"github.com/gwcurl/gwcurl/internal/login"
	"github.com/gwcurl/gwcurl/internal/profiles"
)

// memStore is an in-memory SecretStore (the test store).
type memStore struct {
	mu sync.Mutex
	m  map[string]string
}

func newMemStore() *memStore { return &memStore{m: map[string]string{}} }

func (s *memStore) Get(_ context.Context, profile, key string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[profile+"/"+key]
	if !ok {
		return "", profiles.ErrNotFound
	}
	return v, nil
}

func (s *memStore) Set(_ context.Context, profile, key, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[profile+"/"+key] = value
	return nil
}

func (s *memStore) Delete(_ context.Context, profile, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, profile+"/"+key)
	return nil
}

func (s *memStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// lockedBuffer collects the conversation on stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// clock is a settable clock shared by the gateway and the client.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// demoEnv is the demo gateway, its profiles, a store and a clock.
type demoEnv struct {
	srv    *gatewaytest.Server
	store  *memStore
	clk    *clock
	stderr *lockedBuffer
	cfg    *profiles.Config
}

func startDemo(t *testing.T) *demoEnv {
	t.Helper()
	e := &demoEnv{store: newMemStore(), clk: &clock{t: time.Now()}, stderr: &lockedBuffer{}}
	e.srv = gatewaytest.StartDemo(t, gateway.Options{Now: e.clk.now})
	e.cfg = demoflow.Profiles(e.srv.URL, "")
	return e
}

// opts are the options of a demo profile, with a scripted browser that
// logs the demo user in when browser is nil.
func (e *demoEnv) opts(t *testing.T, profile string) login.Options {
	t.Helper()
	p := e.cfg.Profiles[profile]
	if p == nil {
		t.Fatalf("no demo profile %s", profile)
	}
	return login.Options{
		Profile:    profile,
		Auth:       p.Auth,
		HTTPClient: e.srv.Client(),
		Now:        e.clk.now,
		Timeout:    15 * time.Second,
		Stderr:     e.stderr,
		Store:      e.store,
	}
}

// call sends a request to the gateway with a login token.
func (e *demoEnv) call(t *testing.T, path string, tok *oauth2.Token, a profiles.Auth) (int, map[string]any) {
	t.Helper()
	bearer, err := login.BearerToken(tok, a)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

func principal(m map[string]any) any {
	id, _ := m["identity"].(map[string]any)
	return id["principal"]
}

// errSink collects a scripted browser's failure.
type errSink struct {
	mu  sync.Mutex
	err error
}

func (s *errSink) set(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
}

func (s *errSink) get() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

var printedURL = regexp.MustCompile(`(?m)^  (http\S+)$`)

// loginURL is the authorization URL the login printed.
func loginURL(t *testing.T, stderr string) string {
	t.Helper()
	m := printedURL.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no URL on stderr: %q", stderr)
	}
	return m[1]
}

func isDeadline(err error) bool { return errors.Is(err, context.DeadlineExceeded) }

func demoAuth(kind, issuer, domain, client, start, token, use, secret string, port int) profiles.Auth {
	return profiles.Auth{Kind: kind, Issuer: issuer, Domain: domain, ClientID: client, StartURL: start, TokenURL: token,
		UseToken: use, ClientSecret: secret, RedirectPort: port}
}

var _ = demo.UserEmail

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func itoa(n int) string { return strconv.Itoa(n) }
