// Package magicmock is the mock gateway's passwordless "magic link"
// service: an app asks it to e-mail a sign-in link, the person opens the
// link, and the app's loopback listener receives an authorization code that
// it exchanges, with its PKCE verifier, for tokens (the Supabase PKCE
// pattern; docs/auth/magic-link.md, "The protocol"). Mail is not sent: it lands in a mailbox that
// tests and `gwcurl demo` read at /_mock/mailbox.
//
// # Endpoints
//
//	POST /_mock/magic/start        {email, redirect_uri, code_challenge, code_challenge_method: S256,
//	                                state, client_id?} → 202 {status, client_id, expires_in, security_code}
//	GET  /_mock/magic/verify?token=…   the e-mailed link: single use, expiring; 302 to
//	                                redirect_uri?code=…&state=…
//	POST /_mock/magic/token        authorization_code (code, code_verifier, redirect_uri, client_id)
//	                               and refresh_token grants → id_token, access_token, refresh_token
//	POST /_mock/magic/revoke       revokes a refresh token (RFC 7009)
//	GET  /_mock/magic/.well-known/openid-configuration, /_mock/magic/.well-known/jwks.json
//	GET  /_mock/mailbox?to=ADDRESS the messages sent to ADDRESS, newest last
//	                               [{to, subject, body, link, security_code, sent_at}]; DELETE empties it
//
// # Settings
//
//	mocks:
//	  magic:
//	    issuer: ...                # default ${base_url}/_mock/magic
//	    key_id: magic-             # prefix of the key ids
//	    link_ttl: 10m              # how long a link can be opened
//	    token_ttl: 1h
//	    refresh_ttl: 720h
//	    sends_per_minute: 5        # per address
//	    clients:
//	      - client_id: gwcurl-demo-magic
//	        callback_urls: [http://127.0.0.1/callback]
//
// # Rules (docs/auth/magic-link.md; RFC 7636, RFC 6749 §4.1)
//
// Link tokens and codes are random, kept only as hashes, single-use and
// short-lived. The link is bound to the session that asked for it: the code
// it yields is redeemable only with that session's PKCE verifier at the
// same redirect URI, so a link clicked by someone else logs nobody in. An
// address that is not a user gets the same answer and no mail (no account
// enumeration). Sends are rate-limited per address (429 with Retry-After).
package magicmock

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"gopkg.in/yaml.v3"

	"github.com/gwcurl/gwcurl/internal/demo"
	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/jwtverify"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/jwtverify/idp"
)

// Paths.
const (
	Prefix        = "/_mock/magic/"
	StartPath     = Prefix + "start"
	VerifyPath    = Prefix + "verify"
	TokenPath     = Prefix + "token"
	RevokePath    = Prefix + "revoke"
	DiscoveryPath = Prefix + ".well-known/openid-configuration"
	JWKSPath      = Prefix + ".well-known/jwks.json"
	MailboxPath   = "/_mock/mailbox"
)

const configKey = "mock:magic"

// Defaults and limits.
const (
	defaultLinkTTL    = 10 * time.Minute
	defaultTokenTTL   = time.Hour
	defaultRefreshTTL = 30 * 24 * time.Hour
	defaultSends      = 5
	codeTTL           = 2 * time.Minute
	maxLinks          = 10000
	maxMessages       = 1000
	maxLimiters       = 10000
	scope             = "openid email"
)

type config struct {
	Issuer         string             `yaml:"issuer"`
	KeyID          string             `yaml:"key_id"`
	LinkTTL        string             `yaml:"link_ttl"`
	TokenTTL       string             `yaml:"token_ttl"`
	RefreshTTL     string             `yaml:"refresh_ttl"`
	SendsPerMinute int                `yaml:"sends_per_minute"`
	Clients        []idp.ClientConfig `yaml:"clients"`
}

// DemoClients is the client registered when the config names none: the
// demo client gwcurl-demo-magic (docs/gateway.md, "The embedded demo") with loopback callbacks.
func DemoClients() []idp.ClientConfig {
	return []idp.ClientConfig{{
		ClientID:     demo.MagicClientID,
		CallbackURLs: []string{"http://127.0.0.1/callback", "http://[::1]/callback", "http://localhost/callback"},
	}}
}

