package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/rejectcode"
)

// ---- builtin:echo ----

// echoOrigin answers a JSON description of the request as the origin
// received it (after the gateway's processing). Two paths do more:
// /status/NNN answers with status NNN, /delay/DURATION waits (up to 30s)
// before answering, for clients' exit-code and timeout tests.
type echoOrigin struct {
	bufs *sync.Pool // of *bytes.Buffer
}

// EchoResponse is builtin:echo's answer.
type EchoResponse struct {
	Method        string            `json:"method"`
	Path          string            `json:"path"`
	RawQuery      string            `json:"raw_query"`
	Query         map[string]any    `json:"query"` // a string, or a list when repeated
	Host          string            `json:"host"`
	Headers       map[string]string `json:"headers"` // repeated headers joined with ", "
	Body          string            `json:"body"`
	BodyBase64    bool              `json:"body_base64"`
	BodySHA256    string            `json:"body_sha256"`
	ContentLength int64             `json:"content_length"`
	JSON          json.RawMessage   `json:"json,omitempty"` // the body, when it is JSON
	Identity      *auth.Identity    `json:"identity"`
	Route         string            `json:"route,omitempty"`
	RequestID     string            `json:"request_id,omitempty"`
	Status        int               `json:"status"`
}

const maxEchoDelay = 30 * time.Second

func (e echoOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	status := http.StatusOK
	cacheFor := "" // /cache/N: the answer may be cached for N seconds
	if rest, ok := strings.CutPrefix(r.URL.Path, "/status/"); ok {
		n, err := strconv.Atoi(rest)
		if err != nil || n < 200 || n > 599 {
			return &HTTPError{Status: http.StatusBadRequest, Decision: "bad_request", Reason: "echo: /status/NNN wants a status from 200 to 599"}
		}
		status = n
	} else if rest, ok := strings.CutPrefix(r.URL.Path, "/cache/"); ok {
		n, err := strconv.Atoi(rest)
		if err != nil || n < 0 || n > 86400 {
			return &HTTPError{Status: http.StatusBadRequest, Decision: "bad_request", Reason: "echo: /cache/SECONDS wants 0 to 86400"}
		}
		cacheFor = "public, max-age=" + rest
	} else if rest, ok := strings.CutPrefix(r.URL.Path, "/delay/"); ok {
		d, err := time.ParseDuration(rest)
		if err != nil || d < 0 || d > maxEchoDelay {
			return &HTTPError{Status: http.StatusBadRequest, Decision: "bad_request", Reason: "echo: /delay/DURATION wants a duration up to 30s, such as 1500ms"}
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return r.Context().Err()
		}
	}

	buf := e.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 1<<20 { // don't keep huge buffers alive
			e.bufs.Put(buf)
		}
	}()
	if r.Body != nil {
		if _, err := buf.ReadFrom(r.Body); err != nil {
			return err // *http.MaxBytesError becomes 413
		}
	}
	body := buf.Bytes()
	sum := sha256.Sum256(body)

	resp := EchoResponse{
		Method:        r.Method,
		Path:          r.URL.Path,
		RawQuery:      r.URL.RawQuery,
		Host:          r.Host,
		Headers:       make(map[string]string, len(r.Header)),
		BodySHA256:    hex.EncodeToString(sum[:]),
		ContentLength: int64(len(body)),
		Identity:      IdentityFromContext(r.Context()),
		Status:        status,
	}
	if utf8.Valid(body) {
		resp.Body = string(body)
	} else {
		resp.Body = base64.StdEncoding.EncodeToString(body)
		resp.BodyBase64 = true
	}
	if len(body) > 0 && isJSONType(r.Header.Get("Content-Type")) && json.Valid(body) {
		resp.JSON = body
	}
	for k, v := range r.Header {
		resp.Headers[k] = strings.Join(v, ", ")
	}
	q := r.URL.Query()
	resp.Query = make(map[string]any, len(q))
	for k, v := range q {
		if len(v) == 1 {
			resp.Query[k] = v[0]
		} else {
			resp.Query[k] = v
		}
	}
	if st := stateOf(w); st != nil {
		resp.RequestID = st.id
		if st.route != nil {
			resp.Route = st.route.prefix
		}
		st.upstream = "builtin:echo"
	}
	out, err := appendEcho(make([]byte, 0, 1024+len(resp.Body)), &resp)
	if err != nil {
		return err
	}
	h := w.Header()
	h["Cache-Control"] = noStore
	if cacheFor != "" {
		h["Cache-Control"] = []string{cacheFor}
	}
	writeJSON(w, status, append(out, '\n'))
	return nil
}

