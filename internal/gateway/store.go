package gateway

// The shared store (`store: {redis: redis://HOST:PORT/DB}`): several
// gateway instances keep their rate limits, edge caches and the mock
// providers' one-time state in one Redis (or Valkey), as the Workers
// gateway keeps them in KV. Without it every instance keeps them in
// process. Client: github.com/redis/go-redis/v9.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/turnstile"
)

// StoreConfig is the top-level store block.
type StoreConfig struct {
	// Redis is redis://[user:password@]HOST:PORT[/DB] (rediss:// for TLS).
	// A password in the URL never appears in messages.
	Redis string `yaml:"redis"`
}

// storeTimeout bounds one store operation, so a stuck Redis answers 503
// rather than hanging the request.
const storeTimeout = 2 * time.Second

func (c *StoreConfig) check(fail func(string) error) error {
	if c.Redis == "" {
		return fail("required: redis://HOST:PORT/DB")
	}
	if !strings.HasPrefix(c.Redis, "redis://") && !strings.HasPrefix(c.Redis, "rediss://") {
		return fail("want redis://HOST:PORT/DB or rediss://HOST:PORT/DB")
	}
	if _, err := redis.ParseURL(c.Redis); err != nil {
		return fail("not a Redis URL: " + redactRedis(err.Error(), c.Redis))
	}
	return nil
}

// redactRedis keeps a password in the URL out of messages.
func redactRedis(msg, raw string) string {
	if o, err := redis.ParseURL(raw); err == nil && o.Password != "" {
		msg = strings.ReplaceAll(msg, o.Password, "[secret]")
	}
	return msg
}

// sharedStore is a gateway's connection to the shared store.
type sharedStore struct {
	rdb    *redis.Client
	prefix string // key namespace, "gwcurl:"
}

// StoreError is a shared store the gateway cannot reach at startup (the
// CLI exits 7, as for a refused connection).
type StoreError struct {
	Addr string
	Err  error
}

func (e *StoreError) Error() string {
	return "gateway: store.redis: cannot reach " + e.Addr + ": " + e.Err.Error()
}

func (e *StoreError) Unwrap() error { return e.Err }

// silenceRedis turns off go-redis's own logger, a package global that
// writes connection retries to stderr: the gateway reports store failures
// itself (a startup error, a 503 or a MISS), and the request log is the
// only thing it writes.
var silenceRedis sync.Once

type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

// openStore connects and pings, so an unreachable store is a startup
// error rather than a 503 on every request.
func openStore(cfg *StoreConfig) (*sharedStore, error) {
	silenceRedis.Do(func() { redis.SetLogger(quietRedis{}) })
	opts, err := redis.ParseURL(cfg.Redis)
	if err != nil {
		return nil, fmt.Errorf("store.redis: %s", redactRedis(err.Error(), cfg.Redis))
	}
	opts.DialTimeout = storeTimeout
	opts.ReadTimeout = storeTimeout
	opts.WriteTimeout = storeTimeout
	rdb := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, &StoreError{Addr: opts.Addr, Err: errors.New(redactRedis(err.Error(), cfg.Redis))}
	}
	return &sharedStore{rdb: rdb, prefix: "gwcurl:"}, nil
}

func storeUnavailable(what string, err error) error {
	return &HTTPError{Status: http.StatusServiceUnavailable, Decision: "store_unavailable", Internal: true, Err: err,
		Reason: "shared store unavailable (" + what + ")", Header: http.Header{"Retry-After": {"1"}}}
}

// ---- rate limits ----

