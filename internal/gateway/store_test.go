package gateway_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
	"github.com/gwcurl/gwcurl/internal/redistest"
)

// startRedis runs a real redis-server on loopback for the test.
func startRedis(t *testing.T) string { return redistest.StartT(t) }

// twoGateways starts two gateway instances with the same config, sharing
// the store at redisURL (each on its own loopback server, as two edge
// locations).
func twoGateways(t *testing.T, yamlText string, opts gateway.Options) (*gatewaytest.Server, *gatewaytest.Server) {
	t.Helper()
	return gatewaytest.StartYAML(t, yamlText, opts), gatewaytest.StartYAML(t, yamlText, opts)
}

// TestSharedStoreRateLimit is the acceptance point: a burst split between
// two instances sharing one Redis gets 429s at the configured total, not
// at twice it.
func TestSharedStoreRateLimit(t *testing.T) {
	t.Parallel()
	url := startRedis(t)
	clk := &fakeClock{t: time.Now()} // frozen: no token comes back during the burst
	cfg := `
store: {redis: "` + url + `"}
routes:
  - {prefix: /limited, auth: {kind: none}, upstream: builtin:echo, rate_limit: {rps: 1, burst: 10}}
`
	a, b := twoGateways(t, cfg, gateway.Options{Now: clk.now})
	var ok, limited atomic.Int64
	var wg sync.WaitGroup
	for i := range 30 {
		base := a.URL
		if i%2 == 1 {
			base = b.URL
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(base + "/limited/x")
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			switch resp.StatusCode {
			case 200:
				ok.Add(1)
			case 429:
				limited.Add(1)
				if resp.Header.Get("Retry-After") == "" {
					t.Error("429 without Retry-After")
				}
			default:
				t.Errorf("status %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 10 || limited.Load() != 20 {
		t.Fatalf("combined burst: %d allowed, %d limited; want 10 and 20", ok.Load(), limited.Load())
	}
	// The bucket refills at 1/s on the gateway clock, for both instances.
	clk.add(2 * time.Second)
	got := []int{do(t, "GET", a.URL+"/limited/x", nil).status, do(t, "GET", b.URL+"/limited/x", nil).status, do(t, "GET", a.URL+"/limited/x", nil).status}
	if fmt.Sprint(got) != "[200 200 429]" {
		t.Errorf("after 2 s: %v, want [200 200 429]", got)
	}
}

// TestSharedStoreCache: an answer stored by one instance is a HIT on the
// other, with the Age of the shared entry.
func TestSharedStoreCache(t *testing.T) {
	t.Parallel()
	url := startRedis(t)
	var n atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("Vary", "Accept-Language")
		fmt.Fprintf(w, "answer %d", n.Add(1))
	}))
	t.Cleanup(up.Close)
	clk := &fakeClock{t: time.Now()}
	a, b := twoGateways(t, `
store: {redis: "`+url+`"}
routes:
  - {prefix: /c, auth: {kind: none}, upstream: "`+up.URL+`", cache: {}}
`, gateway.Options{Now: clk.now})
	first := do(t, "GET", a.URL+"/c/x", nil, "Accept-Language", "en")
	if first.header.Get("X-Cache") != "MISS" {
		t.Fatalf("first: X-Cache %q", first.header.Get("X-Cache"))
	}
	clk.add(7 * time.Second)
	r := do(t, "GET", b.URL+"/c/x", nil, "Accept-Language", "en")
	if r.header.Get("X-Cache") != "HIT" || r.header.Get("Age") != "7" || string(r.body) != string(first.body) {
		t.Errorf("other instance: X-Cache %q Age %q body %q", r.header.Get("X-Cache"), r.header.Get("Age"), r.body)
	}
	if r := do(t, "GET", b.URL+"/c/x", nil, "Accept-Language", "fr"); r.header.Get("X-Cache") != "MISS" {
		t.Errorf("Vary ignored by the shared cache: %q", r.header.Get("X-Cache"))
	}
	clk.add(60 * time.Second)
	if r := do(t, "GET", a.URL+"/c/x", nil, "Accept-Language", "en"); r.header.Get("X-Cache") != "MISS" {
		t.Errorf("stale shared entry served: %q", r.header.Get("X-Cache"))
	}
	if n.Load() != 3 {
		t.Errorf("origin saw %d requests, want 3", n.Load())
	}
}

