package sign

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/sigv4verify"
	"github.com/gwcurl/gwcurl/internal/profiles"
)

// Test keys for the gateway-side verifier.
var (
	v4Key = auth.AWSKey{AccessKeyID: "AKIAGWCURLSIGN000001", SecretAccessKey: "signTestSecretKey000000000000000000000001",
		ARN: "arn:aws:iam::123456789012:user/demo"}
	v4TempKey = auth.AWSKey{AccessKeyID: "ASIAGWCURLSIGN000002", SecretAccessKey: "signTestSecretKey000000000000000000000002",
		ARN: "arn:aws:sts::123456789012:assumed-role/oncall/alice", SessionToken: "IQoJb3JpZ2luX2VjTESTSESSIONTOKEN+/="}
)

// v4IsolateAWS points every AWS config source at an empty temp dir and turns
// the instance metadata service off, so the SDK chain sees nothing of the
// machine running the test and never leaves 127.0.0.1.
func v4IsolateAWS(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for _, k := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY", "AWS_SECRET_KEY",
		"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_EXECUTION_ENV", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS",
	} {
		t.Setenv(k, "")
	}
	return dir
}

// v4Trace collects Deps.Trace output.
type v4Trace struct {
	mu    sync.Mutex
	lines []string
}

func (l *v4Trace) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *v4Trace) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// v4Deps are Deps whose environment is env layered over the process's.
func v4Deps(now func() time.Time, env map[string]string) (Deps, *v4Trace) {
	tl := &v4Trace{}
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
	if now == nil {
		now = time.Now
	}
	return Deps{
		Profile: "test", HTTPClient: &http.Client{Timeout: 10 * time.Second}, Now: now, Getenv: getenv,
		Secrets: &profiles.Resolver{Getenv: getenv}, Stderr: io.Discard, Trace: tl.add,
	}, tl
}

// v4StaticAuth is an auth block with the test key, its secret in $GW_SECRET.
func v4StaticAuth(service, region string) (profiles.Auth, map[string]string) {
	return profiles.Auth{Kind: "sigv4", AccessKeyID: v4Key.AccessKeyID, SecretAccessKey: "env:GW_SECRET", Service: service, Region: region},
		map[string]string{"GW_SECRET": v4Key.SecretAccessKey, "GW_TEMP_SECRET": v4TempKey.SecretAccessKey, "GW_TOKEN": v4TempKey.SessionToken}
}

// v4Seen is what the verifying server saw of one request.
type v4Seen struct {
	Status        int      `json:"-"`
	Reason        string   `json:"reason"`
	Method        string   `json:"method"`
	RequestURI    string   `json:"request_uri"`
	Query         string   `json:"query"`
	BodySHA256    string   `json:"body_sha256"`
	Principal     string   `json:"principal"`
	SignedHeaders []string `json:"signed_headers"`
	Date          string   `json:"date"`
	Payload       string   `json:"payload"`
	Canonical     string   `json:"canonical"`
}

// v4Server runs the gateway's sigv4 verifier and answers what it
// saw; every verified request is also recorded.
type v4Server struct {
	*httptest.Server
	mu  sync.Mutex
	log []v4Seen
}

func newV4Server(t *testing.T, opts sigv4verify.Options, route func(w http.ResponseWriter, r *http.Request) bool) *v4Server {
	t.Helper()
	v, err := sigv4verify.New(opts, []auth.AWSKey{v4Key, v4TempKey})
	if err != nil {
		t.Fatal(err)
	}
	vs := &v4Server{}
	vs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		uri := r.RequestURI
		res, err := v.Check(r)
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			var rej *auth.Rejection
			if !errors.As(err, &rej) {
				http.Error(w, err.Error(), 500)
				return
			}
			w.WriteHeader(http.StatusForbidden)
			cr, _ := rej.Details["canonical_request"].(string)
			json.NewEncoder(w).Encode(v4Seen{Reason: rej.Reason, Canonical: cr})
			return
		}
		body, _ := io.ReadAll(r.Body)
		sum := sha256.Sum256(body)
		s := v4Seen{Method: r.Method, RequestURI: uri, Query: r.URL.RawQuery, BodySHA256: hex.EncodeToString(sum[:]),
			Principal: res.Key.ARN, SignedHeaders: res.SignedHeaders, Date: r.Header.Get("X-Amz-Date"), Payload: res.PayloadHash}
		vs.mu.Lock()
		vs.log = append(vs.log, s)
		vs.mu.Unlock()
		if route != nil && route(w, r) {
			return
		}
		json.NewEncoder(w).Encode(s)
	}))
	t.Cleanup(vs.Close)
	return vs
}

func (vs *v4Server) all() []v4Seen {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	return append([]v4Seen(nil), vs.log...)
}

func v4Decode(t *testing.T, resp *http.Response) v4Seen {
	t.Helper()
	defer resp.Body.Close()
	var s v4Seen
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("status %d, body %q: %v", resp.StatusCode, b, err)
	}
	s.Status = resp.StatusCode
	return s
}

func v4SHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
