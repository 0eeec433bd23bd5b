package cfverify

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/nacl/box"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
)

// sharedKey is the key of this kind's state in auth.Env.Shared.
const sharedKey = "cf_access"

const (
	// keyBits is the size of the RS256 signing keys (Cloudflare uses 2048).
	keyBits = 2048
	// transferTTL bounds how long a finished CLI login waits to be collected.
	transferTTL = 10 * time.Minute
	// maxTransfers bounds the pending transfers, so polling random ids
	// cannot grow the gateway's memory without limit.
	maxTransfers = 1024
	// defaultHold is how long the transfer endpoint holds a long poll open.
	defaultHold = 15 * time.Second
)

// state is what the verifiers of every cf_access route and the mock Access
// endpoints of one gateway share: the signing keys (the team's certs), the
// registered applications and the CLI login transfers. It lives in
// env.Shared["cf_access"]; keys are generated on first use.
type state struct {
	now  func() time.Time
	hold time.Duration // long-poll hold of the transfer endpoint
	// keyMaterial gets the named first keys' material: fresh, or shared by
	// the gateway instances (auth.SigningKey).
	keyMaterial func(name string) (*rsa.PrivateKey, error)

	mu        sync.Mutex
	keys      []*signingKey // [0] signs; [1] is the previous key, still accepted
	boxPub    *[32]byte     // the mock transfer service's NaCl box key pair
	boxPriv   *[32]byte
	apps      map[string]*application // by AUD tag
	transfers map[string]*transfer    // by the CLI's public key (canonical base64url)

	tokens *assertions // minted application tokens, one per session
}

type signingKey struct {
	kid  string
	priv *rsa.PrivateKey
	cert []byte // self-signed certificate (DER), for public_cert(s)
	// cacheSecret keys the HMAC that names cached tokens; derived from
	// the private key, so only holders of the key share the names.
	cacheSecret [sha256.Size]byte
}

// application is one Access application, registered by a route's Factory.
type application struct {
	aud        string
	teamDomain string // issuer, "https://<team>.cloudflareaccess.com"
	session    time.Duration
}

// transfer is one pending CLI login: the CLI polls for it while the person
// logs in in a browser.
type transfer struct {
	ready   chan struct{} // closed when payload is set
	payload string        // base64(nonce || box(JSON {app_token, org_token}))
	taken   bool          // delivered once; a transfer is one-shot
	expires time.Time
}

// sharedState returns the gateway's cf_access state, creating it on first
// use. The frame builds verifiers and mocks from one goroutine while it loads
// its config, so env.Shared itself needs no lock; the state's own fields are
// guarded by its mutex.
func sharedState(env *auth.Env) (*state, error) {
	if env == nil {
		return nil, fmt.Errorf("cf_access: no gateway environment")
	}
	if v, ok := env.Shared[sharedKey]; ok {
		s, ok := v.(*state)
		if !ok {
			return nil, fmt.Errorf("cf_access: env.Shared[%q] holds a %T, not the cf_access state", sharedKey, v)
		}
		return s, nil
	}
	now := env.Now
	if now == nil {
		now = time.Now
	}
	s := &state{
		now:       now,
		hold:      defaultHold,
		apps:      map[string]*application{},
		transfers: map[string]*transfer{},
		keyMaterial: func(name string) (*rsa.PrivateKey, error) {
			return auth.SigningKey(env, name, generateKey)
		},
		tokens: newAssertions(),
	}
	if env.Store != nil {
		s.tokens.store = storeAssertions{env.Store}
	}
	if env.Shared == nil {
		env.Shared = map[string]any{}
	}
	env.Shared[sharedKey] = s
	return s, nil
}

// register adds a route's application. Two routes may protect the same
// application (same AUD), but then they must agree on its team domain.
func (s *state) register(a *application) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.apps[a.aud]; ok {
		if old.teamDomain != a.teamDomain {
			return fmt.Errorf("aud %s is already used by a cf_access route with team_domain %s", a.aud, old.teamDomain)
		}
		return nil
	}
	s.apps[a.aud] = a
	return nil
}

func (s *state) app(aud string) (*application, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[aud]
	return a, ok
}

// signingKeys returns the current and the previous key, generating them on
// first use.
func (s *state) signingKeys() ([]*signingKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		for i := range 2 {
			priv, err := s.keyMaterial(fmt.Sprintf("cf_access:%d", i))
			if err != nil {
				return nil, err
			}
			k, err := signingKeyFor(priv, s.now())
			if err != nil {
				return nil, err
			}
			s.keys = append(s.keys, k)
		}
	}
	return s.keys, nil
}

// rotate makes a new current key; the current one becomes the previous one,
// as Cloudflare does every six weeks. Tests use it.
func (s *state) rotate() error {
	if _, err := s.signingKeys(); err != nil {
		return err
	}
	k, err := newSigningKey(s.now())
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = []*signingKey{k, s.keys[0]}
	return nil
}

