package cfverify

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/nacl/box"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/mockkeys"
)

// sharedKey is the key of this kind's state in auth.Env.Shared.
const sharedKey = "cf_access"

const (
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

	mu        sync.Mutex
	keys      *mockkeys.Store // current signs; the previous key is still accepted
	boxPub    *[32]byte       // the mock transfer service's NaCl box key pair
	boxPriv   *[32]byte
	apps      map[string]*application // by AUD tag
	transfers map[string]*transfer    // by the CLI's public key (canonical base64url)

	tokens *assertions // minted application tokens, one per session
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
	keys, err := mockkeys.New(mockkeys.Options{
		Name:    "cf_access",
		Initial: 2, // the team's certs always hold a current and a previous key
		First: func(i int) (*rsa.PrivateKey, error) {
			// Fresh, or shared by the gateway instances.
			return auth.SigningKey(env, fmt.Sprintf("cf_access:%d", i), mockkeys.Generate)
		},
		CertName: "gwcurl mock Cloudflare Access signing key",
		CertValidity: func() (time.Time, time.Time) {
			// Cloudflare rotates every six weeks and accepts the previous
			// key for seven more days.
			return now().Add(-time.Hour), now().Add(7*24*time.Hour + 6*7*24*time.Hour)
		},
	})
	if err != nil {
		return nil, err
	}
	s := &state{
		keys:      keys,
		now:       now,
		hold:      defaultHold,
		apps:      map[string]*application{},
		transfers: map[string]*transfer{},
		tokens:    newAssertions(),
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

// rotate makes a new current key; the current one becomes the previous one,
// as Cloudflare does every six weeks. Tests use it.
func (s *state) rotate() error { return s.keys.Rotate() }

// sign returns claims as an RS256 JWT signed with the current key.
func (s *state) sign(claims jwt.MapClaims) (string, error) { return s.keys.Sign(claims) }

// keyfunc finds the verification key named by a token's kid among the
// current and previous keys.
func (s *state) keyfunc(t *jwt.Token) (any, error) { return s.keys.Keyfunc(t) }

type publicCert struct {
	Kid  string `json:"kid"`
	Cert string `json:"cert"`
}

// certsDocument is the body of /cdn-cgi/access/certs, shaped like
// Cloudflare's: a JWKS "keys" array plus the same keys as PEM certificates.
type certsDocument struct {
	Keys        []mockkeys.JWK `json:"keys"`
	PublicCert  publicCert     `json:"public_cert"`
	PublicCerts []publicCert   `json:"public_certs"`
}

func (s *state) certs() (*certsDocument, error) {
	set, err := s.keys.JWKS()
	if err != nil {
		return nil, err
	}
	certs, err := s.keys.PEMCerts()
	if err != nil {
		return nil, err
	}
	doc := &certsDocument{Keys: set.Keys}
	for _, c := range certs {
		doc.PublicCerts = append(doc.PublicCerts, publicCert{Kid: c.Kid, Cert: c.PEM})
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
