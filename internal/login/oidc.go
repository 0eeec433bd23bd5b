package login

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gwcurl/gwcurl/internal/lazyre"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/authhandler"

	"github.com/gwcurl/gwcurl/internal/jwtclaims"
	"github.com/gwcurl/gwcurl/internal/profiles"
)

// provider is where a cognito login goes: the endpoints and how the ID
// token is verified.
type provider struct {
	issuer    string // expected iss; "" for a domain-only profile (taken from the token, see idIssuer)
	jwksURL   string
	authURL   string
	tokenURL  string
	revokeURL string
	authStyle oauth2.AuthStyle
	algs      []string
	issParam  bool // RFC 9207: the provider sends iss in the authorization response
	domain    string
}

// cognitoIssuer matches a Cognito user pool issuer.
var cognitoIssuer = lazyre.New(`^https://cognito-idp\.[a-z0-9-]+\.amazonaws\.com/[a-z0-9-]+_[A-Za-z0-9]+$`)

// discovery is the part of an OIDC discovery document gwcurl reads beyond
// go-oidc's fields.
type discovery struct {
	JWKSURI                 string   `json:"jwks_uri"`
	RevocationEndpoint      string   `json:"revocation_endpoint"`
	TokenAuthMethods        []string `json:"token_endpoint_auth_methods_supported"`
	CodeChallengeMethods    []string `json:"code_challenge_methods_supported"`
	IssParameterSupported   bool     `json:"authorization_response_iss_parameter_supported"`
	IDTokenSigningAlgValues []string `json:"id_token_signing_alg_values_supported"`
}

// discover finds the endpoints: OIDC discovery at auth.issuer (the generic
// path, any standards-following provider), and with auth.domain the
// Cognito managed-login endpoints on that domain.
func discover(ctx context.Context, o *Options, confidential bool) (*provider, error) {
	a := o.Auth
	p := &provider{}
	if a.Issuer != "" {
		iss := a.Issuer // compared byte for byte with the tokens' iss
		op, d, err := discoverIssuer(ctx, o, iss)
		if err != nil {
			return nil, fmt.Errorf("cognito: %w", err)
		}
		ep := op.Endpoint()
		p.issuer, p.jwksURL, p.authURL, p.tokenURL, p.revokeURL = iss, d.JWKSURI, ep.AuthURL, ep.TokenURL, d.RevocationEndpoint
		p.algs, p.issParam = d.IDTokenSigningAlgValues, d.IssParameterSupported
		if len(d.CodeChallengeMethods) > 0 && !slices.Contains(d.CodeChallengeMethods, "S256") {
			return nil, fmt.Errorf("cognito: the provider %s does not support PKCE S256 (code_challenge_methods_supported: %s)", iss, strings.Join(d.CodeChallengeMethods, ", "))
		}
		p.authStyle = authStyleFor(d.TokenAuthMethods, confidential)
	}
	if a.Domain != "" {
		// Cognito's managed login: every endpoint is on the domain.
		d := domainURL(a.Domain)
		p.domain = d
		p.authURL, p.tokenURL, p.revokeURL = d+"/oauth2/authorize", d+"/oauth2/token", d+"/oauth2/revoke"
		p.authStyle = oauth2.AuthStyleInParams
		if confidential {
			p.authStyle = oauth2.AuthStyleInHeader
		}
	}
	if p.authURL == "" || p.tokenURL == "" {
		return nil, fmt.Errorf("cognito: the provider's discovery document names no authorization or token endpoint")
	}
	for _, e := range []string{p.authURL, p.tokenURL} {
		if err := checkURL("endpoint", e); err != nil {
			return nil, fmt.Errorf("cognito: the provider's %w", err)
		}
	}
	if p.revokeURL != "" && checkURL("revocation endpoint", p.revokeURL) != nil {
		p.revokeURL = ""
	}
	return p, nil
}

