package sigv4verify_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"gopkg.in/yaml.v3"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/sigv4verify"
)

var (
	t0      = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	userKey = auth.AWSKey{AccessKeyID: "AKIAGWCURLTEST000001", SecretAccessKey: "testSecretKey0000000000000000000000000001", ARN: "arn:aws:iam::123456789012:user/demo"}
	tempKey = auth.AWSKey{AccessKeyID: "ASIAGWCURLTEST000002", SecretAccessKey: "testSecretKey0000000000000000000000000002",
		ARN: "arn:aws:sts::123456789012:assumed-role/oncall/alice", SessionToken: "IQoJb3JpZ2luX2VjEXAMPLETOKEN/+="}
)

func newVerifier(t testing.TB, o sigv4verify.Options) *sigv4verify.Verifier {
	t.Helper()
	if o.Service == "" {
		o.Service = "lambda"
	}
	if o.Region == "" && o.Service != "sts" { // the sts case checks Region "" (any)
		o.Region = "us-east-1"
	}
	if o.Now == nil {
		o.Now = func() time.Time { return t0 }
	}
	v, err := sigv4verify.New(o, []auth.AWSKey{userKey, tempKey})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// signOpts describe one request signed with aws-sdk-go-v2's signer.
type signOpts struct {
	method, target string // target: path?query, in canonical query order
	body           []byte
	key            auth.AWSKey
	service        string
	region         string
	at             time.Time
	hash           string      // "" = SHA-256 of body
	noHashHeader   bool        // do not send x-amz-content-sha256
	header         http.Header // set before signing (signed)
	after          http.Header // set after signing (unsigned)
	presign        time.Duration
}

// signed returns the server-side view of a signed request.
func signed(t testing.TB, o signOpts) *http.Request {
	t.Helper()
	if o.method == "" {
		o.method = "POST"
	}
	if o.target == "" {
		o.target = "/items"
	}
	if o.key.AccessKeyID == "" {
		o.key = userKey
	}
	if o.service == "" {
		o.service = "lambda"
	}
	if o.region == "" {
		o.region = "us-east-1"
	}
	if o.at.IsZero() {
		o.at = t0
	}
	r := httptest.NewRequest(o.method, "http://gw.test:8080"+o.target, bytes.NewReader(o.body))
	for k, v := range o.header {
		r.Header[k] = v
	}
	hash := o.hash
	if hash == "" {
		sum := sha256.Sum256(o.body)
		hash = hex.EncodeToString(sum[:])
	}
	creds := aws.Credentials{AccessKeyID: o.key.AccessKeyID, SecretAccessKey: o.key.SecretAccessKey, SessionToken: o.key.SessionToken}
	s := v4.NewSigner()
	if o.presign > 0 {
		q := r.URL.Query()
		q.Set("X-Amz-Expires", strconv.Itoa(int(o.presign/time.Second)))
		r.URL.RawQuery = q.Encode()
		u, _, err := s.PresignHTTP(context.Background(), creds, r, hash, o.service, o.region, o.at)
		if err != nil {
			t.Fatal(err)
		}
		r = httptest.NewRequest(o.method, u, bytes.NewReader(o.body))
	} else {
		if !o.noHashHeader {
			r.Header.Set("X-Amz-Content-Sha256", hash)
		}
		if err := s.SignHTTP(context.Background(), creds, r, hash, o.service, o.region, o.at); err != nil {
			t.Fatal(err)
		}
		r.RequestURI = r.URL.RequestURI()
	}
	for k, v := range o.after {
		r.Header[k] = v
	}
	return r
}

func wantReject(t *testing.T, err error, status int, reason string) *auth.Rejection {
	t.Helper()
	var rej *auth.Rejection
	if !errors.As(err, &rej) {
		t.Fatalf("want a rejection %q, got %v", reason, err)
	}
	if !strings.Contains(rej.Reason, reason) {
		t.Fatalf("reason = %q, want it to contain %q", rej.Reason, reason)
	}
	if st := rej.Status; st != status && !(st == 0 && status == 403) {
		t.Fatalf("status = %d, want %d", st, status)
	}
	return rej
}

func TestRules(t *testing.T) {
	body := []byte(`{"name":"widget"}`)
	tests := []struct {
		name   string
		opts   sigv4verify.Options
		req    func(t *testing.T) *http.Request
		status int    // 0: accepted
		reason string // substring
	}{
		{name: "accepted", req: func(t *testing.T) *http.Request { return signed(t, signOpts{body: body}) }},
		{name: "accepted without x-amz-content-sha256", req: func(t *testing.T) *http.Request { return signed(t, signOpts{body: body, noHashHeader: true}) }},
		{name: "accepted with session token", req: func(t *testing.T) *http.Request { return signed(t, signOpts{body: body, key: tempKey}) }},
		{name: "accepted at the edge of the skew", req: func(t *testing.T) *http.Request { return signed(t, signOpts{at: t0.Add(-5 * time.Minute)}) }},
		{name: "no credentials", status: 403, reason: "missing AWS SigV4 authentication",
			req: func(t *testing.T) *http.Request { return httptest.NewRequest("GET", "/items", nil) }},
		{name: "bearer instead", status: 401, reason: "not AWS SigV4", req: func(t *testing.T) *http.Request {
			r := httptest.NewRequest("GET", "/items", nil)
			r.Header.Set("Authorization", "Bearer abc.def.ghi")
			return r
		}},
		{name: "sigv4a", reason: "SigV4a", req: func(t *testing.T) *http.Request {
			r := signed(t, signOpts{})
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256", 1))
			return r
		}},
		{name: "header and query auth", reason: "use exactly one", req: func(t *testing.T) *http.Request {
			r := signed(t, signOpts{target: "/items?X-Amz-Signature=" + strings.Repeat("0", 64)})
			return r
		}},
		{name: "two Authorization headers", reason: "sent 2 times", req: func(t *testing.T) *http.Request {
			r := signed(t, signOpts{})
			r.Header.Add("Authorization", r.Header.Get("Authorization"))
			return r
		}},
		{name: "duplicate Credential", reason: "Credential appears twice", req: func(t *testing.T) *http.Request {
			r := signed(t, signOpts{})
			a := r.Header.Get("Authorization")
			cred := a[strings.Index(a, "Credential="):strings.Index(a, ",")]
			r.Header.Set("Authorization", a+", "+cred)
			return r
		}},
		{name: "unknown field", reason: `unexpected field "Foo"`, req: func(t *testing.T) *http.Request {
			r := signed(t, signOpts{})
			r.Header.Set("Authorization", r.Header.Get("Authorization")+", Foo=bar")
			return r
		}},
		{name: "signature missing", reason: "Signature is missing", req: func(t *testing.T) *http.Request {
			r := signed(t, signOpts{})
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", a[:strings.Index(a, ", Signature=")])
			return r
		}},
		{name: "credential with 4 parts", reason: "malformed credential", req: func(t *testing.T) *http.Request {
			r := signed(t, signOpts{})
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/aws4_request", "", 1))
			return r
		}},
		{name: "unsorted SignedHeaders", reason: "must be sorted", req: func(t *testing.T) *http.Request {
			r := signed(t, signOpts{})
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "SignedHeaders=", "SignedHeaders=x-amz-date;", 1))
			return r
		}},
		{name: "upper-case signature", reason: "malformed signature", req: func(t *testing.T) *http.Request {
			r := signed(t, signOpts{})
			a := r.Header.Get("Authorization")
			i := strings.Index(a, "Signature=") + len("Signature=")
			r.Header.Set("Authorization", a[:i]+strings.ToUpper(a[i:]))
			return r
		}},
		{name: "wrong secret", reason: "signature mismatch", req: func(t *testing.T) *http.Request {
			k := userKey
			k.SecretAccessKey = "wrong"
			return signed(t, signOpts{key: k})
		}},
		{name: "unknown key", reason: "unknown access key AKIAUNKNOWN", req: func(t *testing.T) *http.Request {
			return signed(t, signOpts{key: auth.AWSKey{AccessKeyID: "AKIAUNKNOWN", SecretAccessKey: "x"}})
		}},
		{name: "wrong region", reason: "credential scope region: signed for eu-west-1, route expects us-east-1",
			req: func(t *testing.T) *http.Request { return signed(t, signOpts{region: "eu-west-1"}) }},
		{name: "any region when none configured", opts: sigv4verify.Options{Service: "sts", Region: ""},
			req: func(t *testing.T) *http.Request { return signed(t, signOpts{region: "eu-west-1", service: "sts"}) }},
		{name: "wrong service", reason: "credential scope service: signed for s3, route expects lambda",
			req: func(t *testing.T) *http.Request { return signed(t, signOpts{service: "s3"}) }},
		{name: "20 minutes old", reason: "request time 2026-05-01T11:40:00Z is 20m0s off the gateway clock (max 5m)",
			req: func(t *testing.T) *http.Request { return signed(t, signOpts{at: t0.Add(-20 * time.Minute)}) }},
		{name: "from the future", reason: "is 6m0s off the gateway clock (max 5m)",
			req: func(t *testing.T) *http.Request { return signed(t, signOpts{at: t0.Add(6 * time.Minute)}) }},
		{name: "custom skew", opts: sigv4verify.Options{MaxSkew: 30 * time.Minute},
			req: func(t *testing.T) *http.Request { return signed(t, signOpts{at: t0.Add(-20 * time.Minute)}) }},
		{name: "scope date differs from x-amz-date", reason: "credential scope date 20260430 does not match", req: func(t *testing.T) *http.Request {
			r := signed(t, signOpts{})
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/20260501/", "/20260430/", 1))
			return r
		}},
		{name: "x-amz-date sent twice", reason: "x-amz-date was sent 2 times", req: func(t *testing.T) *http.Request {
			r := signed(t, signOpts{})
			r.Header.Add("X-Amz-Date", "20260501T120000Z")
			return r
		}},
		{name: "unsigned x-amz header", reason: "x-amz-foo is present but not signed",
			req: func(t *testing.T) *http.Request { return signed(t, signOpts{after: http.Header{"X-Amz-Foo": {"bar"}}}) }},
		{name: "signed x-amz header", req: func(t *testing.T) *http.Request {
			return signed(t, signOpts{header: http.Header{"X-Amz-Foo": {"bar"}}})
		}},
		{name: "signed header removed", reason: "signed header x-custom is not in the request", req: func(t *testing.T) *http.Request {
			r := signed(t, signOpts{header: http.Header{"X-Custom": {"v"}}})
			r.Header.Del("X-Custom")
			return r
		}},
		{name: "signed header changed", reason: "signature mismatch", req: func(t *testing.T) *http.Request {
			r := signed(t, signOpts{header: http.Header{"X-Custom": {"v"}}})
			r.Header.Set("X-Custom", "w")
			return r
		}},
		{name: "host changed", reason: "signature mismatch", req: func(t *testing.T) *http.Request {
			r := signed(t, signOpts{})
			r.Host = "gw.test:8081"
			return r
		}},
		{name: "host not signed", reason: "host is not signed", req: func(t *testing.T) *http.Request {
			r := signed(t, signOpts{})
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", strings.Replace(a, "host;", "", 1))
			return r
		}},
		{name: "body swapped", reason: "payload hash mismatch", req: func(t *testing.T) *http.Request {
			r := signed(t, signOpts{body: body})
			r.Body = io.NopCloser(strings.NewReader(`{"name":"evil"}`))
			return r
		}},
		{name: "body swapped, no hash header", reason: "signature mismatch", req: func(t *testing.T) *http.Request {
			r := signed(t, signOpts{body: body, noHashHeader: true})
			r.Body = io.NopCloser(strings.NewReader(`{"name":"evil"}`))
			return r
		}},
		{name: "unsigned payload on lambda", reason: "unsigned payload not allowed for service lambda",
			req: func(t *testing.T) *http.Request { return signed(t, signOpts{body: body, hash: "UNSIGNED-PAYLOAD"}) }},
		{name: "unsigned payload where allowed", opts: sigv4verify.Options{Service: "execute-api", AllowUnsignedPayload: true},
			req: func(t *testing.T) *http.Request {
				return signed(t, signOpts{body: body, hash: "UNSIGNED-PAYLOAD", service: "execute-api"})
			}},
		{name: "streaming payload", reason: "streaming payload signing", req: func(t *testing.T) *http.Request {
			return signed(t, signOpts{body: body, hash: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"})
		}},
		{name: "bad payload hash", reason: "neither a lower-case hex SHA-256", req: func(t *testing.T) *http.Request {
			return signed(t, signOpts{body: body, hash: "ABC"})
		}},
		{name: "s3 requires the hash header", opts: sigv4verify.Options{Service: "s3"}, reason: "x-amz-content-sha256 header is required by s3",
			req: func(t *testing.T) *http.Request { return signed(t, signOpts{service: "s3", noHashHeader: true}) }},
		{name: "temporary key without token", reason: "X-Amz-Security-Token is missing", req: func(t *testing.T) *http.Request {
			k := tempKey
			k.SessionToken = ""
			return signed(t, signOpts{key: k})
		}},
		{name: "temporary key with another token", reason: "does not belong to access key ASIAGWCURLTEST000002", req: func(t *testing.T) *http.Request {
			k := tempKey
			k.SessionToken = "other"
			return signed(t, signOpts{key: k})
		}},
		{name: "token with a long-term key", reason: "sent with the long-term access key", req: func(t *testing.T) *http.Request {
			k := userKey
			k.SessionToken = "tok"
			return signed(t, signOpts{key: k})
		}},
		{name: "token added after signing", reason: "x-amz-security-token is present but not signed", req: func(t *testing.T) *http.Request {
			k := tempKey
			k.SessionToken = ""
			return signed(t, signOpts{key: k, after: http.Header{"X-Amz-Security-Token": {tempKey.SessionToken}}})
		}},
		// Presigned (query) authentication.
		{name: "presigned", req: func(t *testing.T) *http.Request {
			return signed(t, signOpts{method: "GET", body: nil, presign: 15 * time.Minute})
		}},
		{name: "presigned with token", req: func(t *testing.T) *http.Request {
			return signed(t, signOpts{method: "GET", key: tempKey, presign: time.Minute})
		}},
		{name: "presigned expired", reason: "presigned request expired at 2026-05-01T11:55:00Z", req: func(t *testing.T) *http.Request {
			return signed(t, signOpts{method: "GET", presign: 5 * time.Minute, at: t0.Add(-10 * time.Minute)})
		}},
		{name: "presigned capped by MaxPresignAge", opts: sigv4verify.Options{MaxPresignAge: 15 * time.Minute},
			reason: "presigned request expired", req: func(t *testing.T) *http.Request {
				return signed(t, signOpts{method: "GET", presign: time.Hour, at: t0.Add(-20 * time.Minute)})
			}},
		{name: "presigned old but valid", req: func(t *testing.T) *http.Request {
			return signed(t, signOpts{method: "GET", presign: time.Hour, at: t0.Add(-50 * time.Minute)})
		}},
		{name: "presigned expires too long", reason: "X-Amz-Expires \"604801\" must be", req: func(t *testing.T) *http.Request {
			return signed(t, signOpts{method: "GET", presign: 604801 * time.Second})
		}},
		{name: "presigned case-folded duplicate", reason: `"x-amz-signature" must be spelled X-Amz-Signature`, req: func(t *testing.T) *http.Request {
			r := signed(t, signOpts{method: "GET", presign: time.Minute})
			r.RequestURI += "&x-amz-signature=" + strings.Repeat("0", 64)
			return r
		}},
		{name: "presigned duplicate date", reason: "X-Amz-Date appears twice", req: func(t *testing.T) *http.Request {
			r := signed(t, signOpts{method: "GET", presign: time.Minute})
			r.RequestURI += "&X-Amz-Date=20260501T120000Z"
			return r
		}},
		{name: "presigned query tampered", reason: "signature mismatch", req: func(t *testing.T) *http.Request {
			r := signed(t, signOpts{method: "GET", target: "/items?limit=10", presign: time.Minute})
			r.RequestURI = strings.Replace(r.RequestURI, "limit=10", "limit=11", 1)
			return r
		}},
		{name: "presigned lacks expires", reason: "lacks the X-Amz-Expires", req: func(t *testing.T) *http.Request {
			r := signed(t, signOpts{method: "GET", presign: time.Minute})
			i := strings.Index(r.RequestURI, "X-Amz-Expires=")
			j := strings.Index(r.RequestURI[i:], "&")
			r.RequestURI = r.RequestURI[:i] + r.RequestURI[i+j+1:]
			return r
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, tt.opts)
			r := tt.req(t)
			res, err := v.Check(r)
			if tt.reason == "" && tt.status == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if res.Key.AccessKeyID == "" {
					t.Fatal("no key in result")
				}
				return
			}
			status := tt.status
			if status == 0 {
				status = 403
			}
			rej := wantReject(t, err, status, tt.reason)
			if strings.Contains(rej.Reason, userKey.SecretAccessKey) || strings.Contains(rej.Reason, tempKey.SessionToken) {
				t.Fatalf("secret in reason %q", rej.Reason)
			}
			for k, d := range rej.Details {
				s, _ := d.(string)
				if strings.Contains(s, userKey.SecretAccessKey) || strings.Contains(s, tempKey.SecretAccessKey) {
					t.Fatalf("secret in detail %s", k)
				}
			}
		})
	}
}

