package gateway_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
	"github.com/gwcurl/gwcurl/internal/rejectcode"
)

// testKind is a verifier for the frame's tests: "X-Test-Token: good-NAME"
// proves NAME; no token is a 401, another token a 403 with details.
type testKind struct{ calls *atomic.Int64 }

func (k testKind) factory(node *yaml.Node, _ *auth.Env) (auth.Verifier, error) {
	for i := 0; i < len(node.Content); i += 2 {
		if key := node.Content[i].Value; key != "kind" && key != "realm" {
			return nil, fmt.Errorf("%s: unknown key", key)
		}
	}
	return k, nil
}

func (k testKind) Verify(w http.ResponseWriter, r *http.Request) (*auth.Identity, error) {
	k.calls.Add(1)
	tok := r.Header.Get("X-Test-Token")
	if tok == "" {
		rej := auth.Unauthorized(rejectcode.MissingBearer, "no X-Test-Token header").With("hint", "send X-Test-Token: good-NAME")
		rej.Header = http.Header{"Www-Authenticate": {`Test realm="gw"`}}
		return nil, rej
	}
	name, ok := strings.CutPrefix(tok, "good-")
	if !ok {
		return nil, auth.Reject(rejectcode.MalformedToken, "token is not good").With("expected", "good-NAME")
	}
	r.Header.Del("X-Test-Token")
	return &auth.Identity{Kind: "test", Principal: name, Claims: map[string]any{"sub": name}}, nil
}

func testOptions(calls *atomic.Int64) gateway.Options {
	kinds := gateway.DefaultKinds()
	kinds["test"] = testKind{calls: calls}.factory
	return gateway.Options{Kinds: kinds}
}

type result struct {
	status int
	header http.Header
	body   []byte
}

func (r result) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

func do(t *testing.T, method, url string, body io.Reader, hdr ...string) result {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{resp.StatusCode, resp.Header, b}
}

func echoOf(t *testing.T, r result) gateway.EchoResponse {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", r.status, r.body)
	}
	var e gateway.EchoResponse
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("echo answer: %v\n%s", err, r.body)
	}
	return e
}

func TestDemoRoutesAndEchoFormat(t *testing.T) {
	t.Parallel()
	s := gatewaytest.StartDemo(t, gateway.Options{})
	r := do(t, "POST", s.URL+"/public/echo/x?a=1&b=2&b=3", strings.NewReader(`{"name":"widget"}`), "Content-Type", "application/json")
	e := echoOf(t, r)
	if e.Method != "POST" || e.Path != "/echo/x" || e.RawQuery != "a=1&b=2&b=3" {
		t.Errorf("method/path/query = %s %s %s", e.Method, e.Path, e.RawQuery)
	}
	if e.Query["a"] != "1" || fmt.Sprint(e.Query["b"]) != "[2 3]" {
		t.Errorf("query = %v", e.Query)
	}
	if sum := sha256.Sum256([]byte(`{"name":"widget"}`)); e.Body != `{"name":"widget"}` || e.BodyBase64 || e.BodySHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("body = %q base64=%v sha=%s", e.Body, e.BodyBase64, e.BodySHA256)
	}
	if string(e.JSON) != `{"name":"widget"}` {
		t.Errorf("json = %s", e.JSON)
	}
	if e.Identity == nil || e.Identity.Kind != "none" || e.Identity.Principal != "anonymous" {
		t.Errorf("identity = %+v", e.Identity)
	}
	if e.Route != "/public" || e.RequestID == "" || e.RequestID != r.header.Get("X-Request-Id") {
		t.Errorf("route %q request id %q (header %q)", e.Route, e.RequestID, r.header.Get("X-Request-Id"))
	}
	if e.Headers["X-Gateway"] != "gwcurl-demo" {
		t.Errorf("injected header missing: %v", e.Headers)
	}

	// Binary bodies come back as base64.
	e = echoOf(t, do(t, "PUT", s.URL+"/public", bytes.NewReader([]byte{0xff, 0x00, 0xfe})))
	if !e.BodyBase64 || e.Body != "/wD+" || e.Path != "/" {
		t.Errorf("binary echo: body %q base64 %v path %q", e.Body, e.BodyBase64, e.Path)
	}

	// Every demo route exists; the ones whose kind has not landed answer 403.
	want := map[string]string{"/public": "none", "/aws": "sigv4", "/sts": "sts_identity", "/run": "google_id",
		"/admin": "cf_access", "/app": "jwt", "/magic": "jwt", "/limited": "none", "/down": "none", "/ws": "sigv4",
		"/edge": "jwt", "/edge-run": "jwt", "/cached": "none"}
	got := map[string]string{}
	for _, ri := range s.Gateway.Routes() {
		got[ri.Prefix] = ri.Auth
		if ri.Prefix == "/ws" && ri.Upstream != "builtin:ws-echo" {
			t.Errorf("route /ws: %+v", ri)
		}
		if ri.OriginAuth != "" {
			if !strings.HasPrefix(ri.Upstream, s.URL+"/") {
				t.Errorf("route %s signs toward %s, not the gateway itself", ri.Prefix, ri.Upstream)
			}
			continue
		}
		if ri.Prefix != "/down" && ri.Prefix != "/ws" && (ri.Upstream != "builtin:echo" || ri.Paths["/items"] != "builtin:items" || ri.StripPrefix != ri.Prefix) {
			t.Errorf("route %s: %+v", ri.Prefix, ri)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("routes = %v, want %v", got, want)
	}
}

