// Package gateway is gwcurl's mock edge gateway, as a library: one
// [http.Handler] used by `gwcurl gateway`, `gwcurl demo` and the tests.
//
// # Request pipeline
//
// Every request goes through, in order:
//
//  1. security response headers and an X-Request-Id are set; a Host the
//     gateway does not serve is answered 421 (DNS-rebinding guard);
//  2. CORS: preflights are answered here, an Origin outside the exact
//     allowlist is refused (403), an allowed one gets CORS headers on every
//     answer, the gateway's own errors included;
//  3. mock providers (auth.Mock prefixes such as /_mock/cognito/) and the
//     gateway's own endpoints (/, /_mock/requests) are served;
//  4. the route is chosen by the longest path prefix; an unknown path is a
//     JSON 404;
//  5. the route's chain: allowed methods (405), rate limit per client
//     (429 + Retry-After), body size limit (413 before any byte is read),
//     removal of client-supplied internal headers, the auth kind's
//     verifier (deny by default), removal of consumed credentials, the
//     identity and injected headers, the in-flight limit (503), prefix
//     stripping and dispatch by path to the origin: builtin:echo,
//     builtin:items or an http(s) upstream (502/503/504 as JSON on failure);
//  6. the decision is written to the request log.
//
// Verifiers plug in through the contract in package auth; [DefaultKinds]
// lists the kinds a gateway knows.
package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/turnstile"
	"github.com/gwcurl/gwcurl/internal/originauth"
	"github.com/gwcurl/gwcurl/internal/rejectcode"
)

// Options are the gateway's connections to the world.
type Options struct {
	// Now is the gateway clock (nil: time.Now). The CLI passes a clock with
	// --clock-offset applied.
	Now func() time.Time
	// BaseURL is the gateway's own URL ("http://127.0.0.1:PORT"); it
	// expands ${base_url} in the config.
	BaseURL string
	// Log receives the request log as JSON lines (nil: discarded; the
	// recent entries are still served at /_mock/requests).
	Log io.Writer
	// Kinds are the auth kinds by name (nil: DefaultKinds()).
	Kinds map[string]auth.Factory
	// Mocks build the mock identity providers (nil: DefaultMocks()).
	Mocks []auth.MockFactory
	// Getenv reads env: references of origin_auth blocks (nil: os.Getenv).
	Getenv func(string) string
	// OriginAuth builds the signers of origin_auth blocks (the CLI passes
	// sign.OriginTransport); nil makes a route with origin_auth a config
	// error.
	OriginAuth originauth.Factory
}

// Gateway is the mock gateway; it is an http.Handler, safe for concurrent
// use. Close it to release upstream connections.
type Gateway struct {
	cfg     *Config
	now     func() time.Time
	baseURL string
	env     *auth.Env
	getenv  func(string) string
	// originFactory builds origin_auth signers (Options.OriginAuth).
	originFactory originauth.Factory

	routes      []*route // longest prefix first
	rootRoute   bool     // a route serves "/", so there is no index page
	mocks       []mount  // longest prefix first
	cors        corsPolicy
	hosts       hostPolicy
	secHeaders  []headerValue
	log         *requestLog
	index       []byte
	transports  []*http.Transport
	wsHubs      []*wsHub  // WebSocket routes' connections (websocket.go)
	states      sync.Pool // of *reqState
	bodyBufs    sync.Pool // of *bytes.Buffer, for builtin:echo
	copyBufs    sync.Pool // of *[]byte, for the reverse proxy
	idPrefix    string
	seq         atomic.Uint64
	anonymous   *auth.Identity
	anonymousJS []string
	date        atomic.Pointer[dateValue] // Date header of the current second
	store       *sharedStore              // nil without store: (store.go)
}

// RouteInfo describes a route, for the index page and the demo table.
type RouteInfo struct {
	Prefix      string            `json:"prefix"`
	Auth        string            `json:"auth"`
	Upstream    string            `json:"upstream"`
	Paths       map[string]string `json:"paths,omitempty"`
	Methods     []string          `json:"methods,omitempty"`
	StripPrefix string            `json:"strip_prefix,omitempty"`
	RateLimit   *RateLimit        `json:"rate_limit,omitempty"`
	OriginAuth  string            `json:"origin_auth,omitempty"`
}

