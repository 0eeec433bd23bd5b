package login

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Login runs the profile's browser login (auth kind cognito or magic-link),
// stores the tokens in o.Store and returns them: the access token, the
// refresh token, and the verified ID token in Extra("id_token"). A login
// not completed within o.Timeout returns an error wrapping
// context.DeadlineExceeded (the CLI exits 28).
func Login(ctx context.Context, o Options) (*oauth2.Token, error) {
	if err := Validate(o.Auth); err != nil {
		return nil, err
	}
	if o.Profile == "" {
		return nil, fmt.Errorf("%s: a browser login needs a profile (gwcurl login -p NAME)", o.Auth.Kind)
	}
	if o.Store == nil {
		return nil, errors.New("no secret store is available to keep the login tokens; use the OS keyring, or --insecure-storage for a 0600 file")
	}
	timeout := o.timeout()
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var tok *oauth2.Token
	var err error
	if o.Auth.Kind == "magic-link" {
		tok, err = loginMagic(lctx, &o)
	} else {
		tok, err = loginOIDC(lctx, &o)
	}
	if err != nil && errors.Is(lctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		return nil, fmt.Errorf("no login completed within %s: %w", timeout, context.DeadlineExceeded)
	}
	return tok, err
}

// Token returns the profile's login token for a request: the stored one
// while it is valid (until 60 s before it expires), else a refreshed one
// (refresh token grant; the new ID token is verified and stored). It never
// opens a browser: without a usable login it returns a *LoginRequiredError
// at once.
func Token(ctx context.Context, o Options) (*oauth2.Token, error) {
	return token(ctx, &o, false)
}

// Refresh forces a refresh with the refresh token grant, as after a 401
// that says the token expired (the server's clock may run ahead of ours).
func Refresh(ctx context.Context, o Options) (*oauth2.Token, error) {
	return token(ctx, &o, true)
}

func token(ctx context.Context, o *Options, force bool) (*oauth2.Token, error) {
	if err := Validate(o.Auth); err != nil {
		return nil, err
	}
	rec, err := load(ctx, o)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, o.loginRequired("no login yet")
	}
	if rec.Kind != o.Auth.Kind || rec.Config != fingerprint(o.Auth) {
		return nil, o.loginRequired("the profile's auth settings changed since the last login")
	}
	if !force && rec.usable(o.Auth, o.now()) {
		return rec.token(), nil
	}
	if rec.RefreshToken == "" {
		return nil, o.loginRequired("the login expired")
	}
	if err := refresh(ctx, o, rec); err != nil {
		return nil, err
	}
	if !rec.usable(o.Auth, o.now()) {
		return nil, o.loginRequired("the refreshed login has no usable token; log in again")
	}
	return rec.token(), nil
}

// refresh runs the refresh token grant and stores the result.
func refresh(ctx context.Context, o *Options, rec *record) error {
	secret, err := o.clientSecret(ctx)
	if err != nil {
		return err
	}
	cfg := &oauth2.Config{ClientID: rec.ClientID, ClientSecret: secret,
		Endpoint: oauth2.Endpoint{TokenURL: rec.TokenURL, AuthStyle: rec.AuthStyle}}
	// An expired token makes the source refresh now.
	src := cfg.TokenSource(oidc.ClientContext(ctx, o.client()), &oauth2.Token{RefreshToken: rec.RefreshToken, Expiry: time.Unix(1, 0)})
	tok, err := src.Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && (re.ErrorCode == "invalid_grant" || re.ErrorCode == "invalid_client" || re.ErrorCode == "unauthorized_client") {
			// The session is over (expired, revoked, or the client changed):
			// forget it, so the next request fails fast.
			// Another gwcurl may have refreshed meanwhile with a rotating
			// refresh token; then its record is the current one.
			if cur, _ := load(ctx, o); cur != nil && cur.RefreshToken != rec.RefreshToken && cur.Config == rec.Config {
				*rec = *cur
				return nil
			}
			_ = deleteStored(ctx, o)
			desc := re.ErrorCode
			if re.ErrorDescription != "" {
				desc += ": " + clean(re.ErrorDescription)
			}
			return o.loginRequired("the session can no longer be refreshed (" + desc + ")")
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%s: refreshing the login failed: %w", rec.Kind, err)
	}
	p := &provider{}
	if err := fillRecord(ctx, o, rec, tok, "", p); err != nil {
		return fmt.Errorf("%s: refresh: %w", rec.Kind, err)
	}
	return save(ctx, o, rec)
}

