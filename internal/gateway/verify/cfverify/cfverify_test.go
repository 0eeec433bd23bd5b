package cfverify

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"gopkg.in/yaml.v3"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
)

const (
	demoTeam   = "https://gwcurl-demo.cloudflareaccess.com"
	demoAUD    = "5f1a0b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeef"
	demoID     = "demo.access"
	demoSecret = "demo-cf-secret"
)

var demoConfig = `
kind: cf_access
team_domain: https://gwcurl-demo.cloudflareaccess.com
aud: ` + demoAUD + `
service_tokens:
  - {client_id: demo.access, client_secret: demo-cf-secret}
`

// harness is a minimal gateway: the mock Access endpoints plus /admin/,
// verified by a cf_access verifier and answered by an echo origin.
type harness struct {
	t   *testing.T
	srv *httptest.Server
	env *auth.Env
	st  *state

	mu      sync.Mutex
	reached []http.Header // headers the origin received, in order
}

// echo is what the test origin answers.
type echo struct {
	Headers  http.Header    `json:"headers"`
	Identity *auth.Identity `json:"identity"`
}

func node(t testing.TB, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

func newHarness(t *testing.T, mocksFirst bool) *harness {
	t.Helper()
	h := &harness{t: t}
	h.env = &auth.Env{
		Now:    time.Now,
		Users:  []auth.User{{Email: "demo@example.com", Password: "demo-password"}, {Email: "other@example.com", Password: "other-password"}},
		Shared: map[string]any{},
	}
	var (
		v     auth.Verifier
		mocks []auth.Mock
		err   error
	)
	if mocksFirst {
		if mocks, err = Mocks(h.env); err == nil {
			v, err = Factory(node(t, demoConfig), h.env)
		}
	} else {
		if v, err = Factory(node(t, demoConfig), h.env); err == nil {
			mocks, err = Mocks(h.env)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	h.st = h.env.Shared[sharedKey].(*state)
	mux := http.NewServeMux()
	for _, m := range mocks {
		mux.Handle(m.Prefix, m.Handler)
	}
	mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) {
		id, err := v.Verify(w, r)
		if err != nil {
			var rej *auth.Rejection
			if !errors.As(err, &rej) {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			for k, vs := range rej.Header {
				w.Header()[k] = vs
			}
			body := map[string]any{"error": http.StatusText(rej.Status), "reason": rej.Reason}
			for k, v := range rej.Details {
				body[k] = v
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(rej.Status)
			_ = json.NewEncoder(w).Encode(body)
			return
		}
		h.mu.Lock()
		h.reached = append(h.reached, r.Header.Clone())
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echo{Headers: r.Header, Identity: id})
	})
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	h.env.BaseURL = h.srv.URL
	return h
}

// do sends a request to path with headers (and cookies as "Cookie" values).
func (h *harness) do(method, path string, hdr map[string]string) (*http.Response, []byte) {
	h.t.Helper()
	req, err := http.NewRequestWithContext(h.t.Context(), method, h.srv.URL+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp, body
}

func (h *harness) reachedCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.reached)
}

func pair() map[string]string {
	return map[string]string{"CF-Access-Client-Id": demoID, "CF-Access-Client-Secret": demoSecret}
}

// oidcVerify checks an Access JWT the way an origin would, against the
// keys fetched from the certs endpoint, with the standard library only
// (crypto/rsa over the signing input): independent of the verifier's
// golang-jwt and of go-oidc's key sets.
func oidcVerify(t *testing.T, h *harness, raw string) map[string]any {
	t.Helper()
	claims, err := stdlibVerify(t.Context(), h.srv.Client(), h.srv.URL+CertsPath, raw, time.Now())
	if err != nil {
		t.Fatalf("independent check rejects the token: %v", err)
	}
	if claims["iss"] != demoTeam {
		t.Fatalf("iss = %v", claims["iss"])
	}
	if !audContains(claims["aud"], demoAUD) {
		t.Fatalf("aud = %v", claims["aud"])
	}
	return claims
}

func TestServiceToken(t *testing.T) {
	t.Parallel()
	for _, mocksFirst := range []bool{false, true} {
		h := newHarness(t, mocksFirst)
		resp, body := h.do("GET", "/admin/x", pair())
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		var e echo
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatal(err)
		}
		assertion := e.Headers.Get(HeaderAssertion)
		if assertion == "" {
			t.Fatalf("origin got no %s: %v", HeaderAssertion, e.Headers)
		}
		claims := oidcVerify(t, h, assertion)
		if claims["common_name"] != demoID || claims["sub"] != "" || claims["type"] != "app" || claims["iss"] != demoTeam {
			t.Errorf("claims = %v", claims)
		}
		for _, k := range []string{"exp", "iat", "nbf"} {
			if _, ok := claims[k].(float64); !ok {
				t.Errorf("claim %s missing: %v", k, claims)
			}
		}
		if e.Identity == nil || e.Identity.Kind != "cf_access" || e.Identity.Principal != demoID || e.Identity.Claims["common_name"] != demoID {
			t.Errorf("identity = %+v", e.Identity)
		}
		for _, k := range []string{HeaderClientID, HeaderClientSecret, HeaderToken, HeaderUserEmail} {
			if e.Headers.Get(k) != "" {
				t.Errorf("origin received %s", k)
			}
		}
		if strings.Contains(string(body), demoSecret) {
			t.Errorf("the client secret reached the origin: %s", body)
		}
		var cookie *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == CookieAuthorization {
				cookie = c
			}
		}
		if cookie == nil || cookie.Value != assertion || !cookie.HttpOnly || cookie.Path != "/" {
			t.Errorf("CF_Authorization cookie = %+v, want the assertion", cookie)
		}
	}
}

