package gateway_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
)

// fakeClock is a settable gateway clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func cacheState(t *testing.T, r result) (string, string) {
	t.Helper()
	return r.header.Get("X-Cache"), r.header.Get("Age")
}

// TestDemoCachedRoute: MISS, then HIT with a growing Age, then MISS again
// once the answer is stale.
func TestDemoCachedRoute(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{t: time.Now()}
	s := gatewaytest.StartDemo(t, gateway.Options{Now: clk.now})
	first := do(t, "GET", s.URL+"/cached/cache/60", nil)
	if x, _ := cacheState(t, first); x != "MISS" || first.status != 200 {
		t.Fatalf("first: %d X-Cache %q", first.status, x)
	}
	for _, step := range []struct {
		advance time.Duration
		x, age  string
	}{{0, "HIT", "0"}, {5 * time.Second, "HIT", "5"}, {50 * time.Second, "HIT", "55"}, {10 * time.Second, "MISS", ""}} {
		clk.add(step.advance)
		r := do(t, "GET", s.URL+"/cached/cache/60", nil)
		if x, age := cacheState(t, r); x != step.x || age != step.age {
			t.Errorf("after +%v: X-Cache %q Age %q, want %q %q", step.advance, x, age, step.x, step.age)
		}
		if step.x == "HIT" && string(r.body) != string(first.body) {
			t.Errorf("HIT body differs from the stored answer")
		}
	}
	// builtin:echo's plain answers are no-store: never cached.
	for range 2 {
		if x, _ := cacheState(t, do(t, "GET", s.URL+"/cached/echo", nil)); x != "MISS" {
			t.Errorf("a no-store answer was served from the cache: %q", x)
		}
	}
}

// TestCacheRules: no-store, private, Set-Cookie and no-cache answers are
// not stored; Vary keys by the varied header; HEAD and GET are separate;
// s-maxage wins over max-age; requests with no-store bypass the cache.
func TestCacheRules(t *testing.T) {
	t.Parallel()
	var hits sync.Map // path -> *atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := hits.LoadOrStore(r.URL.Path, new(atomic.Int64))
		c := n.(*atomic.Int64).Add(1)
		h := w.Header()
		switch r.URL.Path {
		case "/nostore":
			h.Set("Cache-Control", "no-store, max-age=60")
		case "/private":
			h.Set("Cache-Control", "private, max-age=60")
		case "/nocache":
			h.Set("Cache-Control", "no-cache, max-age=60")
		case "/cookie":
			h.Set("Cache-Control", "max-age=60")
			h.Set("Set-Cookie", "s=1")
		case "/vary":
			h.Set("Cache-Control", "max-age=60")
			h.Set("Vary", "Accept-Language")
		case "/smax":
			h.Set("Cache-Control", "max-age=1000, s-maxage=10")
		case "/public":
			h.Set("Cache-Control", "public")
		default:
			h.Set("Cache-Control", "max-age=60")
		}
		fmt.Fprintf(w, "%s %s %d", r.URL.Path, r.Header.Get("Accept-Language"), c)
	}))
	t.Cleanup(up.Close)
	clk := &fakeClock{t: time.Now()}
	s := gatewaytest.StartYAML(t, `
routes:
  - prefix: /c
    auth: {kind: none}
    strip_prefix: true
    upstream: `+up.URL+`
    cache: {max_entries: 3, max_body: 64, default_ttl: 30s}
`, gateway.Options{Now: clk.now})
	get := func(path string, hdr ...string) (string, string) {
		r := do(t, "GET", s.URL+"/c"+path, nil, hdr...)
		return r.header.Get("X-Cache"), string(r.body)
	}
	for _, p := range []string{"/nostore", "/private", "/nocache", "/cookie"} {
		get(p)
		if x, body := get(p); x != "MISS" || !strings.HasSuffix(body, " 2") {
			t.Errorf("%s: second GET X-Cache %q body %q: must not be stored", p, x, body)
		}
	}
	get("/vary", "Accept-Language", "fr")
	get("/vary", "Accept-Language", "de")
	if x, body := get("/vary", "Accept-Language", "fr"); x != "HIT" || body != "/vary fr 1" {
		t.Errorf("vary fr: %q %q", x, body)
	}
	if x, body := get("/vary", "Accept-Language", "de"); x != "HIT" || body != "/vary de 2" {
		t.Errorf("vary de: %q %q", x, body)
	}
	if x, _ := get("/vary", "Accept-Language", "fr", "Cache-Control", "no-store"); x != "MISS" {
		t.Errorf("request no-store: %q", x)
	}
	get("/smax")
	clk.add(11 * time.Second)
	if x, _ := get("/smax"); x != "MISS" {
		t.Errorf("s-maxage=10 must win over max-age=1000 in a shared cache: %q after 11s", x)
	}
	get("/public")
	if x, _ := get("/public"); x != "HIT" {
		t.Errorf("public without max-age uses default_ttl: %q", x)
	}
	clk.add(31 * time.Second)
	if x, _ := get("/public"); x != "MISS" {
		t.Errorf("default_ttl 30s: %q after 31s", x)
	}
}

// TestCacheCredentialed: answers to credentialed requests are not stored
// unless the route says cache.authenticated, and then only per principal
// and when the origin allows it (public).
func TestCacheCredentialed(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		fmt.Fprintf(w, "%d", n.Add(1))
	}))
	t.Cleanup(up.Close)
	s := gatewaytest.StartYAML(t, `
routes:
  - prefix: /default
    auth: {kind: jwt, issuer: "${base_url}/_mock/cognito", client_id: gwcurl-demo, token_use: id}
    upstream: `+up.URL+`
    cache: {}
  - prefix: /shared
    auth: {kind: jwt, issuer: "${base_url}/_mock/cognito", client_id: gwcurl-demo, token_use: id}
    upstream: `+up.URL+`
    cache: {authenticated: true}
`, gateway.Options{})
	tok := cognitoToken(t, s)
	for range 2 {
		if r := do(t, "GET", s.URL+"/default/x", nil, "Authorization", "Bearer "+tok); r.header.Get("X-Cache") != "MISS" {
			t.Errorf("credentialed request served from the cache by default: %q", r.header.Get("X-Cache"))
		}
	}
	do(t, "GET", s.URL+"/shared/x", nil, "Authorization", "Bearer "+tok)
	if r := do(t, "GET", s.URL+"/shared/x", nil, "Authorization", "Bearer "+tok); r.header.Get("X-Cache") != "HIT" {
		t.Errorf("authenticated: true: %q", r.header.Get("X-Cache"))
	}
	if r := do(t, "GET", s.URL+"/shared/x", nil); r.status != http.StatusUnauthorized {
		t.Errorf("a HIT skipped authentication: %d", r.status)
	}
}
