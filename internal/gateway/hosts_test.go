package gateway_test

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
)

// rawStatus sends one request written by hand (so Host is exactly as
// given, as a browser on a rebound name sends it) and returns the status.
func rawStatus(t *testing.T, addr, req string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
	return resp.StatusCode, b.String()
}

// TestHostGuardDNSRebinding: a page on rebind.example pointed at 127.0.0.1
// must not reach the mailbox, the metadata server, the request log or a
// route; the gateway's own names still work.
func TestHostGuardDNSRebinding(t *testing.T) {
	t.Parallel()
	s := gatewaytest.StartDemo(t, gateway.Options{})
	addr := strings.TrimPrefix(s.URL, "http://")
	_, port, _ := net.SplitHostPort(addr)
	for _, path := range []string{"/_mock/mailbox", "/computeMetadata/v1/instance/service-accounts/default/identity?audience=x", "/_mock/requests", "/public/echo", "/"} {
		for _, host := range []string{"rebind.example:" + port, "rebind.example", "127.0.0.1.rebind.example:" + port, "LOCALHOST.:" + port, "localhost:1", ""} {
			req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nOrigin: http://" + host + "\r\nMetadata-Flavor: Google\r\nConnection: close\r\n\r\n"
			st, body := rawStatus(t, addr, req)
			if host == "" && st == http.StatusBadRequest {
				continue // net/http refuses an HTTP/1.1 request without Host first
			}
			if st != http.StatusMisdirectedRequest || !strings.Contains(body, "not served by this gateway") {
				t.Errorf("Host %q %s: %d %s, want 421", host, path, st, body)
			}
		}
	}
	for _, host := range []string{addr, "localhost:" + port, "LocalHost:" + port, "[::1]:" + port} {
		st, body := rawStatus(t, addr, "GET /public/echo HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n")
		if st != http.StatusOK {
			t.Errorf("Host %q: %d %s, want 200", host, st, body)
		}
	}
}

func TestHostGuardConfiguredHosts(t *testing.T) {
	t.Parallel()
	s := gatewaytest.StartYAML(t, `
hosts: [gw.test, "api.test:8443"]
routes:
  - {prefix: /echo, auth: {kind: none}, upstream: builtin:echo}
`, gateway.Options{})
	addr := strings.TrimPrefix(s.URL, "http://")
	for host, want := range map[string]int{"gw.test": 200, "gw.test:9999": 200, "api.test:8443": 200, "api.test:8444": 421, "api.test": 421, "other.test": 421} {
		st, body := rawStatus(t, addr, "GET /echo HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n")
		if st != want {
			t.Errorf("Host %q: %d %s, want %d", host, st, body, want)
		}
	}
	_, err := gateway.ParseConfig("t.yaml", []byte("hosts: [\"http://x\"]\nroutes: [{prefix: /a, auth: {kind: none}, upstream: builtin:echo}]\n"), "")
	if err == nil || !strings.Contains(err.Error(), "hosts[0]") {
		t.Errorf("hosts: [http://x]: err = %v, want a hosts[0] error", err)
	}
}
