package cfverify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
)

// clock is a settable gateway clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// mapStore is an auth.SharedStore in a map, standing in for the gateway's
// Redis (the Redis one is tested in internal/gateway with a real server).
type mapStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *mapStore) Get(key string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	return v, ok, nil
}

func (s *mapStore) Set(key string, v []byte, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = v
	return nil
}

func (s *mapStore) SetNX(key string, v []byte, _ time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[key]; ok {
		return false, nil
	}
	s.m[key] = v
	return true, nil
}

func (s *mapStore) Take(key string) ([]byte, bool, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	first := ok && s.m[key+":taken"] == nil
	if first {
		s.m[key+":taken"] = []byte("1")
	}
	return v, first, ok, nil
}

// tokens returns the application tokens in the store, by key.
func (s *mapStore) tokens() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for k, v := range s.m {
		if rest, ok := strings.CutPrefix(k, "cf_access:app:"); ok {
			out[rest] = string(v)
		}
	}
	return out
}

func serviceConfig(secret string) string {
	return strings.Replace(demoConfig, demoSecret, secret, 1)
}

// present calls v with a service token pair and returns the status, the
// assertion the origin would receive and the response.
func present(t *testing.T, v auth.Verifier, id, secret string) (int, string, *httptest.ResponseRecorder) {
	t.Helper()
	r := httptest.NewRequest("GET", "http://gw.test/admin/x", nil)
	r.Header.Set(HeaderClientID, id)
	r.Header.Set(HeaderClientSecret, secret)
	w := httptest.NewRecorder()
	_, err := v.Verify(w, r)
	if err != nil {
		if _, ok := err.(*auth.Rejection); !ok {
			t.Fatalf("Verify: %v", err)
		}
		return http.StatusForbidden, "", w
	}
	return http.StatusOK, r.Header.Get(HeaderAssertion), w
}

func newVerifier(t *testing.T, env *auth.Env, cfg string) auth.Verifier {
	t.Helper()
	v, err := Factory(node(t, cfg), env)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestOneTokenPerSession: a service token presented again gets the token
// already minted, until shortly before it expires; then a new one.
func TestOneTokenPerSession(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Now().Truncate(time.Second)} // tokens carry whole seconds
	env := &auth.Env{Now: clk.now, Shared: map[string]any{}}
	v := newVerifier(t, env, demoConfig)
	st := env.Shared[sharedKey].(*state)

	_, first, w := present(t, v, demoID, demoSecret)
	if first == "" {
		t.Fatal("no assertion minted")
	}
	if _, err := st.verifyApp(v.(*verifier).app, first); err != nil {
		t.Fatalf("minted token does not verify: %v", err)
	}
	cookie := w.Result().Cookies()[0]
	if cookie.MaxAge != int(defaultSession.Seconds()) {
		t.Errorf("first cookie Max-Age %d, want the whole session", cookie.MaxAge)
	}

	clk.add(time.Hour)
	_, again, w := present(t, v, demoID, demoSecret)
	if again != first {
		t.Fatal("a second request of the session got a new token")
	}
	if got, want := w.Result().Cookies()[0].MaxAge, int((defaultSession - time.Hour).Seconds()); got != want {
		t.Errorf("cookie Max-Age %d after an hour, want %d (what is left of the token)", got, want)
	}

	// Within the reuse margin of exp, a fresh token is minted.
	clk.add(defaultSession - time.Hour - reuseMargin(defaultSession) + time.Second)
	_, renewed, _ := present(t, v, demoID, demoSecret)
	if renewed == first || renewed == "" {
		t.Fatal("a token near its expiry was handed out again")
	}
	claims, err := st.verifyApp(v.(*verifier).app, renewed)
	if err != nil {
		t.Fatal(err)
	}
	if exp, _ := claims.GetExpirationTime(); exp == nil || exp.Sub(clk.now()) != defaultSession {
		t.Errorf("renewed token exp %v, want a whole session from now", exp)
	}
}

