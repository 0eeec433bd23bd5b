package googleverify

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	_ "embed" // the mock issuer's fixed signing keys
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"gopkg.in/yaml.v3"

	"github.com/gwcurl/gwcurl/internal/demo"
	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/mockkeys"
	"github.com/gwcurl/gwcurl/internal/strictyaml"
)

// The mock issuer's two signing keys (current and previous). They are
// PUBLISHED DEMO KEYS, generated once with
// `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048` and
// committed, like the demo service account's key: a gateway restart keeps
// the same keys, so ID tokens that gwcurl cached before the restart still
// verify. They are trusted by nothing but this mock. Rotate replaces them
// with fresh random keys at run time.
var (
	//go:embed mock-signing-key-1.pem
	mockSigningKey1 string
	//go:embed mock-signing-key-2.pem
	mockSigningKey2 string
)

// Paths of the mock endpoints (the gateway mounts them at its root).
const (
	TokenPath      = "/_mock/google/token"        // OAuth token endpoint (oauth2.googleapis.com/token)
	CertsPath      = "/_mock/google/certs"        // JWKS (www.googleapis.com/oauth2/v3/certs)
	CertsPEMPath   = "/_mock/google/certs/v1"     // PEM certificates by kid (oauth2/v1/certs)
	IAMPath        = "/_mock/google/iam"          // IAM Credentials base (iamcredentials.googleapis.com)
	STSPath        = "/_mock/google/sts/v1/token" // Security Token Service (sts.googleapis.com/v1/token)
	MetadataPrefix = "/computeMetadata/"          // GCE metadata server
	mockPrefix     = "/_mock/google/"
)

// DefaultIssuer is the iss of the mock's ID tokens unless configured.
const DefaultIssuer = "https://accounts.google.com"

// googleIssuerShort is the other form of Google's issuer (docs/auth/google.md, "The mock gateway").
const googleIssuerShort = "accounts.google.com"

// Lifetimes of what the mock issues (Google's: one hour).
const (
	idTokenTTL     = time.Hour
	accessTokenTTL = time.Hour
	// maxAssertionTTL is Google's limit on exp - iat of a jwt-bearer
	// assertion.
	maxAssertionTTL = time.Hour
	// maxAccessGrants bounds the mock's memory of access tokens.
	maxAccessGrants = 10000
)

// The demo user of the authorized_user (gcloud / ADC user) flow: the token
// endpoint accepts this refresh token for this OAuth client and answers an
// ID token whose aud is the client id, as Google does. Like every demo
// credential they are public and protect nothing.
const (
	DemoUserClientID     = "100000000002-gwcurldemo.apps.googleusercontent.com"
	DemoUserClientSecret = "gwcurl-demo-user-client-secret"
	DemoUserRefreshToken = "1//gwcurl-demo-user-refresh-token"
	DemoUserEmail        = demo.UserEmail
)

// AuthorizedUserJSON returns an authorized_user credentials file (what
// `gcloud auth application-default login` writes) for the demo user, with
// token_uri pointing at tokenURI (the mock's token endpoint).
func AuthorizedUserJSON(tokenURI string) ([]byte, error) {
	return json.MarshalIndent(map[string]string{
		"type":          "authorized_user",
		"client_id":     DemoUserClientID,
		"client_secret": DemoUserClientSecret,
		"refresh_token": DemoUserRefreshToken,
		"token_uri":     tokenURI,
	}, "", "  ")
}

// sharedKey is this kind's entry in auth.Env.Shared; mockConfigKey is where
// the frame puts the `mocks: {google: ...}` settings.
const (
	sharedKey     = "google"
	mockConfigKey = "mock:google"
)

// State is what the google_id verifiers and the mock Google endpoints of one
// gateway share: the issuer and its signing keys, the registered service
// accounts and users, and the access tokens the mock has issued. It lives in
// env.Shared["google"] and is created by whichever of [Factory] and [Mocks]
// runs first. Its methods are safe for concurrent use.
type State struct {
	now     func() time.Time
	baseURL string
	shared  auth.SharedStore // the instances' store: access grants live there

	mu       sync.RWMutex
	issuer   string
	keys     *mockkeys.Store            // current signs; the previous one is still published and accepted
	accounts map[string]*serviceAccount // by lower-case email
	metaSA   string                     // the metadata server's default service account
	users    map[string]*oauthUser      // by refresh token
	grants   map[string]*accessGrant    // by access token
}

