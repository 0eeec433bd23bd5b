package gateway

// Edge policies: the rules here are those of the edges gwcurl mirrors
// (Cloudflare Workers/Access, API Gateway, CloudFront) and of
// docs/gateway.md ("Header sanitization"): an origin behind the gateway may trust every identity
// and forwarding header it receives, because the gateway removes whatever
// the client sent under those names and sets them itself.

import (
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ---- security response headers ----

// defaultSecurityHeaders are set on every answer (an origin's own values
// for these names are replaced, as an edge response-headers policy with
// "override origin" does).
var defaultSecurityHeaders = map[string]string{
	"Strict-Transport-Security":  "max-age=63072000; includeSubDomains",
	"X-Content-Type-Options":     "nosniff",
	"X-Frame-Options":            "DENY",
	"Referrer-Policy":            "no-referrer",
	"Content-Security-Policy":    "default-src 'none'; frame-ancestors 'none'",
	"Cross-Origin-Opener-Policy": "same-origin",
}

func securityHeaders(overrides map[string]string) []headerValue {
	m := make(map[string]string, len(defaultSecurityHeaders)+len(overrides))
	for k, v := range defaultSecurityHeaders {
		m[k] = v
	}
	for k, v := range overrides {
		k = http.CanonicalHeaderKey(k)
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	out := make([]headerValue, 0, len(m))
	for k, v := range m {
		out = append(out, headerValue{name: k, value: []string{v}[:1:1]})
	}
	slices.SortFunc(out, func(a, b headerValue) int { return strings.Compare(a.name, b.name) })
	return out
}

// ---- CORS ----

var defaultCORSMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}

var defaultCORSHeaders = []string{
	"Authorization", "Content-Type", "X-Amz-Date", "X-Amz-Content-Sha256", "X-Amz-Security-Token",
	"X-Amz-User-Agent", "X-Fluid-Identity", "X-Serverless-Authorization", "Cf-Access-Client-Id",
	"Cf-Access-Client-Secret", "Cf-Access-Token", "X-Request-Id",
}

var defaultCORSExpose = []string{"X-Request-Id", "Retry-After", "Www-Authenticate"}

type corsPolicy struct {
	enabled     bool
	origins     map[string]bool
	methods     map[string]bool
	headers     map[string]bool // lower case
	allowOthers bool
	credentials bool

	allowMethods []string
	allowHeaders []string
	expose       []string
	maxAge       []string
}

var (
	varyOrigin    = []string{"Origin"}[:1:1]
	varyPreflight = []string{"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"}[:1:1]
	trueValue     = []string{"true"}[:1:1]
)

func newCORSPolicy(c CORSConfig) corsPolicy {
	p := corsPolicy{
		enabled:     len(c.AllowOrigins) > 0,
		origins:     map[string]bool{},
		methods:     map[string]bool{},
		headers:     map[string]bool{},
		allowOthers: c.AllowOtherOrigins,
		credentials: c.AllowCredentials,
	}
	for _, o := range c.AllowOrigins {
		p.origins[o] = true
	}
	methods := c.AllowMethods
	if len(methods) == 0 {
		methods = defaultCORSMethods
	}
	for _, m := range methods {
		p.methods[m] = true
	}
	hdrs := c.AllowHeaders
	if len(hdrs) == 0 {
		hdrs = defaultCORSHeaders
	}
	for _, h := range hdrs {
		p.headers[strings.ToLower(h)] = true
	}
	expose := c.ExposeHeaders
	if len(expose) == 0 {
		expose = defaultCORSExpose
	}
	maxAge := time.Duration(c.MaxAge)
	if maxAge == 0 {
		maxAge = 10 * time.Minute
	}
	p.allowMethods = []string{strings.Join(methods, ", ")}[:1:1]
	p.allowHeaders = []string{strings.Join(hdrs, ", ")}[:1:1]
	p.expose = []string{strings.Join(expose, ", ")}[:1:1]
	p.maxAge = []string{strconv.Itoa(int(maxAge.Seconds()))}[:1:1]
	return p
}

// sameOrigin reports whether origin ("http://host:port") names the host the
// request was sent to.
func sameOrigin(origin, host string) bool {
	rest, ok := strings.CutPrefix(origin, "http://")
	if !ok {
		rest, ok = strings.CutPrefix(origin, "https://")
	}
	return ok && host != "" && strings.EqualFold(rest, host)
}

// apply runs the CORS policy. done means the request was answered here (a
// preflight); err is a refusal. CORS headers are set on the response
// before anything else runs, so every answer carries them, the gateway's
// own errors included.
func (p *corsPolicy) apply(st *reqState, r *http.Request) (done bool, err error) {
	origins := r.Header["Origin"]
	preflight := r.Method == http.MethodOptions && len(r.Header["Access-Control-Request-Method"]) > 0
	h := st.Header()
	if p.enabled {
		if preflight {
			h["Vary"] = varyPreflight
		} else {
			h["Vary"] = varyOrigin
		}
	}
	if len(origins) == 0 {
		if preflight {
			return false, &HTTPError{Status: http.StatusForbidden, Decision: "cors_refused", Reason: "cors: preflight without an Origin header"}
		}
		return false, nil
	}
	origin := origins[0]
	if !preflight && sameOrigin(origin, r.Host) {
		// Not a cross-origin request: browsers send Origin on every form
		// POST, including the mock login pages' own forms.
		return false, nil
	}
	allowed := p.origins[origin]
	if allowed {
		h["Access-Control-Allow-Origin"] = origins[:1:1]
		if p.credentials {
			h["Access-Control-Allow-Credentials"] = trueValue
		}
		if !preflight {
			h["Access-Control-Expose-Headers"] = p.expose
		}
	}
	switch {
	case !p.enabled && preflight:
		return false, &HTTPError{Status: http.StatusForbidden, Decision: "cors_refused", Reason: "cors: this gateway allows no cross-origin requests (cors.allow_origins is empty)"}
	case !allowed && (preflight || p.enabled && !p.allowOthers):
		return false, &HTTPError{Status: http.StatusForbidden, Decision: "cors_refused", Reason: "cors: origin " + origin + " is not allowed",
			Details: map[string]any{"refused_origin": origin}}
	case !preflight:
		return false, nil
	}
	method := r.Header.Get("Access-Control-Request-Method")
	if !p.methods[method] {
		return false, &HTTPError{Status: http.StatusForbidden, Decision: "cors_refused", Reason: "cors: method " + method + " is not allowed"}
	}
	for _, line := range r.Header["Access-Control-Request-Headers"] {
		for name := range strings.SplitSeq(line, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			if name != "" && !p.headers[name] {
				return false, &HTTPError{Status: http.StatusForbidden, Decision: "cors_refused", Reason: "cors: request header " + name + " is not allowed"}
			}
		}
	}
	h["Access-Control-Allow-Methods"] = p.allowMethods
	h["Access-Control-Allow-Headers"] = p.allowHeaders
	h["Access-Control-Max-Age"] = p.maxAge
	h["Cache-Control"] = noStore
	st.decision = "cors_preflight"
	st.WriteHeader(http.StatusNoContent)
	return true, nil
}

// ---- header sanitization ----

// headerClass classifies a request header name, compared case-insensitively
// with '_' as '-', since some origins (CGI, nginx with
// underscores_in_headers) read X_Forwarded_For as X-Forwarded-For.
type headerClass int

const (
	headerPass       headerClass = iota
	headerInternal               // never accepted from a client
	headerCredential             // read by a verifier, never forwarded
)

// internalExact and internalPrefixes are removed before verification;
// they are the edge's and the gateway's to set (docs/gateway.md, "Header sanitization").
var internalExact = []string{
	"forwarded", "x-real-ip", "true-client-ip", "x-client-ip", "x-cluster-client-ip",
	"cf-connecting-ip", "cf-connecting-ipv6", "cf-ray", "cf-ipcountry", "cf-visitor", "cf-worker",
	"cf-ew-via", "cdn-loop", "x-request-id", "x-original-url", "x-rewrite-url",
	"x-goog-iap-jwt-assertion", "x-gateway-identity",
}

var internalPrefixes = []string{
	"x-forwarded-", "x-user-", "x-auth-", "x-amzn-", "x-apigateway-", "cloudfront-",
	"x-goog-authenticated-user-", "x-envoy-", "x-gateway-",
	"cf-access-", // except the credentials below, checked first
}

// credentialExact are read by verifiers (Cloudflare service tokens, the
// Access app token, Cloud Run's second auth header) and never forwarded.
var credentialExact = []string{
	"cf-access-client-id", "cf-access-client-secret", "cf-access-token", "x-serverless-authorization",
	"cf-access-metadata-request", // Access app discovery (cloudflared login), answered by the cf_access verifier
}

func classifyHeader(name string) headerClass {
	if name == "" {
		return headerPass
	}
	switch lower(name[0]) {
	case 'c', 'f', 't', 'x':
	default:
		return headerPass
	}
	for _, c := range credentialExact {
		if foldEqual(name, c) {
			return headerCredential
		}
	}
	for _, c := range internalExact {
		if foldEqual(name, c) {
			return headerInternal
		}
	}
	for _, p := range internalPrefixes {
		if len(name) > len(p) && foldEqual(name[:len(p)], p) {
			return headerInternal
		}
	}
	return headerPass
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	if c == '_' {
		return '-'
	}
	return c
}

// foldEqual compares a header name with a lower-case pattern.
func foldEqual(name, pattern string) bool {
	if len(name) != len(pattern) {
		return false
	}
	for i := 0; i < len(name); i++ {
		if lower(name[i]) != pattern[i] {
			return false
		}
	}
	return true
}

// sanitize removes client-supplied internal headers before verification.
func (g *Gateway) sanitize() Middleware {
	return func(next Handler) Handler {
		return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			for k := range r.Header {
				if classifyHeader(k) == headerInternal {
					delete(r.Header, k)
				}
			}
			return next.ServeHTTP(w, r)
		})
	}
}

