package login

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/gwcurl/gwcurl/internal/profiles"
)

// record is what a login leaves in the secret store (one JSON value per
// profile, key StoreKey): the tokens, and what is needed to refresh, verify
// and revoke them without discovery. It is as sensitive as the refresh
// token it holds, and is never written anywhere else.
type record struct {
	Version int    `json:"v"`
	Kind    string `json:"kind"`
	// Config fingerprints the auth settings the login was made for; a
	// profile edited since (another issuer or client) needs a new login.
	Config    string           `json:"config"`
	Issuer    string           `json:"issuer,omitempty"`
	JWKSURL   string           `json:"jwks_url,omitempty"`
	ClientID  string           `json:"client_id"`
	TokenURL  string           `json:"token_url"`
	RevokeURL string           `json:"revoke_url,omitempty"`
	AuthStyle oauth2.AuthStyle `json:"auth_style,omitempty"`
	Algs      []string         `json:"algs,omitempty"` // ID token signing algorithms the issuer announced

	AccessToken  string    `json:"access_token"`
	IDToken      string    `json:"id_token,omitempty"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`    // access token
	IDExpiry     time.Time `json:"id_expiry,omitzero"` // ID token
	Subject      string    `json:"sub,omitempty"`
	Email        string    `json:"email,omitempty"`
}

const recordVersion = 1

// fingerprint names the settings a login belongs to. Scopes and use_token
// are left out: changing them does not make the tokens someone else's.
func fingerprint(a profiles.Auth) string {
	parts := []string{a.Kind, strings.TrimSuffix(a.Issuer, "/"), domainIf(a.Domain), a.ClientID, a.StartURL, a.TokenURL}
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:12])
}

func domainIf(d string) string {
	if d == "" {
		return ""
	}
	return domainURL(d)
}

// load reads the profile's record; nil, nil when there is none. A secret
// store that cannot be read means no login can be found: a
// *LoginRequiredError (exit 4) that says why, never a bare store error.
func load(ctx context.Context, o *Options) (*record, error) {
	if o.Store == nil {
		return nil, o.loginRequired("no secret store is available to read the login tokens from")
	}
	if o.Profile == "" {
		return nil, o.loginRequired("a browser login needs a profile")
	}
	v, err := o.Store.Get(ctx, o.Profile, StoreKey)
	if errors.Is(err, profiles.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &LoginRequiredError{Profile: o.Profile, Reason: "the login tokens cannot be read (" + err.Error() + ")", Store: err}
	}
	var r record
	if err := json.Unmarshal([]byte(v), &r); err != nil || r.Version != recordVersion || r.AccessToken == "" {
		return nil, nil // unreadable or from another version: as if absent
	}
	return &r, nil
}

// deleteStored removes the profile's record from the store.
func deleteStored(ctx context.Context, o *Options) error {
	err := o.Store.Delete(ctx, o.Profile, StoreKey)
	if errors.Is(err, profiles.ErrNotFound) {
		return nil
	}
	return err
}

func save(ctx context.Context, o *Options, r *record) error {
	if o.Store == nil {
		return errors.New("no secret store is available to keep the login tokens")
	}
	r.Version = recordVersion
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := o.Store.Set(ctx, o.Profile, StoreKey, string(b)); err != nil {
		return fmt.Errorf("store the login tokens of profile %s: %w", o.Profile, err)
	}
	return nil
}

// useID reports whether requests carry the ID token (use_token id, the
// default) rather than the access token.
func useID(a profiles.Auth, r *record) bool {
	switch a.UseToken {
	case "access":
		return false
	case "id":
		return true
	}
	return r.IDToken != "" || r.AccessToken == ""
}

// usable reports whether the token requests carry is valid at now for at
// least earlyExpiry more.
func (r *record) usable(a profiles.Auth, now time.Time) bool {
	if useID(a, r) {
		return r.IDToken != "" && (r.IDExpiry.IsZero() || now.Before(r.IDExpiry.Add(-earlyExpiry)))
	}
	return r.AccessToken != "" && (r.Expiry.IsZero() || now.Before(r.Expiry.Add(-earlyExpiry)))
}

// token is the record as an oauth2.Token: the access token, the refresh
// token, the ID token in Extra("id_token"), and the earlier expiry of the two.
func (r *record) token() *oauth2.Token {
	exp := r.Expiry
	if r.IDToken != "" && !r.IDExpiry.IsZero() && (exp.IsZero() || r.IDExpiry.Before(exp)) {
		exp = r.IDExpiry
	}
	t := &oauth2.Token{AccessToken: r.AccessToken, TokenType: r.TokenType, RefreshToken: r.RefreshToken, Expiry: exp}
	if r.IDToken != "" {
		t = t.WithExtra(map[string]any{"id_token": r.IDToken})
	}
	return t
}

// BearerToken returns the credential requests carry for a login token:
// the ID token, or with use_token: access the access token. Without
// use_token, the ID token when there is one.
func BearerToken(tok *oauth2.Token, a profiles.Auth) (string, error) {
	if tok == nil {
		return "", errors.New("no token")
	}
	id, _ := tok.Extra("id_token").(string)
	switch a.UseToken {
	case "access":
		if tok.AccessToken == "" {
			return "", errors.New("the login has no access token")
		}
		return tok.AccessToken, nil
	case "id":
		if id == "" {
			return "", errors.New("the login has no ID token (was the openid scope granted?); set use_token: access")
		}
		return id, nil
	}
	if id != "" {
		return id, nil
	}
	return tok.AccessToken, nil
}
