package sign

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/gwcurl/gwcurl/internal/originauth"
	"github.com/gwcurl/gwcurl/internal/profiles"
)

// NewOrigin builds the Signer for an origin. target is the origin's URL:
// SigV4 infers service and region from its host, google its default
// audience. Credentials are resolved (and AWS keys retrieved) now, so a
// missing one is an error here rather than on every request. Tokens are
// cached in memory only.
func NewOrigin(ctx context.Context, a originauth.Auth, target string, d originauth.Deps) (Signer, error) {
	getenv := d.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	hc := d.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	deps := Deps{
		Profile:    d.Name,
		HTTPClient: hc,
		Now:        Clock(d.Now),
		Getenv:     getenv,
		Secrets:    &profiles.Resolver{Getenv: getenv, BaseDir: d.BaseDir, Store: lookupStore(d.Lookup)},
		Trace:      d.Trace,
		Stderr:     discard{},
		googleJSON: a.CredentialsJSON,
	}
	pa := profiles.Auth{
		Kind: a.Kind, Region: a.Region, Service: a.Service, AWSProfile: a.AWSProfile,
		AccessKeyID: a.AccessKeyID, SecretAccessKey: a.SecretAccessKey, SessionToken: a.SessionToken,
		UnsignedPayload: a.UnsignedPayload,
		Header:          a.Header, Format: a.Format, ServerID: a.ServerID, STSEndpoint: a.STSEndpoint,
		Audience: a.Audience, Credentials: a.Credentials, Impersonate: a.Impersonate,
		ClientID: a.ClientID, ClientSecret: a.ClientSecret, Token: a.Token,
	}
	switch a.Kind {
	case "sigv4", "google", "cf-access", "sts-identity", "bearer":
	default:
		return nil, fmt.Errorf("unknown origin auth kind %q", a.Kind)
	}
	if a.Kind == "cf-access" && (a.ClientID == "" || a.ClientSecret == "") {
		// A gateway has no browser: only the service-token pair.
		return nil, Credentialf("cf-access", "set client_id and client_secret (a reference)", "a gateway needs the service-token pair")
	}
	s, err := New(ctx, pa, target, deps)
	if err != nil || d.Unsigned == nil {
		return s, err
	}
	return originHeaderFilter{s, d.Unsigned}, nil
}

// originHeaderFilter signs without the headers skip names, then puts them
// back: they are sent but no signature covers them.
type originHeaderFilter struct {
	Signer
	skip func(string) bool
}

func (u originHeaderFilter) Sign(ctx context.Context, req *http.Request) error {
	var held http.Header
	for k, v := range req.Header {
		if u.skip(k) {
			if held == nil {
				held = http.Header{}
			}
			held[k] = v
			delete(req.Header, k)
		}
	}
	err := u.Signer.Sign(ctx, req)
	for k, v := range held {
		if _, set := req.Header[k]; !set {
			req.Header[k] = v
		}
	}
	return err
}

// OriginTransport is NewOrigin as an [originauth.Factory]: base wrapped in
// a [Transport] that signs every attempt and sends credentials only to
// target's host.
func OriginTransport(ctx context.Context, a originauth.Auth, target string, d originauth.Deps, base http.RoundTripper) (http.RoundTripper, error) {
	s, err := NewOrigin(ctx, a, target, d)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	return &Transport{Signer: s, Base: base, AllowedHost: u.Host}, nil
}

var _ originauth.Factory = OriginTransport

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// lookupStore adapts originauth.Deps.Lookup to the resolver's secret store.
type lookupStore func(key string) (string, bool)

func (f lookupStore) Get(_ context.Context, _, key string) (string, error) {
	if f != nil {
		if v, ok := f(key); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("keyring:%s: %w (a gateway reads env:, file: and cmd: references)", key, profiles.ErrNotFound)
}

func (lookupStore) Set(context.Context, string, string, string) error {
	return errors.New("the origin secret store is read-only")
}

func (lookupStore) Delete(context.Context, string, string) error {
	return errors.New("the origin secret store is read-only")
}