// TestChangedSecretMisses: the cache is keyed by the secret too, so a
// token minted for the old secret is never handed to the new one, and the
// old secret is refused once the config changed.
func TestChangedSecretMisses(t *testing.T) {
	t.Parallel()
	env := &auth.Env{Now: time.Now, Shared: map[string]any{}}
	oldV := newVerifier(t, env, demoConfig)
	_, oldTok, _ := present(t, oldV, demoID, demoSecret)

	newV := newVerifier(t, env, serviceConfig("rotated-cf-secret")) // same AUD, same state
	status, newTok, _ := present(t, newV, demoID, "rotated-cf-secret")
	if status != 200 || newTok == "" || newTok == oldTok {
		t.Fatalf("new secret: status %d, same token as the old secret: %v", status, newTok == oldTok)
	}
	if status, _, _ := present(t, newV, demoID, demoSecret); status != http.StatusForbidden {
		t.Errorf("old secret after the change: status %d, want 403", status)
	}
	if status, _, _ := present(t, oldV, demoID, "rotated-cf-secret"); status != http.StatusForbidden {
		t.Errorf("new secret on the old config: status %d, want 403", status)
	}
	if status, _, _ := present(t, newV, "other.access", "rotated-cf-secret"); status != http.StatusForbidden {
		t.Errorf("unknown client id with a known secret: status %d, want 403", status)
	}
}

// TestCacheKey: the key depends on every part of what authenticated the
// caller and shows none of it.
func TestCacheKey(t *testing.T) {
	t.Parallel()
	env := &auth.Env{Now: time.Now, Shared: map[string]any{}}
	v := newVerifier(t, env, demoConfig).(*verifier)
	keys, err := v.st.keys.CacheSecrets()
	if err != nil {
		t.Fatal(err)
	}
	secret := sha256.Sum256([]byte(demoSecret))
	base := principal{clientID: demoID, secret: secret}
	key := cacheKey(hmac.New(sha256.New, keys[0][:]), v.app, base)
	for _, leak := range []string{demoID, demoSecret, hex.EncodeToString(secret[:])} {
		if strings.Contains(key, leak) {
			t.Errorf("cache key %s contains %q", key, leak)
		}
	}
	other := &application{aud: strings.Repeat("a", 64), teamDomain: v.app.teamDomain, session: v.app.session}
	for name, k := range map[string]string{
		"other secret":      cacheKey(hmac.New(sha256.New, keys[0][:]), v.app, principal{clientID: demoID, secret: sha256.Sum256([]byte("x"))}),
		"other client id":   cacheKey(hmac.New(sha256.New, keys[0][:]), v.app, principal{clientID: "other", secret: secret}),
		"a user, same name": cacheKey(hmac.New(sha256.New, keys[0][:]), v.app, principal{email: demoID, secret: secret}),
		"other application": cacheKey(hmac.New(sha256.New, keys[0][:]), other, base),
		"other signing key": cacheKey(hmac.New(sha256.New, keys[1][:]), v.app, base),
	} {
		if k == key {
			t.Errorf("%s: same cache key", name)
		}
	}
	// The pooled HMACs give the same keys when reused, and a new secret
	// takes new ones.
	var a assertions
	for i := range 3 {
		if got := a.macs(keys[0]).key(v.app, base); got != key {
			t.Errorf("reuse %d: key %s, want %s", i, got, key)
		}
		if got := a.macs(keys[0]).key(other, base); got == key {
			t.Errorf("reuse %d: other application, same key", i)
		}
	}
	if a.macs(keys[1]).key(v.app, base) != cacheKey(hmac.New(sha256.New, keys[1][:]), v.app, base) {
		t.Error("after a new secret the pooled key differs from a fresh HMAC's")
	}
}

