package sign

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gwcurl/gwcurl/internal/hostcheck"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
)

// googleFile is the union of the credential file fields gwcurl reads.
type googleFile struct {
	Type string `json:"type"`

	// service_account
	ClientEmail    string `json:"client_email"`
	PrivateKeyID   string `json:"private_key_id"`
	TokenURI       string `json:"token_uri"`
	UniverseDomain string `json:"universe_domain"`

	// authorized_user
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	RefreshToken string `json:"refresh_token"`

	// impersonated_service_account and external_account
	ServiceAccountImpersonationURL string          `json:"service_account_impersonation_url"`
	SourceCredentials              json.RawMessage `json:"source_credentials"`
	Delegates                      []string        `json:"delegates"`

	// external_account
	Audience string `json:"audience"`
	TokenURL string `json:"token_url"`
}

// googleFileBase builds the base credential of a credentials file. depth
// guards against an impersonated_service_account whose source is another
// impersonation.
func googleFileBase(b []byte, where string, d Deps, depth int) (*googleBase, error) {
	var f googleFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, Credentialf(googleKind, "the file must be a Google credentials JSON file", "google credentials %s: not JSON: %v", where, err)
	}
	switch f.Type {
	case "service_account":
		return serviceAccountBase(b, f, where, d)
	case "authorized_user":
		return authorizedUserBase(f, where, d)
	case "impersonated_service_account":
		if depth > 0 {
			return nil, Credentialf(googleKind, "", "google credentials %s: nested impersonated_service_account is not supported", where)
		}
		if len(f.SourceCredentials) == 0 || f.ServiceAccountImpersonationURL == "" {
			return nil, Credentialf(googleKind, "regenerate the file with `gcloud auth application-default login --impersonate-service-account EMAIL`", "google credentials %s: impersonated_service_account needs source_credentials and service_account_impersonation_url", where)
		}
		base, err := googleFileBase(f.SourceCredentials, where+" source_credentials", d, depth+1)
		if err != nil {
			return nil, err
		}
		if err := base.fromImpersonationURL(f.ServiceAccountImpersonationURL, f.Delegates); err != nil {
			return nil, Credentialf(googleKind, "", "google credentials %s: %v", where, err)
		}
		base.desc = "impersonated_service_account " + where + " with source " + base.desc
		return base, nil
	case "external_account":
		return externalAccountBase(b, f, where, d)
	case "":
		return nil, Credentialf(googleKind, googleHint, "google credentials %s: no \"type\" field", where)
	default:
		return nil, Credentialf(googleKind, "use a service_account, authorized_user, impersonated_service_account or external_account file", "google credentials %s: type %q cannot mint ID tokens", where, f.Type)
	}
}

// fromImpersonationURL records the target and the IAM endpoint a
// service_account_impersonation_url names:
// https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/EMAIL:generateAccessToken
func (b *googleBase) fromImpersonationURL(raw string, delegates []string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("service_account_impersonation_url %q is not a URL", raw)
	}
	i := strings.Index(u.Path, "/v1/projects/")
	j := strings.LastIndex(u.Path, "/serviceAccounts/")
	if i < 0 || j < 0 {
		return fmt.Errorf("service_account_impersonation_url %q does not name a service account", raw)
	}
	target, _, _ := strings.Cut(u.Path[j+len("/serviceAccounts/"):], ":")
	if !strings.Contains(target, "@") {
		return fmt.Errorf("service_account_impersonation_url %q does not name a service account", raw)
	}
	b.iamFromFile = u.Scheme + "://" + u.Host + u.Path[:i]
	var chain []string
	for _, d := range delegates {
		chain = append(chain, d[strings.LastIndex(d, "/")+1:])
	}
	b.impersonate = append(chain, target)
	return nil
}

