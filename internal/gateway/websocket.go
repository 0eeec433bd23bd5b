package gateway

// WebSocket routes, after API Gateway's WebSocket APIs: the route's verifier
// accepts or refuses the handshake like any request (rate and body limits
// included), then the gateway holds the client connection and an origin
// connection (builtin:ws-echo, or ws(s)/http(s) upstream) and copies
// messages between them. Each connection has an id; an origin (or anyone the
// route's auth accepts) pushes to it with POST <prefix>/@connections/{id},
// closes it with DELETE and describes it with GET, as API Gateway's
// management API does. Framing is github.com/coder/websocket's.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"gopkg.in/yaml.v3"
)

// wsEchoUpstream answers each message with itself.
const wsEchoUpstream = "builtin:ws-echo"

// Defaults as API Gateway's WebSocket quotas: 10 minutes idle, 2 hours in
// all, 128 KiB messages.
const (
	defaultWSIdle       = 10 * time.Minute
	defaultWSMaxTime    = 2 * time.Hour
	defaultWSMaxMessage = 128 << 10
	wsWriteTimeout      = 10 * time.Second
)

// connectionsSegment is the path, under the route prefix, of the
// connection API.
const connectionsSegment = "/@connections/"

// WebSocketRoute is a route's WebSocket settings (top-level route keys).
type WebSocketRoute struct {
	// AnnounceConnectionID makes the gateway send {"connectionId":"ID"} as
	// the first message of each connection.
	AnnounceConnectionID bool `yaml:"announce_connection_id"`
	// MaxMessage bounds one message in either direction (default 128KiB);
	// a larger one closes the connection with 1009.
	MaxMessage ByteSize `yaml:"max_message"`
	// IdleTimeout closes a connection without messages for that long
	// (default 10m); MaxDuration closes any connection after that long
	// (default 2h). Both close with 1001 (going away).
	IdleTimeout Duration `yaml:"idle_timeout"`
	MaxDuration Duration `yaml:"max_duration"`
	// AllowOrigins lists the browser origins (scheme://host[:port]) that may
	// open connections besides cors.allow_origins; any other cross-origin
	// handshake is refused with 403.
	AllowOrigins []string `yaml:"allow_origins"`
}

var wsRouteKeys = []string{"announce_connection_id", "max_message", "idle_timeout", "max_duration", "allow_origins"}

// wsRouteField decodes one WebSocket key of a route; ok is false for a key
// that is not one.
func (d *decoder) wsRouteField(key string, v *yaml.Node, full string, w *WebSocketRoute) (ok bool, err error) {
	switch key {
	case "announce_connection_id":
		return true, d.scalar(v, full, &w.AnnounceConnectionID)
	case "max_message":
		return true, d.scalar(v, full, &w.MaxMessage)
	case "idle_timeout":
		return true, d.scalar(v, full, &w.IdleTimeout)
	case "max_duration":
		return true, d.scalar(v, full, &w.MaxDuration)
	case "allow_origins":
		if err := d.stringList(v, full, &w.AllowOrigins); err != nil {
			return true, err
		}
		for i, o := range w.AllowOrigins {
			if p := originProblem(o); p != "" {
				return true, d.errf(v.Content[i], fmt.Sprintf("%s[%d]", full, i), "%s", p)
			}
		}
		return true, nil
	}
	return false, nil
}

// isWSUpstream reports whether an upstream speaks only WebSocket.
func isWSUpstream(u string) bool {
	return u == wsEchoUpstream || strings.HasPrefix(u, "ws://") || strings.HasPrefix(u, "wss://")
}

// wsCapable reports whether a route proxies upgrades: WebSocket upstreams,
// and http(s) ones (an upgrade request is dialled as ws(s)).
func wsCapable(u string) bool {
	return isWSUpstream(u) || strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")
}

// upgradeRequired answers plain requests to a WebSocket-only origin.
type upgradeRequired struct{}

func (upgradeRequired) ServeHTTP(http.ResponseWriter, *http.Request) error {
	return &HTTPError{Status: http.StatusUpgradeRequired, Decision: "upgrade_required",
		Reason: "this route is a WebSocket API: open it with a WebSocket handshake (gwcurl ws URL)",
		Header: http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}}}
}

