package explain

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/logging"

	"github.com/gwcurl/gwcurl/internal/demo"
	"github.com/gwcurl/gwcurl/internal/demoflow"
	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/cfverify"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/googleverify"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/sigv4verify"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/stsverify"
	"github.com/gwcurl/gwcurl/internal/profiles"
	"github.com/gwcurl/gwcurl/internal/sign"
)

// These tests run the real mock gateway (the embedded demo config, or a
// small config) and real signers, and diagnose the refusals it answers.

// gatewayOptions registers the verifiers and mocks these tests use,
// whatever the frame's defaults are at the time.
func gatewayOptions(offset time.Duration) gateway.Options {
	kinds := gateway.DefaultKinds()
	kinds[sigv4verify.Kind] = sigv4verify.Factory
	kinds["google_id"] = googleverify.Factory
	kinds[cfverify.Kind] = cfverify.Factory
	kinds["sts_identity"] = stsverify.Factory
	return gateway.Options{
		Now:   func() time.Time { return time.Now().Add(offset) },
		Kinds: kinds,
		Mocks: []auth.MockFactory{googleverify.Mocks, cfverify.Mocks, stsverify.Mocks},
	}
}

func startDemo(t *testing.T, offset time.Duration) *gatewaytest.Server {
	t.Helper()
	return gatewaytest.StartDemo(t, gatewayOptions(offset))
}

// recorder is the transport under sign.Transport: it records the signed
// request as it left gwcurl (what the CLI fills Sent from), then lets a
// "proxy" change it before it reaches the gateway.
type recorder struct {
	mu     sync.Mutex
	sent   *http.Request
	at     time.Time
	mutate func(*http.Request)
}

func (rc *recorder) RoundTrip(r *http.Request) (*http.Response, error) {
	rc.mu.Lock()
	rc.sent, rc.at = r.Clone(r.Context()), time.Now()
	rc.mu.Unlock()
	if rc.mutate != nil {
		r = r.Clone(r.Context())
		rc.mutate(r)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// exchange signs one request with a and sends it, returning what the CLI
// would put in Sent and Received.
func exchange(t *testing.T, a profiles.Auth, env map[string]string, method, target, body string, hdr http.Header, mutate func(*http.Request)) (Sent, Received) {
	t.Helper()
	ts := &SigningTrace{}
	getenv := func(k string) string { return env[k] }
	d := sign.Deps{
		HTTPClient: &http.Client{Timeout: 10 * time.Second},
		Now:        time.Now,
		Getenv:     getenv,
		Secrets:    &profiles.Resolver{Getenv: getenv},
		CacheDir:   filepath.Join(t.TempDir(), "cache"),
		Trace:      ts.Trace,
		Stderr:     io.Discard,
	}
	s, err := sign.New(context.Background(), a, target, d)
	if err != nil {
		t.Fatalf("sign.New: %v", err)
	}
	rc := &recorder{mutate: mutate}
	client := &http.Client{Transport: &sign.Transport{Signer: s, Base: rc}, Timeout: 10 * time.Second}
	var rb io.Reader
	if body != "" {
		rb = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, target, rb)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rbody, _ := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	rc.mu.Lock()
	sent := rc.sent
	at := rc.at
	rc.mu.Unlock()
	cr, sts := ts.Signed()
	return Sent{
			Method: sent.Method, URL: sent.URL.String(), AuthKind: a.Kind, Header: sent.Header.Clone(), SignedAt: at,
			Origin: sent.Header.Get("Origin"), CanonicalRequest: cr, StringToSign: sts,
			Region: a.Region, Service: a.Service,
		}, Received{
			Status: resp.StatusCode, Header: resp.Header, Body: rbody, At: time.Now(),
		}
}

// check asserts the first finding's cause matches every pattern, and that
// no secret appears in the rendered explanation.
func check(t *testing.T, s Sent, r Received, secrets []string, patterns ...string) []Finding {
	t.Helper()
	fs := Diagnose(s, r)
	out := rendered(fs)
	t.Logf("HTTP %d %s\n%s", r.Status, strings.TrimSpace(string(r.Body)), out)
	if len(fs) == 0 {
		t.Fatalf("no finding for HTTP %d %s", r.Status, r.Body)
	}
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(fs[0].Cause) {
			t.Errorf("first cause %q does not match %q", fs[0].Cause, p)
		}
	}
	// The signature gwcurl sent, and any session token, are secrets too.
	if _, sig, ok := strings.Cut(s.Header.Get("Authorization"), "Signature="); ok {
		secrets = append(secrets, sig)
	}
	for _, h := range []string{"X-Amz-Security-Token", "Cf-Access-Client-Secret", "X-Fluid-Identity"} {
		secrets = append(secrets, s.Header.Values(h)...)
	}
	if a := s.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
		secrets = append(secrets, strings.TrimPrefix(a, "Bearer "))
	}
	assertNoSecrets(t, "render", out, secrets...)
	return fs
}

