package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/gwcurl/gwcurl/internal/profiles"
	"github.com/gwcurl/gwcurl/internal/sign"
	"github.com/gwcurl/gwcurl/internal/strictyaml"
)

// runStep is one request of a run file.
type runStep struct {
	Name    string            `yaml:"name"`
	Profile string            `yaml:"profile"`
	Method  string            `yaml:"method"`
	URL     string            `yaml:"url"`
	Headers map[string]string `yaml:"headers"`
	Query   map[string]string `yaml:"query"`
	Body    yaml.Node         `yaml:"body"` // a string (sent as is) or a mapping/sequence (sent as JSON)
	Expect  runExpect         `yaml:"expect"`

	line int
	body []byte
	ct   string
	exp  *expectations
}

type runExpect struct {
	Status yaml.Node `yaml:"status"` // 200 or [200, 204]
	JQ     string    `yaml:"jq"`
}

// runResult is one request's outcome.
type runResult struct {
	Name     string  `json:"name"`
	Profile  string  `json:"profile,omitempty"`
	Method   string  `json:"method"`
	URL      string  `json:"url"`
	Status   int     `json:"status"`
	Seconds  float64 `json:"time"`
	Passed   bool    `json:"passed"`
	Skipped  bool    `json:"skipped,omitempty"`
	Reason   string  `json:"reason,omitempty"`
	AuthKind string  `json:"auth_kind"`
}

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
		Long: heredoc.Doc(`
			Run a YAML list of requests, each with expectations, reusing one HTTP client
			and one credential resolution per profile for the whole run. Exits 1 when any
			request fails its expectations, 0 when all pass.

			Each entry: name, profile (default: -p, GWCURL_PROFILE or current), method
			(default GET, or POST with a body), url (absolute, or /path on the profile's
			base_url), headers, query, body (a string, or a mapping sent as JSON), and
			expect: {status: 200 | [200, 204], jq: '.ok == true'}.
		`),
		Example: heredoc.Doc(`
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
	fl.DurationVar(&o.timeout, "max-time", 30*time.Second, "maximum time per request")
	return cmd
}

// parseRunFile reads and validates a run file; errors name file and line.
func parseRunFile(path string) ([]*runStep, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("gwcurl run takes a YAML file of requests", "cannot read %s: %s", path, shortPathErr(err))
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &UsageError{Err: yamlErr(path, err), Hint: "the file is a YAML list of requests; see gwcurl run --help"}
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.SequenceNode {
		return nil, usagef("the file is a YAML list: - {name: health, url: /health, expect: {status: 200}}", "%s: not a list of requests", path)
	}
	var steps []*runStep
	names := map[string]int{}
	for i, n := range root.Content[0].Content {
		s := &runStep{line: n.Line}
		if err := checkRunKeys(n); err != nil {
			return nil, &UsageError{Err: fmt.Errorf("%s:%d: %v", path, err.line, err.msg), Hint: "keys: name, profile, method, url, headers, query, body, expect {status, jq}"}
		}
		if err := n.Decode(s); err != nil {
			return nil, &UsageError{Err: yamlErr(path, err), Hint: "see gwcurl run --help"}
		}
		if s.Name == "" {
			s.Name = fmt.Sprintf("request %d", i+1)
		}
		if prev, dup := names[s.Name]; dup {
			return nil, usagef("give each request its own name", "%s:%d: name %q already used on line %d", path, n.Line, s.Name, prev)
		}
		names[s.Name] = n.Line
		if s.URL == "" {
			return nil, usagef("each request needs url: (absolute, or /path on its profile's base_url)", "%s:%d: %s: no url", path, n.Line, s.Name)
		}
		if err := s.prepare(); err != nil {
			return nil, &UsageError{Err: fmt.Errorf("%s:%d: %s: %v", path, n.Line, s.Name, err)}
		}
		steps = append(steps, s)
	}
	if len(steps) == 0 {
		return nil, usagef("add at least one request", "%s: no requests", path)
	}
	return steps, nil
}

type lineErr struct {
	line int
	msg  string
}

var (
	runKeys    = []string{"name", "profile", "method", "url", "headers", "query", "body", "expect"}
	expectKeys = []string{"status", "jq"}
)

func checkRunKeys(n *yaml.Node) *lineErr {
	if n.Kind != yaml.MappingNode {
		return &lineErr{n.Line, "each request is a mapping"}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !slices.Contains(runKeys, k.Value) {
			return &lineErr{k.Line, fmt.Sprintf("unknown key %q (%s)", k.Value, strictyaml.Hint(k.Value, runKeys))}
		}
		if k.Value == "expect" && v.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(v.Content); j += 2 {
				if ek := v.Content[j]; !slices.Contains(expectKeys, ek.Value) {
					return &lineErr{ek.Line, fmt.Sprintf("unknown key expect.%s (%s)", ek.Value, strictyaml.Hint(ek.Value, expectKeys))}
				}
			}
		}
	}
	return nil
}

func yamlErr(path string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n  ")
	if strings.HasPrefix(msg, "line ") {
		return fmt.Errorf("%s:%s", path, strings.TrimPrefix(msg, "line "))
	}
	return fmt.Errorf("%s: %s", path, msg)
}

// prepare turns the step's YAML into a body and expectations.
func (s *runStep) prepare() error {
	switch s.Body.Kind {
	case 0:
	case yaml.ScalarNode:
		s.body = []byte(s.Body.Value)
	default:
		var v any
		if err := s.Body.Decode(&v); err != nil {
			return err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("body: %v", err)
		}
		s.body, s.ct = b, "application/json"
	}
	if s.Method == "" {
		s.Method = http.MethodGet
		if s.body != nil {
			s.Method = http.MethodPost
		}
	}
	if !isMethod(s.Method) {
		return fmt.Errorf("method %q is not an upper-case token", s.Method)
	}
	ro := &RequestOptions{ExpectJQ: s.Expect.JQ}
	switch s.Expect.Status.Kind {
	case 0:
	case yaml.ScalarNode:
		ro.ExpectStatus = s.Expect.Status.Value
	case yaml.SequenceNode:
		var codes []string
		for _, c := range s.Expect.Status.Content {
			codes = append(codes, c.Value)
		}
		ro.ExpectStatus = strings.Join(codes, ",")
	}
	exp, err := parseExpectations(ro)
	if err != nil {
		return err
	}
	s.exp = exp
	return nil
}

// runClient is one profile's signed client, built once per run.
type runClient struct {
	once    sync.Once
	client  *http.Client
	profile *profiles.Profile
	kind    string
	err     error
}

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
	defaultProfile := firstNonEmpty(o.profile, f.Getenv("GWCURL_PROFILE"), file.Config.Current)
	clients, err := f.runClients(ctx, file, steps, defaultProfile, o)
	if err != nil {
		return err
	}
	start := time.Now()
	results := f.runSteps(ctx, steps, defaultProfile, clients, o)
	elapsed := time.Since(start)
	return f.reportRun(path, results, elapsed, o)
}

// runClients prepares one signing client per profile the steps use, made
// on first use (a profile no step reaches costs nothing).
func (f *Factory) runClients(ctx context.Context, file *profiles.File, steps []*runStep, defaultProfile string, o *runOptions) (func(string) *runClient, error) {
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
		name := firstNonEmpty(s.Profile, defaultProfile)
		if _, ok := clients[name]; !ok {
			clients[name] = &runClient{}
		}
	}
	return func(name string) *runClient {
		rc := clients[name]
		rc.once.Do(func() {
			var p *profiles.Profile
			if name != "" {
				if p, rc.err = file.Config.Get(name); rc.err != nil {
					return
				}
			}
			rc.profile = p
			a := profiles.Auth{}
			target := ""
			if p != nil {
				a, target = p.Auth, p.BaseURL
			}
			f.envOverrides(&a)
			rc.kind = kindOrNone(a.Kind)
			rr := &resolvedRequest{profile: p, cfgPath: file.Path, noSkew: o.noSkew}
			var s sign.Signer
			if s, rc.err = sign.New(ctx, a, target, f.signDeps(rr, plain, nil)); rc.err != nil {
				return
			}
			host := ""
			if u, err := url.Parse(target); err == nil {
				host = u.Host
			}
			rc.client = &http.Client{
				Transport:     &sign.Transport{Signer: s, Base: base, AllowedHost: host},
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			}
		})
		return rc
	}, nil
}

// runSteps runs the steps on o.parallel workers, in file order of results,
// with a progress line on a terminal.
func (f *Factory) runSteps(ctx context.Context, steps []*runStep, defaultProfile string, getClient func(string) *runClient, o *runOptions) []*runResult {
	results := make([]*runResult, len(steps))
	var (
		next    atomic.Int64
		failed  atomic.Bool
		done    atomic.Int64
		nFailed atomic.Int64 // for the progress line: results is not read until every worker is done
		wg      sync.WaitGroup
		progMu  sync.Mutex
		showBar = f.IO.IsStderrTTY() && !o.asJSON
	)
	worker := func() {
		defer wg.Done()
		for {
			i := int(next.Add(1) - 1)
			if i >= len(steps) {
				return
			}
			s := steps[i]
			name := firstNonEmpty(s.Profile, defaultProfile)
			if o.failFast && failed.Load() {
				results[i] = &runResult{Name: s.Name, Profile: name, Method: s.Method, URL: s.URL, Skipped: true, Reason: "skipped after a failure (--fail-fast)"}
				continue
			}
			res := f.runStep(ctx, s, name, getClient(name), o.timeout)
			results[i] = res
			if !res.Passed {
				failed.Store(true)
			}
			if isFailure(res) {
				nFailed.Add(1)
			}
			n := done.Add(1)
			if showBar {
				progMu.Lock()
				fmt.Fprintf(f.IO.ErrOut, "\r\x1b[K%d/%d done, %d failing — %s", n, len(steps), nFailed.Load(), truncate(s.Name, 40))
				progMu.Unlock()
			}
		}
	}
	for i := 0; i < min(o.parallel, len(steps)); i++ {
		wg.Add(1)
		go worker()
	}
	wg.Wait()
	if showBar {
		fmt.Fprint(f.IO.ErrOut, "\r\x1b[K")
	}
	return results
}

// reportRun writes the JUnit file, the table or JSON lines, and decides
// the exit code.
func (f *Factory) reportRun(path string, results []*runResult, elapsed time.Duration, o *runOptions) error {
	nFail := countFailed(results)
	if o.junit != "" {
		if err := writeJUnit(o.junit, path, results, elapsed); err != nil {
			return err
		}
	}
	if o.asJSON {
		enc := json.NewEncoder(f.IO.Out)
		for _, r := range results {
			enc.Encode(r) //nolint:errcheck // stdout
		}
		enc.Encode(map[string]any{"summary": true, "total": len(results), "failed": nFail, "time": elapsed.Seconds()}) //nolint:errcheck
	} else {
		f.printRunTable(results)
	}
	if nFail > 0 {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%d of %d requests failed", nFail, len(results))}
	}
	if !o.asJSON {
		fmt.Fprintf(f.IO.ErrOut, "%s %d requests passed in %s\n", f.IO.ErrStyles().OK.Render("✓"), len(results), elapsed.Round(time.Millisecond))
	}
	return nil
}

func countFailed(rs []*runResult) int {
	n := 0
	for _, r := range rs {
		if isFailure(r) {
			n++
		}
	}
	return n
}

func isFailure(r *runResult) bool { return r != nil && !r.Passed && !r.Skipped }

// runStep sends one request and checks its expectations.
func (f *Factory) runStep(ctx context.Context, s *runStep, profile string, rc *runClient, timeout time.Duration) *runResult {
	res := &runResult{Name: s.Name, Profile: profile, Method: s.Method, URL: s.URL, AuthKind: rc.kind}
	start := time.Now()
	defer func() { res.Seconds = time.Since(start).Seconds() }()
	if rc.err != nil {
		res.Reason = oneLine(rc.err.Error())
		return res
	}
	raw := s.URL
	if strings.HasPrefix(raw, "/") {
		if rc.profile == nil || rc.profile.BaseURL == "" {
			res.Reason = fmt.Sprintf("path %s needs a profile with a base_url", raw)
			return res
		}
		raw = strings.TrimRight(rc.profile.BaseURL, "/") + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		res.Reason = fmt.Sprintf("invalid url %q", s.URL)
		return res
	}
	if len(s.Query) > 0 {
		keys := make([]string, 0, len(s.Query))
		for k := range s.Query {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if u.RawQuery != "" {
				u.RawQuery += "&"
			}
			u.RawQuery += queryEscape(k) + "=" + queryEscape(s.Query[k])
		}
	}
	res.URL = u.String()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body io.Reader
	if s.body != nil {
		body = bytes.NewReader(s.body)
	}
	req, err := http.NewRequestWithContext(ctx, s.Method, u.String(), body)
	if err != nil {
		res.Reason = err.Error()
		return res
	}
	if rc.profile != nil {
		for k, v := range rc.profile.Headers {
			req.Header.Set(k, v)
		}
	}
	if s.ct != "" {
		req.Header.Set("Content-Type", s.ct)
	}
	for k, v := range s.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("User-Agent", userAgent())
	resp, err := rc.client.Do(req)
	if err != nil {
		res.Reason = oneLine(cleanErr(err).Error())
		return res
	}
	defer resp.Body.Close()
	res.Status = resp.StatusCode
	data, err := io.ReadAll(io.LimitReader(resp.Body, expectBodyLimit))
	if err != nil {
		res.Reason = "reading the body: " + err.Error()
		return res
	}
	if err := s.exp.check(resp.StatusCode, data); err != nil {
		var ee *ExitError
		if errors.As(err, &ee) && ee.Err != nil {
			res.Reason = ee.Err.Error()
		} else {
			res.Reason = err.Error()
		}
		return res
	}
	if len(s.exp.statuses) == 0 && resp.StatusCode >= 400 {
		res.Reason = fmt.Sprintf("HTTP %s (no expect.status given, so >= 400 fails)", resp.Status)
		return res
	}
	res.Passed = true
	return res
}

func (f *Factory) printRunTable(results []*runResult) {
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

// JUnit XML, as CI systems read it.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *struct{}     `xml:"skipped,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

func writeJUnit(path, suite string, results []*runResult, elapsed time.Duration) error {
	s := junitSuite{Name: suite, Tests: len(results), Time: fmt.Sprintf("%.3f", elapsed.Seconds())}
	for _, r := range results {
		c := junitCase{Name: r.Name, Classname: firstNonEmpty(r.Profile, "gwcurl"), Time: fmt.Sprintf("%.3f", r.Seconds)}
		switch {
		case r.Skipped:
			c.Skipped = &struct{}{}
			s.Skipped++
		case !r.Passed:
			c.Failure = &junitFailure{Message: r.Reason, Text: fmt.Sprintf("%s %s -> %d: %s", r.Method, r.URL, r.Status, r.Reason)}
			s.Failures++
		}
		s.Cases = append(s.Cases, c)
	}
	out, err := xml.MarshalIndent(junitSuites{Suites: []junitSuite{s}}, "", "  ")
	if err != nil {
		return err
	}
	return profiles.WriteFileAtomic(path, append([]byte(xml.Header), append(out, '\n')...), 0o644)
}
