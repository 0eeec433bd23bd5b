package gateway_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gwcurl/gwcurl/internal/demo"
	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/auth"
)

func TestConfigErrorsNameFileLineAndKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml, env, want string
	}{
		{"syntax", "routes: [\n", "", "c.yaml:1: invalid YAML: did not find expected node content"},
		{"empty", "", "", "c.yaml: empty config"},
		{"no routes", "explain: true\n", "", "c.yaml:1: routes: at least one route is required"},
		{"unknown top key", "explain: true\nroute: []\n", "", "c.yaml:2: route: unknown key (did you mean routes?)"},
		{"unknown route key", "routes:\n  - prefix: /a\n    auth: none\n    upstream: builtin:echo\n    strip: true\n", "",
			"c.yaml:5: routes[0].strip: unknown key (did you mean strip_prefix?)"},
		{"missing auth", "routes:\n  - prefix: /a\n    upstream: builtin:echo\n", "",
			"c.yaml:2: routes[0].auth: required: routes deny by default"},
		{"auth without kind", "routes:\n  - prefix: /a\n    auth: {region: x}\n    upstream: builtin:echo\n", "",
			"c.yaml:3: routes[0].auth.kind: required"},
		{"bad upstream", "routes:\n  - {prefix: /a, auth: none, upstream: ftp://x}\n", "",
			`c.yaml:2: routes[0].upstream: "ftp://x" is not an origin`},
		{"unknown builtin", "routes:\n  - {prefix: /a, auth: none, upstream: builtin:nope}\n", "",
			`c.yaml:2: routes[0].upstream: unknown built-in origin "builtin:nope"`},
		{"bad prefix", "routes:\n  - {prefix: a, auth: none, upstream: builtin:echo}\n", "",
			`c.yaml:2: routes[0].prefix: "a" is not a path prefix`},
		{"reserved prefix", "routes:\n  - {prefix: /_mock/x, auth: none, upstream: builtin:echo}\n", "",
			"c.yaml:2: routes[0].prefix: /_mock/ is reserved"},
		{"duplicate prefix", "routes:\n  - {prefix: /a, auth: none, upstream: builtin:echo}\n  - {prefix: /a/, auth: none, upstream: builtin:echo}\n", "",
			"c.yaml:3: routes[1].prefix: /a is already routes[0]"},
		{"bad duration", "routes:\n  - prefix: /a\n    auth: none\n    upstream: builtin:echo\n    timeout: soon\n", "",
			`c.yaml:5: routes[0].timeout: want a duration such as 30s, got "soon"`},
		{"bad size", "body_limit: lots\nroutes: [{prefix: /a, auth: none, upstream: builtin:echo}]\n", "",
			`c.yaml:1: body_limit: want a size such as 10MiB, got "lots"`},
		{"bad type", "explain: maybe\nroutes: [{prefix: /a, auth: none, upstream: builtin:echo}]\n", "",
			"c.yaml:1: explain: cannot unmarshal !!str `maybe` into bool"},
		{"bad rate", "routes:\n  - prefix: /a\n    auth: none\n    upstream: builtin:echo\n    rate_limit: {rps: 0}\n", "",
			"c.yaml:5: routes[0].rate_limit.rps: want a positive number"},
		{"unknown rate key", "routes:\n  - prefix: /a\n    auth: none\n    upstream: builtin:echo\n    rate_limit: {rps: 1, brust: 2}\n", "",
			"c.yaml:5: routes[0].rate_limit.brust: unknown key (did you mean burst?)"},
		{"wildcard origin", "cors:\n  allow_origins: ['*']\nroutes: [{prefix: /a, auth: none, upstream: builtin:echo}]\n", "",
			`c.yaml:2: cors.allow_origins[0]: "*" is not allowed`},
		{"origin with path", "cors:\n  allow_origins:\n    - http://localhost:3000/\nroutes: [{prefix: /a, auth: none, upstream: builtin:echo}]\n", "",
			`c.yaml:3: cors.allow_origins[0]: "http://localhost:3000/" is not an origin`},
		{"aws key without arn", "aws_keys:\n  - {access_key_id: AK, secret_access_key: s}\nroutes: [{prefix: /a, auth: none, upstream: builtin:echo}]\n", "",
			"c.yaml:2: aws_keys[0].arn: want an ARN"},
		{"bad header name", "headers: {'X Bad': v}\nroutes: [{prefix: /a, auth: none, upstream: builtin:echo}]\n", "",
			"c.yaml:1: headers.X Bad: not a valid header name"},
		{"strip not a prefix", "routes:\n  - {prefix: /a/b, auth: none, upstream: builtin:echo, strip_prefix: /c}\n", "",
			"c.yaml:2: routes[0].strip_prefix: /c is not a prefix of the route prefix /a/b"},
		{"lowercase method", "routes:\n  - prefix: /a\n    auth: none\n    upstream: builtin:echo\n    methods: [get]\n", "",
			`c.yaml:5: routes[0].methods[0]: "get" is not an upper-case method`},
		{"unknown env", "routes: [{prefix: /a, auth: none, upstream: builtin:echo}]\nenvironments:\n  staging: {explain: false}\n", "prod",
			`c.yaml:3: environments: no environment "prod" (have: staging)`},
		{"env without environments", "routes: [{prefix: /a, auth: none, upstream: builtin:echo}]\n", "prod",
			`c.yaml: environments: no environment "prod" (none are defined)`},
		{"error inside overlay", "routes: [{prefix: /a, auth: none, upstream: builtin:echo}]\nenvironments:\n  staging:\n    body_limit: huge\n", "staging",
			`c.yaml:4: body_limit: want a size such as 10MiB, got "huge"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gateway.ParseConfig("c.yaml", []byte(tc.yaml), tc.env)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error = %v\nwant prefix %s", err, tc.want)
			}
		})
	}
}

func TestNewErrorsNameFileLineAndKey(t *testing.T) {
	t.Parallel()
	failing := func(*yaml.Node, *auth.Env) (auth.Verifier, error) {
		return nil, errorString("region: required")
	}
	tests := []struct {
		name, yaml, base, want string
	}{
		{"unknown kind", "routes:\n  - prefix: /a\n    auth: {kind: magic}\n    upstream: builtin:echo\n", "",
			`c.yaml:3: routes[0].auth.kind: unknown auth kind "magic" (known: cf_access, failing, google_id, jwt, none, sigv4, sts_identity)`},
		{"factory error", "routes:\n  - prefix: /a\n    auth:\n      kind: failing\n    upstream: builtin:echo\n", "",
			"c.yaml:4: routes[0].auth: region: required"},
		{"none with fields", "routes:\n  - prefix: /a\n    auth: {kind: none, user: x}\n    upstream: builtin:echo\n", "",
			"c.yaml:3: routes[0].auth: user: kind none takes no other keys"},
		{"base_url without a base URL", "routes:\n  - {prefix: /a, auth: {kind: sigv4, issuer: '${base_url}/x'}, upstream: builtin:echo}\n", "",
			"c.yaml:2: routes[0].auth.issuer: uses ${base_url} but the gateway was started without a base URL"},
		{"unknown variable", "routes:\n  - {prefix: /a, auth: none, upstream: builtin:echo, headers: {X-A: '${home}'}}\n", "http://127.0.0.1:9",
			"c.yaml:2: routes[0].headers.X-A: unknown variable ${home}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := gateway.ParseConfig("c.yaml", []byte(tc.yaml), "")
			if err != nil {
				t.Fatal(err)
			}
			kinds := gateway.DefaultKinds()
			kinds["failing"] = failing
			_, err = gateway.New(cfg, gateway.Options{BaseURL: tc.base, Kinds: kinds})
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error = %v\nwant prefix %s", err, tc.want)
			}
		})
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

func TestLoadConfigFileAndEnvironments(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "gw.yaml")
	text := `
explain: true
body_limit: 1MiB
cors: {allow_origins: ["http://localhost:3000"]}
routes:
  - prefix: /api
    auth: {kind: capture, issuer: "${base_url}/issuer-a"}
    upstream: builtin:echo
    rate_limit: {rps: 100, burst: 100}
  - {prefix: /b, auth: none, upstream: builtin:echo}
environments:
  staging:
    body_limit: 2MiB
    cors: {allow_origins: ["https://staging.example.com"]}
    routes:
      - prefix: /api
        auth: {issuer: "${base_url}/issuer-b"}
        rate_limit: {rps: 1}
      - {prefix: /c, auth: none, upstream: builtin:echo}
`
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	base, err := gateway.LoadConfig(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if base.BodyLimit != 1<<20 || len(base.Routes) != 2 || base.Routes[0].RateLimit.RPS != 100 || base.Env != "" {
		t.Errorf("base config: %+v", base)
	}
	st, err := gateway.LoadConfig(path, "staging")
	if err != nil {
		t.Fatal(err)
	}
	if st.BodyLimit != 2<<20 || st.CORS.AllowOrigins[0] != "https://staging.example.com" || len(st.Routes) != 3 ||
		st.Routes[0].RateLimit.RPS != 1 || st.Routes[0].RateLimit.Burst != 100 || st.Routes[2].Prefix != "/c" || st.Env != "staging" {
		t.Errorf("staging config: %+v %+v", st, st.Routes[0].RateLimit)
	}
	// The overlay merged into the auth block; ${base_url} expands in New.
	var got *yaml.Node
	kinds := map[string]auth.Factory{
		"none": gateway.NoneFactory,
		"capture": func(n *yaml.Node, env *auth.Env) (auth.Verifier, error) {
			got = n
			if env.BaseURL != "http://127.0.0.1:8080" {
				t.Errorf("env base URL %q", env.BaseURL)
			}
			return gateway.NotImplemented("capture")(n, env)
		},
	}
	if _, err := gateway.New(st, gateway.Options{BaseURL: "http://127.0.0.1:8080/", Kinds: kinds}); err != nil {
		t.Fatal(err)
	}
	if scalar(got, "issuer") != "http://127.0.0.1:8080/issuer-b" || scalar(got, "kind") != "capture" {
		t.Errorf("auth node after overlay and expansion: kind %q issuer %q", scalar(got, "kind"), scalar(got, "issuer"))
	}
	// The config itself is not modified by New (it can build two gateways).
	if !strings.Contains(st.Routes[0].Auth.Content[3].Value, "${base_url}") {
		t.Errorf("New changed the config's auth node")
	}

	if _, err := gateway.LoadConfig(filepath.Join(t.TempDir(), "missing.yaml"), ""); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

func TestDemoConfigMatchesPublishedNames(t *testing.T) {
	t.Parallel()
	cfg, err := gateway.DemoConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.AWSKeys) != 2 || cfg.AWSKeys[0] != (auth.AWSKey{AccessKeyID: demo.AWSAccessKeyID, SecretAccessKey: demo.AWSSecretAccessKey, ARN: demo.AWSARN}) ||
		cfg.AWSKeys[1] != (auth.AWSKey{AccessKeyID: demo.IntruderAccessKeyID, SecretAccessKey: demo.IntruderSecretAccessKey, ARN: demo.IntruderARN}) {
		t.Errorf("aws_keys = %+v", cfg.AWSKeys)
	}
	if len(cfg.Users) != 1 || cfg.Users[0].Email != demo.UserEmail || cfg.Users[0].Password != demo.UserPassword {
		t.Errorf("users = %+v", cfg.Users)
	}
	if cfg.BodyLimit != 10<<20 || len(cfg.CORS.AllowOrigins) != 1 || cfg.CORS.AllowOrigins[0] != "http://localhost:3000" {
		t.Errorf("body limit %d, cors %v", cfg.BodyLimit, cfg.CORS.AllowOrigins)
	}

	// The auth blocks each kind receives, with ${base_url} expanded.
	const base = "http://127.0.0.1:4567"
	blocks := map[string]map[string]any{}
	capture := func(n *yaml.Node, env *auth.Env) (auth.Verifier, error) {
		var m map[string]any
		if err := n.Decode(&m); err != nil {
			return nil, err
		}
		blocks[scalar(n, "kind")+" "+scalar(n, "issuer")+scalar(n, "service")] = m
		return gateway.NotImplemented("x")(n, env)
	}
	kinds := map[string]auth.Factory{"none": gateway.NoneFactory}
	for _, k := range []string{"sigv4", "sts_identity", "google_id", "cf_access", "jwt"} {
		kinds[k] = capture
	}
	if _, err := gateway.New(cfg, gateway.Options{BaseURL: base, Kinds: kinds}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"sigv4 lambda":                   "map[kind:sigv4 region:us-east-1 service:lambda sigv4a:true]",
		"sigv4 execute-api":              "map[kind:sigv4 region:us-east-1 service:execute-api]",
		"sts_identity ":                  "map[allow:[" + demo.AWSARN + " " + demo.OncallRoleARN + "] formats:[url vault k8s] header:X-Fluid-Identity kind:sts_identity]",
		"google_id ":                     "map[audiences:[" + base + "/run] kind:google_id]",
		"cf_access ":                     "map[aud:" + demo.CFAudTag + " kind:cf_access service_tokens:[map[client_id:demo.access client_secret:demo-cf-secret]] team_domain:" + demo.CFTeamDomain + "]",
		"jwt " + base + "/_mock/cognito": "map[client_id:gwcurl-demo issuer:" + base + "/_mock/cognito kind:jwt token_use:id]",
		"jwt " + base + "/_mock/magic":   "map[client_id:gwcurl-demo-magic issuer:" + base + "/_mock/magic kind:jwt token_use:id]",
	}
	for k, w := range want {
		if got := sprint(blocks[k]); got != w {
			t.Errorf("%s auth block:\n got %s\nwant %s", k, got, w)
		}
	}
	if len(blocks) != len(want) {
		t.Errorf("got %d auth blocks, want %d", len(blocks), len(want))
	}
	if len(demo.CFAudTag) != 64 {
		t.Errorf("CF AUD tag is not 64 hex characters")
	}
	if _, err := gateway.DemoConfig("nope"); err == nil {
		t.Error("unknown demo environment accepted")
	}
}

func sprint(m map[string]any) string {
	if m == nil {
		return "<nil>"
	}
	return fmt.Sprint(m)
}
