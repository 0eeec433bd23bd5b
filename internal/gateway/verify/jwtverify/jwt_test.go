package jwtverify_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"gopkg.in/yaml.v3"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/jwtverify"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/jwtverify/idp"
)

const iss = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Test"

func node(t testing.TB, s string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(s), &n); err != nil {
		t.Fatal(err)
	}
	return n.Content[0]
}

func verifier(t testing.TB, env *auth.Env, cfg string) auth.Verifier {
	t.Helper()
	v, err := jwtverify.Factory(node(t, cfg), env)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func verify(v auth.Verifier, header string) (*auth.Identity, *auth.Rejection, *http.Request) {
	r := httptest.NewRequest("GET", "/x", nil)
	if header != "" {
		r.Header.Set("Authorization", header)
	}
	id, err := v.Verify(httptest.NewRecorder(), r)
	var rej *auth.Rejection
	if err != nil && !errors.As(err, &rej) {
		panic(err)
	}
	return id, rej, r
}

func TestVerifier(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	keys := idp.NewKeys("k-")
	env := &auth.Env{Now: func() time.Time { return now }, Shared: map[string]any{}}
	if err := jwtverify.RegisterIssuer(env, iss, keys); err != nil {
		t.Fatal(err)
	}
	other := idp.NewKeys("other-")
	sign := func(k *idp.Keys, mod func(map[string]any)) string {
		c := map[string]any{"iss": iss, "sub": "u-1", "aud": "app", "token_use": "id", "email": "a@example.com",
			"iat": now.Unix() - 10, "exp": now.Add(time.Hour).Unix()}
		mod(c)
		s, err := k.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	none := func(map[string]any) {}
	idV := verifier(t, env, `{kind: jwt, issuer: "`+iss+`", client_id: app, token_use: id}`)
	accessV := verifier(t, env, `{kind: jwt, issuer: "`+iss+`", client_id: [other, app], token_use: access, scopes: [orders/read]}`)

	hs, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": iss, "aud": "app", "exp": now.Add(time.Hour).Unix()}).SignedString([]byte("k"))
	noneTok, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"iss": iss, "aud": "app", "exp": now.Add(time.Hour).Unix()}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	es, _ := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"iss": iss, "aud": "app", "exp": now.Add(time.Hour).Unix()}).SignedString(ecKey)
	good := sign(keys, none)
	tampered := good[:strings.LastIndex(good, ".")] + "." + strings.Repeat("A", 342)

	for _, tc := range []struct {
		name, header string
		v            auth.Verifier
		status       int
		reason       string // substring
		invalidToken bool   // WWW-Authenticate error="invalid_token"
	}{
		{"valid ID token", "Bearer " + good, idV, 0, "", false},
		{"lower-case scheme", "bearer " + good, idV, 0, "", false},
		{"missing", "", idV, 401, "missing bearer token", false},
		{"not bearer", "Basic " + good, idV, 401, "must be \"Bearer <token>\"", false},
		{"not a JWT", "Bearer abc", idV, 401, "not a JWT", true},
		{"HS256", "Bearer " + hs, idV, 401, "algorithm not accepted", true},
		{"alg none", "Bearer " + noneTok, idV, 401, "algorithm not accepted", true},
		{"ES256 not allowed", "Bearer " + es, idV, 401, "algorithm not accepted", true},
		{"other key", "Bearer " + sign(other, none), idV, 401, "signature", true},
		{"tampered", "Bearer " + tampered, idV, 401, "signature", true},
		{"signature not base64url", "Bearer " + good[:strings.LastIndex(good, ".")] + ".!!!", idV, 401, "signature: not signed by a key of " + iss, true},
		{"payload not an object", "Bearer " + good[:strings.Index(good, ".")] + "." + base64.RawURLEncoding.EncodeToString([]byte("[1]")) + ".AA", idV, 401, "the JWT payload is not a JSON object", true},
		{"expired", "Bearer " + sign(keys, func(c map[string]any) { c["exp"] = now.Add(-time.Second).Unix() }), idV, 401, "token expired at", true},
		{"no exp", "Bearer " + sign(keys, func(c map[string]any) { delete(c, "exp") }), idV, 401, "claim exp is missing", true},
		{"nbf future", "Bearer " + sign(keys, func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() }), idV, 401, "not valid before", true},
		{"iat future", "Bearer " + sign(keys, func(c map[string]any) { c["iat"] = now.Add(time.Hour).Unix() }), idV, 401, "iat is in the future", true},
		{"wrong issuer", "Bearer " + sign(keys, func(c map[string]any) { c["iss"] = "https://evil.example" }), idV, 403, "claim iss: want " + iss + ", got https://evil.example", false},
		{"wrong aud", "Bearer " + sign(keys, func(c map[string]any) { c["aud"] = "other-app" }), idV, 403, "claim aud: want app, got other-app", false},
		{"aud list", "Bearer " + sign(keys, func(c map[string]any) { c["aud"] = []string{"x", "app"} }), idV, 0, "", false},
		{"token_use access on id route", "Bearer " + sign(keys, func(c map[string]any) { c["token_use"] = "access" }), idV, 403, "claim token_use: want id, got access", false},
		{"access token", "Bearer " + sign(keys, func(c map[string]any) {
			delete(c, "aud")
			c["token_use"], c["client_id"], c["scope"] = "access", "app", "openid orders/read"
		}), accessV, 0, "", false},
		{"access token other client", "Bearer " + sign(keys, func(c map[string]any) {
			delete(c, "aud")
			c["token_use"], c["client_id"], c["scope"] = "access", "intruder", "orders/read"
		}), accessV, 403, "claim client_id: want other or app, got intruder", false},
		{"access token missing scope", "Bearer " + sign(keys, func(c map[string]any) {
			delete(c, "aud")
			c["token_use"], c["client_id"], c["scope"] = "access", "app", "openid"
		}), accessV, 403, "claim scope: missing orders/read", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, rej, r := verify(tc.v, tc.header)
			if tc.status == 0 {
				if rej != nil {
					t.Fatalf("refused: %d %s", rej.Status, rej.Reason)
				}
				if id.Kind != "jwt" || id.Principal != "a@example.com" || r.Header.Get("Authorization") != "" {
					t.Errorf("identity %+v, header left %q", id, r.Header.Get("Authorization"))
				}
				return
			}
			if rej == nil {
				t.Fatalf("accepted, want %d", tc.status)
			}
			if rej.Status != tc.status || !strings.Contains(rej.Reason, tc.reason) {
				t.Errorf("got %d %q, want %d %q", rej.Status, rej.Reason, tc.status, tc.reason)
			}
			if got := strings.Contains(rej.Header.Get("Www-Authenticate"), `error="invalid_token"`); got != tc.invalidToken {
				t.Errorf("WWW-Authenticate %q: invalid_token %v, want %v", rej.Header.Get("Www-Authenticate"), got, tc.invalidToken)
			}
			if strings.Contains(rej.Reason, good[:20]) {
				t.Error("the token is in the reason")
			}
		})
	}

	// Key rotation: the previous key still verifies, the one before not.
	// A token verified once is cached until shortly before its exp
	// (tokencache), key rotations notwithstanding, so the dropped-key check
	// uses a token signed with the same key but never presented before.
	old := sign(keys, none)
	unseen := sign(keys, func(c map[string]any) { c["jti"] = "unseen" })
	if err := keys.Rotate(); err != nil {
		t.Fatal(err)
	}
	if _, rej, _ := verify(idV, "Bearer "+old); rej != nil {
		t.Errorf("previous key after one rotation: %s", rej.Reason)
	}
	_ = keys.Rotate()
	if _, rej, _ := verify(idV, "Bearer "+unseen); rej == nil || rej.Status != 401 {
		t.Errorf("key dropped after two rotations still accepted")
	}
}

