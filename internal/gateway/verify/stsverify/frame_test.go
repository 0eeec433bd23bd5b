package stsverify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/demo"
	"github.com/gwcurl/gwcurl/internal/demoflow"
	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/stsverify"
	"github.com/gwcurl/gwcurl/internal/profiles"
	"github.com/gwcurl/gwcurl/internal/sign"
)

// startDemo serves the embedded demo config in the real gateway frame with
// this package registered (as kinds.go does) and writes the demo profiles
// beside a temp config file, as `gwcurl gateway --profiles-out` does.
func startDemo(t *testing.T, opts gateway.Options) (*gatewaytest.Server, *profiles.Config, string) {
	t.Helper()
	kinds := gateway.DefaultKinds()
	kinds[stsverify.Kind] = stsverify.Factory
	opts.Kinds = kinds
	opts.Mocks = []auth.MockFactory{stsverify.Mocks}
	srv := gatewaytest.StartDemo(t, opts)
	dir := t.TempDir()
	if err := demoflow.WriteProfiles(filepath.Join(dir, "config.yaml"), srv.URL); err != nil {
		t.Fatal(err)
	}
	return srv, demoflow.Profiles(srv.URL, filepath.Join(dir, demoflow.GoogleKeyFileName)), dir
}

// deps are the signer's connections for a test: no environment, secrets
// resolved relative to dir, traces collected.
func deps(dir string, trace *[]string) sign.Deps {
	getenv := func(k string) string {
		return map[string]string{"AWS_EC2_METADATA_DISABLED": "true", "HOME": dir}[k]
	}
	return sign.Deps{
		Profile:    "demo-sts",
		HTTPClient: &http.Client{Timeout: 10 * time.Second},
		Now:        time.Now,
		Getenv:     getenv,
		Secrets:    &profiles.Resolver{Getenv: getenv, BaseDir: dir},
		CacheDir:   filepath.Join(dir, "cache"),
		Trace: func(f string, a ...any) {
			if trace != nil {
				*trace = append(*trace, fmt.Sprintf(f, a...))
			}
		},
		Stderr: io.Discard,
	}
}

type echoAnswer struct {
	Path     string              `json:"path"`
	Headers  map[string][]string `json:"headers"`
	Identity struct {
		Kind      string         `json:"kind"`
		Principal string         `json:"principal"`
		Claims    map[string]any `json:"claims"`
	} `json:"identity"`
	Reason string `json:"reason"`
}

// TestDemoRoundTrip is the acceptance: each format, signed by
// sign.New through sign.Transport with the demo-sts profile, reaches
// builtin:echo on /sts with the demo ARN as the identity, and the proof
// does not reach the origin. Then whoami (STSIdentityARN) asks the mock
// STS through the frame.
func TestDemoRoundTrip(t *testing.T) {
	srv, cfg, dir := startDemo(t, gateway.Options{})
	prof := cfg.Profiles["demo-sts"]
	if prof.Auth.Kind != "sts-identity" || prof.Auth.STSEndpoint != srv.URL+"/_mock/sts/" {
		t.Fatalf("demo-sts profile: %+v", prof.Auth)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, format := range []string{"url", "vault", "k8s"} {
		t.Run(format, func(t *testing.T) {
			a := prof.Auth
			a.Format = format
			var trace []string
			d := deps(dir, &trace)
			target := prof.BaseURL + "/echo"
			s, err := sign.New(context.Background(), a, target, d)
			if err != nil {
				t.Fatal(err)
			}
			client := &http.Client{Transport: &sign.Transport{Signer: s, AllowedHost: host}}
			req, _ := http.NewRequestWithContext(t.Context(), "GET", target, nil)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var echo echoAnswer
			json.NewDecoder(resp.Body).Decode(&echo)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d %s", format, resp.StatusCode, echo.Reason)
			}
			if echo.Identity.Kind != "sts_identity" || echo.Identity.Principal != demo.AWSARN {
				t.Fatalf("identity = %+v", echo.Identity)
			}
			if echo.Identity.Claims["format"] != format || echo.Identity.Claims["access_key_id"] != demo.AWSAccessKeyID ||
				echo.Identity.Claims["account"] != "123456789012" {
				t.Errorf("claims = %v", echo.Identity.Claims)
			}
			if echo.Path != "/echo" {
				t.Errorf("path = %q", echo.Path)
			}
			for h := range echo.Headers {
				if strings.EqualFold(h, demo.STSIdentityHeader) {
					t.Errorf("the proof reached the origin")
				}
			}
			// -v shows the format, key, region and expiry, never the proof.
			joined := strings.Join(trace, "\n")
			for _, want := range []string{format + " proof", demo.AWSAccessKeyID, "us-east-1", "valid until"} {
				if !strings.Contains(joined, want) {
					t.Errorf("trace lacks %q:\n%s", want, joined)
				}
			}
			name, value, err := sign.STSIdentityHeader(context.Background(), a, target, d)
			if err != nil || name != demo.STSIdentityHeader || value == "" {
				t.Fatalf("STSIdentityHeader = %q, %d bytes, %v", name, len(value), err)
			}
			for _, secret := range []string{demo.AWSSecretAccessKey, value, value[len(value)/2:]} {
				if strings.Contains(joined, secret) {
					t.Errorf("the trace holds a secret or the proof:\n%s", joined)
				}
			}
			// The header value is usable as is (gwcurl token | curl -H).
			raw, _ := http.NewRequestWithContext(t.Context(), "GET", target, nil)
			raw.Header.Set(name, value)
			rresp, err := http.DefaultClient.Do(raw)
			if err != nil {
				t.Fatal(err)
			}
			rresp.Body.Close()
			if rresp.StatusCode != 200 {
				t.Errorf("token value sent by hand: %d", rresp.StatusCode)
			}

			arn, err := sign.STSIdentityARN(context.Background(), a, d)
			if err != nil || arn != demo.AWSARN {
				t.Fatalf("STSIdentityARN = %q, %v", arn, err)
			}
		})
	}
}