func isUpgrade(r *http.Request) bool {
	return r.Method == http.MethodGet && headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h[name] {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// wsHub is one route's open connections.
type wsHub struct {
	cfg      WebSocketRoute
	upstream string // "" for builtin:ws-echo
	origins  map[string]bool
	dialer   *http.Client

	mu    sync.Mutex
	conns map[string]*wsConn
	wg    sync.WaitGroup
}

// wsConn is one client connection.
type wsConn struct {
	id          string
	client      *websocket.Conn
	connectedAt time.Time
	lastActive  atomic.Int64 // unix nanoseconds
	sourceIP    string
	userAgent   string
	principal   string
	writeMu     sync.Mutex // pushes and the origin's messages interleave whole
	cancel      context.CancelCauseFunc
}

func (c *wsConn) touch() { c.lastActive.Store(time.Now().UnixNano()) }

// write sends one message to the client. Its context is never a request's
// or the session's: cancelling a coder/websocket write drops the connection
// without a close frame.
func (c *wsConn) write(typ websocket.MessageType, p []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), wsWriteTimeout)
	defer cancel()
	return c.client.Write(ctx, typ, p)
}

// newWSHub builds the hub of a WebSocket-capable route (nil otherwise).
func (g *Gateway) newWSHub(rc *Route, upstream string) *wsHub {
	if !wsCapable(upstream) {
		return nil
	}
	h := &wsHub{cfg: rc.WebSocket, conns: map[string]*wsConn{}, origins: map[string]bool{}}
	if h.cfg.MaxMessage <= 0 {
		h.cfg.MaxMessage = defaultWSMaxMessage
	}
	if h.cfg.IdleTimeout <= 0 {
		h.cfg.IdleTimeout = Duration(defaultWSIdle)
	}
	if h.cfg.MaxDuration <= 0 {
		h.cfg.MaxDuration = Duration(defaultWSMaxTime)
	}
	for _, o := range h.cfg.AllowOrigins {
		h.origins[o] = true
	}
	if upstream != wsEchoUpstream {
		h.upstream = upstream
		t := g.newTransport(defaultTimeout)
		t.ForceAttemptHTTP2 = false
		g.transports = append(g.transports, t)
		h.dialer = &http.Client{Transport: t}
	}
	g.wsHubs = append(g.wsHubs, h)
	return h
}

// closeAll closes every connection (the gateway is closing) and waits.
func (h *wsHub) closeAll() {
	h.mu.Lock()
	for _, c := range h.conns {
		c.cancel(errGatewayClosing)
	}
	h.mu.Unlock()
	h.wg.Wait()
}

var errGatewayClosing = errors.New("the gateway is shutting down")

// wsOrigins refuses cross-origin browser handshakes the gateway did not
// allow. Browsers apply no CORS to WebSockets: without this any web page
// could open a connection to a gateway on the developer's machine, with
// the developer's cookies. It runs before the verifier.
func (g *Gateway) wsOrigins(h *wsHub) Middleware {
	if h == nil {
		return nil
	}
	return func(next Handler) Handler {
		return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			if isUpgrade(r) {
				if o := r.Header.Get("Origin"); o != "" && !sameOrigin(o, r.Host) && !h.origins[o] && !g.cors.origins[o] {
					return &HTTPError{Status: http.StatusForbidden, Decision: "origin_refused",
						Reason: "websocket: cross-origin handshake from " + o + " refused (list the origin in the route's allow_origins or cors.allow_origins)"}
				}
			}
			return next.ServeHTTP(w, r)
		})
	}
}

// wsUpgrade serves the connection API and upgrades; other requests go on
// to the origin. It runs last, after verification and prefix stripping.
func (g *Gateway) wsUpgrade(rt *route, h *wsHub) Middleware {
	if h == nil {
		return nil
	}
	return func(next Handler) Handler {
		return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			st := stateOf(w)
			if st != nil {
				rel := strings.TrimPrefix(st.path, rt.prefix)
				if rt.prefix == "/" {
					rel = st.path
				}
				if id, ok := strings.CutPrefix(rel, connectionsSegment); ok {
					return h.manage(w, r, id)
				}
			}
			if !isUpgrade(r) {
				return next.ServeHTTP(w, r)
			}
			return h.serve(w, r, st)
		})
	}
}

