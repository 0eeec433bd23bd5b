package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gwcurl/gwcurl/internal/redact"
	"github.com/gwcurl/gwcurl/internal/sign"
)

// transferStats feed -w and -v.
type transferStats struct {
	start, dnsDone, connectDone, tlsDone, firstByte time.Time
	end                                             time.Time
	sizeDownload, sizeUpload                        int64
	redirects                                       int
	attempts                                        int
	urlEffective                                    string
	method                                          string
	authKind                                        string
	remoteAddr                                      string
	mu                                              sync.Mutex
}

func (s *transferStats) secs(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return t.Sub(s.start).Seconds()
}

// traceTransport logs each signed attempt (-v) and records timings. It sits
// between the signer and the network, so it sees exactly what is sent.
type traceTransport struct {
	base    http.RoundTripper
	trace   func(format string, args ...any) // nil when not verbose
	stats   *transferStats
	redact  []string
	onReady func(*http.Request) // observes the signed request (for --print-curl)
	onSent  func(*http.Request) // records each signed attempt (for --explain)
	onPrint func(*http.Request) // prints each signed attempt (--print=HB)
}

func (t *traceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.onReady != nil {
		t.onReady(req)
		return nil, errPrinted
	}
	st := t.stats
	ct := &httptrace.ClientTrace{
		DNSDone: func(httptrace.DNSDoneInfo) { st.mu.Lock(); st.dnsDone = time.Now(); st.mu.Unlock() },
		ConnectDone: func(_, addr string, err error) {
			if err == nil {
				st.mu.Lock()
				st.connectDone, st.remoteAddr = time.Now(), addr
				st.mu.Unlock()
			}
		},
		TLSHandshakeDone: func(tls.ConnectionState, error) { st.mu.Lock(); st.tlsDone = time.Now(); st.mu.Unlock() },
		GotFirstResponseByte: func() {
			st.mu.Lock()
			st.firstByte = time.Now()
			st.mu.Unlock()
		},
		GotConn: func(info httptrace.GotConnInfo) {
			if info.Reused && t.trace != nil {
				t.trace("* reusing connection to %s", req.URL.Host)
			}
		},
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), ct))
	if t.onSent != nil {
		t.onSent(req)
	}
	if t.onPrint != nil {
		t.onPrint(req)
	}
	if t.trace != nil {
		t.trace("> %s %s %s", req.Method, redact.URL(req.URL.RequestURI()), "HTTP/1.1")
		t.trace("> Host: %s", req.URL.Host)
		for _, k := range sortedKeys(req.Header) {
			for _, v := range req.Header[k] {
				t.trace("> %s: %s", k, redact.HeaderValue(k, v, t.redact...))
			}
		}
		if req.ContentLength > 0 {
			t.trace("> Content-Length: %d", req.ContentLength)
		}
		t.trace(">")
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if t.trace != nil {
		t.trace("< %s", statusText(resp))
		for _, k := range sortedKeys(resp.Header) {
			for _, v := range resp.Header[k] {
				t.trace("< %s: %s", k, redact.HeaderValue(k, v, t.redact...))
			}
		}
		t.trace("<")
	}
	return resp, nil
}

var errPrinted = errors.New("request printed, not sent")

