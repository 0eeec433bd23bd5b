package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
)

// buildRoute compiles one route's middleware chain.
func (g *Gateway) buildRoute(rc *Route, i int, kinds map[string]auth.Factory, x *expander) (*route, error) {
	key := fmt.Sprintf("routes[%d]", i)
	kind, verifier, err := g.routeVerifier(rc, key, kinds, x)
	if err != nil {
		return nil, err
	}

	explain := true
	if g.cfg.Explain != nil {
		explain = *g.cfg.Explain
	}
	if rc.Explain != nil {
		explain = *rc.Explain
	}
	rt := &route{
		prefix:    rc.Prefix,
		kind:      kind,
		explain:   explain,
		bodyLimit: int64(rc.BodyLimit),
		info: RouteInfo{
			Prefix:    rc.Prefix,
			Auth:      kind,
			Methods:   slices.Clone(rc.Methods),
			RateLimit: rc.RateLimit,
		},
	}
	strip := ""
	if rc.StripPrefix.Enabled {
		strip = rc.StripPrefix.Prefix
		if strip == "" {
			strip = rc.Prefix
		}
		if strip == "/" {
			strip = ""
		}
		rt.info.StripPrefix = strip
	}

	if rc.OriginAuth != nil {
		n, err := x.node(rc.OriginAuth, key+".origin_auth")
		if err != nil {
			return nil, err
		}
		if rt.origin, err = g.parseOriginAuth(n, rc, key+".origin_auth"); err != nil {
			return nil, err
		}
		rt.keepAuthz = rt.origin.keepAuthz
		rt.info.OriginAuth = rt.origin.kind
	}

	// Origins: the default, then the longest path prefix first.
	upstream, err := x.str(rc.Upstream, rc.line, key+".upstream")
	if err != nil {
		return nil, err
	}
	rt.info.Upstream = upstream
	def, byPath, err := g.routeOrigins(rt, rc, upstream, key, x)
	if err != nil {
		return nil, err
	}
	inject, err := g.routeHeaders(rc, key, x)
	if err != nil {
		return nil, err
	}

	hub := g.newWSHub(rc, upstream) // nil unless the upstream can take upgrades
	bot, err := g.botCheck(rc, key, x)
	if err != nil {
		return nil, err
	}
	rt.handler = chain(dispatch(byPath, def),
		g.methods(rc.Methods),
		g.rateLimit(rc.Prefix, rc.RateLimit),
		g.limitBody(rt),
		g.sanitize(),
		g.wsOrigins(hub),
		bot,
		g.authenticate(rt, verifier),
		g.cacheMiddleware(rc.Cache, g.sharedCache(rc.Prefix)),
		rt.spoolMiddleware(),
		g.forward(inject),
		g.inFlight(rc.MaxInFlight),
		stripPrefix(strip),
		g.wsUpgrade(rt, hub),
	)
	return rt, nil
}

// routeVerifier checks the route's prefix and auth block and builds the
// verifier of its auth kind.
func (g *Gateway) routeVerifier(rc *Route, key string, kinds map[string]auth.Factory, x *expander) (string, auth.Verifier, error) {
	// Configs from ParseConfig are validated; these guard configs built in Go.
	if !strings.HasPrefix(rc.Prefix, "/") || strings.HasPrefix(rc.Prefix+"/", reservedMockPrefix) {
		return "", nil, &ConfigError{File: g.cfg.Source, Line: rc.line, Key: key + ".prefix", Problem: fmt.Sprintf("%q is not a usable path prefix", rc.Prefix)}
	}
	if rc.Auth == nil || rc.Auth.Kind != yaml.MappingNode {
		return "", nil, &ConfigError{File: g.cfg.Source, Line: rc.line, Key: key + ".auth", Problem: "required: routes deny by default (use {kind: none} for a public route)"}
	}
	authNode, err := x.node(rc.Auth, key+".auth")
	if err != nil {
		return "", nil, err
	}
	kind := scalarAt(authNode, "kind")
	factory, ok := kinds[kind]
	if !ok {
		known := slices.Sorted(maps.Keys(kinds))
		line := rc.Auth.Line
		if j := mappingIndex(rc.Auth, "kind"); j >= 0 {
			line = rc.Auth.Content[j+1].Line
		}
		return "", nil, &ConfigError{File: g.cfg.Source, Line: line, Key: key + ".auth.kind",
			Problem: fmt.Sprintf("unknown auth kind %q (known: %s)", kind, strings.Join(known, ", "))}
	}
	verifier, err := factory(authNode, g.env)
	if err != nil {
		return "", nil, &ConfigError{File: g.cfg.Source, Line: rc.Auth.Line, Key: key + ".auth", Problem: err.Error()}
	}
	if verifier == nil {
		return "", nil, &ConfigError{File: g.cfg.Source, Line: rc.Auth.Line, Key: key + ".auth", Problem: "auth kind " + kind + " built no verifier"}
	}
	return kind, verifier, nil
}

