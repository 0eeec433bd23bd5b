package cognitomock_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/cognitomock"
)

const (
	clientID = "gwcurl-demo"
	user     = "demo@example.com"
	password = "demo-password"
)

// harness is the demo gateway and a client that does not follow redirects
// (the test plays the browser and looks at every Location).
type harness struct {
	t   *testing.T
	srv *gatewaytest.Server
	c   *http.Client
	now time.Time
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, now: time.Now()}
	h.srv = gatewaytest.StartDemo(t, gateway.Options{Now: func() time.Time { return h.now }})
	c := *h.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	h.c = &c
	return h
}

type answer struct {
	status int
	header http.Header
	body   string
	json   map[string]any
}

func (h *harness) do(req *http.Request) answer {
	h.t.Helper()
	resp, err := h.c.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
	_ = json.Unmarshal(b, &a.json)
	return a
}

func (h *harness) get(path string, hdr ...string) answer {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.srv.URL+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return h.do(req)
}

func (h *harness) post(path string, form url.Values, hdr ...string) answer {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return h.do(req)
}

const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-abcdefgh"

func challengeOf(v string) string {
	s := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

func authorizeQuery(redirect string) url.Values {
	return url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect},
		"scope": {"openid email profile"}, "state": {"st-123"}, "nonce": {"n-456"},
		"code_challenge": {challengeOf(verifier)}, "code_challenge_method": {"S256"},
	}
}

const redirect = "http://127.0.0.1:49152/callback"

// login plays the browser: the form, the credentials, the redirect.
func (h *harness) login(q url.Values, pw string) answer {
	h.t.Helper()
	page := h.get(cognitomock.AuthorizePath + "?" + q.Encode())
	if page.status != 200 || !strings.Contains(page.body, `name="username"`) || !strings.Contains(page.body, `name="password"`) {
		h.t.Fatalf("login page: %d %s", page.status, page.body)
	}
	return h.post(cognitomock.AuthorizePath+"?"+q.Encode(), url.Values{"username": {user}, "password": {pw}})
}

func (h *harness) code(q url.Values) string {
	h.t.Helper()
	a := h.login(q, password)
	if a.status != http.StatusFound {
		h.t.Fatalf("login: %d %s", a.status, a.body)
	}
	loc, err := url.Parse(a.header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), q.Get("redirect_uri")+"?") {
		h.t.Fatalf("login redirected to %q", a.header.Get("Location"))
	}
	if loc.Query().Get("state") != q.Get("state") || loc.Query().Get("code") == "" {
		h.t.Fatalf("callback query %v", loc.Query())
	}
	return loc.Query().Get("code")
}

