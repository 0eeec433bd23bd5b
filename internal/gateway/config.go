package gateway

import (
	"bytes"
	_ "embed" // for demo.yaml
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/strictyaml"
)

//go:embed demo.yaml
var demoYAML []byte

// demoSource is the file name the embedded demo config reports in errors.
const demoSource = "demo.yaml (embedded)"

// Config is a gateway configuration, decoded from YAML. See docs/gateway.md
// for every key. Build one with [LoadConfig], [ParseConfig] or [DemoConfig]:
// those validate it and record where each value came from, so that [New]
// can name the file and line of a bad auth block.
type Config struct {
	// Source names the file the config came from, for error messages.
	Source string `yaml:"-"`
	// Env is the environment overlay that was applied ("" for none).
	Env string `yaml:"-"`

	// Hosts are extra Host header values the gateway answers to, besides
	// its listen address and localhost/127.0.0.1/[::1] on its port
	// ("gw.test" for any port, "gw.test:8080" for one). Others get 421
	// (DNS-rebinding guard, docs/security.md).
	Hosts []string `yaml:"hosts"`
	// Explain makes rejections name what failed (default true).
	Explain *bool `yaml:"explain"`
	// BodyLimit is the largest request body accepted (default 10 MiB).
	BodyLimit ByteSize `yaml:"body_limit"`
	// Headers are set on every request forwarded to an origin.
	Headers map[string]string `yaml:"headers"`
	// SecurityHeaders are set on every response; a key with an empty value
	// removes one of the defaults.
	SecurityHeaders map[string]string `yaml:"security_headers"`
	CORS            CORSConfig        `yaml:"cors"`
	// Store shares rate limits, edge caches and the mock providers'
	// one-time state between gateway instances (nil: in process; store.go).
	Store    *StoreConfig   `yaml:"store"`
	Upstream UpstreamConfig `yaml:"upstream"`
	Log      LogConfig      `yaml:"log"`
	// AWSKeys and Users are shared by the verifiers and mock providers
	// (auth.Env).
	AWSKeys []auth.AWSKey `yaml:"aws_keys"`
	Users   []auth.User   `yaml:"users"`
	// Mocks holds per-kind settings for the mock identity providers; each
	// value reaches the providers as auth.Env.Shared["mock:"+key] (a
	// *yaml.Node with ${base_url} expanded).
	Mocks  map[string]*yaml.Node `yaml:"mocks"`
	Routes []Route               `yaml:"routes"`
}

// Route maps a path prefix to an origin, behind one auth block.
type Route struct {
	// Prefix is the path prefix the route serves ("/public" serves
	// /public, /public/ and /public/x, never /publicx).
	Prefix string `yaml:"prefix"`
	// StripPrefix removes a leading part of the path before the origin sees
	// it: true strips Prefix, a string strips that (a prefix of Prefix).
	StripPrefix StripPrefix `yaml:"strip_prefix"`
	// Methods lists the allowed methods (empty: all). GET allows HEAD.
	Methods []string `yaml:"methods"`
	// Auth is the route's auth block ({kind: ..., kind fields}); required.
	Auth *yaml.Node `yaml:"auth"`
	// Upstream is the origin: http(s)://host[:port][/base], builtin:echo or
	// builtin:items.
	Upstream string `yaml:"upstream"`
	// Paths dispatches by path (after stripping) to other origins; the
	// longest matching path prefix wins, Upstream serves the rest.
	Paths map[string]string `yaml:"paths"`
	// Headers are set on requests forwarded to this route's origins.
	Headers   map[string]string `yaml:"headers"`
	RateLimit *RateLimit        `yaml:"rate_limit"`
	// BodyLimit overrides the gateway's body_limit for this route.
	BodyLimit ByteSize `yaml:"body_limit"`
	// Explain overrides the gateway's explain for this route.
	Explain *bool `yaml:"explain"`
	// Timeout bounds an http(s) upstream's answer (default upstream.timeout).
	Timeout Duration `yaml:"timeout"`
	// MaxInFlight bounds concurrent requests to the origin (0: no limit);
	// above it the gateway answers 503 with Retry-After.
	MaxInFlight int `yaml:"max_in_flight"`
	// WebSocket holds the WebSocket settings (websocket.go).
	WebSocket WebSocketRoute `yaml:",inline"`
	// OriginAuth is how the gateway authenticates itself to the origins
	// ({kind: sigv4|google_id|cf_access|sts_identity|bearer, ...}).
	OriginAuth *yaml.Node `yaml:"origin_auth"`
	// Cache is the route's edge cache (nil: none).
	Cache *CacheConfig `yaml:"cache"`
	// BotCheck verifies a Turnstile token before the route's verifier.
	BotCheck *BotCheck `yaml:"bot_check"`

	line int // of the route's mapping, for errors
}

