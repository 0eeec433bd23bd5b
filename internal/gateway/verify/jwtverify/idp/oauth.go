package idp

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/hostcheck"
)

// Client is a registered OAuth app client.
type Client struct {
	ID string
	// secretHash is the SHA-256 of the client secret; hasSecret says the
	// client is confidential and must authenticate at the token endpoint.
	secretHash [32]byte
	hasSecret  bool
	// CallbackURLs and LogoutURLs are matched exactly, except that the port
	// of an http loopback URL is ignored (RFC 8252 §7.3).
	CallbackURLs []string
	LogoutURLs   []string
	// Scopes the client may ask for.
	Scopes []string
}

// ClientConfig is a client as written in a mock's config.
type ClientConfig struct {
	ClientID     string   `yaml:"client_id"`
	ClientSecret string   `yaml:"client_secret"`
	CallbackURLs []string `yaml:"callback_urls"`
	LogoutURLs   []string `yaml:"logout_urls"`
	Scopes       []string `yaml:"scopes"`
}

// NewClient validates a configured client. where names it in errors.
func NewClient(c ClientConfig, where string, defaultScopes []string) (*Client, error) {
	if c.ClientID == "" {
		return nil, fmt.Errorf("%s.client_id is required", where)
	}
	if len(c.CallbackURLs) == 0 {
		return nil, fmt.Errorf("%s.callback_urls: list at least one callback URL, such as http://127.0.0.1/callback", where)
	}
	for i, u := range append(slices.Clone(c.CallbackURLs), c.LogoutURLs...) {
		if err := checkRegisteredURL(u); err != nil {
			list := "callback_urls"
			if i >= len(c.CallbackURLs) {
				list, i = "logout_urls", i-len(c.CallbackURLs)
			}
			return nil, fmt.Errorf("%s.%s[%d]: %w", where, list, i, err)
		}
	}
	cl := &Client{ID: c.ClientID, CallbackURLs: c.CallbackURLs, LogoutURLs: c.LogoutURLs, Scopes: c.Scopes}
	if len(cl.Scopes) == 0 {
		cl.Scopes = defaultScopes
	}
	if c.ClientSecret != "" {
		cl.secretHash, cl.hasSecret = sha256.Sum256([]byte(c.ClientSecret)), true
	}
	return cl, nil
}

// Confidential reports whether the client has a secret.
func (c *Client) Confidential() bool { return c.hasSecret }

// checkRegisteredURL applies Cognito's rule to a registered callback or
// sign-out URL: https, or http only to a loopback host; no fragment.
func checkRegisteredURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return fmt.Errorf("%q is not an absolute URL", s)
	}
	if u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q: a callback URL has no fragment and no user info", s)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !hostcheck.RedirectLoopback(u.Hostname()) {
			return fmt.Errorf("%q: http is allowed only for 127.0.0.1, [::1] and localhost", s)
		}
	default:
		// Custom schemes (myapp://callback) are allowed, as in Cognito.
		if u.Host == "" && u.Opaque == "" && u.Path == "" {
			return fmt.Errorf("%q is not a usable callback URL", s)
		}
	}
	return nil
}

// MatchRedirect reports whether got is one of the registered URLs: a
// byte-for-byte match, or, for http loopback URLs, the same host, path and
// query on any port (RFC 8252 §7.3). The URL is parsed, never
// matched with a pattern, so http://localhost:pw@evil.example/ or
// http://127.0.0.1.evil.example/ never match.
func MatchRedirect(registered []string, got string) bool {
	if got == "" {
		return false
	}
	if slices.Contains(registered, got) {
		return true
	}
	g, ok := parseLoopback(got)
	if !ok {
		return false
	}
	for _, r := range registered {
		if rr, ok := parseLoopback(r); ok && rr.host == g.host && rr.path == g.path && rr.query == g.query {
			return true
		}
	}
	return false
}

type loopbackURL struct{ host, path, query string }