// routeOrigins builds the route's default origin and its per-path origins,
// the longest path prefix first.
func (g *Gateway) routeOrigins(rt *route, rc *Route, upstream, key string, x *expander) (Handler, []pathOrigin, error) {
	def, err := g.origin(rt, rc, upstream, "/items", key+".upstream")
	if err != nil {
		return nil, nil, err
	}
	var byPath []pathOrigin
	if len(rc.Paths) > 0 {
		rt.info.Paths = map[string]string{}
		for _, p := range slices.Sorted(maps.Keys(rc.Paths)) {
			u, err := x.str(rc.Paths[p], rc.line, key+".paths."+p)
			if err != nil {
				return nil, nil, err
			}
			o, err := g.origin(rt, rc, u, p, key+".paths."+p)
			if err != nil {
				return nil, nil, err
			}
			rt.info.Paths[p] = u
			byPath = append(byPath, pathOrigin{prefix: p, h: o})
		}
		sort.SliceStable(byPath, func(a, b int) bool { return len(byPath[a].prefix) > len(byPath[b].prefix) })
	}
	return def, byPath, nil
}

// routeHeaders expands the headers injected toward the origin: the
// gateway-wide ones overridden by the route's, sorted by name.
func (g *Gateway) routeHeaders(rc *Route, key string, x *expander) ([]headerValue, error) {
	headers := map[string]string{}
	maps.Copy(headers, g.cfg.Headers)
	maps.Copy(headers, rc.Headers)
	var inject []headerValue
	for _, k := range slices.Sorted(maps.Keys(headers)) {
		v, err := x.str(headers[k], rc.line, key+".headers."+k)
		if err != nil {
			return nil, err
		}
		inject = append(inject, headerValue{name: k, value: []string{v}[:1:1]})
	}
	return inject, nil
}

// origin builds the Handler for one upstream string; mount is the path
// builtin:items serves its collection at.
func (g *Gateway) origin(rt *route, rc *Route, upstream, mount, key string) (Handler, error) {
	if rt.origin != nil && strings.HasPrefix(upstream, "builtin:") {
		return nil, &ConfigError{File: g.cfg.Source, Line: rc.line, Key: key,
			Problem: "route " + rc.Prefix + ": origin_auth needs an http(s) upstream, not " + upstream}
	}
	switch upstream {
	case "builtin:echo":
		return echoOrigin{bufs: &g.bodyBufs}, nil
	case "builtin:items":
		if rt.items == nil {
			rt.items = newItemStore(g.now)
		}
		return itemsMount{store: rt.items, collection: mount}, nil
	}
	if isWSUpstream(upstream) {
		return upgradeRequired{}, nil
	}
	if p := upstreamProblem(upstream); p != "" {
		return nil, &ConfigError{File: g.cfg.Source, Line: rc.line, Key: key, Problem: p}
	}
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, &ConfigError{File: g.cfg.Source, Line: rc.line, Key: key, Problem: err.Error()}
	}
	timeout := time.Duration(rc.Timeout)
	if timeout == 0 {
		timeout = time.Duration(g.cfg.Upstream.Timeout)
	}
	if timeout == 0 {
		timeout = defaultTimeout
	}
	t := g.newTransport(timeout)
	g.transports = append(g.transports, t)
	var rtp http.RoundTripper = t
	if rt.origin != nil {
		// Every attempt is signed afresh; credentials go only to this host.
		if rtp, err = g.originTransport(rt.origin, rc, upstream, t); err != nil {
			return nil, err
		}
	}
	return newProxyOrigin(u, rtp, timeout, &g.copyBufs, g.secHeaders), nil
}

type pathOrigin struct {
	prefix string
	h      Handler
}

// dispatch picks the origin by path (after prefix stripping).
func dispatch(byPath []pathOrigin, def Handler) Handler {
	if len(byPath) == 0 {
		return def
	}
	return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		for _, po := range byPath {
			if pathHasPrefix(r.URL.Path, po.prefix) {
				return po.h.ServeHTTP(w, r)
			}
		}
		return def.ServeHTTP(w, r)
	})
}