func newSigningKey(now time.Time) (*signingKey, error) {
	priv, err := generateKey()
	if err != nil {
		return nil, err
	}
	return signingKeyFor(priv, now)
}

func generateKey() (*rsa.PrivateKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return nil, fmt.Errorf("cf_access: generate signing key: %w", err)
	}
	return priv, nil
}

// signingKeyFor derives the kid and a self-signed certificate of priv.
func signingKeyFor(priv *rsa.PrivateKey, now time.Time) (*signingKey, error) {
	pubDER, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(pubDER)
	kid := hex.EncodeToString(sum[:])
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "gwcurl mock Cloudflare Access signing key " + kid[:16]},
		NotBefore:    now.Add(-time.Hour),
		// Cloudflare rotates every six weeks and accepts the previous key
		// for seven more days.
		NotAfter:              now.Add(7*24*time.Hour + 6*7*24*time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, fmt.Errorf("cf_access: self-sign certificate: %w", err)
	}
	k := &signingKey{kid: kid, priv: priv, cert: cert}
	k.cacheSecret = sha256.Sum256(append([]byte("gwcurl cf_access token cache\x00"), priv.D.Bytes()...))
	return k, nil
}

// sign returns claims as an RS256 JWT signed with the current key.
func (s *state) sign(claims jwt.MapClaims) (string, error) {
	keys, err := s.signingKeys()
	if err != nil {
		return "", err
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = keys[0].kid
	return t.SignedString(keys[0].priv)
}

// keyfunc finds the verification key named by a token's kid among the
// current and previous keys.
func (s *state) keyfunc(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, fmt.Errorf("token has no kid header")
	}
	keys, err := s.signingKeys()
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k.kid == kid {
			return &k.priv.PublicKey, nil
		}
	}
	return nil, fmt.Errorf("unknown signing key %q", truncate(kid, 16))
}

// jwk is one RSA key of the certs document.
type jwk struct {
	Kid string `json:"kid"`
	Kty string `json:"kty"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	E   string `json:"e"`
	N   string `json:"n"`
}

type publicCert struct {
	Kid  string `json:"kid"`
	Cert string `json:"cert"`
}

// certsDocument is the body of /cdn-cgi/access/certs, shaped like
// Cloudflare's: a JWKS "keys" array plus the same keys as PEM certificates.
type certsDocument struct {
	Keys        []jwk        `json:"keys"`
	PublicCert  publicCert   `json:"public_cert"`
	PublicCerts []publicCert `json:"public_certs"`
}

func (s *state) certs() (*certsDocument, error) {
	keys, err := s.signingKeys()
	if err != nil {
		return nil, err
	}
	doc := &certsDocument{}
	for _, k := range keys {
		pub := k.priv.PublicKey
		doc.Keys = append(doc.Keys, jwk{
			Kid: k.kid,
			Kty: "RSA",
			Alg: "RS256",
			Use: "sig",
			E:   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
			N:   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		})
		doc.PublicCerts = append(doc.PublicCerts, publicCert{
			Kid:  k.kid,
			Cert: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.cert})),
		})
	}
	doc.PublicCert = doc.PublicCerts[0]
	return doc, nil
}

// boxKeys returns the transfer service's NaCl box key pair, generating it on
// first use.
func (s *state) boxKeys() (pub, priv *[32]byte, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.boxPub == nil {
		s.boxPub, s.boxPriv, err = box.GenerateKey(rand.Reader)
		if err != nil {
			return nil, nil, fmt.Errorf("cf_access: generate transfer key: %w", err)
		}
	}
	return s.boxPub, s.boxPriv, nil
}

// pending returns the transfer for id, creating an empty one when the CLI
// polls before the person has logged in. It drops expired transfers first.
func (s *state) pending(id string) (*transfer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, t := range s.transfers {
		if now.After(t.expires) {
			delete(s.transfers, k)
		}
	}
	if t, ok := s.transfers[id]; ok {
		return t, nil
	}
	if len(s.transfers) >= maxTransfers {
		return nil, fmt.Errorf("too many pending logins")
	}
	t := &transfer{ready: make(chan struct{}), expires: now.Add(transferTTL)}
	s.transfers[id] = t
	return t, nil
}

// complete stores the encrypted tokens for id and wakes its long poll.
func (s *state) complete(id, payload string) error {
	t, err := s.pending(id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.payload != "" {
		// A second login for the same key replaces the first.
		t = &transfer{ready: make(chan struct{})}
		s.transfers[id] = t
	}
	t.payload = payload
	t.expires = s.now().Add(transferTTL)
	close(t.ready)
	return nil
}

// collect returns and forgets id's payload if it is ready.
func (s *state) collect(id string, t *transfer) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.payload == "" || t.taken {
		return "", false
	}
	t.taken = true
	if s.transfers[id] == t {
		delete(s.transfers, id)
	}
	return t.payload, true
}

// truncate shortens s for messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