type route struct {
	info      RouteInfo
	prefix    string
	kind      string
	explain   bool
	bodyLimit int64
	keepAuthz bool        // origin_auth keeps the caller's Authorization
	origin    *originAuth // nil without origin_auth
	handler   Handler
	items     *itemStore // nil unless an origin is builtin:items
}

type mount struct {
	prefix string // as given
	bare   string // prefix without its trailing slash, also matched
	h      http.Handler
}

type headerValue struct {
	name  string
	value []string
}

// Defaults.
const (
	defaultBodyLimit   = 10 << 20
	defaultRecent      = 1000
	defaultDialTimeout = 5 * time.Second
	defaultTimeout     = 30 * time.Second
	defaultMaxIdle     = 256
	requestsPath       = "/_mock/requests"
	identityHeader     = "X-Gateway-Identity"
)

// New builds a gateway from a validated config. Errors about the config
// (an unknown auth kind, a bad auth block) name its file, line and key.
func New(cfg *Config, opts Options) (*Gateway, error) {
	if cfg == nil {
		return nil, errors.New("gateway: no config (use LoadConfig or DemoConfig)")
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	kinds := opts.Kinds
	if kinds == nil {
		kinds = DefaultKinds()
	}
	mockFactories := opts.Mocks
	if mockFactories == nil {
		mockFactories = DefaultMocks()
	}
	base := strings.TrimSuffix(opts.BaseURL, "/")
	if base != "" {
		if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
			return nil, fmt.Errorf("gateway: base URL %q is not an origin such as http://127.0.0.1:8080", opts.BaseURL)
		}
	}
	x := &expander{file: cfg.Source, base: base}

	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	g := &Gateway{
		cfg:           cfg,
		now:           now,
		baseURL:       base,
		idPrefix:      hex.EncodeToString(rnd[:]) + "-",
		anonymous:     &auth.Identity{Kind: "none", Principal: "anonymous"},
		getenv:        opts.Getenv,
		originFactory: opts.OriginAuth,
	}
	if g.getenv == nil {
		g.getenv = os.Getenv
	}
	g.states.New = func() any { return new(reqState) }
	g.bodyBufs.New = func() any { return new(bytes.Buffer) }
	g.copyBufs.New = func() any { b := make([]byte, 32<<10); return &b }
	if js, err := json.Marshal(g.anonymous); err == nil {
		g.anonymousJS = []string{string(js)}[:1:1]
	}
	recent := cfg.Log.Recent
	if recent <= 0 {
		recent = defaultRecent
	}
	g.log = newRequestLog(opts.Log, recent)
	g.cors = newCORSPolicy(cfg.CORS)
	g.hosts = newHostPolicy(base, cfg.Hosts)
	g.secHeaders = securityHeaders(cfg.SecurityHeaders)

	if err := g.buildEnv(x); err != nil {
		return nil, err
	}
	if err := g.buildMocks(mockFactories); err != nil {
		return nil, err
	}
	if err := g.buildRoutes(kinds, x); err != nil {
		g.Close()
		return nil, err
	}
	idx, err := renderIndex(g)
	if err != nil {
		g.Close()
		return nil, err
	}
	g.index = idx
	return g, nil
}

// buildEnv builds the environment verifiers and mock providers share: the
// clock, base URL, keys and users, the shared store if configured, and each
// mock's configuration block.
func (g *Gateway) buildEnv(x *expander) error {
	g.env = &auth.Env{
		Now:     g.now,
		BaseURL: g.baseURL,
		AWSKeys: slices.Clone(g.cfg.AWSKeys),
		Users:   slices.Clone(g.cfg.Users),
		Shared:  map[string]any{},
	}
	if g.cfg.Store != nil {
		st, err := openStore(g.cfg.Store)
		if err != nil {
			var se *StoreError
			if errors.As(err, &se) {
				return err
			}
			return fmt.Errorf("gateway: %w", err)
		}
		g.store = st
		g.env.Shared[turnstile.SharedTokensKey] = redisTokens{st}
		g.env.Store = redisShared{st}
	}
	mockNames := make([]string, 0, len(g.cfg.Mocks))
	for k := range g.cfg.Mocks {
		mockNames = append(mockNames, k)
	}
	sort.Strings(mockNames)
	for _, k := range mockNames {
		n, err := x.node(g.cfg.Mocks[k], "mocks."+k)
		if err != nil {
			return err
		}
		g.env.Shared["mock:"+k] = n
	}
	return nil
}

