package sign

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/stsverify"
	"github.com/gwcurl/gwcurl/internal/profiles"
)

// Keys of the loopback STS these tests run (the gateway's mock STS).
var stsTestKeys = []auth.AWSKey{
	{AccessKeyID: "AKIASTSTEST000000001", SecretAccessKey: "stsTestSecret0000000000000000000000000001", ARN: "arn:aws:iam::111122223333:user/alice"},
	{AccessKeyID: "ASIASTSTEST000000002", SecretAccessKey: "stsTestSecret0000000000000000000000000002", SessionToken: "stsTestSessionToken2",
		ARN: "arn:aws:sts::111122223333:assumed-role/deploy/ci-42"},
}

func stsTestEnv() map[string]string {
	return map[string]string{
		"AWS_EC2_METADATA_DISABLED": "true",
		"STS_SECRET":                stsTestKeys[0].SecretAccessKey,
		"STS_TEMP_SECRET":           stsTestKeys[1].SecretAccessKey,
		"STS_TOKEN":                 stsTestKeys[1].SessionToken,
	}
}

type stsTrace struct {
	mu    sync.Mutex
	lines []string
}

func (l *stsTrace) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *stsTrace) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func stsDeps(now func() time.Time) (Deps, *stsTrace) {
	env := stsTestEnv()
	getenv := func(k string) string { return env[k] }
	tr := &stsTrace{}
	if now == nil {
		now = time.Now
	}
	return Deps{
		Profile: "test", HTTPClient: &http.Client{Timeout: 10 * time.Second}, Now: now, Getenv: getenv,
		Secrets: &profiles.Resolver{Getenv: getenv}, Stderr: io.Discard, Trace: tr.add,
	}, tr
}

func stsAuth(format, endpoint string, temp bool) profiles.Auth {
	a := profiles.Auth{Kind: "sts-identity", Format: format, STSEndpoint: endpoint,
		AccessKeyID: stsTestKeys[0].AccessKeyID, SecretAccessKey: "env:STS_SECRET"}
	if temp {
		a.AccessKeyID, a.SecretAccessKey, a.SessionToken = stsTestKeys[1].AccessKeyID, "env:STS_TEMP_SECRET", "env:STS_TOKEN"
	}
	return a
}

func TestSTSEndpointRegion(t *testing.T) {
	t.Parallel()
	cases := []struct {
		region, endpoint    string
		wantURL, wantRegion string
		err                 string
	}{
		{"", "", "https://sts.amazonaws.com/", "us-east-1", ""},
		{"eu-west-1", "", "https://sts.eu-west-1.amazonaws.com/", "eu-west-1", ""},
		{"cn-north-1", "", "https://sts.cn-north-1.amazonaws.com.cn/", "cn-north-1", ""},
		{"", "https://sts.ap-south-1.amazonaws.com", "https://sts.ap-south-1.amazonaws.com/", "ap-south-1", ""},
		{"", "http://127.0.0.1:8080/_mock/sts/", "http://127.0.0.1:8080/_mock/sts/", "us-east-1", ""},
		{"eu-central-1", "http://127.0.0.1:8080/_mock/sts/", "http://127.0.0.1:8080/_mock/sts/", "eu-central-1", ""},
		{"eu-west-1", "https://sts.amazonaws.com/", "", "", "does not match STS endpoint sts.amazonaws.com"},
		{"not a region", "", "", "", "not an AWS region name"},
		{"", "ftp://sts.amazonaws.com/", "", "", "not an http(s) URL"},
		{"", "https://sts.amazonaws.com/?Action=AssumeRole", "", "", "without query"},
	}
	for _, c := range cases {
		u, r, err := stsEndpointRegion(profiles.Auth{Region: c.region, STSEndpoint: c.endpoint})
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q %q: %v, want %q", c.region, c.endpoint, err, c.err)
			}
			continue
		}
		if err != nil || u.String() != c.wantURL || r != c.wantRegion {
			t.Errorf("%q %q: %v %q %v", c.region, c.endpoint, u, r, err)
		}
	}
}

