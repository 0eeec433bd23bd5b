package cfverify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
)

// Access mints one application token per session, not per request: a
// service token presented again, or a person logging in again, gets the
// token already minted for them until shortly before it expires. Minting is
// an RSA-2048 signature (about a millisecond of CPU); handing back a cached
// token costs a few hashes.
//
// The cache key is an HMAC over everything that authenticated the caller:
// the application's AUD tag, the kind of principal, the client id or email,
// and the SHA-256 of the client secret or password (never the secret
// itself). A changed or revoked secret therefore never hits, and a store
// holding keys learns neither ids nor secret digests. The HMAC key is
// derived from the current signing key, so a key rotation starts new
// sessions, and gateway instances share tokens exactly when they share
// signing keys (they do with a shared store, auth.SigningKey).

// assertionStore keeps minted application tokens where several gateway
// instances see them. Errors are not fatal: the verifier then mints, as
// without a store.
type assertionStore interface {
	Get(ctx context.Context, key string) (string, bool, error)
	Put(ctx context.Context, key, tok string, ttl time.Duration) error
}

// storeAssertions is assertionStore in the gateway's shared store
// (auth.Env.Store, Redis), under "cf_access:app:<key>".
type storeAssertions struct{ s auth.SharedStore }

func (a storeAssertions) Get(_ context.Context, key string) (string, bool, error) {
	v, ok, err := a.s.Get("cf_access:app:" + key)
	return string(v), ok, err
}

func (a storeAssertions) Put(_ context.Context, key, tok string, ttl time.Duration) error {
	return a.s.Set("cf_access:app:"+key, []byte(tok), ttl)
}

const (
	// maxAssertions bounds the in-process cache (least recently used
	// evicted first; github.com/hashicorp/golang-lru/v2).
	maxAssertions = 10000
	// maxReuseMargin is the longest a token is retired before its exp.
	maxReuseMargin = 5 * time.Minute
)

// reuseMargin is how long before its exp a minted token stops being handed
// out: a quarter of the session, at most five minutes, so a client always
// gets a token with most of its life left.
func reuseMargin(session time.Duration) time.Duration {
	return min(session/4, maxReuseMargin)
}

// assertion is one cached application token.
type assertion struct {
	token  string
	claims jwt.MapClaims // shared by every request it is handed to: read only
	exp    time.Time
	until  time.Time // handed out while now is before until
	// identity is the gateway identity of the token, encoded once.
	identity *auth.Identity
	// cookieHead is the start of its CF_Authorization Set-Cookie value, up
	// to Expires, as http.Cookie.String writes it (see setCookie).
	cookieHead string
}

func newAssertion(tok string, claims jwt.MapClaims, exp time.Time, session time.Duration) *assertion {
	head := (&http.Cookie{Name: CookieAuthorization, Value: tok, Path: "/", Expires: exp}).String()
	return &assertion{token: tok, claims: claims, exp: exp, until: exp.Add(-reuseMargin(session)),
		identity: identityOf(claims).Encode(), cookieHead: head}
}

// setCookie is the Set-Cookie value of the token's CF_Authorization cookie
// at now: what http.Cookie.String gives for it with Max-Age, HttpOnly,
// Secure (on TLS) and SameSite=Lax. The head, which holds the ~800-byte
// token, is built once per minted token: Cookie.String checks every byte of
// the value, which was a tenth of an /admin request's CPU.
func (a *assertion) setCookie(now time.Time, secure bool) string {
	maxAge := strconv.Itoa(max(int(a.exp.Sub(now).Seconds()), 1))
	if secure {
		return a.cookieHead + "; Max-Age=" + maxAge + "; HttpOnly; Secure; SameSite=Lax"
	}
	return a.cookieHead + "; Max-Age=" + maxAge + "; HttpOnly; SameSite=Lax"
}

// assertions is the in-process cache of minted tokens, in front of the
// shared store when there is one.
type assertions struct {
	local *lru.Cache[string, *assertion]
	store assertionStore // nil: in process only
	// mintMu makes concurrent first requests of one session wait for one
	// mint instead of each signing their own token.
	mintMu sync.Mutex
	keyed  atomic.Pointer[keyedMACs] // HMACs of the current cache secret
}