// TestCurl sends the service token with the real curl, as a user would.
func TestCurl(t *testing.T) {
	t.Parallel()
	curl, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("curl is required in CI")
		}
		t.Skip("curl not installed")
	}
	h := newHarness(t, false)
	out, err := exec.CommandContext(t.Context(), curl, "-sS", "--fail-with-body",
		"-H", "CF-Access-Client-Id: "+demoID, "-H", "CF-Access-Client-Secret: "+demoSecret,
		h.srv.URL+"/admin/curl").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v: %s", err, out)
	}
	var e echo
	if err := json.Unmarshal(out, &e); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if e.Identity.Principal != demoID {
		t.Errorf("principal = %q", e.Identity.Principal)
	}
	oidcVerify(t, h, e.Headers.Get(HeaderAssertion))

	out, err = exec.CommandContext(t.Context(), curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}",
		"-H", "CF-Access-Client-Id: "+demoID, "-H", "CF-Access-Client-Secret: nope",
		h.srv.URL+"/admin/curl").CombinedOutput()
	if err != nil || string(out) != "403" {
		t.Errorf("curl with a wrong secret: %v %s, want 403", err, out)
	}
}

// forge signs claims with a key the gateway does not know, under the kid
// of its real current key.
func forge(t *testing.T, h *harness, claims jwt.MapClaims) string {
	t.Helper()
	kids := h.st.keys.KeyIDs()
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = kids[0]
	s, err := tok.SignedString(other)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sign signs claims with the gateway's real current key.
func sign(t *testing.T, h *harness, claims jwt.MapClaims) string {
	t.Helper()
	s, err := h.st.sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func goodClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": demoTeam, "aud": []string{demoAUD}, "type": "app", "common_name": demoID, "sub": "",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

func with(c jwt.MapClaims, k string, v any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for kk, vv := range c {
		out[kk] = vv
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false)
	now := time.Now()
	good := goodClaims(now)
	noneToken := func() string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodNone, good).SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	tests := []struct {
		name   string
		hdr    map[string]string
		reason string
	}{
		{"nothing", nil, "missing CF Access service token (CF-Access-Client-Id / CF-Access-Client-Secret)"},
		{"id only", map[string]string{"CF-Access-Client-Id": demoID}, "missing CF Access service token"},
		{"secret only", map[string]string{"CF-Access-Client-Secret": demoSecret}, "missing CF Access service token"},
		{"wrong secret", map[string]string{"CF-Access-Client-Id": demoID, "CF-Access-Client-Secret": "wrong-secret-value"}, "invalid service token secret for client id demo.access"},
		{"unknown id", map[string]string{"CF-Access-Client-Id": "nobody.access", "CF-Access-Client-Secret": demoSecret}, `unknown service token client id "nobody.access"`},
		{"forged assertion only", map[string]string{HeaderAssertion: sign(t, h, good)}, "missing CF Access service token"},
		{"forged user email only", map[string]string{HeaderUserEmail: "demo@example.com"}, "missing CF Access service token"},
		{"forged cookie", map[string]string{"Cookie": CookieAuthorization + "=" + forge(t, h, good)}, "invalid CF_Authorization token: token signature is invalid"},
		{"forged header token", map[string]string{HeaderToken: forge(t, h, good)}, "invalid CF_Authorization token: token signature is invalid"},
		{"garbage cookie", map[string]string{"Cookie": CookieAuthorization + "=abc.def.ghi"}, "invalid CF_Authorization token: token is malformed"},
		{"alg none", map[string]string{HeaderToken: noneToken}, "invalid CF_Authorization token"},
		{"expired", map[string]string{HeaderToken: sign(t, h, with(good, "exp", now.Add(-time.Minute).Unix()))}, "token is expired"},
		{"no exp", map[string]string{HeaderToken: sign(t, h, with(good, "exp", nil))}, "token is missing required claim: exp claim is required"},
		{"not yet valid", map[string]string{HeaderToken: sign(t, h, with(good, "nbf", now.Add(time.Hour).Unix()))}, "token is not valid yet"},
		{"wrong aud", map[string]string{HeaderToken: sign(t, h, with(good, "aud", []string{strings.Repeat("0", 64)}))}, "token has invalid audience"},
		{"wrong iss", map[string]string{HeaderToken: sign(t, h, with(good, "iss", "https://evil.cloudflareaccess.com"))}, "token has invalid issuer"},
		{"org token", map[string]string{HeaderToken: sign(t, h, with(good, "type", "org"))}, `claim type: want "app", got "org"`},
		{"nobody", map[string]string{HeaderToken: sign(t, h, with(good, "common_name", nil))}, "neither a user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.reachedCount()
			resp, body := h.do("GET", "/admin/x", tt.hdr)
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d, want 403: %s", resp.StatusCode, body)
			}
			var got struct{ Reason string }
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("reason = %q, want %q", got.Reason, tt.reason)
			}
			for _, secret := range []string{demoSecret, "wrong-secret-value"} {
				if strings.Contains(string(body), secret) || strings.Contains(resp.Header.Get("Set-Cookie"), secret) {
					t.Errorf("rejection contains a secret: %s", body)
				}
			}
			if v := tt.hdr[HeaderToken]; v != "" && strings.Contains(string(body), v) {
				t.Errorf("rejection echoes the token")
			}
			if resp.Header.Get("Set-Cookie") != "" {
				t.Errorf("a refused request got a cookie")
			}
			if h.reachedCount() != before {
				t.Errorf("the origin was reached")
			}
		})
	}
}