// Message is one e-mail in the mailbox.
type Message struct {
	To           string    `json:"to"`
	Subject      string    `json:"subject"`
	Body         string    `json:"body"`
	Link         string    `json:"link"`
	SecurityCode string    `json:"security_code"`
	SentAt       time.Time `json:"sent_at"`
}

type link struct {
	clientID    string
	redirectURI string
	challenge   string
	state       string
	user        auth.User
	expires     time.Time
	used        bool
}

// wireLink is a link in the shared store (auth.Env.Store).
type wireLink struct {
	ClientID    string    `json:"c"`
	RedirectURI string    `json:"r"`
	Challenge   string    `json:"p"`
	State       string    `json:"s"`
	User        auth.User `json:"u"`
	Expires     time.Time `json:"e"`
}

func linkKey(tok string) string {
	h := idp.Hash(tok)
	return "magic:link:" + hex.EncodeToString(h[:])
}

// Provider is a running magic-link service.
type Provider struct {
	env        *auth.Env
	now        func() time.Time
	issuer     string
	keys       *idp.Keys
	store      *idp.Store
	clients    map[string]*idp.Client
	defClient  string // used when a start request names no client
	linkTTL    time.Duration
	tokenTTL   time.Duration
	refreshTTL time.Duration
	sends      int
	mux        *http.ServeMux

	mu       sync.Mutex
	links    map[[32]byte]*link
	mailbox  []Message
	limiters map[string]*rate.Limiter
}

// Interface guard.
var _ auth.MockFactory = Mocks

// Mocks builds the magic-link service and its mailbox and registers the
// issuer with the jwt verifiers.
func Mocks(env *auth.Env) ([]auth.Mock, error) {
	p, err := New(env)
	if err != nil {
		return nil, err
	}
	return []auth.Mock{
		{Prefix: Prefix, Handler: p},
		{Prefix: MailboxPath, Handler: http.HandlerFunc(p.serveMailbox)},
	}, nil
}