func TestEchoStatusAndDelay(t *testing.T) {
	t.Parallel()
	s := gatewaytest.StartDemo(t, gateway.Options{})
	r := do(t, "GET", s.URL+"/public/status/503", nil)
	if r.status != 503 || r.json(t)["status"] != float64(503) {
		t.Errorf("status path: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", s.URL+"/public/status/99", nil); r.status != 400 {
		t.Errorf("bad status path: %d", r.status)
	}
	start := time.Now()
	if r := do(t, "GET", s.URL+"/public/delay/150ms", nil); r.status != 200 || time.Since(start) < 150*time.Millisecond {
		t.Errorf("delay: %d after %s", r.status, time.Since(start))
	}
}

func TestUnknownPathIsJSON404(t *testing.T) {
	t.Parallel()
	s := gatewaytest.StartDemo(t, gateway.Options{})
	for _, p := range []string{"/nope", "/publicx", "/_mock/nothing", "/PUBLIC"} {
		r := do(t, "GET", s.URL+p, nil)
		if r.status != 404 || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %s", p, r.status, r.header.Get("Content-Type"))
			continue
		}
		if m := r.json(t); m["error"] != "Not Found" || !strings.Contains(fmt.Sprint(m["reason"]), p) {
			t.Errorf("%s: %s", p, r.body)
		}
	}
}

func TestIndexPageListsRoutes(t *testing.T) {
	t.Parallel()
	s := gatewaytest.StartDemo(t, gateway.Options{})
	r := do(t, "GET", s.URL+"/", nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("index: %d %s", r.status, r.header.Get("Content-Type"))
	}
	page := string(r.body)
	for _, want := range []string{"<code>/aws</code>", "<code>/run</code>", "<code>sigv4</code>", "<code>google_id</code>", "builtin:items", "5 req/s per client, burst 10"} {
		if !strings.Contains(page, want) {
			t.Errorf("index page lacks %q", want)
		}
	}
	if r.header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(r.header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("index security headers: %v", r.header)
	}
	if r := do(t, "POST", s.URL+"/", nil); r.status != 405 {
		t.Errorf("POST /: %d", r.status)
	}
}

