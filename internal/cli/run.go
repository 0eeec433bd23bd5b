package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gwcurl/gwcurl/internal/build"
	"github.com/gwcurl/gwcurl/internal/expect"
	"github.com/gwcurl/gwcurl/internal/redact"
	"github.com/gwcurl/gwcurl/internal/sign"
)

func userAgent() string {
	v, _ := build.Info()
	return "gwcurl/" + v
}

// expectBodyLimit bounds the body kept in memory for --expect-jq.
const expectBodyLimit = expect.BodyLimit

// runRequest is the request command, in stages, each its own function:
// validate every flag, resolve (parse items, build the request), make the
// signing client, send, and render the answer. Nothing is sent before
// every input has been checked.
func (f *Factory) runRequest(ctx context.Context, o *RequestOptions) error {
	expect, err := validateRequest(o)
	if err != nil {
		return err
	}
	if o.MaxTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(o.MaxTime*float64(time.Second)))
		defer cancel()
	}
	rr, err := f.resolve(ctx, o)
	if err != nil {
		return err
	}
	defer rr.body.Close()
	t := f.newTransfer(o, rr, expect)
	client, err := t.client(ctx)
	if err != nil {
		return err
	}
	resp, err := t.send(ctx, client)
	if err != nil || resp == nil {
		return err
	}
	defer resp.Body.Close()
	return t.render(ctx, resp)
}

// validateRequest checks the flags that need no network or file beyond
// their own (-w @FILE is read here, once).
func validateRequest(o *RequestOptions) (*expectations, error) {
	if o.Head && (len(o.Data) > 0 || o.jsonSet) {
		return nil, usagef("-I sends HEAD, which has no body", "-I/--head cannot be combined with a body")
	}
	if o.Fail && o.FailBody {
		return nil, usagef("pick one", "-f/--fail and --fail-with-body are mutually exclusive")
	}
	expect, err := parseExpectations(o)
	if err != nil {
		return nil, err
	}
	if err := checkPrint(o.Print); err != nil {
		return nil, err
	}
	if o.Download {
		o.RemoteName, o.RemoteHeaderName = true, true
	}
	if o.WriteOut != "" {
		if o.WriteOut, err = checkWriteOut(o.WriteOut); err != nil {
			return nil, err
		}
	}
	return expect, nil
}

// transfer is one request command in flight.
type transfer struct {
	f            *Factory
	o            *RequestOptions
	rr           *resolvedRequest
	expect       *expectations
	trace        func(string, ...any) // nil unless -v
	stats        *transferStats
	rec          *explainRecorder // --explain
	printed      *http.Request    // --print-curl, --offline: the signed request, not sent
	jar          *cookieJar
	showProgress bool
}

func (f *Factory) newTransfer(o *RequestOptions, rr *resolvedRequest, expect *expectations) *transfer {
	t := &transfer{f: f, o: o, rr: rr, expect: expect,
		stats:        &transferStats{start: time.Now(), method: rr.method, authKind: kindOrNone(rr.auth.Kind)},
		showProgress: (f.IO.IsStderrTTY() || o.ProgressBar) && !o.Silent && !o.Verbose}
	t.trace = f.verboseTrace(o.Verbose)
	if o.Explain {
		t.rec = &explainRecorder{}
	}
	return t
}

