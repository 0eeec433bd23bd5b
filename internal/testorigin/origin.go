// Package testorigin is a small HTTP origin for gwcurl's end-to-end tests and
// benchmarks: it echoes requests, answers chosen statuses, streams
// deterministic bytes, sleeps, redirects and fails on demand.
package testorigin

import (
	"compress/gzip"
	"compress/zlib"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Bytes returns n deterministic pseudo-random bytes (the same for every
// call), so tests can compare downloads and uploads byte for byte.
func Bytes(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// Handler returns the origin. Endpoints (under any prefix):
//
//	/echo (and any other path)  JSON: method, path, query, headers, body|body_base64, body_sha256
//	/status/CODE     answers CODE with a small JSON body
//	/slow?ms=N[&key=K] waits N ms, then answers 200 (K counted on arrival, see /seen)
//	/bytes?n=N       N deterministic bytes (application/octet-stream)
//	/json            a JSON document
//	/text?s=S        S as text/plain
//	/redirect?to=URL 302 to URL
//	/flaky?key=K&fail=N&code=C   answers C (default 503, Retry-After: 0) N times per key, then 200
//	/seen?key=K      how many requests /flaky?key=K got (without counting one)
//	/gzip            a JSON document, gzip-encoded when Accept-Encoding allows gzip,
//	                 else deflate (zlib) when it allows deflate
//	/download?name=N text with Content-Disposition: attachment; filename="N"
//	/setcookie?h=V   answers with one Set-Cookie: V per h (then echoes)
//	/form            parses a multipart form: its fields, and each file's name, type and sha256
//	/hangup          closes the connection without answering
//	/loop            302 to itself, forever
func Handler() http.Handler {
	c := &counters{byKey: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/", echo)
	mux.HandleFunc("/status/", status)
	mux.HandleFunc("/slow", c.slow)
	mux.HandleFunc("/bytes", serveBytes)
	mux.HandleFunc("/text", text)
	mux.HandleFunc("/json", jsonDoc)
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	mux.HandleFunc("/seen", c.seen)
	mux.HandleFunc("/gzip", compressed)
	mux.HandleFunc("/download", download)
	mux.HandleFunc("/setcookie", setCookie)
	mux.HandleFunc("/app/setcookie", setCookie) // for cookies' default path
	mux.HandleFunc("/form", form)
	mux.HandleFunc("/hangup", hangup)
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Path, http.StatusFound)
	})
	mux.HandleFunc("/flaky", c.flaky)
	return mux
}

// counters counts requests per ?key= for /slow, /flaky and /seen.
type counters struct {
	mu    sync.Mutex
	byKey map[string]int
}

// add counts one more request under key and returns the new count.
func (c *counters) add(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byKey[key]++
	return c.byKey[key]
}

func (c *counters) get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byKey[key]
}

func echo(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	sum := sha256.Sum256(body)
	out := map[string]any{
		"method":      r.Method,
		"path":        r.URL.Path,
		"raw_path":    r.URL.EscapedPath(),
		"query":       r.URL.RawQuery,
		"headers":     flatten(r.Header),
		"host":        r.Host,
		"body_sha256": hex.EncodeToString(sum[:]),
		"body_length": len(body),
	}
	if utf8.Valid(body) {
		out["body"] = string(body)
	} else {
		out["body"] = base64.StdEncoding.EncodeToString(body)
		out["body_base64"] = true
	}
	writeJSON(w, http.StatusOK, out)
}

func status(w http.ResponseWriter, r *http.Request) {
	code, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
	if err != nil || code < 100 || code > 599 {
		code = http.StatusBadRequest
	}
	writeJSON(w, code, map[string]any{"status": code, "message": http.StatusText(code)})
}

func (c *counters) slow(w http.ResponseWriter, r *http.Request) {
	ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
	if k := r.URL.Query().Get("key"); k != "" { // counted on arrival, for /seen
		c.add(k)
	}
	select {
	case <-time.After(time.Duration(ms) * time.Millisecond):
	case <-r.Context().Done():
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"slept_ms": ms})
}

func serveBytes(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	if n < 0 || n > 1<<30 {
		n = 0
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(n))
	w.Write(Bytes(n)) //nolint:errcheck
}

func text(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, r.URL.Query().Get("s")) //nolint:errcheck
}

func jsonDoc(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"name": "widget", "count": 3, "ok": true, "tags": []string{"a", "b"}, "none": nil})
}

func (c *counters) seen(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"count": c.get(r.URL.Query().Get("key"))})
}

func compressed(w http.ResponseWriter, r *http.Request) {
	doc := []byte(`{"compressed":true,"items":["a","b","c"]}` + "\n")
	ae := r.Header.Get("Accept-Encoding")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Vary", "Accept-Encoding")
	switch {
	case strings.Contains(ae, "gzip"):
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		zw.Write(doc) //nolint:errcheck
		zw.Close()    //nolint:errcheck
	case strings.Contains(ae, "deflate"):
		w.Header().Set("Content-Encoding", "deflate")
		zw := zlib.NewWriter(w)
		zw.Write(doc) //nolint:errcheck
		zw.Close()    //nolint:errcheck
	default:
		w.Write(doc) //nolint:errcheck
	}
}

func download(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Disposition", `attachment; filename="`+strings.ReplaceAll(r.URL.Query().Get("name"), `"`, "")+`"`)
	io.WriteString(w, "downloaded\n") //nolint:errcheck
}

func setCookie(w http.ResponseWriter, r *http.Request) {
	for _, v := range r.URL.Query()["h"] {
		w.Header().Add("Set-Cookie", v)
	}
	echo(w, r)
}

func form(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseMultipartForm(8 << 20); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	files := map[string]any{}
	for name, fhs := range r.MultipartForm.File {
		var list []map[string]any
		for _, fh := range fhs {
			f, err := fh.Open()
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			b, _ := io.ReadAll(f)
			f.Close()
			sum := sha256.Sum256(b)
			list = append(list, map[string]any{"filename": fh.Filename, "type": fh.Header.Get("Content-Type"), "sha256": hex.EncodeToString(sum[:]), "size": len(b)})
		}
		files[name] = list
	}
	writeJSON(w, http.StatusOK, map[string]any{"fields": r.MultipartForm.Value, "files": files})
}

func hangup(w http.ResponseWriter, _ *http.Request) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			c.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

func (c *counters) flaky(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	fail, _ := strconv.Atoi(q.Get("fail"))
	code, _ := strconv.Atoi(q.Get("code"))
	if code == 0 {
		code = http.StatusServiceUnavailable
	}
	n := c.add(q.Get("key"))
	if n <= fail {
		w.Header().Set("Retry-After", "0")
		writeJSON(w, code, map[string]any{"attempt": n})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"attempt": n})
}

func flatten(h http.Header) map[string]string {
	m := make(map[string]string, len(h))
	for k, v := range h {
		m[k] = strings.Join(v, ", ")
	}
	return m
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v) //nolint:errcheck
}