func serviceAccountBase(b []byte, f googleFile, where string, d Deps) (*googleBase, error) {
	if f.ClientEmail == "" {
		return nil, Credentialf(googleKind, "download a new key file", "google credentials %s: service_account file without client_email", where)
	}
	cfg, err := google.JWTConfigFromJSON(b)
	if err != nil {
		return nil, Credentialf(googleKind, "download a new key file", "google credentials %s: %v", where, err)
	}
	tokenURL := cfg.TokenURL
	return &googleBase{
		id:       "sa:" + f.ClientEmail + ":" + f.PrivateKeyID,
		desc:     fmt.Sprintf("service_account %s, key file %s, token endpoint %s", f.ClientEmail, where, tokenURL),
		localIAM: localIAMBeside(tokenURL),
		universe: f.UniverseDomain,
		// golang.org/x/oauth2/jwt with UseIDToken and a target_audience
		// claim is exactly the jwt-bearer ID token grant (RFC 7523 §2.1; docs/auth/google.md).
		idToken: func(ctx context.Context, aud string) (*oauth2.Token, error) {
			c := *cfg
			c.UseIDToken = true
			c.PrivateClaims = map[string]any{"target_audience": aud}
			t, err := c.TokenSource(ctx).Token()
			if err != nil {
				return nil, tokenEndpointError(err, "service account "+f.ClientEmail, tokenURL)
			}
			return idTokenResult(t.AccessToken)
		},
		access: func(ctx context.Context) (*oauth2.Token, error) {
			c := *cfg
			c.Scopes = []string{cloudPlatform}
			t, err := c.TokenSource(ctx).Token()
			if err != nil {
				return nil, tokenEndpointError(err, "service account "+f.ClientEmail, tokenURL)
			}
			return t, nil
		},
	}, nil
}

// authorizedUserBase is gcloud's user credential. Go's idtoken packages
// refuse this type, so the refresh grant is done here on x/oauth2: the
// answer's id_token has the OAuth client id as its audience, whatever the
// audience asked for (docs/auth/google.md, "User credentials").
func authorizedUserBase(f googleFile, where string, d Deps) (*googleBase, error) {
	if f.ClientID == "" || f.RefreshToken == "" {
		return nil, Credentialf(googleKind, "run `gcloud auth application-default login` again", "google credentials %s: authorized_user file without client_id or refresh_token", where)
	}
	tokenURL := f.TokenURI
	if tokenURL == "" {
		tokenURL = googleTokenURL
	}
	cfg := &oauth2.Config{
		ClientID:     f.ClientID,
		ClientSecret: f.ClientSecret,
		Endpoint:     oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams},
	}
	refresh := func(ctx context.Context) (*oauth2.Token, error) {
		t, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: f.RefreshToken}).Token()
		if err != nil {
			return nil, tokenEndpointError(err, "user credentials", tokenURL)
		}
		return t, nil
	}
	sum := sha256.Sum256([]byte(f.RefreshToken))
	return &googleBase{
		// The refresh token's hash tells two logins with the same OAuth
		// client (every gcloud user) apart without revealing it.
		id:       "user:" + f.ClientID + ":" + hex.EncodeToString(sum[:4]),
		desc:     fmt.Sprintf("authorized_user (gcloud user credentials) %s, OAuth client %s, token endpoint %s", where, f.ClientID, tokenURL),
		localIAM: localIAMBeside(tokenURL),
		idToken: func(ctx context.Context, aud string) (*oauth2.Token, error) {
			t, err := refresh(ctx)
			if err != nil {
				return nil, err
			}
			id, _ := t.Extra("id_token").(string)
			if id == "" {
				return nil, Credentialf(googleKind, "run `gcloud auth application-default login` again", "the token endpoint returned no id_token for the user credentials")
			}
			if aud != f.ClientID {
				d.Tracef("google: user credentials cannot choose the audience: the ID token is for the OAuth client %s, not %s (Cloud Run accepts it; IAP and strict verifiers do not: use auth.impersonate)", f.ClientID, aud)
			}
			return idTokenResult(id)
		},
		access: refresh,
	}, nil
}