// A refused signature carries the canonical request and string to sign the
// gateway computed, and never the expected signature.
func TestRejectionDetails(t *testing.T) {
	v := newVerifier(t, sigv4verify.Options{})
	k := userKey
	k.SecretAccessKey = "wrong"
	r := signed(t, signOpts{key: k, target: "/a%20b?z=1&a=2", header: http.Header{"X-Custom": {"  a   b  "}}})
	_, err := v.Check(r)
	rej := wantReject(t, err, 403, "signature mismatch")
	cr, _ := rej.Details["canonical_request"].(string)
	want := "POST\n/a%2520b\na=2&z=1\n"
	if !strings.HasPrefix(cr, want) || !strings.Contains(cr, "\nx-custom:a b\n") {
		t.Errorf("canonical request = %q, want prefix %q and trimmed x-custom", cr, want)
	}
	if sts, _ := rej.Details["string_to_sign"].(string); !strings.HasPrefix(sts, "AWS4-HMAC-SHA256\n20260501T120000Z\n20260501/us-east-1/lambda/aws4_request\n") {
		t.Errorf("string to sign = %q", sts)
	}
	_, sig, _ := strings.Cut(r.Header.Get("Authorization"), "Signature=")
	for _, d := range rej.Details {
		if s, _ := d.(string); strings.Contains(s, sig) {
			t.Error("the client's signature is echoed")
		}
	}
}

