package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/spf13/cobra"

	"github.com/gwcurl/gwcurl/internal/redact"
	"github.com/gwcurl/gwcurl/internal/sign"
)

// wsOptions are the ws command's inputs; the request options carry the
// profile, headers, auth flags, -m, -v, TLS and proxy settings.
type wsOptions struct {
	ro           RequestOptions
	send         []string
	count        int
	ping         time.Duration
	subprotocols []string
	presign      bool
	expires      time.Duration
	maxMessage   int64
}

// wsReadLimit is the default largest message gwcurl ws accepts.
const wsReadLimit = 16 << 20

// wsCloseWait bounds the close handshake after Ctrl-C, -m or --count.
const wsCloseWait = 3 * time.Second

func newCmdWS(f *Factory, profile *string) *cobra.Command {
	o := &wsOptions{}
	cmd := &cobra.Command{
		Use:   "ws [flags] URL|PATH",
		Short: "Open a signed WebSocket: stdin lines out, received messages on stdout",
		Long: doc(`
			ws opens a WebSocket whose handshake carries the profile's auth, like
			any request (SigV4 in headers, or in the query with --presign; Google ID
			token, Cloudflare Access, bearer, logins, STS identity). PATH joins the
			profile's base URL; http(s) URLs become ws(s).

			Each received text message is one line on stdout (JSON pretty-printed on
			a terminal, the exact text when piped); binary messages are base64
			lines, or raw bytes appended to FILE with -o. Without --send, stdin lines
			are sent as text messages, and the end of stdin closes the connection
			(unless --count waits for more). --send messages are sent in order after
			connecting; --count N closes after N received messages.

			Exit codes: 22 refused handshake, 4 no credentials, 7 cannot connect,
			28 -m reached, 1 closed abnormally, 130 Ctrl-C (after a normal close).
		`),
		Example: doc(`
			$ gwcurl -p demo-ws ws /chat --send hello --count 2
			$ gwcurl ws --auth sigv4 --presign wss://abc.execute-api.eu-west-1.amazonaws.com/prod
			$ echo '{"action":"ping"}' | gwcurl -p chat ws / --count 1
		`),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.ro.Profile = *profile
			o.ro.Args = args
			err := f.runWS(cmd.Context(), o)
			if err != nil && o.ro.Silent {
				code, _ := classify(cmd.Context(), err)
				return &ExitError{Code: code}
			}
			return err
		},
	}
	fl := cmd.Flags()
	ro := &o.ro
	fl.StringArrayVar(&o.send, "send", nil, "send TEXT as a message after connecting (repeatable, in order); stdin is then not read")
	fl.IntVar(&o.count, "count", 0, "close after N received messages")
	fl.DurationVar(&o.ping, "ping", 0, "send a ping every DURATION to keep an idle connection alive (e.g. 30s)")
	fl.StringArrayVar(&o.subprotocols, "subprotocol", nil, "offer this subprotocol (Sec-WebSocket-Protocol; repeatable)")
	fl.BoolVar(&o.presign, "presign", false, "SigV4 in the query string instead of headers (what browsers send)")
	fl.DurationVar(&o.expires, "presign-expires", 5*time.Minute, "with --presign, how long the handshake URL stays valid")
	fl.Int64Var(&o.maxMessage, "max-message", wsReadLimit, "largest message to accept, in bytes")
	fl.StringArrayVarP(&ro.Headers, "header", "H", nil, `extra handshake header "Name: value" ("Name:" removes it); repeatable`)
	fl.StringVarP(&ro.Output, "output", "o", "", "append binary messages, raw, to FILE (text messages stay on stdout)")
	fl.BoolVarP(&ro.Silent, "silent", "s", false, "silent: no error messages")
	fl.BoolVarP(&ro.Verbose, "verbose", "v", false, "trace the handshake (secrets redacted) and frame counts on stderr")
	fl.Float64VarP(&ro.MaxTime, "max-time", "m", 0, "maximum time in seconds for the whole session (exit 28)")
	fl.Float64Var(&ro.ConnectTO, "connect-timeout", 0, "maximum time in seconds to connect")
	fl.BoolVarP(&ro.Insecure, "insecure", "k", false, "do not verify the server's TLS certificate")
	fl.StringVar(&ro.CACert, "cacert", "", "PEM file of CA certificates to verify the server with")
	fl.StringVarP(&ro.Proxy, "proxy", "x", "", "use this proxy (default: the *_PROXY environment variables)")
	fl.BoolVar(&ro.Explain, "explain", false, "when the handshake is refused, explain the likely cause")
	addAuthFlags(fl, ro)
	fl.SortFlags = false
	return cmd
}