// removeCredentials removes, after verification, the credentials an origin
// must never see: Cloudflare service-token headers, the Access app token
// and cookies, X-Serverless-Authorization. A verifier removes the ones it
// consumed itself (Authorization, the STS identity header); these are
// removed whatever the route's kind, since a client could send them to a
// route of another kind.
func removeCredentials(h http.Header) {
	for k := range h {
		if classifyHeader(k) == headerCredential {
			delete(h, k)
		}
	}
	cookies := h["Cookie"]
	if len(cookies) == 0 {
		return
	}
	changed := false
	for _, c := range cookies {
		if strings.Contains(c, "CF_") {
			changed = true
		}
	}
	if !changed {
		return
	}
	var kept []string
	for _, line := range cookies {
		var parts []string
		for part := range strings.SplitSeq(line, ";") {
			// Names are compared as browsers and net/http parse them:
			// whitespace around the name is not part of it, so
			// "CF_Authorization =x" is the CF_Authorization cookie.
			name, _, _ := strings.Cut(part, "=")
			name = strings.Trim(name, " \t")
			if isCredentialCookie(name) || strings.TrimSpace(part) == "" {
				continue
			}
			parts = append(parts, strings.TrimSpace(part))
		}
		if len(parts) > 0 {
			kept = append(kept, strings.Join(parts, "; "))
		}
	}
	if len(kept) == 0 {
		delete(h, "Cookie")
	} else {
		h["Cookie"] = kept
	}
}