// methods refuses methods the route does not allow (GET allows HEAD).
func (g *Gateway) methods(allowed []string) Middleware {
	if len(allowed) == 0 {
		return nil
	}
	set := map[string]bool{}
	for _, m := range allowed {
		set[m] = true
	}
	if set[http.MethodGet] {
		set[http.MethodHead] = true
	}
	allow := strings.Join(slices.Sorted(maps.Keys(set)), ", ")
	return func(next Handler) Handler {
		return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			if !set[r.Method] {
				return &HTTPError{Status: http.StatusMethodNotAllowed, Decision: "method_not_allowed",
					Reason: "method " + r.Method + " is not allowed on this route (allowed: " + allow + ")",
					Header: http.Header{"Allow": {allow}}}
			}
			return next.ServeHTTP(w, r)
		})
	}
}

// authenticate runs the route's verifier. Deny by default: anything but a
// verified identity stops the request here.
func (g *Gateway) authenticate(rt *route, v auth.Verifier) Middleware {
	return func(next Handler) Handler {
		return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			id, err := v.Verify(w, r)
			if err != nil {
				var rej *auth.Rejection
				if errors.As(err, &rej) || isMaxBytes(err) {
					return err
				}
				return fmt.Errorf("auth kind %s: %w", rt.kind, err)
			}
			if id == nil {
				return fmt.Errorf("auth kind %s: verifier accepted the request without an identity", rt.kind)
			}
			st := stateOf(w)
			if st != nil {
				st.identity = id
				st.decision = "allow"
			}
			var callerAuthz []string
			if rt.keepAuthz {
				callerAuthz = r.Header["Authorization"]
			}
			removeCredentials(r.Header)
			if callerAuthz != nil {
				r.Header["Authorization"] = callerAuthz
			}
			if id == g.anonymous || id.Kind == "none" && id.Principal == "anonymous" && len(id.Claims) == 0 {
				r.Header[identityHeader] = g.anonymousJS
			} else if id.Encoded != "" {
				r.Header[identityHeader] = []string{id.Encoded}
			} else if js, err := json.Marshal(id); err == nil {
				r.Header[identityHeader] = []string{string(js)}
			} else {
				return fmt.Errorf("encode identity: %w", err)
			}
			return next.ServeHTTP(w, ctxWithIdentity(r, id))
		})
	}
}

// forward sets the headers the origin may trust: the client address as the
// gateway saw it, the request id, and the configured service headers.
func (g *Gateway) forward(inject []headerValue) Middleware {
	return func(next Handler) Handler {
		return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			h := r.Header
			vals := make([]string, 3) // one allocation for the three values
			if st := stateOf(w); st != nil {
				vals[0], vals[1] = st.client, st.id
				h["X-Forwarded-For"] = vals[0:1:1]
				h["X-Request-Id"] = vals[1:2:2]
			}
			if r.TLS != nil {
				h["X-Forwarded-Proto"] = protoHTTPS
			} else {
				h["X-Forwarded-Proto"] = protoHTTP
			}
			vals[2] = r.Host
			h["X-Forwarded-Host"] = vals[2:3:3]
			for _, hv := range inject {
				h[hv.name] = hv.value
			}
			return next.ServeHTTP(w, r)
		})
	}
}

var (
	protoHTTP  = []string{"http"}[:1:1]
	protoHTTPS = []string{"https"}[:1:1]
)

// inFlight answers 503 when the route already has max requests at its
// origin, as an edge does when an origin is at capacity.
func (g *Gateway) inFlight(max int) Middleware {
	if max <= 0 {
		return nil
	}
	var n atomic.Int64
	return func(next Handler) Handler {
		return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			if n.Add(1) > int64(max) {
				n.Add(-1)
				return &HTTPError{Status: http.StatusServiceUnavailable, Decision: "upstream_busy",
					Reason: "origin is at capacity (" + strconv.Itoa(max) + " requests in flight)",
					Header: http.Header{"Retry-After": {"1"}}}
			}
			defer n.Add(-1)
			return next.ServeHTTP(w, r)
		})
	}
}

// stripPrefix removes prefix from the path the origin sees. The verifier
// has already run on the path as the client signed it.
func stripPrefix(prefix string) Middleware {
	if prefix == "" {
		return nil
	}
	return func(next Handler) Handler {
		return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			p := strings.TrimPrefix(r.URL.Path, prefix)
			u := *r.URL
			u.Path = p
			if u.RawPath != "" {
				rp := strings.TrimPrefix(u.RawPath, prefix)
				if len(rp) == len(u.RawPath) {
					// The escaped form does not start with the prefix
					// (an escaped character inside it): let Go re-escape.
					rp = ""
				}
				u.RawPath = rp
			}
			if u.Path == "" || u.Path[0] != '/' {
				u.Path = "/" + u.Path
				if u.RawPath != "" {
					u.RawPath = "/" + u.RawPath
				}
			}
			r.URL = &u
			return next.ServeHTTP(w, r)
		})
	}
}