// manage is the connection API: POST pushes, DELETE closes, GET describes.
func (h *wsHub) manage(w http.ResponseWriter, r *http.Request, id string) error {
	if id == "" || strings.Contains(id, "/") {
		return &HTTPError{Status: http.StatusNotFound, Decision: "no_route", Reason: "want " + connectionsSegment + "{connectionId}"}
	}
	switch r.Method {
	case http.MethodPost, http.MethodDelete, http.MethodGet:
	default:
		return &HTTPError{Status: http.StatusMethodNotAllowed, Decision: "method_not_allowed",
			Reason: "the connection API takes POST (push), GET (describe) and DELETE (close)", Header: http.Header{"Allow": {"DELETE, GET, POST"}}}
	}
	h.mu.Lock()
	c := h.conns[id]
	h.mu.Unlock()
	if c == nil {
		// API Gateway answers GoneException (410) for a connection that
		// is not (or no longer) open.
		return &HTTPError{Status: http.StatusGone, Decision: "gone", Reason: "no open connection " + id}
	}
	switch r.Method {
	case http.MethodPost:
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		typ := websocket.MessageText
		if !utf8.Valid(body) {
			typ = websocket.MessageBinary
		}
		if int64(len(body)) > int64(h.cfg.MaxMessage) {
			return &HTTPError{Status: http.StatusRequestEntityTooLarge, Decision: "too_large",
				Reason: "message is larger than the route's max_message of " + formatSize(int64(h.cfg.MaxMessage))}
		}
		if err := c.write(typ, body); err != nil {
			return &HTTPError{Status: http.StatusGone, Decision: "gone", Reason: "connection " + id + " is closing", Err: err}
		}
		c.touch()
		w.WriteHeader(http.StatusOK)
	case http.MethodDelete:
		h.forget(id)
		c.cancel(errDeleted)
		w.WriteHeader(http.StatusNoContent)
	case http.MethodGet:
		b, _ := json.Marshal(map[string]any{
			"connectionId": c.id,
			"connectedAt":  c.connectedAt.UTC().Format(time.RFC3339Nano),
			"lastActiveAt": time.Unix(0, c.lastActive.Load()).UTC().Format(time.RFC3339Nano),
			"identity":     map[string]string{"sourceIp": c.sourceIP, "userAgent": c.userAgent, "principal": c.principal},
		})
		writeJSON(w, http.StatusOK, append(b, '\n'))
	}
	return nil
}

func (h *wsHub) forget(id string) {
	h.mu.Lock()
	delete(h.conns, id)
	h.mu.Unlock()
}

var errDeleted = errors.New("closed by DELETE @connections")