// parseLoopback parses an http loopback URL strictly: scheme http, host
// exactly 127.0.0.1, [::1] or localhost, an optional numeric port, no user
// info, no fragment, nothing that URL parsers disagree about.
func parseLoopback(s string) (loopbackURL, bool) {
	if strings.ContainsAny(s, "\\ \t\r\n#@") || !strings.HasPrefix(s, "http://") {
		return loopbackURL{}, false
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Opaque != "" || u.Fragment != "" || u.ForceQuery {
		return loopbackURL{}, false
	}
	host, port := u.Hostname(), u.Port()
	if !hostcheck.RedirectLoopback(host) {
		return loopbackURL{}, false
	}
	// The authority must be exactly host[:port] as parsed.
	want := host
	if strings.Contains(host, ":") {
		want = "[" + host + "]"
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			return loopbackURL{}, false
		}
		want += ":" + port
	}
	if u.Host != want {
		return loopbackURL{}, false
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	return loopbackURL{host: host, path: p, query: u.RawQuery}, true
}

// ValidChallenge reports whether s can be an S256 code challenge: the
// unpadded base64url of 32 bytes.
func ValidChallenge(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// ValidVerifier reports whether v is a PKCE code verifier: 43 to 128
// characters of [A-Za-z0-9-._~] (RFC 7636 §4.1).
func ValidVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// VerifyS256 checks a code verifier against an S256 challenge in constant
// time.
func VerifyS256(challenge, verifier string) bool {
	if !ValidVerifier(verifier) {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// CheckPassword finds a user by e-mail (case-insensitive) and compares the
// password in constant time. It returns nil for an unknown user or a wrong
// password alike.
func CheckPassword(users []auth.User, email, password string) *auth.User {
	var found *auth.User
	for i := range users {
		if strings.EqualFold(users[i].Email, strings.TrimSpace(email)) {
			found = &users[i]
		}
	}
	want := []byte("\x00no such user\x00")
	if found != nil {
		want = []byte(found.Password)
	}
	a, b := sha256.Sum256([]byte(password)), sha256.Sum256(want)
	if subtle.ConstantTimeCompare(a[:], b[:]) != 1 || found == nil {
		return nil
	}
	return found
}

// FindUser returns the user with this e-mail (case-insensitive), or nil.
func FindUser(users []auth.User, email string) *auth.User {
	for i := range users {
		if strings.EqualFold(users[i].Email, strings.TrimSpace(email)) {
			return &users[i]
		}
	}
	return nil
}

// ---- codes and sessions ----

// Grant is what an authorization code stands for.
type Grant struct {
	ClientID    string
	RedirectURI string
	Challenge   string // S256 code challenge
	Scope       string
	Nonce       string
	State       string
	User        auth.User
	AuthTime    time.Time
}

// Session is a refresh token's login: the user, the client and the scope.
// Tokens minted from it carry its ID as origin_jti, so revoking the session
// revokes them (at the provider's own endpoints).
type Session struct {
	ID       string // origin_jti
	ClientID string
	Scope    string
	User     auth.User
	AuthTime time.Time
	Expires  time.Time
	Revoked  bool
}

type codeEntry struct {
	g        Grant
	expires  time.Time
	redeemed bool
	session  string // the session the code was exchanged for, revoked on replay
}

// Limits on what a provider keeps in memory, so a flood of authorizations
// cannot grow the gateway without bound.
const (
	maxCodes    = 10000
	maxSessions = 10000
)

// ErrFull is returned when a store holds its maximum of live entries.
var ErrFull = errors.New("too many pending logins; try again later")

// Store keeps a provider's authorization codes and refresh sessions, by
// the SHA-256 of the code or token. It is safe for concurrent use.
type Store struct {
	now     func() time.Time
	codeTTL time.Duration
	kv      auth.SharedStore // set by Share: the state lives there, not in the maps
	ns      string

	mu       sync.Mutex
	codes    map[[32]byte]*codeEntry
	sessions map[[32]byte]*Session // by refresh token hash
	byID     map[string]*Session   // by session id
}

// NewStore returns an empty store whose codes live codeTTL.
func NewStore(now func() time.Time, codeTTL time.Duration) *Store {
	return &Store{now: now, codeTTL: codeTTL, codes: map[[32]byte]*codeEntry{}, sessions: map[[32]byte]*Session{}, byID: map[string]*Session{}}
}

// IssueCode records g and returns a fresh single-use code.
func (s *Store) IssueCode(g Grant) (string, error) {
	if s.kv != nil {
		return s.issueShared(g)
	}
	code := RandomToken(32)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.codes) >= maxCodes {
		for k, e := range s.codes {
			if now.After(e.expires) {
				delete(s.codes, k)
			}
		}
		if len(s.codes) >= maxCodes {
			return "", ErrFull
		}
	}
	s.codes[Hash(code)] = &codeEntry{g: g, expires: now.Add(s.codeTTL)}
	return code, nil
}

// Code redemption failures (all answered as invalid_grant).
var (
	ErrCodeUnknown  = errors.New("authorization code is not valid")
	ErrCodeReplayed = errors.New("authorization code was already used; the tokens issued for it are revoked")
	ErrCodeExpired  = errors.New("authorization code expired")
)

// RedeemCode takes a code once. A second redemption fails with
// ErrCodeReplayed and revokes the session the first one created (RFC 6749
// §4.1.2: a replayed code may have been stolen). check validates the
// grant (client, redirect URI, verifier) before the code is spent; a failed
// check spends it too, so a stolen code cannot be brute-forced against the
// verifier.
func (s *Store) RedeemCode(code string, check func(*Grant) error) (*Grant, error) {
	if s.kv != nil {
		return s.redeemShared(code, check)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := Hash(code)
	e, ok := s.codes[h]
	if !ok {
		return nil, ErrCodeUnknown
	}
	if e.redeemed {
		if sess := s.byID[e.session]; sess != nil {
			sess.Revoked = true
		}
		return nil, ErrCodeReplayed
	}
	e.redeemed = true
	if s.now().After(e.expires) {
		return nil, ErrCodeExpired
	}
	if err := check(&e.g); err != nil {
		return nil, err
	}
	g := e.g
	return &g, nil
}

// BindCode records which session a redeemed code created.
func (s *Store) BindCode(code, sessionID string) {
	if s.kv != nil {
		s.bindShared(code, sessionID)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.codes[Hash(code)]; ok {
		e.session = sessionID
	}
}

// NewSession starts a refresh session and returns its refresh token.
func (s *Store) NewSession(sess Session, ttl time.Duration) (string, *Session, error) {
	if s.kv != nil {
		return s.newSessionShared(sess, ttl)
	}
	rt := RandomToken(48)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.sessions) >= maxSessions {
		for k, v := range s.sessions {
			if v.Revoked || now.After(v.Expires) {
				delete(s.sessions, k)
				delete(s.byID, v.ID)
			}
		}
		if len(s.sessions) >= maxSessions {
			return "", nil, ErrFull
		}
	}
	sess.ID = RandomToken(16)
	sess.Expires = now.Add(ttl)
	p := &sess
	s.sessions[Hash(rt)] = p
	s.byID[p.ID] = p
	return rt, p, nil
}

// Refresh failures (answered as invalid_grant).
var (
	ErrRefreshUnknown = errors.New("refresh token is not valid")
	ErrRefreshRevoked = errors.New("refresh token has been revoked")
	ErrRefreshExpired = errors.New("refresh token has expired")
)

// Session returns a refresh token's live session.
func (s *Store) Session(refreshToken string) (*Session, error) {
	if s.kv != nil {
		return s.sessionShared(refreshToken)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[Hash(refreshToken)]
	switch {
	case !ok:
		return nil, ErrRefreshUnknown
	case sess.Revoked:
		return nil, ErrRefreshRevoked
	case s.now().After(sess.Expires):
		return nil, ErrRefreshExpired
	}
	c := *sess
	return &c, nil
}

// LookupRefresh returns a refresh token's session even if it is revoked or
// expired (for revocation), or nil.
func (s *Store) LookupRefresh(refreshToken string) *Session {
	if s.kv != nil {
		sess, _ := s.lookupShared(refreshToken)
		return sess
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess, ok := s.sessions[Hash(refreshToken)]; ok {
		c := *sess
		return &c
	}
	return nil
}

// Revoke revokes a session by id.
func (s *Store) Revoke(sessionID string) {
	if s.kv != nil {
		s.revokeShared(sessionID)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess := s.byID[sessionID]; sess != nil {
		sess.Revoked = true
	}
}

// Live reports whether the session with this id exists and is neither
// revoked nor expired.
func (s *Store) Live(sessionID string) bool {
	if s.kv != nil {
		return s.liveShared(sessionID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.byID[sessionID]
	return sess != nil && !sess.Revoked && !s.now().After(sess.Expires)
}

// ---- the token endpoint's conversation ----

// OAuthError is an RFC 6749 §5.2 error answer.
type OAuthError struct {
	Status      int
	Code        string // invalid_request, invalid_client, invalid_grant, ...
	Description string
}

func (e *OAuthError) Error() string { return e.Code + ": " + e.Description }

// Errorf builds a 400 OAuthError.
func Errorf(code, format string, args ...any) *OAuthError {
	return &OAuthError{Status: http.StatusBadRequest, Code: code, Description: fmt.Sprintf(format, args...)}
}

// WriteError answers an OAuthError as JSON (an invalid_client with Basic
// auth as 401 with WWW-Authenticate, RFC 6749 §5.2).
func WriteError(w http.ResponseWriter, err error) {
	var oe *OAuthError
	if !errors.As(err, &oe) {
		oe = &OAuthError{Status: http.StatusInternalServerError, Code: "server_error", Description: err.Error()}
	}
	if oe.Status == 0 {
		oe.Status = http.StatusBadRequest
	}
	if oe.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="token endpoint"`)
	}
	WriteJSON(w, oe.Status, map[string]string{"error": oe.Code, "error_description": oe.Description})
}

// WriteJSON answers v as JSON with Cache-Control: no-store (RFC 6749 §5.1).
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// maxForm bounds a token or revocation request's body.
const maxForm = 64 << 10

// ParseForm reads an application/x-www-form-urlencoded POST body.
func ParseForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	if r.Method != http.MethodPost {
		return nil, &OAuthError{Status: http.StatusMethodNotAllowed, Code: "invalid_request", Description: "use POST"}
	}
	ct := r.Header.Get("Content-Type")
	if mt, _, _ := strings.Cut(ct, ";"); !strings.EqualFold(strings.TrimSpace(mt), "application/x-www-form-urlencoded") {
		return nil, Errorf("invalid_request", "want Content-Type application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return nil, Errorf("invalid_request", "cannot read the form: %v", err)
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			return nil, Errorf("invalid_request", "parameter %s appears more than once", k)
		}
	}
	return r.PostForm, nil
}

// AuthenticateClient finds the client of a token or revocation request and
// checks its credentials: HTTP Basic (client_secret_basic) or client_id and
// client_secret in the form (client_secret_post); a public client sends only
// client_id. Failures are invalid_client.
func AuthenticateClient(r *http.Request, form url.Values, clients map[string]*Client) (*Client, error) {
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 §2.3.1: the Basic credentials are form-urlencoded.
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return nil, &OAuthError{Status: http.StatusUnauthorized, Code: "invalid_client", Description: "malformed Basic credentials"}
		}
		if fid := form.Get("client_id"); fid != "" && fid != id {
			return nil, Errorf("invalid_request", "client_id in the form differs from the Basic credentials")
		}
		if form.Get("client_secret") != "" {
			return nil, Errorf("invalid_request", "send the client secret one way only (Basic or form)")
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	if id == "" {
		return nil, Errorf("invalid_request", "client_id is required")
	}
	c, ok := clients[id]
	if !ok {
		return nil, &OAuthError{Status: http.StatusUnauthorized, Code: "invalid_client", Description: "unknown client " + strconv.Quote(id)}
	}
	switch {
	case c.hasSecret && secret == "":
		return nil, &OAuthError{Status: http.StatusUnauthorized, Code: "invalid_client", Description: "client " + id + " is confidential: authenticate with its secret"}
	case c.hasSecret:
		sum := sha256.Sum256([]byte(secret))
		if subtle.ConstantTimeCompare(sum[:], c.secretHash[:]) != 1 {
			return nil, &OAuthError{Status: http.StatusUnauthorized, Code: "invalid_client", Description: "client secret mismatch for client " + id}
		}
	case secret != "":
		return nil, &OAuthError{Status: http.StatusUnauthorized, Code: "invalid_client", Description: "client " + id + " is public and has no secret"}
	}
	return c, nil
}

// ScopeSubset checks requested (space-separated) against allowed and
// returns the normalized scope.
func ScopeSubset(requested string, allowed []string) (string, error) {
	fields := strings.Fields(requested)
	if len(fields) == 0 {
		return strings.Join(allowed, " "), nil
	}
	var out []string
	for _, s := range fields {
		if !slices.Contains(allowed, s) {
			return "", fmt.Errorf("scope %q is not allowed for this client (allowed: %s)", s, strings.Join(allowed, " "))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return strings.Join(out, " "), nil
}

// HasScope reports whether a space-separated scope string contains s.
func HasScope(scope, s string) bool {
	return slices.Contains(strings.Fields(scope), s)
}

// AtHash is the OIDC at_hash of an RS256-signed access token: the left half
// of its SHA-256, base64url (OIDC Core §3.1.3.6).
func AtHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// AppendQuery adds parameters to a redirect URI, keeping its own query.
func AppendQuery(redirectURI string, params url.Values) string {
	u, err := url.Parse(redirectURI)
	if err != nil {
		return redirectURI
	}
	q := u.Query()
	for k, v := range params {
		for _, x := range v {
			if x != "" {
				q.Add(k, x)
			}
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}