// New builds the provider from env.Shared["mock:magic"].
func New(env *auth.Env) (*Provider, error) {
	if env == nil {
		return nil, errors.New("magic-link mock: no gateway environment")
	}
	node, _ := env.Shared[configKey].(*yaml.Node)
	if err := idp.KnownKeys(node, "mocks.magic", "issuer", "key_id", "link_ttl", "token_ttl", "refresh_ttl", "sends_per_minute", "clients"); err != nil {
		return nil, fmt.Errorf("magic-link mock: %w", err)
	}
	var c config
	if node != nil {
		if err := node.Decode(&c); err != nil {
			return nil, fmt.Errorf("magic-link mock: mocks.magic: %w", err)
		}
	}
	now := env.Now
	if now == nil {
		now = time.Now
	}
	p := &Provider{env: env, now: now, clients: map[string]*idp.Client{}, links: map[[32]byte]*link{}, limiters: map[string]*rate.Limiter{}}
	var err error
	if p.linkTTL, err = idp.Duration(c.LinkTTL, "mocks.magic.link_ttl", defaultLinkTTL, 10*time.Second, time.Hour); err != nil {
		return nil, fmt.Errorf("magic-link mock: %w", err)
	}
	if p.tokenTTL, err = idp.Duration(c.TokenTTL, "mocks.magic.token_ttl", defaultTokenTTL, 5*time.Minute, 24*time.Hour); err != nil {
		return nil, fmt.Errorf("magic-link mock: %w", err)
	}
	if p.refreshTTL, err = idp.Duration(c.RefreshTTL, "mocks.magic.refresh_ttl", defaultRefreshTTL, time.Hour, 3650*24*time.Hour); err != nil {
		return nil, fmt.Errorf("magic-link mock: %w", err)
	}
	switch {
	case c.SendsPerMinute == 0:
		p.sends = defaultSends
	case c.SendsPerMinute < 0 || c.SendsPerMinute > 1000:
		return nil, errors.New("magic-link mock: mocks.magic.sends_per_minute: want 1 to 1000")
	default:
		p.sends = c.SendsPerMinute
	}
	p.store = idp.NewStore(now, codeTTL)
	if env.Store != nil { // several gateway instances: one provider
		p.store.Share(env.Store, "magic")
	}
	kid := c.KeyID
	if kid == "" {
		kid = "magic-"
	}
	p.keys = idp.NewSharedKeys(kid, env, "magic")
	if len(c.Clients) == 0 {
		c.Clients = DemoClients()
	}
	for i, cc := range c.Clients {
		cl, err := idp.NewClient(cc, fmt.Sprintf("mocks.magic.clients[%d]", i), []string{"openid", "email"})
		if err != nil {
			return nil, fmt.Errorf("magic-link mock: %w", err)
		}
		if _, dup := p.clients[cl.ID]; dup {
			return nil, fmt.Errorf("magic-link mock: mocks.magic.clients[%d]: client_id %s appears twice", i, cl.ID)
		}
		p.clients[cl.ID] = cl
		if i == 0 {
			p.defClient = cl.ID
		}
	}
	switch {
	case c.Issuer != "":
		u, err := url.Parse(c.Issuer)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.HasSuffix(c.Issuer, "/") {
			return nil, fmt.Errorf("magic-link mock: mocks.magic.issuer %q: want an http(s) URL without a trailing slash", c.Issuer)
		}
		p.issuer = c.Issuer
	case env.BaseURL != "":
		p.issuer = strings.TrimSuffix(env.BaseURL, "/") + strings.TrimSuffix(Prefix, "/")
	}
	if p.issuer != "" {
		if err := jwtverify.RegisterIssuer(env, p.issuer, p.keys); err != nil {
			return nil, fmt.Errorf("magic-link mock: %w", err)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc(StartPath, p.start)
	mux.HandleFunc("GET "+VerifyPath, p.verify)
	mux.HandleFunc(TokenPath, p.token)
	mux.HandleFunc(RevokePath, p.revoke)
	mux.HandleFunc("GET "+DiscoveryPath, p.discovery)
	mux.HandleFunc("GET "+JWKSPath, p.jwks)
	mux.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		idp.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "error_description": "no magic-link endpoint at " + r.Method + " " + r.URL.Path})
	})
	p.mux = mux
	return p, nil
}

// ServeHTTP implements http.Handler for the paths under Prefix.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.mux.ServeHTTP(w, r) }

// Keys returns the issuer's signing keys.
func (p *Provider) Keys() *idp.Keys { return p.keys }

// Mailbox returns the messages sent to addr (every message when addr is
// empty), oldest first.
func (p *Provider) Mailbox(addr string) []Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := []Message{}
	for _, m := range p.mailbox {
		if addr == "" || strings.EqualFold(m.To, addr) {
			out = append(out, m)
		}
	}
	return out
}

