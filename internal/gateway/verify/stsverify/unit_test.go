package stsverify_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/stsverify"
	"github.com/gwcurl/gwcurl/internal/sign"
)

func TestCanonicalARN(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want, err string }{
		{"arn:aws:iam::123456789012:user/demo", "arn:aws:iam::123456789012:user/demo", ""},
		{"arn:aws:iam::123456789012:user/team/a/demo", "arn:aws:iam::123456789012:user/team/a/demo", ""},
		{"arn:aws:iam::123456789012:root", "arn:aws:iam::123456789012:root", ""},
		{"arn:aws:sts::123456789012:assumed-role/oncall/alice@example.com", "arn:aws:iam::123456789012:role/oncall", ""},
		{"arn:aws-cn:sts::123456789012:assumed-role/R/s", "arn:aws-cn:iam::123456789012:role/R", ""},
		{"arn:aws-us-gov:sts::123456789012:assumed-role/R/s", "arn:aws-us-gov:iam::123456789012:role/R", ""},
		{"arn:aws:sts::123456789012:federated-user/bob", "arn:aws:sts::123456789012:federated-user/bob", ""},
		{"arn:aws:sts::123456789012:assumed-role/R", "", "assumed-role"},
		{"arn:aws:sts::123456789012:assumed-role/R/s/x", "", "assumed-role"},
		{"arn:aws:iam::12345678901:user/demo", "", "12 digits"},
		{"arn:aws:iam:us-east-1:123456789012:user/demo", "", "no region"},
		{"arn:evil:iam::123456789012:user/demo", "", "partition"},
		{"arn:aws:s3::123456789012:user/demo", "", "iam or sts"},
		{"arn:aws:iam::123456789012:user/de mo", "", "malformed"},
		{"arn:aws:iam::123456789012:user//demo", "", "malformed"},
		{"arn:aws:iam::123456789012:group/x", "", "user, role or root"},
		{"not-an-arn", "", "not an ARN"},
	}
	for _, c := range cases {
		got, err := stsverify.CanonicalARN(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: %q %v, want %q", c.in, got, err, c.want)
		}
	}
}

func TestSTSHost(t *testing.T) {
	t.Parallel()
	cases := []struct{ host, partition, region string }{
		{"sts.amazonaws.com", "aws", "us-east-1"},
		{"STS.AMAZONAWS.COM", "aws", "us-east-1"},
		{"sts.eu-west-1.amazonaws.com", "aws", "eu-west-1"},
		{"sts-fips.us-east-2.amazonaws.com", "aws", "us-east-2"},
		{"sts.ap-southeast-2.api.aws", "aws", "ap-southeast-2"},
		{"sts.cn-north-1.amazonaws.com.cn", "aws-cn", "cn-north-1"},
		{"sts.us-gov-west-1.amazonaws.com", "aws-us-gov", "us-gov-west-1"},
		{"sts.amazonaws.com.evil.example", "", ""},
		{"evil.sts.amazonaws.com", "", ""},
		{"sts.cn-north-1.amazonaws.com", "", ""},
		{"sts.us-east-1.amazonaws.com.cn", "", ""},
		{"sts.amazonaws.com.cn", "", ""},
		{"s3.us-east-1.amazonaws.com", "", ""},
		{"sts.us-east-1.amazonaws.com:8443", "", ""},
	}
	for _, c := range cases {
		p, r, ok := stsverify.STSHost(c.host)
		if ok != (c.partition != "") || p != c.partition || r != c.region {
			t.Errorf("%s: %q %q %v", c.host, p, r, ok)
		}
	}
}