// buildMocks builds the mock providers, the longest path prefix first.
//
// Mock providers are built before the verifiers, both sequentially, so
// a kind may create shared state (signing keys) in Env.Shared on either
// side with a plain get-or-create.
func (g *Gateway) buildMocks(factories []auth.MockFactory) error {
	for _, mf := range factories {
		ms, err := mf(g.env)
		if err != nil {
			return fmt.Errorf("gateway: mock provider: %w", err)
		}
		for _, m := range ms {
			if err := g.addMock(m); err != nil {
				return err
			}
		}
	}
	sort.SliceStable(g.mocks, func(i, j int) bool { return len(g.mocks[i].prefix) > len(g.mocks[j].prefix) })
	return nil
}

// buildRoutes builds every route, the longest prefix first; a route may not
// overlap a mock provider's path.
func (g *Gateway) buildRoutes(kinds map[string]auth.Factory, x *expander) error {
	for i := range g.cfg.Routes {
		rt, err := g.buildRoute(&g.cfg.Routes[i], i, kinds, x)
		if err != nil {
			return err
		}
		for _, m := range g.mocks {
			if pathHasPrefix(rt.prefix, m.bare) || pathHasPrefix(m.bare, rt.prefix) && rt.prefix != "/" {
				return &ConfigError{File: g.cfg.Source, Line: g.cfg.Routes[i].line, Key: fmt.Sprintf("routes[%d].prefix", i),
					Problem: fmt.Sprintf("%s overlaps the mock provider at %s", rt.prefix, m.prefix)}
			}
		}
		g.routes = append(g.routes, rt)
		if rt.prefix == "/" {
			g.rootRoute = true
		}
	}
	sort.SliceStable(g.routes, func(i, j int) bool { return len(g.routes[i].prefix) > len(g.routes[j].prefix) })
	return nil
}

func (g *Gateway) addMock(m auth.Mock) error {
	p := m.Prefix
	if !strings.HasPrefix(p, "/") || m.Handler == nil {
		return fmt.Errorf("gateway: mock provider prefix %q: want a path starting with / and a handler", p)
	}
	bare := strings.TrimSuffix(p, "/")
	if bare == "" || bare+"/" == reservedMockPrefix || pathHasPrefix(requestsPath, bare) {
		return fmt.Errorf("gateway: mock provider prefix %q collides with the gateway's own endpoints", p)
	}
	for _, o := range g.mocks {
		if o.bare == bare {
			return fmt.Errorf("gateway: two mock providers at %s", p)
		}
	}
	g.mocks = append(g.mocks, mount{prefix: p, bare: bare, h: m.Handler})
	return nil
}

// Routes lists the routes in config order.
func (g *Gateway) Routes() []RouteInfo {
	out := make([]RouteInfo, 0, len(g.routes))
	for i := range g.cfg.Routes {
		for _, rt := range g.routes {
			if rt.info.Prefix == g.cfg.Routes[i].Prefix {
				out = append(out, rt.info)
			}
		}
	}
	return out
}

// MockPrefixes lists where mock providers are mounted.
func (g *Gateway) MockPrefixes() []string {
	out := make([]string, 0, len(g.mocks))
	for _, m := range g.mocks {
		out = append(out, m.prefix)
	}
	sort.Strings(out)
	return out
}

// Env is what the verifiers and mock providers were given (clock, base URL,
// key table, users, shared state).
func (g *Gateway) Env() *auth.Env { return g.env }

// Requests returns the recent request-log entries, oldest first.
func (g *Gateway) Requests() []LogEntry { return g.log.recent() }