// TestRemoteJWKS checks keys fetched over HTTP: from jwks_url, and from the
// issuer's discovery document.
func TestRemoteJWKS(t *testing.T) {
	t.Parallel()
	keys := idp.NewKeys("remote-")
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	issuer := srv.URL + "/pool"
	var jwksHits int
	mux.HandleFunc("/pool/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		idp.WriteJSON(w, 200, map[string]any{"issuer": issuer, "jwks_uri": srv.URL + "/keys"})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		jwksHits++
		b, _ := idp.JWKS(keys)
		_, _ = w.Write(b)
	})
	tok, err := keys.Sign(map[string]any{"iss": issuer, "aud": "c", "sub": "s", "exp": time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	env := &auth.Env{Shared: map[string]any{}}
	for _, cfg := range []string{
		`{kind: jwt, issuer: "` + issuer + `", client_id: c}`,
		`{kind: jwt, issuer: "` + issuer + `", client_id: c, jwks_url: "` + srv.URL + `/keys"}`,
	} {
		v := verifier(t, env, cfg)
		for range 3 {
			if id, rej, _ := verify(v, "Bearer "+tok); rej != nil || id.Principal != "s" {
				t.Fatalf("%s: %v %v", cfg, id, rej)
			}
		}
	}
	if jwksHits != 2 {
		t.Errorf("JWKS fetched %d times, want once per verifier (cached)", jwksHits)
	}
	// A rotation: the unknown kid makes the key set refetch.
	_ = keys.Rotate()
	_ = keys.Rotate()
	tok2, _ := keys.Sign(map[string]any{"iss": issuer, "aud": "c", "sub": "s", "exp": time.Now().Add(time.Hour).Unix()})
	v := verifier(t, env, `{kind: jwt, issuer: "`+issuer+`", client_id: c}`)
	if _, rej, _ := verify(v, "Bearer "+tok2); rej != nil {
		t.Fatal(rej.Reason)
	}
	if _, rej, _ := verify(v, "Bearer "+tok); rej == nil || rej.Status != 401 {
		t.Error("a token of a dropped key accepted")
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for cfg, want := range map[string]string{
		`{kind: jwt, client_id: a}`:                                           "issuer is required",
		`{kind: jwt, issuer: "https://x"}`:                                    "set auth.client_id",
		`{kind: jwt, issuer: "x", client_id: a}`:                              "want an http(s) URL",
		`{kind: jwt, issuer: "https://x", client_id: a, token_use: both}`:     "token_use",
		`{kind: jwt, issuer: "https://x", client_id: a, algorithms: [HS256]}`: "not an asymmetric",
		`{kind: jwt, issuer: "https://x", client_id: a, leeway: 1h}`:          "leeway",
		`{kind: jwt, issuer: "https://x", client_id: a, nope: 1}`:             `unknown key "nope"`,
	} {
		_, err := jwtverify.Factory(node(t, cfg), &auth.Env{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", cfg, err, want)
		}
	}
}
