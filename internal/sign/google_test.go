package sign

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"gopkg.in/yaml.v3"

	"github.com/gwcurl/gwcurl/internal/demo"
	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/googleverify"
	"github.com/gwcurl/gwcurl/internal/profiles"
)

// googleGW is a test gateway: the mock Google endpoints plus google_id
// routes whose origin answers the verified identity. It counts the requests
// each mock endpoint receives.
type googleGW struct {
	*httptest.Server
	state *googleverify.State
	env   *auth.Env
	mux   *http.ServeMux

	offset atomic.Int64 // gateway clock offset (ns), as --clock-offset

	mu     sync.Mutex
	counts map[string]int // by endpoint: token, iam, sts, metadata
}

func newGoogleGW(t *testing.T) *googleGW {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &googleGW{mux: http.NewServeMux(), counts: map[string]int{}}
	g.Server = httptest.NewUnstartedServer(g.mux)
	g.Server.Listener.Close()
	g.Server.Listener = ln
	g.env = &auth.Env{BaseURL: "http://" + ln.Addr().String(), Shared: map[string]any{},
		Now: func() time.Time { return time.Now().Add(time.Duration(g.offset.Load())) }}
	mocks, err := googleverify.Mocks(g.env)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mocks {
		h := m.Handler
		g.mux.Handle(m.Prefix, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ep := "metadata"
			switch {
			case r.URL.Path == googleverify.TokenPath:
				ep = "token"
			case strings.HasPrefix(r.URL.Path, googleverify.IAMPath):
				ep = "iam"
			case r.URL.Path == googleverify.STSPath:
				ep = "sts"
			case strings.HasPrefix(r.URL.Path, "/_mock/"):
				ep = "other"
			}
			g.mu.Lock()
			g.counts[ep]++
			g.mu.Unlock()
			h.ServeHTTP(w, r)
		}))
	}
	g.state, _ = googleverify.StateFor(g.env)
	g.Start()
	t.Cleanup(g.Close)
	// The demo route, as the embedded demo config has it.
	g.route(t, "/run", `{kind: google_id, audiences: ["${base_url}/run"]}`)
	return g
}

func (g *googleGW) route(t *testing.T, prefix, authYAML string) {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(strings.ReplaceAll(authYAML, "${base_url}", g.URL)), &n); err != nil {
		t.Fatal(err)
	}
	v, err := googleverify.Factory(n.Content[0], g.env)
	if err != nil {
		t.Fatal(err)
	}
	g.mux.Handle(prefix+"/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := v.Verify(w, r)
		var rej *auth.Rejection
		if errors.As(err, &rej) {
			w.WriteHeader(rej.Status)
			json.NewEncoder(w).Encode(map[string]any{"reason": rej.Reason})
			return
		}
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"identity": id, "headers": r.Header})
	}))
}

func (g *googleGW) count(ep string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.counts[ep]
}

func (g *googleGW) resetCounts() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.counts = map[string]int{}
}

// testDeps returns Deps with a fixed environment, a private cache and a
// trace recorder.
type traceLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *traceLog) add(f string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(f, a...))
}