// client makes the signing HTTP client: the base transport, the trace and
// print hooks, the profile's signer, redirects and cookies.
func (t *transfer) client(ctx context.Context) (*http.Client, error) {
	f, o, rr := t.f, t.o, t.rr
	if t.showProgress && rr.body != nil && (rr.body.length >= progressThreshold || o.ProgressBar) {
		open := rr.body.open
		rr.body.open = func() (io.ReadCloser, error) {
			rc, err := open()
			if err != nil {
				return nil, err
			}
			return &progressReadCloser{ReadCloser: rc, p: newProgress(f.IO.ErrOut, "↑ upload", rr.body.length).forced(o.ProgressBar)}, nil
		}
	}
	base, err := f.baseTransport(o)
	if err != nil {
		return nil, err
	}
	tt := &traceTransport{base: base, trace: t.trace, stats: t.stats, redact: rr.extraRed}
	if t.rec != nil {
		tt.onSent = t.rec.sent
	}
	if o.PrintCurl || o.Offline {
		tt.onReady = func(r *http.Request) { t.printed = r }
	}
	if strings.ContainsAny(o.Print, "HB") {
		tt.onPrint = func(r *http.Request) {
			writeRequest(f.IO.Out, r, rr, o, strings.Contains(o.Print, "H"), strings.Contains(o.Print, "B"))
		}
	}
	// Signers talk to token endpoints through an unsigned client.
	plain := &http.Client{Transport: base, Timeout: 60 * time.Second}
	if t.trace != nil && rr.auth.Kind != "" && rr.auth.Kind != "none" {
		prof := "(none)"
		if rr.profile != nil {
			prof = rr.profile.Name
		}
		t.trace("* profile %s, auth %s", prof, rr.auth.Kind)
	}
	deps := f.signDeps(rr, plain, t.trace)
	if t.rec != nil {
		deps.OnSigV4 = t.rec.onSigV4
	}
	a := rr.auth
	if (o.PrintCurl || o.Offline) && a.Kind == "sigv4" && a.Checksum != "" {
		return nil, usagef("drop --checksum, or send the request instead of printing it", "--checksum cannot be printed as a curl command: curl does not send aws-chunked bodies")
	}
	if (o.PrintCurl || o.Offline) && a.Kind == "sigv4" {
		// curl sends the file as it is, not aws-chunked: print a request
		// whose body is signed by its hash.
		switch a.Payload {
		case "":
			a.Payload = sign.PayloadHash
		case sign.PayloadStreaming:
			return nil, usagef("drop --payload streaming, or send the request instead of printing it", "--payload streaming cannot be printed as a curl command: curl does not send aws-chunked bodies")
		}
	}
	signer, err := sign.New(ctx, a, rr.url.String(), deps)
	if err != nil {
		return nil, err
	}
	client := &http.Client{
		Transport:     &sign.Transport{Signer: signer, Base: tt, AllowedHost: rr.url.Host},
		CheckRedirect: t.checkRedirect,
	}
	if len(o.Cookies) > 0 || o.CookieJar != "" {
		t.jar = newCookieJar(f.Now)
		for _, c := range o.Cookies {
			if _, file := cookieArg(c); file != "" {
				if err := t.jar.loadFile(file); err != nil {
					return nil, err
				}
			}
		}
		client.Jar = t.jar
	}
	return client, nil
}

// checkRedirect follows redirects as curl -L does.
func (t *transfer) checkRedirect(req *http.Request, via []*http.Request) error {
	if !t.o.Location {
		return http.ErrUseLastResponse
	}
	if len(via) > t.o.MaxRedirs {
		return fmt.Errorf("maximum (%d) redirects followed: %w", t.o.MaxRedirs, errTooManyRedirects)
	}
	t.stats.redirects = len(via)
	if via[0].Header.Get("Referer") == "" {
		req.Header.Del("Referer") // curl sends none on redirects (net/http would)
	}
	if t.trace != nil {
		t.trace("* following redirect to %s", req.URL.Redacted())
	}
	return nil
}

// send sends (with --retry), writes the cookie jar, and handles what
// replaces an answer: --print-curl, --offline, or a failure (with -w). A nil
// response and nil error mean the command is done.
func (t *transfer) send(ctx context.Context, client *http.Client) (*http.Response, error) {
	f, o, rr := t.f, t.o, t.rr
	resp, err := sendWithRetry(ctx, client, o, rr, t.stats, t.trace, f.Now)
	if o.CookieJar != "" {
		if werr := t.jar.writeFile(o.CookieJar); werr != nil && err == nil {
			resp.Body.Close()
			return nil, werr
		}
	}
	if o.PrintCurl && t.printed != nil {
		return nil, printCurl(f.IO.Out, t.printed, rr, o)
	}
	if o.Offline && t.printed != nil {
		p := o.Print
		if p == "" {
			p = "HB"
		}
		writeRequest(f.IO.Out, t.printed, rr, o, strings.Contains(p, "H"), strings.Contains(p, "B"))
		return nil, nil
	}
	if err != nil {
		if t.trace != nil { // the whole Go error, for -v; the error line is the human one
			t.trace("* %s", redact.URL(err.Error()))
		}
		err = cleanErr(err)
		if o.WriteOut != "" { // curl prints -w on failure too: http_code 000, exitcode, errormsg
			t.stats.end = time.Now()
			code, _ := classify(ctx, err)
			f.writeOut(o.WriteOut, writeOutInput{stats: t.stats, exitCode: code, errMsg: oneLine(err.Error())})
		}
		return nil, err
	}
	return resp, nil
}