// wsHTTPURL maps ws(s):// to http(s):// for profile resolution and signing;
// other input is left to resolve.
func wsHTTPURL(raw string) string {
	switch {
	case hasPrefixFold(raw, "ws://"):
		return "http://" + raw[len("ws://"):]
	case hasPrefixFold(raw, "wss://"):
		return "https://" + raw[len("wss://"):]
	}
	return raw
}

func hasPrefixFold(s, p string) bool { return len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) }

func (f *Factory) runWS(parent context.Context, o *wsOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	ro := &o.ro
	ro.Args = []string{wsHTTPURL(ro.Args[0])}
	rr, err := f.resolve(parent, ro)
	if err != nil {
		return err
	}
	if err := o.presignAuth(rr); err != nil {
		return err
	}

	// The session context ends the session on -m; parent ends it on Ctrl-C.
	ctx := parent
	if ro.MaxTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(parent, time.Duration(ro.MaxTime*float64(time.Second)))
		defer cancel()
	}
	trace := f.verboseTrace(ro.Verbose)
	hs, err := f.wsHandshake(ctx, o, rr, trace)
	if err != nil {
		return err
	}
	if rr.header.Get("User-Agent") == "" {
		rr.header.Set("User-Agent", userAgent())
	}
	wsURL := "ws" + strings.TrimPrefix(hs.target, "http")
	conn, resp, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{
		HTTPClient:   hs.client,
		HTTPHeader:   rr.header,
		Subprotocols: o.subprotocols,
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return f.wsRefused(hs.rec, rr, resp, ro)
		}
		if parent.Err() != nil {
			return parent.Err()
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return &ExitError{Code: ExitTimeout, Err: fmt.Errorf("operation timed out connecting to %s", rr.url.Host), Hint: "raise -m/--max-time or --connect-timeout"}
		}
		return wsDialErr(err)
	}
	conn.SetReadLimit(o.maxMessage)
	if trace != nil {
		sub := conn.Subprotocol()
		if sub == "" {
			sub = "(none)"
		}
		trace("* WebSocket open to %s, subprotocol %s", redact.URL(rr.url.Host+rr.url.Path), sub)
	}
	s := &wsSession{f: f, o: o, conn: conn, trace: trace}
	return s.run(parent, ctx)
}

// validate checks the ws-only flags before anything is resolved or sent.
func (o *wsOptions) validate() error {
	switch {
	case o.count < 0:
		return usagef("--count takes a number of messages, 1 or more", "--count %d is negative", o.count)
	case o.ping < 0:
		return usagef("--ping takes a duration such as 30s", "--ping %s is negative", o.ping)
	case o.maxMessage <= 0:
		return usagef("--max-message takes a size in bytes", "--max-message %d is not positive", o.maxMessage)
	case o.presign && (o.expires < time.Second || o.expires > 7*24*time.Hour):
		return usagef("SigV4 pre-signed URLs last between 1s and 7 days", "--presign-expires %s is out of range", o.expires)
	}
	return nil
}

// presignAuth makes --presign's auth sigv4: the profile's, or none made
// sigv4; any other kind is refused.
func (o *wsOptions) presignAuth(rr *resolvedRequest) error {
	if !o.presign {
		return nil
	}
	switch rr.auth.Kind {
	case "sigv4":
	case "", "none":
		rr.auth.Kind = "sigv4"
	default:
		return usagef("--presign is SigV4 query authentication; drop it, or use --auth sigv4",
			"--presign needs auth sigv4, and the profile's auth is %s", rr.auth.Kind)
	}
	return nil
}

