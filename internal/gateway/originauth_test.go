package gateway_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/jwtverify/idp"
	"github.com/gwcurl/gwcurl/internal/sign"
)

// signing is the Options every origin_auth test passes: the client's own
// signers, as the gwcurl binary does.
var signing = gateway.Options{OriginAuth: sign.OriginTransport}

// cognitoToken mints an id token of the demo's mock user pool, as `gwcurl
// login -p demo-cognito` would get one.
func cognitoToken(t *testing.T, s *gatewaytest.Server) string {
	t.Helper()
	iss := s.URL + "/_mock/cognito"
	for _, v := range s.Gateway.Env().Shared {
		if m, ok := v.(map[string]oidc.KeySet); ok {
			if k, ok := m[iss].(*idp.Keys); ok {
				tok, err := k.Sign(map[string]any{"iss": iss, "aud": "gwcurl-demo", "token_use": "id", "sub": "u-1",
					"email": "demo@example.com", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
				if err != nil {
					t.Fatal(err)
				}
				return tok
			}
		}
	}
	t.Fatal("no cognito mock keys")
	return ""
}

// TestEdgeRoutesSignTowardTheirOrigins: /edge and /edge-run verify the
// caller's Cognito token, then authenticate themselves to /aws (SigV4) and
// /run (Google ID token); the origin sees the gateway's identity, never the
// caller's token.
func TestEdgeRoutesSignTowardTheirOrigins(t *testing.T) {
	t.Parallel()
	s := gatewaytest.StartDemo(t, signing)
	tok := cognitoToken(t, s)
	for _, c := range []struct{ path, kind, principal string }{
		{"/edge/echo", "sigv4", "arn:aws:iam::123456789012:user/demo"},
		{"/edge-run/echo", "google", "demo@gwcurl-demo.iam.gserviceaccount.com"},
	} {
		body := strings.Repeat("payload ", 1000)
		e := echoOf(t, do(t, "POST", s.URL+c.path, strings.NewReader(body), "Authorization", "Bearer "+tok, "Content-Type", "text/plain"))
		if e.Identity == nil || e.Identity.Kind != c.kind || e.Identity.Principal != c.principal {
			t.Errorf("%s: origin identity %+v, want %s %s", c.path, e.Identity, c.kind, c.principal)
		}
		if e.Body != body {
			t.Errorf("%s: body changed on the way (%d bytes, want %d)", c.path, len(e.Body), len(body))
		}
		for k, v := range e.Headers {
			if strings.Contains(v, tok) {
				t.Errorf("%s: the caller's token reached the origin in %s", c.path, k)
			}
		}
		if r := do(t, "GET", s.URL+c.path, nil); r.status != http.StatusUnauthorized {
			t.Errorf("%s without a token: %d, want 401", c.path, r.status)
		}
		if r := do(t, "GET", s.URL+c.path, nil, "Authorization", "Bearer "+tok[:len(tok)-4]+"AAAA"); r.status != http.StatusUnauthorized && r.status != http.StatusForbidden {
			t.Errorf("%s with a forged token: %d, want 401/403", c.path, r.status)
		}
	}
}

// TestSigV4OriginSpoolsLargeBodies: a body above spool_memory goes through
// a temp file and arrives intact, signed over its hash.
func TestSigV4OriginSpoolsLargeBodies(t *testing.T) {
	t.Parallel()
	s := gatewaytest.StartYAML(t, `
aws_keys:
  - {access_key_id: AKIAGWCURLDEMO000001, secret_access_key: gwcurlDemoSecretKey000000000000000000001, arn: "arn:aws:iam::123456789012:user/demo"}
routes:
  - prefix: /origin
    auth: {kind: sigv4, service: lambda, region: eu-west-1}
    body_limit: 20MiB
    upstream: builtin:echo
  - prefix: /front
    auth: {kind: none}
    body_limit: 20MiB
    strip_prefix: true
    upstream: ${base_url}/origin
    origin_auth: {kind: sigv4, service: lambda, region: eu-west-1, access_key_id: AKIAGWCURLDEMO000001, spool_memory: 64KiB}
`, signing)
	for _, n := range []int{0, 100, 64 << 10, 3 << 20} {
		body := bytes.Repeat([]byte{'x', 0, 0xff}, n/3+1)[:n]
		sum := sha256.Sum256(body)
		r := do(t, "PUT", s.URL+"/front/obj", bytes.NewReader(body))
		e := echoOf(t, r)
		if e.BodySHA256 != hex.EncodeToString(sum[:]) || e.ContentLength != int64(n) {
			t.Errorf("%d bytes: origin got %d bytes, sha %s", n, e.ContentLength, e.BodySHA256)
		}
		if e.Identity == nil || e.Identity.Kind != "sigv4" {
			t.Errorf("%d bytes: identity %+v", n, e.Identity)
		}
	}
}

// TestOriginAuthBearerAndKeepCaller: bearer sends its token from a
// reference; a google_id route that keeps the caller's Authorization sends
// its ID token in X-Serverless-Authorization.
func TestOriginAuthBearerAndKeepCaller(t *testing.T) {
	t.Parallel()
	var got http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
	}))
	t.Cleanup(up.Close)
	s := gatewaytest.StartYAML(t, `
routes:
  - prefix: /b
    auth: {kind: none}
    upstream: `+up.URL+`
    origin_auth: {kind: bearer, token: "env:ORIGIN_TOKEN"}
  - prefix: /g
    auth: {kind: none}
    upstream: `+up.URL+`
    origin_auth: {kind: google_id, credentials: "builtin:demo", keep_caller_authorization: true}
`, gateway.Options{OriginAuth: sign.OriginTransport, Getenv: func(k string) string {
		if k == "ORIGIN_TOKEN" {
			return "origin-secret-token"
		}
		return ""
	}})
	if r := do(t, "GET", s.URL+"/b/x", nil, "Authorization", "Bearer caller"); r.status != 200 || got.Get("Authorization") != "Bearer origin-secret-token" {
		t.Errorf("bearer: %d, Authorization %q", r.status, got.Get("Authorization"))
	}
	if r := do(t, "GET", s.URL+"/g/x", nil, "Authorization", "Bearer caller"); r.status != 200 || got.Get("Authorization") != "Bearer caller" ||
		!strings.HasPrefix(got.Get("X-Serverless-Authorization"), "Bearer ey") {
		t.Errorf("google keep: %d, Authorization %q, X-Serverless-Authorization %.20q", r.status, got.Get("Authorization"), got.Get("X-Serverless-Authorization"))
	}
}