func newAssertions() *assertions {
	c, _ := lru.New[string, *assertion](maxAssertions) // fails only for size <= 0
	return &assertions{local: c}
}

// principal is who a minted token is for: a service token or a user, with
// the SHA-256 of the secret that authenticated them.
type principal struct {
	clientID string
	email    string
	secret   [sha256.Size]byte // digest of the client secret or password
}

// cacheKey is the HMAC m, keyed by the signing key's cache secret (see
// mockkeys.Store.CacheSecrets) and fresh or Reset, of what authenticated
// who for app.
func cacheKey(m hash.Hash, app *application, who principal) string {
	m.Write([]byte(app.aud))
	if who.email != "" {
		m.Write([]byte("\x00user\x00"))
		m.Write([]byte(who.email))
	} else {
		m.Write([]byte("\x00service\x00"))
		m.Write([]byte(who.clientID))
	}
	m.Write([]byte{0})
	m.Write(who.secret[:])
	var sum [sha256.Size]byte
	return hex.EncodeToString(m.Sum(sum[:0]))
}

// keyedMACs reuses the HMACs of cacheKey for one cache secret: hmac.New
// hashes the key into both pads on every call, while Reset on a used HMAC
// restores them from a saved state.
type keyedMACs struct {
	secret [sha256.Size]byte
	pool   sync.Pool // of hash.Hash keyed with secret
}

// key is cacheKey under k's secret.
func (k *keyedMACs) key(app *application, who principal) string {
	m, _ := k.pool.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, k.secret[:])
	} else {
		m.Reset()
	}
	key := cacheKey(m, app, who)
	k.pool.Put(m)
	return key
}

// macs returns the reusable HMACs for secret; a new secret (after a key
// rotation) replaces the old ones.
func (t *assertions) macs(secret [sha256.Size]byte) *keyedMACs {
	if k := t.keyed.Load(); k != nil && k.secret == secret {
		return k
	}
	k := &keyedMACs{secret: secret}
	t.keyed.Store(k)
	return k
}

// appToken returns the application token of who's session, minting one
// when there is none or the cached one is near its expiry.
func (s *state) appToken(ctx context.Context, app *application, who principal) (*assertion, error) {
	keys, err := s.keys.CacheSecrets()
	if err != nil {
		return nil, err
	}
	key := s.tokens.macs(keys[0]).key(app, who)
	if a, ok := s.cachedToken(ctx, key, app, who); ok {
		return a, nil
	}
	s.tokens.mintMu.Lock()
	defer s.tokens.mintMu.Unlock()
	if a, ok := s.cachedToken(ctx, key, app, who); ok {
		return a, nil
	}
	tok, claims, err := s.mintApp(app, who)
	if err != nil {
		return nil, err
	}
	exp := time.Unix(claims["exp"].(int64), 0)
	a := newAssertion(tok, claims, exp, app.session)
	s.tokens.local.Add(key, a)
	if st := s.tokens.store; st != nil {
		if ttl := a.until.Sub(s.now()); ttl > 0 {
			_ = st.Put(ctx, key, tok, ttl) // a failed put only means another mint elsewhere
		}
	}
	return a, nil
}

// cachedToken looks key up in process, then in the shared store. A token
// from the store is verified like any presented token and must name who,
// so a store that was written by someone else cannot inject an identity.
func (s *state) cachedToken(ctx context.Context, key string, app *application, who principal) (*assertion, bool) {
	now := s.now()
	if a, ok := s.tokens.local.Get(key); ok {
		if now.Before(a.until) {
			return a, true
		}
		s.tokens.local.Remove(key)
	}
	st := s.tokens.store
	if st == nil {
		return nil, false
	}
	tok, ok, err := st.Get(ctx, key)
	if err != nil || !ok {
		return nil, false
	}
	claims, err := s.verifyApp(app, tok)
	if err != nil {
		return nil, false
	}
	email, _ := claims["email"].(string)
	cn, _ := claims["common_name"].(string)
	if email != who.email || cn != who.clientID {
		return nil, false
	}
	expf, _ := claims.GetExpirationTime()
	if expf == nil {
		return nil, false
	}
	a := newAssertion(tok, claims, expf.Time, app.session)
	if !now.Before(a.until) {
		return nil, false
	}
	s.tokens.local.Add(key, a)
	return a, true
}