func (l *traceLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func googleDeps(t *testing.T, env map[string]string) (Deps, *traceLog) {
	t.Helper()
	tl := &traceLog{}
	if env == nil {
		env = map[string]string{}
	}
	if _, ok := env["HOME"]; !ok {
		env["HOME"] = t.TempDir() // no gcloud credentials there
	}
	return Deps{
		Profile:    "p",
		HTTPClient: &http.Client{Timeout: 10 * time.Second},
		Now:        time.Now,
		Getenv:     func(k string) string { return env[k] },
		CacheDir:   filepath.Join(t.TempDir(), "cache"),
		Trace:      tl.add,
		Stderr:     io.Discard,
	}, tl
}

// noMetadataEnv never finds the metadata server without GCE_METADATA_HOST,
// even when the tests run on a Google Cloud VM.
var noMetadataEnv = googleEnv{}

type identityResp struct {
	Reason   string              `json:"reason"`
	Identity *auth.Identity      `json:"identity"`
	Headers  map[string][]string `json:"headers"`
}

// send builds the google signer for a and requests target through it.
func send(t *testing.T, a profiles.Auth, target string, d Deps) (int, identityResp) {
	t.Helper()
	gt, err := googleTokenSource(context.Background(), a, target, d, noMetadataEnv)
	if err != nil {
		t.Fatalf("signer: %v", err)
	}
	client := &http.Client{Transport: &Transport{Signer: &googleSigner{Signer: Bearer(gt, gt.header), t: gt}}}
	resp, err := client.Get(target)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	defer resp.Body.Close()
	var r identityResp
	json.NewDecoder(resp.Body).Decode(&r)
	return resp.StatusCode, r
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func demoKeyFile(t *testing.T, g *googleGW) string {
	b, err := demo.GoogleServiceAccountJSON(g.URL + googleverify.TokenPath)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, t.TempDir(), "sa.json", b)
}

func userFile(t *testing.T, g *googleGW, dir string) string {
	b, err := googleverify.AuthorizedUserJSON(g.URL + googleverify.TokenPath)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, ".config/gcloud/application_default_credentials.json", b)
}

// registerRunner registers a second service account the demo one may
// impersonate, and returns its email.
func registerRunner(t *testing.T, g *googleGW) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	const email = "runner@gwcurl-demo.iam.gserviceaccount.com"
	if err := g.state.RegisterServiceAccount(email, "k1", &k.PublicKey); err != nil {
		t.Fatal(err)
	}
	return email
}

