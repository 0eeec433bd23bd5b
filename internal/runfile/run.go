package runfile

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gwcurl/gwcurl/internal/expect"
)

// Doer sends one request; *http.Client is one.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Target is what the steps of one profile are sent through.
type Target struct {
	Client   Doer              // the profile's signing client
	BaseURL  string            // a step's /path is resolved against it
	Headers  map[string]string // the profile's headers, set before the step's own
	AuthKind string            // reported in each Result
	Err      error             // the profile could not be set up: its steps fail with this
}

// Result is one request's outcome.
type Result struct {
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

// Failed reports whether the request ran and failed (a skipped one did not).
func (r *Result) Failed() bool { return r != nil && !r.Passed && !r.Skipped }

// Progress is reported after each request that ran.
type Progress struct {
	Done, Total, Failed int
	Name                string // the step just finished
}

// Runner runs steps. Target and Now are required.
type Runner struct {
	// Target returns the target of a profile name ("" when no step or
	// default names one); it is called once per step, from the workers,
	// and must be safe for concurrent use.
	Target         func(profile string) *Target
	DefaultProfile string        // for steps without profile:
	Parallel       int           // workers; less than 1 means 1
	FailFast       bool          // skip the steps not yet started after a failure
	Timeout        time.Duration // per request; 0 means none
	UserAgent      string
	Now            func() time.Time
	// DescribeErr turns a sending error into one line; nil uses err.Error().
	DescribeErr func(error) string
	// Progress, when set, is called after each request, never concurrently.
	Progress func(Progress)
}

// Report is the outcome of a run, results in file order.
type Report struct {
	Results []*Result
	Elapsed time.Duration
}

// Failed counts the requests that ran and failed.
func (r *Report) Failed() int {
	n := 0
	for _, res := range r.Results {
		if res.Failed() {
			n++
		}
	}
	return n
}

// Profile is the profile name a step runs with.
func (r *Runner) Profile(s *Step) string {
	if s.Profile != "" {
		return s.Profile
	}
	return r.DefaultProfile
}

// Run runs the steps on r.Parallel workers; results are in file order.
func (r *Runner) Run(ctx context.Context, steps []*Step) *Report {
	start := r.Now()
	results := make([]*Result, len(steps))
	var (
		next    atomic.Int64
		failed  atomic.Bool
		done    atomic.Int64
		nFailed atomic.Int64 // for Progress: results is not read until every worker is done
		wg      sync.WaitGroup
		progMu  sync.Mutex
	)
	worker := func() {
		defer wg.Done()
		for {
			i := int(next.Add(1) - 1)
			if i >= len(steps) {
				return
			}
			s := steps[i]
			name := r.Profile(s)
			if r.FailFast && failed.Load() {
				results[i] = &Result{Name: s.Name, Profile: name, Method: s.Method, URL: s.URL, Skipped: true, Reason: "skipped after a failure (--fail-fast)"}
				continue
			}
			res := r.runStep(ctx, s, name, r.Target(name))
			results[i] = res
			if !res.Passed {
				failed.Store(true)
			}
			if res.Failed() {
				nFailed.Add(1)
			}
			n := done.Add(1)
			if r.Progress != nil {
				progMu.Lock()
				r.Progress(Progress{Done: int(n), Total: len(steps), Failed: int(nFailed.Load()), Name: s.Name})
				progMu.Unlock()
			}
		}
	}
	for range min(max(r.Parallel, 1), len(steps)) {
		wg.Add(1)
		go worker()
	}
	wg.Wait()
	return &Report{Results: results, Elapsed: r.Now().Sub(start)}
}

// runStep sends one request and checks its expectations.
func (r *Runner) runStep(ctx context.Context, s *Step, profile string, t *Target) *Result {
	res := &Result{Name: s.Name, Profile: profile, Method: s.Method, URL: s.URL, AuthKind: t.AuthKind}
	start := r.Now()
	defer func() { res.Seconds = r.Now().Sub(start).Seconds() }()
	if t.Err != nil {
		res.Reason = oneLine(t.Err.Error())
		return res
	}
	u, reason := s.url(t.BaseURL)
	if reason != "" {
		res.Reason = reason
		return res
	}
	res.URL = u.String()
	if r.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.Timeout)
		defer cancel()
	}
	req, err := s.request(ctx, u, t, r.UserAgent)
	if err != nil {
		res.Reason = err.Error()
		return res
	}
	resp, err := t.Client.Do(req)
	if err != nil {
		res.Reason = oneLine(r.describe(err))
		return res
	}
	defer resp.Body.Close()
	res.Status = resp.StatusCode
	data, err := io.ReadAll(io.LimitReader(resp.Body, expect.BodyLimit))
	if err != nil {
		res.Reason = "reading the body: " + err.Error()
		return res
	}
	if err := s.exp.Check(resp.StatusCode, data); err != nil {
		res.Reason = err.Error()
		return res
	}
	if len(s.exp.Statuses) == 0 && resp.StatusCode >= 400 {
		res.Reason = fmt.Sprintf("HTTP %s (no expect.status given, so >= 400 fails)", resp.Status)
		return res
	}
	res.Passed = true
	return res
}

