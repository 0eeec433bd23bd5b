// Package profiles reads, writes and validates named profiles and resolves
// their secrets. It knows nothing about cobra or the process: paths and the
// environment are passed in.
package profiles

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/gwcurl/gwcurl/internal/strictyaml"
	"gopkg.in/yaml.v3"
)

// ConfigPath returns the config file to use: $GWCURL_CONFIG, else
// $GWCURL_CONFIG_DIR/config.yaml, else $XDG_CONFIG_HOME/gwcurl/config.yaml,
// else the OS config dir.
func ConfigPath(getenv func(string) string) (string, error) {
	if p := getenv("GWCURL_CONFIG"); p != "" {
		return p, nil
	}
	if d := getenv("GWCURL_CONFIG_DIR"); d != "" {
		return filepath.Join(d, "config.yaml"), nil
	}
	if d := getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "gwcurl", "config.yaml"), nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("cannot find a config directory: %w (set GWCURL_CONFIG)", err)
	}
	return filepath.Join(d, "gwcurl", "config.yaml"), nil
}

// CacheDir returns the token cache directory: $XDG_CACHE_HOME/gwcurl, else
// the OS cache dir.
func CacheDir(getenv func(string) string) string {
	if d := getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "gwcurl")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "gwcurl")
	}
	return filepath.Join(os.TempDir(), "gwcurl-cache")
}

// ConfigError is a problem in the config file, located by file, line and key.
type ConfigError struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// NotFoundError says a named profile does not exist.
type NotFoundError struct {
	Name      string
	Available []string
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("profile %q not found", e.Name) }

// File is a loaded config file.
type File struct {
	Path   string
	Config Config
	Exists bool
}

// Load reads and validates the config file at path. A missing file is an
// empty config.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &File{Path: path, Config: Config{Profiles: map[string]*Profile{}}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read config: %w", err)
	}
	cfg, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	return &File{Path: path, Config: *cfg, Exists: true}, nil
}

// Parse decodes and validates config bytes; path is used in errors.
func Parse(path string, data []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(path, err)
	}
	cfg := &Config{Profiles: map[string]*Profile{}}
	if root.Kind == 0 || len(root.Content) == 0 { // empty file
		return cfg, nil
	}
	doc := root.Content[0]
	if err := checkKeys(path, doc, ""); err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		return nil, yamlError(path, err)
	}
	if cfg.Profiles == nil {
		cfg.Profiles = map[string]*Profile{}
	}
	for name, p := range cfg.Profiles {
		if p == nil {
			p = &Profile{}
			cfg.Profiles[name] = p
		}
		p.Name = name
		line := profileLine(doc, name)
		if err := p.Validate(); err != nil {
			var fe *fieldError
			if errors.As(err, &fe) {
				return nil, &ConfigError{File: path, Line: fieldLine(doc, name, fe.path), Key: "profiles." + name + "." + fe.path, Msg: fe.msg}
			}
			return nil, &ConfigError{File: path, Line: line, Key: "profiles." + name, Msg: err.Error()}
		}
	}
	if cfg.Current != "" {
		if _, ok := cfg.Profiles[cfg.Current]; !ok {
			return nil, &ConfigError{File: path, Line: keyLine(doc, "current"), Key: "current", Msg: fmt.Sprintf("profile %q is not defined", cfg.Current)}
		}
	}
	return cfg, nil
}

// yamlError turns a yaml.v3 error ("yaml: line 3: ...") into a ConfigError.
func yamlError(path string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		err = errors.New(te.Errors[0])
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if strings.HasPrefix(msg, "line ") {
		rest := msg[len("line "):]
		if i := strings.IndexByte(rest, ':'); i > 0 {
			fmt.Sscanf(rest[:i], "%d", &line)
			msg = strings.TrimSpace(rest[i+1:])
		}
	}
	return &ConfigError{File: path, Line: line, Msg: msg}
}

var (
	topKeys     = yamlFieldNames(Config{})
	profileKeys = yamlFieldNames(Profile{})
	authKeys    = yamlFieldNames(Auth{})
)

// checkKeys reports unknown keys with their line, before the typed decode,
// so the message names the full key path.
func checkKeys(path string, doc *yaml.Node, _ string) error {
	if doc.Kind != yaml.MappingNode {
		return &ConfigError{File: path, Line: doc.Line, Msg: "the config must be a mapping with `profiles:`"}
	}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i], doc.Content[i+1]
		if !slices.Contains(topKeys, k.Value) {
			return &ConfigError{File: path, Line: k.Line, Key: k.Value, Msg: "unknown key (" + strictyaml.Hint(k.Value, topKeys) + ")"}
		}
		if k.Value != "profiles" {
			continue
		}
		if v.Kind != yaml.MappingNode {
			if v.Tag == "!!null" {
				continue
			}
			return &ConfigError{File: path, Line: v.Line, Key: "profiles", Msg: "must be a mapping of profile names"}
		}
		for j := 0; j+1 < len(v.Content); j += 2 {
			name, p := v.Content[j], v.Content[j+1]
			if p.Kind != yaml.MappingNode {
				if p.Tag == "!!null" {
					continue
				}
				return &ConfigError{File: path, Line: p.Line, Key: "profiles." + name.Value, Msg: "must be a mapping"}
			}
			for m := 0; m+1 < len(p.Content); m += 2 {
				pk, pv := p.Content[m], p.Content[m+1]
				if !slices.Contains(profileKeys, pk.Value) {
					return &ConfigError{File: path, Line: pk.Line, Key: "profiles." + name.Value + "." + pk.Value, Msg: "unknown key (" + strictyaml.Hint(pk.Value, profileKeys) + ")"}
				}
				if pk.Value == "auth" && pv.Kind == yaml.MappingNode {
					for n := 0; n+1 < len(pv.Content); n += 2 {
						ak := pv.Content[n]
						if !slices.Contains(authKeys, ak.Value) {
							return &ConfigError{File: path, Line: ak.Line, Key: "profiles." + name.Value + ".auth." + ak.Value, Msg: "unknown key (" + strictyaml.Hint(ak.Value, authKeys) + ")"}
						}
					}
				}
			}
		}
	}
	return nil
}