func (p *Provider) base(r *http.Request) string {
	if p.env.BaseURL != "" {
		return strings.TrimSuffix(p.env.BaseURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (p *Provider) issuerFor(r *http.Request) string {
	if p.issuer != "" {
		return p.issuer
	}
	return p.base(r) + strings.TrimSuffix(Prefix, "/")
}

// startRequest is the body of POST /start (JSON, or a form).
type startRequest struct {
	Email               string `json:"email"`
	ClientID            string `json:"client_id"`
	RedirectURI         string `json:"redirect_uri"`
	CodeChallenge       string `json:"code_challenge"`
	CodeChallengeMethod string `json:"code_challenge_method"`
	State               string `json:"state"`
}

func (p *Provider) start(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		idp.WriteError(w, &idp.OAuthError{Status: http.StatusMethodNotAllowed, Code: "invalid_request", Description: "use POST"})
		return
	}
	var sr startRequest
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&sr); err != nil {
			idp.WriteError(w, idp.Errorf("invalid_request", "cannot read the JSON body: %v", err))
			return
		}
	case "application/x-www-form-urlencoded":
		form, err := idp.ParseForm(w, r)
		if err != nil {
			idp.WriteError(w, err)
			return
		}
		sr = startRequest{Email: form.Get("email"), ClientID: form.Get("client_id"), RedirectURI: form.Get("redirect_uri"),
			CodeChallenge: form.Get("code_challenge"), CodeChallengeMethod: form.Get("code_challenge_method"), State: form.Get("state")}
	default:
		idp.WriteError(w, idp.Errorf("invalid_request", "want a JSON or form body"))
		return
	}
	if sr.ClientID == "" {
		sr.ClientID = p.defClient
	}
	c, ok := p.clients[sr.ClientID]
	switch {
	case !ok:
		idp.WriteError(w, &idp.OAuthError{Status: http.StatusBadRequest, Code: "invalid_client", Description: "unknown client " + strconv.Quote(sr.ClientID)})
		return
	case !idp.MatchRedirect(c.CallbackURLs, sr.RedirectURI):
		idp.WriteError(w, idp.Errorf("invalid_request", "redirect_uri %q is not a callback URL of client %s", sr.RedirectURI, c.ID))
		return
	case sr.CodeChallengeMethod != "S256":
		idp.WriteError(w, idp.Errorf("invalid_request", "code_challenge_method must be S256"))
		return
	case !idp.ValidChallenge(sr.CodeChallenge):
		idp.WriteError(w, idp.Errorf("invalid_request", "code_challenge must be the base64url SHA-256 of the code verifier"))
		return
	case len(sr.State) > 2048:
		idp.WriteError(w, idp.Errorf("invalid_request", "state is too long"))
		return
	}
	addr, err := mail.ParseAddress(sr.Email)
	if err != nil || addr.Name != "" || !strings.Contains(addr.Address, "@") {
		idp.WriteError(w, idp.Errorf("invalid_request", "email must be an e-mail address such as someone@example.com"))
		return
	}
	email := strings.ToLower(addr.Address)
	now := p.now()
	if wait, ok := p.allow(email, now); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds()+0.999)))
		idp.WriteJSON(w, http.StatusTooManyRequests, map[string]string{"error": "slow_down", "error_description": "too many sign-in links for this address; try again later"})
		return
	}
	code := securityCode()
	if u := idp.FindUser(p.env.Users, email); u != nil {
		tok := idp.RandomToken(32)
		lk := &link{clientID: c.ID, redirectURI: sr.RedirectURI, challenge: sr.CodeChallenge, state: sr.State, user: *u, expires: now.Add(p.linkTTL)}
		if err := p.addLink(tok, lk, now); err != nil {
			idp.WriteError(w, &idp.OAuthError{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Description: err.Error()})
			return
		}
		href := p.base(r) + VerifyPath + "?token=" + tok
		p.deliver(Message{
			To:      u.Email,
			Subject: "Your sign-in link for " + c.ID,
			Body: "Hello,\n\nopen this link to sign in to " + c.ID + ":\n\n" + href + "\n\n" +
				"The link works once, on the device that asked for it, for " + p.linkTTL.String() + ".\n" +
				"Security code: " + code + " (check that the app shows the same code).\n" +
				"If you did not ask to sign in, ignore this message.\n",
			Link:         href,
			SecurityCode: code,
			SentAt:       now.UTC(),
		})
	}
	// The same answer whether or not the address is a user.
	idp.WriteJSON(w, http.StatusAccepted, map[string]any{
		"status":        "sent",
		"client_id":     c.ID,
		"expires_in":    int(p.linkTTL.Seconds()),
		"security_code": code,
	})
}

// allow applies the per-address send limit.
func (p *Provider) allow(email string, now time.Time) (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.limiters[email]
	if !ok {
		if len(p.limiters) >= maxLimiters {
			clear(p.limiters)
		}
		l = rate.NewLimiter(rate.Every(time.Minute/time.Duration(p.sends)), p.sends)
		p.limiters[email] = l
	}
	res := l.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}

