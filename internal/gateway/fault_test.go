package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
)

// rawUpstream serves every connection with fn (after reading the request
// head), for faults net/http will not produce: resets, garbage, silence.
func rawUpstream(t *testing.T, fn func(c *net.TCPConn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				fn(c.(*net.TCPConn))
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// TestUpstreamFaults: each fault of the origin is a clear JSON error with
// the documented status (docs/gateway.md "Upstream errors"), or, once the
// answer has started, a cut connection the request log records.
func TestUpstreamFaults(t *testing.T) {
	t.Parallel()
	resetBefore := rawUpstream(t, func(c *net.TCPConn) { _ = c.SetLinger(0) }) // RST, no answer
	closeBefore := rawUpstream(t, func(c *net.TCPConn) {})                     // FIN, no answer
	garbage := rawUpstream(t, func(c *net.TCPConn) { _, _ = c.Write([]byte("SSH-2.0-OpenSSH\r\n\r\n")) })
	resetMid := rawUpstream(t, func(c *net.TCPConn) {
		_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: text/plain\r\n\r\nonly a part"))
		time.Sleep(20 * time.Millisecond)
		_ = c.SetLinger(0)
	})
	badChunks := rawUpstream(t, func(c *net.TCPConn) {
		_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n"))
	})
	s := gatewaytest.StartYAML(t, fmt.Sprintf(`
routes:
  - {prefix: /reset, auth: {kind: none}, upstream: "%s"}
  - {prefix: /closed, auth: {kind: none}, upstream: "%s"}
  - {prefix: /garbage, auth: {kind: none}, upstream: "%s"}
  - {prefix: /midreset, auth: {kind: none}, upstream: "%s"}
  - {prefix: /badchunks, auth: {kind: none}, upstream: "%s"}
`, resetBefore, closeBefore, garbage, resetMid, badChunks), gateway.Options{})

	for _, p := range []string{"/reset/x", "/closed/x", "/garbage/x"} {
		r := do(t, "GET", s.URL+p, nil)
		if r.status != http.StatusBadGateway || r.json(t)["error"] != "Bad Gateway" || !strings.Contains(fmt.Sprint(r.json(t)["reason"]), "upstream") {
			t.Errorf("%s: %d %s, want 502 naming the upstream", p, r.status, r.body)
		}
	}
	for _, p := range []string{"/midreset/x", "/badchunks/x"} {
		resp, err := http.Get(s.URL + p)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				continue // the fault came before the answer: a JSON 502 is right too
			}
		}
		if err == nil {
			t.Errorf("%s: a broken upstream body reached the client as complete", p)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		got := map[string]string{}
		for _, e := range s.Gateway.Requests() {
			got[e.Path] = e.Decision
		}
		if got["/midreset/x"] != "" && got["/badchunks/x"] != "" {
			for p, d := range got {
				if d != "upstream_error" && d != "aborted" {
					t.Errorf("%s logged as %q", p, d)
				}
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Error("the broken answers were not logged")
}

// TestIdentityProviderFaults: a jwt route whose issuer's JWKS answers 500,
// or cannot be reached, answers 503 with Retry-After and a reason naming
// the issuer: an outage, not a bad token.
func TestIdentityProviderFaults(t *testing.T) {
	t.Parallel()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "internal error", http.StatusInternalServerError)
	}))
	defer down.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	gone := "http://" + ln.Addr().String()
	ln.Close()
	s := gatewaytest.StartYAML(t, `
routes:
  - {prefix: /jwks500, auth: {kind: jwt, issuer: "https://issuer.test", client_id: c, jwks_url: "`+down.URL+`/keys"}, upstream: builtin:echo}
  - {prefix: /jwksgone, auth: {kind: jwt, issuer: "https://issuer.test", client_id: c, jwks_url: "`+gone+`/keys"}, upstream: builtin:echo}
  - {prefix: /discovery500, auth: {kind: jwt, issuer: "`+down.URL+`", client_id: c}, upstream: builtin:echo}
`, gateway.Options{})
	tok := seg(map[string]any{"alg": "RS256", "kid": "k1"}) + "." + seg(map[string]any{"iss": "https://issuer.test", "aud": "c", "exp": time.Now().Add(time.Hour).Unix()}) + ".AAAA"
	dtok := seg(map[string]any{"alg": "RS256", "kid": "k1"}) + "." + seg(map[string]any{"iss": down.URL, "aud": "c", "exp": time.Now().Add(time.Hour).Unix()}) + ".AAAA"
	for p, tk := range map[string]string{"/jwks500/x": tok, "/jwksgone/x": tok, "/discovery500/x": dtok} {
		r := do(t, "GET", s.URL+p, nil, "Authorization", "Bearer "+tk)
		if r.status != http.StatusServiceUnavailable || !strings.Contains(fmt.Sprint(r.json(t)["reason"]), "cannot get the signing keys") {
			t.Errorf("%s: %d %s, want 503 cannot get the signing keys", p, r.status, r.body)
		}
		if r.header.Get("Retry-After") == "" {
			t.Errorf("%s: no Retry-After", p)
		}
	}
}