func mapGet(n *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i], n.Content[i+1]
		}
	}
	return nil, nil
}

func keyLine(doc *yaml.Node, key string) int {
	if k, _ := mapGet(doc, key); k != nil {
		return k.Line
	}
	return 0
}

func profileLine(doc *yaml.Node, name string) int {
	_, ps := mapGet(doc, "profiles")
	if k, _ := mapGet(ps, name); k != nil {
		return k.Line
	}
	return 0
}

func fieldLine(doc *yaml.Node, name, dotted string) int {
	_, n := mapGet(doc, "profiles")
	_, n = mapGet(n, name)
	line := profileLine(doc, name)
	for _, part := range strings.Split(dotted, ".") {
		k, v := mapGet(n, part)
		if k == nil {
			break
		}
		line = k.Line
		n = v
	}
	return line
}

type fieldError struct{ path, msg string }

func (e *fieldError) Error() string { return e.path + ": " + e.msg }

func fieldErr(path, format string, args ...any) error {
	return &fieldError{path: path, msg: fmt.Sprintf(format, args...)}
}

// Validate checks a profile's values.
func (p *Profile) Validate() error {
	if p.BaseURL != "" {
		u, err := url.Parse(p.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fieldErr("base_url", "%q is not an absolute http(s) URL", p.BaseURL)
		}
	}
	for k := range p.Headers {
		if !validHeaderName(k) {
			return fieldErr("headers", "%q is not a valid header name", k)
		}
	}
	return p.Auth.Validate()
}

// Validate checks an auth block's values.
func (a *Auth) Validate() error {
	if a.Kind != "" && !contains(Kinds, a.Kind) {
		return fieldErr("auth.kind", "unknown auth kind %q (want one of %s)", a.Kind, strings.Join(Kinds, ", "))
	}
	for _, s := range []struct{ field, v string }{
		{"auth.secret_access_key", a.SecretAccessKey}, {"auth.session_token", a.SessionToken},
		{"auth.client_secret", a.ClientSecret}, {"auth.token", a.Token},
	} {
		if s.v != "" && !IsRef(s.v) {
			return fieldErr(s.field, "must be a secret reference (env:NAME, cmd:COMMAND, file:PATH or keyring:KEY), not the secret itself")
		}
	}
	if a.Format != "" && a.Format != "url" && a.Format != "vault" && a.Format != "k8s" {
		return fieldErr("auth.format", "unknown identity format %q (want url, vault or k8s)", a.Format)
	}
	if a.UseToken != "" && a.UseToken != "id" && a.UseToken != "access" {
		return fieldErr("auth.use_token", "must be id or access, not %q", a.UseToken)
	}
	if a.RedirectPort < 0 || a.RedirectPort > 65535 {
		return fieldErr("auth.redirect_port", "%d is not a port", a.RedirectPort)
	}
	for _, u := range []struct{ field, v string }{
		{"auth.issuer", a.Issuer}, {"auth.start_url", a.StartURL}, {"auth.token_url", a.TokenURL}, {"auth.sts_endpoint", a.STSEndpoint},
	} {
		if u.v == "" {
			continue
		}
		pu, err := url.Parse(u.v)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return fieldErr(u.field, "%q is not an absolute http(s) URL", u.v)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

// ValidHeaderName reports whether s is an RFC 9110 token.
func ValidHeaderName(s string) bool { return validHeaderName(s) }

// Names returns the profile names, sorted.
func (c *Config) Names() []string {
	names := make([]string, 0, len(c.Profiles))
	for n := range c.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Get returns a named profile.
func (c *Config) Get(name string) (*Profile, error) {
	p, ok := c.Profiles[name]
	if !ok {
		return nil, &NotFoundError{Name: name, Available: c.Names()}
	}
	return p, nil
}

// Save writes the config atomically with mode 0600 (directory 0700).
func (f *File) Save() error {
	if err := os.MkdirAll(filepath.Dir(f.Path), 0o700); err != nil {
		return err
	}
	var buf bytes.Buffer
	buf.WriteString("# gwcurl config: see docs/configuration.md. Secrets are references, never values.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&f.Config); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	if err := WriteFileAtomic(f.Path, buf.Bytes(), 0o600); err != nil {
		return err
	}
	f.Exists = true
	return nil
}
