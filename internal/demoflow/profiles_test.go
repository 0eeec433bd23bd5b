package demoflow_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gwcurl/gwcurl/internal/demo"
	"github.com/gwcurl/gwcurl/internal/demoflow"
	"github.com/gwcurl/gwcurl/internal/profiles"
)

func TestWriteProfiles(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "new", "cfg")
	path := filepath.Join(dir, "config.yaml")
	const base = "http://127.0.0.1:4567"
	if err := demoflow.WriteProfiles(path, base+"/"); err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]os.FileMode{
		dir: 0o700 | os.ModeDir, filepath.Join(dir, "demo-secrets"): 0o700 | os.ModeDir,
		path: 0o600, filepath.Join(dir, "demo-secrets", "aws-secret-access-key"): 0o600,
		filepath.Join(dir, "demo-secrets", "cf-client-secret"): 0o600, filepath.Join(dir, "demo-google-sa.json"): 0o600,
	} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode(), mode)
		}
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var cfg profiles.Config
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("config does not decode strictly: %v\n%s", err, data)
	}
	if cfg.Current != "demo-public" || len(cfg.Profiles) != 9 {
		t.Fatalf("current %q, %d profiles", cfg.Current, len(cfg.Profiles))
	}
	keyFile := filepath.Join(dir, "demo-google-sa.json")
	want := map[string]profiles.Profile{
		"demo-public": {BaseURL: base + "/public", Auth: profiles.Auth{Kind: "none"}},
		"demo-sigv4": {BaseURL: base + "/aws", Auth: profiles.Auth{Kind: "sigv4", Region: "us-east-1", Service: "lambda",
			STSEndpoint: base + "/_mock/sts/", AccessKeyID: "AKIAGWCURLDEMO000001", SecretAccessKey: "file:demo-secrets/aws-secret-access-key"}},
		"demo-sts": {BaseURL: base + "/sts", Auth: profiles.Auth{Kind: "sts-identity", Header: "X-Fluid-Identity", Format: "url",
			Region: "us-east-1", STSEndpoint: base + "/_mock/sts/", AccessKeyID: "AKIAGWCURLDEMO000001",
			SecretAccessKey: "file:demo-secrets/aws-secret-access-key"}},
		"demo-ws": {BaseURL: base + "/ws", Auth: profiles.Auth{Kind: "sigv4", Region: "us-east-1", Service: "execute-api",
			AccessKeyID: "AKIAGWCURLDEMO000001", SecretAccessKey: "file:demo-secrets/aws-secret-access-key"}},
		"demo-google":  {BaseURL: base + "/run", Auth: profiles.Auth{Kind: "google", Audience: base + "/run", Credentials: keyFile}},
		"demo-cf":      {BaseURL: base + "/admin", Auth: profiles.Auth{Kind: "cf-access", ClientID: "demo.access", ClientSecret: "file:demo-secrets/cf-client-secret"}},
		"demo-cognito": {BaseURL: base + "/app", Auth: profiles.Auth{Kind: "cognito", Issuer: base + "/_mock/cognito", ClientID: "gwcurl-demo", Scopes: []string{"openid", "email", "profile"}}},
		"demo-edge":    {BaseURL: base + "/edge", Auth: profiles.Auth{Kind: "cognito", Issuer: base + "/_mock/cognito", ClientID: "gwcurl-demo", Scopes: []string{"openid", "email", "profile"}}},
		"demo-magic": {BaseURL: base + "/magic", Auth: profiles.Auth{Kind: "magic-link", StartURL: base + "/_mock/magic/start",
			TokenURL: base + "/_mock/magic/token", Email: "demo@example.com"}},
	}
	for name, w := range want {
		got := cfg.Profiles[name]
		if got == nil {
			t.Errorf("no profile %s", name)
			continue
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(w)
		if !bytes.Equal(gj, wj) {
			t.Errorf("%s:\n got %s\nwant %s", name, gj, wj)
		}
	}

	// The secret references resolve against the config's directory.
	res := &profiles.Resolver{BaseDir: dir}
	for ref, want := range map[string]string{
		cfg.Profiles["demo-sigv4"].Auth.SecretAccessKey: demo.AWSSecretAccessKey,
		cfg.Profiles["demo-cf"].Auth.ClientSecret:       demo.CFClientSecret,
	} {
		got, err := res.Resolve(context.Background(), "demo", "secret", ref)
		if err != nil || got != want {
			t.Errorf("resolve %s = %q, %v", ref, got, err)
		}
	}

	// The service-account key file is a usable key for the demo account.
	raw, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	var sa map[string]string
	if err := json.Unmarshal(raw, &sa); err != nil {
		t.Fatal(err)
	}
	if sa["type"] != "service_account" || sa["client_email"] != demo.GoogleServiceAccountEmail || sa["project_id"] != "gwcurl-demo" ||
		sa["token_uri"] != base+"/_mock/google/token" || sa["private_key_id"] != demo.GoogleServiceAccountKeyID {
		t.Errorf("key file: %v", sa)
	}
	block, _ := pem.Decode([]byte(sa["private_key"]))
	if block == nil {
		t.Fatal("private_key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	want2, err := demo.GoogleServiceAccountKey()
	if err != nil {
		t.Fatal(err)
	}
	if rk, ok := k.(*rsa.PrivateKey); !ok || !rk.Equal(want2) || rk.N.BitLen() != 2048 {
		t.Errorf("private key is not the 2048-bit demo key")
	}

	// Writing again (a restarted gateway on another port) replaces the files.
	if err := demoflow.WriteProfiles(path, "http://127.0.0.1:9999"); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(path)
	if !bytes.Contains(data, []byte("http://127.0.0.1:9999/aws")) || bytes.Contains(data, []byte("4567")) {
		t.Errorf("rewrite kept the old base URL")
	}
	if err := demoflow.WriteProfiles(path, "not a url"); err == nil {
		t.Error("bad base URL accepted")
	}
}