// serviceAccount is a registered Google service account: the public halves
// of its keys verify the jwt-bearer assertions it signs.
type serviceAccount struct {
	email    string
	uniqueID string                    // numeric id: the sub and azp of its ID tokens
	keys     map[string]*rsa.PublicKey // by private_key_id
	// tokenCreators may call generateIdToken/generateAccessToken for it
	// (roles/iam.serviceAccountTokenCreator); empty means any principal
	// holding a mock access token.
	tokenCreators []string
}

type oauthUser struct {
	email, sub, clientID, clientSecret string
}

// accessGrant is an access token the mock issued.
type accessGrant struct {
	principal string // email, or a principal:// for federated identities
	expires   time.Time
}

// mockConfig is `mocks: {google: ...}` in a gateway config.
type mockConfig struct {
	Issuer                 string      `yaml:"issuer"`
	KeyIDs                 []string    `yaml:"key_ids"`
	MetadataServiceAccount string      `yaml:"metadata_service_account"`
	ServiceAccounts        []saConfig  `yaml:"service_accounts"`
	Users                  []userEntry `yaml:"users"`
}

type saConfig struct {
	Email         string   `yaml:"email"`
	KeyFile       string   `yaml:"key_file"`   // a service-account key file; only its public half is used
	PublicKey     string   `yaml:"public_key"` // or a PEM public key / certificate
	KeyID         string   `yaml:"key_id"`
	ClientID      string   `yaml:"client_id"`
	TokenCreators []string `yaml:"token_creators"`
}

type userEntry struct {
	Email        string `yaml:"email"`
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
	RefreshToken string `yaml:"refresh_token"`
}

var (
	mockConfigKeys = []string{"issuer", "key_ids", "metadata_service_account", "service_accounts", "users"}
	saConfigKeys   = []string{"email", "key_file", "public_key", "key_id", "client_id", "token_creators"}
	userEntryKeys  = []string{"email", "client_id", "client_secret", "refresh_token"}
)

// StateFor returns the gateway's Google state, creating it on first use from
// env and the `mocks: {google: ...}` settings. The frame builds verifiers and
// mocks from one goroutine while it loads its config, so env.Shared itself
// needs no lock.
func StateFor(env *auth.Env) (*State, error) {
	if env == nil {
		return nil, errors.New("google_id: no gateway environment")
	}
	if v, ok := env.Shared[sharedKey]; ok {
		s, ok := v.(*State)
		if !ok {
			return nil, fmt.Errorf("google_id: env.Shared[%q] holds a %T, not the Google state", sharedKey, v)
		}
		return s, nil
	}
	s, err := newState(env)
	if err != nil {
		return nil, err
	}
	if env.Shared == nil {
		env.Shared = map[string]any{}
	}
	env.Shared[sharedKey] = s
	return s, nil
}

func newState(env *auth.Env) (*State, error) {
	now := env.Now
	if now == nil {
		now = time.Now
	}
	s := &State{
		now:      now,
		baseURL:  strings.TrimRight(env.BaseURL, "/"),
		issuer:   DefaultIssuer,
		accounts: map[string]*serviceAccount{},
		users:    map[string]*oauthUser{},
		grants:   map[string]*accessGrant{},
		metaSA:   demo.GoogleServiceAccountEmail,
		shared:   env.Store,
	}
	var seed []*rsa.PrivateKey
	for _, pemKey := range []string{mockSigningKey1, mockSigningKey2} {
		k, err := parseRSAPrivateKey(pemKey)
		if err != nil {
			return nil, fmt.Errorf("google mock signing key: %w", err)
		}
		seed = append(seed, k)
	}
	keys, err := mockkeys.New(mockkeys.Options{
		Name: "google mock",
		Seed: seed,
		// 40 hex digits, like Google's key ids.
		KeyID:    func(pub *rsa.PublicKey) string { return mockkeys.Fingerprint(pub, 20) },
		CertName: "gwcurl mock Google signing key",
	})
	if err != nil {
		return nil, err
	}
	s.keys = keys
	// The demo service account and the demo user always exist.
	dk, err := demo.GoogleServiceAccountKey()
	if err != nil {
		return nil, err
	}
	s.accounts[strings.ToLower(demo.GoogleServiceAccountEmail)] = &serviceAccount{
		email:    demo.GoogleServiceAccountEmail,
		uniqueID: demo.GoogleServiceAccountClientID,
		keys:     map[string]*rsa.PublicKey{demo.GoogleServiceAccountKeyID: &dk.PublicKey},
	}
	s.users[DemoUserRefreshToken] = &oauthUser{
		email: DemoUserEmail, sub: numericID(DemoUserEmail),
		clientID: DemoUserClientID, clientSecret: DemoUserClientSecret,
	}
	if node, ok := env.Shared[mockConfigKey].(*yaml.Node); ok && node != nil {
		if err := s.configure(node); err != nil {
			return nil, fmt.Errorf("mocks.google: %w", err)
		}
	}
	return s, nil
}