// CORSConfig is the gateway's CORS policy.
type CORSConfig struct {
	// AllowOrigins is the exact allowlist ("scheme://host[:port]").
	AllowOrigins     []string `yaml:"allow_origins"`
	AllowMethods     []string `yaml:"allow_methods"`
	AllowHeaders     []string `yaml:"allow_headers"`
	ExposeHeaders    []string `yaml:"expose_headers"`
	AllowCredentials bool     `yaml:"allow_credentials"`
	MaxAge           Duration `yaml:"max_age"`
	// AllowOtherOrigins lets requests with an Origin outside the allowlist
	// through without CORS headers (as most clouds do) instead of refusing
	// them with 403 (the default, which makes the refusal visible).
	AllowOtherOrigins bool `yaml:"allow_other_origins"`
}

// UpstreamConfig tunes the reverse proxy used for http(s) origins.
type UpstreamConfig struct {
	DialTimeout Duration `yaml:"dial_timeout"` // default 5s
	Timeout     Duration `yaml:"timeout"`      // default 30s, until response headers
	MaxIdle     int      `yaml:"max_idle"`     // idle connections per host, default 256
}

// LogConfig tunes the request log.
type LogConfig struct {
	// Recent is how many entries /_mock/requests keeps (default 1000).
	Recent int `yaml:"recent"`
}

// RateLimit is a token bucket per client address.
type RateLimit struct {
	RPS   float64 `yaml:"rps"`
	Burst int     `yaml:"burst"`
}

// StripPrefix is true/false or the path prefix to strip.
type StripPrefix struct {
	Enabled bool
	Prefix  string // "" with Enabled: the route's prefix
}

// UnmarshalYAML accepts a boolean or a path.
func (s *StripPrefix) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("want true, false or a path prefix")
	}
	if n.Tag == "!!bool" {
		var b bool
		if err := n.Decode(&b); err != nil {
			return err
		}
		*s = StripPrefix{Enabled: b}
		return nil
	}
	if !strings.HasPrefix(n.Value, "/") {
		return fmt.Errorf("want true, false or a path starting with /, got %q", n.Value)
	}
	*s = StripPrefix{Enabled: true, Prefix: strings.TrimSuffix(n.Value, "/")}
	return nil
}

// Duration is a time.Duration written as "10s", "1m30s".
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("want a duration such as 30s")
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return fmt.Errorf("want a duration such as 30s, got %q", n.Value)
	}
	*d = Duration(v)
	return nil
}

// ByteSize is a size in bytes written as 1048576, "512KiB", "10MiB", "1MB".
type ByteSize int64

// UnmarshalYAML parses a size with an optional unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseByteSize(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return fmt.Errorf("want a size such as 10MiB, got %q", n.Value)
	}
	*b = ByteSize(v)
	return nil
}

func parseByteSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := len(s)
	for i > 0 && (s[i-1] < '0' || s[i-1] > '9') {
		i--
	}
	num, unit := s[:i], strings.TrimSpace(s[i:])
	mult := map[string]int64{
		"": 1, "B": 1,
		"KB": 1e3, "MB": 1e6, "GB": 1e9,
		"K": 1 << 10, "M": 1 << 20, "G": 1 << 30,
		"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30,
	}[unit]
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || mult == 0 || n <= 0 || n > (1<<62)/mult {
		return 0, errors.New("bad size")
	}
	return n * mult, nil
}