func TestFactoryConfig(t *testing.T) {
	t.Parallel()
	env := &auth.Env{Now: time.Now, BaseURL: "http://127.0.0.1:9"}
	cases := []struct{ yaml, err string }{
		{`{kind: sts_identity, allow: ["arn:aws:iam::123456789012:user/demo"]}`, ""},
		{`{kind: sts_identity, allow: ["arn:aws:iam::123456789012:role/*"], sts: aws}`, ""},
		{`{kind: sts_identity, allow: ["arn:aws:iam::123456789012:role/x"], sts: "https://sts.eu-west-1.amazonaws.com/"}`, ""},
		{`{kind: sts_identity}`, "allow: list at least one ARN"},
		{`{kind: sts_identity, allow: []}`, "allow: list at least one ARN"},
		{`{kind: sts_identity, allow: ["arn:aws:sts::123456789012:assumed-role/oncall/alice"]}`, "list the role, arn:aws:iam::123456789012:role/oncall"},
		{`{kind: sts_identity, allow: ["arn:aws:iam::123456789012:role/team/oncall"]}`, "a role ARN with a path never matches"},
		{`{kind: sts_identity, allow: ["*"]}`, "a wildcard must follow a full partition and account"},
		{`{kind: sts_identity, allow: ["arn:aws:iam::*"]}`, "a wildcard must follow"},
		{`{kind: sts_identity, allow: ["arn:aws:iam::123456789012:*/x*"]}`, "only once"},
		{`{kind: sts_identity, allow: ["arn:aws:sts::123456789012:assumed-role/*"]}`, "canonical ARNs are iam ARNs"},
		{`{kind: sts_identity, allow: ["arn:aws:iam::123456789012:user/x"], formats: [jwt]}`, `"jwt" is not one of url, vault, k8s`},
		{`{kind: sts_identity, allow: ["arn:aws:iam::123456789012:user/x"], sts: "https://evil.example/"}`, "not an STS endpoint"},
		{`{kind: sts_identity, allow: ["arn:aws:iam::123456789012:user/x"], sts: "http://sts.amazonaws.com/"}`, "want mock, a partition"},
		{`{kind: sts_identity, allow: ["arn:aws:iam::123456789012:user/x"], header: "bad header"}`, "not a valid header name"},
		{`{kind: sts_identity, allow: ["arn:aws:iam::123456789012:user/x"], max_skew: -1s}`, "max_skew"},
		{`{kind: sts_identity, allow: ["arn:aws:iam::123456789012:user/x"], alow: []}`, `line 1: unknown key "alow" in kind sts_identity (did you mean allow?)`},
		{`{kind: sts_identity, allow: "arn:aws:iam::123456789012:user/x"}`, "allow (line 1): want a list"},
	}
	for _, c := range cases {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(c.yaml), &n); err != nil {
			t.Fatal(err)
		}
		_, err := stsverify.Factory(n.Content[0], env)
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: %v, want %q", c.yaml, err, c.err)
		}
	}
}

// TestNoBaseURL: a gateway without a base URL does not know where its mock
// STS is; the route builds and refuses with a reason.
func TestNoBaseURL(t *testing.T) {
	t.Parallel()
	v, err := stsverify.New(stsverify.Options{Allow: []string{demoARN}})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/x", nil)
	r.Header.Set("X-Fluid-Identity", presignedURL(t, demoK, "http://127.0.0.1:9/_mock/sts/", gciQuery, nil, "us-east-1", time.Now(), 900))
	_, err = v.Verify(httptest.NewRecorder(), r)
	var rej *auth.Rejection
	if !errors.As(err, &rej) || !strings.Contains(rej.Reason, "without a base URL") {
		t.Fatalf("%v", err)
	}
}

// fakeSTS answers for "real" STS hosts on loopback: the test transport
// sends every request to it, whatever the URL's host, recording the host.
type fakeSTS struct {
	srv   *httptest.Server
	hosts []string
	calls atomic.Int32
}

