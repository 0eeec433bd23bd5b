package sign

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gwcurl/gwcurl/internal/profiles"
)

// Deps is what a Signer may use from the outside world. Everything is
// injected so signers are testable without globals.
type Deps struct {
	Profile     string                           // profile name ("" for an ad-hoc request)
	HTTPClient  *http.Client                     // for token endpoints, STS, metadata; never nil
	Now         func() time.Time                 // never nil
	Getenv      func(string) string              // never nil
	Secrets     *profiles.Resolver               // resolves secret references
	CacheDir    string                           // token cache directory ($XDG_CACHE_HOME/gwcurl)
	Trace       func(format string, args ...any) // -v trace to stderr; nil when not verbose. Never pass secrets.
	Stderr      io.Writer                        // conversation (progress); never nil
	Interactive bool                             // a person is at a terminal; false in CI
	// OnSigV4, when set, receives what a SigV4 signature covered (for
	// --explain, which diffs it against the server's canonical request).
	OnSigV4 func(SigV4Info)
	// ClockSkew, when set, turns on automatic clock-skew correction for
	// SigV4: the offset measured from a refused request, shared by every
	// signer built with it (one per process). nil: --no-skew-correction.
	ClockSkew *ClockSkew
	// Warn, when set, prints one warning line (the CLI styles it); else
	// warnings go to Stderr as "gwcurl: warning: ...".
	Warn func(msg string)

	// googleJSON is a Google credentials file's content, used instead of
	// a file (NewOrigin's OriginAuth.CredentialsJSON).
	googleJSON []byte
}

// warner is Warn, or a plain line on Stderr.
func (d Deps) warner() func(string) {
	if d.Warn != nil {
		return d.Warn
	}
	w := d.Stderr
	if w == nil {
		return nil
	}
	return func(msg string) { fmt.Fprintf(w, "gwcurl: warning: %s\n", msg) }
}

// SigV4Info is what one SigV4 signature covered. It holds no secret.
type SigV4Info struct {
	CanonicalRequest, StringToSign string
	Region, Service                string
	Time                           time.Time
}

// Tracef calls d.Trace when verbose tracing is on.
func (d Deps) Tracef(format string, args ...any) {
	if d.Trace != nil {
		d.Trace(format, args...)
	}
}

// New builds the Signer for an auth block. The target URL is the request's
// URL (used to infer region/service or the default audience).
func New(ctx context.Context, a profiles.Auth, target string, d Deps) (Signer, error) {
	switch a.Kind {
	case "", "none":
		return None, nil
	case "bearer":
		return newBearer(ctx, a, d)
	case "cf-access":
		return newCFAccess(ctx, a, target, d)
	case "sigv4":
		return newSigV4(ctx, a, target, d)
	case "google":
		return newGoogle(ctx, a, target, d)
	case "sts-identity":
		return newSTSIdentitySigner(ctx, a, target, d)
	case "cognito", "magic-link":
		return newLogin(ctx, a, target, d)
	default:
		return nil, fmt.Errorf("unknown auth kind %q", a.Kind)
	}
}