// serve upgrades a verified handshake and runs the connection.
func (h *wsHub) serve(w http.ResponseWriter, r *http.Request, st *reqState) error {
	id, err := newConnectionID()
	if err != nil {
		return err
	}
	c := &wsConn{id: id, connectedAt: time.Now(), userAgent: r.UserAgent()}
	if st != nil {
		c.sourceIP = st.client
		if st.identity != nil {
			c.principal = st.identity.Principal
		}
	}
	c.touch()
	// The origin first: a refusal or failure there is the handshake's answer.
	var origin *websocket.Conn
	accept := &websocket.AcceptOptions{InsecureSkipVerify: true} // wsOrigins checked the Origin
	if h.upstream != "" {
		var resp *http.Response
		origin, resp, err = h.dial(r, id)
		if err != nil {
			status := http.StatusBadGateway
			reason := "websocket origin: " + err.Error()
			if resp != nil && resp.StatusCode >= 400 {
				status, reason = resp.StatusCode, "websocket origin refused the handshake: "+resp.Status
			}
			if st != nil {
				st.upstream = redactedUpstream(h.upstream)
			}
			return &HTTPError{Status: status, Decision: "upstream_error", Reason: reason, Internal: true, Err: err}
		}
		defer origin.CloseNow() //nolint:errcheck // after the close handshake below
		origin.SetReadLimit(int64(h.cfg.MaxMessage))
		if sp := origin.Subprotocol(); sp != "" {
			accept.Subprotocols = []string{sp}
		}
	} else if offered := r.Header.Get("Sec-WebSocket-Protocol"); offered != "" {
		accept.Subprotocols = strings.Split(strings.ReplaceAll(offered, " ", ""), ",")[:1]
	}
	if st != nil {
		w.Header()["X-Connection-Id"] = []string{id}
		if h.upstream != "" {
			st.upstream = redactedUpstream(h.upstream)
		} else {
			st.upstream = wsEchoUpstream
		}
	}
	client, err := websocket.Accept(w, r, accept)
	if err != nil {
		if origin != nil {
			origin.Close(websocket.StatusGoingAway, "client handshake failed") //nolint:errcheck
		}
		return nil // Accept has answered
	}
	client.SetReadLimit(int64(h.cfg.MaxMessage))
	c.client = client
	ctx, cancel := context.WithCancelCause(context.Background())
	c.cancel = cancel
	h.wg.Add(1)
	defer h.wg.Done()
	h.mu.Lock()
	h.conns[id] = c
	h.mu.Unlock()
	defer h.forget(id)
	code, reason := h.run(ctx, c, origin)
	cancel(nil)
	if st != nil {
		st.decision = "websocket"
		st.reason = strings.TrimSpace(fmt.Sprintf("closed %d %s", int(code), reason))
	}
	return nil
}

// run copies messages until a side closes, a timeout, or DELETE; it closes
// both sides and returns the close status sent to the client.
func (h *wsHub) run(ctx context.Context, c *wsConn, origin *websocket.Conn) (websocket.StatusCode, string) {
	done := make(chan error, 2)
	// Reads run on their own context for the same reason as write; ctx
	// (DELETE, gateway shutdown) only ends wait, after which run closes
	// both sides with a close frame.
	ioCtx := context.Background()
	if h.cfg.AnnounceConnectionID {
		b, _ := json.Marshal(map[string]string{"connectionId": c.id})
		if err := c.write(websocket.MessageText, b); err != nil {
			c.client.CloseNow() //nolint:errcheck
			return websocket.StatusAbnormalClosure, "announce failed"
		}
	}
	go func() { done <- pumpFromClient(ioCtx, c, origin) }()
	pending := 1
	if origin != nil {
		pending = 2
		go func() { done <- pumpFromOrigin(ioCtx, c, origin) }()
	}
	code, reason, pumpEnded := h.wait(ctx, c, done)
	if pumpEnded {
		pending--
	}
	// Gone for the connection API from now on, then close both sides with
	// the status, each bounded by a short wait.
	h.forget(c.id)
	closeBoth(c, origin, code, reason)
	for ; pending > 0; pending-- {
		<-done
	}
	return code, reason
}

// pumpFromClient copies the client's messages to the origin (or back to
// the client, for builtin:ws-echo) until a read or write fails.
func pumpFromClient(ctx context.Context, c *wsConn, origin *websocket.Conn) error {
	for {
		typ, data, err := c.client.Read(ctx)
		if err != nil {
			return err
		}
		c.touch()
		if origin == nil {
			err = c.write(typ, data)
		} else {
			wctx, cancel := context.WithTimeout(ctx, wsWriteTimeout)
			err = origin.Write(wctx, typ, data)
			cancel()
		}
		if err != nil {
			return err
		}
	}
}

// pumpFromOrigin copies the origin's messages to the client until a read
// or write fails.
func pumpFromOrigin(ctx context.Context, c *wsConn, origin *websocket.Conn) error {
	for {
		typ, data, err := origin.Read(ctx)
		if err != nil {
			return fmt.Errorf("origin: %w", err)
		}
		c.touch()
		if err := c.write(typ, data); err != nil {
			return err
		}
	}
}