func TestGoogleSources(t *testing.T) {
	g := newGoogleGW(t)
	runner := registerRunner(t, g)
	g.route(t, "/users", `{kind: google_id, audiences: ["`+googleverify.DemoUserClientID+`"]}`)
	pool := "//iam.googleapis.com/projects/100000000000/locations/global/workloadIdentityPools/pool/providers/prov"

	saFile := demoKeyFile(t, g)
	home := t.TempDir()
	userADC := userFile(t, g, home)
	impFile := writeFile(t, t.TempDir(), "imp.json", mustJSON(t, map[string]any{
		"type":                              "impersonated_service_account",
		"service_account_impersonation_url": g.URL + googleverify.IAMPath + "/v1/projects/-/serviceAccounts/" + runner + ":generateAccessToken",
		"source_credentials":                json.RawMessage(mustRead(t, userADC)),
		"delegates":                         []string{},
	}))
	subject, err := g.state.Sign(map[string]any{"aud": "https:" + pool, "sub": "ci-job-42"})
	if err != nil {
		t.Fatal(err)
	}
	subjectFile := writeFile(t, t.TempDir(), "subject.jwt", []byte(subject))
	extFile := writeFile(t, t.TempDir(), "ext.json", mustJSON(t, map[string]any{
		"type":                              "external_account",
		"audience":                          pool,
		"subject_token_type":                "urn:ietf:params:oauth:token-type:jwt",
		"token_url":                         g.URL + googleverify.STSPath,
		"service_account_impersonation_url": g.URL + googleverify.IAMPath + "/v1/projects/-/serviceAccounts/" + demo.GoogleServiceAccountEmail + ":generateAccessToken",
		"credential_source":                 map[string]any{"file": subjectFile, "format": map[string]string{"type": "text"}},
	}))
	host := strings.TrimPrefix(g.URL, "http://")
	runURL := g.URL + "/run/echo"
	runAud := g.URL + "/run"

	for _, tc := range []struct {
		name      string
		a         profiles.Auth
		env       map[string]string
		target    string
		principal string
		source    string // expected in the trace
		endpoints map[string]int
	}{
		{"service account key (auth.credentials)", profiles.Auth{Credentials: saFile, Audience: runAud}, nil, runURL, demo.GoogleServiceAccountEmail,
			"service_account " + demo.GoogleServiceAccountEmail, map[string]int{"token": 1}},
		{"service account key (GOOGLE_APPLICATION_CREDENTIALS)", profiles.Auth{Audience: runAud}, map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": saFile}, runURL, demo.GoogleServiceAccountEmail,
			"from GOOGLE_APPLICATION_CREDENTIALS", map[string]int{"token": 1}},
		{"authorized_user (gcloud ADC file)", profiles.Auth{}, map[string]string{"HOME": home}, g.URL + "/users/x", googleverify.DemoUserEmail,
			"authorized_user", map[string]int{"token": 1}},
		{"impersonation from a service account key", profiles.Auth{Credentials: saFile, Audience: runAud, Impersonate: runner}, nil, runURL, runner,
			"impersonating " + runner + " via generateIdToken at " + g.URL + "/_mock/google/iam (beside the local token endpoint)", map[string]int{"token": 1, "iam": 1}},
		{"impersonation from user credentials", profiles.Auth{Audience: runAud, Impersonate: runner}, map[string]string{"HOME": home}, runURL, runner,
			"authorized_user", map[string]int{"token": 1, "iam": 1}},
		{"impersonation with a delegation chain", profiles.Auth{Credentials: saFile, Audience: runAud, Impersonate: demo.GoogleServiceAccountEmail + "," + runner}, nil, runURL, runner,
			demo.GoogleServiceAccountEmail + " -> " + runner, map[string]int{"token": 1, "iam": 1}},
		{"impersonated_service_account file", profiles.Auth{Credentials: impFile, Audience: runAud}, nil, runURL, runner,
			"from service_account_impersonation_url", map[string]int{"token": 1, "iam": 1}},
		{"external_account with impersonation", profiles.Auth{Audience: runAud}, map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": extFile}, runURL, demo.GoogleServiceAccountEmail,
			"external_account", map[string]int{"sts": 1, "iam": 1}},
		{"metadata server (GCE_METADATA_HOST)", profiles.Auth{Audience: runAud}, map[string]string{"GCE_METADATA_HOST": host}, runURL, demo.GoogleServiceAccountEmail,
			"metadata server " + host, map[string]int{"metadata": 1}},
		{"metadata server with impersonation", profiles.Auth{Audience: runAud, Impersonate: runner}, map[string]string{"GCE_METADATA_HOST": host}, runURL, runner,
			"beside the local token endpoint", map[string]int{"metadata": 1, "iam": 1}},
		{"IAM endpoint from GWCURL_GOOGLE_IAM_ENDPOINT", profiles.Auth{Credentials: saFile, Audience: runAud, Impersonate: runner},
			map[string]string{EnvGoogleIAMEndpoint: strings.Replace(g.URL, "127.0.0.1", "localhost", 1) + "/_mock/google/iam/"}, runURL, runner,
			"(GWCURL_GOOGLE_IAM_ENDPOINT)", map[string]int{"token": 1, "iam": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g.resetCounts()
			d, tl := googleDeps(t, tc.env)
			for i := range 3 {
				code, r := send(t, tc.a, tc.target, d)
				if code != 200 {
					t.Fatalf("attempt %d: status %d: %s\ntrace:\n%s", i, code, r.Reason, tl)
				}
				if r.Identity.Kind != "google" || r.Identity.Principal != tc.principal {
					t.Fatalf("identity %+v, want %s", r.Identity, tc.principal)
				}
			}
			// Three requests through three signers (as three gwcurl runs):
			// one mint, then the file cache.
			for ep, want := range tc.endpoints {
				if got := g.count(ep); got != want {
					t.Errorf("%s endpoint called %d times, want %d", ep, got, want)
				}
			}
			trace := tl.String()
			if !strings.Contains(trace, tc.source) {
				t.Errorf("trace lacks %q:\n%s", tc.source, trace)
			}
			if !strings.Contains(trace, "google: id token iss=https://accounts.google.com") || !strings.Contains(trace, "token cache: hit") {
				t.Errorf("trace lacks claims or cache hit:\n%s", trace)
			}
		})
	}
}

