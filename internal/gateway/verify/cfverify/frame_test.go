package cfverify_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/cfverify"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/cfverify/cfaccesstest"
	"github.com/gwcurl/gwcurl/internal/login"
)

// TestInTheDemoGateway runs the verifier and the mocks inside the real
// gateway frame with the embedded demo config: its /admin route, its users,
// its header sanitization and its builtin:echo origin.
func TestInTheDemoGateway(t *testing.T) {
	t.Parallel()
	// The default registration serves cf_access and its mocks.
	srv := gatewaytest.StartDemo(t, gateway.Options{})

	get := func(path string, hdr map[string]string) (*http.Response, map[string]any) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v: %s", path, err, b)
		}
		if strings.Contains(string(b), "demo-cf-secret") {
			t.Errorf("%s: the client secret is in the answer: %s", path, b)
		}
		return resp, m
	}

	resp, m := get("/admin/x", map[string]string{"CF-Access-Client-Id": "demo.access", "CF-Access-Client-Secret": "demo-cf-secret"})
	if resp.StatusCode != 200 {
		t.Fatalf("service token: %d %v", resp.StatusCode, m)
	}
	id, _ := m["identity"].(map[string]any)
	if id["kind"] != "cf_access" || id["principal"] != "demo.access" {
		t.Errorf("identity = %v", m["identity"])
	}
	var cookie string
	for _, c := range resp.Cookies() {
		if c.Name == "CF_Authorization" {
			cookie = c.Value
		}
	}
	if cookie == "" {
		t.Fatal("no CF_Authorization cookie through the frame")
	}
	if resp, m := get("/admin/x", map[string]string{"Cf-Access-Token": cookie}); resp.StatusCode != 200 {
		t.Fatalf("token reuse: %d %v", resp.StatusCode, m)
	}
	if resp, m := get("/admin/x", map[string]string{"CF-Access-Client-Id": "demo.access", "CF-Access-Client-Secret": "nope"}); resp.StatusCode != 403 ||
		m["reason"] != "invalid service token secret for client id demo.access" {
		t.Errorf("wrong secret: %d %v", resp.StatusCode, m)
	}
	if resp, _ := get(cfverify.CertsPath, nil); resp.StatusCode != 200 {
		t.Errorf("certs: %d", resp.StatusCode)
	}
	// The gateway's request log (what -v and /_mock/requests show) names the
	// decisions but holds neither the secret nor the token.
	lreq, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/_mock/requests", nil)
	lresp, err := srv.Client().Do(lreq)
	if err != nil {
		t.Fatal(err)
	}
	logBody, _ := io.ReadAll(lresp.Body)
	lresp.Body.Close()
	if !strings.Contains(string(logBody), "invalid service token secret") {
		t.Errorf("the request log lacks the refusal: %s", logBody)
	}
	if strings.Contains(string(logBody), "demo-cf-secret") || strings.Contains(string(logBody), cookie) {
		t.Errorf("the request log holds a credential: %s", logBody)
	}

	// A person's login, through the frame. It starts with cloudflared's
	// metadata request, which the frame must let through to the verifier.
	head, _ := http.NewRequestWithContext(t.Context(), "HEAD", srv.URL+"/admin", nil)
	head.Header.Set(cfverify.HeaderMetadataRequest, "true")
	hresp, err := srv.Client().Do(head)
	if err != nil {
		t.Fatal(err)
	}
	hresp.Body.Close()
	if hresp.Header.Get(cfverify.HeaderMetadata) == "" {
		// The frame must pass Cf-Access-Metadata-Request through to the
		// verifier (internal/gateway/edge.go): it asks for metadata, it is
		// not an identity claim.
		t.Fatal("the gateway frame stripped Cf-Access-Metadata-Request: the CLI login cannot discover the application")
	}
	errs := make(chan error, 1)
	tok, err := login.CFAccessLogin(t.Context(), login.CFLoginOptions{
		AppURL:     srv.URL + "/admin",
		HTTPClient: srv.Client(),
		Browser:    cfaccesstest.Browser(srv.Client(), "demo@example.com", "demo-password", errs),
		Timeout:    10 * time.Second,
	})
	if err != nil {
		t.Fatalf("login through the gateway frame: %v", err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	resp, m = get("/admin/me", map[string]string{"cf-access-token": tok.AccessToken})
	if resp.StatusCode != 200 {
		t.Fatalf("login token: %d %v", resp.StatusCode, m)
	}
	if id, _ := m["identity"].(map[string]any); id["principal"] != "demo@example.com" {
		t.Errorf("identity = %v", m["identity"])
	}
}
