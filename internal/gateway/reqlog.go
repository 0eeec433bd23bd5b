package gateway

import (
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// LogEntry is one request-log record: one JSON line on the log writer, and
// an element of /_mock/requests. It never holds a credential: the reason
// comes from verifiers, which must not put secrets in it.
type LogEntry struct {
	Time       time.Time `json:"time"` // gateway clock
	ID         string    `json:"id"`   // also the X-Request-Id response header
	Client     string    `json:"client"`
	Method     string    `json:"method"`
	Path       string    `json:"path"` // as received
	Route      string    `json:"route,omitempty"`
	Auth       string    `json:"auth,omitempty"` // the route's auth kind
	Decision   string    `json:"decision"`       // allow, deny, no_route, rate_limited, too_large, cors_refused, upstream_error, mock, ...
	Status     int       `json:"status"`
	Reason     string    `json:"reason,omitempty"`
	Principal  string    `json:"principal,omitempty"`
	Upstream   string    `json:"upstream,omitempty"`
	DurationMS float64   `json:"duration_ms"`
	BytesOut   int64     `json:"bytes_out"`
}

// requestLog writes entries as JSON lines and keeps the most recent ones in
// a ring. Each entry is encoded outside the lock into a pooled buffer; the
// lock only covers one Write and one ring slot, so logging does not
// serialize request handling.
type requestLog struct {
	w    io.Writer // nil: no line output
	bufs sync.Pool // of *[]byte

	mu   sync.Mutex
	ring []LogEntry
	next int
	full bool
}

func newRequestLog(w io.Writer, size int) *requestLog {
	l := &requestLog{w: w, ring: make([]LogEntry, size)}
	l.bufs.New = func() any { b := make([]byte, 0, 512); return &b }
	return l
}

func (l *requestLog) record(st *reqState) {
	e := LogEntry{
		Time:       st.at,
		ID:         st.id,
		Client:     st.client,
		Method:     st.method,
		Path:       st.path,
		Decision:   st.decision,
		Status:     st.status,
		Reason:     st.reason,
		Upstream:   st.upstream,
		DurationMS: float64(time.Since(st.start).Microseconds()) / 1000,
		BytesOut:   st.bytes,
	}
	if st.route != nil {
		e.Route, e.Auth = st.route.prefix, st.route.kind
	}
	if st.identity != nil {
		e.Principal = st.identity.Principal
	}
	if e.Decision == "" {
		e.Decision = "error"
	}
	var bp *[]byte
	if l.w != nil {
		bp = l.bufs.Get().(*[]byte)
		*bp = appendEntry((*bp)[:0], &e)
	}
	l.mu.Lock()
	if bp != nil {
		_, _ = l.w.Write(*bp)
	}
	l.ring[l.next] = e
	l.next++
	if l.next == len(l.ring) {
		l.next, l.full = 0, true
	}
	l.mu.Unlock()
	if bp != nil && cap(*bp) <= 64<<10 {
		l.bufs.Put(bp)
	}
}

// recent returns the kept entries, oldest first.
func (l *requestLog) recent() []LogEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]LogEntry, 0, len(l.ring))
	if l.full {
		out = append(out, l.ring[l.next:]...)
	}
	return append(out, l.ring[:l.next]...)
}

func (l *requestLog) clear() {
	l.mu.Lock()
	clear(l.ring)
	l.next, l.full = 0, false
	l.mu.Unlock()
}

// appendEntry encodes e as one JSON line. Hand-written because the log is
// on every request's path and encoding/json's reflection would be the
// largest cost of a /public request; the field set is fixed and small.
func appendEntry(b []byte, e *LogEntry) []byte {
	b = append(b, `{"time":"`...)
	b = e.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","id":`...)
	b = appendJSONString(b, e.ID)
	b = append(b, `,"client":`...)
	b = appendJSONString(b, e.Client)
	b = append(b, `,"method":`...)
	b = appendJSONString(b, e.Method)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, e.Path)
	if e.Route != "" {
		b = append(b, `,"route":`...)
		b = appendJSONString(b, e.Route)
	}
	if e.Auth != "" {
		b = append(b, `,"auth":`...)
		b = appendJSONString(b, e.Auth)
	}
	b = append(b, `,"decision":`...)
	b = appendJSONString(b, e.Decision)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	if e.Reason != "" {
		b = append(b, `,"reason":`...)
		b = appendJSONString(b, e.Reason)
	}
	if e.Principal != "" {
		b = append(b, `,"principal":`...)
		b = appendJSONString(b, e.Principal)
	}
	if e.Upstream != "" {
		b = append(b, `,"upstream":`...)
		b = appendJSONString(b, e.Upstream)
	}
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, e.DurationMS, 'f', -1, 64)
	b = append(b, `,"bytes_out":`...)
	b = strconv.AppendInt(b, e.BytesOut, 10)
	return append(b, "}\n"...)
}

const hexDigits = "0123456789abcdef"

// jsonSafe[c] is true for the ASCII bytes appendJSONString copies as they
// are: printable, and neither a quote, a backslash nor one of <>& (escaped
// as encoding/json does). One table load per byte instead of six compares:
// the echo of a header-heavy request is mostly this loop.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendJSONString appends s as a JSON string, escaping as encoding/json
// does (control characters, quotes, backslash, <, >, &, U+2028/9) and
// replacing invalid UTF-8 with U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b': // as encoding/json writes them since Go 1.22
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