// Logout deletes the profile's login tokens from the secret store and
// revokes the refresh token at the provider (RFC 7009) when it has a
// revocation endpoint. The local tokens are gone even if revoking fails;
// the failure is then returned, wrapped in *RevokeError.
func Logout(ctx context.Context, o Options) error {
	if o.Store == nil {
		return errors.New("no secret store is available")
	}
	if o.Profile == "" {
		return errors.New("logout needs a profile (gwcurl logout -p NAME)")
	}
	rec, err := load(ctx, &o)
	if err != nil && !errors.Is(err, ErrLoginRequired) {
		return err
	}
	if err := deleteStored(ctx, &o); err != nil {
		return fmt.Errorf("delete the login tokens of profile %s: %w", o.Profile, err)
	}
	if rec == nil || rec.RefreshToken == "" || rec.RevokeURL == "" {
		return nil
	}
	if err := revoke(ctx, &o, rec); err != nil {
		return &RevokeError{Endpoint: rec.RevokeURL, Err: err}
	}
	return nil
}

// RevokeError reports that the local tokens were deleted but the provider
// did not confirm the revocation of the refresh token.
type RevokeError struct {
	Endpoint string
	Err      error
}

func (e *RevokeError) Error() string {
	return "logged out locally, but revoking the refresh token at " + e.Endpoint + " failed: " + e.Err.Error()
}

func (e *RevokeError) Unwrap() error { return e.Err }

// revoke is an RFC 7009 revocation request for the refresh token (x/oauth2
// has none), with the client authentication the token endpoint uses.
func revoke(ctx context.Context, o *Options, rec *record) error {
	secret, err := o.clientSecret(ctx)
	if err != nil {
		return err
	}
	form := url.Values{"token": {rec.RefreshToken}, "token_type_hint": {"refresh_token"}}
	basic := secret != "" && rec.AuthStyle != oauth2.AuthStyleInParams
	if !basic {
		form.Set("client_id", rec.ClientID)
		if secret != "" {
			form.Set("client_secret", secret)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rec.RevokeURL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(url.QueryEscape(rec.ClientID), url.QueryEscape(secret))
	}
	resp, err := o.client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, clean(strings.TrimSpace(string(b))))
	}
	return nil
}

// Identity reads who a login token says the user is, for `gwcurl whoami`:
// the ID token's sub and e-mail (or Cognito user name), else the access
// token's claims when it is a JWT. The token was verified when it was
// received; this only decodes it.
func Identity(tok *oauth2.Token) (subject, email string, expiry time.Time, err error) {
	if tok == nil {
		return "", "", time.Time{}, errors.New("no token")
	}
	var c identityClaims
	id, _ := tok.Extra("id_token").(string)
	if id == "" || unverifiedClaims(id, &c) != nil {
		c = identityClaims{}
		if unverifiedClaims(tok.AccessToken, &c) != nil {
			return "", "", tok.Expiry, errors.New("the login token carries no readable identity (opaque tokens)")
		}
	}
	email = c.Email
	if email == "" {
		email = c.CogUser
	}
	if email == "" {
		email = c.Username
	}
	expiry = tok.Expiry
	if expiry.IsZero() && c.Exp > 0 {
		expiry = time.Unix(int64(c.Exp), 0)
	}
	return c.Sub, email, expiry, nil
}

type identityClaims struct {
	Sub      string  `json:"sub"`
	Email    string  `json:"email"`
	CogUser  string  `json:"cognito:username"`
	Username string  `json:"username"`
	Exp      float64 `json:"exp"`
}