func (s *State) configure(node *yaml.Node) error {
	if node.Kind == yaml.DocumentNode && len(node.Content) == 1 {
		node = node.Content[0]
	}
	if node.Kind == yaml.ScalarNode && node.Tag == "!!null" {
		return nil
	}
	if err := checkKeys(node, "", mockConfigKeys); err != nil {
		return err
	}
	var c mockConfig
	if err := node.Decode(&c); err != nil {
		return err
	}
	if c.Issuer != "" {
		s.issuer = c.Issuer
	}
	if len(c.KeyIDs) > 0 {
		if err := s.keys.SetKeyIDs(c.KeyIDs); err != nil {
			return err
		}
	}
	for i, sc := range c.ServiceAccounts {
		if err := checkKeys(seqItem(node, "service_accounts", i), fmt.Sprintf("service_accounts[%d].", i), saConfigKeys); err != nil {
			return err
		}
		if err := s.addServiceAccount(sc); err != nil {
			return fmt.Errorf("service_accounts[%d]: %w", i, err)
		}
	}
	for i, u := range c.Users {
		if err := checkKeys(seqItem(node, "users", i), fmt.Sprintf("users[%d].", i), userEntryKeys); err != nil {
			return err
		}
		if u.Email == "" || u.ClientID == "" || u.RefreshToken == "" {
			return fmt.Errorf("users[%d]: email, client_id and refresh_token are required", i)
		}
		s.users[u.RefreshToken] = &oauthUser{email: u.Email, sub: numericID(u.Email), clientID: u.ClientID, clientSecret: u.ClientSecret}
	}
	if c.MetadataServiceAccount != "" {
		if _, ok := s.accounts[strings.ToLower(c.MetadataServiceAccount)]; !ok {
			return fmt.Errorf("metadata_service_account: %s is not a registered service account", c.MetadataServiceAccount)
		}
		s.metaSA = c.MetadataServiceAccount
	}
	return nil
}

// checkKeys refuses keys of a mapping node that are not in known, naming
// the line.
func checkKeys(n *yaml.Node, prefix string, known []string) error {
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: %swant a mapping", n.Line, prefix)
	}
	if k := strictyaml.Unknown(n, known); k != nil {
		return fmt.Errorf("line %d: unknown key %s%s (%s)", k.Line, prefix, k.Value, strictyaml.Hint(k.Value, known))
	}
	return nil
}

// seqItem returns node[key][i] of a mapping node, or nil.
func seqItem(n *yaml.Node, key string, i int) *yaml.Node {
	for j := 0; j+1 < len(n.Content); j += 2 {
		if n.Content[j].Value == key {
			if seq := n.Content[j+1]; seq.Kind == yaml.SequenceNode && i < len(seq.Content) {
				return seq.Content[i]
			}
		}
	}
	return nil
}