func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "origin-value")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("X-Origin", "yes")
		_, _ = io.WriteString(w, "from origin")
	}))
	defer up.Close()
	s := gatewaytest.StartYAML(t, `
cors: {allow_origins: [http://localhost:3000]}
routes:
  - {prefix: /up, auth: {kind: none}, upstream: "`+up.URL+`"}
  - {prefix: /e, auth: {kind: none}, upstream: builtin:echo}
  - {prefix: /t, auth: {kind: test}, upstream: builtin:echo}
`, testOptions(new(atomic.Int64)))
	for _, p := range []string{"/up/x", "/e", "/t", "/nope", "/"} {
		r := do(t, "GET", s.URL+p, nil)
		if v := r.header.Values("X-Content-Type-Options"); len(v) != 1 || v[0] != "nosniff" {
			t.Errorf("%s (%d): X-Content-Type-Options = %q", p, r.status, v)
		}
		for _, h := range []string{"Strict-Transport-Security", "X-Frame-Options", "Referrer-Policy", "Content-Security-Policy", "X-Request-Id"} {
			if r.header.Get(h) == "" {
				t.Errorf("%s: no %s", p, h)
			}
		}
	}
	r := do(t, "GET", s.URL+"/up/x", nil)
	if string(r.body) != "from origin" || r.header.Get("X-Origin") != "yes" || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("proxied answer: %s %v", r.body, r.header)
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	s := gatewaytest.StartDemo(t, gateway.Options{})
	const good, bad = "http://localhost:3000", "http://evil.example"

	t.Run("allowed origin", func(t *testing.T) {
		r := do(t, "GET", s.URL+"/public/echo", nil, "Origin", good)
		if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != good || r.header.Get("Access-Control-Allow-Credentials") != "true" {
			t.Errorf("%d %v", r.status, r.header)
		}
		if !strings.Contains(r.header.Get("Vary"), "Origin") || !strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "X-Request-Id") {
			t.Errorf("vary/expose: %v", r.header)
		}
	})
	t.Run("refused origin", func(t *testing.T) {
		r := do(t, "GET", s.URL+"/public/echo", nil, "Origin", bad)
		if r.status != 403 || r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%d %v", r.status, r.header)
		}
		if m := r.json(t); !strings.Contains(fmt.Sprint(m["reason"]), "origin "+bad+" is not allowed") {
			t.Errorf("reason: %s", r.body)
		}
		// Near misses of the allowlist are refused too: it is exact.
		for _, o := range []string{"http://localhost:3000/", "http://localhost:30000", "https://localhost:3000", "http://LOCALHOST:3000", "null"} {
			if r := do(t, "GET", s.URL+"/public/echo", nil, "Origin", o); r.status != 403 {
				t.Errorf("origin %q: %d", o, r.status)
			}
		}
	})
	t.Run("CORS headers on the gateway's own 401/403, 404 and 429", func(t *testing.T) {
		// /aws with no credential: refused by the sigv4 verifier (or by
		// its placeholder until it lands).
		r := do(t, "GET", s.URL+"/aws/x", nil, "Origin", good)
		if (r.status != 403 && r.status != 401) || r.header.Get("Access-Control-Allow-Origin") != good {
			t.Errorf("403: %d %v", r.status, r.header)
		}
		if r := do(t, "GET", s.URL+"/nope", nil, "Origin", good); r.status != 404 || r.header.Get("Access-Control-Allow-Origin") != good {
			t.Errorf("404: %d %v", r.status, r.header)
		}
		// Until the limit answers (burst 10 at 5 rps): on a slow machine
		// twelve requests can span a refill, so the count is not fixed.
		var last result
		for i := 0; i < 60 && last.status != 429; i++ {
			last = do(t, "GET", s.URL+"/limited/x", nil, "Origin", good)
		}
		if last.status != 429 || last.header.Get("Access-Control-Allow-Origin") != good {
			t.Errorf("429: %d %v", last.status, last.header)
		}
	})
	t.Run("preflight", func(t *testing.T) {
		r := do(t, "OPTIONS", s.URL+"/aws/items", nil, "Origin", good, "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "authorization, x-amz-date,content-type")
		if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != good ||
			!strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "POST") ||
			!strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "X-Amz-Date") ||
			r.header.Get("Access-Control-Max-Age") != "600" {
			t.Errorf("preflight: %d %v", r.status, r.header)
		}
		for name, hdr := range map[string][]string{
			"refused origin": {"Origin", bad, "Access-Control-Request-Method", "GET"},
			"bad method":     {"Origin", good, "Access-Control-Request-Method", "TRACE"},
			"bad header":     {"Origin", good, "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "x-evil"},
			"no origin":      {"Access-Control-Request-Method", "GET"},
		} {
			r := do(t, "OPTIONS", s.URL+"/public/echo", nil, hdr...)
			if r.status != 403 || r.json(t)["reason"] == nil {
				t.Errorf("%s: %d %s", name, r.status, r.body)
			}
		}
	})
}

func TestBodyLimit413BeforeReading(t *testing.T) {
	t.Parallel()
	calls := new(atomic.Int64)
	s := gatewaytest.StartYAML(t, `
body_limit: 10MiB
routes:
  - {prefix: /public, auth: {kind: none}, strip_prefix: true, upstream: builtin:echo}
  - {prefix: /t, auth: {kind: test}, upstream: builtin:echo}
  - {prefix: /small, auth: {kind: none}, upstream: builtin:echo, body_limit: 1KiB}
`, testOptions(calls))
	addr := strings.TrimPrefix(s.URL, "http://")

	// Declare an 11 MiB body and send none of it: the answer must come back
	// at once, which proves the gateway (and the verifier) did not wait for
	// the body. With Expect: 100-continue, it must not invite the body.
	for _, tc := range []struct{ path, expect string }{{"/public/echo", ""}, {"/t/x", ""}, {"/t/x", "100-continue"}} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		req := "POST " + tc.path + " HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/octet-stream\r\nContent-Length: 11534336\r\n"
		if tc.expect != "" {
			req += "Expect: " + tc.expect + "\r\n"
		}
		if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: no answer before the body was sent: %v", tc.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		conn.Close()
		if resp.StatusCode != 413 || !strings.Contains(string(body), "larger than the limit of 10 MiB") {
			t.Errorf("%s: %d %s", tc.path, resp.StatusCode, body)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("verifier ran %d times on a body over the limit", n)
	}

	// A body of unknown length (chunked) is cut at the limit.
	big := io.MultiReader(strings.NewReader(strings.Repeat("x", 2048)))
	req, _ := http.NewRequest("POST", s.URL+"/small", io.NopCloser(big))
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || !strings.Contains(string(b), "1 KiB") {
		t.Errorf("chunked over limit: %d %s", resp.StatusCode, b)
	}
	// At the limit is fine.
	if r := do(t, "POST", s.URL+"/small", strings.NewReader(strings.Repeat("y", 1024))); r.status != 200 {
		t.Errorf("body at the limit: %d %s", r.status, r.body)
	}
	if got := s.Gateway.Requests(); got[0].Decision != "too_large" || got[0].Status != 413 {
		t.Errorf("log: %+v", got[0])
	}
}

