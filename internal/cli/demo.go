package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gwcurl/gwcurl/internal/demoflow"
	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/iostreams"
	"github.com/gwcurl/gwcurl/internal/profiles"
	"github.com/gwcurl/gwcurl/internal/sign"
)

func newCmdDemo(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Run every route of the embedded mock gateway with every auth kind",
		Example: doc(`
			$ gwcurl demo
		`),
		Long: "Start the embedded mock gateway in-process, write temporary profiles, call every\n" +
			"route with the profile made for it and print a table. Exits 0 only when all pass.\n" +
			"It touches no file outside a temporary directory.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.runDemo(cmd.Context())
		},
	}
}

// demoCase is one row of the demo table.
type demoCase struct {
	route, kind string
	args        []string
	stdin       string
	check       func(out []byte) error
	expectExit  int    // the exit code that passes
	burst       int    // send this many requests at once and expect a 429 among them
	login       string // profile to log in first (browser kinds), driven headlessly
}

// demoEnv is an isolated environment for in-process gwcurl runs.
type demoEnv struct {
	dir  string
	base string // the gateway's base URL; "$GW" in a row's arguments
	env  map[string]string
}

func (d *demoEnv) getenv(k string) string { return d.env[k] }

// factory is a Factory for one in-process run inside the demo environment.
func (d *demoEnv) factory(ctx context.Context, f *Factory, ios *iostreams.IOStreams) *Factory {
	return &Factory{IO: ios, Getenv: d.getenv, Now: f.Now, Context: ctx, Browser: f.Browser, Secrets: d.secrets}
}

// secrets keeps the demo's secrets (login tokens) as files in its temp dir,
// never in the user's keyring.
func (d *demoEnv) secrets() profiles.SecretStore {
	return profiles.FileStore{Dir: d.env["GWCURL_SECRETS_DIR"]}
}

// run executes one gwcurl command line in-process with the demo's
// environment, returning stdout, stderr and the exit code.
func (f *Factory) demoRun(ctx context.Context, d *demoEnv, stdin string, args ...string) ([]byte, []byte, int) {
	ios, in, out, errOut := iostreams.Test()
	in.WriteString(stdin)
	sub := d.factory(ctx, f, ios)
	expanded := make([]string, len(args))
	for i, a := range args {
		expanded[i] = strings.ReplaceAll(a, "$GW", d.base)
	}
	code := Run(ctx, sub, expanded)
	return out.Bytes(), errOut.Bytes(), code
}

func jsonField(out []byte, path ...string) (any, error) {
	var v any
	if err := json.Unmarshal(out, &v); err != nil {
		return nil, fmt.Errorf("response is not JSON: %.60q", out)
	}
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("no field %s", strings.Join(path, "."))
		}
		v = m[p]
	}
	return v, nil
}

func wantField(want any, path ...string) func([]byte) error {
	return func(out []byte) error {
		got, err := jsonField(out, path...)
		if err != nil {
			return err
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("%s = %v, want %v", strings.Join(path, "."), got, want)
		}
		return nil
	}
}

// runDemo starts the embedded gateway in-process on a free loopback port,
// writes its profiles into a temp dir, and calls every route with the
// profile made for it.
func (f *Factory) runDemo(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "gwcurl-demo-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	cfg, err := gateway.DemoConfig("")
	if err != nil {
		return err
	}
	srv, err := gateway.Listen("127.0.0.1:0", cfg, gateway.Options{Now: f.Now, Getenv: f.Getenv, OriginAuth: sign.OriginTransport})
	if err != nil {
		return err
	}
	defer srv.Shutdown(context.Background()) //nolint:errcheck // demo teardown
	conf := filepath.Join(dir, "config.yaml")
	if err := demoflow.WriteProfiles(conf, srv.URL); err != nil {
		return err
	}
	d := &demoEnv{dir: dir, base: srv.URL, env: map[string]string{
		"GWCURL_CONFIG":               conf,
		"XDG_CACHE_HOME":              filepath.Join(dir, "cache"),
		"XDG_CONFIG_HOME":             filepath.Join(dir, "config"),
		"GWCURL_SECRETS_DIR":          filepath.Join(dir, "secrets"),
		"HOME":                        dir,
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "aws-credentials"),
		"CI":                          "true",
	}}
	fmt.Fprintf(f.IO.ErrOut, "gwcurl: demo gateway at %s\n", srv.URL)
	return f.demoTable(ctx, d, demoCases())
}