// render shows the answer: status line and headers, the body where it
// goes, --explain, --download's summary, -v's tally, then the exit code
// (-f, --expect-*) and -w.
func (t *transfer) render(ctx context.Context, resp *http.Response) error {
	f, o, rr, stats := t.f, t.o, t.rr, t.stats
	stats.urlEffective = resp.Request.URL.String()
	if rr.body != nil {
		stats.sizeUpload = rr.body.length
	}
	if o.RemoteName && o.Output == "" {
		var err error
		if o.Output, err = remoteName(o, rr.url.String(), resp); err != nil {
			return err
		}
	}
	failed := (o.Fail || o.FailBody) && resp.StatusCode >= 400
	showStatus := (f.IO.IsStderrTTY() && !o.Silent) || o.Verbose
	headersOut := (o.Include || o.Head || o.printResponseHeaders()) && !(failed && o.Fail)
	// On a terminal -i shows the status line once (with the headers on
	// stdout), not also on stderr.
	if showStatus && !o.Verbose && !(headersOut && f.IO.IsStdoutTTY()) {
		statusLine(f, resp)
	}
	if headersOut {
		writeHeaders(f.IO.Out, resp)
	}
	n, saved, kept, explained, err := t.writeBody(resp, failed)
	stats.sizeDownload = n
	stats.end = time.Now()
	if err != nil {
		return cleanErr(err)
	}
	if explained != nil {
		f.diagnose(t.rec, rr, resp, explained)
	}
	if o.Download && !o.Silent && saved {
		// httpie's closing line: what was saved where, and how fast.
		d := stats.end.Sub(stats.start)
		rate := ""
		if d > 0 {
			rate = ", " + humanBytes(int64(float64(n)/d.Seconds())) + "/s"
		}
		fmt.Fprintf(f.IO.ErrOut, "%s downloaded %s to %s in %s%s\n", f.IO.ErrStyles().OK.Render("✓"), humanBytes(n), o.Output, d.Round(time.Millisecond), rate)
	}
	if t.trace != nil {
		t.trace("* %d bytes in %s", n, stats.end.Sub(stats.start).Round(time.Millisecond))
	}
	exitCode := ExitOK
	var result error
	if failed {
		exitCode = ExitHTTP
		result = &ExitError{Code: ExitHTTP, Err: fmt.Errorf("HTTP %s", resp.Status)}
	} else if err := t.expect.check(resp.StatusCode, kept); err != nil {
		exitCode = ExitFailure
		result = err
	}
	if o.WriteOut != "" {
		msg := ""
		if result != nil {
			msg = oneLine(result.Error())
		}
		f.writeOut(o.WriteOut, writeOutInput{stats: stats, resp: resp, exitCode: exitCode, errMsg: msg})
	}
	return result
}

// writeBody sends the body where it goes (nowhere, -o FILE, a terminal,
// stdout), decoding a requested encoding and keeping what --explain and
// --expect-jq read. saved reports a completed -o file.
func (t *transfer) writeBody(resp *http.Response, failed bool) (n int64, saved bool, kept, explained []byte, err error) {
	f, o, rr := t.f, t.o, t.rr
	var keep, expl bytes.Buffer
	var body io.Reader = resp.Body
	if rr.header.Get("Accept-Encoding") != "" && rr.method != http.MethodHead {
		// The user asked for an encoding (--compressed, or the header):
		// decode it, as curl --compressed does.
		if body, err = decodeBody(resp.Header.Get("Content-Encoding"), body); err != nil {
			return 0, false, nil, nil, err
		}
	}
	explainIt := t.rec != nil && (resp.StatusCode < 200 || resp.StatusCode > 299)
	if explainIt {
		body = io.TeeReader(body, &limitedBuffer{buf: &expl, max: 64 << 10})
	}
	if t.showProgress && (o.Output != "" || !f.IO.IsStdoutTTY()) {
		p := newProgress(f.IO.ErrOut, "↓ download", resp.ContentLength).forced(o.ProgressBar)
		defer p.done()
		body = &progressReader{r: body, p: p}
	}
	if t.expect.NeedsBody() {
		body = io.TeeReader(body, &limitedBuffer{buf: &keep, max: expectBodyLimit})
	}
	switch {
	case o.Head || rr.method == http.MethodHead:
	case failed && o.Fail, !o.printResponseBody():
		n, err = io.Copy(io.Discard, body)
	case o.Output != "" && o.Output != "-":
		out, cerr := createOutput(o.Output)
		if cerr != nil {
			return 0, false, nil, nil, cerr
		}
		n, err = io.Copy(out, body)
		if err == nil {
			err = out.Commit()
			saved = err == nil
		} else {
			out.Abort()
		}
	case f.IO.IsStdoutTTY() && o.Output != "-":
		n, err = writeTTYBody(f.IO.Out, f.IO.OutStyles(), resp, body)
		var br *binaryRefused
		if errors.As(err, &br) {
			fmt.Fprintf(f.IO.ErrOut, "%s %s\n", f.IO.ErrStyles().Warn.Render("gwcurl: warning:"), br.Error()+"; use -o FILE, or -o - to force")
			err = nil
		}
	default:
		n, err = io.Copy(f.IO.Out, body)
	}
	if explainIt {
		explained = append([]byte{}, expl.Bytes()...) // non-nil: explain even an empty body
	}
	return n, saved, keep.Bytes(), explained, err
}