func newFakeSTS(t *testing.T, h http.HandlerFunc) *fakeSTS {
	f := &fakeSTS{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		h(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSTS) RoundTrip(r *http.Request) (*http.Response, error) {
	f.hosts = append(f.hosts, r.URL.Scheme+"://"+r.Host)
	r2 := r.Clone(r.Context())
	r2.URL.Scheme = "http"
	r2.URL.Host = strings.TrimPrefix(f.srv.URL, "http://")
	return http.DefaultTransport.RoundTrip(r2)
}

// TestRealSTS runs the real-endpoint path against a loopback stand-in for
// sts.amazonaws.com (the test never contacts AWS): the request is rebuilt
// from trusted parts, Accept asks for JSON, redirects are not followed and
// the answer is parsed strictly.
func TestRealSTS(t *testing.T) {
	t.Parallel()
	now := time.Now()
	type seen struct {
		method, host, uri, accept, serverID, body string
		hdr                                       http.Header
	}
	var mu sync.Mutex
	var last seen
	answer := func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		last = seen{r.Method, r.Host, r.RequestURI, r.Header.Get("Accept"), r.Header.Get("X-Gwcurl-Server-Id"), string(b), r.Header.Clone()}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"GetCallerIdentityResponse":{"GetCallerIdentityResult":{"Account":"123456789012","Arn":"arn:aws:sts::123456789012:assumed-role/oncall/alice","UserId":"AROAEXAMPLE:alice"},"ResponseMetadata":{"RequestId":"x"}}}`))
	}
	f := newFakeSTS(t, answer)
	v, err := stsverify.New(stsverify.Options{
		Allow: []string{"arn:aws:iam::123456789012:role/oncall"}, STS: "aws", ServerID: "api-1",
		HTTPClient: &http.Client{Transport: f},
	})
	if err != nil {
		t.Fatal(err)
	}
	verify := func(value string) (*auth.Identity, error) {
		r := httptest.NewRequest("GET", "/x", nil)
		r.Header.Set("X-Fluid-Identity", value)
		return v.Verify(httptest.NewRecorder(), r)
	}
	sid := http.Header{"X-Gwcurl-Server-Id": {"api-1"}}
	id, err := verify(presignedURL(t, oncallK, "https://sts.eu-west-1.amazonaws.com/", gciQuery, sid, "eu-west-1", now, 900))
	if err != nil {
		t.Fatal(err)
	}
	if id.Principal != "arn:aws:iam::123456789012:role/oncall" || id.Claims["session_name"] != "alice" {
		t.Errorf("identity %+v", id)
	}
	mu.Lock()
	if last.method != "GET" || last.host != "sts.eu-west-1.amazonaws.com" || !strings.HasPrefix(last.uri, "/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=") ||
		last.accept != "application/json" || last.serverID != "api-1" {
		t.Errorf("the STS request: %+v", last)
	}
	if f.hosts[len(f.hosts)-1] != "https://sts.eu-west-1.amazonaws.com" {
		t.Errorf("sent to %v", f.hosts)
	}

	mu.Unlock()
	// vault: POST with only the allowlisted headers and the validated body.
	vsid := http.Header{"X-Vault-Aws-Iam-Server-Id": {"api-1"}}
	if _, err := verify(vaultProof(t, oncallK, "https://sts.amazonaws.com/", gciQuery, vsid, "us-east-1", now, func(h map[string][]string, _ map[string]string) {
		h["User-Agent"] = []string{"vault"}
		h["X-Forwarded-For"] = []string{"1.2.3.4"}
	})); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if last.method != "POST" || last.host != "sts.amazonaws.com" || last.uri != "/" || last.body != gciQuery ||
		last.hdr.Get("User-Agent") == "vault" || last.hdr.Get("X-Forwarded-For") != "" || last.hdr.Get("X-Amz-Security-Token") != oncallToken ||
		last.hdr.Get("X-Vault-Aws-Iam-Server-Id") != "api-1" {
		t.Errorf("the vault STS request: %+v", last)
	}
	mu.Unlock()

	calls := f.calls.Load()
	refused := []struct{ name, value, reason string }{
		{"other partition", presignedURL(t, oncallK, "https://sts.cn-north-1.amazonaws.com.cn/", gciQuery, sid, "cn-north-1", now, 900), "trusts partition aws only"},
		{"port on an STS host", presignedURL(t, oncallK, "https://sts.amazonaws.com:8443/", gciQuery, sid, "us-east-1", now, 900), "not a real STS endpoint"},
		{"plain http STS", presignedURL(t, oncallK, "http://sts.amazonaws.com/", gciQuery, sid, "us-east-1", now, 900), "not a real STS endpoint"},
		{"path on STS", presignedURL(t, oncallK, "https://sts.amazonaws.com/x", gciQuery, sid, "us-east-1", now, 900), "STS answers at / only"},
		{"region mismatch", presignedURL(t, oncallK, "https://sts.eu-west-1.amazonaws.com/", gciQuery, sid, "us-east-1", now, 900), "scoped to region us-east-1"},
		{"loopback", presignedURL(t, oncallK, f.srv.URL+"/", gciQuery, sid, "us-east-1", now, 900), "not a real STS endpoint"},
	}
	for _, c := range refused {
		_, err := verify(c.value)
		var rej *auth.Rejection
		if !errors.As(err, &rej) || !strings.Contains(rej.Reason, c.reason) {
			t.Errorf("%s: %v, want %q", c.name, err, c.reason)
		}
	}
	if f.calls.Load() != calls {
		t.Errorf("refused proofs reached STS")
	}
}

// TestRealSTSAnswers: what the verifier makes of STS's answers, including
// CVE-2020-16250's (another service's answer that reflects attacker text)
// and redirects.
func TestRealSTSAnswers(t *testing.T) {
	t.Parallel()
	now := time.Now()
	const okXML = `<?xml version="1.0"?>
<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/demo</Arn><UserId>AIDAEXAMPLE</UserId><Account>123456789012</Account></GetCallerIdentityResult>
  <ResponseMetadata><RequestId>x</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>`
	cases := []struct {
		name        string
		status      int
		ctype, body string
		location    string
		reason      string // "" = accepted
	}{
		{"json", 200, "application/json", `{"GetCallerIdentityResponse":{"GetCallerIdentityResult":{"Account":"123456789012","Arn":"arn:aws:iam::123456789012:user/demo","UserId":"AIDAEXAMPLE"}}}`, "", ""},
		{"xml", 200, "text/xml", okXML, "", ""},
		{"CVE-2020-16250: XML inside another answer", 200, "application/x-amz-json-1.1",
			`{"message":"<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/demo</Arn></GetCallerIdentityResult></GetCallerIdentityResponse>"}`, "", "unexpected Content-Type"},
		{"XML not at the root", 200, "text/xml", `<Other><GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/demo</Arn><Account>123456789012</Account><UserId>A</UserId></GetCallerIdentityResult></GetCallerIdentityResponse></Other>`, "", "does not start with"},
		{"two results", 200, "text/xml", strings.Replace(okXML, "<ResponseMetadata>", "<GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/admin</Arn><UserId>A</UserId><Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata>", 1), "", "exactly one GetCallerIdentityResult"},
		{"json without result", 200, "application/json", `{"GetCallerIdentityResponse":{}}`, "", "lacks"},
		{"account mismatch", 200, "application/json", `{"GetCallerIdentityResponse":{"GetCallerIdentityResult":{"Account":"999999999999","Arn":"arn:aws:iam::123456789012:user/demo","UserId":"A"}}}`, "", "for account 999999999999"},
		{"role session without ROLEID:session", 200, "application/json", `{"GetCallerIdentityResponse":{"GetCallerIdentityResult":{"Account":"123456789012","Arn":"arn:aws:sts::123456789012:assumed-role/oncall/alice","UserId":"AROAEXAMPLE"}}}`, "", "UserId that is not ROLEID:alice"},
		{"redirect", 302, "text/plain", "", "https://evil.example/", "redirects are never followed"},
		{"refusal", 403, "text/xml", `<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>no</Message></Error></ErrorResponse>`, "", "STS refused the proof: SignatureDoesNotMatch: no"},
		{"5xx", 503, "text/plain", "down", "", "STS at sts.amazonaws.com is unavailable (HTTP 503)"},
		{"500 with an AWS error", 500, "text/xml", `<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>x</Message></Error></ErrorResponse>`, "", "unavailable (HTTP 500)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeSTS(t, func(w http.ResponseWriter, r *http.Request) {
				if c.location != "" {
					w.Header().Set("Location", c.location)
				}
				w.Header().Set("Content-Type", c.ctype)
				w.WriteHeader(c.status)
				w.Write([]byte(c.body))
			})
			v, err := stsverify.New(stsverify.Options{
				Allow: []string{demoARN, "arn:aws:iam::123456789012:role/oncall"}, STS: "https://sts.amazonaws.com",
				HTTPClient: &http.Client{Transport: f},
			})
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("GET", "/x", nil)
			r.Header.Set("X-Fluid-Identity", presignedURL(t, demoK, "https://sts.amazonaws.com/", gciQuery, nil, "us-east-1", now, 900))
			id, err := v.Verify(httptest.NewRecorder(), r)
			if c.reason == "" {
				if err != nil || id.Principal != demoARN {
					t.Fatalf("%v %+v", err, id)
				}
				return
			}
			var rej *auth.Rejection
			if !errors.As(err, &rej) || !strings.Contains(rej.Reason, c.reason) {
				t.Fatalf("%v, want %q", err, c.reason)
			}
			// An STS outage is not the client's fault: 503, to be retried.
			if wantUnavailable := c.status >= 500; wantUnavailable != (rej.Status == http.StatusServiceUnavailable) {
				t.Errorf("status %d for an STS answer %d", rej.Status, c.status)
			}
			if f.calls.Load() != 1 {
				t.Errorf("%d calls (a redirect must not be followed)", f.calls.Load())
			}
		})
	}
}

// TestServerIDNamesMatchTheSigner keeps the verifier's header names in
// step with internal/sign's.
func TestServerIDNamesMatchTheSigner(t *testing.T) {
	t.Parallel()
	for _, c := range [][2]string{
		{stsverify.ServerIDHeaderURL, sign.STSServerIDHeader},
		{stsverify.ServerIDHeaderVault, sign.VaultServerIDHeader},
		{stsverify.ServerIDHeaderK8s, sign.K8sServerIDHeader},
		{strings.ToLower(stsverify.K8sTokenPrefix), sign.K8sTokenPrefix},
		{strings.ToLower(stsverify.DefaultHeader), strings.ToLower(sign.DefaultSTSIdentityHeader)},
	} {
		if c[0] != strings.ToLower(c[1]) {
			t.Errorf("%s != %s", c[0], c[1])
		}
	}
}