func TestRateLimitPerClient(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := gatewaytest.StartDemo(t, gateway.Options{Now: clock})
	statuses := ""
	var last result
	for range 12 {
		last = do(t, "GET", s.URL+"/limited/x", nil)
		statuses += fmt.Sprint(last.status, " ")
	}
	if want := strings.Repeat("200 ", 10) + "429 429 "; statuses != want {
		t.Errorf("burst statuses = %s, want %s", statuses, want)
	}
	if last.header.Get("Retry-After") != "1" || last.json(t)["error"] != "Too Many Requests" {
		t.Errorf("429: %v %s", last.header, last.body)
	}
	// Other routes are not limited.
	if r := do(t, "GET", s.URL+"/public/x", nil); r.status != 200 {
		t.Errorf("/public: %d", r.status)
	}
	// One second later, five more tokens.
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	statuses = ""
	for range 6 {
		statuses += fmt.Sprint(do(t, "GET", s.URL+"/limited/x", nil).status, " ")
	}
	if want := strings.Repeat("200 ", 5) + "429 "; statuses != want {
		t.Errorf("after 1s: %s, want %s", statuses, want)
	}
}

func TestUpstreamFailures(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	entered := make(chan struct{}, 8)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	var once sync.Once
	releaseAll := func() { once.Do(func() { close(release) }) }
	defer releaseAll()
	s := gatewaytest.StartYAML(t, `
routes:
  - {prefix: /down, auth: {kind: none}, upstream: "http://127.0.0.1:1"}
  - {prefix: /slow, auth: {kind: none}, upstream: "`+slow.URL+`", timeout: 200ms}
  - {prefix: /busy, auth: {kind: none}, upstream: "`+slow.URL+`", max_in_flight: 1}
  - {prefix: /quiet, auth: {kind: none}, upstream: "http://127.0.0.1:1", explain: false}
`, gateway.Options{})

	r := do(t, "GET", s.URL+"/down/x", nil)
	if r.status != 502 || r.header.Get("Content-Type") != "application/json" || r.json(t)["error"] != "Bad Gateway" ||
		!strings.Contains(fmt.Sprint(r.json(t)["reason"]), "refused") {
		t.Errorf("/down: %d %s", r.status, r.body)
	}
	r = do(t, "GET", s.URL+"/slow/x", nil)
	if r.status != 504 || r.json(t)["error"] != "Gateway Timeout" {
		t.Errorf("/slow: %d %s", r.status, r.body)
	}
	r = do(t, "GET", s.URL+"/quiet/x", nil)
	if r.status != 502 || r.json(t)["reason"] != nil {
		t.Errorf("/quiet hides upstream details: %d %s", r.status, r.body)
	}

	// max_in_flight: 1 — a second concurrent request is 503.
	for len(entered) > 0 {
		<-entered
	}
	first := make(chan result, 1)
	go func() { first <- do(t, "GET", s.URL+"/busy/a", nil) }()
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("first /busy request never reached the origin")
	}
	busy := do(t, "GET", s.URL+"/busy/b", nil)
	if busy.status != 503 || busy.header.Get("Retry-After") != "1" || busy.json(t)["error"] != "Service Unavailable" {
		t.Errorf("/busy: %d %v %s", busy.status, busy.header, busy.body)
	}
	releaseAll()
	if r := <-first; r.status != 200 {
		t.Errorf("first /busy: %d", r.status)
	}
}

