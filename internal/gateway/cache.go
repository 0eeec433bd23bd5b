package gateway

// The edge cache of a route (`cache:`), a shared cache by RFC 9111: GET and
// HEAD answers are stored when the origin allows a shared cache to
// (public, max-age, s-maxage; never no-store, private, no-cache, Vary: *
// or Set-Cookie), keyed by method, path, query and the headers the origin
// varies on, and served with Age and X-Cache: HIT until they are stale.
// It sits behind the route's verifier: a HIT never skips authentication.

import (
	"container/list"
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CacheConfig is a route's edge cache.
type CacheConfig struct {
	MaxEntries int      `yaml:"max_entries"` // default 1000
	MaxBody    ByteSize `yaml:"max_body"`    // largest stored body, default 1 MiB
	// DefaultTTL is the freshness of an answer that allows caching
	// (public) without saying for how long (0: such answers are not stored).
	DefaultTTL Duration `yaml:"default_ttl"`
	// Authenticated lets answers to credentialed requests be stored (still
	// only with public, s-maxage or must-revalidate, RFC 9111 §3.5).
	Authenticated bool `yaml:"authenticated"`
}

const (
	defaultCacheEntries = 1000
	defaultCacheBody    = 1 << 20
)

// heuristicallyCacheable are the statuses RFC 9110 §15.1 lets a cache
// store (with explicit freshness for the others it is still refused here).
var heuristicallyCacheable = map[int]bool{200: true, 203: true, 204: true, 300: true, 301: true, 308: true,
	404: true, 405: true, 410: true, 414: true, 501: true}

type cacheEntry struct {
	status  int
	header  http.Header
	body    []byte
	stored  time.Time
	baseAge time.Duration // the origin's Age when stored
	ttl     time.Duration
	vary    []string // canonical names the origin varies on
}

// cacheStore is where entries live: in process (lruStore) or shared.
type cacheStore interface {
	get(ctx context.Context, key string) (*cacheEntry, bool)
	put(ctx context.Context, key string, e *cacheEntry)
}

// lruStore is an LRU map bounded by entry count. Hand-written (a list and
// a map) because the module has no LRU dependency and this is 30 lines.
type lruStore struct {
	mu  sync.Mutex
	max int
	ll  *list.List
	m   map[string]*list.Element
}

type lruItem struct {
	key string
	e   *cacheEntry
}

func newLRU(max int) *lruStore {
	return &lruStore{max: max, ll: list.New(), m: map[string]*list.Element{}}
}

func (s *lruStore) get(_ context.Context, key string) (*cacheEntry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.m[key]
	if !ok {
		return nil, false
	}
	s.ll.MoveToFront(el)
	return el.Value.(*lruItem).e, true
}

func (s *lruStore) put(_ context.Context, key string, e *cacheEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.m[key]; ok {
		el.Value.(*lruItem).e = e
		s.ll.MoveToFront(el)
		return
	}
	s.m[key] = s.ll.PushFront(&lruItem{key: key, e: e})
	for s.ll.Len() > s.max {
		old := s.ll.Back()
		s.ll.Remove(old)
		delete(s.m, old.Value.(*lruItem).key)
	}
}

type edgeCache struct {
	cfg   CacheConfig
	store cacheStore
	now   func() time.Time
}

// varyHolder receives the origin's Vary, which the proxy removes from the
// answer (the gateway owns Vary for CORS).
type varyHolder struct{ vary []string }

type varyKey struct{}

func (g *Gateway) cacheMiddleware(c *CacheConfig, store cacheStore) Middleware {
	if c == nil {
		return nil
	}
	cfg := *c
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = defaultCacheEntries
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = defaultCacheBody
	}
	if store == nil {
		store = newLRU(cfg.MaxEntries)
	}
	ec := &edgeCache{cfg: cfg, store: store, now: g.now}
	return func(next Handler) Handler {
		return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			return ec.serve(next, w, r)
		})
	}
}

func (ec *edgeCache) serve(next Handler, w http.ResponseWriter, r *http.Request) error {
	st := stateOf(w)
	reqCC := parseCacheControl(r.Header.Values("Cache-Control"))
	credentialed := st != nil && st.identity != nil && st.identity.Kind != "none"
	if (r.Method != http.MethodGet && r.Method != http.MethodHead) || st == nil || reqCC.has("no-store") ||
		(credentialed && !ec.cfg.Authenticated) {
		w.Header().Set("X-Cache", "MISS")
		return next.ServeHTTP(w, r)
	}
	ctx := r.Context()
	base := r.Method + " " + r.URL.EscapedPath() + "?" + r.URL.RawQuery
	scope := ""
	if credentialed {
		// Answers to one principal are never served to another.
		scope = "\x00" + st.identity.Kind + ":" + st.identity.Principal
	}
	base += scope
	revalidate := reqCC.has("no-cache") || reqCC.seconds("max-age") == 0 || strings.Contains(r.Header.Get("Pragma"), "no-cache")
	if !revalidate {
		if v, ok := ec.store.get(ctx, "v\x00"+base); ok {
			if e, ok := ec.store.get(ctx, fullKey(base, v.vary, r.Header)); ok {
				if age := ec.age(e); age < e.ttl {
					return ec.hit(w, r, e, age)
				}
			}
		}
	}

	// MISS: forward, and keep a copy of an answer that may be stored.
	holder := &varyHolder{}
	r = r.WithContext(context.WithValue(ctx, varyKey{}, holder))
	pre := make(map[string]bool, len(w.Header()))
	for k := range w.Header() {
		pre[k] = true
	}
	cw := &cacheWriter{ResponseWriter: st.w, limit: int64(ec.cfg.MaxBody)}
	st.w = cw
	err := next.ServeHTTP(w, r)
	st.w = cw.ResponseWriter
	if err != nil || cw.over || !cw.wrote {
		return err
	}
	if e := ec.storable(cw, holder.vary, pre, credentialed); e != nil {
		if slices.Contains(e.vary, "*") {
			return nil
		}
		ec.store.put(ctx, "v\x00"+base, &cacheEntry{vary: e.vary, ttl: e.ttl, stored: e.stored})
		ec.store.put(ctx, fullKey(base, e.vary, r.Header), e)
	}
	return nil
}

