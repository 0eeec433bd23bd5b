package login

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gwcurl/gwcurl/internal/hostcheck"
	"github.com/gwcurl/gwcurl/internal/profiles"
)

// Browser logins of the `cognito` and `magic-link` auth kinds
// (docs/auth/cognito.md, docs/auth/magic-link.md):
//
//   - cognito: OpenID Connect authorization code + PKCE S256 + state (+nonce)
//     against a Cognito managed-login (Hosted UI) domain or any OIDC issuer,
//     with the redirect to a one-shot loopback listener on 127.0.0.1. The ID
//     token is verified on receipt (signature by the issuer's JWKS, iss, aud,
//     nonce, at_hash).
//   - magic-link: the address is POSTed to the service's start endpoint with
//     a loopback redirect_uri and a PKCE challenge; the e-mailed link sends the
//     browser to the listener with a code, exchanged with the verifier.
//
// Tokens (id, access, refresh) live in the secret store under the profile
// (key [StoreKey]); [Token] serves them and refreshes them with the refresh
// token grant; [Logout] deletes and revokes them. A request never starts a
// browser login: without a usable token it fails with *LoginRequiredError.

// Options configures [Login], [Logout], [Token] and [Refresh].
type Options struct {
	Profile     string
	Auth        profiles.Auth          // kind cognito or magic-link
	HTTPClient  *http.Client           // nil: a client with no timeout of its own
	Now         func() time.Time       // nil: time.Now
	Browser     func(url string) error // nil or NoBrowser: only print the URL
	NoBrowser   bool
	Timeout     time.Duration // default 2m
	Stderr      io.Writer     // URL, progress; nil discards
	Stdin       io.Reader     // pasted link or callback URL for --no-browser on a terminal
	Interactive bool          // a person at a terminal (false in CI)
	Store       profiles.SecretStore
	Email       string // magic-link --email override

	// Resolver resolves auth.client_secret (a secret reference). nil means a
	// resolver over Store only (keyring: references).
	Resolver *profiles.Resolver
}

// Defaults.
const (
	// DefaultTimeout bounds a login (docs/auth/cognito.md: --timeout, default 2m).
	DefaultTimeout = 2 * time.Minute
	// StoreKey is the secret-store key of a profile's login tokens.
	StoreKey = "login-tokens"
	// CallbackPath is the loopback listener's path: the redirect URI is
	// http://127.0.0.1:PORT/callback.
	CallbackPath = "/callback"
	// earlyExpiry: a token is refreshed this long before it expires.
	earlyExpiry = profiles.EarlyExpiry
	maxBody     = 1 << 20
)

// ErrLoginRequired is wrapped by every *LoginRequiredError.
var ErrLoginRequired = errors.New("login required")

// LoginRequiredError says that a profile has no usable login: none yet,
// expired, revoked, or made for other settings. Requests fail with it at
// once (exit 4); they never wait for a browser.
type LoginRequiredError struct {
	Profile string
	Reason  string // e.g. "no login yet", "the session was revoked"
	// Store is the secret store's error when the tokens could not be read
	// (a keyring forced with GWCURL_SECRET_STORE=keyring that does not
	// answer); nil otherwise.
	Store error
}

func (e *LoginRequiredError) Error() string {
	if e.Profile == "" {
		return e.Reason
	}
	return "profile " + e.Profile + ": " + e.Reason
}

func (e *LoginRequiredError) Unwrap() error { return ErrLoginRequired }

// Hint tells the person what to do.
func (e *LoginRequiredError) Hint() string {
	if e.Profile == "" {
		return "use a profile and run `gwcurl login -p NAME`"
	}
	var su *profiles.StoreUnavailableError
	if errors.As(e.Store, &su) {
		return "no OS keyring answers here: unset GWCURL_SECRET_STORE (or set it to file) and run `gwcurl login -p " + e.Profile + "`"
	}
	return "run `gwcurl login -p " + e.Profile + "`"
}

func (o *Options) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

