// Package originauth describes how a gateway authenticates itself to an
// origin (the gateway's `origin_auth:` block). The gateway receives a
// [Factory] (the CLI passes sign.OriginTransport), so one implementation, the
// client's signers, signs for both sides.
package originauth

import (
	"context"
	"net/http"
	"time"
)

// Auth is how a gateway authenticates itself to an origin (the
// gateway's `origin_auth:` block, docs/gateway.md). It is sign's own type so
// that the gateway, which must not know the client's profiles
// (internal/archtest), can build the client's signers: one implementation
// signs for both sides. Secret fields hold references (env:, file:, cmd:,
// keyring:), never the secret.
type Auth struct {
	// Kind is sigv4, google, cf-access, sts-identity or bearer.
	Kind string

	// sigv4 and sts-identity
	Region, Service, AWSProfile  string
	AccessKeyID, SecretAccessKey string // the secret as a reference
	SessionToken                 string // a reference
	UnsignedPayload              bool

	// sts-identity
	Header, Format, ServerID, STSEndpoint string

	// google: Header is Authorization (default) or X-Serverless-Authorization.
	Audience, Credentials, Impersonate string
	// CredentialsJSON is a credentials file's content, used instead of
	// Credentials (the demo gateway's service account).
	CredentialsJSON []byte

	// cf-access
	ClientID, ClientSecret string // the secret as a reference

	// bearer
	Token string // a reference
}

// Deps is what an origin signer may use from its host process.
type Deps struct {
	// Name names the signer in token-cache keys and errors (the gateway
	// passes "route /edge").
	Name       string
	HTTPClient *http.Client        // nil: a client with a 30 s timeout
	Now        func() time.Time    // nil: time.Now
	Getenv     func(string) string // nil: no environment
	// BaseDir anchors relative file: references.
	BaseDir string
	// Lookup answers keyring:KEY references (the gateway has no keyring;
	// it answers keys it owns, such as its own aws_keys). nil: none.
	Lookup func(key string) (string, bool)
	Trace  func(format string, args ...any) // never receives a secret
	// Unsigned reports headers that are sent but not signed: those a
	// proxy in between may add or rewrite (X-Forwarded-*), which the
	// origin could not match with a signature. nil: every header is signed.
	Unsigned func(canonicalName string) bool
}

// Factory wraps base in a RoundTripper that authenticates every attempt
// to target as a says. Credentials are resolved when it is called, so a
// missing one is an error then rather than on every request.
type Factory func(ctx context.Context, a Auth, target string, d Deps, base http.RoundTripper) (http.RoundTripper, error)