// TestSharedStoreTurnstile: a token issued by one instance's mock widget is
// spent on the other, and then refused everywhere.
func TestSharedStoreTurnstile(t *testing.T) {
	t.Parallel()
	url := startRedis(t)
	a, b := twoGateways(t, `
store: {redis: "`+url+`"}
routes:
  - {prefix: /real, auth: {kind: none}, upstream: builtin:echo, bot_check: {kind: turnstile, secret: "env:TS_SECRET"}}
`, gateway.Options{Getenv: func(k string) string {
		if k == "TS_SECRET" {
			return "0x4AAAAAAAreal-looking-secret"
		}
		return ""
	}})
	tok := strings.TrimSpace(string(do(t, "GET", a.URL+"/_mock/turnstile/token", nil).body))
	if r := do(t, "GET", b.URL+"/real/x", nil, "cf-turnstile-response", tok); r.status != 200 {
		t.Fatalf("token from A on B: %d %s", r.status, r.body)
	}
	for _, s := range []*gatewaytest.Server{a, b} {
		if r := do(t, "GET", s.URL+"/real/x", nil, "cf-turnstile-response", tok); r.status != 403 || !strings.Contains(string(r.body), "timeout-or-duplicate") {
			t.Errorf("spent token: %d %s", r.status, r.body)
		}
	}
	if r := do(t, "GET", a.URL+"/real/x", nil, "cf-turnstile-response", "0.never-issued"); r.status != 403 || !strings.Contains(string(r.body), "invalid-input-response") {
		t.Errorf("unknown token: %d %s", r.status, r.body)
	}
}

