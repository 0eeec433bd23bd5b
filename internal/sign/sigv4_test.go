package sign

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/gwcurl/gwcurl/internal/awsv4"
	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/sigv4verify"
	"github.com/gwcurl/gwcurl/internal/profiles"
)

// newV4TestSigner builds the sigv4 Signer through sign.New, as the CLI does.
func newV4TestSigner(t *testing.T, a profiles.Auth, env map[string]string, target string, now func() time.Time) (Signer, *v4Trace) {
	t.Helper()
	d, tl := v4Deps(now, env)
	s, err := New(context.Background(), a, target, d)
	if err != nil {
		t.Fatal(err)
	}
	return s, tl
}

func v4Request(t *testing.T, method, rawURL string, body []byte) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, rawURL, rd)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestSigV4EndToEnd signs requests with the client and sends them through
// sign.Transport to a server running the gateway's verifier: awkward paths,
// queries, bodies and headers all verify, and the origin receives what the
// caller meant.
func TestSigV4EndToEnd(t *testing.T) {
	v4IsolateAWS(t)
	type tc struct {
		name, method, path, query string
		body                      []byte
		header                    http.Header
		wantURI                   string // RequestURI the server received ("" = path?query as given)
		wantQuery                 string
	}
	lambda := []tc{
		{name: "get", method: "GET", path: "/items"},
		{name: "post json", method: "POST", path: "/items", body: []byte(`{"name":"widget"}`), header: http.Header{"Content-Type": {"application/json"}}},
		{name: "put binary", method: "PUT", path: "/blob", body: bytes.Repeat([]byte{0, 0xff, '\r', '\n'}, 5000)},
		{name: "empty post", method: "POST", path: "/items", body: []byte{}},
		{name: "path with space", method: "GET", path: "/a%20b/c"},
		{name: "path with plus", method: "GET", path: "/a+b"},
		{name: "path with encoded slash", method: "GET", path: "/a%2Fb/c"},
		{name: "path non-ascii", method: "GET", path: "/caf%C3%A9/%E1%88%B4"},
		{name: "path with dot segments and double slashes", method: "GET", path: "//x//y/../z"},
		{name: "path with reserved characters", method: "GET", path: "/a=b$c,d;e@f:g!h*i'(j)"},
		{name: "query with raw plus is a plus", method: "GET", path: "/search", query: "q=a+b", wantQuery: "q=a%2Bb"},
		{name: "query with space and slash", method: "GET", path: "/search", query: "q=a%20b&p=x/y", wantQuery: "q=a%20b&p=x%2Fy"},
		{name: "query order kept, signature canonical", method: "GET", path: "/search", query: "z=1&a=2&m=&flag", wantQuery: "z=1&a=2&m=&flag"},
		{name: "query with semicolon and non-ascii", method: "GET", path: "/s", query: "k=a;b&%E1%88%B4=%C3%A9", wantQuery: "k=a%3Bb&%E1%88%B4=%C3%A9"},
		{name: "x-amz-meta header signed", method: "PUT", path: "/o", body: []byte("x"), header: http.Header{"X-Amz-Meta-Owner": {"  me   too "}}},
		{name: "user agent and accept encoding", method: "GET", path: "/h", header: http.Header{"User-Agent": {"gwcurl/test"}, "Accept-Encoding": {"gzip"}}},
	}
	s3 := []tc{
		{name: "s3 key with reserved characters", method: "PUT", path: "/bucket/asset_id=my-asset/dt=2024$x", body: []byte("obj"),
			wantURI: "/bucket/asset_id%3Dmy-asset/dt%3D2024%24x"},
		{name: "s3 key with plus and space", method: "GET", path: "/bucket/a+b%20c", wantURI: "/bucket/a%2Bb%20c"},
		{name: "s3 key with double slash kept", method: "GET", path: "/bucket/my-object//example//photo.user", wantURI: "/bucket/my-object//example//photo.user"},
	}
	run := func(t *testing.T, service string, allowUnsigned bool, cases []tc) {
		vs := newV4Server(t, sigv4verify.Options{Service: service, Region: "us-east-1", AllowUnsignedPayload: allowUnsigned}, nil)
		a, env := v4StaticAuth(service, "us-east-1")
		signer, _ := newV4TestSigner(t, a, env, vs.URL, nil)
		u, _ := url.Parse(vs.URL)
		client := &http.Client{Transport: &Transport{Signer: signer, AllowedHost: u.Host}}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				target := vs.URL + c.path
				if c.query != "" {
					target += "?" + c.query
				}
				req := v4Request(t, c.method, target, c.body)
				for k, v := range c.header {
					req.Header[k] = v
				}
				before := req.Header.Clone()
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				got := v4Decode(t, resp)
				if got.Status != 200 {
					t.Fatalf("refused: %s\ncanonical request:\n%s", got.Reason, got.Canonical)
				}
				if got.BodySHA256 != v4SHA256(c.body) || got.Principal != v4Key.ARN {
					t.Errorf("server saw %+v", got)
				}
				wantURI := c.wantURI
				if wantURI == "" {
					wantURI = c.path
				}
				if gotPath, _, _ := strings.Cut(got.RequestURI, "?"); gotPath != wantURI {
					t.Errorf("path on the wire = %q, want %q", gotPath, wantURI)
				}
				wantQuery := c.wantQuery
				if wantQuery == "" {
					wantQuery = c.query
				}
				if got.Query != wantQuery {
					t.Errorf("query on the wire = %q, want %q", got.Query, wantQuery)
				}
				if !slices.Contains(got.SignedHeaders, "x-amz-content-sha256") || !slices.Contains(got.SignedHeaders, "host") {
					t.Errorf("signed headers %v lack x-amz-content-sha256 or host", got.SignedHeaders)
				}
				if slices.Contains(got.SignedHeaders, "user-agent") || slices.Contains(got.SignedHeaders, "authorization") {
					t.Errorf("signed headers %v include user-agent or authorization", got.SignedHeaders)
				}
				for k, v := range c.header {
					if !slices.Contains(got.SignedHeaders, strings.ToLower(k)) && k != "User-Agent" {
						t.Errorf("header %s=%v not signed (%v)", k, v, got.SignedHeaders)
					}
				}
				if !v4EqualHeader(before, req.Header) {
					t.Errorf("the caller's request was modified: %v -> %v", before, req.Header)
				}
			})
		}
	}
	t.Run("lambda", func(t *testing.T) { run(t, "lambda", false, lambda) })
	t.Run("s3", func(t *testing.T) { run(t, "s3", true, s3) })
}