func discoverIssuer(ctx context.Context, o *Options, iss string) (*oidc.Provider, *discovery, error) {
	op, err := oidc.NewProvider(oidc.ClientContext(ctx, o.client()), iss)
	if err != nil {
		var mm *oidc.IssuerMismatchError
		if errors.As(err, &mm) {
			return nil, nil, fmt.Errorf("the discovery document of %s names issuer %s; set auth.issuer to exactly the issuer of the tokens", iss, mm.Discovered)
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, fmt.Errorf("OIDC discovery at %s/.well-known/openid-configuration failed: %w", strings.TrimSuffix(iss, "/"), err)
	}
	var d discovery
	if err := op.Claims(&d); err != nil {
		return nil, nil, fmt.Errorf("cannot read the discovery document of %s: %w", iss, err)
	}
	if d.JWKSURI == "" {
		return nil, nil, fmt.Errorf("the discovery document of %s has no jwks_uri", iss)
	}
	if err := checkURL("jwks_uri", d.JWKSURI); err != nil {
		return nil, nil, fmt.Errorf("the provider's %w", err)
	}
	return op, &d, nil
}

// authStyleFor picks how a client authenticates at the token endpoint: a
// public client sends its client_id in the form; a confidential one uses
// client_secret_basic unless the provider supports only client_secret_post
// (an absent list means client_secret_basic, OIDC Discovery §3).
func authStyleFor(methods []string, confidential bool) oauth2.AuthStyle {
	if !confidential {
		return oauth2.AuthStyleInParams
	}
	if len(methods) == 0 || slices.Contains(methods, "client_secret_basic") {
		return oauth2.AuthStyleInHeader
	}
	if slices.Contains(methods, "client_secret_post") {
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleInHeader
}

// randomString is 32 random bytes, base64url: state and nonce.
func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func scopes(a profiles.Auth) []string {
	s := slices.Clone(a.Scopes)
	if len(s) == 0 {
		s = []string{"openid", "email"}
	}
	if !slices.Contains(s, "openid") {
		s = append([]string{"openid"}, s...) // the ID token is what proves who logged in
	}
	return s
}

// loginOIDC runs the authorization code + PKCE flow through x/oauth2's
// authhandler, with the loopback listener as the AuthorizationHandler.
func loginOIDC(ctx context.Context, o *Options) (*oauth2.Token, error) {
	secret, err := o.clientSecret(ctx)
	if err != nil {
		return nil, err
	}
	p, err := discover(ctx, o, secret != "")
	if err != nil {
		return nil, err
	}
	state, nonce := randomString(), randomString()
	lb, err := listenLoopback(o.Auth.RedirectPort, state, o.stderr())
	if err != nil {
		return nil, err
	}
	defer lb.close()
	if p.issParam {
		lb.wantIss = p.issuer
	}
	cfg := &oauth2.Config{
		ClientID:     o.Auth.ClientID,
		ClientSecret: secret,
		Endpoint:     oauth2.Endpoint{AuthURL: p.authURL, TokenURL: p.tokenURL, AuthStyle: p.authStyle},
		RedirectURL:  lb.redirectURI,
		Scopes:       scopes(o.Auth),
	}
	verifier := oauth2.GenerateVerifier()
	handler := func(authCodeURL string) (string, string, error) {
		u, err := url.Parse(authCodeURL)
		if err != nil {
			return "", "", err
		}
		q := u.Query()
		q.Set("nonce", nonce) // authhandler has no option for it
		u.RawQuery = q.Encode()
		announce(o, u.String(), "log in", lb.redirectURI)
		var paste <-chan string
		if o.NoBrowser && o.Interactive && o.Stdin != nil {
			pasteCtx, stopPaste := context.WithCancel(ctx)
			defer stopPaste()
			paste = readLines(pasteCtx, o.Stdin)
		}
		code, err := lb.wait(ctx, paste, parseCallbackURL)
		return code, state, err
	}
	ts := authhandler.TokenSourceWithPKCE(oidc.ClientContext(ctx, o.client()), cfg, state, handler, &authhandler.PKCEParams{
		Challenge: oauth2.S256ChallengeFromVerifier(verifier), ChallengeMethod: "S256", Verifier: verifier,
	})
	tok, err := ts.Token()
	if err != nil {
		return nil, exchangeError(ctx, err)
	}
	rec := &record{Kind: o.Auth.Kind, Config: fingerprint(o.Auth), ClientID: cfg.ClientID, TokenURL: p.tokenURL,
		RevokeURL: p.revokeURL, AuthStyle: p.authStyle, Issuer: p.issuer, JWKSURL: p.jwksURL, Algs: p.algs}
	if err := fillRecord(ctx, o, rec, tok, nonce, p); err != nil {
		return nil, err
	}
	if err := save(ctx, o, rec); err != nil {
		return nil, err
	}
	return rec.token(), nil
}

// AnnounceURL is the one shape every login kind uses to show its URL:
// "Opening the browser" only when a browser was started, the URL always
// (a person on an SSH session opens it elsewhere).
func AnnounceURL(w io.Writer, browser func(string) error, u, what string) {
	if browser != nil {
		if err := browser(u); err == nil {
			fmt.Fprintf(w, "Opening the browser to %s; if it does not open, visit:\n\n  %s\n\n", what, u)
			return
		} else {
			fmt.Fprintf(w, "Could not open a browser (%v).\n", err)
		}
	}
	fmt.Fprintf(w, "To %s, open this URL in a browser:\n\n  %s\n\n", what, u)
}

// announce shows the URL, opening the browser unless told not to.
func announce(o *Options, u, what, redirect string) {
	w := o.stderr()
	var browser func(string) error
	if !o.NoBrowser {
		browser = o.Browser
	}
	AnnounceURL(w, browser, u, what)
	if o.NoBrowser && o.Interactive && o.Stdin != nil {
		fmt.Fprintf(w, "If that browser is on another machine, it cannot reach %s after the login:\npaste the address it was sent to here and press Enter.\n", redirect)
	}
	fmt.Fprintf(w, "Waiting for the login (up to %s)…\n", o.timeout())
}

// exchangeError explains a failed authorization or code exchange.
func exchangeError(ctx context.Context, err error) error {
	if ctx.Err() != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		return ctx.Err()
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		msg := re.ErrorCode
		if msg == "" {
			msg = re.Response.Status
		}
		if re.ErrorDescription != "" {
			msg += ": " + clean(re.ErrorDescription)
		}
		return fmt.Errorf("the token endpoint refused the authorization code: %s", msg)
	}
	return err
}

// fillRecord verifies a token response's ID token and fills rec with it.
// nonce is "" on refresh (a refreshed ID token carries no new nonce).
func fillRecord(ctx context.Context, o *Options, rec *record, tok *oauth2.Token, nonce string, p *provider) error {
	rec.AccessToken, rec.RefreshToken, rec.TokenType = tok.AccessToken, tok.RefreshToken, tok.TokenType
	rec.Expiry = expiry(o, tok)
	if rec.AccessToken == "" {
		return errors.New("the token endpoint answered no access token")
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		if nonce != "" && rec.Kind == "cognito" {
			return errors.New("the token endpoint answered no ID token (was the openid scope granted to the app client?)")
		}
		if !rec.IDExpiry.IsZero() && !o.now().Before(rec.IDExpiry) {
			rec.IDToken, rec.IDExpiry = "", time.Time{}
		}
		return nil
	}
	idt, err := verifyIDToken(ctx, o, rec, raw, p)
	if err != nil {
		return err
	}
	if nonce != "" && idt.Nonce != nonce {
		return errors.New("the ID token's nonce does not match this login (replayed token?)")
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(rec.AccessToken); err != nil {
			return errors.New("the ID token's at_hash does not match the access token")
		}
	}
	var c struct {
		Email    string `json:"email"`
		TokenUse string `json:"token_use"`
		Username string `json:"cognito:username"`
	}
	_ = idt.Claims(&c)
	if c.TokenUse != "" && c.TokenUse != "id" {
		return fmt.Errorf("the id_token has token_use %q, not id", c.TokenUse)
	}
	rec.IDToken, rec.IDExpiry, rec.Subject = raw, idt.Expiry, idt.Subject
	rec.Email = c.Email
	if rec.Email == "" {
		rec.Email = c.Username
	}
	return nil
}

// verifyIDToken checks an ID token's signature with the issuer's JWKS, its
// iss, aud (the client id) and expiry. For a domain-only cognito profile
// the issuer is learned from the first token, and accepted only if it is a
// Cognito user pool or lives on the configured domain.
func verifyIDToken(ctx context.Context, o *Options, rec *record, raw string, p *provider) (*oidc.IDToken, error) {
	if rec.Issuer == "" {
		iss, err := unverifiedIssuer(raw)
		if err != nil {
			return nil, err
		}
		if !cognitoIssuer.MatchString(iss) && !sameOrigin(iss, p.domain) {
			return nil, fmt.Errorf("the ID token's issuer %s is neither a Cognito user pool nor on %s; set auth.issuer", iss, p.domain)
		}
		_, d, err := discoverIssuer(ctx, o, iss)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rec.Kind, err)
		}
		rec.Issuer, rec.JWKSURL, rec.Algs = iss, d.JWKSURI, d.IDTokenSigningAlgValues
	}
	cctx := oidc.ClientContext(context.WithoutCancel(ctx), o.client())
	algs := []string{}
	for _, a := range rec.Algs {
		if a != "none" && !strings.HasPrefix(a, "HS") {
			algs = append(algs, a)
		}
	}
	v := oidc.NewVerifier(rec.Issuer, oidc.NewRemoteKeySet(cctx, rec.JWKSURL), &oidc.Config{
		ClientID:             rec.ClientID,
		SkipClientIDCheck:    rec.ClientID == "",
		SupportedSigningAlgs: algs,
		Now:                  o.Now,
	})
	idt, err := v.Verify(oidc.ClientContext(ctx, o.client()), raw)
	if err != nil {
		return nil, fmt.Errorf("the ID token from the provider does not verify: %v", strings.TrimPrefix(err.Error(), "oidc: "))
	}
	return idt, nil
}

