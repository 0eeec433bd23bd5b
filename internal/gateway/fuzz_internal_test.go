package gateway

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Fuzz targets for the gateway's own parsing of outside input. The seeds
// run in every `go test`; fuzz one with
//
//	go test -run '^$' -fuzz '^FuzzRemoveCredentials$' -fuzztime 1m -parallel 1 ./internal/gateway/

// FuzzRemoveCredentials: whatever the Cookie header, no cookie that
// net/http (as browsers) reads as CF_Authorization or CF_AppSession
// survives for the origin.
func FuzzRemoveCredentials(f *testing.F) {
	for _, s := range []string{
		"CF_Authorization=x", "CF_Authorization =x; keep=1", "a=1;CF_AppSession\t=y", " CF_Authorization= ; b=2",
		"CF_Authorization", "keep=1", "CF_Authorization=x;CF_Authorization=y", `CF_Authorization="x"`, ";;CF_AppSession=1;;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cookie string) {
		h := http.Header{"Cookie": {cookie}, "Cf-Access-Token": {"t"}}
		removeCredentials(h)
		if h.Get("Cf-Access-Token") != "" {
			t.Fatal("Cf-Access-Token kept")
		}
		r := &http.Request{Header: h}
		for _, c := range r.Cookies() {
			if c.Name == "CF_Authorization" || c.Name == "CF_AppSession" {
				t.Fatalf("Cookie %q: %s reaches the origin as %q", cookie, c.Name, h["Cookie"])
			}
		}
	})
}

// FuzzPathRules: a path the rules accept has no segment any reading turns
// into "." or ".." and no backslash; the gateway answers every path
// without a 5xx from its own code (the /down route's 502 aside).
func FuzzPathRules(f *testing.F) {
	cfg, err := DemoConfig("")
	if err != nil {
		f.Fatal(err)
	}
	g, err := New(cfg, Options{BaseURL: "http://127.0.0.1:8080"})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		"/public/echo", "/public/../aws/echo", "/public/..;/aws", "/public/..%3B/aws", `/public/..\aws`, "/public/..%5Caws",
		"/public%2F..%2Faws", "/public/%252e%252e/aws", "/_mock/mailbox", "/aws/x%2Fy", "/public/.%2e/aws", "/%",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, "?# \r\n\t") || len(target) > 512 {
			return
		}
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		if pathProblem(u.Path) == "" {
			// The readings of origins: as decoded, with ";params" cut
			// from each segment (Tomcat, Spring), decoded once more.
			readings := []string{u.Path}
			if again, err := url.PathUnescape(u.Path); err == nil {
				readings = append(readings, again)
			}
			for _, p := range readings {
				for _, seg := range strings.Split(p, "/") {
					if i := strings.IndexByte(seg, ';'); i >= 0 {
						seg = seg[:i]
					}
					if seg == "." || seg == ".." {
						t.Fatalf("%q accepted with segment %q", target, seg)
					}
				}
			}
			if strings.Contains(u.Path, `\`) {
				t.Fatalf("%q accepted with a backslash", target)
			}
		}
		if strings.HasPrefix(u.Path, "/down") || strings.Contains(u.Path, "/status/") || strings.Contains(u.Path, "/delay/") {
			return
		}
		r := &http.Request{Method: "GET", URL: u, RequestURI: target, Host: "127.0.0.1:8080", Header: http.Header{}, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, RemoteAddr: "127.0.0.1:1"}
		w := httptest.NewRecorder()
		g.ServeHTTP(w, r)
		if w.Code >= 500 && w.Code != http.StatusBadGateway && w.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s: %d %s", target, w.Code, w.Body)
		}
		if pathProblem(u.Path) != "" && w.Code != http.StatusBadRequest {
			t.Fatalf("%s: refused path answered %d", target, w.Code)
		}
	})
}

// FuzzParseConfig: any text is a config or a located error, never a panic.
func FuzzParseConfig(f *testing.F) {
	f.Add(string(demoYAML), "")
	f.Add(string(demoYAML), "quiet")
	f.Add("routes: [{prefix: /a, auth: {kind: none}, upstream: builtin:echo}]\nhosts: [gw.test]\n", "")
	f.Add("environments: {x: {routes: [{prefix: /a, upstream: builtin:items}]}}\nroutes: [{prefix: /a, auth: {kind: none}, upstream: builtin:echo}]", "x")
	f.Add("routes: [{prefix: /a, auth: {kind: none}, upstream: builtin:echo, body_limit: 1KiB, strip_prefix: /a}]", "")
	f.Add("routes:\n- prefix: /a\n  auth: *x\n", "")
	f.Fuzz(func(t *testing.T, text, env string) {
		var (
			cfg *Config
			err error
		)
		done := make(chan struct{})
		go func() { cfg, err = ParseConfig("fuzz.yaml", []byte(text), env); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			t.Fatalf("ParseConfig took over 2s on %d bytes", len(text))
		}
		if err == nil && len(cfg.Routes) == 0 {
			t.Fatal("a config without routes was accepted")
		}
		if err != nil && !strings.HasPrefix(err.Error(), "fuzz.yaml") {
			t.Fatalf("error %q does not name the file", err)
		}
	})
}