// Verify leaves the origin a request without the consumed credentials and
// with the body intact; Identity has the Lambda URL requestContext shape.
func TestVerifyIdentityAndCleanup(t *testing.T) {
	v := newVerifier(t, sigv4verify.Options{})
	body := []byte("hello")
	r := signed(t, signOpts{key: tempKey, body: body})
	id, err := v.Verify(httptest.NewRecorder(), r)
	if err != nil {
		t.Fatal(err)
	}
	if id.Kind != "sigv4" || id.Principal != tempKey.ARN {
		t.Errorf("identity = %+v", id)
	}
	for _, k := range []string{"accessKey", "accountId", "callerId", "userArn", "userId"} {
		if _, ok := id.Claims[k]; !ok {
			t.Errorf("claim %s missing: %v", k, id.Claims)
		}
	}
	if id.Claims["accountId"] != "123456789012" || id.Claims["accessKey"] != tempKey.AccessKeyID {
		t.Errorf("claims = %v", id.Claims)
	}
	if cid, _ := id.Claims["callerId"].(string); !strings.HasPrefix(cid, "AROA") || !strings.HasSuffix(cid, ":alice") {
		t.Errorf("callerId = %q, want AROA…:alice", cid)
	}
	if r.Header.Get("Authorization") != "" || r.Header.Get("X-Amz-Security-Token") != "" {
		t.Error("credentials left for the origin")
	}
	if b, _ := io.ReadAll(r.Body); !bytes.Equal(b, body) {
		t.Errorf("body = %q", b)
	}

	p := signed(t, signOpts{method: "GET", target: "/items?limit=5", key: tempKey, presign: time.Minute})
	if _, err := v.Verify(httptest.NewRecorder(), p); err != nil {
		t.Fatal(err)
	}
	if q := p.URL.RawQuery; strings.Contains(q, "X-Amz-Signature") || strings.Contains(q, "X-Amz-Security-Token") || !strings.Contains(q, "limit=5") {
		t.Errorf("query left for the origin = %q", q)
	}
}