// wsHandshakeClient is what the WebSocket handshake is sent with.
type wsHandshakeClient struct {
	client *http.Client     // signs (or not, when pre-signed) and traces the handshake
	target string           // the http(s) URL, pre-signed with --presign
	rec    *explainRecorder // nil without --explain
}

// wsHandshake builds the handshake's client: an HTTP/1.1 transport that
// traces and records, the profile's signer (or a pre-signed URL), no
// redirects followed.
func (f *Factory) wsHandshake(ctx context.Context, o *wsOptions, rr *resolvedRequest, trace func(string, ...any)) (*wsHandshakeClient, error) {
	ro := &o.ro
	base, err := f.baseTransport(ro)
	if err != nil {
		return nil, err
	}
	if t, ok := base.(*http.Transport); ok {
		// The WebSocket handshake is HTTP/1.1 (RFC 6455); RFC 8441 over
		// HTTP/2 is not what API Gateway or Cloud Run speak.
		t = t.Clone()
		t.ForceAttemptHTTP2 = false
		t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		base = t
	}
	stats := &transferStats{start: time.Now(), method: http.MethodGet, authKind: kindOrNone(rr.auth.Kind)}
	tt := &traceTransport{base: base, trace: trace, stats: stats, redact: rr.extraRed}
	hs := &wsHandshakeClient{target: rr.url.String()}
	if ro.Explain {
		hs.rec = &explainRecorder{}
		tt.onSent = hs.rec.sent
	}
	if trace != nil && rr.auth.Kind != "" && rr.auth.Kind != "none" {
		prof := "(none)"
		if rr.profile != nil {
			prof = rr.profile.Name
		}
		trace("* profile %s, auth %s%s", prof, rr.auth.Kind, map[bool]string{true: " (pre-signed query)"}[o.presign])
	}
	plain := &http.Client{Transport: base, Timeout: 60 * time.Second}
	deps := f.signDeps(rr, plain, trace)
	if hs.rec != nil {
		deps.OnSigV4 = hs.rec.onSigV4
	}
	var signer sign.Signer
	if o.presign {
		if hs.target, err = sign.PresignSigV4(ctx, rr.auth, deps, http.MethodGet, hs.target, o.expires); err != nil {
			return nil, err
		}
		signer = sign.None
	} else if signer, err = sign.New(ctx, rr.auth, hs.target, deps); err != nil {
		return nil, err
	}
	hs.client = &http.Client{
		Transport:     &sign.Transport{Signer: wsSigner{signer}, Base: tt, AllowedHost: rr.url.Host},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return hs, nil
}

// wsSigner signs the handshake without its WebSocket headers: what is signed
// is the GET of the URL with the profile's and -H headers, as API Gateway
// documents for IAM-authorized $connect, so a proxy that rewrites
// Connection or Sec-WebSocket-* cannot break the signature. It passes the
// response hooks of the wrapped signer through (cookies, one re-login).
type wsSigner struct{ inner sign.Signer }

var wsHeaders = []string{"Connection", "Upgrade", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions", "Sec-Websocket-Protocol"}

func (s wsSigner) Sign(ctx context.Context, req *http.Request) error {
	saved := make(map[string][]string, len(wsHeaders))
	for _, h := range wsHeaders {
		if v, ok := req.Header[h]; ok {
			saved[h] = v
			delete(req.Header, h)
		}
	}
	err := s.inner.Sign(ctx, req)
	for h, v := range saved {
		req.Header[h] = v
	}
	return err
}

func (s wsSigner) Observe(resp *http.Response) {
	if o, ok := s.inner.(sign.ResponseObserver); ok {
		o.Observe(resp)
	}
}

func (s wsSigner) Retry(ctx context.Context, resp *http.Response) bool {
	r, ok := s.inner.(sign.RetryOnResponse)
	return ok && r.Retry(ctx, resp)
}

// wsRefused reports a handshake answered with something else than 101.
func (f *Factory) wsRefused(rec *explainRecorder, rr *resolvedRequest, resp *http.Response, ro *RequestOptions) error {
	var body []byte
	if resp.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	}
	if rec != nil && resp.Request != nil {
		f.diagnose(rec, rr, resp, body)
	}
	msg := "handshake refused: HTTP " + resp.Status
	if reason := refusalReason(body); reason != "" {
		msg += ": " + reason
	}
	if resp.StatusCode < 400 {
		return &ExitError{Code: ExitFailure, Err: errors.New(msg + " (not a WebSocket endpoint?)"), Hint: "the server did not switch protocols; check the URL"}
	}
	hint := "run again with --explain, or -v to see what was signed"
	if ro.Explain {
		hint = ""
	}
	return &ExitError{Code: ExitHTTP, Err: errors.New(msg), Hint: hint}
}

// refusalReason picks the server's reason from a refusal body: the
// "reason" or "message" of a JSON object (the gateway, API Gateway), else
// the first line of text.
func refusalReason(body []byte) string {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return ""
	}
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		for _, k := range []string{"reason", "message", "Message", "error"} {
			if s, ok := m[k].(string); ok && s != "" {
				return truncate(oneLine(s), 300)
			}
		}
		return ""
	}
	if looksBinary(body) {
		return ""
	}
	return truncate(oneLine(string(sanitizeTTY(body))), 300)
}