// writeOut prints a checked -w format.
func (f *Factory) writeOut(format string, in writeOutInput) {
	s, err := expandWriteOut(format, writeOutVars(in))
	if err != nil {
		return // checked before sending
	}
	io.WriteString(f.IO.Out, s) //nolint:errcheck // stdout closed: nothing to say
}

// verboseTrace returns the -v trace writer (nil when not verbose): request
// lines as they are, other lines dimmed and prefixed with "* ".
func (f *Factory) verboseTrace(verbose bool) func(string, ...any) {
	if !verbose {
		return nil
	}
	errSt := f.IO.ErrStyles()
	return func(format string, args ...any) {
		for _, line := range strings.Split(strings.TrimRight(fmt.Sprintf(format, args...), "\n"), "\n") {
			switch {
			case strings.HasPrefix(line, ">"), strings.HasPrefix(line, "<"):
			case strings.HasPrefix(line, "*"):
				line = errSt.Dim.Render(line)
			default: // signer traces: canonical requests, claims, cache hits
				line = errSt.Dim.Render("* " + line)
			}
			fmt.Fprintln(f.IO.ErrOut, line)
		}
	}
}

func kindOrNone(k string) string {
	if k == "" {
		return "none"
	}
	return k
}

func (f *Factory) baseTransport(o *RequestOptions) (http.RoundTripper, error) {
	if f.Transport != nil {
		return f.Transport, nil
	}
	return f.buildTransport(o)
}

// statusLine prints "HTTP 200 OK" on stderr, styled by status class.
func statusLine(f *Factory, resp *http.Response) {
	st := f.IO.ErrStyles()
	style := st.OK
	switch {
	case resp.StatusCode >= 400:
		style = st.Err
	case resp.StatusCode >= 300:
		style = st.Warn
	}
	extra := ""
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		extra = "  " + st.Dim.Render(ct)
	}
	fmt.Fprintf(f.IO.ErrOut, "%s%s\n", style.Render(statusText(resp)), extra)
}

type limitedBuffer struct {
	buf *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.buf.Len(); room > 0 {
		if len(p) > room {
			l.buf.Write(p[:room])
		} else {
			l.buf.Write(p)
		}
	}
	return len(p), nil
}

// expectations are --expect-status and --expect-jq (internal/expect), with
// the CLI's exit codes: a bad expectation is a usage error, a failed one
// exits 1.
type expectations struct{ *expect.Expectations }

func parseExpectations(o *RequestOptions) (*expectations, error) {
	e, err := expect.Parse(o.ExpectStatus, o.ExpectJQ)
	if err != nil {
		return nil, expectUsage(err)
	}
	return &expectations{e}, nil
}

// expectUsage turns an *expect.Error into a usage error with its hint.
func expectUsage(err error) error {
	var ee *expect.Error
	if errors.As(err, &ee) {
		return &UsageError{Err: errors.New(ee.Msg), Hint: ee.Hint}
	}
	return err
}

// check returns an *ExitError{Code: 1} naming the failed expectation.
func (e *expectations) check(status int, body []byte) error {
	if err := e.Check(status, body); err != nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
