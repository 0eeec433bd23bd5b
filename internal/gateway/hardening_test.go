package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
)

// TestCredentialCookiesParsedAsBrowsersDo: whitespace around a cookie name
// is not part of it (RFC 6265 §5.2, net/http), so "CF_Authorization =x" is
// the Access token and never reaches an origin of another kind.
func TestCredentialCookiesParsedAsBrowsersDo(t *testing.T) {
	t.Parallel()
	s := gatewaytest.StartDemo(t, gateway.Options{})
	for _, c := range []string{
		"CF_Authorization =stolen; keep=1",
		"keep=1; CF_Authorization\t=stolen",
		" CF_AppSession = stolen ;keep=1",
		"keep=1;CF_Authorization=stolen",
	} {
		e := echoOf(t, do(t, "GET", s.URL+"/public/echo", nil, "Cookie", c))
		got := e.Headers["Cookie"]
		if strings.Contains(got, "stolen") || !strings.Contains(got, "keep=1") {
			t.Errorf("Cookie %q reached the origin as %q", c, got)
		}
	}
}

// TestMalformedChunkedBodyIs400: a bad chunk size, an overflowing one, a
// chunk without its CRLF or a body cut short is the client's fault: 400,
// logged as bad_body, whoever was reading it (builtin:echo, the sigv4
// verifier hashing it, the reverse proxy).
func TestMalformedChunkedBodyIs400(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer up.Close()
	s := gatewaytest.StartYAML(t, `
aws_keys: [{access_key_id: AKIDEXAMPLE, secret_access_key: secret, arn: "arn:aws:iam::123456789012:user/a"}]
routes:
  - {prefix: /echo, auth: {kind: none}, upstream: builtin:echo}
  - {prefix: /up, auth: {kind: none}, upstream: "`+up.URL+`"}
  - {prefix: /aws, auth: {kind: sigv4, service: lambda, region: us-east-1}, upstream: builtin:echo}
`, gateway.Options{})
	addr := strings.TrimPrefix(s.URL, "http://")
	bodies := map[string]string{
		"bad size":      "zz\r\nabc\r\n0\r\n\r\n",
		"overflow":      "ffffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
		"missing CRLF":  "3\r\nabcX3\r\nabc\r\n0\r\n\r\n",
		"negative size": "-3\r\nabc\r\n0\r\n\r\n",
	}
	// A header-signed request whose hash the verifier must compute: it has
	// no x-amz-content-sha256, so the body is read before the signature
	// is checked.
	authz := "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("0", 64)
	for _, path := range []string{"/echo/x", "/up/x", "/aws/x"} {
		for name, body := range bodies {
			extra := ""
			if path == "/aws/x" {
				extra = "Authorization: " + authz + "\r\nX-Amz-Date: 20260101T000000Z\r\n"
			}
			req := "POST " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nTransfer-Encoding: chunked\r\n" + extra + "Connection: close\r\n\r\n" + body
			st, resp := rawStatus(t, addr, req)
			if st != http.StatusBadRequest || !strings.Contains(resp, "malformed request body") {
				t.Errorf("%s %s: %d %s, want 400 malformed request body", path, name, st, resp)
			}
		}
	}
	n := 0
	for _, e := range s.Gateway.Requests() {
		if e.Decision == "bad_body" && e.Status == 400 {
			n++
		}
	}
	if n != 3*len(bodies) {
		t.Errorf("request log has %d bad_body entries, want %d", n, 3*len(bodies))
	}
}
