package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"

	"github.com/gwcurl/gwcurl/internal/profiles"
	"github.com/gwcurl/gwcurl/internal/redact"
	"github.com/gwcurl/gwcurl/internal/sign"
)

// Exit codes, documented in `gwcurl help exit-codes` and docs/exit-codes.md.
// They follow curl where curl has one, so scripts ported from curl keep
// working.
const (
	ExitOK          = 0
	ExitFailure     = 1
	ExitUsage       = 2
	ExitCredentials = 4
	ExitURL         = 3 // malformed URL
	ExitResolve     = 6
	ExitConnect     = 7
	ExitHTTP        = 22
	ExitWrite       = 23 // cannot write the output (-o, stdout)
	ExitTimeout     = 28
	ExitTLS         = 35 // TLS handshake failed
	ExitBadEncoding = 61 // the answer's Content-Encoding cannot be decoded
	ExitRedirects   = 47 // too many redirects
	ExitEmptyReply  = 52 // the server closed without answering
	ExitSend        = 55 // failure sending data
	ExitRecv        = 56 // failure receiving data (connection reset)
	ExitCertificate = 60 // the server's certificate is not trusted
	ExitCAFile      = 77 // the --cacert file cannot be read
	ExitInterrupted = 130
)

// errTooManyRedirects ends a redirect chain longer than --max-redirs.
var errTooManyRedirects = errors.New("too many redirects")

// errTLSHandshake marks a handshake that failed for another reason than
// the certificate (net/http reports some as plain strings).
var errTLSHandshake = errors.New("TLS handshake failed")

// UsageError is bad input on the command line: exit 2, with a hint.
type UsageError struct {
	Err  error
	Hint string
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usagef(hint, format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...), Hint: hint}
}

// ExitError carries an exit code and an optional message already decided by
// a command (for example HTTP errors with -f, failed expectations).
type ExitError struct {
	Code int
	Err  error // nil means the command already said everything
	Hint string
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Code)
	}
	return e.Err.Error()
}
func (e *ExitError) Unwrap() error { return e.Err }

// HintedError is a plain failure (exit 1) with a hint line.
type HintedError struct {
	Err  error
	Hint string
}

func (e *HintedError) Error() string { return e.Err.Error() }
func (e *HintedError) Unwrap() error { return e.Err }

// classify maps an error to an exit code and a hint. It is the one place
// that decides exit codes.
func classify(ctx context.Context, err error) (code int, hint string) {
	var (
		ue  *UsageError
		ee  *ExitError
		ce  *sign.CredentialError
		he  *HintedError
		cfg *profiles.ConfigError
		nf  *profiles.NotFoundError
		dns *net.DNSError
	)
	switch {
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) && !errors.As(err, &ue):
		// Ctrl-C wins over whatever the interrupted step made of it (a
		// refresh cut short is not "not logged in").
		return ExitInterrupted, ""
	case errors.As(err, &ee):
		return ee.Code, ee.Hint
	case errors.As(err, &ue):
		return ExitUsage, ue.Hint
	case errors.As(err, &nf):
		h := "list profiles with `gwcurl profiles list`"
		if len(nf.Available) > 0 {
			h = fmt.Sprintf("known profiles: %v; add one with `gwcurl profiles add %s`", nf.Available, nf.Name)
			if sg := suggest(nf.Name, nf.Available); sg != "" {
				h = strings.TrimPrefix(sg, "; ") + " " + h
			}
		}
		return ExitUsage, h
	case errors.As(err, &cfg):
		return ExitUsage, "fix the config file, or point GWCURL_CONFIG at another one"
	case errors.As(err, &ce):
		return ExitCredentials, ce.Hint
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return ExitTimeout, "raise -m/--max-time or --connect-timeout"
	case errors.As(err, &dns):
		return ExitResolve, "check the host name (and your DNS or proxy settings)"
	case errors.Is(err, errTooManyRedirects):
		return ExitRedirects, "raise --max-redirs, or look for a redirect loop with -v"
	}
	var (
		oe  *net.OpError
		cve *tls.CertificateVerificationError
		uae x509.UnknownAuthorityError
		hne x509.HostnameError
		cie x509.CertificateInvalidError
		rhe tls.RecordHeaderError
		ae  tls.AlertError
	)
	dial := errors.As(err, &oe) && oe.Op == "dial"
	switch {
	case errors.As(err, &cve), errors.As(err, &uae), errors.As(err, &hne), errors.As(err, &cie):
		return ExitCertificate, "the server's certificate is not trusted here: pass --cacert FILE with its CA, or -k to skip verification"
	case errors.As(err, &rhe), errors.As(err, &ae), errors.Is(err, errTLSHandshake):
		return ExitTLS, "the TLS handshake failed: is it an https port? (-v shows the details)"
	case dial || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return ExitConnect, "is the server running and listening on that port?"
	case errors.Is(err, syscall.EPIPE):
		return ExitSend, "the server closed the connection while the request was sent"
	case errors.Is(err, syscall.ECONNRESET):
		return ExitRecv, "the connection was reset; a proxy or the server dropped it"
	case errors.Is(err, io.EOF):
		return ExitEmptyReply, "is it the right port and protocol? -v shows what was sent"
	case errors.As(err, &he):
		return ExitFailure, he.Hint
	}
	return ExitFailure, ""
}