func TestHeaderSanitization(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got http.Header
	var gotHost string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got, gotHost = r.Header.Clone(), r.Host
		mu.Unlock()
	}))
	defer up.Close()
	s := gatewaytest.StartYAML(t, `
headers: {X-Service: svc-a}
hosts: [evil.example]
routes:
  - prefix: /up
    auth: {kind: test}
    upstream: "`+up.URL+`"
    headers: {X-Route: r1}
  - {prefix: /open, auth: {kind: none}, upstream: "`+up.URL+`"}
  - {prefix: /echo, auth: {kind: none}, upstream: builtin:echo}
`, testOptions(new(atomic.Int64)))

	injected := []string{
		"Cf-Access-Jwt-Assertion", "forged.jwt.value",
		"Cf-Access-Authenticated-User-Email", "boss@example.com",
		"Cf-Access-Client-Id", "id", "Cf-Access-Client-Secret", "secret", "Cf-Access-Token", "tok",
		"X-Forwarded-For", "6.6.6.6", "X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https",
		"X_Forwarded_For", "7.7.7.7", "Forwarded", "for=6.6.6.6", "X-Real-Ip", "6.6.6.6",
		"True-Client-Ip", "6.6.6.6", "Cf-Connecting-Ip", "6.6.6.6",
		"X-Gateway-Identity", `{"kind":"test","principal":"admin"}`,
		"X-Amzn-Oidc-Identity", "admin", "X-User-Email", "boss@example.com", "X-Auth-Request-User", "admin",
		"X-Goog-Authenticated-User-Email", "boss@example.com", "X-Serverless-Authorization", "Bearer x",
		"X-Request-Id", "chosen-by-client",
		"Cookie", "CF_Authorization=jwt; keep=1; CF_AppSession=s",
		"Host", "evil.example",
		"X-Test-Token", "good-alice",
		"X-Ordinary", "kept",
	}
	r := do(t, "GET", s.URL+"/up/x", nil, injected...)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	mu.Lock()
	h, host := got, gotHost
	mu.Unlock()
	for k := range h {
		lk := strings.ToLower(strings.ReplaceAll(k, "_", "-"))
		if strings.HasPrefix(lk, "cf-") || strings.HasPrefix(lk, "x-amzn") || strings.HasPrefix(lk, "x-user") ||
			strings.HasPrefix(lk, "x-auth") || strings.HasPrefix(lk, "x-goog") || lk == "forwarded" || lk == "x-real-ip" ||
			lk == "true-client-ip" || lk == "x-serverless-authorization" || lk == "x-test-token" {
			t.Errorf("origin received client-supplied %s: %q", k, h[k])
		}
	}
	if v := h.Values("X-Forwarded-For"); len(v) != 1 || v[0] != "127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q, want the gateway's own 127.0.0.1", v)
	}
	if h.Get("X-Forwarded-Host") != "evil.example" && h.Get("X-Forwarded-Host") == "" {
		t.Errorf("X-Forwarded-Host = %q", h.Get("X-Forwarded-Host"))
	}
	if h.Get("X-Forwarded-Proto") != "http" {
		t.Errorf("X-Forwarded-Proto = %q", h.Get("X-Forwarded-Proto"))
	}
	if host != strings.TrimPrefix(up.URL, "http://") {
		t.Errorf("origin Host = %q, want the upstream's own", host)
	}
	var id auth.Identity
	if err := json.Unmarshal([]byte(h.Get("X-Gateway-Identity")), &id); err != nil || id.Principal != "alice" || id.Kind != "test" {
		t.Errorf("X-Gateway-Identity = %q (%v)", h.Get("X-Gateway-Identity"), err)
	}
	if h.Get("Cookie") != "keep=1" {
		t.Errorf("Cookie = %q", h.Get("Cookie"))
	}
	if h.Get("X-Service") != "svc-a" || h.Get("X-Route") != "r1" || h.Get("X-Ordinary") != "kept" {
		t.Errorf("injected/ordinary headers: %v", h)
	}
	if h.Get("X-Request-Id") == "chosen-by-client" || h.Get("X-Request-Id") != r.header.Get("X-Request-Id") {
		t.Errorf("X-Request-Id to origin %q, to client %q", h.Get("X-Request-Id"), r.header.Get("X-Request-Id"))
	}

	// A forged identity on a public route is replaced by the real one.
	do(t, "GET", s.URL+"/open", nil, "X-Gateway-Identity", `{"kind":"test","principal":"admin"}`, "Cf-Access-Jwt-Assertion", "x")
	mu.Lock()
	h = got
	mu.Unlock()
	if h.Get("X-Gateway-Identity") != `{"kind":"none","principal":"anonymous"}` || h.Get("Cf-Access-Jwt-Assertion") != "" {
		t.Errorf("public route forwarded %v", h)
	}

	// builtin:echo shows the same view.
	e := echoOf(t, do(t, "GET", s.URL+"/echo", nil, "X-Forwarded-For", "6.6.6.6", "Cf-Access-Jwt-Assertion", "x"))
	if e.Headers["X-Forwarded-For"] != "127.0.0.1" || e.Headers["Cf-Access-Jwt-Assertion"] != "" {
		t.Errorf("echo headers: %v", e.Headers)
	}
}

func TestVerifierIdentityAndRejections(t *testing.T) {
	t.Parallel()
	s := gatewaytest.StartYAML(t, `
routes:
  - {prefix: /t, auth: {kind: test, realm: a}, upstream: builtin:echo, strip_prefix: true}
  - {prefix: /q, auth: {kind: test}, upstream: builtin:echo, explain: false}
`, testOptions(new(atomic.Int64)))

	e := echoOf(t, do(t, "GET", s.URL+"/t/who", nil, "X-Test-Token", "good-alice"))
	if e.Identity == nil || e.Identity.Kind != "test" || e.Identity.Principal != "alice" || e.Identity.Claims["sub"] != "alice" {
		t.Errorf("identity = %+v", e.Identity)
	}
	if _, ok := e.Headers["X-Test-Token"]; ok {
		t.Errorf("consumed credential reached the origin")
	}

	r := do(t, "GET", s.URL+"/t/who", nil)
	m := r.json(t)
	if r.status != 401 || m["error"] != "Unauthorized" || m["reason"] != "no X-Test-Token header" || m["hint"] != "send X-Test-Token: good-NAME" ||
		r.header.Get("Www-Authenticate") != `Test realm="gw"` {
		t.Errorf("401: %d %v %s", r.status, r.header, r.body)
	}
	r = do(t, "GET", s.URL+"/t/who", nil, "X-Test-Token", "bad")
	if m := r.json(t); r.status != 403 || m["reason"] != "token is not good" || m["expected"] != "good-NAME" {
		t.Errorf("403: %d %s", r.status, r.body)
	}
	// explain: false answers only the status.
	r = do(t, "GET", s.URL+"/q", nil, "X-Test-Token", "bad")
	if r.status != 403 || strings.TrimSpace(string(r.body)) != `{"error":"Forbidden"}` {
		t.Errorf("explain false: %d %s", r.status, r.body)
	}
	// The log keeps the reason even when the answer does not.
	var deny []gateway.LogEntry
	for _, e := range s.Gateway.Requests() {
		if e.Decision == "deny" {
			deny = append(deny, e)
		}
	}
	if len(deny) != 3 || deny[2].Reason != "token is not good" || deny[2].Route != "/q" || deny[2].Auth != "test" {
		t.Errorf("deny log: %+v", deny)
	}
}