// TestNoInjection: client-supplied assertion, user email and Access
// cookies never reach the origin; other cookies do.
func TestNoInjection(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false)
	hdr := pair()
	hdr[HeaderAssertion] = "forged"
	hdr[HeaderUserEmail] = "ceo@example.com"
	hdr["Cookie"] = "theme=dark; " + CookieAppSession + "=s; lang=en"
	resp, body := h.do("GET", "/admin/x", hdr)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var e echo
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatal(err)
	}
	if a := e.Headers.Get(HeaderAssertion); a == "forged" {
		t.Errorf("forged assertion forwarded")
	} else {
		oidcVerify(t, h, a)
	}
	if e.Headers.Get(HeaderUserEmail) != "" {
		t.Errorf("forged user email forwarded")
	}
	if got := e.Headers.Get("Cookie"); got != "theme=dark; lang=en" {
		t.Errorf("origin cookies = %q, want the non-Access ones", got)
	}
}

func TestTokenReuse(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false)
	resp, body := h.do("GET", "/admin/first", pair())
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var tok string
	for _, c := range resp.Cookies() {
		if c.Name == CookieAuthorization {
			tok = c.Value
		}
	}
	if tok == "" {
		t.Fatal("no CF_Authorization cookie")
	}
	for _, hdr := range []map[string]string{
		{"Cookie": "a=b; " + CookieAuthorization + "=" + tok},
		{HeaderToken: tok},
	} {
		resp, body := h.do("GET", "/admin/again", hdr)
		if resp.StatusCode != 200 {
			t.Fatalf("%v: status %d: %s", hdr, resp.StatusCode, body)
		}
		var e echo
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatal(err)
		}
		if e.Identity.Principal != demoID || e.Headers.Get(HeaderAssertion) != tok {
			t.Errorf("identity %+v, assertion forwarded: %v", e.Identity, e.Headers.Get(HeaderAssertion) == tok)
		}
		if e.Headers.Get(HeaderToken) != "" || strings.Contains(e.Headers.Get("Cookie"), CookieAuthorization) {
			t.Errorf("the client's token was forwarded besides the assertion: %v", e.Headers)
		}
		if resp.Header.Get("Set-Cookie") != "" {
			t.Errorf("token reuse should not mint a new cookie")
		}
	}
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false)
	resp, _ := h.do("GET", "/admin/x", pair())
	tok := resp.Cookies()[0].Value
	if err := h.st.rotate(); err != nil {
		t.Fatal(err)
	}
	if resp, body := h.do("GET", "/admin/x", map[string]string{HeaderToken: tok}); resp.StatusCode != 200 {
		t.Fatalf("token signed with the previous key refused: %s", body)
	}
	oidcVerify(t, h, tok) // the previous key is still published
	if err := h.st.rotate(); err != nil {
		t.Fatal(err)
	}
	resp, body := h.do("GET", "/admin/x", map[string]string{HeaderToken: tok})
	if resp.StatusCode != 403 || !strings.Contains(string(body), "unknown signing key") {
		t.Fatalf("token of a retired key: %d %s", resp.StatusCode, body)
	}
}