// ConfigError is a config problem located in its file: "FILE:LINE: key:
// problem".
type ConfigError struct {
	File    string
	Line    int
	Key     string // dotted path, e.g. routes[2].auth.kind
	Problem string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Problem)
	return b.String()
}

// LoadConfig reads and validates a gateway config file, applying the
// environments overlay envName ("" for none). Errors name the file, line and
// key: "FILE:LINE: key: problem".
func LoadConfig(path, envName string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read gateway config: %w", err)
	}
	return ParseConfig(path, data, envName)
}

// DemoConfig returns the embedded demo config (docs/gateway.md), with the
// environments overlay envName ("" for none) applied.
func DemoConfig(envName string) (*Config, error) {
	return ParseConfig(demoSource, demoYAML, envName)
}

// DemoYAML returns the embedded demo config's source text.
func DemoYAML() []byte { return bytes.Clone(demoYAML) }

// ParseConfig parses and validates config text; source names it in errors.
func ParseConfig(source string, data []byte, envName string) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlSyntaxError(source, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, &ConfigError{File: source, Problem: "empty config (want a mapping with routes:)"}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &ConfigError{File: source, Line: root.Line, Problem: "want a mapping with routes: at the top level"}
	}
	d := &decoder{file: source}
	if err := d.applyEnvironment(root, envName); err != nil {
		return nil, err
	}
	cfg := &Config{Source: source, Env: envName}
	if err := d.decode(root, cfg, ""); err != nil {
		return nil, err
	}
	if err := d.validate(cfg, root); err != nil {
		return nil, err
	}
	return cfg, nil
}

// yamlSyntaxError turns yaml.v3's "yaml: line 3: ..." into FILE:3: ....
func yamlSyntaxError(source string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, tail, ok := strings.Cut(rest, ": "); ok {
			if v, err := strconv.Atoi(n); err == nil {
				line, msg = v, tail
			}
		}
	}
	return &ConfigError{File: source, Line: line, Problem: "invalid YAML: " + msg}
}

type decoder struct {
	file string
}

func (d *decoder) errf(n *yaml.Node, key, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &ConfigError{File: d.file, Line: line, Key: key, Problem: fmt.Sprintf(format, args...)}
}

// applyEnvironment removes environments: from root and merges the selected
// overlay into it. Merged nodes keep their own lines, so errors still point
// at the overlay's text.
func (d *decoder) applyEnvironment(root *yaml.Node, envName string) error {
	var envs *yaml.Node
	for i := 0; i < len(root.Content); i += 2 {
		if root.Content[i].Value == "environments" {
			envs = root.Content[i+1]
			root.Content = slices.Delete(root.Content, i, i+2)
			break
		}
	}
	if envs != nil && envs.Kind != yaml.MappingNode {
		return d.errf(envs, "environments", "want a mapping of environment name to overlay")
	}
	var names []string
	var overlay *yaml.Node
	if envs != nil {
		for i := 0; i < len(envs.Content); i += 2 {
			name, v := envs.Content[i].Value, envs.Content[i+1]
			names = append(names, name)
			if v.Kind != yaml.MappingNode {
				return d.errf(v, "environments."+name, "want a mapping (a partial config)")
			}
			for j := 0; j < len(v.Content); j += 2 {
				if v.Content[j].Value == "environments" {
					return d.errf(v.Content[j], "environments."+name+".environments", "environments cannot be nested")
				}
			}
			if name == envName {
				overlay = v
			}
		}
	}
	if envName == "" {
		return nil
	}
	if overlay == nil {
		have := "none are defined"
		if len(names) > 0 {
			have = "have: " + strings.Join(names, ", ")
		}
		return d.errf(envs, "environments", "no environment %q (%s)", envName, have)
	}
	mergeNode(root, overlay)
	return nil
}