func (s *State) addServiceAccount(sc saConfig) error {
	var pub *rsa.PublicKey
	kid, clientID := sc.KeyID, sc.ClientID
	switch {
	case sc.KeyFile != "" && sc.PublicKey != "":
		return errors.New("set key_file or public_key, not both")
	case sc.KeyFile != "":
		b, err := os.ReadFile(sc.KeyFile)
		if err != nil {
			return fmt.Errorf("key_file: %w", err)
		}
		var f struct {
			Type         string `json:"type"`
			ClientEmail  string `json:"client_email"`
			PrivateKey   string `json:"private_key"`
			PrivateKeyID string `json:"private_key_id"`
			ClientID     string `json:"client_id"`
		}
		if err := json.Unmarshal(b, &f); err != nil {
			return fmt.Errorf("key_file %s: not a JSON key file", sc.KeyFile)
		}
		if f.Type != "service_account" {
			return fmt.Errorf("key_file %s: type %q, want service_account", sc.KeyFile, f.Type)
		}
		if !strings.EqualFold(f.ClientEmail, sc.Email) {
			return fmt.Errorf("key_file %s belongs to %s, not %s", sc.KeyFile, f.ClientEmail, sc.Email)
		}
		priv, err := parseRSAPrivateKey(f.PrivateKey)
		if err != nil {
			return fmt.Errorf("key_file %s: %w", sc.KeyFile, err)
		}
		pub = &priv.PublicKey
		if kid == "" {
			kid = f.PrivateKeyID
		}
		if clientID == "" {
			clientID = f.ClientID
		}
	case sc.PublicKey != "":
		var err error
		if pub, err = parseRSAPublicKey(sc.PublicKey); err != nil {
			return fmt.Errorf("public_key: %w", err)
		}
	default:
		return errors.New("key_file or public_key is required")
	}
	return s.addServiceAccountKey(sc.Email, kid, clientID, pub, sc.TokenCreators)
}

// RegisterServiceAccount adds a service account (or another key of one)
// whose jwt-bearer assertions the mock token endpoint accepts. keyID is its
// key file's private_key_id ("" when unknown). tokenCreators may impersonate
// it through generateIdToken (none: any principal holding a mock access
// token).
func (s *State) RegisterServiceAccount(email, keyID string, pub *rsa.PublicKey, tokenCreators ...string) error {
	if pub == nil {
		return errors.New("register service account: no public key")
	}
	return s.addServiceAccountKey(email, keyID, "", pub, tokenCreators)
}

func (s *State) addServiceAccountKey(email, keyID, clientID string, pub *rsa.PublicKey, creators []string) error {
	if i := strings.IndexByte(email, '@'); i <= 0 || i == len(email)-1 {
		return fmt.Errorf("%q is not a service account email", email)
	}
	if clientID == "" {
		clientID = numericID(email)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(email)
	sa, ok := s.accounts[key]
	if !ok {
		sa = &serviceAccount{email: email, uniqueID: clientID, keys: map[string]*rsa.PublicKey{}}
		s.accounts[key] = sa
	}
	sa.keys[keyID] = pub
	sa.tokenCreators = append(sa.tokenCreators, creators...)
	return nil
}

func (s *State) account(email string) (*serviceAccount, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sa, ok := s.accounts[strings.ToLower(email)]
	return sa, ok
}

// Issuer is the iss of the tokens the mock signs.
func (s *State) Issuer() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.issuer
}

// acceptedIssuers are the iss values a verifier accepts by default: the
// mock's issuer, plus the other spelling when it is Google's (docs/auth/google.md, "The mock gateway").
func (s *State) acceptedIssuers() []string {
	iss := s.Issuer()
	if iss == DefaultIssuer {
		return []string{DefaultIssuer, googleIssuerShort}
	}
	return []string{iss}
}

// TokenURL is the mock token endpoint's URL: the aud a jwt-bearer assertion
// must carry.
func (s *State) TokenURL() string { return s.baseURL + TokenPath }

// CertsURL is the mock's JWKS URL.
func (s *State) CertsURL() string { return s.baseURL + CertsPath }

// publicKey returns the verification key for kid.
func (s *State) publicKey(kid string) (*rsa.PublicKey, bool) { return s.keys.PublicKey(kid) }

// KeyIDs lists the published key ids, current first.
func (s *State) KeyIDs() []string { return s.keys.KeyIDs() }

// Rotate makes a fresh random key current; the current key becomes the
// previous one (still published and accepted) and the previous one is
// dropped, so tokens it signed stop verifying ("unknown key id"), as after
// two rotations at Google.
func (s *State) Rotate() error { return s.keys.Rotate() }