// Close releases idle upstream connections. The gateway still serves after
// Close (it reconnects), so it is safe to call during a graceful shutdown.
func (g *Gateway) Close() {
	for _, t := range g.transports {
		t.CloseIdleConnections()
	}
	for _, h := range g.wsHubs {
		h.closeAll()
	}
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := g.states.Get().(*reqState)
	st.w = w
	st.start = time.Now()
	st.at = g.now()
	st.path = r.URL.Path
	st.method = r.Method
	st.client = clientIP(r.RemoteAddr)
	st.id = g.requestID()
	if r.Body != nil && r.Body != http.NoBody {
		st.body = &clientBody{rc: r.Body}
		r.Body = st.body
	}

	h := w.Header()
	for _, sh := range g.secHeaders {
		h[sh.name] = sh.value
	}
	h["X-Request-Id"] = []string{st.id}
	// The Date header follows the gateway clock, so --clock-offset shows in
	// Date as it would on a server whose clock is off.
	h["Date"] = g.dateHeader(st.at)

	defer func() {
		// The reverse proxy aborts a response whose body copy fails with
		// panic(http.ErrAbortHandler), which net/http recovers; log the
		// request before letting it through. The state is not reused.
		if p := recover(); p != nil {
			st.decision = "aborted"
			if st.reason == "" {
				st.reason = fmt.Sprint("response aborted: ", p)
			}
			g.log.record(st)
			panic(p)
		}
	}()
	err := g.serve(st, r)
	if err != nil {
		g.writeError(st, r, err)
	}
	if !st.wroteHeader && r.Context().Err() == nil {
		st.WriteHeader(http.StatusOK)
	}
	if st.path != requestsPath {
		g.log.record(st)
	}
	st.reset()
	g.states.Put(st)
}

// dateValue is the Date header of one second, shared by its responses.
type dateValue struct {
	sec int64
	v   []string
}

// dateHeader returns the Date header value for t, formatted once a second
// rather than on every request. The slice is shared: capacity 1, so an
// append elsewhere copies it.
func (g *Gateway) dateHeader(t time.Time) []string {
	sec := t.Unix()
	if d := g.date.Load(); d != nil && d.sec == sec {
		return d.v
	}
	d := &dateValue{sec: sec, v: []string{t.UTC().Format(http.TimeFormat)}[:1:1]}
	g.date.Store(d)
	return d.v
}

func (g *Gateway) requestID() string {
	var b [32]byte
	n := copy(b[:], g.idPrefix)
	return string(strconv.AppendUint(b[:n], g.seq.Add(1), 10))
}

func (g *Gateway) serve(st *reqState, r *http.Request) error {
	if !g.hosts.allows(r.Host) {
		// Before CORS and the mock providers: the same-origin check
		// compares Origin with Host, which a rebinding page chooses.
		return &HTTPError{Status: http.StatusMisdirectedRequest, Decision: "wrong_host",
			Reason: "host " + strconvQuote(r.Host) + " is not served by this gateway (use its listen address or localhost, or add it to hosts:)"}
	}
	if done, err := g.cors.apply(st, r); done || err != nil {
		return err
	}
	path := r.URL.Path
	if why := pathProblem(path); why != "" {
		return &HTTPError{Status: http.StatusBadRequest, Decision: "bad_path", Reason: why}
	}
	for i := range g.mocks {
		m := &g.mocks[i]
		if path == m.bare || strings.HasPrefix(path, m.bare) && len(path) > len(m.bare) && path[len(m.bare)] == '/' {
			st.decision = "mock"
			if err := checkBody(st, r, g.bodyLimit(nil)); err != nil {
				return err
			}
			m.h.ServeHTTP(st, r)
			return nil
		}
	}
	if path == requestsPath {
		return g.serveRequests(st, r)
	}
	rt := g.match(path)
	if rt == nil {
		if path == "/" && !g.rootRoute {
			return g.serveIndex(st, r)
		}
		return &HTTPError{Status: http.StatusNotFound, Decision: "no_route", Reason: "no route for " + path + " (see the index page at /)",
			Details: map[string]any{"path": path}}
	}
	st.route = rt
	return rt.handler.ServeHTTP(st, r)
}

// match returns the route with the longest prefix that path falls under.
func (g *Gateway) match(path string) *route {
	for _, rt := range g.routes {
		if pathHasPrefix(path, rt.prefix) {
			return rt
		}
	}
	return nil
}

// pathHasPrefix reports whether path is prefix or lies under it ("/a"
// covers "/a", "/a/", "/a/b", not "/ab").
func pathHasPrefix(path, prefix string) bool {
	if prefix == "/" {
		return strings.HasPrefix(path, "/")
	}
	return strings.HasPrefix(path, prefix) && (len(path) == len(prefix) || path[len(prefix)] == '/')
}

func (g *Gateway) bodyLimit(rt *route) int64 {
	if rt != nil && rt.bodyLimit > 0 {
		return rt.bodyLimit
	}
	if g.cfg.BodyLimit > 0 {
		return int64(g.cfg.BodyLimit)
	}
	return defaultBodyLimit
}

