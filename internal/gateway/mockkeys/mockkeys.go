// Package mockkeys is the one RSA signing-key store of the mock gateway's
// issuers (the Cognito-compatible and magic-link providers, the Google mock,
// the Cloudflare Access mock): RS256 keys with key ids, published as a JWKS
// and as PEM certificates, rotated as real issuers rotate (the current key
// signs; the previous one stays published and accepted; older ones are
// dropped, so their tokens stop verifying).
//
// The store signs and verifies with golang-jwt. It implements go-oidc's
// KeySet (VerifySignature), so the gateway's jwt verifier checks a mock's
// tokens in process, and offers a golang-jwt Keyfunc for verifiers that
// parse with golang-jwt directly.
package mockkeys

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// keyBits is the size of generated keys (Cognito, Google and Cloudflare
// all sign with 2048-bit RSA).
const keyBits = 2048

// keep is how many keys a store publishes: current and previous.
const keep = 2

// Options shape a store after the issuer it mocks.
type Options struct {
	// Name prefixes the store's errors ("google mock", "cf_access").
	Name string
	// KeyID derives a key's id from its public key; default
	// Fingerprint(pub, 32).
	KeyID func(pub *rsa.PublicKey) string
	// Seed are fixed keys, current first, used instead of generated ones.
	Seed []*rsa.PrivateKey
	// Initial is how many keys are made on first use when there is no
	// Seed (default 1; 2 for an issuer whose JWKS always holds two).
	Initial int
	// First returns the material of the i-th initial key (default
	// Generate): the gateway instances sharing a store use the same keys
	// (auth.SigningKey). Rotations always generate fresh keys.
	First func(i int) (*rsa.PrivateKey, error)
	// CertName is the common name of the self-signed certificates of the
	// PEM output (a key id prefix is appended).
	CertName string
	// CertValidity returns a new certificate's validity window; default a
	// fixed window (2024 to 2049), so a key always yields the same
	// certificate.
	CertValidity func() (notBefore, notAfter time.Time)
}

// Store is one issuer's signing keys. Keys are generated on first use (so a
// gateway whose mocks are never used pays nothing). Its methods are safe for
// concurrent use.
type Store struct {
	o Options

	mu   sync.Mutex
	keys []*key // [0] signs
}

type key struct {
	kid  string
	priv *rsa.PrivateKey
	cert []byte // self-signed certificate (DER), for the PEM output
	// cacheSecret is derived from the private key: a key for HMACs that
	// only holders of this signing key compute alike (CacheSecrets).
	cacheSecret [sha256.Size]byte
}

// New returns a store; it fails only on a Seed key it cannot certify.
func New(o Options) (*Store, error) {
	if o.Initial <= 0 {
		o.Initial = 1
	}
	s := &Store{o: o}
	for _, priv := range o.Seed {
		k, err := s.newKey(priv)
		if err != nil {
			return nil, err
		}
		s.keys = append(s.keys, k)
	}
	return s, nil
}

// Fingerprint is the hex of the first n bytes of the SHA-256 of a public
// key's PKIX (DER) encoding: a key id that changes when the key does.
func Fingerprint(pub *rsa.PublicKey, n int) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:min(n, len(sum))])
}

func (s *Store) errorf(format string, args ...any) error {
	if s.o.Name == "" {
		return fmt.Errorf(format, args...)
	}
	return fmt.Errorf(s.o.Name+": "+format, args...)
}

// Generate returns a fresh 2048-bit RSA key.
func Generate() (*rsa.PrivateKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	return priv, nil
}

// newKey names priv (generating one when nil) and certifies it.
func (s *Store) newKey(priv *rsa.PrivateKey) (*key, error) {
	if priv == nil {
		var err error
		if priv, err = Generate(); err != nil {
			return nil, s.errorf("%w", err)
		}
	}
	kid := Fingerprint(&priv.PublicKey, 32)
	if s.o.KeyID != nil {
		kid = s.o.KeyID(&priv.PublicKey)
	}
	notBefore := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	notAfter := time.Date(2049, 12, 31, 0, 0, 0, 0, time.UTC)
	if s.o.CertValidity != nil {
		notBefore, notAfter = s.o.CertValidity()
	}
	fp := Fingerprint(&priv.PublicKey, 16)
	serial, _ := new(big.Int).SetString(fp, 16)
	name := s.o.CertName
	if name == "" {
		name = "gwcurl mock signing key"
	}
	// A serial derived from the key: with a fixed window, the same key
	// always yields the same certificate (PKCS #1 v1.5 is deterministic).
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name + " " + fp[:16]},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, s.errorf("self-sign certificate: %w", err)
	}
	k := &key{kid: kid, priv: priv, cert: cert}
	k.cacheSecret = sha256.Sum256(append([]byte("gwcurl mockkeys cache secret\x00"), priv.D.Bytes()...))
	return k, nil
}

