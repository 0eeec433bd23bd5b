package jwtverify_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/jwtverify"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/jwtverify/idp"
)

// countingKeys counts signature verifications against the issuer's keys.
type countingKeys struct {
	*idp.Keys
	n atomic.Int64
}

func (c *countingKeys) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	c.n.Add(1)
	return c.Keys.VerifySignature(ctx, jwt)
}

// TestValidationCache: a verified token is not verified again until
// shortly before its exp; refusals are never cached; an expired token is
// refused once its exp has passed on the gateway clock.
func TestValidationCache(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	keys := &countingKeys{Keys: idp.NewKeys("k-")}
	env := &auth.Env{Now: clock, Shared: map[string]any{}}
	if err := jwtverify.RegisterIssuer(env, iss, keys); err != nil {
		t.Fatal(err)
	}
	v := verifier(t, env, `{kind: jwt, issuer: "`+iss+`", client_id: app, token_use: id}`)
	sign := func(aud string) string {
		s, err := keys.Sign(map[string]any{"iss": iss, "sub": "u-1", "aud": aud, "token_use": "id", "email": "a@example.com",
			"iat": clock().Unix(), "exp": clock().Add(time.Hour).Unix()})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good, wrongAud := sign("app"), sign("someone-else")

	for i := range 5 {
		id, rej, r := verify(v, "Bearer "+good)
		if rej != nil || id.Principal != "a@example.com" || r.Header.Get("Authorization") != "" {
			t.Fatalf("request %d: %+v %v, Authorization left %q", i, id, rej, r.Header.Get("Authorization"))
		}
	}
	if n := keys.n.Load(); n != 1 {
		t.Errorf("5 requests with one token: %d signature verifications, want 1", n)
	}
	for range 3 {
		if _, rej, _ := verify(v, "Bearer "+wrongAud); rej == nil || rej.Status != 403 {
			t.Fatalf("wrong audience accepted: %v", rej)
		}
	}
	if n := keys.n.Load(); n != 4 {
		t.Errorf("a refusal was cached: %d verifications after 3 refused requests, want 4", n)
	}
	// Within the last 30 s before exp the token is verified afresh.
	advance(time.Hour - 20*time.Second)
	if _, rej, _ := verify(v, "Bearer "+good); rej != nil {
		t.Fatalf("20 s before exp: %v", rej)
	}
	if n := keys.n.Load(); n != 5 {
		t.Errorf("near exp: %d verifications, want 5 (verified again)", n)
	}
	advance(21 * time.Second)
	if _, rej, _ := verify(v, "Bearer "+good); rej == nil || rej.Status != 401 || !strings.Contains(rej.Reason, "expired") {
		t.Fatalf("after exp: %v, want 401 expired", rej)
	}
}
