// Package auth is the contract between the mock gateway's frame and the
// verifiers of each auth kind. It has no dependencies on the frame, so each
// kind's verifier lives in its own package and plugs in through [Factory].
package auth

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gwcurl/gwcurl/internal/rejectcode"
)

// Identity is what a verifier proved about the caller. It is passed to the
// origin (builtin:echo shows it as "identity").
type Identity struct {
	Kind      string         `json:"kind"`
	Principal string         `json:"principal"`
	Claims    map[string]any `json:"claims,omitempty"`
	// Encoded is the identity's JSON, set by verifiers that hand the same
	// identity to many requests (one per key or per session) so the frame
	// does not encode it on every request; see [Identity.Encode]. Such an
	// identity is shared: nobody may modify it.
	Encoded string `json:"-"`
}

// Encode sets id.Encoded to id's JSON and returns id; for an identity that
// will be shared by many requests.
func (id *Identity) Encode() *Identity {
	if b, err := json.Marshal(id); err == nil {
		id.Encoded = string(b)
	}
	return id
}

// Rejection is the error a Verifier returns for a request it refuses. The
// frame answers it as JSON: {"error": http.StatusText, "code": Code,
// "reason": Reason, ...Details}, unless the route has explain: false.
type Rejection struct {
	Status  int             // 401 or 403 (0 means 403)
	Code    rejectcode.Code // stable cause for programs (and explain), e.g. "signature_mismatch"
	Reason  string          // one line for people, e.g. "signature mismatch"
	Details map[string]any  // extra JSON fields, e.g. "expected canonical request"
	Header  http.Header     // extra response headers, e.g. WWW-Authenticate
}

func (r *Rejection) Error() string { return r.Reason }

// Reject builds a 403 Rejection.
func Reject(code rejectcode.Code, format string, args ...any) *Rejection {
	return &Rejection{Status: http.StatusForbidden, Code: code, Reason: fmt.Sprintf(format, args...)}
}

// Unauthorized builds a 401 Rejection (no credential at all).
func Unauthorized(code rejectcode.Code, format string, args ...any) *Rejection {
	return &Rejection{Status: http.StatusUnauthorized, Code: code, Reason: fmt.Sprintf(format, args...)}
}

// With adds a detail field and returns r.
func (r *Rejection) With(key string, value any) *Rejection {
	if r.Details == nil {
		r.Details = map[string]any{}
	}
	r.Details[key] = value
	return r
}

// A Verifier checks one request's credentials.
//
// Verify may read r.Body, but must leave an equivalent unread body in r.Body
// for the origin. On success it may change r's headers (remove the consumed
// credential, add headers for the origin such as Cf-Access-Jwt-Assertion) and
// may set response headers on w (such as a CF_Authorization cookie). A
// refusal is a *Rejection; any other error is answered as 500 and is a bug.
// Verify must be safe for concurrent use.
type Verifier interface {
	Verify(w http.ResponseWriter, r *http.Request) (*Identity, error)
}

// AWSKey is one entry of the gateway's AWS key table.
type AWSKey struct {
	AccessKeyID     string `yaml:"access_key_id" json:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key" json:"-"`
	ARN             string `yaml:"arn" json:"arn"`
	SessionToken    string `yaml:"session_token,omitempty" json:"-"` // set for temporary keys
}

// User is one entry of the mock identity providers' user store.
type User struct {
	Email    string `yaml:"email" json:"email"`
	Password string `yaml:"password" json:"-"`
	Name     string `yaml:"name,omitempty" json:"name,omitempty"`
}

// Env is what the gateway gives every verifier and mock provider.
type Env struct {
	Now     func() time.Time // gateway clock (with --clock-offset applied)
	BaseURL string           // e.g. "http://127.0.0.1:8080", no trailing slash
	AWSKeys []AWSKey
	Users   []User
	// Shared holds per-gateway state that a kind's verifier and its mock
	// provider share (for example signing keys), keyed by kind.
	Shared map[string]any
	// Store is the store shared by several gateway instances (the
	// config's `store: {redis: ...}`), or nil: the mock providers keep
	// their one-time state (codes, refresh sessions, link tokens, access
	// grants) and their signing keys there, so the instances act as one
	// provider.
	Store SharedStore
}

// SharedStore is a key-value store shared by gateway instances. Keys are
// namespaced by the gateway; values are opaque. A failed operation is an
// error the caller answers as "temporarily unavailable" (or treats as
// absent where that is the safe side), never as success.
type SharedStore interface {
	// Get returns key's value; ok is false when it is absent or expired.
	Get(key string) (value []byte, ok bool, err error)
	// Set stores value under key for ttl (0: no expiry).
	Set(key string, value []byte, ttl time.Duration) error
	// SetNX stores value only if key is absent (ttl 0: no expiry) and
	// reports whether it did.
	SetNX(key string, value []byte, ttl time.Duration) (bool, error)
	// Take marks key used, atomically across instances, and returns its
	// value; first is true for the one call that marked it. ok is false
	// when key is absent.
	Take(key string) (value []byte, first, ok bool, err error)
}

// SigningKey returns a mock issuer's RSA signing key named name. Without a
// shared store it is a fresh key from gen. With one, the key lives in the
// store (PKCS #8): the first instance to need it stores its own with SET
// NX, and every other instance loads that one, so tokens signed by one
// instance verify at all of them. The shared store then holds private
// keys; they sign only the mock's tokens, which nothing but these gateways
// trusts.
func SigningKey(env *Env, name string, gen func() (*rsa.PrivateKey, error)) (*rsa.PrivateKey, error) {
	if env == nil || env.Store == nil {
		return gen()
	}
	key := "key:" + name
	load := func() (*rsa.PrivateKey, bool, error) {
		b, ok, err := env.Store.Get(key)
		if err != nil || !ok {
			return nil, ok, err
		}
		k, err := x509.ParsePKCS8PrivateKey(b)
		if err != nil {
			return nil, true, fmt.Errorf("shared signing key %s: %w", name, err)
		}
		rk, isRSA := k.(*rsa.PrivateKey)
		if !isRSA {
			return nil, true, fmt.Errorf("shared signing key %s is %T, want RSA", name, k)
		}
		return rk, true, nil
	}
	if k, ok, err := load(); err != nil || ok {
		return k, err
	}
	k, err := gen()
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	won, err := env.Store.SetNX(key, der, 0)
	if err != nil {
		return nil, fmt.Errorf("shared signing key %s: %w", name, err)
	}
	if won {
		return k, nil
	}
	// Another instance stored its key first: use that one.
	k, ok, err := load()
	if err == nil && !ok {
		err = fmt.Errorf("shared signing key %s vanished from the store", name)
	}
	return k, err
}

// Factory builds a route's verifier from the route's auth block (the YAML
// node of `auth:`, which includes `kind:`). Errors should name the field.
type Factory func(node *yaml.Node, env *Env) (Verifier, error)

// Mock is a mock identity provider: a handler mounted by the gateway at
// Prefix (for example "/_mock/sts/"). Mocks see paths with the prefix intact.
type Mock struct {
	Prefix  string
	Handler http.Handler
}

// MockFactory builds a kind's mock providers for a gateway.
type MockFactory func(env *Env) ([]Mock, error)
