package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/rejectcode"
)

// Handler is the gateway's internal handler shape (as in caddy): it returns
// an error instead of writing one, so that one place ([Gateway.ServeHTTP])
// turns every refusal into the same JSON answer with CORS and security
// headers, and records the decision in the request log.
type Handler interface {
	ServeHTTP(w http.ResponseWriter, r *http.Request) error
}

// HandlerFunc adapts a function to [Handler].
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// ServeHTTP calls f(w, r).
func (f HandlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) error { return f(w, r) }

// Middleware wraps a Handler. A route's chain is built once, in [New].
type Middleware func(Handler) Handler

func chain(h Handler, mws ...Middleware) Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		if mws[i] != nil {
			h = mws[i](h)
		}
	}
	return h
}

// HTTPError is a refusal or failure of the gateway itself. It is answered as
// {"error": StatusText(Status), "reason": Reason}.
type HTTPError struct {
	Status   int
	Reason   string // one line, shown to the client (unless hidden by explain: false)
	Decision string // request-log decision, e.g. "rate_limited"
	// Code is the client-facing rejection code; empty means Decision
	// (docs/gateway.md, "Rejection codes").
	Code    rejectcode.Code
	Details map[string]any // extra JSON fields, e.g. "limit"
	Header  http.Header    // extra response headers (Retry-After, Allow)
	Err     error          // cause, for errors.Is/As; never shown
	// Internal marks a reason that explain: false hides (upstream details).
	Internal bool
}

func (e *HTTPError) Error() string { return e.Reason }

func (e *HTTPError) Unwrap() error { return e.Err }

// identityKey is the context key of the verified identity.
type identityKey struct{}

// IdentityFromContext returns the identity the route's verifier proved, as
// seen by origins served in-process (builtin:echo, builtin:items, or a test
// handler). http(s) origins receive it as the X-Gateway-Identity header.
func IdentityFromContext(ctx context.Context) *auth.Identity {
	id, _ := ctx.Value(identityKey{}).(*auth.Identity)
	return id
}

// reqState is one request's bookkeeping. It is also the ResponseWriter the
// chain writes to, so it can record the status and size for the log without
// a second wrapper. States are pooled: nothing may keep one after
// Gateway.ServeHTTP returns.
type reqState struct {
	w           http.ResponseWriter
	status      int
	wroteHeader bool
	bytes       int64

	start    time.Time // monotonic, for the duration
	at       time.Time // gateway clock, for the log
	id       string
	client   string
	method   string
	path     string // as received
	route    *route
	decision string
	reason   string
	identity *auth.Identity
	upstream string
	proxyErr error
	// body wraps the client's body: its first read error (a malformed
	// chunked encoding, a body shorter than Content-Length) is the
	// client's fault, answered 400 whoever was reading (a verifier, the
	// proxy).
	body *clientBody
}

// bodyErr returns the first error reading the client's body, if any.
func (s *reqState) bodyErr() error {
	if s.body == nil {
		return nil
	}
	if p := s.body.err.Load(); p != nil {
		return *p
	}
	return nil
}

// clientBody records the first read error of a request body. It is not
// part of the pooled state: the proxy's transport may still read it after
// the handler returned.
type clientBody struct {
	rc  io.ReadCloser
	err atomic.Pointer[error]
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF {
		b.err.CompareAndSwap(nil, &err)
	}
	return n, err
}

func (b *clientBody) Close() error { return b.rc.Close() }

func (s *reqState) reset() { *s = reqState{} }

func (s *reqState) Header() http.Header { return s.w.Header() }

func (s *reqState) WriteHeader(code int) {
	if s.wroteHeader {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		s.w.WriteHeader(code) // informational: not the final status
		return
	}
	s.wroteHeader = true
	s.status = code
	s.w.WriteHeader(code)
}

func (s *reqState) Write(p []byte) (int, error) {
	if !s.wroteHeader {
		s.WriteHeader(http.StatusOK)
	}
	n, err := s.w.Write(p)
	s.bytes += int64(n)
	return n, err
}

// Flush lets streaming origins (the reverse proxy) flush through the state.
func (s *reqState) Flush() {
	if !s.wroteHeader {
		s.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(s.w).Flush()
}

// Unwrap lets http.ResponseController reach the server's writer.
func (s *reqState) Unwrap() http.ResponseWriter { return s.w }

// stateOf returns the request state behind w, or nil for a foreign writer.
func stateOf(w http.ResponseWriter) *reqState {
	st, _ := w.(*reqState)
	return st
}

// Interface guards.
var (
	_ http.ResponseWriter = (*reqState)(nil)
	_ http.Flusher        = (*reqState)(nil)
	_ error               = (*HTTPError)(nil)
)

// errorBody renders {"error": ..., "reason": ...} without reflection: the
// gateway's refusals (404, 429, 413) are on the hot path of a load test.
func errorBody(status int, code rejectcode.Code, reason string) []byte {
	b := make([]byte, 0, 64+len(code)+len(reason))
	b = append(b, `{"error":`...)
	b = appendJSONString(b, http.StatusText(status))
	if code != "" {
		b = append(b, `,"code":`...)
		b = appendJSONString(b, string(code))
	}
	if reason != "" {
		b = append(b, `,"reason":`...)
		b = appendJSONString(b, reason)
	}
	b = append(b, "}\n"...)
	return b
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Shared header values, sliced to full capacity so that an Add on a
// response never appends into them.
var (
	jsonContentType = []string{"application/json"}[:1:1]
	noStore         = []string{"no-store"}[:1:1]
)

// isMaxBytes reports whether err comes from a body over the limit.
func isMaxBytes(err error) bool {
	var mb *http.MaxBytesError
	return errors.As(err, &mb)
}
