package profiles

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown top key", "profile:\n  x: {}\n", "c.yaml:1: profile: unknown key"},
		{"unknown profile key", "profiles:\n  dev:\n    baseurl: x\n", "c.yaml:3: profiles.dev.baseurl: unknown key"},
		{"unknown auth key", "profiles:\n  dev:\n    auth:\n      kind: sigv4\n      regoin: x\n", "c.yaml:5: profiles.dev.auth.regoin: unknown key"},
		{"bad kind", "profiles:\n  dev:\n    auth:\n      kind: sigv5\n", `c.yaml:4: profiles.dev.auth.kind: unknown auth kind "sigv5"`},
		{"bad base_url", "profiles:\n  dev:\n    base_url: ftp://x\n", `c.yaml:3: profiles.dev.base_url: "ftp://x" is not an absolute http(s) URL`},
		{"literal secret", "profiles:\n  dev:\n    auth:\n      kind: bearer\n      token: abc\n", "c.yaml:5: profiles.dev.auth.token: must be a secret reference"},
		{"bad type", "profiles:\n  dev:\n    auth:\n      redirect_port: abc\n", "c.yaml:4: "},
		{"undefined current", "current: x\nprofiles: {}\n", `c.yaml:1: current: profile "x" is not defined`},
		{"syntax", "profiles:\n  dev: [\n", "c.yaml:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tt.yaml))
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Parse err = %v, want a ConfigError", err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("Parse err = %q, want prefix %q", err, tt.want)
			}
		})
	}
}

func TestParseValid(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte(`
current: dev
profiles:
  dev:
    base_url: https://api.example.com/v1
    headers: {X-Team: core}
    auth: {kind: sigv4, region: eu-west-1, secret_access_key: "env:SECRET"}
  empty:
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := cfg.Get("dev")
	if err != nil || p.Name != "dev" || p.Auth.Region != "eu-west-1" || p.Headers["X-Team"] != "core" {
		t.Fatalf("Get(dev) = %+v, %v", p, err)
	}
	if _, err := cfg.Get("nope"); err == nil {
		t.Fatal("Get(nope) succeeded")
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "config.yaml")
	f, err := Load(path)
	if err != nil || f.Exists {
		t.Fatalf("Load(missing) = %+v, %v", f, err)
	}
	f.Config.Current = "a"
	f.Config.Profiles["a"] = &Profile{BaseURL: "http://127.0.0.1:1", Auth: Auth{Kind: "bearer", Token: "env:T"}}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("config mode %v, want 0600", fi.Mode().Perm())
	}
	di, _ := os.Stat(filepath.Dir(path))
	if di.Mode().Perm() != 0o700 {
		t.Fatalf("config dir mode %v, want 0700", di.Mode().Perm())
	}
	g, err := Load(path)
	if err != nil || g.Config.Profiles["a"].Auth.Token != "env:T" || g.Config.Current != "a" {
		t.Fatalf("round trip: %+v, %v", g, err)
	}
}

func TestResolver(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "s.txt"), []byte("from-file\n"), 0o600)
	store := FileStore{Dir: filepath.Join(dir, "store")}
	ctx := context.Background()
	if err := store.Set(ctx, "dev", "token", "from-store"); err != nil {
		t.Fatal(err)
	}
	r := &Resolver{Getenv: func(k string) string { return map[string]string{"T": "from-env"}[k] }, Store: store, BaseDir: dir}
	tests := []struct{ ref, want, errSub string }{
		{ref: "env:T", want: "from-env"},
		{ref: "env:MISSING", errSub: "MISSING is not set"},
		{ref: "cmd:printf from-cmd", want: "from-cmd"},
		{ref: "cmd:exit 3", errSub: "command failed"},
		{ref: "file:s.txt", want: "from-file"},
		{ref: "keyring:token", want: "from-store"},
		{ref: "keyring:other", errSub: "no secret"},
		{ref: "plaintext-secret", errSub: "not a secret reference"},
	}
	for _, tt := range tests {
		got, err := r.Resolve(ctx, "dev", "auth.token", tt.ref)
		if tt.errSub != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errSub) {
				t.Errorf("Resolve(%q) err = %v, want %q", tt.ref, err, tt.errSub)
			}
			if err != nil && strings.Contains(err.Error(), "plaintext-secret") {
				t.Errorf("error echoes the secret: %v", err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", tt.ref, got, err, tt.want)
		}
	}
}

// The published JSON Schema must list exactly the auth fields the code knows.
func TestSchemaMatchesAuthFields(t *testing.T) {
	data, err := os.ReadFile("../../docs/schema/config.json")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Properties struct {
			Profiles struct {
				AdditionalProperties struct {
					Properties map[string]json.RawMessage `json:"properties"`
				} `json:"additionalProperties"`
			} `json:"profiles"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	var authSchema struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	json.Unmarshal(s.Properties.Profiles.AdditionalProperties.Properties["auth"], &authSchema)
	var inSchema []string
	for k := range authSchema.Properties {
		inSchema = append(inSchema, k)
	}
	inCode := AuthFieldNames()
	sort.Strings(inSchema)
	sort.Strings(inCode)
	if strings.Join(inSchema, ",") != strings.Join(inCode, ",") {
		t.Fatalf("schema auth fields %v\ncode auth fields   %v", inSchema, inCode)
	}
}