// wait returns the close status once a pump ends (pumpEnded, having taken
// its error from done), ctx ends (DELETE, gateway shutdown), or the
// connection is idle (no message either way) or has lived too long.
func (h *wsHub) wait(ctx context.Context, c *wsConn, done <-chan error) (code websocket.StatusCode, reason string, pumpEnded bool) {
	total := time.NewTimer(time.Duration(h.cfg.MaxDuration))
	defer total.Stop()
	idle := time.Duration(h.cfg.IdleTimeout)
	idleTimer := time.NewTimer(idle)
	defer idleTimer.Stop()

	for {
		select {
		case err := <-done:
			code, reason = closeFor(err)
			return code, reason, true
		case <-ctx.Done():
			if cause := context.Cause(ctx); !errors.Is(cause, errDeleted) {
				return websocket.StatusGoingAway, cause.Error(), false
			}
			return websocket.StatusNormalClosure, "closed by the connection API", false
		case <-total.C:
			return websocket.StatusGoingAway, "connection lifetime (" + time.Duration(h.cfg.MaxDuration).String() + ") reached", false
		case <-idleTimer.C:
			last := time.Unix(0, c.lastActive.Load())
			if left := idle - time.Since(last); left > 0 {
				idleTimer.Reset(left)
				continue
			}
			return websocket.StatusGoingAway, "idle for " + idle.String(), false
		}
	}
}

// closeFor maps how a side ended to the status passed on to the other.
func closeFor(err error) (websocket.StatusCode, string) {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code, ce.Reason
	}
	if strings.Contains(err.Error(), "read limited at") {
		return websocket.StatusMessageTooBig, "message larger than max_message"
	}
	if strings.HasPrefix(err.Error(), "origin:") {
		return websocket.StatusBadGateway, "origin connection lost"
	}
	return websocket.StatusGoingAway, ""
}

func closeBoth(c *wsConn, origin *websocket.Conn, code websocket.StatusCode, reason string) {
	if code == websocket.StatusNoStatusRcvd || code == websocket.StatusAbnormalClosure || code < 1000 {
		code = websocket.StatusGoingAway
	}
	var wg sync.WaitGroup
	for _, conn := range []*websocket.Conn{c.client, origin} {
		if conn == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			closed := make(chan struct{})
			go func() { conn.Close(code, reason); close(closed) }() //nolint:errcheck // best effort
			select {
			case <-closed:
			case <-time.After(2 * time.Second):
				conn.CloseNow() //nolint:errcheck
			}
		}()
	}
	wg.Wait()
}

// dial opens the origin connection with the headers an origin may trust:
// the gateway's forwarded headers, the verified identity, X-Connection-Id,
// the offered subprotocols; never the client's credentials.
func (h *wsHub) dial(r *http.Request, id string) (*websocket.Conn, *http.Response, error) {
	u, err := url.Parse(h.upstream)
	if err != nil {
		return nil, nil, err
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + r.URL.Path
	u.RawPath = ""
	q := r.URL.Query()
	for k := range q {
		if strings.HasPrefix(strings.ToLower(k), "x-amz-") {
			q.Del(k) // the pre-signed handshake's credentials stay here
		}
	}
	u.RawQuery = q.Encode()
	hdr := http.Header{}
	for k, v := range r.Header {
		if len(k) > 6 && strings.EqualFold(k[:6], "x-amz-") {
			continue // the handshake's signature, date and session token
		}
		switch http.CanonicalHeaderKey(k) {
		case "Connection", "Upgrade", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions",
			"Sec-Websocket-Protocol", "Host", "Authorization", "Cookie", "Origin":
			continue
		}
		hdr[k] = v
	}
	hdr.Set("X-Connection-Id", id)
	var subs []string
	if offered := r.Header.Get("Sec-WebSocket-Protocol"); offered != "" {
		for s := range strings.SplitSeq(offered, ",") {
			subs = append(subs, strings.TrimSpace(s))
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), defaultDialTimeout)
	defer cancel()
	return websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPClient: h.dialer, HTTPHeader: hdr, Subprotocols: subs})
}

func redactedUpstream(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return s
}

// newConnectionID returns an id like API Gateway's (12 URL-safe characters).
func newConnectionID() (string, error) {
	var b [9]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