// Sign returns claims as an RS256 JWT signed with the current key (kid in
// the header). iss defaults to the mock's issuer, iat and exp to now and
// now + 1 h; a nil value removes a claim. Tests and the mock endpoints use
// it.
func (s *State) Sign(claims map[string]any) (string, error) {
	now := s.now()
	c := jwt.MapClaims{"iss": s.Issuer(), "iat": now.Unix(), "exp": now.Add(idTokenTTL).Unix()}
	for k, v := range claims {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return s.keys.Sign(c)
}

// issueAccess records a new opaque access token for principal.
func (s *State) issueAccess(principal string) (string, time.Time, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", time.Time{}, err
	}
	tok := "ya29.gwcurl-mock." + base64.RawURLEncoding.EncodeToString(b)
	now := s.now()
	exp := now.Add(accessTokenTTL)
	if s.shared != nil {
		b, err := json.Marshal(wireGrant{Principal: principal, Expires: exp})
		if err != nil {
			return "", time.Time{}, err
		}
		if err := s.shared.Set(grantKey(tok), b, accessTokenTTL+time.Hour); err != nil {
			return "", time.Time{}, fmt.Errorf("%w: %v", errStoreUnavailable, err)
		}
		return tok, exp, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.grants) >= maxAccessGrants {
		for k, g := range s.grants {
			if !now.Before(g.expires) {
				delete(s.grants, k)
			}
		}
		if len(s.grants) >= maxAccessGrants {
			// Still full: forget the grants closest to expiry.
			type kv struct {
				k string
				t time.Time
			}
			var all []kv
			for k, g := range s.grants {
				all = append(all, kv{k, g.expires})
			}
			sort.Slice(all, func(i, j int) bool { return all[i].t.Before(all[j].t) })
			for _, e := range all[:len(all)/2] {
				delete(s.grants, e.k)
			}
		}
	}
	s.grants[tok] = &accessGrant{principal: principal, expires: exp}
	return tok, exp, nil
}

// lookupAccess returns the principal of a valid access token.
func (s *State) lookupAccess(tok string) (string, bool) {
	if s.shared != nil { // an unreadable store refuses the token
		b, ok, err := s.shared.Get(grantKey(tok))
		var g wireGrant
		if err != nil || !ok || json.Unmarshal(b, &g) != nil || !s.now().Before(g.Expires) {
			return "", false
		}
		return g.Principal, true
	}
	s.mu.RLock()
	g, ok := s.grants[tok]
	s.mu.RUnlock()
	if !ok || !s.now().Before(g.expires) {
		return "", false
	}
	return g.principal, true
}

// errStoreUnavailable is a shared store the mock cannot write: answered
// 503, as Google answers an outage.
var errStoreUnavailable = errors.New("shared store unavailable")

// wireGrant is an access grant in the shared store, under the SHA-256 of
// the token.
type wireGrant struct {
	Principal string    `json:"p"`
	Expires   time.Time `json:"e"`
}

func grantKey(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return "google:access:" + hex.EncodeToString(h[:])
}

func (s *State) user(refreshToken string) (*oauthUser, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.users[refreshToken]
	return u, ok
}

func (s *State) metadataAccount() *serviceAccount {
	s.mu.RLock()
	email := s.metaSA
	s.mu.RUnlock()
	sa, _ := s.account(email)
	return sa
}

// jwks is the JWKS document of the published keys. The keys are seeded,
// so the store has nothing to generate and cannot fail.
func (s *State) jwks() mockkeys.JWKS {
	set, _ := s.keys.JWKS()
	return set
}

// pemCerts is the v1 certs document: kid → PEM certificate.
func (s *State) pemCerts() map[string]string {
	certs, _ := s.keys.PEMCerts()
	out := map[string]string{}
	for _, c := range certs {
		out[c.Kid] = c.PEM
	}
	return out
}

func parseRSAPrivateKey(p string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(p))
	if block == nil {
		return nil, errors.New("private key: no PEM block")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key is %T, want RSA", k)
	}
	return rk, nil
}

func parseRSAPublicKey(p string) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(p))
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	var k any
	var err error
	switch block.Type {
	case "CERTIFICATE":
		var c *x509.Certificate
		if c, err = x509.ParseCertificate(block.Bytes); err == nil {
			k = c.PublicKey
		}
	case "RSA PUBLIC KEY":
		k, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		k, err = x509.ParsePKIXPublicKey(block.Bytes)
	}
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key is %T, want RSA", k)
	}
	return rk, nil
}

// numericID derives a stable 21-digit id (the shape of Google's subject
// ids) from s.
func numericID(s string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(s)))
	n := new(big.Int).SetBytes(sum[:])
	n.Mod(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(20), nil))
	return fmt.Sprintf("1%020d", n)
}