func TestGoogleAudienceDefaultIsOrigin(t *testing.T) {
	g := newGoogleGW(t)
	g.route(t, "/origin", `{kind: google_id, audiences: ["${base_url}"]}`)
	d, _ := googleDeps(t, nil)
	sa := demoKeyFile(t, g)
	code, r := send(t, profiles.Auth{Credentials: sa}, g.URL+"/origin/a/b?c=d", d)
	if code != 200 || r.Identity.Claims["aud"] != g.URL {
		t.Fatalf("%d %s %+v", code, r.Reason, r.Identity)
	}
	// The demo route wants base_url/run: the origin is not enough, the
	// profile must name the audience.
	code, r = send(t, profiles.Auth{Credentials: sa}, g.URL+"/run/echo", d)
	if code != 403 || !strings.Contains(r.Reason, "claim aud: want "+g.URL+"/run, got "+g.URL) {
		t.Fatalf("%d %q", code, r.Reason)
	}
}

func TestGoogleServerlessHeader(t *testing.T) {
	g := newGoogleGW(t)
	d, _ := googleDeps(t, nil)
	a := profiles.Auth{Credentials: demoKeyFile(t, g), Audience: g.URL + "/run", Header: "x-serverless-authorization"}
	ts, err := googleTokenSource(context.Background(), a, g.URL+"/run/x", d, noMetadataEnv)
	if err != nil || ts.header != "X-Serverless-Authorization" {
		t.Fatalf("%v", err)
	}
	header := ts.header
	req, _ := http.NewRequest("GET", g.URL+"/run/x", nil)
	req.Header.Set("Authorization", "Basic YXBwOnNlY3JldA==")
	resp, err := (&http.Client{Transport: &Transport{Signer: Bearer(ts, header)}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r identityResp
	json.NewDecoder(resp.Body).Decode(&r)
	if resp.StatusCode != 200 || r.Headers["Authorization"][0] != "Basic YXBwOnNlY3JldA==" || r.Headers["X-Serverless-Authorization"] != nil {
		t.Fatalf("%d %+v", resp.StatusCode, r)
	}
	if _, err := googleTokenSource(context.Background(), profiles.Auth{Credentials: a.Credentials, Header: "X-Token"}, g.URL, d, noMetadataEnv); err == nil {
		t.Fatal("an arbitrary header must be refused")
	}
}

func TestGoogleCacheAcrossSigners(t *testing.T) {
	g := newGoogleGW(t)
	d, _ := googleDeps(t, nil)
	a := profiles.Auth{Credentials: demoKeyFile(t, g), Audience: g.URL + "/run"}
	var first string
	for i := range 3 {
		tok, err := googleIDTokenWith(context.Background(), a, g.URL+"/run", d)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = tok.AccessToken
		} else if tok.AccessToken != first {
			t.Fatal("a cached token was not reused")
		}
		if tok.Extra("id_token") != tok.AccessToken {
			t.Fatal("id_token extra missing")
		}
	}
	if n := g.count("token"); n != 1 {
		t.Fatalf("token endpoint called %d times for 3 mints within the token's lifetime, want 1", n)
	}
	// Another audience is another entry.
	if _, err := googleIDTokenWith(context.Background(), profiles.Auth{Credentials: a.Credentials, Audience: "https://other"}, g.URL, d); err != nil {
		t.Fatal(err)
	}
	if n := g.count("token"); n != 2 {
		t.Fatalf("token endpoint called %d times, want 2", n)
	}
	ents, _ := os.ReadDir(d.CacheDir)
	var files int
	for _, e := range ents {
		fi, _ := e.Info()
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %o", e.Name(), fi.Mode().Perm())
		}
		if strings.HasSuffix(e.Name(), ".json") {
			files++
		}
	}
	if files != 2 {
		t.Fatalf("%d cache entries, want 2", files)
	}
	// A token near expiry is re-minted: move the clock.
	later := time.Now().Add(time.Hour - 30*time.Second)
	d.Now = func() time.Time { return later }
	if _, err := googleIDTokenWith(context.Background(), a, g.URL+"/run", d); err != nil {
		t.Fatal(err)
	}
	if n := g.count("token"); n != 3 {
		t.Fatalf("token endpoint called %d times: a token within 60 s of expiry was reused", n)
	}
}

