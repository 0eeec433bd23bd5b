package gateway_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
)

// startRedis runs a real redis-server (Debian's) on a free loopback port,
// without persistence, for the duration of the test; it returns its URL.
// Outside CI a missing redis-server skips; under CI=true it fails.
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed (CI=true): .ci/run installs Debian's redis-server")
		}
		t.Skip("redis-server is not installed (apt-get install redis-server)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir(), "--protected-mode", "yes")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(15 * time.Second); ; {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_, _ = c.Write([]byte("PING\r\n"))
			buf := make([]byte, 16)
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			n, _ := c.Read(buf)
			c.Close()
			if strings.HasPrefix(string(buf[:n]), "+PONG") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not answer on %s: %s", addr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "redis://" + addr + "/0"
}

// twoGateways starts two gateway instances with the same config, sharing
// the store at redisURL (each on its own loopback server, as two edge
// locations).
func twoGateways(t *testing.T, yamlText string, opts gateway.Options) (*gatewaytest.Server, *gatewaytest.Server) {
	t.Helper()
	return gatewaytest.StartYAML(t, yamlText, opts), gatewaytest.StartYAML(t, yamlText, opts)
}

// TestSharedStoreRateLimit is the acceptance point: a burst split between
// two instances sharing one Redis gets 429s at the configured total, not
// at twice it.
func TestSharedStoreRateLimit(t *testing.T) {
	t.Parallel()
	url := startRedis(t)
	clk := &fakeClock{t: time.Now()} // frozen: no token comes back during the burst
	cfg := `
store: {redis: "` + url + `"}
routes:
  - {prefix: /limited, auth: {kind: none}, upstream: builtin:echo, rate_limit: {rps: 1, burst: 10}}
`
	a, b := twoGateways(t, cfg, gateway.Options{Now: clk.now})
	var ok, limited atomic.Int64
	var wg sync.WaitGroup
	for i := range 30 {
		base := a.URL
		if i%2 == 1 {
			base = b.URL
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(base + "/limited/x")
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			switch resp.StatusCode {
			case 200:
				ok.Add(1)
			case 429:
				limited.Add(1)
				if resp.Header.Get("Retry-After") == "" {
					t.Error("429 without Retry-After")
				}
			default:
				t.Errorf("status %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 10 || limited.Load() != 20 {
		t.Fatalf("combined burst: %d allowed, %d limited; want 10 and 20", ok.Load(), limited.Load())
	}
	// The bucket refills at 1/s on the gateway clock, for both instances.
	clk.add(2 * time.Second)
	got := []int{do(t, "GET", a.URL+"/limited/x", nil).status, do(t, "GET", b.URL+"/limited/x", nil).status, do(t, "GET", a.URL+"/limited/x", nil).status}
	if fmt.Sprint(got) != "[200 200 429]" {
		t.Errorf("after 2 s: %v, want [200 200 429]", got)
	}
}

// TestSharedStoreCache: an answer stored by one instance is a HIT on the
// other, with the Age of the shared entry.
func TestSharedStoreCache(t *testing.T) {
	t.Parallel()
	url := startRedis(t)
	var n atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("Vary", "Accept-Language")
		fmt.Fprintf(w, "answer %d", n.Add(1))
	}))
	t.Cleanup(up.Close)
	clk := &fakeClock{t: time.Now()}
	a, b := twoGateways(t, `
store: {redis: "`+url+`"}
routes:
  - {prefix: /c, auth: {kind: none}, upstream: "`+up.URL+`", cache: {}}
`, gateway.Options{Now: clk.now})
	first := do(t, "GET", a.URL+"/c/x", nil, "Accept-Language", "en")
	if first.header.Get("X-Cache") != "MISS" {
		t.Fatalf("first: X-Cache %q", first.header.Get("X-Cache"))
	}
	clk.add(7 * time.Second)
	r := do(t, "GET", b.URL+"/c/x", nil, "Accept-Language", "en")
	if r.header.Get("X-Cache") != "HIT" || r.header.Get("Age") != "7" || string(r.body) != string(first.body) {
		t.Errorf("other instance: X-Cache %q Age %q body %q", r.header.Get("X-Cache"), r.header.Get("Age"), r.body)
	}
	if r := do(t, "GET", b.URL+"/c/x", nil, "Accept-Language", "fr"); r.header.Get("X-Cache") != "MISS" {
		t.Errorf("Vary ignored by the shared cache: %q", r.header.Get("X-Cache"))
	}
	clk.add(60 * time.Second)
	if r := do(t, "GET", a.URL+"/c/x", nil, "Accept-Language", "en"); r.header.Get("X-Cache") != "MISS" {
		t.Errorf("stale shared entry served: %q", r.header.Get("X-Cache"))
	}
	if n.Load() != 3 {
		t.Errorf("origin saw %d requests, want 3", n.Load())
	}
}

// TestSharedStoreTurnstile: a token issued by one instance's mock widget is
// spent on the other, and then refused everywhere.
func TestSharedStoreTurnstile(t *testing.T) {
	t.Parallel()
	url := startRedis(t)
	a, b := twoGateways(t, `
store: {redis: "`+url+`"}
routes:
  - {prefix: /real, auth: {kind: none}, upstream: builtin:echo, bot_check: {kind: turnstile, secret: "env:TS_SECRET"}}
`, gateway.Options{Getenv: func(k string) string {
		if k == "TS_SECRET" {
			return "0x4AAAAAAAreal-looking-secret"
		}
		return ""
	}})
	tok := strings.TrimSpace(string(do(t, "GET", a.URL+"/_mock/turnstile/token", nil).body))
	if r := do(t, "GET", b.URL+"/real/x", nil, "cf-turnstile-response", tok); r.status != 200 {
		t.Fatalf("token from A on B: %d %s", r.status, r.body)
	}
	for _, s := range []*gatewaytest.Server{a, b} {
		if r := do(t, "GET", s.URL+"/real/x", nil, "cf-turnstile-response", tok); r.status != 403 || !strings.Contains(string(r.body), "timeout-or-duplicate") {
			t.Errorf("spent token: %d %s", r.status, r.body)
		}
	}
	if r := do(t, "GET", a.URL+"/real/x", nil, "cf-turnstile-response", "0.never-issued"); r.status != 403 || !strings.Contains(string(r.body), "invalid-input-response") {
		t.Errorf("unknown token: %d %s", r.status, r.body)
	}
}

// TestStoreConfigErrors: a bad store block is a config error naming the
// key; an unreachable Redis is a startup error, and a password never shows.
func TestStoreConfigErrors(t *testing.T) {
	t.Parallel()
	for yml, want := range map[string]string{
		`store: {}`:                            "store.redis: required",
		`store: {redis: "http://x"}`:           "want redis://",
		`store: {rediss: "redis://127.0.0.1"}`: "unknown key",
	} {
		_, err := gateway.ParseConfig("t.yaml", []byte(yml+"\nroutes: [{prefix: /, auth: {kind: none}, upstream: builtin:echo}]\n"), "")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", yml, err, want)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	cfg, err := gateway.ParseConfig("t.yaml", []byte(`store: {redis: "redis://:hunter2secret@`+addr+`/0"}
routes: [{prefix: /, auth: {kind: none}, upstream: builtin:echo}]
`), "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = gateway.New(cfg, gateway.Options{})
	if err == nil || !strings.Contains(err.Error(), "cannot reach "+addr) || strings.Contains(err.Error(), "hunter2secret") {
		t.Errorf("unreachable store: %v", err)
	}
}