// TestDemoIntruderRefused: the second demo key is valid (STS knows it) but
// its ARN is on no allowlist.
func TestDemoIntruderRefused(t *testing.T) {
	srv, cfg, dir := startDemo(t, gateway.Options{})
	prof := cfg.Profiles["demo-sts"]
	for _, format := range []string{"url", "vault", "k8s"} {
		a := prof.Auth
		a.Format = format
		a.AccessKeyID = demo.IntruderAccessKeyID
		a.SecretAccessKey = "env:INTRUDER"
		d := deps(dir, nil)
		d.Secrets.Getenv = func(k string) string {
			if k == "INTRUDER" {
				return demo.IntruderSecretAccessKey
			}
			return ""
		}
		arn, err := sign.STSIdentityARN(context.Background(), a, d)
		if err != nil || arn != demo.IntruderARN {
			t.Fatalf("%s: the mock STS knows the intruder: %q %v", format, arn, err)
		}
		name, value, err := sign.STSIdentityHeader(context.Background(), a, "", d)
		if err != nil {
			t.Fatal(err)
		}
		status, body := get(t, srv.URL+"/sts/echo", map[string]string{name: value})
		if status != 403 || body["reason"] != "principal "+demo.IntruderARN+" is not allowed on this route" {
			t.Errorf("%s: intruder: %d %v", format, status, body)
		}
	}
}

// TestWhoamiWrongSecret: STS refusing the credentials is a credential error.
func TestWhoamiWrongSecret(t *testing.T) {
	_, cfg, dir := startDemo(t, gateway.Options{})
	a := cfg.Profiles["demo-sts"].Auth
	a.SecretAccessKey = "env:WRONG"
	d := deps(dir, nil)
	d.Secrets.Getenv = func(string) string { return "not-the-secret-not-the-secret-not-the-sec" }
	for _, format := range []string{"url", "vault", "k8s"} {
		a.Format = format
		_, err := sign.STSIdentityARN(context.Background(), a, d)
		if !sign.IsCredentialError(err) || !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
			t.Errorf("%s: %v", format, err)
		}
	}
}

// TestDemoRequestLogHoldsNoProof: the gateway's request log names the
// decision but not the proof.
func TestDemoRequestLogHoldsNoProof(t *testing.T) {
	srv, cfg, dir := startDemo(t, gateway.Options{})
	a := cfg.Profiles["demo-sts"].Auth
	_, value, err := sign.STSIdentityHeader(context.Background(), a, "", deps(dir, nil))
	if err != nil {
		t.Fatal(err)
	}
	if status, body := get(t, srv.URL+"/sts/echo", map[string]string{"X-Fluid-Identity": value}); status != 200 {
		t.Fatalf("%d %v", status, body)
	}
	if status, _ := get(t, srv.URL+"/sts/echo", map[string]string{"X-Fluid-Identity": value + "0"}); status != 403 {
		t.Fatalf("tampered: %d", status)
	}
	resp, err := http.Get(srv.URL + "/_mock/requests")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	sig := value[strings.Index(value, "X-Amz-Signature=")+len("X-Amz-Signature="):]
	if strings.Contains(string(b), sig) || strings.Contains(string(b), value) {
		t.Errorf("the request log holds the proof: %s", b)
	}
	if !strings.Contains(string(b), demo.AWSARN) {
		t.Errorf("the request log lacks the principal: %s", b)
	}
}

func get(t *testing.T, url string, hdr map[string]string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: not JSON: %s", url, b)
	}
	return resp.StatusCode, m
}