func TestMetadata(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false)
	for _, hdr := range []map[string]string{
		{HeaderMetadataRequest: "true"},
		{HeaderMetadataRequest: "true", "CF-Access-Client-Id": demoID, "CF-Access-Client-Secret": demoSecret},
	} {
		resp, _ := h.do("HEAD", "/admin/", hdr)
		raw := resp.Header.Get(HeaderMetadata)
		if raw == "" {
			t.Fatalf("%d: no %s header", resp.StatusCode, HeaderMetadata)
		}
		m, err := stdlibVerify(t.Context(), h.srv.Client(), h.srv.URL+CertsPath, raw, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if m["type"] != "match" || m["hostname"] != "127.0.0.1" || m["aud"] != demoAUD || m["auth_domain"] != "gwcurl-demo.cloudflareaccess.com" {
			t.Errorf("metadata claims = %v", m)
		}
	}
}

func TestCertsDocument(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false)
	resp, body := h.do("GET", CertsPath, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var doc struct {
		Keys []struct {
			Kid, Kty, Alg, Use, N, E string
		}
		PublicCert  struct{ Kid, Cert string }   `json:"public_cert"`
		PublicCerts []struct{ Kid, Cert string } `json:"public_certs"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 2 || len(doc.PublicCerts) != 2 || doc.Keys[0].Kid == doc.Keys[1].Kid {
		t.Fatalf("want current and previous key: %s", body)
	}
	if doc.PublicCert.Kid != doc.Keys[0].Kid || doc.PublicCerts[1].Kid != doc.Keys[1].Kid {
		t.Errorf("public_cert(s) kids do not match keys")
	}
	for i, k := range doc.Keys {
		if k.Kty != "RSA" || k.Alg != "RS256" || k.Use != "sig" || k.E != "AQAB" {
			t.Errorf("key %d = %+v", i, k)
		}
		if !strings.HasPrefix(doc.PublicCerts[i].Cert, "-----BEGIN CERTIFICATE-----") {
			t.Errorf("cert %d is not PEM", i)
		}
	}
	if err := checkCertsMatchKeys(body); err != nil {
		t.Error(err)
	}
}

func TestFactoryErrors(t *testing.T) {
	t.Parallel()
	base := "kind: cf_access\nteam_domain: https://gwcurl-demo.cloudflareaccess.com\naud: " + demoAUD + "\n"
	tests := []struct{ name, src, want string }{
		{"unknown key", base + "audience: x\n", `line 4: unknown key "audience"`},
		{"no team", "aud: " + demoAUD + "\n", "auth.team_domain: missing"},
		{"team not access", "team_domain: https://example.com\naud: " + demoAUD + "\n", "auth.team_domain"},
		{"team http", "team_domain: http://x.cloudflareaccess.com\naud: " + demoAUD + "\n", "auth.team_domain"},
		{"team path", "team_domain: https://x.cloudflareaccess.com/p\naud: " + demoAUD + "\n", "auth.team_domain"},
		{"bad aud", "team_domain: x.cloudflareaccess.com\naud: abc\n", "auth.aud: want the application's AUD tag"},
		{"wrong kind", "kind: jwt\nteam_domain: x.cloudflareaccess.com\naud: " + demoAUD + "\n", `auth.kind is "jwt"`},
		{"tokens not list", base + "service_tokens: {client_id: a}\n", "line 4: auth.service_tokens: want a list"},
		{"token unknown key", base + "service_tokens:\n  - {client_id: a, secret: b}\n", `line 5: unknown key "secret" in auth.service_tokens[]`},
		{"token no secret", base + "service_tokens:\n  - {client_id: a}\n", "service_tokens[0].client_secret is empty"},
		{"token dup", base + "service_tokens:\n  - {client_id: a, client_secret: b}\n  - {client_id: a, client_secret: c}\n", `client_id "a" appears twice`},
		{"bad session", base + "session_duration: forever\n", "session_duration"},
		{"not mapping", "- a\n", "must be a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := &auth.Env{Now: time.Now}
			_, err := Factory(node(t, tt.src), env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	t.Run("same aud, other team", func(t *testing.T) {
		env := &auth.Env{Now: time.Now}
		if _, err := Factory(node(t, base), env); err != nil {
			t.Fatal(err)
		}
		if _, err := Factory(node(t, base), env); err != nil {
			t.Fatalf("a second route of the same app: %v", err)
		}
		_, err := Factory(node(t, "team_domain: other.cloudflareaccess.com\naud: "+demoAUD+"\n"), env)
		if err == nil || !strings.Contains(err.Error(), "already used") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("foreign shared state", func(t *testing.T) {
		env := &auth.Env{Shared: map[string]any{"cf_access": 1}}
		if _, err := Factory(node(t, base), env); err == nil {
			t.Fatal("want an error")
		}
	})
}

// TestConcurrent exercises the lazy key generation and the verifier from
// many goroutines (run with -race).
func TestConcurrent(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			path := CertsPath
			if i%2 == 0 {
				path = "/admin/c"
			}
			req, _ := http.NewRequestWithContext(context.Background(), "GET", h.srv.URL+path, nil)
			req.Header.Set("CF-Access-Client-Id", demoID)
			req.Header.Set("CF-Access-Client-Secret", demoSecret)
			resp, err := h.srv.Client().Do(req)
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- errors.New(resp.Status)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