func TestCallerIDs(t *testing.T) {
	for _, tt := range []struct{ arn, account, prefix, suffix string }{
		{"arn:aws:iam::123456789012:user/demo", "123456789012", "AIDA", ""},
		{"arn:aws:iam::123456789012:role/oncall", "123456789012", "AROA", ""},
		{"arn:aws:sts::123456789012:assumed-role/oncall/alice", "123456789012", "AROA", ":alice"},
		{"arn:aws:iam::123456789012:root", "123456789012", "123456789012", ""},
	} {
		acct, uid := sigv4verify.CallerIDs(tt.arn)
		if acct != tt.account || !strings.HasPrefix(uid, tt.prefix) || !strings.HasSuffix(uid, tt.suffix) {
			t.Errorf("CallerIDs(%s) = %s, %s", tt.arn, acct, uid)
		}
		if _, again := sigv4verify.CallerIDs(tt.arn); again != uid {
			t.Errorf("CallerIDs(%s) is not stable", tt.arn)
		}
	}
	// The assumed role's id is the role's id plus the session.
	_, role := sigv4verify.CallerIDs("arn:aws:iam::123456789012:role/oncall")
	_, sess := sigv4verify.CallerIDs("arn:aws:sts::123456789012:assumed-role/oncall/alice")
	if sess != role+":alice" {
		t.Errorf("assumed-role id %s, role id %s", sess, role)
	}
}