func TestMethodsStripPrefixAndPaths(t *testing.T) {
	t.Parallel()
	s := gatewaytest.StartYAML(t, `
routes:
  - prefix: /v1/things
    auth: none
    methods: [GET, POST]
    strip_prefix: /v1
    upstream: builtin:echo
    paths: {/things/items: builtin:items}
  - {prefix: /v1, auth: {kind: none}, upstream: builtin:echo}
  - {prefix: /raw, auth: {kind: none}, strip_prefix: true, upstream: builtin:echo}
`, gateway.Options{})
	e := echoOf(t, do(t, "GET", s.URL+"/v1/things/a", nil))
	if e.Path != "/things/a" || e.Route != "/v1/things" {
		t.Errorf("strip /v1: path %q route %q", e.Path, e.Route)
	}
	if r := do(t, "HEAD", s.URL+"/v1/things", nil); r.status != 200 || len(r.body) != 0 {
		t.Errorf("HEAD (allowed by GET): %d %q", r.status, r.body)
	}
	r := do(t, "DELETE", s.URL+"/v1/things/a", nil)
	if r.status != 405 || r.header.Get("Allow") != "GET, HEAD, POST" {
		t.Errorf("405: %d %v", r.status, r.header)
	}
	if e := echoOf(t, do(t, "DELETE", s.URL+"/v1/other", nil)); e.Path != "/v1/other" || e.Route != "/v1" {
		t.Errorf("longest prefix: %+v", e)
	}
	// Escaped paths keep their escaping after stripping.
	if e := echoOf(t, do(t, "GET", s.URL+"/raw/a%2Fb/c", nil)); e.Path != "/a/b/c" {
		t.Errorf("escaped path = %q", e.Path)
	}
	r = do(t, "POST", s.URL+"/v1/things/items", strings.NewReader(`{"n":1}`), "Content-Type", "application/json")
	if r.status != 201 || r.header.Get("Location") != "/v1/things/items/1" {
		t.Errorf("items via paths: %d %v %s", r.status, r.header, r.body)
	}
}

func TestItems(t *testing.T) {
	t.Parallel()
	s := gatewaytest.StartDemo(t, gateway.Options{Now: func() time.Time { return time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC) }})
	base := s.URL + "/public/items"
	r := do(t, "POST", base, strings.NewReader(`{"name":"widget"}`), "Content-Type", "application/json")
	m := r.json(t)
	if r.status != 201 || m["id"] != "1" || m["name"] != "widget" || m["created_at"] != "2026-05-06T07:08:09Z" || m["created_by"] != "anonymous" ||
		r.header.Get("Location") != "/public/items/1" {
		t.Fatalf("POST: %d %v %s", r.status, r.header, r.body)
	}
	if r := do(t, "GET", base+"/1", nil); r.status != 200 || r.json(t)["name"] != "widget" {
		t.Errorf("GET one: %d %s", r.status, r.body)
	}
	if r := do(t, "PUT", base+"/1", strings.NewReader(`{"name":"gadget"}`)); r.status != 200 || r.json(t)["name"] != "gadget" || r.json(t)["created_by"] != "anonymous" {
		t.Errorf("PUT: %d %s", r.status, r.body)
	}
	for _, tc := range []struct {
		method, url, body string
		status            int
	}{
		{"POST", base, `[1,2]`, 400},
		{"POST", base, `nope`, 400},
		{"GET", base + "/9", "", 404},
		{"PATCH", base, "", 405},
		{"DELETE", base + "/1", "", 204},
		{"DELETE", base + "/1", "", 404},
	} {
		if r := do(t, tc.method, tc.url, strings.NewReader(tc.body)); r.status != tc.status {
			t.Errorf("%s %s: %d, want %d: %s", tc.method, tc.url, r.status, tc.status, r.body)
		}
	}
	// Each route has its own store.
	if r := do(t, "GET", s.URL+"/limited/items", nil); string(bytes.TrimSpace(r.body)) != "[]" {
		t.Errorf("other route's store: %s", r.body)
	}
}