// TestSTSIdentityProofShapes checks each format's value at a fixed time
// (no network: the endpoint is only signed for).
func TestSTSIdentityProofShapes(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		format, serverID, signed string
		temp                     bool
	}{
		{"url", "", "host", false},
		{"url", "api-1", "host;x-gwcurl-server-id", true},
		{"k8s", "", "host", false},
		{"k8s", "cluster-1", "host;x-k8s-aws-id", false},
		{"vault", "", "content-length;content-type;host;x-amz-date", false},
		{"vault", "vault.example.com", "content-length;content-type;host;x-amz-date;x-amz-security-token;x-vault-aws-iam-server-id", true},
	} {
		t.Run(c.format+"/"+c.serverID, func(t *testing.T) {
			d, tr := stsDeps(func() time.Time { return at })
			a := stsAuth(c.format, "", c.temp)
			a.ServerID = c.serverID
			name, value, err := STSIdentityHeader(context.Background(), a, "https://api.example.com/x", d)
			if err != nil {
				t.Fatal(err)
			}
			if name != "X-Fluid-Identity" {
				t.Errorf("header %q", name)
			}
			akid := a.AccessKeyID
			switch c.format {
			case "url", "k8s":
				raw := value
				if c.format == "k8s" {
					b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(value, "k8s-aws-v1."))
					if !strings.HasPrefix(value, "k8s-aws-v1.") || err != nil {
						t.Fatalf("k8s token %q: %v", value, err)
					}
					raw = string(b)
				}
				u, err := url.Parse(raw)
				if err != nil || u.Scheme != "https" || u.Host != "sts.amazonaws.com" || u.Path != "/" {
					t.Fatalf("url %q", raw)
				}
				q := u.Query()
				exp := map[string]string{"url": "900", "k8s": "60"}[c.format]
				if q.Get("Action") != "GetCallerIdentity" || q.Get("Version") != "2011-06-15" || q.Get("X-Amz-Expires") != exp ||
					q.Get("X-Amz-Credential") != akid+"/20240102/us-east-1/sts/aws4_request" || q.Get("X-Amz-Date") != "20240102T030405Z" ||
					q.Get("X-Amz-SignedHeaders") != c.signed || len(q.Get("X-Amz-Signature")) != 64 ||
					(q.Get("X-Amz-Security-Token") != "") != c.temp {
					t.Errorf("query %v", q)
				}
			case "vault":
				lj, err := base64.StdEncoding.DecodeString(value)
				if err != nil {
					t.Fatal(err)
				}
				var login map[string]string
				if err := json.Unmarshal(lj, &login); err != nil || len(login) != 4 {
					t.Fatalf("login %s", lj)
				}
				dec := func(k string) string {
					b, err := base64.StdEncoding.DecodeString(login[k])
					if err != nil {
						t.Fatalf("%s: %v", k, err)
					}
					return string(b)
				}
				if login["iam_http_request_method"] != "POST" || dec("iam_request_url") != "https://sts.amazonaws.com/" ||
					dec("iam_request_body") != "Action=GetCallerIdentity&Version=2011-06-15" {
					t.Errorf("login %v", login)
				}
				var h http.Header
				if err := json.Unmarshal([]byte(dec("iam_request_headers")), &h); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(h.Get("Authorization"), "SignedHeaders="+c.signed+",") || h.Get("X-Amz-Date") != "20240102T030405Z" ||
					h.Get("Content-Type") != "application/x-www-form-urlencoded; charset=utf-8" || h.Get("X-Vault-AWS-IAM-Server-ID") != c.serverID {
					t.Errorf("headers %v", h)
				}
			}
			// -v: format, key, region and expiry; never the proof or a secret.
			trace := tr.String()
			for _, want := range []string{c.format + " proof", akid, "region us-east-1", "valid until 2024-01-02T03:19:05Z"} {
				if !strings.Contains(trace, want) {
					t.Errorf("trace lacks %q:\n%s", want, trace)
				}
			}
			for _, secret := range []string{stsTestKeys[0].SecretAccessKey, stsTestKeys[1].SecretAccessKey, stsTestKeys[1].SessionToken, value[len(value)-30:]} {
				if strings.Contains(trace, secret) {
					t.Errorf("the trace holds %q…:\n%s", secret[:8], trace)
				}
			}
		})
	}
}