func (o *Options) client() *http.Client {
	if o.HTTPClient == nil {
		return &http.Client{}
	}
	return o.HTTPClient
}

func (o *Options) stderr() io.Writer {
	if o.Stderr == nil {
		return io.Discard
	}
	return o.Stderr
}

func (o *Options) timeout() time.Duration {
	if o.Timeout <= 0 {
		return DefaultTimeout
	}
	return o.Timeout
}

func (o *Options) loginRequired(reason string) error {
	return &LoginRequiredError{Profile: o.Profile, Reason: reason}
}

// Validate checks a cognito or magic-link auth block: the fields the kind
// needs, and URLs that are https (plain http only to a loopback address,
// such as the local mock gateway).
func Validate(a profiles.Auth) error {
	switch a.Kind {
	case "cognito":
		if a.Issuer == "" && a.Domain == "" {
			return errors.New("cognito: set auth.issuer (an OIDC issuer URL) or auth.domain (a Cognito hosted UI domain)")
		}
		if a.Issuer != "" {
			if err := checkURL("auth.issuer", a.Issuer); err != nil {
				return err
			}
		}
		if a.Domain != "" {
			if err := checkURL("auth.domain", domainURL(a.Domain)); err != nil {
				return err
			}
		}
		if a.ClientID == "" {
			return errors.New("cognito: auth.client_id is required (the app client id)")
		}
		switch a.UseToken {
		case "", "id", "access":
		default:
			return fmt.Errorf("cognito: auth.use_token %q: want id or access", a.UseToken)
		}
	case "magic-link":
		if a.StartURL == "" || a.TokenURL == "" {
			return errors.New("magic-link: auth.start_url and auth.token_url are required")
		}
		if err := checkURL("auth.start_url", a.StartURL); err != nil {
			return err
		}
		if err := checkURL("auth.token_url", a.TokenURL); err != nil {
			return err
		}
		switch a.UseToken {
		case "", "id", "access":
		default:
			return fmt.Errorf("magic-link: auth.use_token %q: want id or access", a.UseToken)
		}
	default:
		return fmt.Errorf("auth kind %q has no browser login (cognito and magic-link do)", a.Kind)
	}
	if a.RedirectPort < 0 || a.RedirectPort > 65535 {
		return fmt.Errorf("%s: auth.redirect_port %d: want a TCP port (1-65535), or 0 for a random one", a.Kind, a.RedirectPort)
	}
	if a.ClientSecret != "" && !profiles.IsRef(a.ClientSecret) {
		return fmt.Errorf("%s: auth.client_secret must be a secret reference (env:NAME, cmd:COMMAND, file:PATH, keyring:KEY), not the secret", a.Kind)
	}
	return nil
}

// checkURL accepts https, or http to a loopback host (credentials and codes
// must not cross a network in clear).
func checkURL(field, s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("%s %q: want an https URL", field, s)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if hostcheck.Loopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%s %q: plain http is allowed only to a loopback address; use https", field, s)
	}
	return fmt.Errorf("%s %q: want an https URL", field, s)
}

// domainURL turns a Cognito domain ("myapp.auth.us-east-1.amazoncognito.com",
// "auth.example.com" or a full URL) into its base URL.
func domainURL(d string) string {
	d = strings.TrimSuffix(strings.TrimSpace(d), "/")
	if !strings.Contains(d, "://") {
		d = "https://" + d
	}
	return d
}

// clientSecret resolves auth.client_secret, if any.
func (o *Options) clientSecret(ctx context.Context) (string, error) {
	ref := o.Auth.ClientSecret
	if ref == "" {
		return "", nil
	}
	r := o.Resolver
	if r == nil {
		r = &profiles.Resolver{Store: o.Store}
	}
	v, err := r.Resolve(ctx, o.Profile, "auth.client_secret", ref)
	if err != nil {
		return "", fmt.Errorf("%s: %w", o.Auth.Kind, err)
	}
	return strings.TrimSpace(v), nil
}