// demoCases lists every route of the embedded demo (docs/gateway.md) with the profile made for it.
func demoCases() []demoCase {
	demoARN := "arn:aws:iam::123456789012:user/demo"
	return []demoCase{
		{route: "/public", kind: "none", args: []string{"-p", "demo-public", "GET", "/echo"}, check: wantField("none", "identity", "kind")},
		{route: "/public", kind: "none", args: []string{"-p", "demo-public", "POST", "/items", "name=widget", "count:=3"}, check: wantField("widget", "name")},
		{route: "/public", kind: "none", args: []string{"-p", "demo-public", "-i", "OPTIONS", "/echo", "Origin:http://localhost:3000", "Access-Control-Request-Method:POST"},
			check: wantText("Access-Control-Allow-Origin: http://localhost:3000")},
		{route: "/cached", kind: "none", args: []string{"-p", "demo-public", "-i", "GET", "$GW/cached/cache/60"}, check: wantText("X-Cache: MISS")},
		{route: "/cached", kind: "none", args: []string{"-p", "demo-public", "-i", "GET", "$GW/cached/cache/60"}, check: wantText("X-Cache: HIT")},
		{route: "/limited", kind: "none", burst: 25}, // 15 over the burst of 10: 3 s of refill at 5 rps, so a slow machine still sees 429s
		{route: "/down", kind: "none", args: []string{"-p", "demo-public", "--fail-with-body", "GET", "$GW/down/echo"}, expectExit: ExitHTTP, check: wantText(`"error":"Bad Gateway"`)},
		{route: "/aws", kind: "sigv4", args: []string{"-p", "demo-sigv4", "POST", "/items", "name=signed"}, check: wantField("signed", "name")},
		{route: "/aws", kind: "sigv4", args: []string{"-p", "demo-sigv4", "GET", "/echo"}, check: wantField(demoARN, "identity", "principal")},
		{route: "/ws", kind: "sigv4", args: []string{"-p", "demo-ws", "ws", "/chat", "--send", "hello", "--count", "2"},
			check: wantLines(`{"connectionId":"`, "hello")},
		{route: "/sts", kind: "sts-identity", args: []string{"-p", "demo-sts", "GET", "/echo"}, check: wantField(demoARN, "identity", "principal")},
		{route: "/sts", kind: "sts-identity", args: []string{"-p", "demo-sts", "--identity-format", "vault", "GET", "/echo"}, check: wantField(demoARN, "identity", "principal")},
		{route: "/sts", kind: "sts-identity", args: []string{"-p", "demo-sts", "--identity-format", "k8s", "GET", "/echo"}, check: wantField(demoARN, "identity", "principal")},
		{route: "/run", kind: "google", args: []string{"-p", "demo-google", "GET", "/echo"}, check: wantField("demo@gwcurl-demo.iam.gserviceaccount.com", "identity", "principal")},
		{route: "/admin", kind: "cf-access", args: []string{"-p", "demo-cf", "GET", "/echo"}, check: wantField("demo.access", "identity", "principal")},
		{route: "/app", kind: "cognito", login: "demo-cognito", args: []string{"-p", "demo-cognito", "GET", "/echo"}, check: wantField("demo@example.com", "identity", "principal")},
		{route: "/edge", kind: "cognito → sigv4", login: "demo-edge", args: []string{"-p", "demo-edge", "GET", "/echo"}, check: wantField(demoARN, "identity", "principal")},
		{route: "/edge-run", kind: "cognito → google", args: []string{"-p", "demo-edge", "GET", "$GW/edge-run/echo"}, check: wantField("demo@gwcurl-demo.iam.gserviceaccount.com", "identity", "principal")},
		{route: "/magic", kind: "magic-link", login: "demo-magic", args: []string{"-p", "demo-magic", "GET", "/echo"}, check: wantField("demo@example.com", "identity", "principal")},
	}
}

