// Package cognitomock is the mock gateway's Amazon Cognito user pool: the
// managed login (Hosted UI) endpoints and the pool's OIDC issuer, served
// under /_mock/cognito/, so `gwcurl login` runs a real authorization code +
// PKCE login offline and the gateway's `jwt` routes verify the tokens.
//
// # Endpoints (docs/auth/cognito.md, "The mock user pool")
//
//	GET  /_mock/cognito/.well-known/openid-configuration   discovery
//	GET  /_mock/cognito/.well-known/jwks.json              the pool's keys
//	GET  /_mock/cognito/oauth2/authorize                   the login page (username, password)
//	POST /_mock/cognito/oauth2/authorize                   the form; 302 to the callback with code and state
//	POST /_mock/cognito/oauth2/token                       authorization_code (+PKCE) and refresh_token grants
//	GET  /_mock/cognito/oauth2/userInfo                    claims of an access token's user
//	POST /_mock/cognito/oauth2/revoke                      revokes a refresh token and its tokens
//	GET  /_mock/cognito/logout                             302 to a registered logout_uri
//
// # Settings
//
// The gateway config's `mocks: {cognito: ...}` block:
//
//	mocks:
//	  cognito:
//	    issuer: https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example  # default ${base_url}/_mock/cognito
//	    key_id: demo-                  # prefix of the key ids (kid)
//	    token_ttl: 1h                  # ID and access tokens (Cognito's default)
//	    refresh_ttl: 720h              # refresh tokens (Cognito's default, 30 days)
//	    code_ttl: 5m                   # authorization codes (Cognito: 5 minutes)
//	    clients:
//	      - client_id: gwcurl-demo
//	        client_secret: ...         # optional: a confidential client
//	        callback_urls: [http://127.0.0.1/callback]
//	        logout_urls: [http://127.0.0.1/logout]
//	        scopes: [openid, email, profile]
//
// Users are the gateway's `users:` (e-mail and password); the e-mail is the
// user name. Without clients the demo client gwcurl-demo is registered.
//
// # Rules
//
// Redirect URIs match a registered callback byte for byte, except that an
// http loopback callback (127.0.0.1, [::1], localhost) matches on any port
// (RFC 8252 §7.3; real Cognito wants the exact port, so register the port
// you set as redirect_port there). PKCE S256 is required ("plain" is
// refused). Codes are single-use, bound to the client, the redirect URI and
// the challenge; a replayed code revokes the tokens issued for it. Tokens
// have Cognito's claims: token_use, cognito:username, aud in ID tokens,
// client_id and scope in access tokens, origin_jti and event_id in both.
package cognitomock

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gwcurl/gwcurl/internal/demo"
	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/jwtverify"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/jwtverify/idp"
)

// Paths.
const (
	Prefix        = "/_mock/cognito/"
	DiscoveryPath = Prefix + ".well-known/openid-configuration"
	JWKSPath      = Prefix + ".well-known/jwks.json"
	AuthorizePath = Prefix + "oauth2/authorize"
	TokenPath     = Prefix + "oauth2/token"
	UserInfoPath  = Prefix + "oauth2/userInfo"
	RevokePath    = Prefix + "oauth2/revoke"
	LogoutPath    = Prefix + "logout"
)

// configKey is where the frame puts the `mocks: {cognito: ...}` block.
const configKey = "mock:cognito"

// Scopes a Cognito app client can be allowed.
var cognitoScopes = []string{"openid", "email", "phone", "profile", "aws.cognito.signin.user.admin"}

// Defaults, as in Cognito.
const (
	defaultTokenTTL   = time.Hour
	defaultRefreshTTL = 30 * 24 * time.Hour
	defaultCodeTTL    = 5 * time.Minute
)

type config struct {
	Issuer     string             `yaml:"issuer"`
	KeyID      string             `yaml:"key_id"`
	TokenTTL   string             `yaml:"token_ttl"`
	RefreshTTL string             `yaml:"refresh_ttl"`
	CodeTTL    string             `yaml:"code_ttl"`
	Clients    []idp.ClientConfig `yaml:"clients"`
}

// DemoClients is the client registered when the config names none: the
// demo app client gwcurl-demo (docs/gateway.md, "The embedded demo"), public, loopback callbacks.
func DemoClients() []idp.ClientConfig {
	return []idp.ClientConfig{{
		ClientID:     demo.CognitoClientID,
		CallbackURLs: []string{"http://127.0.0.1/callback", "http://[::1]/callback", "http://localhost/callback"},
		LogoutURLs:   []string{"http://127.0.0.1/logout", "http://localhost/logout"},
		Scopes:       []string{"openid", "email", "profile"},
	}}
}

// Provider is a running mock user pool. It is an http.Handler for the
// paths under Prefix.
type Provider struct {
	env        *auth.Env
	now        func() time.Time
	issuer     string // "" means derived from the request's Host
	keys       *idp.Keys
	store      *idp.Store
	clients    map[string]*idp.Client
	tokenTTL   time.Duration
	refreshTTL time.Duration
	mux        *http.ServeMux
}

// Interface guard.
var _ auth.MockFactory = Mocks

// Mocks builds the mock user pool of a gateway and registers its issuer
// with the jwt verifiers.
func Mocks(env *auth.Env) ([]auth.Mock, error) {
	p, err := New(env)
	if err != nil {
		return nil, err
	}
	return []auth.Mock{{Prefix: Prefix, Handler: p}}, nil
}