// isCredentialCookie reports whether a cookie name (already trimmed) is
// one of Cloudflare Access's, which no origin may see.
func isCredentialCookie(name string) bool {
	return name == "CF_Authorization" || name == "CF_AppSession"
}

// ---- body size limit ----

// limitBody refuses a declared body over the limit before reading a byte
// of it (and before any verifier hashes it), and caps a body of unknown
// length (chunked) so that reading past the limit fails with
// *http.MaxBytesError, which the gateway answers as 413.
func (g *Gateway) limitBody(rt *route) Middleware {
	limit := g.bodyLimit(rt)
	return func(next Handler) Handler {
		return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			if st := stateOf(w); st != nil {
				if err := checkBody(st, r, limit); err != nil {
					return err
				}
			}
			return next.ServeHTTP(w, r)
		})
	}
}

func checkBody(st *reqState, r *http.Request, limit int64) error {
	if r.ContentLength > limit {
		return &HTTPError{Status: http.StatusRequestEntityTooLarge, Decision: "too_large",
			Reason:  "request body of " + strconv.FormatInt(r.ContentLength, 10) + " bytes is larger than the limit of " + formatSize(limit),
			Details: map[string]any{"size": r.ContentLength, "limit": formatSize(limit)},
			Header:  http.Header{"Connection": {"close"}}}
	}
	if r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(st, r.Body, limit)
	}
	return nil
}