// unverifiedIssuer reads a JWT's iss without checking anything.
func unverifiedIssuer(raw string) (string, error) {
	var c struct {
		Iss string `json:"iss"`
	}
	if err := unverifiedClaims(raw, &c); err != nil || c.Iss == "" {
		return "", errors.New("the ID token has no readable issuer")
	}
	return c.Iss, nil
}

// unverifiedClaims decodes a JWT's claims into v without checking anything.
func unverifiedClaims(raw string, v any) error { return jwtclaims.Into(raw, v) }

func sameOrigin(a, b string) bool {
	if b == "" {
		return false
	}
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Scheme == ub.Scheme && strings.EqualFold(ua.Host, ub.Host)
}

// expiry is when the access token expires by o's clock: x/oauth2 computes
// Token.Expiry from time.Now, which an injected clock (tests, a skewed
// machine) does not follow.
func expiry(o *Options, tok *oauth2.Token) time.Time {
	var secs float64
	switch v := tok.Extra("expires_in").(type) {
	case float64:
		secs = v
	case json.Number:
		secs, _ = v.Float64()
	case string:
		secs, _ = strconv.ParseFloat(v, 64)
	}
	if secs > 0 {
		return o.now().Add(time.Duration(secs) * time.Second)
	}
	return tok.Expiry
}
