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
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/mockkeys"
)

// Keys is an issuer's signing keys (package mockkeys): the first signs, the
// previous one is still published (and accepted) after a rotation, as a
// user pool's JWKS keeps old keys while tokens signed with them are alive.
// Keys implements go-oidc's KeySet (VerifySignature), so the gateway's jwt
// verifier checks the mock's tokens without an HTTP round trip to itself.
type Keys = mockkeys.Store

// NewKeys returns an issuer's key set, generated on first use. Key ids are
// kidPrefix plus a fingerprint of the key, so a configured prefix (a
// "production-shaped" kid) still changes when the key does.
func NewKeys(kidPrefix string) *Keys {
	s, _ := mockkeys.New(mockkeys.Options{ // fails only on a seed key; there is none
		Name:     "idp",
		KeyID:    func(pub *rsa.PublicKey) string { return kidPrefix + mockkeys.Fingerprint(pub, 10) },
		CertName: "gwcurl mock identity provider signing key",
	})
	return s
}

// NewSharedKeys is NewKeys whose first key is the one named name in env's
// shared store (auth.SigningKey), so the issuer's instances sign alike.
func NewSharedKeys(kidPrefix string, env *auth.Env, name string) *Keys {
	s, _ := mockkeys.New(mockkeys.Options{ // fails only on a seed key; there is none
		Name:     "idp",
		KeyID:    func(pub *rsa.PublicKey) string { return kidPrefix + mockkeys.Fingerprint(pub, 10) },
		CertName: "gwcurl mock identity provider signing key",
		First:    func(int) (*rsa.PrivateKey, error) { return auth.SigningKey(env, name, mockkeys.Generate) },
	})
	return s
}

// JWKS returns the public keys of keys as a JSON Web Key Set document.
func JWKS(keys *Keys) ([]byte, error) {
	set, err := keys.JWKS()
	if err != nil {
		return nil, err
	}
	return json.Marshal(set)
}

// ErrUnknownKey is returned by VerifySignature for a kid that is not
// published (a token from another issuer, or from before a restart).
var ErrUnknownKey = mockkeys.ErrUnknownKey

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