// A body larger than SpoolMemory goes through a temporary file that is
// gone from the directory at once; the origin still reads it all.
func TestSpoolLargeBody(t *testing.T) {
	dir := t.TempDir()
	v := newVerifier(t, sigv4verify.Options{SpoolMemory: 1024, TempDir: dir})
	body := bytes.Repeat([]byte("0123456789abcdef"), 64*1024) // 1 MiB
	for _, noHash := range []bool{false, true} {
		r := signed(t, signOpts{body: body, noHashHeader: noHash})
		if _, err := v.Verify(httptest.NewRecorder(), r); err != nil {
			t.Fatal(err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("temporary files left: %v", ents)
		}
		got, err := io.ReadAll(r.Body)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("origin read %d bytes (%v), want %d", len(got), err, len(body))
		}
		r.Body.Close()
	}
}

// The gateway's body limit surfaces as *http.MaxBytesError (413), not as a
// refusal.
func TestBodyLimitPassesThrough(t *testing.T) {
	v := newVerifier(t, sigv4verify.Options{})
	r := signed(t, signOpts{body: bytes.Repeat([]byte("x"), 100)})
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 10)
	_, err := v.Check(r)
	var mb *http.MaxBytesError
	if !errors.As(err, &mb) {
		t.Fatalf("err = %v, want *http.MaxBytesError", err)
	}
}