// gcraScript is the generic cell rate algorithm (the token bucket of
// x/time/rate, as one timestamp per client): KEYS[1] holds the theoretical
// arrival time in microseconds on the gateway clock. ARGV: now, the
// emission interval (1/rps) and the burst, in microseconds and requests.
// Answers {1, 0} when allowed, {0, µs until the next request is} when not.
var gcraScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local newtat = tat + interval
local allowat = newtat - burst * interval
if allowat > now then return {0, allowat - now} end
redis.call('SET', KEYS[1], string.format('%d', newtat), 'PX', math.floor((newtat - now) / 1000) + 1000)
return {1, 0}
`)

type redisLimiter struct {
	s        *sharedStore
	key      string // namespace of the route
	interval int64  // µs per request
	burst    int
}

func (s *sharedStore) limiter(route string, rl *RateLimit) *redisLimiter {
	iv := int64(float64(time.Second/time.Microsecond) / rl.RPS)
	if iv < 1 {
		iv = 1
	}
	return &redisLimiter{s: s, key: s.prefix + "rl:" + route + "\x00", interval: iv, burst: max(rl.Burst, 1)}
}

func (l *redisLimiter) allow(ctx context.Context, client string, now time.Time) (time.Duration, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	res, err := gcraScript.Run(ctx, l.s.rdb, []string{l.key + client},
		now.UnixMicro(), l.interval, l.burst).Int64Slice()
	if err != nil {
		return 0, false, err
	}
	if len(res) != 2 {
		return 0, false, errors.New("rate limit script: unexpected answer")
	}
	return time.Duration(res[1]) * time.Microsecond, res[0] == 1, nil
}

// ---- edge cache ----

// redisCache is a route's cacheStore in Redis. Entries expire in Redis
// when they go stale; max_entries does not apply (bound the store with
// its own maxmemory policy).
type redisCache struct {
	s   *sharedStore
	key string
}

type wireEntry struct {
	Status  int         `json:"s"`
	Header  http.Header `json:"h,omitempty"`
	Body    []byte      `json:"b,omitempty"`
	Stored  int64       `json:"t"` // µs on the gateway clock
	BaseAge int64       `json:"a,omitempty"`
	TTL     int64       `json:"l"`
	Vary    []string    `json:"v,omitempty"`
}

func (s *sharedStore) cache(route string) *redisCache {
	return &redisCache{s: s, key: s.prefix + "cache:" + route + "\x00"}
}

// sharedCache is the route's cacheStore in the shared store, or nil (in
// process).
func (g *Gateway) sharedCache(route string) cacheStore {
	if g.store == nil {
		return nil
	}
	return g.store.cache(route)
}

func (c *redisCache) get(ctx context.Context, key string) (*cacheEntry, bool) {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	b, err := c.s.rdb.Get(ctx, c.key+key).Bytes()
	if err != nil { // a miss, or the store is down: forward to the origin
		return nil, false
	}
	var w wireEntry
	if json.Unmarshal(b, &w) != nil {
		return nil, false
	}
	return &cacheEntry{status: w.Status, header: w.Header, body: w.Body, stored: time.UnixMicro(w.Stored),
		baseAge: time.Duration(w.BaseAge), ttl: time.Duration(w.TTL), vary: w.Vary}, true
}

func (c *redisCache) put(ctx context.Context, key string, e *cacheEntry) {
	b, err := json.Marshal(wireEntry{Status: e.status, Header: e.header, Body: e.body, Stored: e.stored.UnixMicro(),
		BaseAge: int64(e.baseAge), TTL: int64(e.ttl), Vary: e.vary})
	if err != nil {
		return
	}
	life := e.ttl - e.baseAge
	if life < time.Second {
		life = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	_ = c.s.rdb.Set(ctx, c.key+key, b, life).Err() // a failed store is a later MISS
}

// ---- Turnstile tokens ----

// redisTokens is turnstile.Tokens in Redis: an issued token is a key
// holding its expiry (µs, gateway clock); spending it is one atomic script,
// so a token verified on one instance is spent on all.
type redisTokens struct{ s *sharedStore }

var _ turnstile.Tokens = redisTokens{}

// oneTimeRetention is how long Redis keeps one-time state past its own
// expiry check (which runs on the gateway clock, possibly offset).
const oneTimeRetention = 15 * time.Minute

func (t redisTokens) Issue(tok string, exp time.Time) error {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	return t.s.rdb.Set(ctx, t.s.prefix+"turnstile:"+tok, strconv.FormatInt(exp.UnixMicro(), 10), oneTimeRetention).Err()
}

// spendScript: 0 unknown or expired, 1 spent now, 2 already spent.
var spendScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
if v == 'spent' then return 2 end
if tonumber(v) < tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], 'spent', 'KEEPTTL')
return 1
`)

func (t redisTokens) Spend(tok string, now time.Time) (bool, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	n, err := spendScript.Run(ctx, t.s.rdb, []string{t.s.prefix + "turnstile:" + tok}, now.UnixMicro()).Int()
	if err != nil {
		return false, false, err
	}
	return n == 1, n == 2, nil
}

// ---- the mock providers' state ----

// redisShared is auth.SharedStore in Redis, under gwcurl:mock:.
type redisShared struct{ s *sharedStore }

var _ auth.SharedStore = redisShared{}

func (m redisShared) key(k string) string { return m.s.prefix + "mock:" + k }

func (m redisShared) Get(k string) ([]byte, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	b, err := m.s.rdb.Get(ctx, m.key(k)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

func (m redisShared) Set(k string, v []byte, ttl time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	return m.s.rdb.Set(ctx, m.key(k), v, ttl).Err()
}

func (m redisShared) SetNX(k string, v []byte, ttl time.Duration) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	return m.s.rdb.SetNX(ctx, m.key(k), v, ttl).Result()
}

// takeScript marks KEYS[1] used with a companion key KEYS[1]..":taken"
// that lives as long as it: {value, 1} for the first take, {value, 0}
// after, nil when KEYS[1] is absent.
var takeScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return false end
local ttl = redis.call('PTTL', KEYS[1])
local first
if ttl > 0 then
  first = redis.call('SET', KEYS[1] .. ':taken', '1', 'NX', 'PX', ttl)
else
  first = redis.call('SET', KEYS[1] .. ':taken', '1', 'NX')
end
if first then return {v, 1} end
return {v, 0}
`)

func (m redisShared) Take(k string) ([]byte, bool, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	res, err := takeScript.Run(ctx, m.s.rdb, []string{m.key(k)}).Slice()
	if errors.Is(err, redis.Nil) {
		return nil, false, false, nil
	}
	if err != nil {
		return nil, false, false, err
	}
	if len(res) != 2 {
		return nil, false, false, errors.New("take script: unexpected answer")
	}
	v, _ := res[0].(string)
	n, _ := res[1].(int64)
	return []byte(v), n == 1, true, nil
}