func (h *harness) exchange(code, redirectURI, v string) answer {
	h.t.Helper()
	return h.post(cognitomock.TokenPath, url.Values{"grant_type": {"authorization_code"}, "client_id": {clientID},
		"code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {v}})
}

func claims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCodeFlowThroughTheDemoGateway(t *testing.T) {
	t.Parallel()
	h := newHarness(t)

	d := h.get(cognitomock.DiscoveryPath)
	if d.status != 200 || d.json["issuer"] != h.srv.URL+"/_mock/cognito" || d.json["token_endpoint"] != h.srv.URL+cognitomock.TokenPath {
		t.Fatalf("discovery: %d %v", d.status, d.json)
	}
	if j := h.get(cognitomock.JWKSPath); j.status != 200 || !strings.Contains(j.body, `"kty":"RSA"`) {
		t.Fatalf("jwks: %d %s", j.status, j.body)
	}

	code := h.code(authorizeQuery(redirect))
	tok := h.exchange(code, redirect, verifier)
	if tok.status != 200 || tok.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token: %d %s", tok.status, tok.body)
	}
	idt, at, rt := tok.json["id_token"].(string), tok.json["access_token"].(string), tok.json["refresh_token"].(string)
	ic, ac := claims(t, idt), claims(t, at)
	for k, want := range map[string]any{"token_use": "id", "aud": clientID, "cognito:username": user, "email": user, "nonce": "n-456", "iss": h.srv.URL + "/_mock/cognito", "name": "Demo User"} {
		if ic[k] != want {
			t.Errorf("id token %s = %v, want %v", k, ic[k], want)
		}
	}
	for k, want := range map[string]any{"token_use": "access", "client_id": clientID, "username": user, "scope": "openid email profile"} {
		if ac[k] != want {
			t.Errorf("access token %s = %v, want %v", k, ac[k], want)
		}
	}
	if _, ok := ac["aud"]; ok {
		t.Error("a Cognito access token has no aud")
	}
	if ic["sub"] != ac["sub"] || ic["origin_jti"] != ac["origin_jti"] {
		t.Error("id and access token disagree on sub / origin_jti")
	}

	// The /app route (jwt, token_use id) accepts the ID token only.
	echo := h.get("/app/echo", "Authorization", "Bearer "+idt)
	if echo.status != 200 {
		t.Fatalf("/app/echo: %d %s", echo.status, echo.body)
	}
	id, _ := echo.json["identity"].(map[string]any)
	if id["kind"] != "jwt" || id["principal"] != user {
		t.Errorf("identity = %v", echo.json["identity"])
	}
	if hdrs, _ := echo.json["headers"].(map[string]any); hdrs["Authorization"] != nil {
		t.Error("the origin saw the bearer token")
	}
	if a := h.get("/app/echo", "Authorization", "Bearer "+at); a.status != 403 || a.json["reason"] != "claim token_use: want id, got access" {
		t.Errorf("access token on /app: %d %v", a.status, a.json)
	}

	// userInfo with the access token.
	ui := h.get(cognitomock.UserInfoPath, "Authorization", "Bearer "+at)
	if ui.status != 200 || ui.json["email"] != user || ui.json["username"] != user {
		t.Errorf("userInfo: %d %v", ui.status, ui.json)
	}
	if ui := h.get(cognitomock.UserInfoPath, "Authorization", "Bearer "+idt); ui.status != 401 {
		t.Errorf("userInfo with an ID token: %d", ui.status)
	}

	// Refresh: new ID and access tokens, no new refresh token.
	h.now = h.now.Add(2 * time.Hour)
	if a := h.get("/app/echo", "Authorization", "Bearer "+idt); a.status != 401 || !strings.Contains(a.header.Get("Www-Authenticate"), `error="invalid_token"`) {
		t.Errorf("expired ID token: %d %v %v", a.status, a.json, a.header)
	}
	ref := h.post(cognitomock.TokenPath, url.Values{"grant_type": {"refresh_token"}, "client_id": {clientID}, "refresh_token": {rt}})
	if ref.status != 200 || ref.json["id_token"] == nil || ref.json["refresh_token"] != nil {
		t.Fatalf("refresh: %d %v", ref.status, ref.json)
	}
	if a := h.get("/app/echo", "Authorization", "Bearer "+ref.json["id_token"].(string)); a.status != 200 {
		t.Errorf("refreshed ID token: %d %v", a.status, a.json)
	}

	// Revoke: the refresh token and the session's access tokens die.
	at2 := ref.json["access_token"].(string)
	if a := h.post(cognitomock.RevokePath, url.Values{"token": {at2}, "client_id": {clientID}}); a.status != 400 || a.json["error"] != "unsupported_token_type" {
		t.Errorf("revoking an access token: %d %v", a.status, a.json)
	}
	if a := h.post(cognitomock.RevokePath, url.Values{"token": {rt}, "client_id": {clientID}}); a.status != 200 {
		t.Fatalf("revoke: %d %s", a.status, a.body)
	}
	if a := h.post(cognitomock.TokenPath, url.Values{"grant_type": {"refresh_token"}, "client_id": {clientID}, "refresh_token": {rt}}); a.status != 400 || a.json["error"] != "invalid_grant" {
		t.Errorf("refresh after revoke: %d %v", a.status, a.json)
	}
	if a := h.get(cognitomock.UserInfoPath, "Authorization", "Bearer "+at2); a.status != 401 {
		t.Errorf("userInfo after revoke: %d %v", a.status, a.json)
	}
	if a := h.post(cognitomock.RevokePath, url.Values{"token": {"never-issued"}, "client_id": {clientID}}); a.status != 200 {
		t.Errorf("revoking an unknown token: %d (RFC 7009 says 200)", a.status)
	}
}

func TestAuthorizeRefusals(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	page := func(q url.Values) answer { return h.get(cognitomock.AuthorizePath + "?" + q.Encode()) }

	// Redirect URIs that are not registered: shown on a page, never redirected to.
	for _, ru := range []string{
		"http://127.0.0.1:49152/callback/",
		"http://127.0.0.1:49152/other",
		"https://127.0.0.1:49152/callback",
		"http://127.0.0.1.evil.example/callback",
		"http://localhost:pw@evil.example/callback",
		"http://evil.example/callback",
		"http://127.0.0.2:49152/callback",
		"http://127.0.0.1:49152/callback?x=1",
		"http://127.0.0.1:49152/callback#frag",
		"http://127.0.0.1:0049152/callback",
		"",
	} {
		q := authorizeQuery(ru)
		if a := page(q); a.status != 400 || a.header.Get("Location") != "" {
			t.Errorf("redirect_uri %q: %d %q", ru, a.status, a.header.Get("Location"))
		}
	}
	// Any loopback port matches (RFC 8252), for all registered loopback hosts.
	for _, ru := range []string{"http://127.0.0.1:1/callback", "http://[::1]:65535/callback", "http://localhost:8080/callback"} {
		if a := page(authorizeQuery(ru)); a.status != 200 {
			t.Errorf("redirect_uri %q: %d %s", ru, a.status, a.body)
		}
	}
	// An unknown client: a page.
	q := authorizeQuery(redirect)
	q.Set("client_id", "nope")
	if a := page(q); a.status != 400 || a.header.Get("Location") != "" {
		t.Errorf("unknown client: %d", a.status)
	}
	// Errors after the redirect URI is trusted go back to it with the state.
	for name, mod := range map[string]func(url.Values){
		"plain PKCE":        func(q url.Values) { q.Set("code_challenge_method", "plain") },
		"no PKCE":           func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") },
		"bad challenge":     func(q url.Values) { q.Set("code_challenge", "short") },
		"implicit flow":     func(q url.Values) { q.Set("response_type", "token") },
		"scope not allowed": func(q url.Values) { q.Set("scope", "openid aws.cognito.signin.user.admin") },
	} {
		q := authorizeQuery(redirect)
		mod(q)
		a := page(q)
		loc, _ := url.Parse(a.header.Get("Location"))
		if a.status != http.StatusFound || loc == nil || loc.Query().Get("error") == "" || loc.Query().Get("state") != "st-123" || loc.Query().Get("code") != "" {
			t.Errorf("%s: %d %q", name, a.status, a.header.Get("Location"))
		}
	}
	// A wrong password: the form again, no redirect, no code.
	a := h.login(authorizeQuery(redirect), "wrong-password")
	if a.status != http.StatusUnauthorized || a.header.Get("Location") != "" || !strings.Contains(a.body, "Incorrect username or password.") {
		t.Errorf("wrong password: %d %s", a.status, a.header.Get("Location"))
	}
}

func TestTokenRefusals(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	q := authorizeQuery(redirect)

	// A wrong PKCE verifier fails and spends the code.
	code := h.code(q)
	if a := h.exchange(code, redirect, "x"+verifier[1:]); a.status != 400 || a.json["error"] != "invalid_grant" ||
		!strings.Contains(a.json["error_description"].(string), "PKCE") {
		t.Errorf("wrong verifier: %d %v", a.status, a.json)
	}
	if a := h.exchange(code, redirect, verifier); a.status != 400 || a.json["error"] != "invalid_grant" {
		t.Errorf("the code after a failed verifier: %d %v", a.status, a.json)
	}
	// No verifier.
	if a := h.exchange(h.code(q), redirect, ""); a.status != 400 || a.json["error"] != "invalid_grant" {
		t.Errorf("no verifier: %d %v", a.status, a.json)
	}
	// Another redirect URI than the authorization request's (even another port).
	if a := h.exchange(h.code(q), "http://127.0.0.1:49153/callback", verifier); a.status != 400 || a.json["error"] != "invalid_grant" {
		t.Errorf("other redirect_uri: %d %v", a.status, a.json)
	}
	// A replayed code fails, and revokes the tokens of its first use.
	code = h.code(q)
	first := h.exchange(code, redirect, verifier)
	if first.status != 200 {
		t.Fatalf("first exchange: %d %v", first.status, first.json)
	}
	if a := h.exchange(code, redirect, verifier); a.status != 400 || a.json["error"] != "invalid_grant" ||
		!strings.Contains(a.json["error_description"].(string), "already used") {
		t.Errorf("replayed code: %d %v", a.status, a.json)
	}
	if a := h.post(cognitomock.TokenPath, url.Values{"grant_type": {"refresh_token"}, "client_id": {clientID},
		"refresh_token": {first.json["refresh_token"].(string)}}); a.json["error"] != "invalid_grant" {
		t.Errorf("refresh token of a replayed code still works: %d %v", a.status, a.json)
	}
	// An expired code (Cognito: 5 minutes).
	code = h.code(q)
	h.now = h.now.Add(6 * time.Minute)
	if a := h.exchange(code, redirect, verifier); a.json["error"] != "invalid_grant" {
		t.Errorf("expired code: %d %v", a.status, a.json)
	}
	// Client authentication.
	code = h.code(q)
	for name, a := range map[string]answer{
		"unknown client": h.post(cognitomock.TokenPath, url.Values{"grant_type": {"authorization_code"}, "client_id": {"nope"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier}}),
		"secret for a public client": h.post(cognitomock.TokenPath, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier}},
			"Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(clientID+":s3cret"))),
	} {
		if a.status != 401 || a.json["error"] != "invalid_client" {
			t.Errorf("%s: %d %v", name, a.status, a.json)
		}
	}
	if a := h.post(cognitomock.TokenPath, url.Values{"grant_type": {"password"}, "client_id": {clientID}}); a.json["error"] != "unsupported_grant_type" {
		t.Errorf("password grant: %v", a.json)
	}
	// Not a form.
	req, _ := http.NewRequest("POST", h.srv.URL+cognitomock.TokenPath, strings.NewReader(`{"grant_type":"authorization_code"}`))
	req.Header.Set("Content-Type", "application/json")
	if a := h.do(req); a.status != 400 || a.json["error"] != "invalid_request" {
		t.Errorf("JSON body: %d %v", a.status, a.json)
	}
}