func isTimeout(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// cleanErr strips Go's url.Error wrapping ("Get \"http://...\": ") so the
// message is about what went wrong, not how it was called.
func cleanErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		inner := ue.Err
		var ce *sign.CredentialError
		if errors.As(inner, &ce) {
			return inner // the signer's own message says what is wrong
		}
		var oe *net.OpError
		if errors.As(inner, &oe) && oe.Err != nil {
			var dns *net.DNSError
			switch {
			case errors.As(inner, &dns):
				return &msgErr{fmt.Sprintf("could not resolve host %s", dns.Name), inner}
			case errors.Is(inner, syscall.ECONNREFUSED):
				return &msgErr{fmt.Sprintf("could not connect to %s: connection refused", hostOf(ue.URL)), inner}
			}
		}
		var cve *tls.CertificateVerificationError
		if errors.As(inner, &cve) {
			why := cve.Err.Error()
			for _, p := range []string{"tls: failed to verify certificate: ", "x509: "} {
				why = strings.TrimPrefix(why, p)
			}
			return &msgErr{fmt.Sprintf("the certificate of %s is not trusted: %s", hostOf(ue.URL), why), inner}
		}
		var rhe tls.RecordHeaderError
		if errors.As(inner, &rhe) || strings.Contains(inner.Error(), "server gave HTTP response to HTTPS client") {
			return &msgErr{fmt.Sprintf("TLS handshake with %s failed: the server answered in plain HTTP (an http port?)", hostOf(ue.URL)), errTLSHandshake}
		}
		if isTimeout(inner) || errors.Is(inner, context.DeadlineExceeded) {
			return &msgErr{fmt.Sprintf("operation timed out (%s %s)", ue.Op, redact.URL(ue.URL)), inner}
		}
		host := hostOf(ue.URL)
		switch {
		case errors.Is(inner, errTooManyRedirects):
			return &msgErr{oneLine(inner.Error()), inner}
		case errors.Is(inner, io.EOF):
			return &msgErr{fmt.Sprintf("%s closed the connection without answering", host), inner}
		case errors.Is(inner, syscall.ECONNRESET):
			return &msgErr{fmt.Sprintf("the connection to %s was reset", host), inner}
		case errors.Is(inner, syscall.EPIPE):
			return &msgErr{fmt.Sprintf("%s closed the connection while the request was sent", host), inner}
		}
		// Otherwise the cause, without Go's `Get "URL":` prefix; -v and
		// GWCURL_DEBUG show the whole chain.
		return &msgErr{fmt.Sprintf("%s (%s)", oneLine(innermost(inner).Error()), host), inner}
	}
	return err
}

// innermost is the last error of a wrap chain that still says something
// (net.OpError's cause, not its "read tcp a->b:" framing).
func innermost(err error) error {
	for {
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Err != nil {
			err = oe.Err
			continue
		}
		return err
	}
}

// msgErr keeps an error in the chain (for classify) under a better message.
type msgErr struct {
	msg string
	err error
}

func (e *msgErr) Error() string { return e.msg }
func (e *msgErr) Unwrap() error { return e.err }

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host
	}
	return raw
}