// mergeNode merges over into base: mappings key by key, routes by prefix,
// anything else is replaced.
func mergeNode(base, over *yaml.Node) {
	for i := 0; i < len(over.Content); i += 2 {
		k, v := over.Content[i], over.Content[i+1]
		j := mappingIndex(base, k.Value)
		switch {
		case j < 0:
			base.Content = append(base.Content, k, v)
		case k.Value == "routes" && base.Content[j+1].Kind == yaml.SequenceNode && v.Kind == yaml.SequenceNode:
			mergeRoutes(base.Content[j+1], v)
		case base.Content[j+1].Kind == yaml.MappingNode && v.Kind == yaml.MappingNode &&
			(k.Value != "auth" || scalarAt(v, "kind") == "" || scalarAt(v, "kind") == scalarAt(base.Content[j+1], "kind")):
			// An auth overlay of the same kind (or with no kind) changes
			// fields; one of another kind replaces the block.
			mergeNode(base.Content[j+1], v)
		default:
			base.Content[j+1] = v
		}
	}
}

func mergeRoutes(base, over *yaml.Node) {
	for _, r := range over.Content {
		p := scalarAt(r, "prefix")
		merged := false
		for _, b := range base.Content {
			if p != "" && scalarAt(b, "prefix") == p && b.Kind == yaml.MappingNode && r.Kind == yaml.MappingNode {
				mergeNode(b, r)
				merged = true
				break
			}
		}
		if !merged {
			base.Content = append(base.Content, r)
		}
	}
}