func sortedKeys(h http.Header) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// isIdempotent reports whether a method may be retried safely (RFC 9110 9.2.2).
func isIdempotent(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

func retryableStatus(code int) bool {
	return code == http.StatusTooManyRequests || code == http.StatusBadGateway ||
		code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout
}

// retryAfter parses Retry-After (seconds or HTTP date).
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// sendWithRetry sends the request, retrying as --retry says. Each attempt
// builds a fresh request (fresh body) that the signer signs anew.
func sendWithRetry(ctx context.Context, client *http.Client, o *RequestOptions, rr *resolvedRequest, stats *transferStats, trace func(string, ...any), now func() time.Time) (*http.Response, error) {
	attempts := 1 + o.Retry
	canRetry := o.Retry > 0 && (o.RetryAll || isIdempotent(rr.method))
	backoff := time.Second
	for i := 1; ; i++ {
		stats.attempts = i
		req, err := newAttempt(ctx, rr)
		if err != nil {
			return nil, err
		}
		resp, err := client.Do(req)
		if !canRetry || i >= attempts || ctx.Err() != nil {
			return resp, err
		}
		var wait time.Duration
		switch {
		case err != nil:
			if errors.Is(err, errPrinted) || sign.IsCredentialError(err) {
				return nil, err
			}
			if trace != nil {
				trace("* attempt %d failed: %v", i, err)
			}
			wait = backoff
		case retryableStatus(resp.StatusCode):
			if d, ok := retryAfter(resp.Header, now()); ok {
				wait = d
			} else {
				wait = backoff
			}
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) //nolint:errcheck // draining for reuse
			resp.Body.Close()
		default:
			return resp, nil
		}
		if o.RetryDelay > 0 {
			wait = time.Duration(o.RetryDelay * float64(time.Second))
		}
		backoff *= 2
		if backoff > 10*time.Minute {
			backoff = 10 * time.Minute
		}
		if trace != nil {
			trace("* retrying in %s (attempt %d of %d)", wait.Round(time.Millisecond), i+1, attempts)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

func newAttempt(ctx context.Context, rr *resolvedRequest) (*http.Request, error) {
	var body io.ReadCloser = http.NoBody
	if rr.body != nil {
		b, err := rr.body.open()
		if err != nil {
			return nil, fmt.Errorf("cannot open request body: %w", err)
		}
		body = b
	}
	req, err := http.NewRequestWithContext(ctx, rr.method, rr.url.String(), body)
	if err != nil {
		body.Close()
		return nil, usagef("", "cannot build request: %v", err)
	}
	req.URL = rr.url // keep the exact encoding we built
	req.Header = rr.header.Clone()
	if rr.body != nil {
		req.ContentLength = rr.body.length
		req.GetBody = rr.body.open
		if rr.body.length == 0 {
			req.Body = http.NoBody
		}
	}
	if h := rr.header.Get("Host"); h != "" {
		req.Host = h
		req.Header.Del("Host")
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", userAgent())
	}
	return req, nil
}

// atomicOutput writes to a temp file beside path and renames it into place on
// Commit, so a failed or interrupted download never leaves a half file.
type atomicOutput struct {
	f      *os.File
	path   string
	direct bool // a device or pipe such as /dev/null: written in place
}

func createOutput(path string) (*atomicOutput, error) {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		if fi.IsDir() {
			return nil, &ExitError{Code: ExitWrite, Err: fmt.Errorf("cannot write %s: it is a directory", path), Hint: "-o takes a file name"}
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return nil, &ExitError{Code: ExitWrite, Err: fmt.Errorf("cannot write %s: %s", path, shortPathErr(err))}
		}
		return &atomicOutput{f: f, path: path, direct: true}, nil
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".part*")
	if err != nil {
		return nil, &ExitError{Code: ExitWrite, Err: fmt.Errorf("cannot write %s: %s", path, shortPathErr(err)), Hint: "-o FILE needs a writable directory"}
	}
	return &atomicOutput{f: f, path: path}, nil
}

func (a *atomicOutput) Write(p []byte) (int, error) { return a.f.Write(p) }

func (a *atomicOutput) Commit() error {
	if a.direct {
		return a.f.Close()
	}
	if err := a.f.Close(); err != nil {
		os.Remove(a.f.Name())
		return err
	}
	if err := os.Chmod(a.f.Name(), 0o644); err != nil {
		os.Remove(a.f.Name())
		return err
	}
	return os.Rename(a.f.Name(), a.path)
}

func (a *atomicOutput) Abort() {
	a.f.Close()
	if a.direct {
		return
	}
	os.Remove(a.f.Name())
}
