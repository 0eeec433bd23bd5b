package login

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/nacl/box"

	"github.com/gwcurl/gwcurl/internal/gateway/verify/cfverify/cfaccesstest"
)

// syncBuffer is a bytes.Buffer safe for the login's writes and the test's
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// useToken calls the protected route with the app token as cloudflared does.
func useToken(t *testing.T, srv *cfaccesstest.Server, tok string) cfaccesstest.Echo {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/admin/me", nil)
	req.Header.Set("cf-access-token", tok)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e cfaccesstest.Echo
	if resp.StatusCode != 200 {
		t.Fatalf("the login token is refused: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestCFAccessLoginRoundTrip(t *testing.T) {
	t.Parallel()
	for _, async := range []bool{false, true} {
		srv := cfaccesstest.New(t, nil)
		errs := make(chan error, 1)
		browse := cfaccesstest.Browser(srv.Client(), cfaccesstest.UserEmail, cfaccesstest.UserPassword, errs)
		var opened string
		var stderr syncBuffer
		tok, err := CFAccessLogin(t.Context(), CFLoginOptions{
			AppURL:     srv.URL + "/admin/",
			HTTPClient: srv.Client(),
			Browser: func(u string) error {
				opened = u
				if async {
					go browse(u) // the person logs in while the CLI long-polls
					return nil
				}
				return browse(u)
			},
			Stderr:  &stderr,
			Timeout: 20 * time.Second,
		})
		if err != nil {
			t.Fatalf("async=%v: %v", async, err)
		}
		if err := <-errs; err != nil {
			t.Fatalf("browser: %v", err)
		}
		for _, want := range []string{srv.URL + "/cdn-cgi/access/cli?", "aud=" + cfaccesstest.AUD, "token=", "send_org_token=true", "edge_token_transfer=true", "redirect_url="} {
			if !strings.Contains(opened, want) {
				t.Errorf("login URL %q lacks %q", opened, want)
			}
		}
		if !strings.Contains(stderr.String(), opened) {
			t.Errorf("the URL was not printed: %q", stderr.String())
		}
		if time.Until(tok.Expiry) < 23*time.Hour {
			t.Errorf("expiry %v", tok.Expiry)
		}
		e := useToken(t, srv, tok.AccessToken)
		if e.Identity.Principal != cfaccesstest.UserEmail || e.Headers.Get("Cf-Access-Authenticated-User-Email") != cfaccesstest.UserEmail {
			t.Errorf("identity = %+v", e.Identity)
		}
	}
}

// TestCFAccessLoginHeadless: no browser opens; the URL is printed and the
// person opens it elsewhere.
func TestCFAccessLoginHeadless(t *testing.T) {
	t.Parallel()
	srv := cfaccesstest.New(t, nil)
	var stderr syncBuffer
	errs := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		// "Another device": wait for the URL on stderr, then log in.
		for range 200 {
			if i := strings.Index(stderr.String(), "http"); i >= 0 {
				line := stderr.String()[i:]
				line = line[:strings.IndexByte(line, '\n')]
				_ = cfaccesstest.Browser(srv.Client(), cfaccesstest.UserEmail, cfaccesstest.UserPassword, errs)(line)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		errs <- errors.New("no URL printed")
	}()
	tok, err := CFAccessLogin(t.Context(), CFLoginOptions{
		AppURL:     srv.URL + "/admin",
		HTTPClient: srv.Client(),
		Browser:    func(string) error { return errors.New("no display") },
		Stderr:     &stderr,
		Timeout:    20 * time.Second,
	})
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "Could not open a browser (no display).\nTo log in, open this URL in a browser:") {
		t.Errorf("stderr = %q", stderr.String())
	}
	useToken(t, srv, tok.AccessToken)
}

func TestCFAccessLoginTimeout(t *testing.T) {
	t.Parallel()
	srv := cfaccesstest.New(t, nil)
	start := time.Now()
	_, err := CFAccessLogin(t.Context(), CFLoginOptions{
		AppURL:       srv.URL + "/admin/",
		HTTPClient:   srv.Client(),
		Browser:      func(string) error { return nil }, // nobody logs in
		Timeout:      500 * time.Millisecond,
		PollInterval: 50 * time.Millisecond,
	})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no login completed within 500ms") {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("took %s", time.Since(start))
	}
}

func TestCFAccessLoginWrongPassword(t *testing.T) {
	t.Parallel()
	srv := cfaccesstest.New(t, nil)
	errs := make(chan error, 1)
	_, err := CFAccessLogin(t.Context(), CFLoginOptions{
		AppURL:     srv.URL + "/admin/",
		HTTPClient: srv.Client(),
		Browser:    cfaccesstest.Browser(srv.Client(), cfaccesstest.UserEmail, "nope", errs),
		Timeout:    3 * time.Second, // nobody logs in: the login ends at this timeout
	})
	// The browser runs synchronously inside the login: if it was never
	// opened (the login ended first), fail instead of waiting forever.
	select {
	case berr := <-errs:
		if berr == nil || !strings.Contains(berr.Error(), "401") {
			t.Errorf("browser: %v", berr)
		}
	default:
		t.Fatalf("the login ended (%v) before the browser was opened", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

func TestCFAccessLoginNotAnAccessApp(t *testing.T) {
	t.Parallel()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(plain.Close)
	_, err := CFAccessLogin(t.Context(), CFLoginOptions{AppURL: plain.URL + "/x", HTTPClient: plain.Client(), Timeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "no Cloudflare Access application at") {
		t.Fatalf("err = %v", err)
	}
	for _, bad := range []string{"", "ftp://x/y", "/relative"} {
		if _, err := CFAccessLogin(t.Context(), CFLoginOptions{AppURL: bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// fakeAccess is a hostile or broken Access: it signs whatever metadata and
// tokens a test asks for, with its own key.
type fakeAccess struct {
	srv  *httptest.Server
	key  *rsa.PrivateKey
	meta jwt.MapClaims
	// app returns the transferred app token's claims.
	app func() jwt.MapClaims
	// sealTo overrides the key the transfer is sealed to (nil: the CLI's).
	wrongSeal bool
	mintKid   string
}

func newFake(t *testing.T) *fakeAccess {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeAccess{key: k, mintKid: "k1"}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	now := time.Now()
	f.meta = jwt.MapClaims{"type": "match", "hostname": "127.0.0.1", "app_hostname": "127.0.0.1",
		"auth_domain": "team.cloudflareaccess.com", "aud": "aud1", "iat": now.Unix()}
	f.app = func() jwt.MapClaims {
		return jwt.MapClaims{"iss": "https://team.cloudflareaccess.com", "aud": []string{"aud1"}, "type": "app",
			"email": "x@example.com", "exp": time.Now().Add(time.Hour).Unix(), "iat": now.Unix()}
	}
	return f
}

func (f *fakeAccess) sign(c jwt.MapClaims) string {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	t.Header["kid"] = f.mintKid
	s, err := t.SignedString(f.key)
	if err != nil {
		panic(err)
	}
	return s
}

func (f *fakeAccess) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodHead:
		if r.Header.Get("Cf-Access-Metadata-Request") == "true" {
			w.Header().Set("Cf-Access-Metadata", f.sign(f.meta))
		}
		w.WriteHeader(http.StatusFound)
	case r.URL.Path == "/cdn-cgi/access/certs":
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kid": "k1", "kty": "RSA", "alg": "RS256",
			"n": base64.RawURLEncoding.EncodeToString(f.key.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(f.key.E)).Bytes()),
		}}})
	case strings.HasPrefix(r.URL.Path, "/cdn-cgi/access/transfer/"):
		cli, err := base64.URLEncoding.DecodeString(strings.TrimPrefix(r.URL.Path, "/cdn-cgi/access/transfer/"))
		if err != nil || len(cli) != 32 {
			http.Error(w, "bad key", 400)
			return
		}
		to := (*[32]byte)(cli)
		if f.wrongSeal {
			to, _, _ = box.GenerateKey(rand.Reader)
		}
		pub, priv, _ := box.GenerateKey(rand.Reader)
		msg, _ := json.Marshal(map[string]string{"app_token": f.sign(f.app()), "org_token": "x"})
		var nonce [24]byte
		_, _ = rand.Read(nonce[:])
		w.Header().Set("Service-Public-Key", base64.URLEncoding.EncodeToString(pub[:]))
		_, _ = w.Write([]byte(base64.StdEncoding.EncodeToString(box.Seal(nonce[:], msg, &nonce, to, priv))))
	default:
		http.NotFound(w, r)
	}
}

func TestCFAccessLoginChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(f *fakeAccess)
		want   string
	}{
		{"ok", func(*fakeAccess) {}, ""},
		{"auth domain not Access", func(f *fakeAccess) { f.meta["auth_domain"] = "evil.example.com" }, "does not end with .cloudflareaccess.com"},
		{"hostname mismatch", func(f *fakeAccess) { f.meta["hostname"] = "other.example.com" }, `metadata is for host "other.example.com"`},
		{"type", func(f *fakeAccess) { f.meta["type"] = "nomatch" }, `type is "nomatch"`},
		{"no aud", func(f *fakeAccess) { f.meta["aud"] = "" }, "has no aud"},
		{"stale", func(f *fakeAccess) { f.meta["iat"] = time.Now().Add(-25 * time.Hour).Unix() }, "iat"},
		{"future", func(f *fakeAccess) { f.meta["iat"] = time.Now().Add(10 * time.Minute).Unix() }, "iat"},
		{"unknown signing key", func(f *fakeAccess) { f.mintKid = "k2" }, "does not verify"},
		{"sealed to another key", func(f *fakeAccess) { f.wrongSeal = true }, "cannot decrypt"},
		{"token for another app", func(f *fakeAccess) {
			app := f.app
			f.app = func() jwt.MapClaims { c := app(); c["aud"] = []string{"aud2"}; return c }
		}, "token has invalid audience"},
		{"token of another team", func(f *fakeAccess) {
			app := f.app
			f.app = func() jwt.MapClaims { c := app(); c["iss"] = "https://evil.cloudflareaccess.com"; return c }
		}, "token has invalid issuer"},
		{"expired token", func(f *fakeAccess) {
			app := f.app
			f.app = func() jwt.MapClaims { c := app(); c["exp"] = time.Now().Add(-time.Minute).Unix(); return c }
		}, "token is expired"},
		{"org token", func(f *fakeAccess) {
			app := f.app
			f.app = func() jwt.MapClaims { c := app(); c["type"] = "org"; return c }
		}, `type "org"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			tt.change(f)
			tok, err := CFAccessLogin(t.Context(), CFLoginOptions{
				AppURL: f.srv.URL + "/app", HTTPClient: f.srv.Client(), Timeout: 5 * time.Second,
			})
			if tt.want == "" {
				if err != nil || tok.AccessToken == "" {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestLocalEmulationDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct{ app, transfer, certs string }{
		{"https://app.example.com/x", "https://login.cloudflareaccess.org/", "https://team.cloudflareaccess.com/cdn-cgi/access/certs"},
		{"http://127.0.0.1:8080/admin", "http://127.0.0.1:8080/cdn-cgi/access/", "http://127.0.0.1:8080/cdn-cgi/access/certs"},
		{"https://localhost:8443/admin", "https://localhost:8443/cdn-cgi/access/", "https://localhost:8443/cdn-cgi/access/certs"},
		{"https://[::1]/admin", "https://[::1]/cdn-cgi/access/", "https://[::1]/cdn-cgi/access/certs"},
		{"http://devbox.lan:8080/admin", "http://devbox.lan:8080/cdn-cgi/access/", "http://devbox.lan:8080/cdn-cgi/access/certs"},
	}
	for _, tt := range tests {
		l := &cfLogin{}
		var err error
		if l.app, err = url.Parse(tt.app); err != nil {
			t.Fatal(err)
		}
		if got := l.transferURL(); got != tt.transfer {
			t.Errorf("%s: transfer %s, want %s", tt.app, got, tt.transfer)
		}
		if got := l.certsURL("team.cloudflareaccess.com"); got != tt.certs {
			t.Errorf("%s: certs %s, want %s", tt.app, got, tt.certs)
		}
	}
	l := &cfLogin{opts: CFLoginOptions{TransferURL: "https://t.example/base", CertsURL: "https://c.example/certs"}}
	l.app, _ = url.Parse("https://app.example.com")
	if l.transferURL() != "https://t.example/base/" || l.certsURL("x") != "https://c.example/certs" {
		t.Errorf("overrides ignored: %s %s", l.transferURL(), l.certsURL("x"))
	}
}