func mappingIndex(m *yaml.Node, key string) int {
	if m.Kind != yaml.MappingNode {
		return -1
	}
	for i := 0; i < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

func scalarAt(m *yaml.Node, key string) string {
	if i := mappingIndex(m, key); i >= 0 && m.Content[i+1].Kind == yaml.ScalarNode {
		return m.Content[i+1].Value
	}
	return ""
}

// The config is decoded by hand from the node tree rather than with
// yaml.Node.Decode, because yaml.v3 can only refuse unknown keys when decoding
// from a stream (Decoder.KnownFields), and then cannot name the key path; the
// product wants "FILE:LINE: key: problem" for every mistake.
func (d *decoder) decode(n *yaml.Node, cfg *Config, _ string) error {
	for i := 0; i < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		var err error
		switch key {
		case "hosts":
			err = d.stringList(v, key, &cfg.Hosts)
			for j, h := range cfg.Hosts {
				if err == nil && !validHostEntry(h) {
					err = d.errf(v, fmt.Sprintf("%s[%d]", key, j), "%q is not a host name or host:port (no scheme, path or wildcard)", h)
				}
			}
		case "explain":
			err = d.scalar(v, key, &cfg.Explain)
		case "body_limit":
			err = d.scalar(v, key, &cfg.BodyLimit)
		case "headers":
			err = d.headers(v, key, &cfg.Headers)
		case "security_headers":
			err = d.headers(v, key, &cfg.SecurityHeaders)
			for hk, hv := range cfg.SecurityHeaders {
				if hv == "" {
					continue
				}
				if err == nil && strings.ContainsAny(hv, "\r\n") {
					err = d.errf(v, key+"."+hk, "value must be one line")
				}
			}
		case "cors":
			err = d.cors(v, key, &cfg.CORS)
		case "upstream":
			err = d.fields(v, key, map[string]any{
				"dial_timeout": &cfg.Upstream.DialTimeout,
				"timeout":      &cfg.Upstream.Timeout,
				"max_idle":     &cfg.Upstream.MaxIdle,
			})
		case "log":
			err = d.fields(v, key, map[string]any{"recent": &cfg.Log.Recent})
		case "store":
			cfg.Store = &StoreConfig{}
			err = d.fields(v, key, map[string]any{"redis": &cfg.Store.Redis})
			if err == nil {
				err = cfg.Store.check(func(problem string) error { return d.errf(v, key+".redis", "%s", problem) })
			}
		case "aws_keys":
			err = d.awsKeys(v, key, &cfg.AWSKeys)
		case "users":
			err = d.users(v, key, &cfg.Users)
		case "mocks":
			if v.Kind != yaml.MappingNode {
				return d.errf(v, key, "want a mapping of kind to mock settings")
			}
			cfg.Mocks = map[string]*yaml.Node{}
			for j := 0; j < len(v.Content); j += 2 {
				cfg.Mocks[v.Content[j].Value] = v.Content[j+1]
			}
		case "routes":
			err = d.routes(v, key, &cfg.Routes)
		default:
			return d.unknownKey(k, "", key, topKeys)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

var (
	topKeys   = []string{"hosts", "explain", "body_limit", "headers", "security_headers", "cors", "upstream", "log", "store", "aws_keys", "users", "mocks", "routes", "environments"}
	routeKeys = []string{"prefix", "strip_prefix", "methods", "auth", "upstream", "paths", "headers", "rate_limit", "body_limit", "explain", "timeout", "max_in_flight", "origin_auth", "cache", "bot_check"}
)

func (d *decoder) unknownKey(k *yaml.Node, parent, key string, known []string) error {
	full := key
	if parent != "" {
		full = parent + "." + key
	}
	return d.errf(k, full, "unknown key (%s)", strictyaml.Hint(key, known))
}

// scalar decodes a leaf value, naming key and line on error.
func (d *decoder) scalar(v *yaml.Node, key string, out any) error {
	if v.Kind == yaml.AliasNode {
		v = v.Alias
	}
	if err := v.Decode(out); err != nil {
		msg := err.Error()
		if te := (*yaml.TypeError)(nil); errors.As(err, &te) && len(te.Errors) > 0 {
			msg = te.Errors[0]
			if _, tail, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(msg, "line ") {
				msg = tail
			}
		}
		return d.errf(v, key, "%s", msg)
	}
	return nil
}

// fields decodes a mapping whose keys are all scalars listed in ptrs.
func (d *decoder) fields(v *yaml.Node, key string, ptrs map[string]any) error {
	if v.Kind != yaml.MappingNode {
		return d.errf(v, key, "want a mapping")
	}
	for i := 0; i < len(v.Content); i += 2 {
		k := v.Content[i]
		p, ok := ptrs[k.Value]
		if !ok {
			known := make([]string, 0, len(ptrs))
			for name := range ptrs {
				known = append(known, name)
			}
			sort.Strings(known)
			return d.unknownKey(k, key, k.Value, known)
		}
		if err := d.scalar(v.Content[i+1], key+"."+k.Value, p); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) headers(v *yaml.Node, key string, out *map[string]string) error {
	if v.Kind != yaml.MappingNode {
		return d.errf(v, key, "want a mapping of header name to value")
	}
	m := map[string]string{}
	for i := 0; i < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		if !validHeaderName(k.Value) {
			return d.errf(k, key+"."+k.Value, "not a valid header name")
		}
		if val.Kind != yaml.ScalarNode {
			return d.errf(val, key+"."+k.Value, "want a string value")
		}
		if strings.ContainsAny(val.Value, "\r\n\x00") {
			return d.errf(val, key+"."+k.Value, "value must be one line")
		}
		m[http.CanonicalHeaderKey(k.Value)] = val.Value
	}
	*out = m
	return nil
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func (d *decoder) stringList(v *yaml.Node, key string, out *[]string) error {
	if v.Kind != yaml.SequenceNode {
		return d.errf(v, key, "want a list")
	}
	list := make([]string, 0, len(v.Content))
	for i, e := range v.Content {
		if e.Kind != yaml.ScalarNode {
			return d.errf(e, fmt.Sprintf("%s[%d]", key, i), "want a string")
		}
		list = append(list, e.Value)
	}
	*out = list
	return nil
}

func (d *decoder) cors(v *yaml.Node, key string, c *CORSConfig) error {
	if v.Kind != yaml.MappingNode {
		return d.errf(v, key, "want a mapping")
	}
	known := []string{"allow_origins", "allow_methods", "allow_headers", "expose_headers", "allow_credentials", "max_age", "allow_other_origins"}
	for i := 0; i < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		sub := key + "." + k.Value
		var err error
		switch k.Value {
		case "allow_origins":
			if err = d.stringList(val, sub, &c.AllowOrigins); err == nil {
				for j, o := range c.AllowOrigins {
					if p := originProblem(o); p != "" {
						return d.errf(val.Content[j], fmt.Sprintf("%s[%d]", sub, j), "%s", p)
					}
				}
			}
		case "allow_methods":
			if err = d.stringList(val, sub, &c.AllowMethods); err == nil {
				for j, m := range c.AllowMethods {
					if !validMethod(m) {
						return d.errf(val.Content[j], fmt.Sprintf("%s[%d]", sub, j), "%q is not an upper-case method", m)
					}
				}
			}
		case "allow_headers", "expose_headers":
			dst := &c.AllowHeaders
			if k.Value == "expose_headers" {
				dst = &c.ExposeHeaders
			}
			if err = d.stringList(val, sub, dst); err == nil {
				for j, h := range *dst {
					if !validHeaderName(h) {
						return d.errf(val.Content[j], fmt.Sprintf("%s[%d]", sub, j), "%q is not a header name", h)
					}
				}
			}
		case "allow_credentials":
			err = d.scalar(val, sub, &c.AllowCredentials)
		case "max_age":
			err = d.scalar(val, sub, &c.MaxAge)
		case "allow_other_origins":
			err = d.scalar(val, sub, &c.AllowOtherOrigins)
		default:
			return d.unknownKey(k, key, k.Value, known)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// originProblem checks an allowlist entry is an exact serialized origin.
func originProblem(o string) string {
	if o == "*" {
		return `"*" is not allowed: list exact origins`
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Scheme+"://"+u.Host != o || strings.ToLower(o) != o {
		return fmt.Sprintf("%q is not an origin (want scheme://host[:port], no path or trailing slash)", o)
	}
	return ""
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		if m[i] < 'A' || m[i] > 'Z' {
			return false
		}
	}
	return true
}

func (d *decoder) awsKeys(v *yaml.Node, key string, out *[]auth.AWSKey) error {
	if v.Kind != yaml.SequenceNode {
		return d.errf(v, key, "want a list of {access_key_id, secret_access_key, arn}")
	}
	seen := map[string]bool{}
	for i, e := range v.Content {
		sub := fmt.Sprintf("%s[%d]", key, i)
		var k auth.AWSKey
		if err := d.fields(e, sub, map[string]any{
			"access_key_id":     &k.AccessKeyID,
			"secret_access_key": &k.SecretAccessKey,
			"arn":               &k.ARN,
			"session_token":     &k.SessionToken,
		}); err != nil {
			return err
		}
		switch {
		case k.AccessKeyID == "":
			return d.errf(e, sub+".access_key_id", "required")
		case k.SecretAccessKey == "":
			return d.errf(e, sub+".secret_access_key", "required")
		case !strings.HasPrefix(k.ARN, "arn:"):
			return d.errf(e, sub+".arn", "want an ARN (arn:aws:iam::ACCOUNT:user/NAME)")
		case seen[k.AccessKeyID]:
			return d.errf(e, sub+".access_key_id", "duplicate key %s", k.AccessKeyID)
		}
		seen[k.AccessKeyID] = true
		*out = append(*out, k)
	}
	return nil
}

func (d *decoder) users(v *yaml.Node, key string, out *[]auth.User) error {
	if v.Kind != yaml.SequenceNode {
		return d.errf(v, key, "want a list of {email, password}")
	}
	for i, e := range v.Content {
		sub := fmt.Sprintf("%s[%d]", key, i)
		var u auth.User
		if err := d.fields(e, sub, map[string]any{"email": &u.Email, "password": &u.Password, "name": &u.Name}); err != nil {
			return err
		}
		if !strings.Contains(u.Email, "@") {
			return d.errf(e, sub+".email", "want an e-mail address")
		}
		if u.Password == "" {
			return d.errf(e, sub+".password", "required")
		}
		*out = append(*out, u)
	}
	return nil
}

func (d *decoder) routes(v *yaml.Node, key string, out *[]Route) error {
	if v.Kind != yaml.SequenceNode {
		return d.errf(v, key, "want a list of routes")
	}
	for i, e := range v.Content {
		sub := fmt.Sprintf("%s[%d]", key, i)
		if e.Kind != yaml.MappingNode {
			return d.errf(e, sub, "want a mapping with prefix, auth and upstream")
		}
		r := Route{line: e.Line}
		for j := 0; j < len(e.Content); j += 2 {
			k, val := e.Content[j], e.Content[j+1]
			rk := sub + "." + k.Value
			var err error
			switch k.Value {
			case "prefix":
				err = d.scalar(val, rk, &r.Prefix)
			case "strip_prefix":
				err = d.scalar(val, rk, &r.StripPrefix)
			case "methods":
				if err = d.stringList(val, rk, &r.Methods); err == nil {
					for m, meth := range r.Methods {
						if !validMethod(meth) {
							return d.errf(val.Content[m], fmt.Sprintf("%s[%d]", rk, m), "%q is not an upper-case method", meth)
						}
					}
				}
			case "auth":
				r.Auth, err = d.authNode(val, rk)
			case "upstream":
				err = d.scalar(val, rk, &r.Upstream)
			case "paths":
				err = d.headersLikeMap(val, rk, &r.Paths)
			case "headers":
				err = d.headers(val, rk, &r.Headers)
			case "rate_limit":
				r.RateLimit = &RateLimit{}
				if err = d.fields(val, rk, map[string]any{"rps": &r.RateLimit.RPS, "burst": &r.RateLimit.Burst}); err == nil {
					if r.RateLimit.RPS <= 0 {
						return d.errf(val, rk+".rps", "want a positive number of requests per second")
					}
					if r.RateLimit.Burst < 1 {
						r.RateLimit.Burst = max(1, int(r.RateLimit.RPS))
					}
				}
			case "body_limit":
				err = d.scalar(val, rk, &r.BodyLimit)
			case "explain":
				err = d.scalar(val, rk, &r.Explain)
			case "timeout":
				err = d.scalar(val, rk, &r.Timeout)
			case "bot_check":
				r.BotCheck = &BotCheck{}
				err = d.fields(val, rk, map[string]any{"kind": &r.BotCheck.Kind, "secret": &r.BotCheck.Secret, "verify_url": &r.BotCheck.VerifyURL})
			case "cache":
				r.Cache = &CacheConfig{}
				if err = d.fields(val, rk, map[string]any{"max_entries": &r.Cache.MaxEntries, "max_body": &r.Cache.MaxBody,
					"default_ttl": &r.Cache.DefaultTTL, "authenticated": &r.Cache.Authenticated}); err == nil && r.Cache.MaxEntries < 0 {
					return d.errf(val, rk+".max_entries", "want a positive number (default 1000)")
				}
			case "origin_auth":
				if val.Kind != yaml.MappingNode || scalarAt(val, "kind") == "" {
					return d.errf(val, rk, "want a mapping {kind: sigv4|google_id|cf_access|sts_identity|bearer, ...}")
				}
				r.OriginAuth = val
			case "max_in_flight":
				if err = d.scalar(val, rk, &r.MaxInFlight); err == nil && r.MaxInFlight < 0 {
					return d.errf(val, rk, "want 0 (no limit) or a positive number")
				}
			default:
				var ok bool
				if ok, err = d.wsRouteField(k.Value, val, rk, &r.WebSocket); !ok {
					return d.unknownKey(k, sub, k.Value, append(slices.Clone(routeKeys), wsRouteKeys...))
				}
			}
			if err != nil {
				return err
			}
		}
		*out = append(*out, r)
	}
	return nil
}

// authNode accepts {kind: ..., fields} or the shorthand `auth: none`.
func (d *decoder) authNode(v *yaml.Node, key string) (*yaml.Node, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Value == "" {
			return nil, d.errf(v, key, "want {kind: ...}")
		}
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: v.Line, Column: v.Column, Content: []*yaml.Node{
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: "kind", Line: v.Line, Column: v.Column},
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: v.Value, Line: v.Line, Column: v.Column},
		}}, nil
	case yaml.MappingNode:
		if scalarAt(v, "kind") == "" {
			return nil, d.errf(v, key+".kind", "required (use {kind: none} for a public route)")
		}
		return v, nil
	default:
		return nil, d.errf(v, key, "want a mapping {kind: ..., ...}")
	}
}

func (d *decoder) headersLikeMap(v *yaml.Node, key string, out *map[string]string) error {
	if v.Kind != yaml.MappingNode {
		return d.errf(v, key, "want a mapping of path prefix to upstream")
	}
	m := map[string]string{}
	for i := 0; i < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		if !strings.HasPrefix(k.Value, "/") {
			return d.errf(k, key+"."+k.Value, "path must start with /")
		}
		if val.Kind != yaml.ScalarNode {
			return d.errf(val, key+"."+k.Value, "want an upstream string")
		}
		if p := upstreamProblem(val.Value); p != "" {
			return d.errf(val, key+"."+k.Value, "%s", p)
		}
		m[strings.TrimSuffix(k.Value, "/")] = val.Value
	}
	*out = m
	return nil
}

// upstreamProblem validates an origin string (after or before ${base_url}
// expansion: the variable itself is allowed).
func upstreamProblem(s string) string {
	switch {
	case s == "":
		return "required (http://host:port, builtin:echo or builtin:items)"
	case s == "builtin:echo", s == "builtin:items", s == wsEchoUpstream:
		return ""
	case strings.HasPrefix(s, "builtin:"):
		return fmt.Sprintf("unknown built-in origin %q (have builtin:echo, builtin:items, builtin:ws-echo)", s)
	}
	s = strings.ReplaceAll(s, "${base_url}", "http://127.0.0.1")
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return fmt.Sprintf("%q is not an origin (want http(s)://host[:port][/path], builtin:echo or builtin:items)", s)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Sprintf("%q: an upstream has no query, fragment or user info", s)
	}
	return ""
}

