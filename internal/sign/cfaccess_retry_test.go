package sign

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gwcurl/gwcurl/internal/profiles"
)

// A cached Access token that the server refuses (say, the app's keys
// rotated) is dropped and the request is retried once with the service token.
func TestCFAccessRefusedTokenRetriesWithPair(t *testing.T) {
	var withToken, withPair atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get(CFAccessTokenHeader) != "":
			withToken.Add(1)
			w.WriteHeader(http.StatusForbidden)
		case r.Header.Get(CFAccessClientIDHeader) == "id.access" && r.Header.Get(CFAccessClientSecretHeader) == "the-secret":
			withPair.Add(1)
			w.WriteHeader(http.StatusOK)
		default:
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()

	dir := t.TempDir()
	now := time.Now()
	payload, _ := json.Marshal(map[string]any{"type": "app", "exp": now.Add(time.Hour).Unix(), "common_name": "id.access", "aud": []string{"x"}})
	stale := "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(payload) + ".c2ln"
	key, err := CFAccessCacheKey("p", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	cache := &profiles.TokenCache{Dir: dir, Now: func() time.Time { return now }}
	if err := cache.Put(key, cfTokenForTest(stale, now.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	d := Deps{
		Profile: "p", HTTPClient: srv.Client(), Now: func() time.Time { return now },
		Getenv:   func(k string) string { return map[string]string{"CF_SECRET": "the-secret"}[k] },
		CacheDir: dir, Stderr: &strings.Builder{},
	}
	d.Secrets = &profiles.Resolver{Getenv: d.Getenv}
	s, err := New(context.Background(), profiles.Auth{Kind: "cf-access", ClientID: "id.access", ClientSecret: "env:CF_SECRET"}, srv.URL, d)
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	client := &http.Client{Transport: &Transport{Signer: s, AllowedHost: host}}
	resp, err := client.Get(srv.URL + "/admin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || withToken.Load() != 1 || withPair.Load() != 1 {
		t.Fatalf("status %d after %d token and %d pair attempts; want 200 after one of each", resp.StatusCode, withToken.Load(), withPair.Load())
	}
}

func cfTokenForTest(raw string, exp time.Time) *oauth2.Token {
	return &oauth2.Token{AccessToken: raw, Expiry: exp}
}