// New builds the provider from env.Shared["mock:cognito"].
func New(env *auth.Env) (*Provider, error) {
	if env == nil {
		return nil, errors.New("cognito mock: no gateway environment")
	}
	node, _ := env.Shared[configKey].(*yaml.Node)
	if err := idp.KnownKeys(node, "mocks.cognito", "issuer", "key_id", "token_ttl", "refresh_ttl", "code_ttl", "clients"); err != nil {
		return nil, fmt.Errorf("cognito mock: %w", err)
	}
	var c config
	if node != nil {
		if err := node.Decode(&c); err != nil {
			return nil, fmt.Errorf("cognito mock: mocks.cognito: %w", err)
		}
	}
	now := env.Now
	if now == nil {
		now = time.Now
	}
	p := &Provider{env: env, now: now, clients: map[string]*idp.Client{}}
	var err error
	if p.tokenTTL, err = idp.Duration(c.TokenTTL, "mocks.cognito.token_ttl", defaultTokenTTL, 5*time.Minute, 24*time.Hour); err != nil {
		return nil, fmt.Errorf("cognito mock: %w", err)
	}
	if p.refreshTTL, err = idp.Duration(c.RefreshTTL, "mocks.cognito.refresh_ttl", defaultRefreshTTL, time.Hour, 3650*24*time.Hour); err != nil {
		return nil, fmt.Errorf("cognito mock: %w", err)
	}
	codeTTL, err := idp.Duration(c.CodeTTL, "mocks.cognito.code_ttl", defaultCodeTTL, 10*time.Second, 10*time.Minute)
	if err != nil {
		return nil, fmt.Errorf("cognito mock: %w", err)
	}
	p.store = idp.NewStore(now, codeTTL)
	if env.Store != nil { // several gateway instances: one provider
		p.store.Share(env.Store, "cognito")
	}
	kid := c.KeyID
	if kid == "" {
		kid = "cognito-"
	}
	p.keys = idp.NewSharedKeys(kid, env, "cognito")
	if len(c.Clients) == 0 {
		c.Clients = DemoClients()
	}
	for i, cc := range c.Clients {
		cl, err := idp.NewClient(cc, fmt.Sprintf("mocks.cognito.clients[%d]", i), []string{"openid", "email", "profile"})
		if err != nil {
			return nil, fmt.Errorf("cognito mock: %w", err)
		}
		for _, s := range cl.Scopes {
			if !contains(cognitoScopes, s) && !strings.Contains(s, "/") { // custom scopes are resource-server/scope
				return nil, fmt.Errorf("cognito mock: mocks.cognito.clients[%d].scopes: %q is not a Cognito scope", i, s)
			}
		}
		if _, dup := p.clients[cl.ID]; dup {
			return nil, fmt.Errorf("cognito mock: mocks.cognito.clients[%d]: client_id %s appears twice", i, cl.ID)
		}
		p.clients[cl.ID] = cl
	}
	switch {
	case c.Issuer != "":
		u, err := url.Parse(c.Issuer)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.HasSuffix(c.Issuer, "/") {
			return nil, fmt.Errorf("cognito mock: mocks.cognito.issuer %q: want an http(s) URL without a trailing slash", c.Issuer)
		}
		p.issuer = c.Issuer
	case env.BaseURL != "":
		p.issuer = strings.TrimSuffix(env.BaseURL, "/") + strings.TrimSuffix(Prefix, "/")
	}
	if p.issuer != "" {
		if err := jwtverify.RegisterIssuer(env, p.issuer, p.keys); err != nil {
			return nil, fmt.Errorf("cognito mock: %w", err)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+DiscoveryPath, p.discovery)
	mux.HandleFunc("GET "+JWKSPath, p.jwks)
	mux.HandleFunc("GET "+AuthorizePath, p.authorize)
	mux.HandleFunc("POST "+AuthorizePath, p.authorize)
	mux.HandleFunc(TokenPath, p.token)
	mux.HandleFunc("GET "+UserInfoPath, p.userInfo)
	mux.HandleFunc("POST "+UserInfoPath, p.userInfo)
	mux.HandleFunc(RevokePath, p.revoke)
	mux.HandleFunc("GET "+LogoutPath, p.logout)
	mux.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		idp.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "error_description": "no mock Cognito endpoint at " + r.Method + " " + r.URL.Path})
	})
	p.mux = mux
	return p, nil
}

// ServeHTTP implements http.Handler.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.mux.ServeHTTP(w, r) }

// Keys returns the pool's signing keys (tests rotate them).
func (p *Provider) Keys() *idp.Keys { return p.keys }

// Issuer returns the configured issuer ("" when it follows the request's
// host because the gateway has no base URL).
func (p *Provider) Issuer() string { return p.issuer }

// base is the origin the endpoints are served at.
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

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	b := p.base(r)
	w.Header().Set("Cache-Control", "public, max-age=300")
	idp.WriteJSON(w, http.StatusOK, map[string]any{
		"issuer":                                p.issuerFor(r),
		"authorization_endpoint":                b + AuthorizePath,
		"token_endpoint":                        b + TokenPath,
		"userinfo_endpoint":                     b + UserInfoPath,
		"revocation_endpoint":                   b + RevokePath,
		"end_session_endpoint":                  b + LogoutPath,
		"jwks_uri":                              b + JWKSPath,
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      cognitoScopes,
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"code_challenge_methods_supported":      []string{"S256"},
		"claims_supported":                      []string{"sub", "email", "email_verified", "name", "cognito:username", "token_use", "auth_time"},
	})
}

func (p *Provider) jwks(w http.ResponseWriter, _ *http.Request) {
	b, err := idp.JWKS(p.keys)
	if err != nil {
		idp.WriteError(w, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(b)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