func googleIDTokenWith(ctx context.Context, a profiles.Auth, target string, d Deps) (*oauth2.Token, error) {
	ts, err := googleTokenSource(ctx, a, target, d, noMetadataEnv)
	if err != nil {
		return nil, err
	}
	return ts.Token()
}

func TestGoogleNoCredentialsFailsFast(t *testing.T) {
	g := newGoogleGW(t)
	d, _ := googleDeps(t, nil)
	start := time.Now()
	_, err := googleTokenSource(context.Background(), profiles.Auth{}, g.URL, d, noMetadataEnv)
	var ce *CredentialError
	if !errors.As(err, &ce) || !strings.Contains(ce.Hint, "gcloud auth application-default login") || !strings.Contains(ce.Hint, "GOOGLE_APPLICATION_CREDENTIALS") {
		t.Fatalf("err = %#v", err)
	}
	if time.Since(start) > time.Second {
		t.Fatal("missing credentials must fail fast")
	}
	if len(g.counts) != 0 {
		t.Fatalf("requests were made: %v", g.counts)
	}
}

func TestGoogleMetadataHostSignals(t *testing.T) {
	dmi := writeFile(t, t.TempDir(), "product_name", []byte("Google Compute Engine\n"))
	other := writeFile(t, t.TempDir(), "product_name", []byte("VirtualBox\n"))
	for _, tc := range []struct {
		name string
		env  map[string]string
		dmi  string
		want string
	}{
		{"nothing", nil, "", ""},
		{"GCE_METADATA_HOST", map[string]string{"GCE_METADATA_HOST": "127.0.0.1:9"}, "", "127.0.0.1:9"},
		{"Cloud Run", map[string]string{"K_SERVICE": "svc"}, "", metadataIP},
		{"Cloud Functions", map[string]string{"FUNCTION_TARGET": "f"}, "", metadataIP},
		{"GCE VM", nil, dmi, metadataIP},
		{"other VM", nil, other, ""},
		{"GCE_METADATA_HOST wins", map[string]string{"GCE_METADATA_HOST": "h:1", "K_SERVICE": "svc"}, dmi, "h:1"},
	} {
		genv := googleEnv{dmiProductName: tc.dmi, readFile: os.ReadFile}
		if got := metadataHost(func(k string) string { return tc.env[k] }, genv); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestGoogleCredentialErrors(t *testing.T) {
	g := newGoogleGW(t)
	dir := t.TempDir()
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	wrongKey := writeFile(t, dir, "wrong.json", mustJSON(t, map[string]string{
		"type": "service_account", "client_email": demo.GoogleServiceAccountEmail, "private_key_id": "x",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "token_uri": g.URL + googleverify.TokenPath,
	}))
	badUser := writeFile(t, dir, "user.json", mustJSON(t, map[string]string{
		"type": "authorized_user", "client_id": googleverify.DemoUserClientID, "client_secret": "nope", "refresh_token": "1//secret-refresh", "token_uri": g.URL + googleverify.TokenPath,
	}))
	extNoImp := writeFile(t, dir, "ext.json", mustJSON(t, map[string]any{
		"type": "external_account", "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q",
		"subject_token_type": "urn:ietf:params:oauth:token-type:jwt", "token_url": g.URL + googleverify.STSPath,
		"credential_source": map[string]any{"file": filepath.Join(dir, "none")},
	}))
	for _, tc := range []struct {
		name  string
		a     profiles.Auth
		build bool // the error comes when building (else when minting)
		want  string
		hint  string
	}{
		{"missing file", profiles.Auth{Credentials: filepath.Join(dir, "nope.json")}, true, "cannot read Google credentials file", "auth.credentials"},
		{"not json", profiles.Auth{Credentials: writeFile(t, dir, "x.json", []byte("hello"))}, true, "not JSON", ""},
		{"unsupported type", profiles.Auth{Credentials: writeFile(t, dir, "y.json", []byte(`{"type":"gdch_service_account"}`))}, true, `type "gdch_service_account" cannot mint ID tokens`, ""},
		{"external_account without impersonation", profiles.Auth{Credentials: extNoImp}, true, "cannot mint ID tokens by itself", "auth.impersonate"},
		{"wrong service account key", profiles.Auth{Credentials: wrongKey}, false, "Invalid JWT Signature", "create a new key"},
		{"revoked user credentials", profiles.Auth{Credentials: badUser}, false, "invalid_grant", "gcloud auth application-default login"},
		{"impersonation refused", profiles.Auth{Credentials: demoKeyFile(t, g), Impersonate: "nobody@gwcurl-demo.iam.gserviceaccount.com"}, false, "NOT_FOUND", "check the service account email"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, tl := googleDeps(t, nil)
			ts, err := googleTokenSource(context.Background(), tc.a, g.URL+"/run", d, noMetadataEnv)
			if !tc.build {
				if err != nil {
					t.Fatalf("build: %v", err)
				}
				_, err = ts.Token()
			}
			var ce *CredentialError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(ce.Hint, tc.hint) {
				t.Fatalf("err = %v (hint %q), want %q / hint %q", err, hintOf(err), tc.want, tc.hint)
			}
			for _, secret := range []string{"1//secret-refresh", "PRIVATE KEY", "eyJ"} {
				if strings.Contains(err.Error(), secret) || strings.Contains(tl.String(), secret) {
					t.Fatalf("error or trace leaks %q: %v\n%s", secret, err, tl)
				}
			}
		})
	}
}

func hintOf(err error) string {
	var ce *CredentialError
	if errors.As(err, &ce) {
		return ce.Hint
	}
	return ""
}

func TestGoogleTraceNeverShowsToken(t *testing.T) {
	g := newGoogleGW(t)
	d, tl := googleDeps(t, nil)
	tok, err := googleIDTokenWith(context.Background(), profiles.Auth{Credentials: demoKeyFile(t, g), Audience: g.URL + "/run"}, g.URL, d)
	if err != nil {
		t.Fatal(err)
	}
	trace := tl.String()
	sig := tok.AccessToken[strings.LastIndex(tok.AccessToken, ".")+1:]
	if strings.Contains(trace, sig) || strings.Contains(trace, "eyJ") {
		t.Fatalf("trace shows the token:\n%s", trace)
	}
	for _, want := range []string{"aud=" + g.URL + "/run", "email=" + demo.GoogleServiceAccountEmail, "token cache: miss google|p|" + g.URL + "/run|sa:" + demo.GoogleServiceAccountEmail} {
		if !strings.Contains(trace, want) {
			t.Errorf("trace lacks %q:\n%s", want, trace)
		}
	}
}

func TestGoogleAudience(t *testing.T) {
	for _, tc := range []struct{ target, aud, want string }{
		{"https://svc-abc.a.run.app/path?q=1", "", "https://svc-abc.a.run.app"},
		{"https://SVC.a.run.app:443/", "", "https://svc.a.run.app"},
		{"http://127.0.0.1:8080/run/echo", "", "http://127.0.0.1:8080"},
		{"http://[::1]:80/x", "", "http://[::1]"},
		{"https://x.example:8443", "", "https://x.example:8443"},
		{"https://x.example/y", "https://custom-audience", "https://custom-audience"},
		{"/relative", "", ""},
		{"ftp://x", "", ""},
	} {
		got, err := GoogleAudience(profiles.Auth{Audience: tc.aud}, tc.target)
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("%s: %q, %v; want %q", tc.target, got, err, tc.want)
		}
	}
}