func isJSONType(ct string) bool {
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// ---- builtin:items ----

// maxItems bounds a store's memory; POST above it answers 507.
const maxItems = 10000

// itemStore is builtin:items, a small in-memory items API, one store per
// route, safe for concurrent use. The collection is the path it is mounted
// at with `paths:` (e.g. /items), or /items when it is a route's upstream:
//
//	GET    /items        list, oldest first (a JSON array)
//	POST   /items        create from a JSON object: 201 + the item + Location
//	GET    /items/ID     one item
//	PUT    /items/ID     replace (keeps id, created_*)
//	DELETE /items/ID     204
//
// Each item is the posted object plus "id", "created_at" (gateway clock) and
// "created_by" (the verified principal).
type itemStore struct {
	now   func() time.Time
	mu    sync.RWMutex
	next  int
	items map[string]map[string]any
	order []string
}

func newItemStore(now func() time.Time) *itemStore {
	return &itemStore{now: now, items: map[string]map[string]any{}}
}

// itemsMount serves a store's collection at one path.
type itemsMount struct {
	store      *itemStore
	collection string
}

func (m itemsMount) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	return m.store.serve(w, r, m.collection)
}

func (s *itemStore) serve(w http.ResponseWriter, r *http.Request, collection string) error {
	if st := stateOf(w); st != nil {
		st.upstream = "builtin:items"
	}
	rest, ok := strings.CutPrefix(r.URL.Path, collection)
	if !ok || rest != "" && rest[0] != '/' || strings.Count(strings.Trim(rest, "/"), "/") > 0 {
		return &HTTPError{Status: http.StatusNotFound, Decision: "no_route", Reason: "items: no such path " + r.URL.Path + " (want " + collection + " or " + collection + "/ID)"}
	}
	id := strings.Trim(rest, "/")
	w.Header()["Cache-Control"] = noStore
	switch {
	case id == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		return s.list(w)
	case id == "" && r.Method == http.MethodPost:
		return s.create(w, r, collection)
	case id == "":
		return &HTTPError{Status: http.StatusMethodNotAllowed, Decision: "method_not_allowed", Reason: "items: use GET or POST on /items",
			Header: http.Header{"Allow": {"GET, HEAD, POST"}}}
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return s.get(w, id)
	case http.MethodPut:
		return s.replace(w, r, id)
	case http.MethodDelete:
		return s.remove(w, id)
	}
	return &HTTPError{Status: http.StatusMethodNotAllowed, Decision: "method_not_allowed", Reason: "items: use GET, PUT or DELETE on /items/ID",
		Header: http.Header{"Allow": {"DELETE, GET, HEAD, PUT"}}}
}

// list answers GET on the collection: every item, oldest first.
func (s *itemStore) list(w http.ResponseWriter) error {
	s.mu.RLock()
	list := make([]map[string]any, 0, len(s.order))
	for _, k := range s.order {
		list = append(list, s.items[k])
	}
	out, err := json.Marshal(list)
	s.mu.RUnlock()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, append(out, '\n'))
	return nil
}