func (p *Provider) addLink(tok string, lk *link, now time.Time) error {
	if st := p.env.Store; st != nil {
		b, err := json.Marshal(wireLink{ClientID: lk.clientID, RedirectURI: lk.redirectURI, Challenge: lk.challenge,
			State: lk.state, User: lk.user, Expires: lk.expires})
		if err != nil {
			return err
		}
		if err := st.Set(linkKey(tok), b, lk.expires.Sub(now)+time.Hour); err != nil {
			return fmt.Errorf("shared store unavailable: %w", err)
		}
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.links) >= maxLinks {
		for k, v := range p.links {
			if v.used || now.After(v.expires) {
				delete(p.links, k)
			}
		}
		if len(p.links) >= maxLinks {
			return idp.ErrFull
		}
	}
	p.links[idp.Hash(tok)] = lk
	return nil
}

func (p *Provider) deliver(m Message) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mailbox = append(p.mailbox, m)
	if len(p.mailbox) > maxMessages {
		p.mailbox = append([]Message(nil), p.mailbox[len(p.mailbox)-maxMessages:]...)
	}
}

// securityCode is shown by the app and in the mail, so a person can tell
// that the mail belongs to the sign-in they started (docs/auth/magic-link.md, "The protocol").
func securityCode() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	raw := idp.RandomToken(8)
	b := make([]byte, 0, 9)
	for i := 0; i < 8; i++ {
		if i == 4 {
			b = append(b, '-')
		}
		b = append(b, alphabet[int(raw[i])%len(alphabet)])
	}
	return string(b)
}

// verify is the e-mailed link.
func (p *Provider) verify(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	now := p.now()
	lk, taken, err := p.takeShared(tok)
	if err != nil {
		idp.WritePage(w, http.StatusServiceUnavailable, idp.Page{Title: "Sign-in link", Error: err.Error()})
		return
	}
	p.mu.Lock()
	if p.env.Store == nil {
		lk = p.links[idp.Hash(tok)]
	}
	var problem string
	var status int
	switch {
	case tok == "" || lk == nil:
		problem, status = "This sign-in link is not valid.", http.StatusBadRequest
	case lk.used || taken:
		problem, status = "This sign-in link was already used. Ask for a new one.", http.StatusGone
	case now.After(lk.expires):
		problem, status = "This sign-in link has expired. Ask for a new one.", http.StatusGone
	default:
		lk.used = true
	}
	p.mu.Unlock()
	if problem != "" {
		idp.WritePage(w, status, idp.Page{Title: "Sign-in link", Error: problem})
		return
	}
	code, err := p.store.IssueCode(idp.Grant{ClientID: lk.clientID, RedirectURI: lk.redirectURI, Challenge: lk.challenge,
		Scope: scope, State: lk.state, User: lk.user, AuthTime: now})
	if err != nil {
		idp.WritePage(w, http.StatusServiceUnavailable, idp.Page{Title: "Sign-in link", Error: err.Error()})
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, idp.AppendQuery(lk.redirectURI, url.Values{"code": {code}, "state": {lk.state}}), http.StatusFound)
}

// takeShared spends a link token in the shared store: the link, and
// whether an earlier take (at any gateway instance) spent it already. Without
// a shared store it returns nothing.
func (p *Provider) takeShared(tok string) (*link, bool, error) {
	if p.env.Store == nil || tok == "" {
		return nil, false, nil
	}
	v, first, ok, err := p.env.Store.Take(linkKey(tok))
	if err != nil {
		return nil, false, fmt.Errorf("shared store unavailable: %w", err)
	}
	var wl wireLink
	if !ok || json.Unmarshal(v, &wl) != nil {
		return nil, false, nil
	}
	return &link{clientID: wl.ClientID, redirectURI: wl.RedirectURI, challenge: wl.Challenge, state: wl.State,
		user: wl.User, expires: wl.Expires}, !first, nil
}

func (p *Provider) serveMailbox(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != MailboxPath {
		idp.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "not_found"})
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		idp.WriteJSON(w, http.StatusOK, p.Mailbox(r.URL.Query().Get("to")))
	case http.MethodDelete:
		p.mu.Lock()
		p.mailbox = nil
		p.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, HEAD, DELETE")
		idp.WriteJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method_not_allowed"})
	}
}