func TestDecodeGoogleIDToken(t *testing.T) {
	g := newGoogleGW(t)
	tok, _ := g.state.Sign(map[string]any{"aud": "a", "email": "e@x", "email_verified": true, "sub": "1", "azp": "z"})
	c, err := DecodeGoogleIDToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Audience != "a" || c.Email != "e@x" || !c.EmailVerified || c.Subject != "1" || c.AuthorizedParty != "z" || c.Issuer != "https://accounts.google.com" || time.Until(c.Expiry) < 59*time.Minute || c.IssuedAt.IsZero() {
		t.Fatalf("%+v", c)
	}
	for _, bad := range []string{"", "a.b", "a.!!!.c", "a.bnVsbA.c"} {
		if _, err := DecodeGoogleIDToken(bad); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A cached token the gateway refuses as expired (its clock moved on, as with
// --clock-offset) is dropped and re-minted once; a freshly minted token that
// is refused is not retried.
func TestGoogleRetryRefusedCachedToken(t *testing.T) {
	g := newGoogleGW(t)
	d, tl := googleDeps(t, nil)
	a := profiles.Auth{Credentials: demoKeyFile(t, g), Audience: g.URL + "/run"}
	get := func() (int, string) {
		s, err := newGoogleWith(a, g.URL+"/run/x", d)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := (&http.Client{Transport: &Transport{Signer: s}}).Get(g.URL + "/run/x")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r identityResp
		json.NewDecoder(resp.Body).Decode(&r)
		return resp.StatusCode, r.Reason
	}
	// The cache holds a token that the client's clock (two hours slow)
	// still thinks valid, but that expired 30 minutes ago for the gateway.
	d.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	gt, err := googleTokenSource(context.Background(), a, g.URL+"/run/x", d, noMetadataEnv)
	if err != nil {
		t.Fatal(err)
	}
	stale, _ := g.state.Sign(map[string]any{"aud": g.URL + "/run", "sub": "1",
		"iat": time.Now().Add(-90 * time.Minute).Unix(), "exp": time.Now().Add(-30 * time.Minute).Unix()})
	if err := gt.cache.Put(gt.key, &oauth2.Token{AccessToken: stale, Expiry: time.Now().Add(-30 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if code, reason := get(); code != 200 {
		t.Fatalf("%d %s\n%s", code, reason, tl)
	}
	if n := g.count("token"); n != 1 {
		t.Fatalf("token endpoint called %d times, want 1 (one re-mint)", n)
	}
	if cached, _ := gt.cache.Get(gt.key); cached == nil || cached.AccessToken == stale {
		t.Fatal("the refused token is still cached")
	}
	if !strings.Contains(tl.String(), "refused the cached ID token (token expired)") {
		t.Fatalf("no retry trace:\n%s", tl)
	}
	// A token refused right after minting is not retried, and a cached one
	// only once per request.
	g.offset.Store(0)
	g.mux.HandleFunc("/always401/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(401)
	})
	for i, want := range []int{1, 1} { // empty cache: 1 mint, no retry; cached token: one retry, one mint
		g.resetCounts()
		s, err := newGoogleWith(a, g.URL+"/always401/x", d)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			d.CacheDir = t.TempDir()
			s, _ = newGoogleWith(a, g.URL+"/always401/x", d)
		}
		resp, err := (&http.Client{Transport: &Transport{Signer: s}}).Get(g.URL + "/always401/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if n := g.count("token"); n != want {
			t.Fatalf("request %d: token endpoint called %d times, want %d", i, n, want)
		}
	}
}

func newGoogleWith(a profiles.Auth, target string, d Deps) (Signer, error) {
	t, err := googleTokenSource(context.Background(), a, target, d, noMetadataEnv)
	if err != nil {
		return nil, err
	}
	return &googleSigner{Signer: Bearer(t, t.header), t: t}, nil
}
