package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/gwcurl/gwcurl/internal/profiles"
	"github.com/gwcurl/gwcurl/internal/runfile"
	"github.com/gwcurl/gwcurl/internal/sign"
)

type runOptions struct {
	parallel int
	junit    string
	asJSON   bool
	failFast bool
	noSkew   bool
	profile  string
	timeout  time.Duration
}

func newCmdRun(f *Factory, profile *string) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "Run a smoke-test file of requests with expectations",
		Long: doc(`
			Run a YAML list of requests, each with expectations, reusing one HTTP client
			and one credential resolution per profile for the whole run. Exits 1 when any
			request fails its expectations, 0 when all pass.

			Each entry: name, profile (default: -p, GWCURL_PROFILE or current), method
			(default GET, or POST with a body), url (absolute, or /path on the profile's
			base_url), headers, query, body (a string, or a mapping sent as JSON), and
			expect: {status: 200 | [200, 204], jq: '.ok == true'}.
		`),
		Example: doc(`
			$ cat smoke.yaml
			- {name: health, profile: demo-public, url: /echo, expect: {status: 200}}
			- name: create
			  profile: demo-sigv4
			  method: POST
			  url: /items
			  body: {name: widget}
			  expect: {status: 201, jq: '.name == "widget"'}
			$ gwcurl run smoke.yaml --parallel 4 --junit report.xml
		`),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.profile = *profile
			return f.runFile(cmd.Context(), args[0], o)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&o.parallel, "parallel", 1, "run up to N requests at once")
	fl.StringVar(&o.junit, "junit", "", "write a JUnit XML report to FILE")
	fl.BoolVar(&o.asJSON, "json", false, "print one JSON line per request, then a summary line")
	fl.BoolVar(&o.failFast, "fail-fast", false, "stop starting requests after the first failure")
	fl.BoolVar(&o.noSkew, "no-skew-correction", false, "do not re-sign with the server's clock when a SigV4 request is refused for its time")
	fl.DurationVar(&o.timeout, "max-time", 30*time.Second, "maximum time per request (0: no limit)")
	return cmd
}

// parseRunFile reads and validates a run file; errors name file and line.
func parseRunFile(path string) ([]*runfile.Step, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("gwcurl run takes a YAML file of requests", "cannot read %s: %s", path, shortPathErr(err))
	}
	steps, err := runfile.Parse(path, data)
	if err != nil {
		var re *runfile.Error
		if errors.As(err, &re) {
			return nil, &UsageError{Err: re.Err, Hint: re.Hint}
		}
		return nil, &UsageError{Err: err}
	}
	return steps, nil
}

// runClient is one profile's signed client, built once per run.
type runClient struct {
	once   sync.Once
	target runfile.Target
}

// runFile wires the engine (internal/runfile) to the profiles, the signers
// and the terminal, then reports.
func (f *Factory) runFile(ctx context.Context, path string, o *runOptions) error {
	steps, err := parseRunFile(path)
	if err != nil {
		return err
	}
	if o.parallel < 1 {
		return usagef("--parallel takes a positive number", "invalid --parallel %d", o.parallel)
	}
	file, err := f.configFile()
	if err != nil {
		return err
	}
	r := &runfile.Runner{
		DefaultProfile: firstNonEmpty(o.profile, f.Getenv("GWCURL_PROFILE"), file.Config.Current),
		Parallel:       o.parallel,
		FailFast:       o.failFast,
		Timeout:        o.timeout,
		UserAgent:      userAgent(),
		Now:            f.Now,
		DescribeErr:    func(err error) string { return cleanErr(err).Error() },
	}
	r.Target, err = f.runTargets(ctx, file, steps, r, o)
	if err != nil {
		return err
	}
	showBar := f.IO.IsStderrTTY() && !o.asJSON
	if showBar {
		r.Progress = func(p runfile.Progress) {
			fmt.Fprintf(f.IO.ErrOut, "\r\x1b[K%d/%d done, %d failing — %s", p.Done, p.Total, p.Failed, truncate(p.Name, 40))
		}
	}
	rep := r.Run(ctx, steps)
	if showBar {
		fmt.Fprint(f.IO.ErrOut, "\r\x1b[K")
	}
	return f.reportRun(path, rep, o)
}