// current returns the published keys, generating them on first use; s.mu
// is held.
func (s *Store) current() ([]*key, error) {
	for len(s.keys) < s.o.Initial {
		var priv *rsa.PrivateKey
		if s.o.First != nil {
			var err error
			if priv, err = s.o.First(len(s.keys)); err != nil {
				return nil, err
			}
		}
		k, err := s.newKey(priv)
		if err != nil {
			return nil, err
		}
		s.keys = append(s.keys, k)
	}
	return s.keys, nil
}

func (s *Store) published() ([]*key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current()
}

// Rotate makes a fresh key the signing key; the current one stays
// published (and accepted) as the previous one, the one before is dropped.
func (s *Store) Rotate() error {
	if _, err := s.published(); err != nil {
		return err
	}
	k, err := s.newKey(nil)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append([]*key{k}, s.keys...)
	if len(s.keys) > keep {
		s.keys = s.keys[:keep]
	}
	return nil
}

// SetKeyIDs renames the published keys, current first (a configured
// "production-shaped" kid).
func (s *Store) SetKeyIDs(ids []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys, err := s.current()
	if err != nil {
		return err
	}
	if len(ids) != len(keys) {
		return fmt.Errorf("key_ids: want %d ids (current, previous), got %d", len(keys), len(ids))
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if id == "" || seen[id] {
			return errors.New("key_ids: ids must be distinct and non-empty")
		}
		seen[id] = true
	}
	for i, id := range ids {
		keys[i].kid = id
	}
	return nil
}

// CacheSecrets returns a secret per published key, the signing one first,
// derived from its private key: the CF Access mock names its cached tokens
// with an HMAC under it, so the gateway instances sharing the keys share the
// names, nobody else can compute them, and a rotation starts afresh.
func (s *Store) CacheSecrets() ([][sha256.Size]byte, error) {
	keys, err := s.published()
	if err != nil {
		return nil, err
	}
	out := make([][sha256.Size]byte, len(keys))
	for i, k := range keys {
		out[i] = k.cacheSecret
	}
	return out, nil
}

// KeyIDs lists the published key ids, the signing one first.
func (s *Store) KeyIDs() []string {
	keys, _ := s.published()
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k.kid)
	}
	return out
}

// PublicKey returns the published key named kid.
func (s *Store) PublicKey(kid string) (*rsa.PublicKey, bool) {
	keys, _ := s.published()
	for _, k := range keys {
		if k.kid == kid {
			return &k.priv.PublicKey, true
		}
	}
	return nil, false
}

// Sign returns claims as a compact RS256 JWT with the current key's kid.
func (s *Store) Sign(claims jwt.MapClaims) (string, error) {
	keys, err := s.published()
	if err != nil {
		return "", err
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = keys[0].kid
	return t.SignedString(keys[0].priv)
}

// ErrUnknownKey is returned for a kid that is not published (a token from
// another issuer, or from before a restart or two rotations).
var ErrUnknownKey = errors.New("no published key has this kid")

// Keyfunc is a golang-jwt Keyfunc: the published key named by the token's
// kid header.
func (s *Store) Keyfunc(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, errors.New("token has no kid header")
	}
	if pub, ok := s.PublicKey(kid); ok {
		return pub, nil
	}
	return nil, fmt.Errorf("unknown signing key %q: %w", truncate(kid, 16), ErrUnknownKey)
}

// VerifySignature implements go-oidc's KeySet: it checks an RS256 JWT's
// signature against the published key named by its kid and returns the
// payload. It checks no claim.
func (s *Store) VerifySignature(_ context.Context, raw string) ([]byte, error) {
	var unknown error
	p := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	_, err := p.Parse(raw, func(t *jwt.Token) (any, error) {
		k, err := s.Keyfunc(t)
		if errors.Is(err, ErrUnknownKey) {
			unknown = err
		}
		return k, err
	})
	switch {
	case unknown != nil:
		return nil, unknown
	case err != nil:
		return nil, fmt.Errorf("malformed or badly signed JWT: %w", err)
	}
	return p.DecodeSegment(strings.Split(raw, ".")[1])
}

// JWK is one RSA public key of a JWKS (RFC 7517).
type JWK struct {
	Kid string `json:"kid"`
	Kty string `json:"kty"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// JWKS is a JSON Web Key Set document.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// JWKS returns the published keys, current first.
func (s *Store) JWKS() (JWKS, error) {
	keys, err := s.published()
	if err != nil {
		return JWKS{}, err
	}
	set := JWKS{Keys: []JWK{}}
	for _, k := range keys {
		pub := k.priv.PublicKey
		set.Keys = append(set.Keys, JWK{
			Kid: k.kid, Kty: "RSA", Alg: "RS256", Use: "sig",
			N: base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			E: base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		})
	}
	return set, nil
}

// Cert is one published key as a PEM certificate.
type Cert struct {
	Kid string
	PEM string
}

// PEMCerts returns the published keys as self-signed PEM certificates,
// current first.
func (s *Store) PEMCerts() ([]Cert, error) {
	keys, err := s.published()
	if err != nil {
		return nil, err
	}
	out := make([]Cert, 0, len(keys))
	for _, k := range keys {
		out = append(out, Cert{Kid: k.kid, PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.cert}))})
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
