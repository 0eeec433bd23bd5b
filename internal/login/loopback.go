package login

import (
	"bufio"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gwcurl/gwcurl/internal/redact"
)

// loopback is the one-shot redirect listener of a browser login (RFC 8252
// §7.3, RFC 7636, docs/auth/cognito.md). It listens on 127.0.0.1 only, on a random
// port or the profile's redirect_port, and accepts exactly one callback:
// the first request to the exact path whose state matches. A request with
// another state (a web page trying to log the CLI into an attacker's
// account) is refused and does not end the wait. Once a callback is taken
// the server answers its page and closes; nothing else is ever served.
type loopback struct {
	ln          net.Listener
	srv         *http.Server
	hostPort    string // "127.0.0.1:PORT", the only Host accepted
	redirectURI string
	state       string
	wantIss     string // RFC 9207 iss to check when the provider sends one
	stderr      io.Writer

	once    sync.Once
	results chan callbackResult // buffered 1, written once
}

type callbackResult struct {
	code string
	err  error
}

// listenLoopback binds 127.0.0.1:port (0: a random port).
func listenLoopback(port int, state string, stderr io.Writer) (*loopback, error) {
	ln, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		if port != 0 {
			return nil, fmt.Errorf("cannot listen on 127.0.0.1:%d for the login callback (auth.redirect_port): %v; is another login running?", port, err)
		}
		return nil, fmt.Errorf("cannot listen on 127.0.0.1 for the login callback: %v", err)
	}
	hp := ln.Addr().String()
	l := &loopback{
		ln:          ln,
		hostPort:    hp,
		redirectURI: "http://" + hp + CallbackPath,
		state:       state,
		stderr:      stderr,
		results:     make(chan callbackResult, 1),
	}
	l.srv = &http.Server{
		Handler:           http.HandlerFunc(l.serve),
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(io.Discard, "", 0), // never write to the process's stderr behind our back
	}
	l.srv.SetKeepAlivesEnabled(false)
	go func() { _ = l.srv.Serve(ln) }()
	return l, nil
}

// serve handles a request to the listener.
func (l *loopback) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	// A DNS-rebinding page reaches 127.0.0.1 under its own host name.
	if r.Host != l.hostPort && r.Host != "localhost:"+l.port() {
		writeResultPage(w, http.StatusBadRequest, false, "This address only answers http://"+l.hostPort+".")
		return
	}
	if r.URL.Path != CallbackPath {
		writeResultPage(w, http.StatusNotFound, false, "Nothing here: the login callback is "+CallbackPath+".")
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		writeResultPage(w, http.StatusMethodNotAllowed, false, "The login callback takes a GET.")
		return
	}
	res, ok := l.check(r.URL.Query())
	if !ok {
		fmt.Fprintln(l.stderr, "Ignored a request to the login callback that does not belong to this login (wrong state).")
		writeResultPage(w, http.StatusBadRequest, false, "This callback does not belong to the login that is waiting (state mismatch). It was ignored.")
		return
	}
	if !l.deliver(res) {
		writeResultPage(w, http.StatusGone, false, "This login is already finished.")
		return
	}
	if res.err != nil {
		writeResultPage(w, http.StatusBadRequest, false, "Login failed: "+res.err.Error()+". Return to the terminal.")
	} else {
		writeResultPage(w, http.StatusOK, true, "You are logged in. You can close this tab and return to the terminal.")
	}
}

func (l *loopback) port() string {
	_, p, _ := net.SplitHostPort(l.hostPort)
	return p
}

// check reads a callback's query. ok is false when the state is not this
// login's (the request is ignored); otherwise res is the code or the error
// the provider sent.
func (l *loopback) check(q url.Values) (res callbackResult, ok bool) {
	st := q.Get("state")
	if len(q["state"]) != 1 || subtle.ConstantTimeCompare([]byte(st), []byte(l.state)) != 1 {
		return callbackResult{}, false
	}
	if e := q.Get("error"); e != "" {
		msg := "the provider refused the login: " + clean(e)
		if d := q.Get("error_description"); d != "" {
			msg += " (" + clean(d) + ")"
		}
		return callbackResult{err: errors.New(msg)}, true
	}
	if iss := q.Get("iss"); iss != "" && l.wantIss != "" && iss != l.wantIss {
		return callbackResult{err: fmt.Errorf("the authorization response comes from issuer %s, not %s (mix-up); log in again", clean(iss), l.wantIss)}, true
	}
	code := q.Get("code")
	if code == "" || len(q["code"]) != 1 {
		return callbackResult{err: errors.New("the callback carries no authorization code")}, true
	}
	return callbackResult{code: code}, true
}

// deliver records the callback's result; only the first one counts.
func (l *loopback) deliver(res callbackResult) bool {
	taken := false
	l.once.Do(func() {
		l.results <- res
		taken = true
	})
	return taken
}

// wait returns the callback's code, a pasted one (lines from paste, each
// turned into a callback URL by toCallback), or ctx's error.
func (l *loopback) wait(ctx context.Context, paste <-chan string, toCallback func(context.Context, string) (*url.URL, error)) (string, error) {
	for {
		select {
		case res := <-l.results:
			return res.code, res.err
		case line, ok := <-paste:
			if !ok {
				paste = nil
				continue
			}
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			u, err := toCallback(ctx, line)
			if err != nil {
				fmt.Fprintf(l.stderr, "That is not usable: %v. Paste the link again, or finish in the browser.\n", err)
				continue
			}
			if u.Host != l.hostPort || u.Path != CallbackPath {
				fmt.Fprintf(l.stderr, "That address is not this login's callback (%s); paste the one starting with %s.\n", u.Scheme+"://"+u.Host+u.Path, l.redirectURI)
				continue
			}
			res, ok := l.check(u.Query())
			if !ok {
				fmt.Fprintln(l.stderr, "That address belongs to another login (state mismatch); ignored.")
				continue
			}
			if l.deliver(res) {
				return res.code, res.err
			}
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// close stops the listener. Shutdown waits for a callback page being
// written, so the browser gets its answer.
func (l *loopback) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = l.srv.Shutdown(ctx)
}

// readLines sends r's lines until EOF or until ctx is done; callers cancel
// ctx when the login ends, so a line typed after it (that nobody will
// receive) does not leave the goroutine blocked forever. A read already
// waiting on r ends with r: the CLI passes the terminal, which closes when
// the process exits.
func readLines(ctx context.Context, r io.Reader) <-chan string {
	if r == nil {
		return nil
	}
	ch := make(chan string)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 4096), 64<<10)
		for ctx.Err() == nil && sc.Scan() {
			select {
			case ch <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

// parseCallbackURL is the paste handler of the OIDC login: the pasted text
// must be the loopback URL the browser was sent to.
func parseCallbackURL(_ context.Context, s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, errors.New("not an http://127.0.0.1:… address")
	}
	return u, nil
}

// clean keeps a provider-supplied string printable and short.
func clean(s string) string { return redact.Printable(s) }
