// Package sign turns a profile's auth block into an [http.RoundTripper] that
// authenticates every outgoing attempt.
//
// # Contract
//
// A [Signer] mutates a request it owns (the [Transport] clones first). Sign is
// called once per attempt, so retries and redirects are re-signed with a fresh
// time. The Transport never sends credentials to a host other than the one the
// signer was built for (see [Transport.AllowedHost]).
package sign

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// A Signer authenticates an outgoing request in place. Sign is called once
// per attempt (including retries and redirects) on a request the caller owns,
// so it may mutate headers and the URL. Sign must be safe for concurrent use.
type Signer interface {
	Sign(ctx context.Context, req *http.Request) error
}

// SignerFunc adapts a function to the Signer interface.
type SignerFunc func(ctx context.Context, req *http.Request) error

// Sign calls f(ctx, req).
func (f SignerFunc) Sign(ctx context.Context, req *http.Request) error { return f(ctx, req) }

// None is the Signer for auth kind "none": it leaves requests alone.
var None Signer = SignerFunc(func(context.Context, *http.Request) error { return nil })

// CredentialError reports that credentials are missing, invalid or expired,
// or that a login is required. The CLI maps it to exit code 4.
type CredentialError struct {
	Kind string // auth kind, e.g. "sigv4"
	Err  error
	Hint string // one line telling the user what to do, e.g. "run `gwcurl login -p dev`"
}

func (e *CredentialError) Error() string {
	if e.Kind == "" {
		return e.Err.Error()
	}
	return e.Kind + ": " + e.Err.Error()
}

func (e *CredentialError) Unwrap() error { return e.Err }

// Credentialf builds a CredentialError.
func Credentialf(kind, hint, format string, args ...any) error {
	return &CredentialError{Kind: kind, Err: fmt.Errorf(format, args...), Hint: hint}
}

// IsCredentialError reports whether err is (or wraps) a CredentialError.
func IsCredentialError(err error) bool {
	var ce *CredentialError
	return errors.As(err, &ce)
}

// Transport is an http.RoundTripper that signs each request with Signer and
// then delegates to Base. If Base is nil, http.DefaultTransport is used.
//
// Credentials are attached only to requests whose host equals AllowedHost
// (when set): a redirect to another host goes out unsigned, as gh and curl do.
type Transport struct {
	Signer      Signer
	Base        http.RoundTripper
	AllowedHost string // host[:port] the credentials belong to; "" allows any
}

// Interface guard.
var _ http.RoundTripper = (*Transport)(nil)

// ResponseObserver is implemented by Signers that learn from responses, such
// as the cf-access Signer, which keeps the CF_Authorization cookie Access
// returns and forgets a cached token the server refused. The [Transport]
// calls Observe with every response to a request the Signer signed
// (resp.Request is the signed request), before asking [RetryOnResponse]. It
// must not read or close resp.Body, and must be safe for concurrent use.
type ResponseObserver interface {
	Observe(resp *http.Response)
}

// RetryOnResponse is implemented by Signers that can recover from a refusal
// once, for example a login token that the server says has expired: Retry
// refreshes the credential and reports whether the request should be signed
// and sent again. The Transport retries at most once per request, and only
// when the body can be re-read.
type RetryOnResponse interface {
	Retry(ctx context.Context, resp *http.Response) bool
}

// RoundTrip signs a clone of req and sends it.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if t.Signer == nil || (t.AllowedHost != "" && !strings.EqualFold(req.URL.Host, t.AllowedHost)) {
		return base.RoundTrip(req)
	}
	resp, err := t.signAndSend(base, req, req.Body)
	if err != nil {
		return nil, err
	}
	rr, ok := t.Signer.(RetryOnResponse)
	rewindable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	if !ok || !rewindable || !rr.Retry(req.Context(), resp) {
		return resp, nil
	}
	body, err := RewindBody(req)
	if err != nil {
		return resp, nil // keep the first answer
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) //nolint:errcheck // draining for connection reuse
	resp.Body.Close()
	return t.signAndSend(base, req, body)
}

func (t *Transport) signAndSend(base http.RoundTripper, req *http.Request, body io.ReadCloser) (*http.Response, error) {
	r2 := req.Clone(req.Context())
	r2.Body = body
	if err := t.Signer.Sign(req.Context(), r2); err != nil {
		if body != nil {
			body.Close()
		}
		return nil, err
	}
	resp, err := base.RoundTrip(r2)
	if obs, ok := t.Signer.(ResponseObserver); ok && err == nil && resp != nil {
		if resp.Request == nil {
			resp.Request = r2
		}
		obs.Observe(resp)
	}
	return resp, err
}

// RewindBody returns a fresh copy of req's body via GetBody, for signers that
// must read the body (to hash it) and then leave it in place for sending.
func RewindBody(req *http.Request) (io.ReadCloser, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return http.NoBody, nil
	}
	if req.GetBody == nil {
		return nil, errors.New("request body cannot be re-read (no GetBody)")
	}
	return req.GetBody()
}

// Clock returns now, or time.Now when now is nil.
func Clock(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}