func TestItemsConcurrent(t *testing.T) {
	t.Parallel()
	s := gatewaytest.StartDemo(t, gateway.Options{})
	const workers, each = 16, 20
	var wg sync.WaitGroup
	ids := make(chan string, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				req, _ := http.NewRequest("POST", s.URL+"/public/items", strings.NewReader(fmt.Sprintf(`{"w":%d,"i":%d}`, w, i)))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				var m map[string]any
				_ = json.NewDecoder(resp.Body).Decode(&m)
				resp.Body.Close()
				ids <- fmt.Sprint(m["id"])
				if i%5 == 0 {
					do(t, "GET", s.URL+"/public/items", nil)
				}
			}
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		if seen[id] {
			t.Errorf("duplicate id %s", id)
		}
		seen[id] = true
	}
	var list []map[string]any
	if err := json.Unmarshal(do(t, "GET", s.URL+"/public/items", nil).body, &list); err != nil || len(list) != workers*each {
		t.Errorf("list has %d items (%v), want %d", len(list), err, workers*each)
	}
}

func TestMocksAreMounted(t *testing.T) {
	t.Parallel()
	var seenNode *yaml.Node
	mocks := []auth.MockFactory{func(env *auth.Env) ([]auth.Mock, error) {
		seenNode, _ = env.Shared["mock:test"].(*yaml.Node)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "mock:"+r.URL.Path)
		})
		return []auth.Mock{{Prefix: "/_mock/test/", Handler: h}, {Prefix: "/computeMetadata/", Handler: h}}, nil
	}}
	s := gatewaytest.StartYAML(t, `
mocks:
  test: {issuer: "${base_url}/_mock/test"}
routes:
  - {prefix: /public, auth: {kind: none}, upstream: builtin:echo}
`, gateway.Options{Mocks: mocks})
	for _, p := range []string{"/_mock/test/token", "/_mock/test", "/computeMetadata/v1/instance/service-accounts/default/identity"} {
		if r := do(t, "GET", s.URL+p, nil); r.status != 200 || string(r.body) != "mock:"+p || r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d %q", p, r.status, r.body)
		}
	}
	if seenNode == nil || scalar(seenNode, "issuer") != s.URL+"/_mock/test" {
		t.Errorf("mock config node = %v", seenNode)
	}
	if got := s.Gateway.MockPrefixes(); fmt.Sprint(got) != "[/_mock/test/ /computeMetadata/]" {
		t.Errorf("MockPrefixes = %v", got)
	}
	if r := do(t, "GET", s.URL+"/", nil); !strings.Contains(string(r.body), "/computeMetadata/") {
		t.Errorf("index lacks the mocks")
	}

	// A mock may not shadow a route or the gateway's own endpoints.
	for _, prefix := range []string{"/public/x/", "/_mock/requests", "/_mock/"} {
		cfg, _ := gateway.ParseConfig("t.yaml", []byte("routes: [{prefix: /public, auth: none, upstream: builtin:echo}]"), "")
		_, err := gateway.New(cfg, gateway.Options{Mocks: []auth.MockFactory{func(*auth.Env) ([]auth.Mock, error) {
			return []auth.Mock{{Prefix: prefix, Handler: http.NotFoundHandler()}}, nil
		}}})
		if err == nil {
			t.Errorf("mock at %s accepted", prefix)
		}
	}
}

func scalar(n *yaml.Node, key string) string {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1].Value
		}
	}
	return ""
}