func demoSigV4(region, service, secret string) (profiles.Auth, map[string]string) {
	return profiles.Auth{Kind: "sigv4", Region: region, Service: service, AccessKeyID: demo.AWSAccessKeyID, SecretAccessKey: "env:TEST_AWS_SECRET"},
		map[string]string{"TEST_AWS_SECRET": secret}
}

var demoSecrets = []string{demo.AWSSecretAccessKey, demo.IntruderSecretAccessKey, demo.CFClientSecret}

func TestGatewaySigV4(t *testing.T) {
	t.Parallel()
	srv := startDemo(t, 0)
	host := strings.TrimPrefix(srv.URL, "http://")
	tests := []struct {
		name           string
		region, svc    string
		secret         string
		method, path   string
		body           string
		mutate         func(*http.Request)
		want           []string
		wantDiffMarker string
	}{
		{name: "wrong region", region: "eu-west-1", svc: "lambda", secret: demo.AWSSecretAccessKey, method: "GET", path: "/aws/echo",
			want: []string{`^region: signed for eu-west-1, endpoint expects us-east-1$`}},
		{name: "wrong service", region: "us-east-1", svc: "execute-api", secret: demo.AWSSecretAccessKey, method: "GET", path: "/aws/echo",
			want: []string{`^service: signed for execute-api, endpoint expects lambda$`}},
		{name: "wrong secret", region: "us-east-1", svc: "lambda", secret: "not-the-demo-secret-key-0000000000000000", method: "POST", path: "/aws/items", body: `{"name":"x"}`,
			want: []string{`^wrong secret key: the gateway computed the same canonical request`, demo.AWSAccessKeyID}},
		{name: "host rewritten by a proxy", region: "us-east-1", svc: "lambda", secret: demo.AWSSecretAccessKey, method: "GET", path: "/aws/echo",
			mutate: func(r *http.Request) { r.Host = strings.Replace(host, "127.0.0.1", "localhost", 1) },
			want:   []string{`^canonical request mismatch: the host differs \(you signed 127\.0\.0\.1:\d+, the server saw localhost:\d+\)`}, wantDiffMarker: "+ host:localhost:"},
		{name: "path rewritten by a proxy", region: "us-east-1", svc: "lambda", secret: demo.AWSSecretAccessKey, method: "GET", path: "/aws/echo",
			mutate: func(r *http.Request) { r.URL.Path, r.URL.RawPath = "/aws/items", "" },
			want:   []string{`^canonical request mismatch: the path differs \(you signed /aws/echo, the server saw /aws/items\)`}, wantDiffMarker: "- /aws/echo"},
		{name: "header changed by a proxy", region: "us-east-1", svc: "lambda", secret: demo.AWSSecretAccessKey, method: "POST", path: "/aws/items", body: `{"name":"x"}`,
			mutate: func(r *http.Request) { r.Header.Set("Content-Type", "application/json; charset=utf-8") },
			want:   []string{`^canonical request mismatch: the header content-type differs`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, env := demoSigV4(tt.region, tt.svc, tt.secret)
			hdr := http.Header{}
			if tt.body != "" {
				hdr.Set("Content-Type", "application/json")
			}
			s, r := exchange(t, a, env, tt.method, srv.URL+tt.path, tt.body, hdr, tt.mutate)
			if r.Status != http.StatusForbidden {
				t.Fatalf("status %d, want 403: %s", r.Status, r.Body)
			}
			if s.CanonicalRequest == "" {
				t.Fatal("the signer's trace gave no canonical request")
			}
			fs := check(t, s, r, append(demoSecrets, tt.secret), tt.want...)
			if tt.wantDiffMarker != "" && !strings.Contains(strings.Join(fs[0].Detail, "\n"), tt.wantDiffMarker) {
				t.Errorf("diff lacks %q:\n%s", tt.wantDiffMarker, strings.Join(fs[0].Detail, "\n"))
			}
		})
	}
}