func fullKey(base string, vary []string, h http.Header) string {
	var b strings.Builder
	b.WriteString(base)
	for _, name := range vary {
		b.WriteString("\n")
		b.WriteString(name)
		b.WriteString(":")
		b.WriteString(strings.Join(h.Values(name), ","))
	}
	return b.String()
}

func (ec *edgeCache) age(e *cacheEntry) time.Duration {
	return ec.now().Sub(e.stored) + e.baseAge
}

func (ec *edgeCache) hit(w http.ResponseWriter, r *http.Request, e *cacheEntry, age time.Duration) error {
	st := stateOf(w)
	st.upstream = "cache"
	h := w.Header()
	for k, v := range e.header {
		h[k] = v
	}
	h["Age"] = []string{strconv.FormatInt(int64(age/time.Second), 10)}
	h["X-Cache"] = []string{"HIT"}
	h["Content-Length"] = []string{strconv.Itoa(len(e.body))}
	w.WriteHeader(e.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(e.body)
	}
	return nil
}

// storable returns the entry for an answer a shared cache may store, or nil.
func (ec *edgeCache) storable(cw *cacheWriter, vary []string, pre map[string]bool, credentialed bool) *cacheEntry {
	h := cw.Header()
	cc := parseCacheControl(h.Values("Cache-Control"))
	if !heuristicallyCacheable[cw.status] || cc.has("no-store") || cc.has("private") || cc.has("no-cache") ||
		len(h.Values("Set-Cookie")) > 0 {
		return nil
	}
	if credentialed && !cc.has("public") && !cc.has("must-revalidate") && cc.seconds("s-maxage") < 0 {
		return nil // RFC 9111 §3.5
	}
	ttl := time.Duration(-1)
	switch {
	case cc.seconds("s-maxage") >= 0:
		ttl = time.Duration(cc.seconds("s-maxage")) * time.Second
	case cc.seconds("max-age") >= 0:
		ttl = time.Duration(cc.seconds("max-age")) * time.Second
	case h.Get("Expires") != "":
		if exp, err := http.ParseTime(h.Get("Expires")); err == nil {
			ttl = exp.Sub(ec.now())
		} else {
			ttl = 0 // an invalid Expires means already expired
		}
	case cc.has("public"):
		ttl = time.Duration(ec.cfg.DefaultTTL)
	}
	if ttl <= 0 {
		return nil
	}
	var names []string
	for _, v := range vary {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				names = append(names, http.CanonicalHeaderKey(f))
			}
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	e := &cacheEntry{status: cw.status, header: http.Header{}, body: cw.buf, stored: ec.now(), ttl: ttl, vary: names}
	if a, err := strconv.Atoi(h.Get("Age")); err == nil && a > 0 {
		e.baseAge = time.Duration(a) * time.Second
	}
	for k, v := range h {
		switch {
		case pre[k], k == "Age", k == "X-Cache", k == "X-Request-Id", k == "Date", k == "Content-Length":
			continue
		}
		e.header[k] = slices.Clone(v)
	}
	if len(names) > 0 {
		e.header["Vary"] = []string{strings.Join(names, ", ")}
	}
	return e
}

// cacheWriter passes the answer through and keeps a copy up to limit.
type cacheWriter struct {
	http.ResponseWriter
	limit  int64
	status int
	wrote  bool
	over   bool
	buf    []byte
}

func (c *cacheWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 {
		c.ResponseWriter.WriteHeader(code)
		return
	}
	if !c.wrote {
		c.wrote, c.status = true, code
		c.Header()["X-Cache"] = []string{"MISS"}
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *cacheWriter) Write(p []byte) (int, error) {
	if !c.wrote {
		c.WriteHeader(http.StatusOK)
	}
	if !c.over {
		if int64(len(c.buf)+len(p)) > c.limit {
			c.over, c.buf = true, nil
		} else {
			c.buf = append(c.buf, p...)
		}
	}
	return c.ResponseWriter.Write(p)
}

func (c *cacheWriter) Flush() { _ = http.NewResponseController(c.ResponseWriter).Flush() }

func (c *cacheWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// cacheControl is a parsed Cache-Control header: directive → argument.
type cacheControl map[string]string

func parseCacheControl(values []string) cacheControl {
	cc := cacheControl{}
	for _, v := range values {
		for _, d := range strings.Split(v, ",") {
			k, arg, _ := strings.Cut(strings.TrimSpace(d), "=")
			if k = strings.ToLower(strings.TrimSpace(k)); k != "" {
				cc[k] = strings.Trim(strings.TrimSpace(arg), `"`)
			}
		}
	}
	return cc
}

func (cc cacheControl) has(d string) bool { _, ok := cc[d]; return ok }

// seconds is a delta-seconds directive's value, or -1 when absent or bad.
func (cc cacheControl) seconds(d string) int64 {
	v, ok := cc[d]
	if !ok {
		return -1
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}