// wsDialErr turns a failed dial into the request path's messages (and exit
// codes): the url.Error inside carries the cause.
func wsDialErr(err error) error {
	if c := cleanErr(err); c != err {
		return c
	}
	return err
}

// wsSession is one open connection: a reader, a sender, a pinger.
type wsSession struct {
	f     *Factory
	o     *wsOptions
	conn  *websocket.Conn
	trace func(string, ...any)

	sent, recv           atomic.Int64
	sentBytes, recvBytes atomic.Int64
	outMu                sync.Mutex
}

// errCountReached ends the session after --count messages.
var errCountReached = errors.New("count reached")

// errStdinDone ends the session when stdin is done and no --count waits.
var errStdinDone = errors.New("stdin ended")

func (s *wsSession) run(parent, ctx context.Context) error {
	f := s.f
	// Reads and writes use their own context: cancelling the one passed to
	// Read makes coder/websocket drop the connection without a close frame,
	// and Ctrl-C and -m must close normally.
	ioCtx, stopIO := context.WithCancel(context.Background())
	defer stopIO()

	var binOut io.Writer
	if s.o.ro.Output != "" && s.o.ro.Output != "-" {
		a, err := createOutput(s.o.ro.Output)
		if err != nil {
			s.conn.CloseNow() //nolint:errcheck // already failing
			return err
		}
		defer func() {
			if err := a.Commit(); err != nil {
				fmt.Fprintf(f.IO.ErrOut, "gwcurl: error: %s\n", err)
			}
		}()
		binOut = a
	}

	done := make(chan error, 3)
	go func() { done <- s.readLoop(ioCtx, binOut) }()
	go func() { done <- s.sendLoop(ioCtx) }()
	if s.o.ping > 0 {
		go s.pingLoop(ioCtx)
	}

	var result error
	for result == nil {
		select {
		case err := <-done:
			if err == nil {
				continue // the sender finished; keep reading
			}
			result = err
		case <-parent.Done():
			result = parent.Err()
		case <-ctx.Done():
			result = ctx.Err()
		}
	}
	var ce websocket.CloseError
	peerClosed := errors.As(result, &ce)
	if !peerClosed {
		// Our side ends the session: a normal close, bounded.
		closed := make(chan struct{})
		go func() {
			_ = s.conn.Close(websocket.StatusNormalClosure, "")
			close(closed)
		}()
		select {
		case <-closed:
		case <-time.After(wsCloseWait):
			s.conn.CloseNow() //nolint:errcheck // giving up on the handshake
		}
	}
	stopIO()
	if s.trace != nil {
		s.trace("* %d messages sent (%d bytes), %d received (%d bytes)", s.sent.Load(), s.sentBytes.Load(), s.recv.Load(), s.recvBytes.Load())
	}
	switch {
	case errors.Is(result, errCountReached), errors.Is(result, errStdinDone):
		return nil
	case parent.Err() != nil:
		return &ExitError{Code: ExitInterrupted, Err: errors.New("interrupted: connection closed normally")}
	case errors.Is(result, context.DeadlineExceeded):
		return &ExitError{Code: ExitTimeout, Err: fmt.Errorf("-m/--max-time reached after %d messages received: connection closed", s.recv.Load()), Hint: "raise -m/--max-time, or use --count N"}
	case peerClosed:
		if ce.Code == websocket.StatusNormalClosure || ce.Code == websocket.StatusGoingAway {
			if s.trace != nil {
				s.trace("* closed by the server: %d %s", int(ce.Code), ce.Reason)
			}
			return nil
		}
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("connection closed by the server: %d %s%s", int(ce.Code), closeName(ce.Code), reasonSuffix(ce.Reason))}
	}
	if c := websocket.CloseStatus(result); c == -1 {
		if code, _ := classify(ctx, result); code == ExitTimeout {
			return &ExitError{Code: ExitTimeout, Err: errors.New("connection timed out")}
		}
	}
	return &ExitError{Code: ExitFailure, Err: fmt.Errorf("connection closed abnormally (1006, no close frame): %s", oneLine(redact.URL(result.Error())))}
}