func (r *Runner) describe(err error) string {
	if r.DescribeErr != nil {
		return r.DescribeErr(err)
	}
	return err.Error()
}

// url resolves the step's URL against base and adds its query, in key
// order; a non-empty reason says why it cannot.
func (s *Step) url(base string) (*url.URL, string) {
	raw := s.URL
	if strings.HasPrefix(raw, "/") {
		if base == "" {
			return nil, fmt.Sprintf("path %s needs a profile with a base_url", raw)
		}
		raw = strings.TrimRight(base, "/") + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Sprintf("invalid url %q", s.URL)
	}
	keys := make([]string, 0, len(s.Query))
	for k := range s.Query {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if u.RawQuery != "" {
			u.RawQuery += "&"
		}
		u.RawQuery += QueryEscape(k) + "=" + QueryEscape(s.Query[k])
	}
	return u, ""
}

// request builds the step's request: profile headers, then the body's
// Content-Type, then the step's headers, then the User-Agent.
func (s *Step) request(ctx context.Context, u *url.URL, t *Target, userAgent string) (*http.Request, error) {
	var body io.Reader
	if s.body != nil {
		body = bytes.NewReader(s.body)
	}
	req, err := http.NewRequestWithContext(ctx, s.Method, u.String(), body)
	if err != nil {
		return nil, err
	}
	for k, v := range t.Headers {
		req.Header.Set(k, v)
	}
	if s.ct != "" {
		req.Header.Set("Content-Type", s.ct)
	}
	for k, v := range s.Headers {
		req.Header.Set(k, v)
	}
	if userAgent != "" {
		req.Header.Set("User-Agent", userAgent)
	}
	return req, nil
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return s
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

// JUnit renders the report as a JUnit XML document with one suite.
func (r *Report) JUnit(suite string) ([]byte, error) {
	s := junitSuite{Name: suite, Tests: len(r.Results), Time: fmt.Sprintf("%.3f", r.Elapsed.Seconds())}
	for _, res := range r.Results {
		class := res.Profile
		if class == "" {
			class = "gwcurl"
		}
		c := junitCase{Name: res.Name, Classname: class, Time: fmt.Sprintf("%.3f", res.Seconds)}
		switch {
		case res.Skipped:
			c.Skipped = &struct{}{}
			s.Skipped++
		case !res.Passed:
			c.Failure = &junitFailure{Message: res.Reason, Text: fmt.Sprintf("%s %s -> %d: %s", res.Method, res.URL, res.Status, res.Reason)}
			s.Failures++
		}
		s.Cases = append(s.Cases, c)
	}
	out, err := xml.MarshalIndent(junitSuites{Suites: []junitSuite{s}}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}