func TestFactory(t *testing.T) {
	env := &auth.Env{Now: func() time.Time { return t0 }, AWSKeys: []auth.AWSKey{userKey}}
	tests := []struct{ yaml, err string }{
		{yaml: "{kind: sigv4, service: lambda, region: us-east-1}"},
		{yaml: "{kind: sigv4, service: s3, region: eu-west-1, allow_unsigned_payload: true, max_skew: 15m}"},
		{yaml: "{kind: sigv4, region: us-east-1}", err: "service: required"},
		{yaml: "{kind: sigv4, service: lambda}", err: "region: required"},
		{yaml: "{kind: sigv4, service: lambda, region: us-east-1, allow_unsigned_payload: true}", err: "lambda does not accept unsigned payloads"},
		{yaml: "{kind: sigv4, service: lambda, region: us-east-1, max_skew: soon}", err: `max_skew (line 1): "soon" is not a positive duration`},
		{yaml: "{kind: sigv4, service: lambda, region: us-east-1, max_skew: -1m}", err: "max_skew"},
		{yaml: "{kind: sigv4, service: lambda, region: us-east-1, allow_unsigned_payload: maybe}", err: "allow_unsigned_payload (line 1)"},
		{yaml: "{kind: sigv4, service: lambda, region: us-east-1, secret: x}", err: `line 1: unknown key "secret" in kind sigv4`},
		{yaml: "{kind: jwt, service: lambda, region: us-east-1}", err: `kind: "jwt" is not sigv4`},
		{yaml: "[1, 2]", err: "want a mapping"},
	}
	for _, tt := range tests {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(tt.yaml), &doc); err != nil {
			t.Fatal(err)
		}
		v, err := sigv4verify.Factory(doc.Content[0], env)
		if tt.err == "" {
			if err != nil || v == nil {
				t.Errorf("%s: %v", tt.yaml, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: err = %v, want %q", tt.yaml, err, tt.err)
		}
	}

	// A verifier from the factory uses env's keys and clock.
	var doc yaml.Node
	yaml.Unmarshal([]byte("{kind: sigv4, service: lambda, region: us-east-1, max_skew: 1m}"), &doc)
	v, err := sigv4verify.Factory(doc.Content[0], env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(httptest.NewRecorder(), signed(t, signOpts{})); err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(httptest.NewRecorder(), signed(t, signOpts{at: t0.Add(-2 * time.Minute)}))
	wantReject(t, err, 403, "(max 1m)")
	_, err = v.Verify(httptest.NewRecorder(), signed(t, signOpts{key: tempKey}))
	wantReject(t, err, 403, "unknown access key "+tempKey.AccessKeyID)
}

func TestNewValidation(t *testing.T) {
	if _, err := sigv4verify.New(sigv4verify.Options{Service: "lambda"}, []auth.AWSKey{{AccessKeyID: "A"}}); err == nil {
		t.Error("a key without a secret is accepted")
	}
	if _, err := sigv4verify.New(sigv4verify.Options{Service: "lambda"}, []auth.AWSKey{{AccessKeyID: "A", SecretAccessKey: "1"}, {AccessKeyID: "A", SecretAccessKey: "2"}}); err == nil {
		t.Error("conflicting duplicate keys are accepted")
	}
}

// The verifier is safe for concurrent use (run with -race).
func TestConcurrent(t *testing.T) {
	v := newVerifier(t, sigv4verify.Options{SpoolMemory: 64})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := bytes.Repeat([]byte{byte(i)}, 100+i)
			r := signed(t, signOpts{body: body, key: []auth.AWSKey{userKey, tempKey}[i%2]})
			if _, err := v.Verify(httptest.NewRecorder(), r); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}
