package jwtverify_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/jwtverify/idp"
)

// TestJWKSRefetchIsRateLimited: tokens with unknown kids must not each cost
// the issuer a JWKS fetch (amplification); known keys keep verifying, and
// a refetch is allowed again after the interval (key rotation).
func TestJWKSRefetchIsRateLimited(t *testing.T) {
	t.Parallel()
	keys := idp.NewKeys("good-")
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, _ := idp.JWKS(keys)
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	var mu sync.Mutex
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	env := &auth.Env{Shared: map[string]any{}, Now: clock}
	issuer := "https://issuer.test"
	v := verifier(t, env, `{kind: jwt, issuer: "`+issuer+`", client_id: c, jwks_url: "`+srv.URL+`"}`)
	claims := func() map[string]any {
		return map[string]any{"iss": issuer, "aud": "c", "sub": "s", "exp": clock().Add(time.Hour).Unix()}
	}
	good, _ := keys.Sign(claims())
	if _, rej, _ := verify(v, "Bearer "+good); rej != nil {
		t.Fatal(rej.Reason)
	}
	stranger := idp.NewKeys("unknown-")
	for i := range 20 {
		_ = stranger.Rotate() // a new kid every time
		tok, _ := stranger.Sign(claims())
		_, rej, _ := verify(v, "Bearer "+tok)
		if rej == nil || rej.Status != http.StatusUnauthorized {
			t.Fatalf("token %d of an unknown key: %v", i, rej)
		}
		if i == 1 && !strings.Contains(rej.Reason, "refetch refused") {
			t.Errorf("reason %q does not say the refetch was refused", rej.Reason)
		}
		if _, rej, _ := verify(v, "Bearer "+good); rej != nil {
			t.Fatalf("a known key stopped verifying: %s", rej.Reason)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("JWKS fetched %d times for 20 unknown kids within the interval, want 1 (the first fetch)", n)
	}
	// After the interval a rotation is picked up with one fetch.
	advance(11 * time.Second)
	_ = keys.Rotate()
	rotated, _ := keys.Sign(claims())
	if _, rej, _ := verify(v, "Bearer "+rotated); rej != nil {
		t.Fatalf("rotated key after the interval: %s", rej.Reason)
	}
	if n := hits.Load(); n != 2 {
		t.Errorf("JWKS fetched %d times, want 2", n)
	}
}

// TestTimeClaimsMustBeNumericDates: an nbf or iat that is not a NumericDate
// (RFC 7519 §4.1.5-6) is refused, not ignored as if absent.
func TestTimeClaimsMustBeNumericDates(t *testing.T) {
	t.Parallel()
	keys := idp.NewKeys("k-")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := idp.JWKS(keys)
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	issuer := "https://issuer.test"
	v := verifier(t, &auth.Env{Shared: map[string]any{}}, `{kind: jwt, issuer: "`+issuer+`", client_id: c, jwks_url: "`+srv.URL+`"}`)
	exp := time.Now().Add(time.Hour).Unix()
	future := time.Now().Add(24 * time.Hour)
	for name, c := range map[string]map[string]any{
		"nbf string":      {"nbf": future.Format(time.RFC3339)},
		"nbf numeric str": {"nbf": "9999999999"},
		"iat string":      {"iat": future.Format(time.RFC3339)},
		"iat bool":        {"iat": true},
		"nbf object":      {"nbf": map[string]any{"$date": 1}},
		"exp string":      {"exp": "9999999999"},
		"iat null":        {"iat": nil},
	} {
		claims := map[string]any{"iss": issuer, "aud": "c", "sub": "s", "exp": exp}
		for k, val := range c {
			claims[k] = val
		}
		tok, err := keys.Sign(claims)
		if err != nil {
			t.Fatal(err)
		}
		_, rej, _ := verify(v, "Bearer "+tok)
		if rej == nil || rej.Status != http.StatusUnauthorized || !strings.Contains(rej.Reason, "not a NumericDate") {
			t.Errorf("%s: %v, want 401 not a NumericDate", name, rej)
		}
	}
}