func TestLogoutEndpoint(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if a := h.get(cognitomock.LogoutPath + "?client_id=" + clientID + "&logout_uri=" + url.QueryEscape("http://127.0.0.1:5000/logout")); a.status != 302 ||
		a.header.Get("Location") != "http://127.0.0.1:5000/logout" {
		t.Errorf("logout: %d %q", a.status, a.header.Get("Location"))
	}
	if a := h.get(cognitomock.LogoutPath + "?client_id=" + clientID + "&logout_uri=" + url.QueryEscape("https://evil.example/")); a.status != 400 || a.header.Get("Location") != "" {
		t.Errorf("unregistered logout_uri: %d %q", a.status, a.header.Get("Location"))
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	// A production-shaped issuer and key id, and a confidential client.
	srv := gatewaytest.StartYAML(t, `
users: [{email: a@example.com, password: pw}]
mocks:
  cognito:
    issuer: https://cognito-idp.us-east-1.amazonaws.com/us-east-1_gwcurl
    key_id: pool-key-
    clients:
      - {client_id: conf, client_secret: s3cret, callback_urls: ["https://app.example.com/cb"], scopes: [openid, email]}
routes:
  - prefix: /api
    auth: {kind: jwt, issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_gwcurl", client_id: conf, token_use: access}
    upstream: builtin:echo
`, gateway.Options{})
	c := *srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	q := url.Values{"response_type": {"code"}, "client_id": {"conf"}, "redirect_uri": {"https://app.example.com/cb"}, "state": {"s"},
		"code_challenge": {challengeOf(verifier)}, "code_challenge_method": {"S256"}}
	resp, err := c.PostForm(srv.URL+cognitomock.AuthorizePath+"?"+q.Encode(), url.Values{"username": {"A@example.com"}, "password": {"pw"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("no code: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://app.example.com/cb"}, "code_verifier": {verifier}}
	// The confidential client must authenticate.
	resp, _ = c.PostForm(srv.URL+cognitomock.TokenPath, url.Values{"client_id": {"conf"}, "grant_type": {"x"}})
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("confidential client without secret: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("POST", srv.URL+cognitomock.TokenPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("conf", "s3cret")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	at, _ := tok["access_token"].(string)
	if at == "" {
		t.Fatalf("token: %d %v", resp.StatusCode, tok)
	}
	if c := claims(t, at); c["iss"] != "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_gwcurl" || c["username"] != "a@example.com" {
		t.Errorf("claims %v", c)
	}
	if !strings.HasPrefix(strings.Split(at, ".")[0], "eyJ") || !strings.Contains(jwtHeader(t, at), `"kid":"pool-key-`) {
		t.Errorf("kid prefix: %s", jwtHeader(t, at))
	}
	req, _ = http.NewRequest("GET", srv.URL+"/api/x", nil)
	req.Header.Set("Authorization", "Bearer "+at)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("access token on a token_use: access route: %d", resp.StatusCode)
	}
}

func jwtHeader(t *testing.T, jwt string) string {
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