// TestUserSession: a person logging in again within their session gets the
// same app token; another password (after a change) does not.
func TestUserSession(t *testing.T) {
	t.Parallel()
	env := &auth.Env{Now: time.Now, Shared: map[string]any{}}
	v := newVerifier(t, env, demoConfig).(*verifier)
	who := principal{email: "demo@example.com", secret: sha256.Sum256([]byte("demo-password"))}
	a, err := v.st.appToken(t.Context(), v.app, who)
	if err != nil {
		t.Fatal(err)
	}
	b, err := v.st.appToken(t.Context(), v.app, who)
	if err != nil {
		t.Fatal(err)
	}
	if a.token != b.token || a.claims["email"] != "demo@example.com" {
		t.Fatalf("second login: same token %v, claims %v", a.token == b.token, b.claims)
	}
	who.secret = sha256.Sum256([]byte("new-password"))
	c, err := v.st.appToken(t.Context(), v.app, who)
	if err != nil {
		t.Fatal(err)
	}
	if c.token == a.token {
		t.Fatal("a login with another password got the cached token")
	}
}

// TestSharedStore: minted tokens go to the store; a token read back from it
// is verified and must name the caller, so a wrong or foreign entry is
// never handed out.
func TestSharedStore(t *testing.T) {
	t.Parallel()
	store := &mapStore{m: map[string][]byte{}}
	env := &auth.Env{Now: time.Now, Shared: map[string]any{}, Store: store}
	v := newVerifier(t, env, demoConfig).(*verifier)
	_, tok, _ := present(t, v, demoID, demoSecret)
	stored := store.tokens()
	if len(stored) != 1 {
		t.Fatalf("store holds %d tokens, want 1", len(stored))
	}
	var key string
	for k, stored := range stored {
		key = k
		if stored != tok {
			t.Fatal("the store holds another token than the one handed out")
		}
	}

	// With the in-process cache empty (as on another instance with the
	// same keys), the token is read back from the store, not minted.
	v.st.tokens.local.Purge()
	if _, again, _ := present(t, v, demoID, demoSecret); again != tok {
		t.Fatal("the token in the store was not reused")
	}

	// Entries that do not verify, or name someone else, are not used.
	now := time.Now()
	foreign := jwt.MapClaims{"iss": demoTeam, "aud": []string{demoAUD}, "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "type": "app", "common_name": "someone.else", "sub": ""}
	signed, err := v.st.sign(foreign)
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]string{
		"garbage":        "not-a-jwt",
		"another caller": signed,
		"tampered":       tok[:len(tok)-4] + "AAAA",
	} {
		_ = store.Set("cf_access:app:"+key, []byte(bad), 0)
		v.st.tokens.local.Purge()
		status, got, _ := present(t, v, demoID, demoSecret)
		if status != 200 || got == bad {
			t.Errorf("%s in the store: status %d, handed out: %v", name, status, got == bad)
		}
		claims, err := v.st.verifyApp(v.app, got)
		if err != nil || claims["common_name"] != demoID {
			t.Errorf("%s in the store: the token handed out is not the caller's: %v %v", name, err, claims)
		}
	}
}

// The Set-Cookie value built from the cached head is byte for byte what
// http.Cookie.String writes for the same cookie.
func TestSetCookieMatchesCookieString(t *testing.T) {
	exp := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	tok := "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2lnbmF0dXJl-_"
	a := newAssertion(tok, jwt.MapClaims{"sub": "x"}, exp, time.Hour)
	for _, tc := range []struct {
		now    time.Time
		secure bool
	}{
		{exp.Add(-time.Hour), false},
		{exp.Add(-90 * time.Second), true},
		{exp.Add(time.Second), false}, // past exp: Max-Age 1, as before
	} {
		want := (&http.Cookie{
			Name: CookieAuthorization, Value: tok, Path: "/", Expires: exp,
			MaxAge:   max(int(exp.Sub(tc.now).Seconds()), 1),
			HttpOnly: true, Secure: tc.secure, SameSite: http.SameSiteLaxMode,
		}).String()
		if got := a.setCookie(tc.now, tc.secure); got != want {
			t.Errorf("now %v secure %v:\n got %s\nwant %s", tc.now, tc.secure, got, want)
		}
	}
}
