package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gwcurl/gwcurl/internal/iostreams"
)

func newCmdDemo(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Run every route of the embedded mock gateway with every auth kind",
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
}

// demoEnv is an isolated environment for in-process gwcurl runs.
type demoEnv struct {
	dir string
	env map[string]string
}

func (d *demoEnv) getenv(k string) string { return d.env[k] }

// run executes one gwcurl command line in-process with the demo's
// environment, returning stdout, stderr and the exit code.
func (f *Factory) demoRun(ctx context.Context, d *demoEnv, stdin string, args ...string) ([]byte, []byte, int) {
	ios, in, out, errOut := iostreams.Test()
	in.WriteString(stdin)
	sub := &Factory{
		IO:      ios,
		Getenv:  d.getenv,
		Now:     f.Now,
		Context: ctx,
		Browser: f.Browser,
	}
	sub.Secrets = f.Secrets
	code := Run(ctx, sub, args)
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

// runDemo runs the demo table. Until the mock gateway lands it exercises the
// request path against an in-process echo origin.
func (f *Factory) runDemo(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "gwcurl-demo-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: demoOrigin(), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // closed below
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	cfg := filepath.Join(dir, "config.yaml")
	conf := fmt.Sprintf("current: demo-public\nprofiles:\n  demo-public:\n    base_url: %s/public\n    auth: {kind: none}\n  demo-bearer:\n    base_url: %s/bearer\n    auth: {kind: bearer, token: \"env:DEMO_TOKEN\"}\n", base, base)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		return err
	}
	d := &demoEnv{dir: dir, env: map[string]string{
		"GWCURL_CONFIG":  cfg,
		"XDG_CACHE_HOME": filepath.Join(dir, "cache"),
		"HOME":           dir,
		"DEMO_TOKEN":     "demo-bearer-token-0123456789",
		"CI":             "true",
	}}
	cases := []demoCase{
		{"/public", "none", []string{"GET", "/echo"}, "", wantField("GET", "method")},
		{"/public", "none", []string{"POST", "/items", "name=widget", "count:=3"}, "", wantField("widget", "json", "name")},
		{"/public", "none", []string{"-d", "@-", "/echo"}, "raw body", wantField("raw body", "body")},
		{"/bearer", "bearer", []string{"-p", "demo-bearer", "/echo"}, "", wantField("Bearer demo-bearer-token-0123456789", "headers", "Authorization")},
	}
	return f.demoTable(ctx, d, cases)
}

func (f *Factory) demoTable(ctx context.Context, d *demoEnv, cases []demoCase) error {
	st := f.IO.OutStyles()
	tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, st.Bold.Render("ROUTE")+"\t"+st.Bold.Render("AUTH")+"\t"+st.Bold.Render("REQUEST")+"\t"+st.Bold.Render("RESULT")+"\t"+st.Bold.Render("TIME"))
	failed := 0
	for _, c := range cases {
		start := time.Now()
		out, errOut, code := f.demoRun(ctx, d, c.stdin, c.args...)
		el := time.Since(start)
		res := st.OK.Render("pass")
		if code != 0 {
			failed++
			res = st.Err.Render(fmt.Sprintf("FAIL exit %d: %s", code, oneLine(string(errOut))))
		} else if err := c.check(out); err != nil {
			failed++
			res = st.Err.Render("FAIL " + err.Error())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.route, c.kind, strings.Join(c.args, " "), res, el.Round(time.Millisecond))
	}
	tw.Flush()
	if failed > 0 {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%d of %d demo requests failed", failed, len(cases))}
	}
	fmt.Fprintf(f.IO.ErrOut, "%s all %d demo requests passed\n", f.IO.ErrStyles().OK.Render("✓"), len(cases))
	return nil
}

// demoOrigin is a minimal echo origin used until the gateway is wired in.
func demoOrigin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		resp := map[string]any{"method": r.Method, "path": r.URL.Path, "headers": flatten(r.Header), "body": string(body)}
		var j any
		if json.Unmarshal(body, &j) == nil {
			resp["json"] = j
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(resp) //nolint:errcheck
	})
}

func flatten(h http.Header) map[string]string {
	m := map[string]string{}
	for k, v := range h {
		m[k] = strings.Join(v, ", ")
	}
	return m
}

var _ = bytes.MinRead
