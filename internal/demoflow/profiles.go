// Package demoflow is the demo's client side (docs/gateway.md, "The embedded
// demo"): the gwcurl profiles for the demo gateway (`gwcurl gateway
// --profiles-out`, `gwcurl demo`), the scripted browser that fills in the mock
// Cognito's login form, and the reader of the mock mailbox that opens a
// magic link. It is used by cli and by tests; neither the gateway nor the
// login package imports it. The demo's published credentials live in the
// leaf package internal/demo.
package demoflow

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gwcurl/gwcurl/internal/demo"
	"github.com/gwcurl/gwcurl/internal/profiles"
)

// Files WriteProfiles writes beside the config file.
const (
	SecretsDir        = "demo-secrets"
	AWSSecretFile     = "demo-secrets/aws-secret-access-key"
	CFSecretFile      = "demo-secrets/cf-client-secret"
	GoogleKeyFileName = "demo-google-sa.json"
)

// Profiles returns the gwcurl profiles for the embedded demo served at
// baseURL (docs/gateway.md, "The embedded demo"), one per demo route. googleKeyFile is the
// absolute path of the demo service-account key file; secrets are file:
// references relative to the config file's directory.
func Profiles(baseURL, googleKeyFile string) *profiles.Config {
	b := strings.TrimSuffix(baseURL, "/")
	return &profiles.Config{
		Current: "demo-public",
		Profiles: map[string]*profiles.Profile{
			"demo-public": {BaseURL: b + "/public", Auth: profiles.Auth{Kind: "none"}},
			"demo-sigv4": {BaseURL: b + "/aws", Auth: profiles.Auth{
				Kind: "sigv4", Region: demo.Region, Service: demo.SigV4Service,
				STSEndpoint: b + "/_mock/sts/", // whoami asks the mock STS
				AccessKeyID: demo.AWSAccessKeyID, SecretAccessKey: "file:" + AWSSecretFile,
			}},
			"demo-ws": {BaseURL: b + "/ws", Auth: profiles.Auth{
				Kind: "sigv4", Region: demo.Region, Service: "execute-api",
				AccessKeyID: demo.AWSAccessKeyID, SecretAccessKey: "file:" + AWSSecretFile,
			}},
			"demo-sts": {BaseURL: b + "/sts", Auth: profiles.Auth{
				Kind: "sts-identity", Header: demo.STSIdentityHeader, Format: "url", Region: demo.Region,
				STSEndpoint: b + "/_mock/sts/",
				AccessKeyID: demo.AWSAccessKeyID, SecretAccessKey: "file:" + AWSSecretFile,
			}},
			"demo-google": {BaseURL: b + "/run", Auth: profiles.Auth{
				Kind: "google", Audience: b + "/run", Credentials: googleKeyFile,
			}},
			"demo-cf": {BaseURL: b + "/admin", Auth: profiles.Auth{
				Kind: "cf-access", ClientID: demo.CFClientID, ClientSecret: "file:" + CFSecretFile,
			}},
			"demo-cognito": {BaseURL: b + "/app", Auth: profiles.Auth{
				Kind: "cognito", Issuer: b + "/_mock/cognito", ClientID: demo.CognitoClientID,
				Scopes: []string{"openid", "email", "profile"},
			}},
			// demo-edge logs in like demo-cognito; its routes (/edge,
			// /edge-run) then sign toward /aws and /run themselves.
			"demo-edge": {BaseURL: b + "/edge", Auth: profiles.Auth{
				Kind: "cognito", Issuer: b + "/_mock/cognito", ClientID: demo.CognitoClientID,
				Scopes: []string{"openid", "email", "profile"},
			}},
			"demo-magic": {BaseURL: b + "/magic", Auth: profiles.Auth{
				Kind: "magic-link", StartURL: b + "/_mock/magic/start", TokenURL: b + "/_mock/magic/token",
				Email: demo.UserEmail,
			}},
		},
	}
}

// WriteProfiles writes a gwcurl config file at path with one profile
// per demo route of the gateway at baseURL, plus, beside it, the secret
// files the profiles reference (demo-secrets/, 0600) and the demo Google
// service-account key file (demo-google-sa.json, 0600, token_uri at the
// mock). Every file is written atomically; created directories are 0700.
func WriteProfiles(path, baseURL string) error {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("write demo profiles: base URL %q is not an http(s) URL", baseURL)
	}
	if path == "" {
		return errors.New("write demo profiles: no file name given")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("write demo profiles: %w", err)
	}
	dir := filepath.Dir(abs)
	base := strings.TrimSuffix(baseURL, "/")
	if err := os.MkdirAll(filepath.Join(dir, SecretsDir), 0o700); err != nil {
		return fmt.Errorf("write demo profiles: %w", err)
	}
	keyFile := filepath.Join(dir, GoogleKeyFileName)
	sa, err := demo.GoogleServiceAccountJSON(base + "/_mock/google/token")
	if err != nil {
		return fmt.Errorf("write demo profiles: %w", err)
	}
	cfg := Profiles(base, keyFile)
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("write demo profiles: %w", err)
	}
	header := "# gwcurl profiles for the demo gateway at " + base + ", written by `gwcurl gateway --profiles-out`.\n" +
		"# The credentials are the published demo credentials of docs/gateway.md; they protect nothing.\n"
	files := []struct {
		name string
		data []byte
	}{
		{filepath.Join(dir, filepath.FromSlash(AWSSecretFile)), []byte(demo.AWSSecretAccessKey + "\n")},
		{filepath.Join(dir, filepath.FromSlash(CFSecretFile)), []byte(demo.CFClientSecret + "\n")},
		{keyFile, append(sa, '\n')},
		{abs, append([]byte(header), out...)}, // last: the config only appears once what it references exists
	}
	for _, f := range files {
		if err := profiles.WriteFileAtomic(f.name, f.data, 0o600); err != nil {
			return fmt.Errorf("write demo profiles: %w", err)
		}
	}
	return nil
}