// runTargets prepares one signing client per profile the steps use, made
// on first use (a profile no step reaches costs nothing).
func (f *Factory) runTargets(ctx context.Context, file *profiles.File, steps []*runfile.Step, r *runfile.Runner, o *runOptions) (func(string) *runfile.Target, error) {
	base, err := f.baseTransport(&RequestOptions{})
	if err != nil {
		return nil, err
	}
	if t, ok := base.(*http.Transport); ok {
		t.MaxIdleConnsPerHost = max(o.parallel, 16)
	}
	plain := &http.Client{Transport: base, Timeout: 60 * time.Second}
	clients := map[string]*runClient{}
	for _, s := range steps {
		if name := r.Profile(s); clients[name] == nil {
			clients[name] = &runClient{}
		}
	}
	return func(name string) *runfile.Target {
		rc := clients[name]
		rc.once.Do(func() { rc.target = f.runTarget(ctx, file, name, base, plain, o) })
		return &rc.target
	}, nil
}

// runTarget resolves one profile and makes its signing client.
func (f *Factory) runTarget(ctx context.Context, file *profiles.File, name string, base http.RoundTripper, plain *http.Client, o *runOptions) (t runfile.Target) {
	var p *profiles.Profile
	if name != "" {
		if p, t.Err = file.Config.Get(name); t.Err != nil {
			return t
		}
	}
	a := profiles.Auth{}
	target := ""
	if p != nil {
		a, target = p.Auth, p.BaseURL
		t.BaseURL, t.Headers = p.BaseURL, p.Headers
	}
	f.envOverrides(&a)
	t.AuthKind = kindOrNone(a.Kind)
	rr := &resolvedRequest{profile: p, cfgPath: file.Path, noSkew: o.noSkew}
	s, err := sign.New(ctx, a, target, f.signDeps(rr, plain, nil))
	if err != nil {
		t.Err = err
		return t
	}
	host := ""
	if u, err := url.Parse(target); err == nil {
		host = u.Host
	}
	t.Client = &http.Client{
		Transport:     &sign.Transport{Signer: s, Base: base, AllowedHost: host},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return t
}

// reportRun writes the JUnit file, the table or JSON lines, and decides
// the exit code.
func (f *Factory) reportRun(path string, rep *runfile.Report, o *runOptions) error {
	nFail := rep.Failed()
	if o.junit != "" {
		doc, err := rep.JUnit(path)
		if err != nil {
			return err
		}
		if err := profiles.WriteFileAtomic(o.junit, doc, 0o644); err != nil {
			return err
		}
	}
	if o.asJSON {
		enc := json.NewEncoder(f.IO.Out)
		for _, r := range rep.Results {
			enc.Encode(r) //nolint:errcheck // stdout
		}
		enc.Encode(map[string]any{"summary": true, "total": len(rep.Results), "failed": nFail, "time": rep.Elapsed.Seconds()}) //nolint:errcheck
	} else {
		f.printRunTable(rep.Results)
	}
	if nFail > 0 {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%d of %d requests failed", nFail, len(rep.Results))}
	}
	if !o.asJSON {
		fmt.Fprintf(f.IO.ErrOut, "%s %d requests passed in %s\n", f.IO.ErrStyles().OK.Render("✓"), len(rep.Results), rep.Elapsed.Round(time.Millisecond))
	}
	return nil
}

func (f *Factory) printRunTable(results []*runfile.Result) {
	st := f.IO.OutStyles()
	rows := make([][]string, 0, len(results))
	for _, r := range results {
		status := "-"
		if r.Status > 0 {
			status = strconv.Itoa(r.Status)
		}
		verdict := st.OK.Render("pass")
		switch {
		case r.Skipped:
			verdict = st.Dim.Render("skip")
		case !r.Passed:
			verdict = st.Err.Render("FAIL")
		}
		rows = append(rows, []string{r.Name, r.Profile, r.Method + " " + truncate(r.URL, 60), status, fmt.Sprintf("%.0fms", r.Seconds*1000), verdict, truncate(r.Reason, 80)})
	}
	if !f.IO.IsStdoutTTY() {
		for _, row := range rows {
			fmt.Fprintln(f.IO.Out, strings.Join(row, "\t"))
		}
		return
	}
	f.writeTable([]string{"NAME", "PROFILE", "REQUEST", "STATUS", "TIME", "RESULT", "REASON"}, rows)
}