// writeError answers err as JSON, unless the origin already started its
// answer (then the error is only logged).
func (g *Gateway) writeError(st *reqState, r *http.Request, err error) {
	explain := st.route == nil || st.route.explain
	var (
		status   int
		code     rejectcode.Code
		reason   string
		decision string
		header   http.Header
		details  map[string]any
		hide     bool
	)
	var rej *auth.Rejection
	var he *HTTPError
	switch {
	case st.bodyErr() != nil && !isMaxBytes(err) && r.Context().Err() == nil:
		// Whoever was reading (a verifier hashing the body, the reverse
		// proxy) failed because the client's body is malformed.
		status, reason, decision, code = http.StatusBadRequest, "malformed request body: "+st.bodyErr().Error(), "bad_body", rejectcode.BadBody
		header = http.Header{"Connection": {"close"}}
	case errors.As(err, &rej):
		status, code, reason, decision, header, details = rej.Status, rej.Code, rej.Reason, "deny", rej.Header, rej.Details
		if status == 0 {
			status = http.StatusForbidden
		}
		hide = !explain
	case errors.As(err, &he):
		status, reason, decision, header, details = he.Status, he.Reason, he.Decision, he.Header, he.Details
		code = he.Code
		if code == "" {
			code = rejectcode.Code(he.Decision)
		}
		hide = he.Internal && !explain
	case isMaxBytes(err):
		status, reason, decision, code = http.StatusRequestEntityTooLarge, "request body is larger than the limit of "+formatSize(g.bodyLimit(st.route)), "too_large", rejectcode.TooLarge
		details = map[string]any{"limit": formatSize(g.bodyLimit(st.route))}
		header = http.Header{"Connection": {"close"}}
	case r.Context().Err() != nil:
		st.decision, st.reason, st.status = "client_closed", "client went away: "+err.Error(), 499
		return
	default:
		status, reason, decision, code = http.StatusInternalServerError, "internal error: "+err.Error(), "error", rejectcode.InternalError
		hide = !explain
	}
	if decision == "" {
		decision = "error"
	}
	if st.decision == "" || st.decision == "allow" || st.decision == "mock" {
		st.decision = decision
	}
	st.reason = reason
	if st.wroteHeader {
		return
	}
	h := st.Header()
	for k, v := range header {
		h[k] = v
	}
	h["Cache-Control"] = noStore
	if hide {
		writeJSON(st, status, errorBody(status, "", ""))
		return
	}
	if len(details) == 0 {
		writeJSON(st, status, errorBody(status, code, reason))
		return
	}
	m := make(map[string]any, len(details)+2)
	for k, v := range details {
		m[k] = v
	}
	m["error"] = http.StatusText(status)
	if code != "" {
		m["code"] = code
	}
	m["reason"] = reason
	body, mErr := json.Marshal(m)
	if mErr != nil {
		body = errorBody(status, code, reason)
	} else {
		body = append(body, '\n')
	}
	writeJSON(st, status, body)
}

func formatSize(n int64) string {
	switch {
	case n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// clientIP returns the host part of a RemoteAddr without allocating.
func clientIP(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

// serveRequests serves the recent request log: GET (JSON array, oldest
// first; ?limit=N, ?route=PREFIX, ?decision=D) and DELETE (clear).
func (g *Gateway) serveRequests(st *reqState, r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodDelete:
		g.log.clear()
		st.Header()["Cache-Control"] = noStore
		st.WriteHeader(http.StatusNoContent)
		return nil
	default:
		return &HTTPError{Status: http.StatusMethodNotAllowed, Decision: "method_not_allowed",
			Reason: "use GET or DELETE on " + requestsPath, Header: http.Header{"Allow": {"GET, HEAD, DELETE"}}}
	}
	q := r.URL.Query()
	entries := g.log.recent()
	if rf, df := q.Get("route"), q.Get("decision"); rf != "" || df != "" {
		kept := entries[:0]
		for _, e := range entries {
			if (rf == "" || e.Route == rf) && (df == "" || e.Decision == df) {
				kept = append(kept, e)
			}
		}
		entries = kept
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			return &HTTPError{Status: http.StatusBadRequest, Decision: "bad_request", Reason: "limit: want a non-negative number"}
		}
		if n < len(entries) {
			entries = entries[len(entries)-n:]
		}
	}
	body, err := json.Marshal(entries)
	if err != nil {
		return err
	}
	st.decision = "internal"
	st.Header()["Cache-Control"] = noStore
	writeJSON(st, http.StatusOK, append(body, '\n'))
	return nil
}

// expander expands ${base_url} in config values once, in New.
type expander struct {
	file string
	base string
}

const baseVar = "${base_url}"

func (x *expander) str(s string, line int, key string) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	if strings.Contains(s, baseVar) && x.base == "" {
		return "", &ConfigError{File: x.file, Line: line, Key: key, Problem: "uses ${base_url} but the gateway was started without a base URL (Options.BaseURL)"}
	}
	out := strings.ReplaceAll(s, baseVar, x.base)
	if i := strings.Index(out, "${"); i >= 0 {
		v := out[i:]
		if j := strings.IndexByte(v, '}'); j >= 0 {
			v = v[:j+1]
		}
		return "", &ConfigError{File: x.file, Line: line, Key: key, Problem: fmt.Sprintf("unknown variable %s (only ${base_url} is defined)", v)}
	}
	return out, nil
}