// externalAccountBase is workload identity federation. The STS exchange
// (subject token from a file, URL, executable or AWS) is done by
// golang.org/x/oauth2/google with the impersonation URL removed, so it
// answers the federated token itself; the ID token then comes from
// generateIdToken for the service account the URL names. (x/oauth2 covers
// the same sources as cloud.google.com/go/auth; one Google stack keeps the
// binary's start-up small: docs/performance.md, "Start-up".)
func externalAccountBase(b []byte, f googleFile, where string, d Deps) (*googleBase, error) {
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	delete(raw, "service_account_impersonation_url")
	delete(raw, "service_account_impersonation")
	stripped, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	// newSource parses the file into a token source whose HTTP calls use
	// ctx and d.HTTPClient; called once here to refuse a bad file early.
	newSource := func(ctx context.Context) (oauth2.TokenSource, error) {
		if d.HTTPClient != nil {
			ctx = context.WithValue(ctx, oauth2.HTTPClient, d.HTTPClient)
		}
		creds, err := google.CredentialsFromJSONWithTypeAndParams(ctx, stripped, google.ExternalAccount, google.CredentialsParams{Scopes: []string{cloudPlatform}})
		if err != nil {
			return nil, Credentialf(googleKind, "check the file made by `gcloud iam workload-identity-pools create-cred-config`", "google credentials %s: %v", where, err)
		}
		return creds.TokenSource, nil
	}
	if _, err := newSource(context.Background()); err != nil {
		return nil, err
	}
	stsURL := f.TokenURL
	if stsURL == "" {
		stsURL = "https://sts.googleapis.com/v1/token"
	}
	base := &googleBase{
		id:       "ext:" + f.Audience,
		desc:     fmt.Sprintf("external_account %s, provider %s, STS %s", where, f.Audience, stsURL),
		localIAM: localIAMBeside(stsURL),
		universe: stringField(raw, "universe_domain"),
		access: func(ctx context.Context) (*oauth2.Token, error) {
			ts, err := newSource(ctx)
			if err != nil {
				return nil, err
			}
			t, err := ts.Token()
			if err != nil {
				return nil, Credentialf(googleKind, "check the workload identity provider and the subject token source", "federated token exchange at %s failed: %v", stsURL, err)
			}
			return t, nil
		},
	}
	if f.ServiceAccountImpersonationURL != "" {
		if err := base.fromImpersonationURL(f.ServiceAccountImpersonationURL, nil); err != nil {
			return nil, Credentialf(googleKind, "", "google credentials %s: %v", where, err)
		}
	}
	return base, nil
}

func stringField(m map[string]any, k string) string { s, _ := m[k].(string); return s }

// metadataBase is the metadata server's default service account. The
// request is two lines; the metadata library would read the process
// environment directly and probe 169.254.169.254, which gwcurl must only do
// on an explicit signal, so it is written here against Deps.
func metadataBase(host string, d Deps) *googleBase {
	base := "http://" + host + "/computeMetadata/v1/instance/service-accounts/default/"
	b := &googleBase{
		id:   "metadata:" + host,
		desc: "metadata server " + host,
		idToken: func(ctx context.Context, aud string) (*oauth2.Token, error) {
			q := url.Values{"audience": {aud}, "format": {"full"}}
			body, err := metadataGet(ctx, d, base+"identity?"+q.Encode())
			if err != nil {
				return nil, err
			}
			return idTokenResult(strings.TrimSpace(string(body)))
		},
		access: func(ctx context.Context) (*oauth2.Token, error) {
			body, err := metadataGet(ctx, d, base+"token")
			if err != nil {
				return nil, err
			}
			var r struct {
				AccessToken string `json:"access_token"`
				ExpiresIn   int    `json:"expires_in"`
				TokenType   string `json:"token_type"`
			}
			if err := json.Unmarshal(body, &r); err != nil || r.AccessToken == "" {
				return nil, fmt.Errorf("google: metadata server token answer is not a token")
			}
			return &oauth2.Token{AccessToken: r.AccessToken, TokenType: r.TokenType, Expiry: Clock(d.Now)().Add(time.Duration(r.ExpiresIn) * time.Second)}, nil
		},
	}
	if hostcheck.Loopback(host) {
		b.localIAM = "http://" + host + mockIAMPath
	}
	return b
}

