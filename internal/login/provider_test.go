package login_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gwcurl/gwcurl/internal/login"
	"github.com/gwcurl/gwcurl/internal/profiles"
)

// otherOP is a small, independent OpenID provider that follows the specs
// but differs from the mock Cognito everywhere it may: Keycloak-style
// paths, ES256 ID tokens, aud as an array with azp, no token_use, opaque
// access tokens, a confidential client that must use client_secret_basic
// (RFC 6749 §2.3.1 encoding), rotating refresh tokens, RFC 9207 iss in the
// authorization response, and no login page (the user has a session).
type otherOP struct {
	t       *testing.T
	srv     *httptest.Server
	issuer  string
	key     *ecdsa.PrivateKey
	wrongIs bool // send a wrong iss in the authorization response (mix-up)
	idMod   func(jwt.MapClaims)
	signKey *ecdsa.PrivateKey // signs ID tokens instead of key (a key not in the JWKS)
	methods []string

	mu       sync.Mutex
	codes    map[string]opGrant
	refresh  map[string]bool // live refresh tokens
	revoked  []string
	basicIDs []string
}

type opGrant struct{ redirect, challenge, nonce string }

const (
	opClient = "cli"
	opSecret = "s3cr3t:with/odd chars"
	opEmail  = "someone@example.org"
)

func newOtherOP(t *testing.T) *otherOP {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	op := &otherOP{t: t, key: key, codes: map[string]opGrant{}, refresh: map[string]bool{}, methods: []string{"S256"}}
	mux := http.NewServeMux()
	op.srv = httptest.NewServer(mux)
	t.Cleanup(op.srv.Close)
	op.issuer = op.srv.URL + "/realms/gw"
	base := op.issuer + "/protocol/openid-connect"
	mux.HandleFunc("GET /realms/gw/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{
			"issuer": op.issuer, "authorization_endpoint": base + "/auth", "token_endpoint": base + "/token",
			"jwks_uri": base + "/certs", "revocation_endpoint": base + "/revoke", "userinfo_endpoint": base + "/userinfo",
			"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported":          []string{"ES256"},
			"token_endpoint_auth_methods_supported":          []string{"client_secret_basic"},
			"code_challenge_methods_supported":               op.methods,
			"authorization_response_iss_parameter_supported": true,
		})
	})
	mux.HandleFunc("GET /realms/gw/protocol/openid-connect/certs", func(w http.ResponseWriter, r *http.Request) {
		pub, err := op.key.PublicKey.ECDH()
		if err != nil {
			t.Error(err)
			return
		}
		xy := pub.Bytes()[1:] // uncompressed point: 0x04 || X || Y
		b64 := base64.RawURLEncoding.EncodeToString
		writeJSON(w, 200, map[string]any{"keys": []map[string]string{{
			"kty": "EC", "crv": "P-256", "x": b64(xy[:32]), "y": b64(xy[32:]), "kid": "es-1", "alg": "ES256", "use": "sig",
		}}})
	})
	mux.HandleFunc("GET /realms/gw/protocol/openid-connect/auth", op.authorize)
	mux.HandleFunc("POST /realms/gw/protocol/openid-connect/token", op.token)
	mux.HandleFunc("POST /realms/gw/protocol/openid-connect/revoke", op.revoke)
	return op
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (op *otherOP) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ru, err := url.Parse(q.Get("redirect_uri"))
	if q.Get("client_id") != opClient || err != nil || ru.Scheme != "http" || ru.Hostname() != "127.0.0.1" || ru.Path != "/callback" {
		http.Error(w, "invalid client or redirect_uri", 400)
		return
	}
	if q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("state") == "" || q.Get("nonce") == "" ||
		!strings.Contains(" "+q.Get("scope")+" ", " openid ") {
		http.Error(w, "bad authorization request: "+r.URL.RawQuery, 400)
		return
	}
	code := base64.RawURLEncoding.EncodeToString(randBytes(24))
	op.mu.Lock()
	op.codes[code] = opGrant{redirect: ru.String(), challenge: q.Get("code_challenge"), nonce: q.Get("nonce")}
	op.mu.Unlock()
	iss := op.issuer
	if op.wrongIs {
		iss = "https://other-issuer.example"
	}
	http.Redirect(w, r, ru.String()+"?"+url.Values{"code": {code}, "state": {q.Get("state")}, "iss": {iss}}.Encode(), http.StatusSeeOther)
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func (op *otherOP) token(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	id, secret, ok := r.BasicAuth()
	id, _ = url.QueryUnescape(id)
	secret, _ = url.QueryUnescape(secret)
	if !ok || id != opClient || secret != opSecret || r.PostForm.Get("client_secret") != "" {
		writeJSON(w, 401, map[string]string{"error": "invalid_client", "error_description": "client_secret_basic required"})
		return
	}
	op.mu.Lock()
	op.basicIDs = append(op.basicIDs, id)
	op.mu.Unlock()
	nonce := ""
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		op.mu.Lock()
		g, ok := op.codes[r.PostForm.Get("code")]
		delete(op.codes, r.PostForm.Get("code"))
		op.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if !ok || g.redirect != r.PostForm.Get("redirect_uri") || base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
			writeJSON(w, 400, map[string]string{"error": "invalid_grant"})
			return
		}
		nonce = g.nonce
	case "refresh_token":
		op.mu.Lock()
		live := op.refresh[r.PostForm.Get("refresh_token")]
		delete(op.refresh, r.PostForm.Get("refresh_token")) // rotation: one use
		op.mu.Unlock()
		if !live {
			writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "Token is not active"})
			return
		}
	default:
		writeJSON(w, 400, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	now := time.Now()
	claims := jwt.MapClaims{"iss": op.issuer, "sub": "f:1234:someone", "aud": []string{opClient, "account"}, "azp": opClient,
		"email": opEmail, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "auth_time": now.Unix()}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	if op.idMod != nil {
		op.idMod(claims)
	}
	tk := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tk.Header["kid"] = "es-1"
	key := op.key
	if op.signKey != nil {
		key = op.signKey
	}
	idt, err := tk.SignedString(key)
	if err != nil {
		op.t.Error(err)
	}
	rt := base64.RawURLEncoding.EncodeToString(randBytes(32))
	op.mu.Lock()
	op.refresh[rt] = true
	op.mu.Unlock()
	writeJSON(w, 200, map[string]any{"access_token": "opaque-" + base64.RawURLEncoding.EncodeToString(randBytes(16)), "token_type": "bearer",
		"expires_in": 300, "refresh_expires_in": 1800, "refresh_token": rt, "id_token": idt, "scope": "openid email"})
}