// create answers POST on the collection: the new item, with its Location.
func (s *itemStore) create(w http.ResponseWriter, r *http.Request, collection string) error {
	obj, err := readObject(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if len(s.items) >= maxItems {
		s.mu.Unlock()
		return &HTTPError{Status: http.StatusInsufficientStorage, Decision: "items_full", Reason: "items: the store is full (" + strconv.Itoa(maxItems) + " items); DELETE some"}
	}
	s.next++
	id := strconv.Itoa(s.next)
	obj["id"] = id
	obj["created_at"] = s.now().UTC().Format(time.RFC3339)
	obj["created_by"] = principal(r)
	s.items[id] = obj
	s.order = append(s.order, id)
	out, err := json.Marshal(obj)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	w.Header()["Location"] = []string{itemsPath(w, r, collection) + "/" + id}
	writeJSON(w, http.StatusCreated, append(out, '\n'))
	return nil
}

// get answers GET on one item.
func (s *itemStore) get(w http.ResponseWriter, id string) error {
	s.mu.RLock()
	obj, ok := s.items[id]
	var out []byte
	var err error
	if ok {
		out, err = json.Marshal(obj)
	}
	s.mu.RUnlock()
	if !ok {
		return itemNotFound(id)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, append(out, '\n'))
	return nil
}

// replace answers PUT on one item, keeping who created it and when.
func (s *itemStore) replace(w http.ResponseWriter, r *http.Request, id string) error {
	obj, err := readObject(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	old, ok := s.items[id]
	if !ok {
		s.mu.Unlock()
		return itemNotFound(id)
	}
	obj["id"] = id
	obj["created_at"] = old["created_at"]
	obj["created_by"] = old["created_by"]
	obj["updated_by"] = principal(r)
	s.items[id] = obj
	out, err := json.Marshal(obj)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, append(out, '\n'))
	return nil
}

// remove answers DELETE on one item.
func (s *itemStore) remove(w http.ResponseWriter, id string) error {
	s.mu.Lock()
	_, ok := s.items[id]
	if ok {
		delete(s.items, id)
		for i, k := range s.order {
			if k == id {
				s.order = append(s.order[:i], s.order[i+1:]...)
				break
			}
		}
	}
	s.mu.Unlock()
	if !ok {
		return itemNotFound(id)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func itemNotFound(id string) error {
	return &HTTPError{Status: http.StatusNotFound, Decision: "not_found", Reason: "items: no item " + strconv.Quote(id)}
}

// itemsPath is the collection as the client addresses it (with the part
// of the route prefix the gateway stripped).
func itemsPath(w http.ResponseWriter, r *http.Request, collection string) string {
	if st := stateOf(w); st != nil && strings.HasSuffix(st.path, r.URL.Path) {
		return strings.TrimSuffix(st.path, r.URL.Path) + collection
	}
	return collection
}

func principal(r *http.Request) string {
	if id := IdentityFromContext(r.Context()); id != nil {
		return id.Principal
	}
	return ""
}

func readObject(r *http.Request) (map[string]any, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSONType(ct) {
		return nil, &HTTPError{Status: http.StatusUnsupportedMediaType, Decision: "bad_request", Reason: "items: want a JSON object (Content-Type: application/json), got " + ct}
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	var obj map[string]any
	if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		return nil, &HTTPError{Status: http.StatusBadRequest, Decision: "bad_request", Reason: "items: the body is not a JSON object"}
	}
	return obj, nil
}

// ---- http(s) upstreams ----

// newTransport is the upstream transport: bounded dial and
// response-header times, and enough idle connections for a load test.
func (g *Gateway) newTransport(timeout time.Duration) *http.Transport {
	dial := time.Duration(g.cfg.Upstream.DialTimeout)
	if dial == 0 {
		dial = defaultDialTimeout
	}
	idle := g.cfg.Upstream.MaxIdle
	if idle <= 0 {
		idle = defaultMaxIdle
	}
	d := &net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 nil, // an upstream is addressed directly, never through *_PROXY
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          idle * 4,
		MaxIdleConnsPerHost:   idle,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   dial,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
	}
}

type proxyOrigin struct {
	target  *url.URL
	label   string
	rp      *httputil.ReverseProxy
	timeout time.Duration
}

// overriddenByEdge are response headers the gateway owns: an upstream's
// own values are dropped so that the answer carries exactly one, the
// gateway's.
var overriddenByEdge = []string{
	"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Expose-Headers",
	"Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Max-Age", "Vary",
	"X-Request-Id",
}

func newProxyOrigin(target *url.URL, t http.RoundTripper, timeout time.Duration, bufs *sync.Pool, edgeHeaders []headerValue) *proxyOrigin {
	p := &proxyOrigin{target: target, label: target.Redacted(), timeout: timeout}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target) // also sets Host to the upstream's: the client never chooses it
			// Rewrite mode removed X-Forwarded-*; restore the gateway's own.
			for _, k := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
				if v := pr.In.Header[k]; len(v) > 0 {
					pr.Out.Header[k] = v
				}
			}
		},
		Transport:  t,
		BufferPool: proxyBuffers{bufs},
		ModifyResponse: func(res *http.Response) error {
			if vh, ok := res.Request.Context().Value(varyKey{}).(*varyHolder); ok {
				vh.vary = res.Header.Values("Vary") // for the edge cache's key
			}
			for _, k := range overriddenByEdge {
				delete(res.Header, k)
			}
			for _, hv := range edgeHeaders {
				delete(res.Header, hv.name)
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			// Reported to ServeHTTP below, which returns it to the frame.
			if st := stateOf(w); st != nil {
				st.proxyErr = err
			}
		},
	}
	return p
}

func (p *proxyOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(w)
	if st == nil {
		return errors.New("proxy origin used outside the gateway")
	}
	st.upstream = p.label
	p.rp.ServeHTTP(w, r)
	err := st.proxyErr
	if err == nil {
		return nil
	}
	switch {
	case isMaxBytes(err):
		return err
	case r.Context().Err() != nil:
		return r.Context().Err()
	case isTimeout(err):
		return &HTTPError{Status: http.StatusGatewayTimeout, Decision: "upstream_timeout", Internal: true, Err: err,
			Reason:  "upstream " + p.label + " did not answer within " + p.timeout.String(),
			Details: map[string]any{"upstream": p.label, "timeout": p.timeout.String()}}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &HTTPError{Status: http.StatusBadGateway, Decision: "upstream_error", Code: rejectcode.UpstreamRefused, Internal: true, Err: err,
			Reason: "upstream " + p.label + " refused the connection", Details: map[string]any{"upstream": p.label}}
	}
	return &HTTPError{Status: http.StatusBadGateway, Decision: "upstream_error", Internal: true, Err: err,
		Reason: "upstream " + p.label + " failed: " + err.Error(), Details: map[string]any{"upstream": p.label}}
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// proxyBuffers pools the reverse proxy's copy buffers.
type proxyBuffers struct {
	pool *sync.Pool // of *[]byte
}

func (p proxyBuffers) Get() []byte  { return *(p.pool.Get().(*[]byte)) }
func (p proxyBuffers) Put(b []byte) { p.pool.Put(&b) }