// TestGatewayClockSkew reproduces `gwcurl gateway --clock-offset 10m`.
func TestGatewayClockSkew(t *testing.T) {
	t.Parallel()
	for _, off := range []time.Duration{10 * time.Minute, -10 * time.Minute} {
		t.Run(off.String(), func(t *testing.T) {
			t.Parallel()
			srv := startDemo(t, off)
			a, env := demoSigV4("us-east-1", "lambda", demo.AWSSecretAccessKey)
			s, r := exchange(t, a, env, "GET", srv.URL+"/aws/echo", "", nil, nil)
			if r.Status != http.StatusForbidden {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			dir := "behind"
			if off < 0 {
				dir = "ahead of"
			}
			fs := check(t, s, r, demoSecrets, `^clock skew: your clock is (10m|9m59s|10m1s) `+dir+` the server$`)
			if !strings.Contains(fs[0].Fix, "5 minutes") {
				t.Errorf("fix %q does not say SigV4 allows 5 minutes", fs[0].Fix)
			}
		})
	}
}

// TestGatewayUnsignedPayload signs a POST with UNSIGNED-PAYLOAD using the
// AWS SDK's signer directly (gwcurl refuses --unsigned-payload for lambda
// before sending), as another client would.
func TestGatewayUnsignedPayload(t *testing.T) {
	t.Parallel()
	srv := startDemo(t, 0)
	body := `{"name":"x"}`
	req, _ := http.NewRequestWithContext(context.Background(), "POST", srv.URL+"/aws/items", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	capture := &sdkCapture{}
	now := time.Now()
	creds := aws.Credentials{AccessKeyID: demo.AWSAccessKeyID, SecretAccessKey: demo.AWSSecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, "UNSIGNED-PAYLOAD", "lambda", "us-east-1", now, func(o *v4.SignerOptions) {
		o.Logger, o.LogSigning = capture, true
	}); err != nil {
		t.Fatal(err)
	}
	sentHeader := req.Header.Clone()
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	s := Sent{Method: "POST", URL: req.URL.String(), AuthKind: "sigv4", Header: sentHeader, SignedAt: now,
		CanonicalRequest: capture.canonical, StringToSign: capture.sts, Region: "us-east-1", Service: "lambda"}
	r := Received{Status: resp.StatusCode, Header: resp.Header, Body: rb, At: time.Now()}
	check(t, s, r, demoSecrets, `^unsigned payload: service lambda refuses UNSIGNED-PAYLOAD`)
}

type sdkCapture struct{ canonical, sts string }

func (c *sdkCapture) Logf(_ logging.Classification, _ string, v ...any) {
	if len(v) >= 2 {
		c.canonical, _ = v[0].(string)
		c.sts, _ = v[1].(string)
	}
}

// TestGatewaySessionTokenRedacted: a canonical request diff shows the
// x-amz-security-token line; the token itself must not appear.
func TestGatewaySessionTokenRedacted(t *testing.T) {
	t.Parallel()
	const akid, secret = "ASIAGWCURLTEST000001", "temporarySecretKey0000000000000000000001"
	srv := gatewaytest.StartYAML(t, `
aws_keys:
  - {access_key_id: `+akid+`, secret_access_key: `+secret+`, arn: "arn:aws:sts::123456789012:assumed-role/oncall/alice", session_token: `+testSessionToken+`}
routes:
  - {prefix: /aws, auth: {kind: sigv4, service: lambda, region: us-east-1}, upstream: builtin:echo}
`, gatewayOptions(0))
	host := strings.TrimPrefix(srv.URL, "http://")
	a := profiles.Auth{Kind: "sigv4", Region: "us-east-1", Service: "lambda", AccessKeyID: akid, SecretAccessKey: "env:S", SessionToken: "env:T"}
	env := map[string]string{"S": secret, "T": testSessionToken}
	s, r := exchange(t, a, env, "GET", srv.URL+"/aws/echo", "", nil, func(r *http.Request) { r.Host = strings.Replace(host, "127.0.0.1", "localhost", 1) })
	fs := check(t, s, r, []string{secret}, `^canonical request mismatch: the host differs`)
	detail := strings.Join(fs[0].Detail, "\n")
	if !strings.Contains(detail, "x-amz-security-token:") {
		t.Errorf("the diff lost the session token line:\n%s", detail)
	}
	if strings.Contains(detail, "- x-amz-security-token") || strings.Contains(detail, "+ x-amz-security-token") {
		t.Errorf("a redacted token in the trace is reported as a difference:\n%s", detail)
	}
}

func TestGatewayGoogle(t *testing.T) {
	t.Parallel()
	srv := startDemo(t, 0)
	dir := t.TempDir()
	if err := demoflow.WriteProfiles(filepath.Join(dir, "config.yaml"), srv.URL); err != nil {
		t.Fatal(err)
	}
	prof := demoflow.Profiles(srv.URL, filepath.Join(dir, demoflow.GoogleKeyFileName)).Profiles["demo-google"]
	env := map[string]string{"HOME": dir}
	target := srv.URL + "/run/echo"
	st, err := googleverify.StateFor(srv.Gateway.Env())
	if err != nil {
		t.Fatal(err)
	}
	mint := func(iat, exp time.Time) string {
		tok, err := st.Sign(map[string]any{"aud": srv.URL + "/run", "sub": "100000000000000000001", "email": demo.GoogleServiceAccountEmail,
			"email_verified": true, "iat": iat.Unix(), "exp": exp.Unix()})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	now := time.Now()
	expired := mint(now.Add(-2*time.Hour), now.Add(-time.Hour))
	future := mint(now.Add(time.Hour), now.Add(2*time.Hour))

	t.Run("wrong audience", func(t *testing.T) {
		t.Parallel()
		a := prof.Auth
		a.Audience = srv.URL + "/billing"
		s, r := exchange(t, a, env, "GET", target, "", nil, nil)
		s.Token = strings.TrimPrefix(s.Header.Get("Authorization"), "Bearer ")
		check(t, s, r, demoSecrets, `^audience: the token is for `+regexp.QuoteMeta(srv.URL)+`/billing, the service expects `+regexp.QuoteMeta(srv.URL)+`/run$`)
	})
	for _, tc := range []struct{ name, tok, want string }{
		{"expired token", expired, `^token expired (1h|59m\d+s) ago`},
		{"not yet valid", future, `^token not yet valid: iat is .*, (1h|59m\d+s) in the future`},
		{"missing token", "", `^missing token: no Google ID token`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hdr := http.Header{}
			if tc.tok != "" {
				hdr.Set("Authorization", "Bearer "+tc.tok)
			}
			s, r := exchange(t, profiles.Auth{Kind: "none"}, nil, "GET", target, "", hdr, nil)
			s.AuthKind, s.Token = "google", tc.tok
			check(t, s, r, append(demoSecrets, tc.tok), tc.want)
		})
	}
}

// TestGatewayTokenClockSkew: a token valid by the local clock that a
// gateway two hours ahead calls expired is a clock problem, and an expired
// token stays the cause when the clocks agree.
func TestGatewayTokenClockSkew(t *testing.T) {
	t.Parallel()
	srv := startDemo(t, 2*time.Hour)
	st, err := googleverify.StateFor(srv.Gateway.Env())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok, err := st.Sign(map[string]any{"aud": srv.URL + "/run", "sub": "1", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	s, r := exchange(t, profiles.Auth{Kind: "none"}, nil, "GET", srv.URL+"/run/echo", "", http.Header{"Authorization": {"Bearer " + tok}}, nil)
	s.AuthKind, s.Token = "google", tok
	fs := check(t, s, r, []string{tok}, `^clock skew: your clock is (2h|1h59m) behind the server$`)
	if len(fs) < 2 || !strings.HasPrefix(fs[1].Cause, "token expired") {
		t.Errorf("the gateway's 'token expired' is not the second finding:\n%s", rendered(fs))
	}
}

func TestGatewayCFAccess(t *testing.T) {
	t.Parallel()
	srv := startDemo(t, 0)
	const wrong = "wrong-cf-secret-0123456789"
	tests := []struct {
		name string
		hdr  http.Header
		want string
	}{
		{"secret missing", http.Header{"Cf-Access-Client-Id": {demo.CFClientID}}, `^missing CF Access token: CF-Access-Client-Secret was not sent`},
		{"nothing sent", http.Header{}, `^missing CF Access token: no service token`},
		{"wrong secret", http.Header{"Cf-Access-Client-Id": {demo.CFClientID}, "Cf-Access-Client-Secret": {wrong}}, `^wrong CF Access client secret for service token demo\.access`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, r := exchange(t, profiles.Auth{Kind: "none"}, nil, "GET", srv.URL+"/admin/echo", "", tt.hdr, nil)
			s.AuthKind = "cf-access"
			check(t, s, r, append(demoSecrets, wrong), tt.want)
		})
	}
}

func TestGatewaySTSIdentity(t *testing.T) {
	t.Parallel()
	srv := startDemo(t, 0)
	a := profiles.Auth{Kind: "sts-identity", Header: demo.STSIdentityHeader, Format: "url", Region: demo.Region,
		STSEndpoint: srv.URL + "/_mock/sts/", AccessKeyID: demo.IntruderAccessKeyID, SecretAccessKey: "env:S"}
	for _, format := range []string{"url", "vault", "k8s"} {
		t.Run("allowlist "+format, func(t *testing.T) {
			t.Parallel()
			a := a
			a.Format = format
			s, r := exchange(t, a, map[string]string{"S": demo.IntruderSecretAccessKey}, "GET", srv.URL+"/sts/echo", "", nil, nil)
			check(t, s, r, demoSecrets, `^not allowed: arn:aws:iam::123456789012:user/intruder is not on the route's allowlist$`)
		})
	}
	t.Run("clock skew", func(t *testing.T) {
		t.Parallel()
		skewed := startDemo(t, 20*time.Minute)
		a := a
		a.STSEndpoint, a.AccessKeyID = skewed.URL+"/_mock/sts/", demo.AWSAccessKeyID
		s, r := exchange(t, a, map[string]string{"S": demo.AWSSecretAccessKey}, "GET", skewed.URL+"/sts/echo", "", nil, nil)
		check(t, s, r, demoSecrets, `^clock skew: your clock is (20m|19m59s|20m1s) behind the server$`)
	})
}

func TestGatewayCORSAndEdge(t *testing.T) {
	t.Parallel()
	srv := startDemo(t, 0)
	send := func(t *testing.T, method, path string, hdr http.Header) (Sent, Received) {
		t.Helper()
		s, r := exchange(t, profiles.Auth{Kind: "none"}, nil, method, srv.URL+path, "", hdr, nil)
		return s, r
	}
	t.Run("origin not allowed", func(t *testing.T) {
		t.Parallel()
		s, r := send(t, "GET", "/public/echo", http.Header{"Origin": {"http://evil.example"}})
		check(t, s, r, nil, `^CORS: origin http://evil\.example is not allowed$`)
	})
	t.Run("preflight header not allowed", func(t *testing.T) {
		t.Parallel()
		s, r := send(t, "OPTIONS", "/public/echo", http.Header{"Origin": {"http://localhost:3000"},
			"Access-Control-Request-Method": {"PUT"}, "Access-Control-Request-Headers": {"x-custom"}})
		check(t, s, r, nil, `^CORS: request header x-custom is not allowed$`)
	})
	t.Run("allowed origin", func(t *testing.T) {
		t.Parallel()
		s, r := send(t, "GET", "/public/echo", http.Header{"Origin": {"http://localhost:3000"}})
		if r.Status != 200 {
			t.Fatalf("status %d", r.Status)
		}
		if fs := Diagnose(s, r); len(fs) != 0 {
			t.Errorf("findings for an allowed CORS request: %+v", fs)
		}
	})
	t.Run("upstream down", func(t *testing.T) {
		t.Parallel()
		s, r := send(t, "GET", "/down/x", nil)
		check(t, s, r, nil, `^upstream down: .*origin http://127\.0\.0\.1:1 refused the connection`)
	})
	t.Run("no route", func(t *testing.T) {
		t.Parallel()
		s, r := send(t, "GET", "/nope", nil)
		check(t, s, r, nil, `^no route: the gateway has no route for /nope$`)
	})
	t.Run("rate limited", func(t *testing.T) {
		t.Parallel()
		var s Sent
		var r Received
		for i := 0; i < 30; i++ {
			if s, r = send(t, "GET", "/limited/x", nil); r.Status == 429 {
				break
			}
		}
		if r.Status != 429 {
			t.Fatalf("no 429 after 30 requests")
		}
		check(t, s, r, nil, `^rate limited: the server asks to retry after \d+s$`)
	})
}

func TestGatewayBodyLimit(t *testing.T) {
	t.Parallel()
	srv := gatewaytest.StartYAML(t, `
body_limit: 1KiB
routes:
  - {prefix: /public, auth: {kind: none}, upstream: builtin:echo}
`, gatewayOptions(0))
	s, r := exchange(t, profiles.Auth{Kind: "none"}, nil, "POST", srv.URL+"/public/x", strings.Repeat("x", 4096), nil, nil)
	check(t, s, r, nil, `^body too large: 4096 bytes, the limit is 1 KiB$`)
}
