// Package idp holds the building blocks shared by the mock gateway's OAuth
// identity providers (the Cognito-compatible provider and the magic-link
// sender): RS256 signing keys published as a JWKS, registered clients with
// RFC 8252 loopback redirect matching, PKCE S256, single-use authorization
// codes and refresh sessions. The tokens these providers mint are what the
// gateway's `jwt` verifier (package jwtverify) checks.
//
// Everything here is in memory: a restarted gateway has new keys and forgets
// its codes and refresh tokens, so a client must log in again (as after a
// user-pool key rotation or a revoked session).
package idp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
)

// keyBits is the size of the RS256 keys (Cognito's are 2048-bit RSA).
const keyBits = 2048

// Keys is an issuer's signing keys: the first signs, the previous one is
// still published (and accepted) after a rotation, as a user pool's JWKS
// keeps old keys while tokens signed with them are alive. Keys are generated
// on first use, so a gateway whose providers are never used pays nothing.
// Keys implements go-oidc's KeySet (VerifySignature), so the gateway's jwt
// verifier checks the mock's tokens without an HTTP round trip to itself.
type Keys struct {
	kidPrefix string
	// first gets the first signing key's material (a fresh key, or the
	// one the gateway instances share); rotations generate fresh keys.
	first func() (*rsa.PrivateKey, error)

	mu   sync.Mutex
	keys []*signingKey // [0] signs
}

type signingKey struct {
	kid  string
	priv *rsa.PrivateKey
}

// NewKeys returns an issuer's key set. Key ids are kidPrefix plus a
// fingerprint of the key, so a configured prefix (a "production-shaped" kid)
// still changes when the key does.
func NewKeys(kidPrefix string) *Keys {
	return &Keys{kidPrefix: kidPrefix, first: generateKey}
}

// NewSharedKeys is NewKeys whose first key is the one named name in env's
// shared store (auth.SigningKey), so the issuer's instances sign alike.
func NewSharedKeys(kidPrefix string, env *auth.Env, name string) *Keys {
	return &Keys{kidPrefix: kidPrefix, first: func() (*rsa.PrivateKey, error) {
		return auth.SigningKey(env, name, generateKey)
	}}
}

func generateKey() (*rsa.PrivateKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	return priv, nil
}

func (k *Keys) newKey() (*signingKey, error) { return k.keyFrom(generateKey) }

func (k *Keys) keyFrom(get func() (*rsa.PrivateKey, error)) (*signingKey, error) {
	priv, err := get()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(priv.N.Bytes())
	return &signingKey{kid: k.kidPrefix + hex.EncodeToString(sum[:10]), priv: priv}, nil
}

// current returns the signing key, generating it on first use; k.mu is held.
func (k *Keys) current() (*signingKey, error) {
	if len(k.keys) == 0 {
		nk, err := k.keyFrom(k.first)
		if err != nil {
			return nil, err
		}
		k.keys = []*signingKey{nk}
	}
	return k.keys[0], nil
}

// Rotate makes a fresh key the signing key; the previous one stays
// published, the one before it is dropped (its tokens stop verifying).
func (k *Keys) Rotate() error {
	nk, err := k.newKey()
	if err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys = append([]*signingKey{nk}, k.keys...)
	if len(k.keys) > 2 {
		k.keys = k.keys[:2]
	}
	return nil
}

// Sign returns claims as a compact RS256 JWT with the current key's kid.
func (k *Keys) Sign(claims map[string]any) (string, error) {
	k.mu.Lock()
	sk, err := k.current()
	k.mu.Unlock()
	if err != nil {
		return "", err
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(claims))
	t.Header["kid"] = sk.kid
	return t.SignedString(sk.priv)
}

// JWKS returns the public keys as a JSON Web Key Set document.
func (k *Keys) JWKS() ([]byte, error) {
	k.mu.Lock()
	if _, err := k.current(); err != nil {
		k.mu.Unlock()
		return nil, err
	}
	set := jose.JSONWebKeySet{}
	for _, sk := range k.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &sk.priv.PublicKey, KeyID: sk.kid, Algorithm: "RS256", Use: "sig"})
	}
	k.mu.Unlock()
	return json.Marshal(set)
}

// KeyIDs lists the published key ids, the signing one first.
func (k *Keys) KeyIDs() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]string, 0, len(k.keys))
	for _, sk := range k.keys {
		out = append(out, sk.kid)
	}
	return out
}

// ErrUnknownKey is returned by VerifySignature for a kid that is not
// published (a token from another issuer, or from before a restart).
var ErrUnknownKey = errors.New("no published key has this kid")

// VerifySignature implements go-oidc's KeySet: it checks an RS256 JWT's
// signature against the published key named by its kid and returns the
// payload. It checks no claim.
func (k *Keys) VerifySignature(_ context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, fmt.Errorf("malformed JWT: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("malformed JWT: want exactly one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	k.mu.Lock()
	// Load the first key, which another gateway instance sharing the
	// store may have signed with before this one used it.
	if _, err := k.current(); err != nil {
		k.mu.Unlock()
		return nil, err
	}
	var pub *rsa.PublicKey
	for _, sk := range k.keys {
		if sk.kid == kid {
			pub = &sk.priv.PublicKey
		}
	}
	k.mu.Unlock()
	if pub == nil {
		return nil, fmt.Errorf("kid %q: %w", kid, ErrUnknownKey)
	}
	return jws.Verify(pub)
}

// RandomToken returns n random bytes as unpadded base64url: codes, refresh
// tokens, link tokens, jti values.
func RandomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Hash is how secrets (codes, refresh and link tokens) are kept: only their
// SHA-256, so a dump of the provider's memory holds nothing replayable.
func Hash(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// SubjectFor is a stable, UUID-shaped subject for a user of an issuer, so a
// user keeps their sub across gateway restarts (as a user pool's sub never
// changes).
func SubjectFor(issuer, email string) string {
	s := sha256.Sum256([]byte(issuer + "\x00" + email))
	s[6] = (s[6] & 0x0f) | 0x50 // version 5 (name-based, SHA)
	s[8] = (s[8] & 0x3f) | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(s[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