func v4EqualHeader(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// Every attempt, a redirect included, is signed afresh with the clock's
// current time, and the body is hashed again from GetBody.
func TestSigV4ResignsEachAttempt(t *testing.T) {
	v4IsolateAWS(t)
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var ticks atomic.Int64
	clock := func() time.Time { return base.Add(time.Duration(ticks.Add(1)) * time.Minute) }
	vs := newV4Server(t, sigv4verify.Options{Service: "lambda", Region: "us-east-1", Now: func() time.Time { return base }, MaxSkew: time.Hour},
		func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path == "/first" {
				http.Redirect(w, r, "/second", http.StatusTemporaryRedirect)
				return true
			}
			return false
		})
	a, env := v4StaticAuth("lambda", "us-east-1")
	signer, _ := newV4TestSigner(t, a, env, vs.URL, clock)
	u, _ := url.Parse(vs.URL)
	client := &http.Client{Transport: &Transport{Signer: signer, AllowedHost: u.Host}}
	body := []byte(`{"n":1}`)
	resp, err := client.Do(v4Request(t, "POST", vs.URL+"/first", body))
	if err != nil {
		t.Fatal(err)
	}
	if got := v4Decode(t, resp); got.Status != 200 {
		t.Fatalf("redirected request refused: %s", got.Reason)
	}
	resp, err = client.Do(v4Request(t, "POST", vs.URL+"/third", body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	all := vs.all()
	if len(all) != 3 {
		t.Fatalf("server verified %d requests, want 3", len(all))
	}
	dates := map[string]bool{}
	for _, s := range all {
		dates[s.Date] = true
		if s.BodySHA256 != v4SHA256(body) || s.Payload != v4SHA256(body) {
			t.Errorf("attempt %+v: body or payload hash wrong", s)
		}
	}
	if len(dates) != 3 {
		t.Errorf("attempts share a signing time: %v", dates)
	}
}

// Temporary credentials: the session token is sent and is part of the
// signature.
func TestSigV4SessionTokenSigned(t *testing.T) {
	v4IsolateAWS(t)
	vs := newV4Server(t, sigv4verify.Options{Service: "lambda", Region: "us-east-1"}, nil)
	a, env := v4StaticAuth("lambda", "us-east-1")
	a.AccessKeyID, a.SecretAccessKey, a.SessionToken = v4TempKey.AccessKeyID, "env:GW_TEMP_SECRET", "env:GW_TOKEN"
	signer, tl := newV4TestSigner(t, a, env, vs.URL, nil)
	client := &http.Client{Transport: &Transport{Signer: signer}}
	resp, err := client.Get(vs.URL + "/whoami")
	if err != nil {
		t.Fatal(err)
	}
	got := v4Decode(t, resp)
	if got.Status != 200 || got.Principal != v4TempKey.ARN {
		t.Fatalf("got %+v", got)
	}
	if !slices.Contains(got.SignedHeaders, "x-amz-security-token") {
		t.Errorf("x-amz-security-token is not signed: %v", got.SignedHeaders)
	}
	if strings.Contains(tl.String(), v4TempKey.SessionToken) || strings.Contains(tl.String(), v4TempKey.SecretAccessKey) {
		t.Errorf("trace leaks a secret:\n%s", tl)
	}
}

// v4Pattern yields n deterministic bytes without allocating.
type v4Pattern struct {
	n, off int64
	reads  *atomic.Int64
}

func (p *v4Pattern) Read(b []byte) (int, error) {
	if p.reads != nil {
		p.reads.Add(1)
	}
	if p.off >= p.n {
		return 0, io.EOF
	}
	if rem := p.n - p.off; int64(len(b)) > rem {
		b = b[:rem]
	}
	for i := range b {
		b[i] = byte((p.off + int64(i)) * 31 >> 3)
	}
	p.off += int64(len(b))
	return len(b), nil
}

func (p *v4Pattern) Close() error { return nil }

// The payload hash streams GetBody: a 64 MiB body is hashed with a few
// dozen KiB of allocation, and the body to be sent is not touched.
func TestSigV4StreamsBody(t *testing.T) {
	v4IsolateAWS(t)
	const size = 64 << 20
	a, env := v4StaticAuth("lambda", "us-east-1")
	signer, _ := newV4TestSigner(t, a, env, "https://abc.lambda-url.us-east-1.on.aws/", nil)
	var sendReads atomic.Int64
	req, _ := http.NewRequest("PUT", "https://abc.lambda-url.us-east-1.on.aws/upload", nil)
	req.Body = &v4Pattern{n: size, reads: &sendReads}
	req.ContentLength = size
	req.GetBody = func() (io.ReadCloser, error) { return &v4Pattern{n: size}, nil }

	h := sha256.New()
	io.CopyBuffer(h, &v4Pattern{n: size}, make([]byte, 1<<20))
	want := hex.EncodeToString(h.Sum(nil))

	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	if err := signer.Sign(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&m1)
	if alloc := m1.TotalAlloc - m0.TotalAlloc; alloc > 1<<20 {
		t.Errorf("signing a %d MiB body allocated %d KiB; the body must be streamed", size>>20, alloc>>10)
	} else {
		t.Logf("signing a %d MiB body allocated %d KiB", size>>20, alloc>>10)
	}
	if got := req.Header.Get("X-Amz-Content-Sha256"); got != want {
		t.Errorf("x-amz-content-sha256 = %s, want %s", got, want)
	}
	if sendReads.Load() != 0 {
		t.Error("signing read the body that is to be sent")
	}
	if !strings.Contains(req.Header.Get("Authorization"), "content-length;") {
		t.Errorf("content-length is not signed: %s", req.Header.Get("Authorization"))
	}
}

// Credentials never follow a redirect to another host.
func TestSigV4CrossHostRedirectUnsigned(t *testing.T) {
	v4IsolateAWS(t)
	var other http.Header
	otherSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		other = r.Header.Clone()
		io.WriteString(w, `{}`)
	}))
	defer otherSrv.Close()
	vs := newV4Server(t, sigv4verify.Options{Service: "lambda", Region: "us-east-1"}, func(w http.ResponseWriter, r *http.Request) bool {
		http.Redirect(w, r, otherSrv.URL+"/landing", http.StatusFound)
		return true
	})
	a, env := v4StaticAuth("lambda", "us-east-1")
	signer, _ := newV4TestSigner(t, a, env, vs.URL, nil)
	u, _ := url.Parse(vs.URL)
	client := &http.Client{Transport: &Transport{Signer: signer, AllowedHost: u.Host}}
	resp, err := client.Get(vs.URL + "/go")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(vs.all()) != 1 {
		t.Fatal("the first hop was not signed and verified")
	}
	if other == nil {
		t.Fatal("the redirect was not followed")
	}
	for k := range other {
		if lk := strings.ToLower(k); lk == "authorization" || strings.HasPrefix(lk, "x-amz-") {
			t.Errorf("credential header %s sent to another host", k)
		}
	}
}