// validate checks cross-field rules after decoding.
func (d *decoder) validate(cfg *Config, root *yaml.Node) error {
	routesNode := root
	if i := mappingIndex(root, "routes"); i >= 0 {
		routesNode = root.Content[i+1]
	}
	if len(cfg.Routes) == 0 {
		return d.errf(routesNode, "routes", "at least one route is required")
	}
	seen := map[string]int{}
	for i := range cfg.Routes {
		r := &cfg.Routes[i]
		key := fmt.Sprintf("routes[%d]", i)
		at := &yaml.Node{Line: r.line}
		p := r.Prefix
		switch {
		case p == "":
			return d.errf(at, key+".prefix", "required (a path such as /api)")
		case !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?#* \t") || strings.Contains(p, "//"):
			return d.errf(at, key+".prefix", "%q is not a path prefix (want /name)", p)
		case p == reservedMockPrefix[:len(reservedMockPrefix)-1] || strings.HasPrefix(p, reservedMockPrefix):
			return d.errf(at, key+".prefix", "%s is reserved for the gateway's mock providers", reservedMockPrefix)
		}
		if p != "/" {
			r.Prefix = strings.TrimSuffix(p, "/")
		}
		if j, dup := seen[r.Prefix]; dup {
			return d.errf(at, key+".prefix", "%s is already routes[%d]", r.Prefix, j)
		}
		seen[r.Prefix] = i
		if r.Auth == nil {
			return d.errf(at, key+".auth", "required: routes deny by default (use auth: {kind: none} for a public route)")
		}
		if pr := upstreamProblem(r.Upstream); pr != "" {
			return d.errf(at, key+".upstream", "%s", pr)
		}
		if sp := r.StripPrefix.Prefix; sp != "" && !pathHasPrefix(r.Prefix, sp) {
			return d.errf(at, key+".strip_prefix", "%s is not a prefix of the route prefix %s", sp, r.Prefix)
		}
	}
	return nil
}

// reservedMockPrefix is where mock providers and the gateway's own
// endpoints live; routes cannot use it.
const reservedMockPrefix = "/_mock/"