func (op *otherOP) revoke(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	id, secret, ok := r.BasicAuth()
	id, _ = url.QueryUnescape(id)
	secret, _ = url.QueryUnescape(secret)
	if !ok || id != opClient || secret != opSecret {
		writeJSON(w, 401, map[string]string{"error": "invalid_client"})
		return
	}
	op.mu.Lock()
	op.revoked = append(op.revoked, r.PostForm.Get("token"))
	delete(op.refresh, r.PostForm.Get("token"))
	op.mu.Unlock()
	w.WriteHeader(200)
}

func (op *otherOP) opts(t *testing.T, store profiles.SecretStore) login.Options {
	return login.Options{
		Profile: "other",
		Auth: profiles.Auth{Kind: "cognito", Issuer: op.issuer, ClientID: opClient, ClientSecret: "env:OP_SECRET",
			Scopes: []string{"email"}},
		HTTPClient: op.srv.Client(),
		Timeout:    10 * time.Second,
		Store:      store,
		Resolver:   &profiles.Resolver{Getenv: func(k string) string { return map[string]string{"OP_SECRET": opSecret}[k] }, Store: store},
		Stderr:     &lockedBuffer{},
		// The user has a session at the provider: opening the URL is enough.
		Browser: func(u string) error {
			go func() {
				resp, err := op.srv.Client().Get(u)
				if err == nil {
					resp.Body.Close()
				}
			}()
			return nil
		},
	}
}