// TestStoreConfigErrors: a bad store block is a config error naming the
// key; an unreachable Redis is a startup error, and a password never shows.
func TestStoreConfigErrors(t *testing.T) {
	t.Parallel()
	for yml, want := range map[string]string{
		`store: {}`:                            "store.redis: required",
		`store: {redis: "http://x"}`:           "want redis://",
		`store: {rediss: "redis://127.0.0.1"}`: "unknown key",
	} {
		_, err := gateway.ParseConfig("t.yaml", []byte(yml+"\nroutes: [{prefix: /, auth: {kind: none}, upstream: builtin:echo}]\n"), "")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", yml, err, want)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	cfg, err := gateway.ParseConfig("t.yaml", []byte(`store: {redis: "redis://:hunter2secret@`+addr+`/0"}
routes: [{prefix: /, auth: {kind: none}, upstream: builtin:echo}]
`), "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = gateway.New(cfg, gateway.Options{})
	if err == nil || !strings.Contains(err.Error(), "cannot reach "+addr) || strings.Contains(err.Error(), "hunter2secret") {
		t.Errorf("unreachable store: %v", err)
	}
}

// pkce returns a code verifier and its S256 challenge.
func pkce() (verifier, challenge string) {
	verifier = "gwcurl-shared-store-test-verifier-0123456789abcdef"
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// noRedirect answers a redirect instead of following it.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// postForm POSTs a form and decodes a JSON answer.
func postForm(t *testing.T, u string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("POST %s: %d, not JSON: %v", u, resp.StatusCode, err)
	}
	return resp.StatusCode, m
}

// sharedIdPConfig: two instances behind one public name share the issuer.
func sharedIdPConfig(redisURL string) string {
	return `
store: {redis: "` + redisURL + `"}
users: [{email: demo@example.com, password: demo-password}]
mocks:
  cognito: {issuer: "https://idp.example/cognito"}
  magic: {issuer: "https://idp.example/magic"}
routes:
  - {prefix: /app, auth: {kind: jwt, issuer: "https://idp.example/cognito", client_id: gwcurl-demo, token_use: id}, upstream: builtin:echo}
  - {prefix: /m, auth: {kind: jwt, issuer: "https://idp.example/magic", client_id: gwcurl-demo-magic}, upstream: builtin:echo}
  - {prefix: /cf, auth: {kind: cf_access, team_domain: "https://team.cloudflareaccess.com", aud: "` + strings.Repeat("a", 64) + `"}, upstream: builtin:echo}
`
}

// TestSharedStoreAuthorizationCode: a code minted by instance A is redeemed
// once at B and at neither again; B's tokens verify at A (shared keys), A
// refreshes B's refresh token, and the replay's revocation holds at both.
func TestSharedStoreAuthorizationCode(t *testing.T) {
	t.Parallel()
	a, b := twoGateways(t, sharedIdPConfig(startRedis(t)), gateway.Options{})
	verifier, challenge := pkce()
	q := url.Values{"response_type": {"code"}, "client_id": {"gwcurl-demo"}, "redirect_uri": {"http://127.0.0.1/callback"},
		"scope": {"openid email"}, "state": {"st"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	resp, err := noRedirect.PostForm(a.URL+"/_mock/cognito/oauth2/authorize?"+q.Encode(), url.Values{"username": {"demo@example.com"}, "password": {"demo-password"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("authorize at A: %d, no redirect", resp.StatusCode)
	}
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("authorize at A: %s", loc.Redacted())
	}
	exchange := url.Values{"grant_type": {"authorization_code"}, "client_id": {"gwcurl-demo"}, "code": {code},
		"redirect_uri": {"http://127.0.0.1/callback"}, "code_verifier": {verifier}}
	st, tok := postForm(t, b.URL+"/_mock/cognito/oauth2/token", exchange)
	if st != 200 || tok["id_token"] == nil || tok["refresh_token"] == nil {
		t.Fatalf("A's code at B: %d %v", st, tok["error_description"])
	}
	idTok := tok["id_token"].(string)
	for name, s := range map[string]*gatewaytest.Server{"A": a, "B": b} {
		if r := do(t, "GET", s.URL+"/app/x", nil, "Authorization", "Bearer "+idTok); r.status != 200 {
			t.Errorf("B's ID token at %s: %d %s", name, r.status, r.body)
		}
	}
	refresh := url.Values{"grant_type": {"refresh_token"}, "client_id": {"gwcurl-demo"}, "refresh_token": {tok["refresh_token"].(string)}}
	if st, m := postForm(t, a.URL+"/_mock/cognito/oauth2/token", refresh); st != 200 || m["id_token"] == nil {
		t.Errorf("B's refresh token at A: %d %v", st, m["error_description"])
	}
	for name, s := range map[string]*gatewaytest.Server{"B": b, "A": a} {
		st, m := postForm(t, s.URL+"/_mock/cognito/oauth2/token", exchange)
		if st != 400 || m["error"] != "invalid_grant" || !strings.Contains(fmt.Sprint(m["error_description"]), "already used") {
			t.Errorf("the code again at %s: %d %v %v", name, st, m["error"], m["error_description"])
		}
	}
	// The replay revoked the session the code created, at every instance.
	if st, m := postForm(t, b.URL+"/_mock/cognito/oauth2/token", refresh); st != 400 || !strings.Contains(fmt.Sprint(m["error_description"]), "revoked") {
		t.Errorf("refresh after the replay: %d %v", st, m["error_description"])
	}
	// Both instances publish the same keys.
	ja, jb := do(t, "GET", a.URL+"/_mock/cognito/.well-known/jwks.json", nil), do(t, "GET", b.URL+"/_mock/cognito/.well-known/jwks.json", nil)
	if ja.status != 200 || string(ja.body) != string(jb.body) {
		t.Errorf("JWKS differ between the instances:\n%s\n%s", ja.body, jb.body)
	}
	ca, cb := do(t, "GET", a.URL+"/cdn-cgi/access/certs", nil), do(t, "GET", b.URL+"/cdn-cgi/access/certs", nil)
	var da, db struct{ Keys []struct{ Kid, N string } }
	if json.Unmarshal(ca.body, &da) != nil || json.Unmarshal(cb.body, &db) != nil || len(da.Keys) != 2 || fmt.Sprint(da.Keys) != fmt.Sprint(db.Keys) {
		t.Errorf("Cloudflare Access keys differ between the instances:\n%s\n%s", ca.body, cb.body)
	}
}

// TestSharedStoreMagicLink: a link mailed by A opens once, at B; the code
// it yields is exchanged at A, and the link is spent at both.
func TestSharedStoreMagicLink(t *testing.T) {
	t.Parallel()
	a, b := twoGateways(t, sharedIdPConfig(startRedis(t)), gateway.Options{})
	verifier, challenge := pkce()
	start, _ := json.Marshal(map[string]string{"email": "demo@example.com", "redirect_uri": "http://127.0.0.1/callback",
		"code_challenge": challenge, "code_challenge_method": "S256", "state": "st"})
	if r := do(t, "POST", a.URL+"/_mock/magic/start", strings.NewReader(string(start)), "Content-Type", "application/json"); r.status != 202 {
		t.Fatalf("start at A: %d %s", r.status, r.body)
	}
	var mail []struct{ Link string }
	if err := json.Unmarshal(do(t, "GET", a.URL+"/_mock/mailbox?to=demo@example.com", nil).body, &mail); err != nil || len(mail) != 1 {
		t.Fatalf("A's mailbox: %v %v", mail, err)
	}
	link, err := url.Parse(mail[0].Link)
	if err != nil {
		t.Fatal(err)
	}
	atB := b.URL + link.Path + "?" + link.RawQuery
	resp, err := noRedirect.Get(atB)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("A's link at B: %d", resp.StatusCode)
	}
	for _, u := range []string{atB, mail[0].Link} {
		if r := do(t, "GET", u, nil); r.status != http.StatusGone {
			t.Errorf("the link again: %d, want 410", r.status)
		}
	}
	st, tok := postForm(t, a.URL+"/_mock/magic/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {"gwcurl-demo-magic"},
		"code": {loc.Query().Get("code")}, "redirect_uri": {"http://127.0.0.1/callback"}, "code_verifier": {verifier}})
	if st != 200 || tok["id_token"] == nil {
		t.Fatalf("B's code at A: %d %v", st, tok["error_description"])
	}
	if r := do(t, "GET", b.URL+"/m/x", nil, "Authorization", "Bearer "+tok["id_token"].(string)); r.status != 200 {
		t.Errorf("A's magic-link token at B: %d %s", r.status, r.body)
	}
}

// TestSharedStoreGoogleAccessToken: an access token from A's metadata
// server authorizes generateIdToken at B; an unknown one does not.
func TestSharedStoreGoogleAccessToken(t *testing.T) {
	t.Parallel()
	a, b := twoGateways(t, sharedIdPConfig(startRedis(t)), gateway.Options{})
	r := do(t, "GET", a.URL+"/computeMetadata/v1/instance/service-accounts/default/token", nil, "Metadata-Flavor", "Google")
	var at struct {
		AccessToken string `json:"access_token"`
	}
	if r.status != 200 || json.Unmarshal(r.body, &at) != nil || at.AccessToken == "" {
		t.Fatalf("A's metadata token: %d %s", r.status, r.body)
	}
	iam := b.URL + "/_mock/google/iam/v1/projects/-/serviceAccounts/demo@gwcurl-demo.iam.gserviceaccount.com:generateIdToken"
	body := `{"audience": "https://run.example"}`
	if r := do(t, "POST", iam, strings.NewReader(body), "Authorization", "Bearer "+at.AccessToken, "Content-Type", "application/json"); r.status != 200 || !strings.Contains(string(r.body), `"token"`) {
		t.Errorf("A's access token at B's IAM: %d %s", r.status, r.body)
	}
	if r := do(t, "POST", iam, strings.NewReader(body), "Authorization", "Bearer ya29.never-issued", "Content-Type", "application/json"); r.status != 401 {
		t.Errorf("unknown access token at B's IAM: %d %s", r.status, r.body)
	}
}

// TestSharedStoreOutageIdP: when the shared store goes away, the mock
// providers answer temporarily_unavailable (never a code or a token they
// cannot share), and tokens signed with keys already loaded still verify.
func TestSharedStoreOutageIdP(t *testing.T) {
	t.Parallel()
	redistest.Require(t)
	u, stop, err := redistest.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	a := gatewaytest.StartYAML(t, sharedIdPConfig(u), gateway.Options{})
	verifier, challenge := pkce()
	q := url.Values{"response_type": {"code"}, "client_id": {"gwcurl-demo"}, "redirect_uri": {"http://127.0.0.1/callback"},
		"scope": {"openid email"}, "state": {"st"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	authorize := func() *url.URL {
		t.Helper()
		resp, err := noRedirect.PostForm(a.URL+"/_mock/cognito/oauth2/authorize?"+q.Encode(), url.Values{"username": {"demo@example.com"}, "password": {"demo-password"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			t.Fatalf("authorize: %d, no redirect", resp.StatusCode)
		}
		return loc
	}
	code := authorize().Query().Get("code")
	st, tok := postForm(t, a.URL+"/_mock/cognito/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {"gwcurl-demo"},
		"code": {code}, "redirect_uri": {"http://127.0.0.1/callback"}, "code_verifier": {verifier}})
	if st != 200 {
		t.Fatalf("exchange: %d %v", st, tok["error_description"])
	}
	stop()
	if loc := authorize(); loc.Query().Get("error") != "temporarily_unavailable" || loc.Query().Get("code") != "" {
		t.Errorf("authorize without the store: %s", loc.Redacted())
	}
	st, m := postForm(t, a.URL+"/_mock/cognito/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {"gwcurl-demo"},
		"refresh_token": {tok["refresh_token"].(string)}})
	if st != http.StatusServiceUnavailable || m["error"] != "temporarily_unavailable" {
		t.Errorf("refresh without the store: %d %v", st, m)
	}
	if r := do(t, "GET", a.URL+"/app/x", nil, "Authorization", "Bearer "+tok["id_token"].(string)); r.status != 200 {
		t.Errorf("ID token without the store: %d %s", r.status, r.body)
	}
}

// TestSharedStoreOutageGoogle: without the store the Google mock answers
// 503 rather than an access token no other instance would accept.
func TestSharedStoreOutageGoogle(t *testing.T) {
	t.Parallel()
	redistest.Require(t)
	u, stop, err := redistest.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	a := gatewaytest.StartYAML(t, sharedIdPConfig(u), gateway.Options{})
	tokenURL := a.URL + "/computeMetadata/v1/instance/service-accounts/default/token"
	if r := do(t, "GET", tokenURL, nil, "Metadata-Flavor", "Google"); r.status != 200 {
		t.Fatalf("metadata token: %d %s", r.status, r.body)
	}
	stop()
	if r := do(t, "GET", tokenURL, nil, "Metadata-Flavor", "Google"); r.status != http.StatusServiceUnavailable {
		t.Errorf("metadata token without the store: %d %s", r.status, r.body)
	}
}

// TestSharedStoreCFAccess: the application token minted for a service
// token is kept in the store under a name that shows neither the client
// id nor the secret, and handed out again for the rest of the session, by
// every instance (they share the signing keys through the store).
func TestSharedStoreCFAccess(t *testing.T) {
	t.Parallel()
	url := startRedis(t)
	cfg := `
store: {redis: "` + url + `"}
routes:
  - prefix: /admin
    auth:
      kind: cf_access
      team_domain: https://gwcurl-demo.cloudflareaccess.com
      aud: e1f9f45012bf2c68eee5cd8c3c73d6215141265d28cc64e98fc42aaf7d672135
      service_tokens: [{client_id: store.access, client_secret: store-cf-secret}]
    upstream: builtin:echo
`
	a, b := twoGateways(t, cfg, gateway.Options{})
	var tokens []string
	for _, base := range []string{a.URL, b.URL, a.URL} {
		r := do(t, "GET", base+"/admin/x", nil, "CF-Access-Client-Id", "store.access", "CF-Access-Client-Secret", "store-cf-secret")
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		tokens = append(tokens, echoOf(t, r).Headers["Cf-Access-Jwt-Assertion"])
	}
	if tokens[0] == "" || tokens[1] != tokens[0] || tokens[2] != tokens[0] {
		t.Fatal("each request got its own application token; want one per session")
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	keys, err := rdb.Keys(t.Context(), "gwcurl:mock:cf_access:app:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Fatalf("store keys %v, want one application token", keys)
	}
	sum := sha256.Sum256([]byte("store-cf-secret"))
	for _, leak := range []string{"store.access", "store-cf-secret", hex.EncodeToString(sum[:])} {
		if strings.Contains(keys[0], leak) {
			t.Errorf("store key %s shows %q", keys[0], leak)
		}
	}
	if v, _ := rdb.Get(t.Context(), keys[0]).Result(); v != tokens[0] {
		t.Error("the store does not hold the token handed out")
	}
	if ttl, _ := rdb.TTL(t.Context(), keys[0]).Result(); ttl <= 0 || ttl > 24*time.Hour {
		t.Errorf("store entry TTL %v, want the rest of the session", ttl)
	}
}