// ---- rate limiting ----

// rateLimit is a token bucket per client address (golang.org/x/time/rate),
// on the gateway clock. The address is the TCP peer: forwarding headers
// from the client are not trusted.
// With a shared store the bucket lives in Redis (store.go), one per route
// and client for all the instances.
func (g *Gateway) rateLimit(prefix string, rl *RateLimit) Middleware {
	if rl == nil {
		return nil
	}
	cl := &clientLimiter{limit: rate.Limit(rl.RPS), burst: rl.Burst, m: map[string]*rate.Limiter{}, sweepAt: 4096}
	var shared *redisLimiter
	if g.store != nil {
		shared = g.store.limiter(prefix, rl)
	}
	return func(next Handler) Handler {
		return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			st := stateOf(w)
			client := r.RemoteAddr
			if st != nil {
				client = st.client
			}
			var wait time.Duration
			var ok bool
			if shared != nil {
				var err error
				if wait, ok, err = shared.allow(r.Context(), client, g.now()); err != nil {
					return storeUnavailable("rate limit", err)
				}
			} else {
				wait, ok = cl.allow(client, g.now())
			}
			if !ok {
				secs := int(math.Ceil(wait.Seconds()))
				if secs < 1 {
					secs = 1
				}
				return &HTTPError{Status: http.StatusTooManyRequests, Decision: "rate_limited",
					Reason: "rate limit of " + strconv.FormatFloat(float64(cl.limit), 'g', -1, 64) + " requests/s (burst " + strconv.Itoa(cl.burst) + ") exceeded for " + client,
					Header: http.Header{"Retry-After": {strconv.Itoa(secs)}}}
			}
			return next.ServeHTTP(w, r)
		})
	}
}

type clientLimiter struct {
	limit   rate.Limit
	burst   int
	mu      sync.Mutex
	m       map[string]*rate.Limiter
	sweepAt int
}

// allow takes a token for client at now, or says how long until one is
// available.
func (c *clientLimiter) allow(client string, now time.Time) (time.Duration, bool) {
	c.mu.Lock()
	lim := c.m[client]
	if lim == nil {
		if len(c.m) >= c.sweepAt {
			c.sweep(now)
		}
		lim = rate.NewLimiter(c.limit, c.burst)
		c.m[strings.Clone(client)] = lim
	}
	c.mu.Unlock()
	res := lim.ReserveN(now, 1)
	if !res.OK() {
		return time.Second, false
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}

// sweep forgets clients whose bucket is full again: a fresh limiter
// behaves the same, so memory stays bounded by the active clients.
func (c *clientLimiter) sweep(now time.Time) {
	for k, lim := range c.m {
		if lim.TokensAt(now) >= float64(c.burst) {
			delete(c.m, k)
		}
	}
	c.sweepAt = max(4096, 2*len(c.m))
}
