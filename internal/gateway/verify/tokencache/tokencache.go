// Package tokencache is the access-token validation cache of the jwt and
// google_id verifiers: a token that passed every check is not verified
// again (signature, JWKS, claims) until shortly before its exp, as API
// gateways cache authorizer results. Only successes are cached; a refusal
// is recomputed on every request. Entries are keyed by the token's SHA-256,
// so the cache never holds a bearer token, and bounded in number (least
// recently used evicted first; github.com/hashicorp/golang-lru/v2).
package tokencache

import (
	"crypto/sha256"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

const (
	// DefaultSize bounds the entries of a route's cache.
	DefaultSize = 10000
	// Margin is how long before its exp a cached token is verified again,
	// so a token is never accepted from the cache after it expires, even
	// with the clock skew of a request in flight.
	Margin = 30 * time.Second
)

type entry struct {
	claims map[string]any
	until  time.Time
}

// Cache maps verified tokens to their claims. Safe for concurrent use.
type Cache struct {
	c *lru.Cache[[sha256.Size]byte, entry]
}

// New makes a cache of at most size entries (size <= 0: DefaultSize).
func New(size int) *Cache {
	if size <= 0 {
		size = DefaultSize
	}
	c, _ := lru.New[[sha256.Size]byte, entry](size) // only fails for size <= 0
	return &Cache{c: c}
}

// Get returns the claims of tok if it was verified and is not within
// Margin of its exp at now. The claims map is shared: do not modify it.
func (c *Cache) Get(tok string, now time.Time) (map[string]any, bool) {
	k := sha256.Sum256([]byte(tok))
	e, ok := c.c.Get(k)
	if !ok {
		return nil, false
	}
	if !now.Before(e.until) {
		c.c.Remove(k)
		return nil, false
	}
	return e.claims, true
}

// Put records tok as verified with claims, until Margin before exp. A
// token that close to its expiry is not stored.
func (c *Cache) Put(tok string, claims map[string]any, exp, now time.Time) {
	until := exp.Add(-Margin)
	if !now.Before(until) {
		return
	}
	c.c.Add(sha256.Sum256([]byte(tok)), entry{claims: claims, until: until})
}

// Len is the number of entries.
func (c *Cache) Len() int { return c.c.Len() }