func TestSigV4UnsignedPayload(t *testing.T) {
	v4IsolateAWS(t)
	a, env := v4StaticAuth("lambda", "us-east-1")
	a.UnsignedPayload = true
	d, _ := v4Deps(nil, env)
	if _, err := New(context.Background(), a, "https://x.lambda-url.us-east-1.on.aws/", d); err == nil || !strings.Contains(err.Error(), "not allowed for service lambda") {
		t.Fatalf("unsigned payload for lambda: err = %v", err)
	}

	vs := newV4Server(t, sigv4verify.Options{Service: "execute-api", Region: "us-east-1", AllowUnsignedPayload: true}, nil)
	a.Service = "execute-api"
	signer, _ := newV4TestSigner(t, a, env, vs.URL, nil)
	resp, err := (&http.Client{Transport: &Transport{Signer: signer}}).Post(vs.URL+"/x", "text/plain", strings.NewReader("body"))
	if err != nil {
		t.Fatal(err)
	}
	if got := v4Decode(t, resp); got.Status != 200 || got.Payload != awsv4.UnsignedPayload {
		t.Fatalf("got %+v", got)
	}
}

// A body without GetBody (not from the CLI) is buffered, hashed and sent.
func TestSigV4BodyWithoutGetBody(t *testing.T) {
	v4IsolateAWS(t)
	vs := newV4Server(t, sigv4verify.Options{Service: "lambda", Region: "us-east-1"}, nil)
	a, env := v4StaticAuth("lambda", "us-east-1")
	signer, _ := newV4TestSigner(t, a, env, vs.URL, nil)
	req, _ := http.NewRequest("POST", vs.URL+"/x", nil)
	req.Body = io.NopCloser(strings.NewReader("streamed"))
	req.ContentLength = -1
	resp, err := (&http.Client{Transport: &Transport{Signer: signer}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := v4Decode(t, resp); got.Status != 200 || got.BodySHA256 != v4SHA256([]byte("streamed")) {
		t.Fatalf("got %+v", got)
	}
}

// -v shows the canonical request and string to sign, never a secret.
func TestSigV4Trace(t *testing.T) {
	v4IsolateAWS(t)
	vs := newV4Server(t, sigv4verify.Options{Service: "lambda", Region: "us-east-1"}, nil)
	a, env := v4StaticAuth("lambda", "us-east-1")
	a.AccessKeyID, a.SecretAccessKey, a.SessionToken = v4TempKey.AccessKeyID, "env:GW_TEMP_SECRET", "env:GW_TOKEN"
	signer, tl := newV4TestSigner(t, a, env, vs.URL, nil)
	resp, err := (&http.Client{Transport: &Transport{Signer: signer}}).Get(vs.URL + "/items?b=2&a=1")
	if err != nil {
		t.Fatal(err)
	}
	got := v4Decode(t, resp)
	out := tl.String()
	for _, want := range []string{"sigv4: canonical request:", "\n    GET\n    /items\n    a=1&b=2\n", "sigv4: string to sign:",
		"/us-east-1/lambda/aws4_request", "x-amz-security-token:" + awsv4.Redact(v4TempKey.SessionToken), "service lambda, region us-east-1"} {
		if !strings.Contains(out, want) {
			t.Errorf("trace lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{v4TempKey.SessionToken, v4TempKey.SecretAccessKey} {
		if strings.Contains(out, secret) {
			t.Errorf("trace leaks a secret:\n%s", out)
		}
	}
	if got.Status != 200 {
		t.Fatal(got.Reason)
	}
}

// A URL that already carries query authentication is not signed again.
func TestSigV4RefusesPresignedURL(t *testing.T) {
	v4IsolateAWS(t)
	a, env := v4StaticAuth("lambda", "us-east-1")
	signer, _ := newV4TestSigner(t, a, env, "https://x.lambda-url.us-east-1.on.aws/", nil)
	req, _ := http.NewRequest("GET", "https://x.lambda-url.us-east-1.on.aws/?X-Amz-Signature=abc", nil)
	if err := signer.Sign(context.Background(), req); err == nil || !strings.Contains(err.Error(), "presigned URL") {
		t.Fatalf("err = %v", err)
	}
	req, _ = http.NewRequest("GET", "https://x.lambda-url.us-east-1.on.aws/?a=%zz", nil)
	if err := signer.Sign(context.Background(), req); err == nil || !strings.Contains(err.Error(), "invalid percent-encoding") {
		t.Fatalf("err = %v", err)
	}
}

// The Host that is sent is the Host that is signed: lower case, default
// port dropped, other ports kept.
func TestSigV4Host(t *testing.T) {
	v4IsolateAWS(t)
	a, env := v4StaticAuth("execute-api", "eu-west-1")
	signer, _ := newV4TestSigner(t, a, env, "https://API.example.com/", nil)
	for in, want := range map[string]string{
		"https://API.Example.com:443/x": "api.example.com",
		"http://api.example.com:80/x":   "api.example.com",
		"https://api.example.com:8443/": "api.example.com:8443",
		"http://[::1]:8080/":            "[::1]:8080",
		"https://bücher.example/":       "xn--bcher-kva.example",
	} {
		req, _ := http.NewRequest("GET", in, nil)
		if err := signer.Sign(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		if req.Host != want {
			t.Errorf("%s: Host = %q, want %q", in, req.Host, want)
		}
	}
}

// FuzzSigV4SignVerify is a differential check between the two halves: any
// URL the client signs (for S3 and for other services) is accepted by the
// gateway's verifier when it arrives as the client sent it.
func FuzzSigV4SignVerify(f *testing.F) {
	for _, s := range [][2]string{{"/a b/c", "q=a+b"}, {"//x/../y", "z=1&a=2"}, {"/caf%C3%A9", "%E1%88%B4=v"}, {"/a%2Fb", "k=a;b&flag"}, {"/a=b$c", ""}} {
		f.Add(s[0], s[1])
	}
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	creds := awsCredsFor(v4Key)
	verifiers := map[string]*sigv4verify.Verifier{}
	for _, svc := range []string{"lambda", "s3"} {
		v, err := sigv4verify.New(sigv4verify.Options{Service: svc, Region: "us-east-1", Now: func() time.Time { return at }}, []auth.AWSKey{v4Key})
		if err != nil {
			f.Fatal(err)
		}
		verifiers[svc] = v
	}
	signer := v4.NewSigner()
	f.Fuzz(func(t *testing.T, path, query string) {
		for svc, v := range verifiers {
			req, err := http.NewRequest("GET", "http://gw.test:8080/"+strings.TrimPrefix(path, "/")+"?"+query, nil)
			if err != nil || req.URL.Host != "gw.test:8080" || req.URL.Opaque != "" {
				return
			}
			p := v4Params{Service: svc, Region: "us-east-1", Time: at, PayloadHash: awsv4.EmptySHA256, ContentSHA256: true, Path: pathModeFor(svc)}
			if _, err := signV4(context.Background(), signer, creds, req, p); err != nil {
				return // e.g. a malformed escape: refused before sending
			}
			uri := req.URL.RequestURI()
			if strings.ContainsAny(uri, " \t\r\n") || strings.ContainsRune(uri, 0x7f) {
				t.Fatalf("%s: the signed request would put %q on the request line", svc, uri)
			}
			sreq := &http.Request{Method: "GET", RequestURI: uri, URL: req.URL, Host: req.Host, Header: req.Header.Clone(), Body: http.NoBody}
			if _, err := v.Check(sreq); err != nil {
				t.Fatalf("%s: %s?%s signed by the client, refused by the verifier: %v", svc, path, query, err)
			}
		}
	})
}

func awsCredsFor(k auth.AWSKey) aws.Credentials {
	return aws.Credentials{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey, SessionToken: k.SessionToken}
}

// The payload rules of docs/auth/sigv4.md: VPC Lattice gets UNSIGNED-PAYLOAD
// unasked, the Lambda invoke API refuses --unsigned-payload.
func TestSigV4PayloadRules(t *testing.T) {
	v4IsolateAWS(t)
	a, env := v4StaticAuth("", "")
	d, _ := v4Deps(nil, env)
	a.UnsignedPayload = true
	if _, err := New(context.Background(), a, "https://lambda.us-west-2.amazonaws.com/2015-03-31/functions/f/invocations", d); err == nil || !strings.Contains(err.Error(), "not allowed for service lambda") {
		t.Fatalf("unsigned payload for the Lambda invoke API: err = %v", err)
	}
	a.UnsignedPayload = false

	vs := newV4Server(t, sigv4verify.Options{Service: "vpc-lattice-svcs", Region: "us-west-2", AllowUnsignedPayload: true}, nil)
	const lattice = "my-svc-0a1b2c3d4e5f.7d67968.vpc-lattice-svcs.us-west-2.on.aws"
	signer, _ := newV4TestSigner(t, a, env, "https://"+lattice+"/", nil)
	req := v4Request(t, http.MethodPost, vs.URL+"/create", []byte("some-data"))
	req.Host = lattice
	if err := signer.Sign(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if got := req.Header.Get("X-Amz-Content-Sha256"); got != awsv4.UnsignedPayload {
		t.Fatalf("x-amz-content-sha256 = %q, want UNSIGNED-PAYLOAD", got)
	}
	if !strings.Contains(req.Header.Get("Authorization"), "/us-west-2/vpc-lattice-svcs/aws4_request") {
		t.Fatalf("scope: %s", req.Header.Get("Authorization"))
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := v4Decode(t, resp); got.Status != 200 || got.Payload != awsv4.UnsignedPayload {
		t.Fatalf("got %+v", got)
	}
}
