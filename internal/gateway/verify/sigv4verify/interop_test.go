package sigv4verify_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/gwcurl/gwcurl/internal/awsv4"
	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/sigv4verify"
)

const (
	interopKey    = "AKIAGWCURLINTEROP001"
	interopSecret = "gwcurlInteropSecretKey00000000000000000001"
	interopARN    = "arn:aws:iam::123456789012:user/interop"
)

// interopServer runs the verifier for service lambda, us-east-1, on the real
// clock, and answers 200 with what it verified or 403 with the reason.
func interopServer(t *testing.T) *httptest.Server {
	t.Helper()
	return interopServerAt(t, nil)
}

// interopServerAt is interopServer with the gateway clock now (nil: time.Now).
func interopServerAt(t *testing.T, now func() time.Time) *httptest.Server {
	t.Helper()
	v, err := sigv4verify.New(sigv4verify.Options{Service: "lambda", Region: "us-east-1", Now: now},
		[]auth.AWSKey{{AccessKeyID: interopKey, SecretAccessKey: interopSecret, ARN: interopARN}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := v.Verify(w, r)
		if err != nil {
			var rej *auth.Rejection
			if !errors.As(err, &rej) {
				http.Error(w, err.Error(), 500)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			json.NewEncoder(w).Encode(map[string]any{"reason": rej.Reason, "details": rej.Details,
				"authorization": r.Header.Get("Authorization"), "request_uri": r.RequestURI})
			return
		}
		body, _ := io.ReadAll(r.Body)
		sum := sha256.Sum256(body)
		json.NewEncoder(w).Encode(map[string]any{
			"principal": id.Principal, "path": r.URL.EscapedPath(), "query": r.URL.RawQuery,
			"body_sha256": hex.EncodeToString(sum[:]), "authorization": r.Header.Get("Authorization"),
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// need skips when a tool is missing, but fails under CI=true.
func need(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true: %v", what, err)
	}
	t.Skipf("%s not available: %v", what, err)
}

type interopCase struct {
	name, method, path, query string
	body                      []byte
	// curlFixed is the first curl release that signs this request the way
	// AWS canonicalizes it: 8.3.0 sorts and re-encodes the query
	// (curl#9717, curl#11806), 8.9.0 encodes the path a second time for
	// services other than S3 (curl#13754). Older curls sign the path and
	// query as sent; AWS refuses those signatures, and so must the gateway.
	curlFixed string
}

var interopCases = []interopCase{
	{name: "get", method: "GET", path: "/items"},
	{name: "post body", method: "POST", path: "/items", body: []byte(`{"name":"widget","n":1}`)},
	{name: "post binary body", method: "POST", path: "/upload", body: bytes.Repeat([]byte{0, 1, 2, 0xff, '\n'}, 3000)},
	{name: "path with space", method: "GET", path: "/a%20b/c", curlFixed: "8.9.0"},
	{name: "path with plus", method: "GET", path: "/a+b", curlFixed: "8.9.0"},
	{name: "path with encoded slash", method: "GET", path: "/a%2Fb", curlFixed: "8.9.0"},
	{name: "path non-ascii", method: "GET", path: "/caf%C3%A9/%E1%88%B4", curlFixed: "8.9.0"},
	{name: "post body path with space plus slash", method: "POST", path: "/dir%20x/a+b%2Fc", body: []byte("x"), curlFixed: "8.9.0"},
	{name: "query with space and slash", method: "GET", path: "/search", query: "q=a%20b&p=x%2Fy%2Fz&empty=", curlFixed: "8.3.0"},
	{name: "query with space and slash, in canonical order", method: "GET", path: "/search", query: "empty=&p=x%2Fy%2Fz&q=a%20b"},
	{name: "post with query", method: "POST", path: "/items", query: "dry_run=true", body: []byte("name=x&y=z")},
}

type interopResult struct {
	Status int
	Reason string         `json:"reason"`
	Detail map[string]any `json:"details"`
	URI    string         `json:"request_uri"`
	Path   string         `json:"path"`
	Query  string         `json:"query"`
	Body   string         `json:"body_sha256"`
	Prin   string         `json:"principal"`
	Authz  string         `json:"authorization"`
}

func (c interopCase) url(base string) string {
	u := base + c.path
	if c.query != "" {
		u += "?" + c.query
	}
	return u
}

func checkAccepted(t *testing.T, c interopCase, res interopResult) {
	t.Helper()
	if res.Status != 200 {
		t.Fatalf("status %d, reason %q", res.Status, res.Reason)
	}
	sum := sha256.Sum256(c.body)
	if res.Prin != interopARN || res.Body != hex.EncodeToString(sum[:]) || res.Authz != "" {
		t.Errorf("verified %+v, want principal %s, body sha256 %x, Authorization removed", res, interopARN, sum)
	}
}

func curlPath() (string, error) {
	if _, err := os.Stat("/usr/bin/curl"); err == nil {
		return "/usr/bin/curl", nil
	}
	return exec.LookPath("curl")
}

// TestInteropCurl: requests signed by curl --aws-sigv4 are accepted. For
// a curl older than the fix a case needs (see interopCase.curlFixed), the
// request is refused with "signature mismatch", as AWS refuses it, and the
// test proves that curl signed the path and query as sent rather than in
// canonical form: the gateway's canonical request with its path and query
// lines replaced by the raw ones reproduces curl's signature.
func TestInteropCurl(t *testing.T) {
	curl, err := curlPath()
	need(t, "curl", err)
	version, err := curlVersion(curl)
	if err != nil {
		t.Fatal(err)
	}
	srv := interopServer(t)
	dir := t.TempDir()
	for _, c := range interopCases {
		t.Run(c.name, func(t *testing.T) {
			res := runCurl(t, curl, dir, srv.URL, c, "aws:amz:us-east-1:lambda", interopKey+":"+interopSecret)
			if c.curlFixed == "" || !versionLess(version, c.curlFixed) {
				checkAccepted(t, c, res)
				return
			}
			if res.Status != http.StatusForbidden || res.Reason != "signature mismatch" {
				t.Fatalf("curl %s signs this request as sent, which AWS refuses; want 403 signature mismatch, got %d %q", version, res.Status, res.Reason)
			}
			provesCurlSignedRaw(t, res)
			t.Logf("curl %s mis-signs this request (fixed in %s); refused as AWS would", version, c.curlFixed)
		})
	}
}

// provesCurlSignedRaw recomputes curl's signature over the gateway's
// canonical request with the path and query as sent instead of canonical.
func provesCurlSignedRaw(t *testing.T, res interopResult) {
	t.Helper()
	cr, _ := res.Detail["canonical_request"].(string)
	sts, _ := res.Detail["string_to_sign"].(string)
	lines := strings.Split(cr, "\n")
	stsLines := strings.Split(sts, "\n")
	if len(lines) < 6 || len(stsLines) != 4 {
		t.Fatalf("no canonical request in the refusal: %+v", res)
	}
	path, query, _ := strings.Cut(res.URI, "?")
	lines[1], lines[2] = path, query
	alt := strings.Join(lines, "\n")
	altSTS := strings.Join(stsLines[:3], "\n") + "\n" + awsv4.HashHex([]byte(alt))
	scope := strings.Split(stsLines[2], "/")
	sig := awsv4.Signature(awsv4.SigningKey(interopSecret, scope[0], scope[1], scope[2]), altSTS)
	_, got, _ := strings.Cut(res.Authz, "Signature=")
	if got != sig {
		t.Fatalf("curl's signature is not over the raw path/query either; the gateway may be wrong.\ngateway canonical request:\n%s", cr)
	}
}

func curlVersion(curl string) (string, error) {
	out, err := exec.Command(curl, "--version").Output()
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(out))
	if len(f) < 2 || f[0] != "curl" {
		return "", fmt.Errorf("cannot read curl's version from %q", out)
	}
	return f[1], nil
}

// versionLess compares dotted numeric versions ("7.88.1" < "8.3.0").
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			fmt.Sscan(pa[i], &x)
		}
		if i < len(pb) {
			fmt.Sscan(pb[i], &y)
		}
		if x != y {
			return x < y
		}
	}
	return false
}

func runCurl(t *testing.T, curl, dir, base string, c interopCase, provider, user string) interopResult {
	t.Helper()
	args := []string{"-sS", "--globoff", "--path-as-is", "-X", c.method, "--aws-sigv4", provider, "--user", user, "-w", "\n%{http_code}"}
	if c.body != nil {
		f := filepath.Join(dir, "body")
		if err := os.WriteFile(f, c.body, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--data-binary", "@"+f, "-H", "Content-Type: application/octet-stream")
	}
	args = append(args, c.url(base))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, curl, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %v: %v\n%s", args, err, out)
	}
	return parseResult(t, out)
}

func parseResult(t *testing.T, out []byte) interopResult {
	t.Helper()
	s := strings.TrimRight(string(out), "\n")
	i := strings.LastIndexByte(s, '\n')
	var res interopResult
	if _, err := fmt.Sscan(s[i+1:], &res.Status); err != nil {
		t.Fatalf("no status in %q", out)
	}
	if err := json.Unmarshal([]byte(s[:i+1]), &res); err != nil {
		t.Fatalf("bad answer %q: %v", s[:i+1], err)
	}
	return res
}

// botocoreScript signs with botocore's SigV4Auth and sends the prepared
// request with urllib, printing the response body and status.
const botocoreScript = `
import sys, urllib.request, urllib.error
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
method, url, bodyfile, service, region, ak, sk = sys.argv[1:8]
body = open(bodyfile, 'rb').read() if bodyfile != '-' else None
req = AWSRequest(method=method, url=url, data=body)
SigV4Auth(Credentials(ak, sk), service, region).add_auth(req)
p = req.prepare()
r = urllib.request.Request(p.url, data=p.body if p.body else None, headers=dict(p.headers.items()), method=method)
try:
    resp = urllib.request.urlopen(r, timeout=20)
    out, status = resp.read(), resp.status
except urllib.error.HTTPError as e:
    out, status = e.read(), e.code
sys.stdout.write(out.decode() + "\n" + str(status) + "\n")
`

// python3Botocore returns a python3 that imports botocore: the one on PATH,
// else Debian's /usr/bin/python3 (python3-botocore, which .ci/run installs).
func python3Botocore() (string, error) {
	var last error = fmt.Errorf("no python3")
	for _, name := range []string{"python3", "/usr/bin/python3"} {
		py, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		out, err := exec.Command(py, "-c", "import botocore.auth").CombinedOutput()
		if err == nil {
			return py, nil
		}
		last = fmt.Errorf("python3 cannot import botocore: %v %s", err, out)
	}
	return "", last
}

// TestInteropBotocore: requests signed by botocore's SigV4Auth are accepted.
func TestInteropBotocore(t *testing.T) {
	py, err := python3Botocore()
	need(t, "python3 with botocore", err)
	srv := interopServer(t)
	dir := t.TempDir()
	for _, c := range interopCases {
		t.Run(c.name, func(t *testing.T) {
			res := runBotocore(t, py, dir, srv.URL, c, "lambda", "us-east-1", interopSecret)
			checkAccepted(t, c, res)
		})
	}
}

func runBotocore(t *testing.T, py, dir, base string, c interopCase, service, region, secret string) interopResult {
	t.Helper()
	bodyFile := "-"
	if c.body != nil {
		bodyFile = filepath.Join(dir, "body")
		if err := os.WriteFile(bodyFile, c.body, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c", botocoreScript, c.method, c.url(base), bodyFile, service, region, interopKey, secret)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	return parseResult(t, out)
}

// sdkRequest signs a request with aws-sdk-go-v2's signer (a third
// implementation besides curl and botocore) with full control over time,
// scope and payload hash, and sends it.
func sdkRequest(t *testing.T, base string, c interopCase, secret, service, region string, at time.Time, payloadHash string, extra http.Header) interopResult {
	t.Helper()
	req, err := http.NewRequest(c.method, c.url(base), bytes.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range extra {
		req.Header[k] = v
	}
	if payloadHash == "" {
		sum := sha256.Sum256(c.body)
		payloadHash = hex.EncodeToString(sum[:])
	}
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	creds := aws.Credentials{AccessKeyID: interopKey, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, payloadHash, service, region, at); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res interopResult
	json.NewDecoder(resp.Body).Decode(&res)
	res.Status = resp.StatusCode
	return res
}

// TestInteropRefusals: wrong secret, wrong scope, a stale signature, a body
// that does not match its signed hash, an unsigned payload on lambda: each
// is a 403 naming the cause. Signed by aws-sdk-go-v2, and by curl and
// botocore where they can express the fault.
func TestInteropRefusals(t *testing.T) {
	srv := interopServer(t)
	post := interopCase{method: "POST", path: "/items", body: []byte(`{"name":"widget"}`)}
	tests := []struct {
		name, secret, service, region string
		age                           time.Duration // signed this long before a fixed gateway clock
		hash                          string
		extra                         http.Header
		want                          string
	}{
		{name: "ok", want: ""},
		{name: "wrong secret", secret: "not-the-secret", want: "signature mismatch"},
		{name: "wrong region", region: "eu-west-1", want: "credential scope region: signed for eu-west-1, route expects us-east-1"},
		{name: "wrong service", service: "execute-api", want: "credential scope service: signed for execute-api, route expects lambda"},
		{name: "20 minutes old", age: 20 * time.Minute, want: "is 20m0s off the gateway clock (max 5m)"},
		{name: "body does not match hash", hash: strings.Repeat("ab", 32), want: "payload hash mismatch"},
		{name: "unsigned payload on lambda", hash: "UNSIGNED-PAYLOAD", want: "unsigned payload not allowed for service lambda"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def := func(s, d string) string {
				if s == "" {
					return d
				}
				return s
			}
			url, at := srv.URL, time.Now()
			if tt.age != 0 {
				// A fixed gateway clock, so the skew in the reason is exact.
				clock := at.Truncate(time.Second)
				url, at = interopServerAt(t, func() time.Time { return clock }).URL, clock.Add(-tt.age)
			}
			res := sdkRequest(t, url, post, def(tt.secret, interopSecret), def(tt.service, "lambda"), def(tt.region, "us-east-1"), at, tt.hash, tt.extra)
			if tt.want == "" {
				checkAccepted(t, post, res)
				return
			}
			if res.Status != http.StatusForbidden || !strings.Contains(res.Reason, tt.want) {
				t.Fatalf("got %d %q, want 403 with %q", res.Status, res.Reason, tt.want)
			}
		})
	}

	t.Run("curl", func(t *testing.T) {
		curl, err := curlPath()
		need(t, "curl", err)
		dir := t.TempDir()
		for _, tt := range []struct{ name, provider, user, want string }{
			{"wrong secret", "aws:amz:us-east-1:lambda", interopKey + ":wrong", "signature mismatch"},
			{"wrong region", "aws:amz:eu-west-1:lambda", interopKey + ":" + interopSecret, "credential scope region: signed for eu-west-1, route expects us-east-1"},
			{"wrong service", "aws:amz:us-east-1:s3", interopKey + ":" + interopSecret, "credential scope service: signed for s3, route expects lambda"},
			{"unknown key", "aws:amz:us-east-1:lambda", "AKIAUNKNOWN000000000:" + interopSecret, "unknown access key AKIAUNKNOWN000000000"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				res := runCurl(t, curl, dir, srv.URL, post, tt.provider, tt.user)
				if res.Status != http.StatusForbidden || res.Reason != tt.want {
					t.Fatalf("got %d %q, want 403 %q", res.Status, res.Reason, tt.want)
				}
			})
		}
	})
	t.Run("botocore", func(t *testing.T) {
		py, err := python3Botocore()
		need(t, "python3 with botocore", err)
		dir := t.TempDir()
		for _, tt := range []struct{ name, service, region, secret, want string }{
			{"wrong secret", "lambda", "us-east-1", "wrong", "signature mismatch"},
			{"wrong region", "lambda", "eu-west-1", interopSecret, "credential scope region: signed for eu-west-1, route expects us-east-1"},
			{"wrong service", "execute-api", "us-east-1", interopSecret, "credential scope service: signed for execute-api, route expects lambda"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				res := runBotocore(t, py, dir, srv.URL, post, tt.service, tt.region, tt.secret)
				if res.Status != http.StatusForbidden || res.Reason != tt.want {
					t.Fatalf("got %d %q, want 403 %q", res.Status, res.Reason, tt.want)
				}
			})
		}
	})
}
