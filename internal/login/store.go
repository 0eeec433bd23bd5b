package login

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
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

// Secret stores limit the size of one value (Windows Credential Manager
// 2560 bytes, the macOS keychain about 3000 with the names), and three
// Cognito tokens take 4–5 KB. A record longer than chunkSize is kept as an
// index value "chunked:N" under StoreKey and N parts under StoreKey-1 … -N.
const (
	chunkSize   = 2000
	chunkPrefix = "chunked:"
	maxChunks   = 64
)

func chunkKey(i int) string { return StoreKey + "-" + strconv.Itoa(i) }

// readStored returns the stored record text, "" when there is none.
func readStored(ctx context.Context, o *Options) (string, error) {
	v, err := o.Store.Get(ctx, o.Profile, StoreKey)
	if errors.Is(err, profiles.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	n, ok := chunkCount(v)
	if !ok {
		return v, nil
	}
	var b strings.Builder
	for i := 1; i <= n; i++ {
		part, err := o.Store.Get(ctx, o.Profile, chunkKey(i))
		if errors.Is(err, profiles.ErrNotFound) {
			return "", nil // torn write: as if absent
		}
		if err != nil {
			return "", err
		}
		b.WriteString(part)
	}
	return b.String(), nil
}

func chunkCount(v string) (int, bool) {
	rest, ok := strings.CutPrefix(v, chunkPrefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 1 || n > maxChunks {
		return 0, false
	}
	return n, true
}

// writeStored stores text: the parts first, then the index, then it drops
// parts a longer previous record left behind.
func writeStored(ctx context.Context, o *Options, text string) error {
	old, _ := o.Store.Get(ctx, o.Profile, StoreKey)
	oldN, _ := chunkCount(old)
	n := 0
	if len(text) > chunkSize {
		for i := 0; i < len(text); i += chunkSize {
			n++
			if err := o.Store.Set(ctx, o.Profile, chunkKey(n), text[i:min(i+chunkSize, len(text))]); err != nil {
				return err
			}
		}
		if n > maxChunks {
			return errors.New("the login tokens are too large to store")
		}
		text = chunkPrefix + strconv.Itoa(n)
	}
	if err := o.Store.Set(ctx, o.Profile, StoreKey, text); err != nil {
		return err
	}
	for i := n + 1; i <= oldN; i++ {
		_ = o.Store.Delete(ctx, o.Profile, chunkKey(i))
	}
	return nil
}

// deleteStored removes the record and its parts.
func deleteStored(ctx context.Context, o *Options) error {
	old, err := o.Store.Get(ctx, o.Profile, StoreKey)
	if errors.Is(err, profiles.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := o.Store.Delete(ctx, o.Profile, StoreKey); err != nil && !errors.Is(err, profiles.ErrNotFound) {
		return err
	}
	n, _ := chunkCount(old)
	for i := 1; i <= n; i++ {
		if err := o.Store.Delete(ctx, o.Profile, chunkKey(i)); err != nil && !errors.Is(err, profiles.ErrNotFound) {
			return err
		}
	}
	return nil
}

// load reads the profile's record; nil, nil when there is none.
func load(ctx context.Context, o *Options) (*record, error) {
	if o.Store == nil {
		return nil, errors.New("no secret store is available to keep login tokens (keyring, or --insecure-storage)")
	}
	if o.Profile == "" {
		return nil, o.loginRequired("a browser login needs a profile")
	}
	v, err := readStored(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("read the login tokens of profile %s from the secret store: %w", o.Profile, err)
	}
	if v == "" {
		return nil, nil
	}
	var r record
	if err := json.Unmarshal([]byte(v), &r); err != nil || r.Version != recordVersion || r.AccessToken == "" {
		return nil, nil // unreadable or from another version: as if absent
	}
	return &r, nil
}

func save(ctx context.Context, o *Options, r *record) error {
	if o.Store == nil {
		return errors.New("no secret store is available to keep login tokens (keyring, or --insecure-storage)")
	}
	r.Version = recordVersion
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := writeStored(ctx, o, string(b)); err != nil {
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