func metadataGet(ctx context.Context, d Deps, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Metadata-Flavor", "Google")
	resp, err := d.HTTPClient.Do(req)
	if err != nil {
		return nil, &CredentialError{Kind: googleKind, Err: fmt.Errorf("cannot reach the metadata server: %w", err),
			Hint: "check GCE_METADATA_HOST, or use a key file (GOOGLE_APPLICATION_CREDENTIALS)"}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("google: reading the metadata server's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, Credentialf(googleKind, "check the VM's service account and its scopes", "metadata server answered %s: %s", resp.Status, firstLine(body))
	}
	return body, nil
}

// impersonation mints ID tokens with IAM Credentials generateIdToken,
// authenticated by the base credential's access token (docs/auth/google.md, "Impersonation").
// Written here rather than with cloud.google.com/go/auth/credentials/impersonate
// because that package always calls iamcredentials.<universe>, and the
// endpoint must follow the credential (and reach the mock).
type impersonation struct {
	base      *googleBase
	endpoint  string
	target    string
	delegates []string
}

func (im *impersonation) mint(ctx context.Context, aud string) (*oauth2.Token, error) {
	at, err := im.base.access(ctx)
	if err != nil {
		return nil, err
	}
	body := map[string]any{"audience": aud, "includeEmail": true}
	if len(im.delegates) > 0 {
		ds := make([]string, len(im.delegates))
		for i, d := range im.delegates {
			ds[i] = "projects/-/serviceAccounts/" + d
		}
		body["delegates"] = ds
	}
	bb, _ := json.Marshal(body)
	u := im.endpoint + "/v1/projects/-/serviceAccounts/" + url.PathEscape(im.target) + ":generateIdToken"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(bb))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+at.AccessToken)
	client, _ := ctx.Value(oauth2.HTTPClient).(*http.Client)
	if client == nil {
		return nil, errors.New("google: no HTTP client")
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("google: generateIdToken: %w", err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("google: generateIdToken: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct {
				Message string `json:"message"`
				Status  string `json:"status"`
			} `json:"error"`
		}
		msg := firstLine(rb)
		if json.Unmarshal(rb, &e) == nil && e.Error.Message != "" {
			msg = e.Error.Status + ": " + e.Error.Message
		}
		hint := "the caller needs roles/iam.serviceAccountTokenCreator on " + im.target
		if resp.StatusCode == http.StatusNotFound {
			hint = "check the service account email " + im.target
		}
		return nil, Credentialf(googleKind, hint, "generateIdToken for %s at %s: %s: %s", im.target, im.endpoint, resp.Status, msg)
	}
	var r struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(rb, &r); err != nil || r.Token == "" {
		return nil, fmt.Errorf("google: generateIdToken answered no token")
	}
	return idTokenResult(r.Token)
}

// idTokenResult wraps an ID token as the oauth2.Token gwcurl caches: the
// token is the AccessToken (what Bearer sends) and the id_token extra, its
// expiry the token's exp.
func idTokenResult(id string) (*oauth2.Token, error) {
	c, err := DecodeGoogleIDToken(id)
	if err != nil {
		return nil, fmt.Errorf("google: the ID token received is not a JWT: %w", err)
	}
	if c.Expiry.IsZero() {
		return nil, errors.New("google: the ID token received has no exp")
	}
	t := &oauth2.Token{AccessToken: id, TokenType: "Bearer", Expiry: c.Expiry}
	return t.WithExtra(map[string]any{"id_token": id}), nil
}

// tokenEndpointError turns an OAuth error answer into a CredentialError
// naming the error code and description only (never the request).
func tokenEndpointError(err error, who, tokenURL string) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		code, desc := re.ErrorCode, re.ErrorDescription
		if code == "" {
			// x/oauth2/jwt does not parse the RFC 6749 error body.
			var e struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if json.Unmarshal(re.Body, &e) == nil {
				code, desc = e.Error, e.Description
			}
		}
		msg := code
		if desc != "" {
			msg += ": " + desc
		}
		if msg == "" && re.Response != nil {
			msg = re.Response.Status + ": " + firstLine(re.Body)
		}
		hint := "the key may be deleted or disabled: create a new key"
		if strings.HasPrefix(who, "user") {
			hint = "run `gcloud auth application-default login` again"
		}
		return &CredentialError{Kind: googleKind, Err: fmt.Errorf("token endpoint %s refused %s: %s", tokenURL, who, msg), Hint: hint}
	}
	return fmt.Errorf("google: token request to %s for %s: %w", tokenURL, who, err)
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