// TestOriginAuthConfigErrors: mistakes and missing credentials stop the
// gateway at startup, naming the route, and never print a secret.
func TestOriginAuthConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, c := range []struct{ block, want string }{
		{`{kind: sigv4, access_key_id: AKIAX, secret_access_key: verysecretvalue}`, "must be a secret reference"},
		{`{kind: sigv4, access_key_id: AKIAX}`, "secret_access_key: route /r: required"},
		{`{kind: sigv4, region: us-east-1, service: lambda, access_key_id: AKIAX, secret_access_key: "env:NOPE_UNSET"}`, "route /r: origin"},
		{`{kind: bearer, token: "file:` + filepath.Join(dir, "missing") + `"}`, "route /r"},
		{`{kind: bearer}`, "token: route /r: required"},
		{`{kind: cf_access, client_id: x}`, "client_secret"},
		{`{kind: nope}`, "unknown origin auth kind"},
		{`{kind: sigv4, regoin: x}`, "did you mean region"},
		{`{kind: sigv4, keep_caller_authorization: true, region: us-east-1, service: lambda}`, "cannot be kept"},
	} {
		cfg, err := gateway.ParseConfig("t.yaml", []byte("routes:\n  - prefix: /r\n    auth: {kind: none}\n    upstream: http://127.0.0.1:9\n    origin_auth: "+c.block+"\n"), "")
		if err == nil {
			_, err = gateway.New(cfg, gateway.Options{OriginAuth: sign.OriginTransport, BaseURL: "http://127.0.0.1:1", Getenv: func(string) string { return "" }})
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.block, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), "verysecretvalue") {
			t.Errorf("the error shows the secret: %v", err)
		}
	}
	cfg, err := gateway.ParseConfig("t.yaml", []byte("routes:\n  - prefix: /r\n    auth: {kind: none}\n    upstream: builtin:echo\n    origin_auth: {kind: bearer, token: \"env:X\"}\n"), "")
	if err == nil {
		_, err = gateway.New(cfg, signing)
	}
	if err == nil || !strings.Contains(err.Error(), "needs an http(s) upstream") {
		t.Errorf("builtin upstream: %v", err)
	}
}