func TestRequestLog(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	cfg, err := gateway.DemoConfig("")
	if err != nil {
		t.Fatal(err)
	}
	s := gatewaytest.Start(t, cfg, gateway.Options{Log: &buf})
	do(t, "GET", s.URL+"/public/a", nil)
	do(t, "GET", s.URL+"/aws/b", nil)
	do(t, "GET", s.URL+"/nope\u2028", nil)
	do(t, "GET", s.URL+"/public/c", nil, "Origin", "http://evil.example")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("log has %d lines:\n%s", len(lines), buf.String())
	}
	var entries []gateway.LogEntry
	for _, l := range lines {
		var e gateway.LogEntry
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("log line is not JSON: %v\n%s", err, l)
		}
		entries = append(entries, e)
	}
	want := []struct{ decision, route string }{{"allow", "/public"}, {"deny", "/aws"}, {"no_route", ""}, {"cors_refused", ""}}
	for i, w := range want {
		if entries[i].Decision != w.decision || entries[i].Route != w.route || entries[i].ID == "" || entries[i].Client != "127.0.0.1" {
			t.Errorf("entry %d = %+v, want %+v", i, entries[i], w)
		}
	}
	if entries[1].Reason == "" || entries[1].Auth != "sigv4" || entries[0].Principal != "anonymous" {
		t.Errorf("reason/principal: %+v %+v", entries[1], entries[0])
	}

	var served []gateway.LogEntry
	r := do(t, "GET", s.URL+"/_mock/requests?route=/aws", nil)
	if err := json.Unmarshal(r.body, &served); err != nil || len(served) != 1 || served[0].Decision != "deny" {
		t.Errorf("/_mock/requests?route=/aws: %s", r.body)
	}
	r = do(t, "GET", s.URL+"/_mock/requests?limit=2", nil)
	if err := json.Unmarshal(r.body, &served); err != nil || len(served) != 2 || served[1].Decision != "cors_refused" {
		t.Errorf("/_mock/requests?limit=2: %s", r.body)
	}
	if r := do(t, "DELETE", s.URL+"/_mock/requests", nil); r.status != 204 {
		t.Errorf("DELETE: %d", r.status)
	}
	if r := do(t, "GET", s.URL+"/_mock/requests", nil); strings.TrimSpace(string(r.body)) != "[]" {
		t.Errorf("after DELETE: %s", r.body)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestQuietEnvironment(t *testing.T) {
	t.Parallel()
	cfg, err := gateway.DemoConfig("quiet")
	if err != nil {
		t.Fatal(err)
	}
	s := gatewaytest.Start(t, cfg, gateway.Options{})
	r := do(t, "GET", s.URL+"/aws/x", nil)
	if m := r.json(t); r.status < 400 || len(m) != 1 || m["error"] != http.StatusText(r.status) {
		t.Errorf("quiet: %d %s", r.status, r.body)
	}
}

func TestListen(t *testing.T) {
	t.Parallel()
	cfg, err := gateway.DemoConfig("")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := gateway.Listen("", cfg, gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Errorf("URL = %s", srv.URL)
	}
	if r := do(t, "GET", srv.URL+"/public/x", nil); r.status != 200 {
		t.Errorf("%d", r.status)
	}
	if err := srv.Close(); err != nil {
		t.Error(err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestGoBuiltConfigIsChecked(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]*gateway.Config{
		"no auth":   {Routes: []gateway.Route{{Prefix: "/a", Upstream: "builtin:echo"}}},
		"no prefix": {Routes: []gateway.Route{{Prefix: "", Upstream: "builtin:echo"}}},
		"reserved":  {Routes: []gateway.Route{{Prefix: "/_mock", Upstream: "builtin:echo"}}},
	} {
		if _, err := gateway.New(cfg, gateway.Options{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := gateway.New(nil, gateway.Options{}); err == nil {
		t.Error("nil config accepted")
	}
}

func TestAbortedUpstreamBodyIsLogged(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(200)
		_, _ = io.WriteString(w, "only a part")
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer up.Close()
	s := gatewaytest.StartYAML(t, "routes:\n  - {prefix: /up, auth: none, upstream: '"+up.URL+"'}\n", gateway.Options{})
	resp, err := http.Get(s.URL + "/up/x")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("a truncated upstream body reached the client as complete")
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range s.Gateway.Requests() {
			if e.Path == "/up/x" {
				if e.Decision != "aborted" || e.Status != 200 {
					t.Errorf("log entry %+v", e)
				}
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Error("the aborted request was not logged")
}

func TestDotSegmentsRefused(t *testing.T) {
	srv := gatewaytest.StartDemo(t, gateway.Options{})
	for _, p := range []string{"/public/../aws/echo", "/public/./echo", "/public/%2e%2e/aws/echo", "/public/..",
		// Spellings that origins resolve as dot segments or separators.
		"/public/..;/aws/echo", "/public/..%3B/aws/echo", "/public/..;jsessionid=x/aws/echo", "/public/.;/echo",
		`/public/..\aws/echo`, "/public/..%5Caws/echo", "/public/..%5caws/echo", `/public\echo`,
		"/public/..%252Faws/echo", "/public/%252E%252E/aws/echo", "/public%2F..%2Faws/echo", "/public/..%255Caws/echo",
	} {
		req, _ := http.NewRequest("GET", srv.URL+"/", nil)
		req.URL.Opaque = p // send the path as is
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "path has") {
			t.Errorf("GET %s = %d %s, want 400 naming the path", p, resp.StatusCode, body)
		}
	}
	// Ordinary escapes still pass: an encoded slash inside a segment, a
	// semicolon in a normal segment, a dot inside a name.
	for _, p := range []string{"/public/echo/a%2Fb", "/public/echo/a;b", "/public/echo/..x", "/public/echo/%2e%2ex"} {
		req, _ := http.NewRequest("GET", srv.URL+"/", nil)
		req.URL.Opaque = p
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", p, resp.StatusCode)
		}
	}
}

// A form on the gateway's own pages posts with its own Origin: that is not a
// cross-origin request and must not be refused.
func TestSameOriginPostIsNotCORS(t *testing.T) {
	srv := gatewaytest.StartDemo(t, gateway.Options{})
	req, _ := http.NewRequest("POST", srv.URL+"/public/echo", strings.NewReader("a=b"))
	req.Header.Set("Origin", srv.URL)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("same-origin POST: %d, ACAO %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	req, _ = http.NewRequest("POST", srv.URL+"/public/echo", strings.NewReader("a=b"))
	req.Header.Set("Origin", "http://evil.example")
	resp, err = srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: %d, want 403", resp.StatusCode)
	}
}