// TestStandardOIDCProvider: the generic path logs in against a provider
// that is not the mock Cognito.
func TestStandardOIDCProvider(t *testing.T) {
	t.Parallel()
	op := newOtherOP(t)
	store := newMemStore()
	o := op.opts(t, store)
	tok, err := login.Login(t.Context(), o)
	if err != nil {
		t.Fatalf("login: %v\n%s", err, o.Stderr)
	}
	sub, email, _, err := login.Identity(tok)
	if err != nil || sub != "f:1234:someone" || email != opEmail {
		t.Errorf("Identity: %q %q %v", sub, email, err)
	}
	if b, _ := login.BearerToken(tok, o.Auth); b != tok.Extra("id_token") {
		t.Error("default bearer is not the ID token")
	}
	acc := o.Auth
	acc.UseToken = "access"
	if b, _ := login.BearerToken(tok, acc); !strings.HasPrefix(b, "opaque-") {
		t.Errorf("use_token access: %q", b)
	}
	// Rotating refresh tokens: the new one is stored and used next time.
	r1, err := login.Refresh(t.Context(), o)
	if err != nil || r1.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh 1: %v", err)
	}
	r2, err := login.Refresh(t.Context(), o)
	if err != nil || r2.RefreshToken == r1.RefreshToken {
		t.Fatalf("refresh 2 (with the rotated token): %v", err)
	}
	if err := login.Logout(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	op.mu.Lock()
	defer op.mu.Unlock()
	if len(op.revoked) != 1 || op.revoked[0] != r2.RefreshToken {
		t.Errorf("revoked %v, want the current refresh token", op.revoked)
	}
	if len(op.basicIDs) != 3 {
		t.Errorf("%d token requests with client_secret_basic, want 3", len(op.basicIDs))
	}
}

func TestStandardOIDCProviderRefusals(t *testing.T) {
	t.Parallel()
	t.Run("mix-up", func(t *testing.T) {
		op := newOtherOP(t)
		op.wrongIs = true
		_, err := login.Login(t.Context(), op.opts(t, newMemStore()))
		if err == nil || !strings.Contains(err.Error(), "mix-up") {
			t.Errorf("iss mismatch: %v", err)
		}
	})
	t.Run("no S256", func(t *testing.T) {
		op := newOtherOP(t)
		op.methods = []string{"plain"}
		_, err := login.Login(t.Context(), op.opts(t, newMemStore()))
		if err == nil || !strings.Contains(err.Error(), "does not support PKCE S256") {
			t.Errorf("plain only: %v", err)
		}
	})
	t.Run("issuer mismatch", func(t *testing.T) {
		op := newOtherOP(t)
		o := op.opts(t, newMemStore())
		o.Auth.Issuer += "/"
		_, err := login.Login(t.Context(), o)
		if err == nil || !strings.Contains(err.Error(), "names issuer "+op.issuer) {
			t.Errorf("issuer with a slash: %v", err)
		}
	})
	// The ID token is verified on receipt; nothing is stored when it fails.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for name, tc := range map[string]struct {
		mod  func(jwt.MapClaims)
		key  *ecdsa.PrivateKey
		want string
	}{
		"other audience": {mod: func(c jwt.MapClaims) { c["aud"] = []string{"someone-else"} }, want: "expected audience"},
		"other issuer":   {mod: func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }, want: "issued by a different provider"},
		"expired":        {mod: func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }, want: "expired"},
		"wrong nonce":    {mod: func(c jwt.MapClaims) { c["nonce"] = "replayed" }, want: "nonce does not match"},
		"foreign key":    {key: other, want: "does not verify"},
	} {
		t.Run(name, func(t *testing.T) {
			op := newOtherOP(t)
			op.idMod, op.signKey = tc.mod, tc.key
			store := newMemStore()
			_, err := login.Login(t.Context(), op.opts(t, store))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v, want %q", err, tc.want)
			}
			if store.len() != 0 {
				t.Error("a token that failed verification was stored")
			}
		})
	}
	t.Run("wrong secret", func(t *testing.T) {
		op := newOtherOP(t)
		o := op.opts(t, newMemStore())
		o.Resolver = &profiles.Resolver{Getenv: func(string) string { return "wrong" }}
		_, err := login.Login(t.Context(), o)
		if err == nil || !strings.Contains(err.Error(), "invalid_client") || strings.Contains(err.Error(), "wrong") {
			t.Errorf("wrong secret: %v", err)
		}
	})
}