// wantLines checks each output line starts with its prefix.
func wantLines(prefixes ...string) func([]byte) error {
	return func(out []byte) error {
		lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
		if len(lines) != len(prefixes) {
			return fmt.Errorf("got %d lines, want %d", len(lines), len(prefixes))
		}
		for i, p := range prefixes {
			if !strings.HasPrefix(lines[i], p) {
				return fmt.Errorf("line %d is %.40q, want %q…", i+1, lines[i], p)
			}
		}
		return nil
	}
}

func wantText(sub string) func([]byte) error {
	return func(out []byte) error {
		if !bytes.Contains(out, []byte(sub)) {
			return fmt.Errorf("no %q in the answer", sub)
		}
		return nil
	}
}

func (f *Factory) demoTable(ctx context.Context, d *demoEnv, cases []demoCase) error {
	st := f.IO.OutStyles()
	tty := f.IO.IsStdoutTTY()
	tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
	headers := []string{"ROUTE", "AUTH", "PROFILE", "REQUEST", "RESULT", "TIME"}
	if !tty {
		fmt.Fprintln(tw, strings.Join(headers, "\t"))
	}
	var rows [][]string
	failed := 0
	for _, c := range cases {
		start := time.Now()
		err := f.demoCase(ctx, d, c)
		el := time.Since(start)
		res := st.OK.Render("pass")
		if err != nil {
			failed++
			res = st.Err.Render("FAIL " + err.Error())
		}
		profile, label := demoLabel(c)
		row := []string{c.route, c.kind, profile, label, res, el.Round(time.Millisecond).String()}
		if tty {
			rows = append(rows, row) // a table needs every row: shown at the end
			continue
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
	if tty {
		f.writeTable(headers, rows)
	}
	if failed > 0 {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%d of %d demo requests failed", failed, len(cases))}
	}
	fmt.Fprintf(f.IO.ErrOut, "%s all %d demo requests passed\n", f.IO.ErrStyles().OK.Render("✓"), len(cases))
	return nil
}

// demoLabel splits a row's arguments into the profile and the request shown.
func demoLabel(c demoCase) (profile, request string) {
	if c.burst > 0 {
		return "demo-public", fmt.Sprintf("%d × GET /limited/echo at once: expect a 429", c.burst)
	}
	var rest []string
	for i := 0; i < len(c.args); i++ {
		if c.args[i] == "-p" && i+1 < len(c.args) {
			profile = c.args[i+1]
			i++
			continue
		}
		rest = append(rest, strings.ReplaceAll(c.args[i], "$GW", ""))
	}
	if c.login != "" {
		rest = append([]string{"(login, then)"}, rest...)
	}
	return profile, truncate(strings.Join(rest, " "), 60)
}

// demoCase runs one row and says why it failed.
func (f *Factory) demoCase(ctx context.Context, d *demoEnv, c demoCase) error {
	if c.login != "" {
		if err := f.demoLogin(ctx, d, c.login); err != nil {
			return fmt.Errorf("login: %v", err)
		}
	}
	if c.burst > 0 {
		return f.demoBurst(ctx, d, c.burst)
	}
	out, errOut, code := f.demoRun(ctx, d, c.stdin, c.args...)
	if code != c.expectExit {
		msg := oneLine(string(errOut))
		if msg == "" {
			msg = oneLine(string(out))
		}
		return fmt.Errorf("exit %d: %s", code, truncate(msg, 100))
	}
	if c.check != nil {
		return c.check(out)
	}
	return nil
}

// demoBurst sends n requests to /limited at once and expects at least one
// 429 with Retry-After among them.
func (f *Factory) demoBurst(ctx context.Context, d *demoEnv, n int) error {
	type result struct {
		out  []byte
		code int
	}
	results := make(chan result, n)
	for i := 0; i < n; i++ {
		go func() {
			out, _, code := f.demoRun(ctx, d, "", "-p", "demo-public", "-s", "-i", "GET", "$GW/limited/echo")
			results <- result{out, code}
		}()
	}
	limited := 0
	for i := 0; i < n; i++ {
		r := <-results
		if r.code != 0 {
			return fmt.Errorf("exit %d", r.code)
		}
		if bytes.Contains(r.out, []byte(" 429 ")) && bytes.Contains(r.out, []byte("Retry-After:")) {
			limited++
		}
	}
	if limited == 0 {
		return fmt.Errorf("no 429 with Retry-After in a burst of %d", n)
	}
	return nil
}
