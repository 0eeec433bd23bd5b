package googleverify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authcreds "cloud.google.com/go/auth/credentials"
	authidtoken "cloud.google.com/go/auth/credentials/idtoken"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	apiidtoken "google.golang.org/api/idtoken"
	"google.golang.org/api/option"

	"github.com/gwcurl/gwcurl/internal/demo"
)

func demoKeyJSON(t *testing.T, g *gw) []byte {
	t.Helper()
	b, err := demo.GoogleServiceAccountJSON(g.URL + TokenPath)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mintSA mints an ID token for aud with a service-account key file, the way
// golang.org/x/oauth2/jwt does (jwt-bearer grant with target_audience).
func mintSA(t *testing.T, keyJSON []byte, aud string) (string, error) {
	t.Helper()
	cfg, err := google.JWTConfigFromJSON(keyJSON)
	if err != nil {
		t.Fatal(err)
	}
	cfg.UseIDToken = true
	cfg.PrivateClaims = map[string]any{"target_audience": aud}
	tok, err := cfg.TokenSource(context.Background()).Token()
	if err != nil {
		return "", err
	}
	return tok.AccessToken, nil
}

func TestServiceAccountTokenAccepted(t *testing.T) {
	g := newGW(t, "")
	g.route(t, "/run", `{kind: google_id, audiences: ["${base_url}/run"]}`)
	tok, err := mintSA(t, demoKeyJSON(t, g), g.URL+"/run")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"Authorization", HeaderServerless} {
		t.Run(h, func(t *testing.T) {
			hdr := http.Header{h: {"Bearer " + tok}}
			if h == HeaderServerless {
				hdr.Set("Authorization", "Basic YXBwOm93bg==") // the app's own credential
			}
			code, e := call(t, g.URL+"/run/x", hdr)
			if code != 200 {
				t.Fatalf("status %d: %s", code, e.Reason)
			}
			id := e.Identity
			if id.Kind != "google" || id.Principal != demo.GoogleServiceAccountEmail {
				t.Fatalf("identity = %+v", id)
			}
			if id.Claims["aud"] != g.URL+"/run" || id.Claims["sub"] != demo.GoogleServiceAccountClientID || id.Claims["azp"] != demo.GoogleServiceAccountClientID || id.Claims["email_verified"] != true {
				t.Fatalf("claims = %v", id.Claims)
			}
			if _, ok := e.Headers[h]; ok {
				t.Fatalf("%s reached the origin", h)
			}
			if h == HeaderServerless && e.Headers["Authorization"][0] != "Basic YXBwOm93bg==" {
				t.Fatalf("the app's own Authorization was not kept: %v", e.Headers)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	g := newGW(t, "")
	aud := g.URL + "/run"
	g.route(t, "/run", `{kind: google_id, audiences: ["${base_url}/run"]}`)
	g.route(t, "/strict", `{kind: google_id, audiences: ["${base_url}/run"], emails: [someone@example.com]}`)
	g.route(t, "/own-iss", `{kind: google_id, audiences: ["${base_url}/run"], issuer: "https://issuer.example"}`)

	s := g.state
	good := func(extra map[string]any) string {
		c := map[string]any{"aud": aud, "sub": "1", "email": "x@example.com", "email_verified": true}
		for k, v := range extra {
			c[k] = v // nil removes the claim (see State.Sign)
		}
		tok, err := s.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	seg := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	payload := map[string]any{"iss": DefaultIssuer, "aud": aud, "sub": "1", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}

	// HS256 "signed" with the RSA public key: the classic key-confusion attack.
	curPub, _ := s.publicKey(s.KeyIDs()[0])
	pubDER, _ := x509.MarshalPKIXPublicKey(curPub)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(payload))
	hs.Header["kid"] = s.KeyIDs()[0]
	hsTok, err := hs.SignedString(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	// Signed by a key the issuer never published.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	foreign := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(payload))
	foreign.Header["kid"] = "0000000000000000000000000000000000000000"
	foreignTok, _ := foreign.SignedString(other)
	// Right kid, wrong key.
	forged := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(payload))
	forged.Header["kid"] = s.KeyIDs()[0]
	forgedTok, _ := forged.SignedString(other)
	// Signed by the right key, with a critical header extension the
	// verifier cannot understand (RFC 7515 §4.1.11: refuse).
	critical := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": DefaultIssuer, "aud": aud, "sub": "1", "email": "x@example.com", "email_verified": true, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
	critical.Header["kid"] = s.KeyIDs()[0]
	critical.Header["crit"] = []string{"https://example.com/must-understand"}
	critical.Header["https://example.com/must-understand"] = true
	curPriv, err := parseRSAPrivateKey(mockSigningKey1) // the current key of a new state
	if err != nil {
		t.Fatal(err)
	}
	criticalTok, err := critical.SignedString(curPriv)
	if err != nil {
		t.Fatal(err)
	}
	// A good token whose payload is swapped after signing.
	parts := strings.Split(good(nil), ".")
	tampered := parts[0] + "." + seg(map[string]any{"iss": DefaultIssuer, "aud": aud, "sub": "admin", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}) + "." + parts[2]
	past := time.Now().Add(-2 * time.Hour)

	for _, tc := range []struct {
		name, path string
		hdr        http.Header
		status     int
		reason     string
	}{
		{"no token", "/run", nil, 401, "no Google ID token"},
		{"basic scheme", "/run", http.Header{"Authorization": {"Basic eDp5"}}, 401, `scheme "Basic"`},
		{"empty bearer", "/run", http.Header{"Authorization": {"Bearer "}}, 401, "empty bearer"},
		{"garbage", "/run", bearerHdr("not.a.jwt"), 403, "malformed token"},
		{"alg none", "/run", bearerHdr(seg(map[string]any{"alg": "none", "typ": "JWT"}) + "." + seg(payload) + "."), 403, "alg none not allowed"},
		{"HS256 with the public key", "/run", bearerHdr(hsTok), 403, "alg HS256 not allowed"},
		{"unknown key", "/run", bearerHdr(foreignTok), 403, "unknown key id"},
		{"forged signature", "/run", bearerHdr(forgedTok), 403, "signature mismatch"},
		{"tampered payload", "/run", bearerHdr(tampered), 403, "signature mismatch"},
		{"unknown crit header", "/run", bearerHdr(criticalTok), 403, "crit"},
		{"expired", "/run", bearerHdr(good(map[string]any{"iat": past.Unix(), "exp": past.Add(time.Hour - time.Minute).Unix()})), 403, "token expired at " + past.Add(time.Hour-time.Minute).UTC().Format(time.RFC3339) + " (now "},
		{"no exp", "/run", bearerHdr(good(map[string]any{"exp": nil})), 403, "claim exp: missing"},
		{"issued in the future", "/run", bearerHdr(good(map[string]any{"iat": time.Now().Add(10 * time.Minute).Unix()})), 403, "issued in the future"},
		{"wrong audience", "/run", bearerHdr(good(map[string]any{"aud": "https://other.run.app"})), 403, "claim aud: want " + aud + ", got https://other.run.app"},
		{"empty audience", "/run", bearerHdr(good(map[string]any{"aud": ""})), 403, "claim aud: want"},
		{"no audience", "/run", bearerHdr(good(map[string]any{"aud": nil})), 403, "got (none)"},
		{"wrong issuer", "/run", bearerHdr(good(map[string]any{"iss": "https://evil.example"})), 403, `claim iss: want https://accounts.google.com or accounts.google.com, got "https://evil.example"`},
		{"issuer not the configured one", "/own-iss", bearerHdr(good(nil)), 403, `claim iss: want https://issuer.example, got "https://accounts.google.com"`},
		{"email not allowed", "/strict", bearerHdr(good(nil)), 403, "email x@example.com is not allowed"},
		{"email unverified", "/strict", bearerHdr(good(map[string]any{"email": "someone@example.com", "email_verified": false})), 403, "not verified"},
		{"no email", "/strict", bearerHdr(good(map[string]any{"email": nil})), 403, "claim email: missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, e := call(t, g.URL+tc.path+"/", tc.hdr)
			if code != tc.status || !strings.Contains(e.Reason, tc.reason) {
				t.Fatalf("got %d %q, want %d containing %q", code, e.Reason, tc.status, tc.reason)
			}
			if e.Identity != nil {
				t.Fatal("identity on a refusal")
			}
		})
	}

	// The accepted forms, for contrast.
	for _, tc := range []struct {
		path string
		tok  string
		who  string
	}{
		{"/run", good(nil), "x@example.com"},
		{"/run", good(map[string]any{"iss": "accounts.google.com"}), "x@example.com"},
		{"/run", good(map[string]any{"email": nil}), "1"},                                  // sub when there is no email
		{"/run", good(map[string]any{"email_verified": false}), "1"},                       // unverified email is not the principal
		{"/run", good(map[string]any{"aud": []string{"https://x", aud}}), "x@example.com"}, // array aud
		{"/strict", good(map[string]any{"email": "Someone@Example.com"}), "Someone@Example.com"},
		{"/run", good(map[string]any{"exp": time.Now().Add(-10 * time.Second).Unix()}), "x@example.com"}, // within leeway
	} {
		code, e := call(t, g.URL+tc.path+"/", bearerHdr(tc.tok))
		if code != 200 || e.Identity.Principal != tc.who {
			t.Errorf("%s: got %d %q identity %+v, want 200 as %s", tc.path, code, e.Reason, e.Identity, tc.who)
		}
	}
}

func TestGatewayClockOffset(t *testing.T) {
	g := newGW(t, "")
	g.route(t, "/run", `{kind: google_id, audiences: ["${base_url}/run"]}`)
	tok, err := g.state.Sign(map[string]any{"aud": g.URL + "/run", "sub": "1"})
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(2 * time.Hour)
	g.now.Store(&later)
	code, e := call(t, g.URL+"/run/", bearerHdr(tok))
	if code != 403 || !strings.Contains(e.Reason, "token expired at") {
		t.Fatalf("got %d %q", code, e.Reason)
	}
}

func TestKeyRotation(t *testing.T) {
	g := newGW(t, "")
	g.route(t, "/run", `{kind: google_id, audiences: ["${base_url}/run"]}`)
	tok, _ := g.state.Sign(map[string]any{"aud": g.URL + "/run", "sub": "1"})
	// A verified token is cached until shortly before its exp (tokencache),
	// so the dropped-key check uses a token of the same key never presented.
	unseen, _ := g.state.Sign(map[string]any{"aud": g.URL + "/run", "sub": "2"})
	jwks := func() []string {
		resp, err := http.Get(g.URL + CertsPath)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var d struct {
			Keys []struct{ Kid, Alg, Kty string }
		}
		json.NewDecoder(resp.Body).Decode(&d)
		var kids []string
		for _, k := range d.Keys {
			if k.Alg != "RS256" || k.Kty != "RSA" {
				t.Fatalf("key %+v", k)
			}
			kids = append(kids, k.Kid)
		}
		return kids
	}
	before := jwks()
	if len(before) != 2 {
		t.Fatalf("JWKS has %d keys, want current and previous", len(before))
	}
	if err := g.state.Rotate(); err != nil {
		t.Fatal(err)
	}
	after := jwks()
	if len(after) != 2 || after[1] != before[0] || after[0] == before[0] {
		t.Fatalf("after rotation %v (before %v)", after, before)
	}
	if code, e := call(t, g.URL+"/run/", bearerHdr(tok)); code != 200 {
		t.Fatalf("token of the previous key refused: %q", e.Reason)
	}
	g.state.Rotate()
	if code, e := call(t, g.URL+"/run/", bearerHdr(unseen)); code != 403 || !strings.Contains(e.Reason, "unknown key id") {
		t.Fatalf("token of a dropped key: %d %q", code, e.Reason)
	}
	// New tokens are signed with the new current key.
	tok2, _ := g.state.Sign(map[string]any{"aud": g.URL + "/run", "sub": "1"})
	if code, _ := call(t, g.URL+"/run/", bearerHdr(tok2)); code != 200 {
		t.Fatal("token of the new key refused")
	}
}

// Interop 1: ID tokens minted by Google's own Go libraries from a key file
// whose token_uri points at the mock are accepted by the verifier.
func TestInteropGoogleLibrariesMintAgainstMock(t *testing.T) {
	g := newGW(t, "")
	g.route(t, "/run", `{kind: google_id, audiences: ["${base_url}/run"]}`)
	aud := g.URL + "/run"
	key := demoKeyJSON(t, g)
	client := &http.Client{Timeout: 10 * time.Second}

	t.Run("cloud.google.com/go/auth/credentials/idtoken", func(t *testing.T) {
		creds, err := authidtoken.NewCredentialsFromJSON(authcreds.ServiceAccount, key, &authidtoken.Options{Audience: aud, Client: client})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := creds.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if code, e := call(t, aud+"/", bearerHdr(tok.Value)); code != 200 || e.Identity.Principal != demo.GoogleServiceAccountEmail {
			t.Fatalf("%d %q", code, e.Reason)
		}
	})
	t.Run("google.golang.org/api/idtoken", func(t *testing.T) {
		ts, err := apiidtoken.NewTokenSource(context.Background(), aud, apiidtoken.WithAuthCredentialsJSON(apiidtoken.ServiceAccount, key), option.WithHTTPClient(client))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := ts.Token()
		if err != nil {
			t.Fatal(err)
		}
		if code, e := call(t, aud+"/", bearerHdr(tok.AccessToken)); code != 200 || e.Identity.Principal != demo.GoogleServiceAccountEmail {
			t.Fatalf("%d %q", code, e.Reason)
		}
	})
}

// Interop 2: tokens the mock mints pass Google's validator given the mock's
// certs URL, from every mock endpoint that mints them.
func TestInteropMockTokensPassGoogleValidator(t *testing.T) {
	g := newGW(t, "")
	aud := g.URL + "/run"
	v, err := authidtoken.NewValidator(&authidtoken.ValidatorOptions{RS256CertsURL: g.URL + CertsPath, Client: &http.Client{Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	fromSA, err := mintSA(t, demoKeyJSON(t, g), aud)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", g.URL+"/computeMetadata/v1/instance/service-accounts/default/identity?format=full&audience="+url.QueryEscape(aud), nil)
	req.Header.Set("Metadata-Flavor", "Google")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	fromMeta, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for name, tok := range map[string]string{"jwt-bearer": fromSA, "metadata": string(fromMeta)} {
		p, err := v.Validate(context.Background(), tok, aud)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p.Issuer != DefaultIssuer || p.Audience != aud || p.Claims["email"] != demo.GoogleServiceAccountEmail {
			t.Fatalf("%s: payload %+v", name, p)
		}
		if _, err := v.Validate(context.Background(), tok, "https://other"); err == nil {
			t.Fatalf("%s: validator accepted a wrong audience", name)
		}
	}
	// The PEM form lists the same key ids as certificates.
	resp, err = http.Get(g.URL + CertsPEMPath)
	if err != nil {
		t.Fatal(err)
	}
	var certs map[string]string
	json.NewDecoder(resp.Body).Decode(&certs)
	resp.Body.Close()
	for _, kid := range g.state.KeyIDs() {
		block, _ := pem.Decode([]byte(certs[kid]))
		if block == nil {
			t.Fatalf("no PEM certificate for %s", kid)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		pub, _ := g.state.publicKey(kid)
		if !pub.Equal(c.PublicKey) {
			t.Fatalf("certificate %s has another key", kid)
		}
	}
}

func postForm(t *testing.T, u string, f url.Values, hdr http.Header) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestTokenEndpointRefusals(t *testing.T) {
	g := newGW(t, "")
	priv, _ := demo.GoogleServiceAccountKey()
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	now := time.Now()
	assertion := func(key *rsa.PrivateKey, mod func(jwt.MapClaims)) string {
		c := jwt.MapClaims{"iss": demo.GoogleServiceAccountEmail, "aud": g.URL + TokenPath, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "target_audience": "https://x"}
		if mod != nil {
			mod(c)
		}
		tk := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
		tk.Header["kid"] = demo.GoogleServiceAccountKeyID
		s, err := tk.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		errSub string
	}{
		{"ok", url.Values{"grant_type": {grantJWTBearer}, "assertion": {assertion(priv, nil)}}, 200, ""},
		{"wrong key", url.Values{"grant_type": {grantJWTBearer}, "assertion": {assertion(other, nil)}}, 400, "Invalid JWT Signature"},
		{"unknown account", url.Values{"grant_type": {grantJWTBearer}, "assertion": {assertion(priv, func(c jwt.MapClaims) { c["iss"] = "x@y.iam.gserviceaccount.com" })}}, 400, "not registered"},
		{"aud is another token endpoint", url.Values{"grant_type": {grantJWTBearer}, "assertion": {assertion(priv, func(c jwt.MapClaims) { c["aud"] = "https://oauth2.googleapis.com/token" })}}, 400, "claim aud: want " + g.URL + TokenPath},
		{"expired", url.Values{"grant_type": {grantJWTBearer}, "assertion": {assertion(priv, func(c jwt.MapClaims) {
			c["iat"] = now.Add(-3 * time.Hour).Unix()
			c["exp"] = now.Add(-2 * time.Hour).Unix()
		})}}, 400, "short-lived"},
		{"too long", url.Values{"grant_type": {grantJWTBearer}, "assertion": {assertion(priv, func(c jwt.MapClaims) { c["exp"] = now.Add(2 * time.Hour).Unix() })}}, 400, "short-lived"},
		{"no target, no scope", url.Values{"grant_type": {grantJWTBearer}, "assertion": {assertion(priv, func(c jwt.MapClaims) { delete(c, "target_audience") })}}, 400, "invalid_scope"},
		{"refresh: unknown token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}, "client_id": {DemoUserClientID}, "client_secret": {DemoUserClientSecret}}, 400, "invalid_grant"},
		{"refresh: wrong secret", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {DemoUserRefreshToken}, "client_id": {DemoUserClientID}, "client_secret": {"x"}}, 401, "invalid_client"},
		{"unsupported grant", url.Values{"grant_type": {"password"}}, 400, "unsupported_grant_type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, m := postForm(t, g.URL+TokenPath, tc.form, nil)
			body, _ := json.Marshal(m)
			if code != tc.status || !strings.Contains(string(body), tc.errSub) {
				t.Fatalf("got %d %s, want %d with %q", code, body, tc.status, tc.errSub)
			}
		})
	}
}

func TestRefreshGrantIDTokenAudienceIsClientID(t *testing.T) {
	g := newGW(t, "")
	g.route(t, "/run", `{kind: google_id, audiences: ["${base_url}/run"]}`)
	g.route(t, "/users", `{kind: google_id, audiences: ["`+DemoUserClientID+`"]}`)
	cfg := &oauth2.Config{ClientID: DemoUserClientID, ClientSecret: DemoUserClientSecret, Endpoint: oauth2.Endpoint{TokenURL: g.URL + TokenPath, AuthStyle: oauth2.AuthStyleInParams}}
	tok, err := cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: DemoUserRefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := tok.Extra("id_token").(string)
	if id == "" || tok.AccessToken == "" {
		t.Fatalf("token %+v has no id_token", tok)
	}
	if code, e := call(t, g.URL+"/users/", bearerHdr(id)); code != 200 || e.Identity.Principal != DemoUserEmail {
		t.Fatalf("%d %q", code, e.Reason)
	}
	if code, e := call(t, g.URL+"/run/", bearerHdr(id)); code != 403 || !strings.Contains(e.Reason, "got "+DemoUserClientID) {
		t.Fatalf("a user token must not pass a service-URL audience: %d %q", code, e.Reason)
	}
}

func TestMetadataServer(t *testing.T) {
	g := newGW(t, "")
	get := func(path string, flavor bool) (int, string) {
		req, _ := http.NewRequest("GET", g.URL+path, nil)
		if flavor {
			req.Header.Set("Metadata-Flavor", "Google")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.Header.Get("Metadata-Flavor") != "Google" {
			t.Errorf("%s: answer lacks Metadata-Flavor", path)
		}
		return resp.StatusCode, string(b)
	}
	if code, body := get("/computeMetadata/v1/instance/service-accounts/default/identity?audience=x", false); code != 403 || !strings.Contains(body, "Metadata-Flavor") {
		t.Fatalf("without the header: %d %s", code, body)
	}
	if code, body := get("/computeMetadata/v1/instance/service-accounts/default/email", true); code != 200 || body != demo.GoogleServiceAccountEmail {
		t.Fatalf("email: %d %s", code, body)
	}
	if code, _ := get("/computeMetadata/v1/instance/service-accounts/default/identity", true); code != 400 {
		t.Fatalf("identity without audience: %d", code)
	}
	code, tok := get("/computeMetadata/v1/instance/service-accounts/default/identity?audience=https://a&format=standard", true)
	if code != 200 {
		t.Fatal(code)
	}
	p, _ := authidtoken.ParsePayload(tok)
	if p.Audience != "https://a" || p.Claims["email"] != nil {
		t.Fatalf("standard format: %+v", p)
	}
	code, tok = get("/computeMetadata/v1/instance/service-accounts/default/identity?audience=https://a&format=full", true)
	p, _ = authidtoken.ParsePayload(tok)
	if code != 200 || p.Claims["email"] != demo.GoogleServiceAccountEmail || p.Claims["google"] == nil {
		t.Fatalf("full format: %d %+v", code, p)
	}
	if code, body := get("/computeMetadata/v1/instance/service-accounts/default/token", true); code != 200 || !strings.Contains(body, "ya29.") {
		t.Fatalf("token: %d %s", code, body)
	}
	if code, body := get("/computeMetadata/v1/project/project-id", true); code != 200 || body != demo.GoogleProjectID {
		t.Fatalf("project-id: %d %s", code, body)
	}
}

func TestIAMGenerateIDToken(t *testing.T) {
	dir := t.TempDir()
	// A second service account, registered from its key file, which only
	// the demo service account may impersonate.
	priv, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	keyFile := filepath.Join(dir, "runner.json")
	kf, _ := json.Marshal(map[string]string{"type": "service_account", "client_email": "runner@p.iam.gserviceaccount.com", "private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "private_key_id": "k1", "client_id": "42"})
	os.WriteFile(keyFile, kf, 0o600)
	g := newGW(t, fmt.Sprintf(`
service_accounts:
  - email: runner@p.iam.gserviceaccount.com
    key_file: %s
    token_creators: [%s]
`, keyFile, demo.GoogleServiceAccountEmail))
	g.route(t, "/run", `{kind: google_id, audiences: ["${base_url}/run"]}`)
	access := func(keyJSON []byte) string {
		cfg, err := google.JWTConfigFromJSON(keyJSON, "https://www.googleapis.com/auth/cloud-platform")
		if err != nil {
			t.Fatal(err)
		}
		tok, err := cfg.TokenSource(context.Background()).Token()
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	demoAccess := access(demoKeyJSON(t, g))
	runnerKey, _ := json.Marshal(map[string]string{"type": "service_account", "client_email": "runner@p.iam.gserviceaccount.com", "private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "private_key_id": "k1", "token_uri": g.URL + TokenPath})
	runnerAccess := access(runnerKey)

	gen := func(target, bearer string, body string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", g.URL+IAMPath+"/v1/projects/-/serviceAccounts/"+target+":generateIdToken", bytes.NewBufferString(body))
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	aud := g.URL + "/run"
	body := `{"audience":"` + aud + `","includeEmail":true}`
	code, m := gen("runner@p.iam.gserviceaccount.com", demoAccess, body)
	if code != 200 {
		t.Fatalf("%d %v", code, m)
	}
	if c, e := call(t, aud+"/", bearerHdr(m["token"].(string))); c != 200 || e.Identity.Principal != "runner@p.iam.gserviceaccount.com" || e.Identity.Claims["sub"] != "42" {
		t.Fatalf("impersonated token: %d %q %+v", c, e.Reason, e.Identity)
	}
	for _, tc := range []struct {
		name, target, bearer, body string
		status                     int
	}{
		{"no access token", "runner@p.iam.gserviceaccount.com", "", body, 401},
		{"an ID token is not an access token", "runner@p.iam.gserviceaccount.com", m["token"].(string), body, 401},
		{"not a token creator", "runner@p.iam.gserviceaccount.com", runnerAccess, body, 403},
		{"unknown account", "nobody@p.iam.gserviceaccount.com", demoAccess, body, 404},
		{"no audience", "runner@p.iam.gserviceaccount.com", demoAccess, `{}`, 400},
	} {
		if code, m := gen(tc.target, tc.bearer, tc.body); code != tc.status {
			t.Errorf("%s: %d %v, want %d", tc.name, code, m, tc.status)
		}
	}
	// Without includeEmail the token has no email: the principal is sub.
	_, m = gen(demo.GoogleServiceAccountEmail, runnerAccess, `{"audience":"`+aud+`"}`)
	if c, e := call(t, aud+"/", bearerHdr(m["token"].(string))); c != 200 || e.Identity.Principal != demo.GoogleServiceAccountClientID {
		t.Fatalf("%d %+v", c, e.Identity)
	}
}

func TestSTSExchange(t *testing.T) {
	g := newGW(t, "")
	pool := "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/prov"
	subj, _ := g.state.Sign(map[string]any{"aud": "https:" + pool, "sub": "workload-7"})
	ok := url.Values{"grant_type": {grantTokenExchange}, "audience": {pool}, "subject_token_type": {tokenTypeJWT}, "subject_token": {subj}, "requested_token_type": {tokenTypeAccess}}
	code, m := postForm(t, g.URL+STSPath, ok, nil)
	if code != 200 || m["access_token"] == nil || m["issued_token_type"] != tokenTypeAccess {
		t.Fatalf("%d %v", code, m)
	}
	p, _ := g.state.lookupAccess(m["access_token"].(string))
	if p != "principal://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/subject/workload-7" {
		t.Fatalf("principal %q", p)
	}
	bad := url.Values{}
	for k, v := range ok {
		bad[k] = v
	}
	other, _ := g.state.Sign(map[string]any{"aud": "https://elsewhere", "sub": "x"})
	bad.Set("subject_token", other)
	if code, m := postForm(t, g.URL+STSPath, bad, nil); code != 400 || !strings.Contains(fmt.Sprint(m), "claim aud") {
		t.Fatalf("wrong aud accepted: %d %v", code, m)
	}
}

func TestFactoryConfigErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{`{kind: google_id}`, "audiences is required"},
		{`{kind: google_id, audiences: [""]}`, "must not be empty"},
		{`{kind: google_id, audiences: ["${base_url}/run"]}`, "unexpanded"},
		{`{kind: google_id, audiences: [x], audience: y}`, "unknown key audience"},
		{`{kind: google_id, audiences: [x], leeway: 1h}`, "leeway"},
		{`{kind: google_id, audiences: [x], emails: [nobody]}`, "not an email"},
	} {
		_, err := Factory(yamlNode(t, tc.yaml), newEnvForConfig())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

func TestMockConfig(t *testing.T) {
	g := newGW(t, `{issuer: "https://issuer.example", key_ids: [cur, prev]}`)
	g.route(t, "/run", `{kind: google_id, audiences: ["${base_url}/run"]}`)
	tok, err := mintSA(t, demoKeyJSON(t, g), g.URL+"/run")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := authidtoken.ParsePayload(tok)
	if p.Issuer != "https://issuer.example" {
		t.Fatalf("iss %q", p.Issuer)
	}
	if code, e := call(t, g.URL+"/run/", bearerHdr(tok)); code != 200 {
		t.Fatalf("%d %q", code, e.Reason)
	}
	if ids := g.state.KeyIDs(); ids[0] != "cur" || ids[1] != "prev" {
		t.Fatalf("key ids %v", ids)
	}
	for _, tc := range []struct{ yaml, want string }{
		{`{issuer: x, bogus: 1}`, "unknown key bogus"},
		{`{key_ids: [a]}`, "key_ids"},
		{`{service_accounts: [{email: a@b}]}`, "key_file or public_key is required"},
		{`{service_accounts: [{email: a@b, public_key: nope}]}`, "public_key"},
		{`{metadata_service_account: nobody@x}`, "not a registered service account"},
		{`{users: [{email: a@b}]}`, "required"},
	} {
		env := newEnvForConfig()
		env.Shared["mock:google"] = yamlNode(t, tc.yaml)
		if _, err := Mocks(env); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