// node deep-copies n with ${base_url} expanded in every scalar.
func (x *expander) node(n *yaml.Node, key string) (*yaml.Node, error) {
	if n == nil {
		return nil, nil
	}
	c := *n
	if n.Kind == yaml.ScalarNode {
		v, err := x.str(n.Value, n.Line, key)
		if err != nil {
			return nil, err
		}
		c.Value = v
	}
	if n.Alias != nil {
		a, err := x.node(n.Alias, key)
		if err != nil {
			return nil, err
		}
		c.Alias = a
	}
	if len(n.Content) > 0 {
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, e := range n.Content {
			sub := key
			if n.Kind == yaml.MappingNode && i%2 == 1 {
				sub = key + "." + n.Content[i-1].Value
			} else if n.Kind == yaml.SequenceNode {
				sub = key + "[" + strconv.Itoa(i) + "]"
			}
			ce, err := x.node(e, sub)
			if err != nil {
				return nil, err
			}
			c.Content[i] = ce
		}
	}
	return &c, nil
}

// ctxWithIdentity is split out so the allocation is visible in profiles.
func ctxWithIdentity(r *http.Request, id *auth.Identity) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), identityKey{}, id))
}

// pathProblem says why a decoded path is refused, or "". Routes match by
// prefix on the path as sent; "/public/../aws/x" would match /public while
// an origin that normalizes sees /aws/x. Real edges normalize or refuse;
// the gateway refuses every spelling origins are known to read as a dot
// segment or a separator:
//   - "." and ".." segments (also when sent as %2E);
//   - ";" path parameters on them ("..;", "..%3B"), which Tomcat and
//     Spring strip before normalizing;
//   - backslashes, raw or %5C, which IIS, Windows servers and several
//     proxies read as "/";
//   - a dot segment formed once more layer of escapes is undone ("..%252F",
//     "%252E%252E"), for origins that decode twice.
func pathProblem(p string) string {
	if strings.IndexByte(p, '\\') >= 0 {
		return "path has a backslash (raw or %5C); origins read it as a separator: send / instead"
	}
	if hasDotSegment(p) {
		return "path has . or .. segments (possibly with ;parameters); send the normalized path"
	}
	if strings.IndexByte(p, '%') >= 0 {
		// Escapes left after one decoding: read as a twice-decoding origin.
		if again, err := url.PathUnescape(p); err == nil && (strings.IndexByte(again, '\\') >= 0 || hasDotSegment(again)) {
			return "path has a doubly encoded dot segment, slash or backslash; send the normalized path"
		}
	}
	return ""
}

// hasDotSegment reports whether a decoded path has a "." or ".." segment,
// ignoring ";" path parameters ("..;x" is "..").
func hasDotSegment(p string) bool {
	for len(p) > 0 {
		i := strings.IndexByte(p, '/')
		seg := p
		if i >= 0 {
			seg, p = p[:i], p[i+1:]
		} else {
			p = ""
		}
		if j := strings.IndexByte(seg, ';'); j >= 0 {
			seg = seg[:j]
		}
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// strconvQuote quotes an attacker-chosen value for a reason line.
func strconvQuote(s string) string {
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	return strconv.Quote(s)
}