// stsLoopback is a loopback STS (the gateway's mock STS handler) and a
// verifier for proofs signed for it.
type stsLoopback struct {
	srv      *httptest.Server
	endpoint string
	mu       sync.Mutex
	seen     []*http.Request
}

func newSTSLoopback(t *testing.T) *stsLoopback {
	l := &stsLoopback{}
	mock := &stsverify.MockSTS{Keys: stsTestKeys}
	l.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.seen = append(l.seen, r.Clone(context.Background()))
		l.mu.Unlock()
		switch r.URL.Path {
		case "/redirect/":
			http.Redirect(w, r, l.endpoint, http.StatusFound)
		default:
			mock.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(l.srv.Close)
	l.endpoint = l.srv.URL + stsverify.MockPrefix
	return l
}

func (l *stsLoopback) verifier(t *testing.T, serverID string) *stsverify.Verifier {
	v, err := stsverify.New(stsverify.Options{
		Allow:    []string{"arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:role/deploy"},
		ServerID: serverID, MockEndpoint: l.endpoint, Keys: stsTestKeys, Header: "X-Proof",
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSTSIdentitySignerVerifies: requests signed by the sts-identity
// Signer pass the gateway's verifier in every format, with and without a
// server id and a session token; each attempt gets a fresh proof.
func TestSTSIdentitySignerVerifies(t *testing.T) {
	t.Parallel()
	l := newSTSLoopback(t)
	for _, format := range STSFormats {
		for _, temp := range []bool{false, true} {
			for _, sid := range []string{"", "api-1"} {
				name := fmt.Sprintf("%s/temp=%v/sid=%q", format, temp, sid)
				d, _ := stsDeps(nil)
				a := stsAuth(format, l.endpoint, temp)
				a.ServerID = sid
				a.Header = "X-Proof"
				s, err := New(context.Background(), a, "https://api.example.com/x", d)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				req := httptest.NewRequest("GET", "https://api.example.com/x", nil)
				req.Header.Set("X-Proof", "stale")
				if err := s.Sign(context.Background(), req); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if len(req.Header.Values("X-Proof")) != 1 || req.Header.Get("X-Proof") == "stale" {
					t.Fatalf("%s: header %v", name, req.Header.Values("X-Proof"))
				}
				id, err := l.verifier(t, sid).Verify(httptest.NewRecorder(), req)
				if err != nil {
					t.Fatalf("%s: verifier: %v", name, err)
				}
				want := "arn:aws:iam::111122223333:user/alice"
				if temp {
					want = "arn:aws:iam::111122223333:role/deploy"
				}
				if id.Principal != want || id.Claims["format"] != format {
					t.Errorf("%s: identity %+v", name, id)
				}
			}
		}
	}
}

func TestSTSIdentitySignerRefusals(t *testing.T) {
	t.Parallel()
	d, _ := stsDeps(nil)
	a := stsAuth("url", "", false)
	s, err := New(context.Background(), a, "http://api.example.com/x", d)
	if err != nil {
		t.Fatal(err)
	}
	for target, ok := range map[string]bool{
		"http://api.example.com/x": false, "https://api.example.com/x": true,
		"http://127.0.0.1:9/x": true, "http://localhost:9/x": true, "http://[::1]:9/x": true,
	} {
		req := httptest.NewRequest("GET", target, nil)
		err := s.Sign(context.Background(), req)
		if (err == nil) != ok {
			t.Errorf("%s: %v", target, err)
		}
		if !ok && (req.Header.Get("X-Fluid-Identity") != "" || !strings.Contains(err.Error(), "refusing to send an identity proof over plain http")) {
			t.Errorf("%s: %v / %q", target, err, req.Header.Get("X-Fluid-Identity"))
		}
	}
	for _, c := range []struct {
		edit func(*profiles.Auth)
		err  string
	}{
		{func(a *profiles.Auth) { a.Format = "jwt" }, `format "jwt" is not one of url, vault, k8s`},
		{func(a *profiles.Auth) { a.Header = "bad header" }, "not a valid HTTP header name"},
		{func(a *profiles.Auth) { a.ServerID = "a\nb" }, "not a valid HTTP header value"},
		{func(a *profiles.Auth) { a.Region = "eu-west-1"; a.STSEndpoint = "https://sts.amazonaws.com/" }, "does not match"},
		{func(a *profiles.Auth) { a.SecretAccessKey = "env:NOPE" }, "NOPE is not set"},
	} {
		a := stsAuth("url", "", false)
		c.edit(&a)
		_, err := New(context.Background(), a, "https://api.example.com/", d)
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%+v: %v, want %q", a, err, c.err)
		}
	}
	// Missing credentials are a credential error (exit 4).
	a.SecretAccessKey = "env:NOPE"
	if _, _, err := STSIdentityHeader(context.Background(), a, "", d); !IsCredentialError(err) {
		t.Errorf("missing secret: %v", err)
	}
}

// TestSTSIdentityARN: whoami sends the proof itself to the STS endpoint
// and reads the ARN; STS's refusals are credential errors; redirects are
// not followed.
func TestSTSIdentityARN(t *testing.T) {
	t.Parallel()
	l := newSTSLoopback(t)
	for _, format := range STSFormats {
		d, _ := stsDeps(nil)
		arn, err := STSIdentityARN(context.Background(), stsAuth(format, l.endpoint, false), d)
		if err != nil || arn != "arn:aws:iam::111122223333:user/alice" {
			t.Errorf("%s: %q %v", format, arn, err)
		}
		l.mu.Lock()
		last := l.seen[len(l.seen)-1]
		l.mu.Unlock()
		wantMethod := map[string]string{"url": "GET", "k8s": "GET", "vault": "POST"}[format]
		if last.Method != wantMethod || last.Header.Get("Accept") != "application/json" {
			t.Errorf("%s: STS saw %s Accept %q", format, last.Method, last.Header.Get("Accept"))
		}
		// A role session reports its assumed-role ARN, as STS does.
		arn, err = STSIdentityARN(context.Background(), stsAuth(format, l.endpoint, true), d)
		if err != nil || arn != "arn:aws:sts::111122223333:assumed-role/deploy/ci-42" {
			t.Errorf("%s temp: %q %v", format, arn, err)
		}
	}
	d, _ := stsDeps(nil)
	bad := stsAuth("vault", l.endpoint, false)
	d.Getenv = func(k string) string {
		if k == "STS_SECRET" {
			return "wrong-secret"
		}
		return ""
	}
	d.Secrets = &profiles.Resolver{Getenv: d.Getenv}
	_, err := STSIdentityARN(context.Background(), bad, d)
	var ce *CredentialError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
		t.Errorf("wrong secret: %v", err)
	}
	d, _ = stsDeps(nil)
	_, err = STSIdentityARN(context.Background(), stsAuth("url", l.srv.URL+"/redirect/", false), d)
	if err == nil || IsCredentialError(err) {
		t.Errorf("redirect: %v", err)
	}
	l.mu.Lock()
	last := l.seen[len(l.seen)-1]
	l.mu.Unlock()
	if last.URL.Path != "/redirect/" {
		t.Errorf("the redirect was followed to %s", last.URL.Path)
	}
	// Plain http to a non-loopback STS endpoint is refused before sending.
	_, err = STSIdentityARN(context.Background(), stsAuth("url", "http://sts.example.com/", false), d)
	if err == nil || !strings.Contains(err.Error(), "plain http") {
		t.Errorf("plain http: %v", err)
	}
}

func TestParseCallerIdentityARN(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ ctype, body, arn string }{
		{"application/json", `{"GetCallerIdentityResponse":{"GetCallerIdentityResult":{"Arn":"arn:aws:iam::1:user/a"}}}`, "arn:aws:iam::1:user/a"},
		{"text/xml", `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::1:user/a</Arn></GetCallerIdentityResult></GetCallerIdentityResponse>`, "arn:aws:iam::1:user/a"},
		{"text/xml", `<Other><GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::1:user/a</Arn></GetCallerIdentityResult></GetCallerIdentityResponse></Other>`, ""},
		{"application/json", `{}`, ""},
		{"text/xml", `<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>nope</Arn></GetCallerIdentityResult></GetCallerIdentityResponse>`, ""},
	} {
		arn, err := parseCallerIdentityARN(c.ctype, []byte(c.body))
		if arn != c.arn || (err == nil) != (c.arn != "") {
			t.Errorf("%s: %q %v", c.body, arn, err)
		}
	}
}