func closeName(c websocket.StatusCode) string {
	s := c.String()
	if strings.HasPrefix(s, "StatusCode(") {
		return ""
	}
	return "(" + strings.TrimPrefix(s, "Status") + ")"
}

func reasonSuffix(r string) string {
	if r == "" {
		return ""
	}
	return ": " + r
}

func (s *wsSession) readLoop(ctx context.Context, binOut io.Writer) error {
	f := s.f
	tty := f.IO.IsStdoutTTY()
	for {
		typ, data, err := s.conn.Read(ctx)
		if err != nil {
			return err
		}
		s.recv.Add(1)
		s.recvBytes.Add(int64(len(data)))
		s.outMu.Lock()
		switch {
		case typ == websocket.MessageBinary && binOut != nil:
			_, err = binOut.Write(data)
		case typ == websocket.MessageBinary:
			_, err = fmt.Fprintln(f.IO.Out, base64.StdEncoding.EncodeToString(data))
		case tty && json.Valid(data) && len(bytes.TrimSpace(data)) > 0 && (bytes.TrimSpace(data)[0] == '{' || bytes.TrimSpace(data)[0] == '['):
			var b bytes.Buffer
			colorJSON(&b, data, f.IO.OutStyles())
			b.WriteByte('\n')
			_, err = f.IO.Out.Write(b.Bytes())
		case tty:
			_, err = fmt.Fprintf(f.IO.Out, "%s\n", sanitizeTTY(data))
		default:
			_, err = fmt.Fprintf(f.IO.Out, "%s\n", data)
		}
		s.outMu.Unlock()
		if err != nil {
			return err
		}
		if s.o.count > 0 && s.recv.Load() >= int64(s.o.count) {
			return errCountReached
		}
	}
}

// sendLoop sends --send messages, or stdin lines. It returns nil when there
// is nothing more to send but the session goes on.
func (s *wsSession) sendLoop(ctx context.Context) error {
	write := func(msg string) error {
		if err := s.conn.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			return err
		}
		s.sent.Add(1)
		s.sentBytes.Add(int64(len(msg)))
		return nil
	}
	if len(s.o.send) > 0 {
		for _, m := range s.o.send {
			if err := write(m); err != nil {
				return err
			}
		}
		return nil
	}
	in := s.f.IO.In
	if in == nil {
		return s.stdinDone()
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), int(s.o.maxMessage))
	for sc.Scan() {
		if err := write(strings.TrimSuffix(sc.Text(), "\r")); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading stdin: %w", err)
	}
	return s.stdinDone()
}

func (s *wsSession) stdinDone() error {
	if s.o.count > 0 {
		return nil // wait for the messages --count asks for
	}
	return errStdinDone
}

func (s *wsSession) pingLoop(ctx context.Context) {
	t := time.NewTicker(s.o.ping)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, s.o.ping)
			err := s.conn.Ping(pctx)
			cancel()
			if err != nil {
				return
			}
			if s.trace != nil {
				s.trace("* ping answered")
			}
		}
	}
}
