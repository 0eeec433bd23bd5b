package cli

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/demoflow"
	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
	"github.com/gwcurl/gwcurl/internal/iostreams"
	"github.com/gwcurl/gwcurl/internal/testorigin"
)

// testFactory runs gwcurl in-process with an isolated environment.
func testFactory(t *testing.T, env map[string]string) (*Factory, *iostreams.IOStreams, func() (string, string)) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	dir := t.TempDir()
	base := map[string]string{
		"HOME": dir, "XDG_CONFIG_HOME": filepath.Join(dir, "config"), "XDG_CACHE_HOME": filepath.Join(dir, "cache"),
		"GWCURL_SECRETS_DIR": filepath.Join(dir, "secrets"), "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": filepath.Join(dir, "aws-config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "aws-creds"), "CI": "true",
	}
	for k, v := range env {
		base[k] = v
	}
	f := &Factory{IO: ios, Getenv: func(k string) string { return base[k] }, Now: time.Now, Context: context.Background()}
	return f, ios, func() (string, string) { return out.String(), errOut.String() }
}

func TestRunFileMixesDemoProfilesWithJUnit(t *testing.T) {
	gw := gatewaytest.StartDemo(t, gateway.Options{})
	dir := t.TempDir()
	conf := filepath.Join(dir, "config.yaml")
	if err := demoflow.WriteProfiles(conf, gw.URL); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(`- {name: health, profile: demo-public, url: /echo, expect: {status: 200, jq: '.identity.kind == "none"'}}
- name: create
  profile: demo-public
  url: /items
  body: {name: widget, count: 3}
  expect: {status: [200, 201], jq: '.name == "widget"'}
- {name: list, profile: demo-public, url: /items, query: {limit: "10"}, expect: {status: 200}}
- {name: wrong-status, profile: demo-public, url: /echo, expect: {status: 418}}
- {name: wrong-jq, profile: demo-public, url: /echo, expect: {jq: '.method == "POST"'}}
`)
	kinds := map[string]string{"sigv4": "demo-sigv4", "sts-identity": "demo-sts", "google": "demo-google", "cf-access": "demo-cf",
		"cognito": "demo-cognito", "magic-link": "demo-magic"}
	wantCases := 5
	for kind, prof := range kinds {
		fmt.Fprintf(&b, "- {name: %s-echo, profile: %s, url: /echo, expect: {status: 200, jq: '.identity.kind != \"none\"'}}\n", kind, prof)
		wantCases++
	}
	runFile := filepath.Join(dir, "smoke.yaml")
	os.WriteFile(runFile, []byte(b.String()), 0o644)
	junit := filepath.Join(dir, "report.xml")

	f, _, output := testFactory(t, map[string]string{"GWCURL_CONFIG": conf})
	// The browser-login profiles log in first, headlessly, through the real
	// login path; the run itself then needs no browser.
	d := &demoEnv{base: gw.URL, env: map[string]string{}}
	for _, k := range []string{"GWCURL_CONFIG", "HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "GWCURL_SECRETS_DIR", "CI"} {
		d.env[k] = f.Getenv(k)
	}
	f.Secrets = d.secrets
	for _, p := range []string{"demo-cognito", "demo-magic"} {
		if err := f.demoLogin(context.Background(), d, p); err != nil {
			t.Fatalf("login %s: %v", p, err)
		}
	}
	code := Run(context.Background(), f, []string{"run", runFile, "--parallel", "4", "--junit", junit, "--json"})
	stdout, stderr := output()
	if code != ExitFailure {
		t.Fatalf("exit %d, want 1 (two requests fail)\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "2 of ") {
		t.Errorf("stderr does not say how many failed: %s", stderr)
	}

	data, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Cases    []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &rep); err != nil {
		t.Fatalf("JUnit report does not parse: %v\n%s", err, data)
	}
	s := rep.Suites[0]
	if s.Tests != wantCases || len(s.Cases) != wantCases || s.Failures != 2 {
		t.Fatalf("JUnit: tests=%d cases=%d failures=%d, want %d/%d/2\n%s", s.Tests, len(s.Cases), s.Failures, wantCases, wantCases, data)
	}
	for _, c := range s.Cases {
		failed := c.Failure != nil
		wantFail := c.Name == "wrong-status" || c.Name == "wrong-jq"
		if failed != wantFail {
			t.Errorf("case %s failed=%v, want %v (%+v)", c.Name, failed, wantFail, c.Failure)
		}
		if c.Name == "wrong-status" && !strings.Contains(c.Failure.Message, "expected status 418, got 200") {
			t.Errorf("wrong-status reason: %q", c.Failure.Message)
		}
	}

	// JSON lines: one per request, then a summary.
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != wantCases+1 {
		t.Fatalf("%d JSON lines, want %d", len(lines), wantCases+1)
	}
	var sum map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil || sum["failed"] != float64(2) {
		t.Fatalf("summary line %q: %v", lines[len(lines)-1], err)
	}
}

func TestRunFileErrorsNameFileAndLine(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, body, want string }{
		{"unknown key", "- name: a\n  url: /x\n  expct: {status: 200}\n", "bad.yaml:3: unknown key \"expct\""},
		{"no url", "- {name: a}\n", "bad.yaml:1: a: no url"},
		{"bad status", "- {name: a, url: /x, expect: {status: abc}}\n", "invalid status"},
		{"dup name", "- {name: a, url: /x}\n- {name: a, url: /y}\n", `bad.yaml:2: name "a" already used on line 1`},
		{"not a list", "name: a\n", "not a list"},
		{"syntax", "- {name: a\n", "bad.yaml:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, "bad.yaml")
			os.WriteFile(p, []byte(tt.body), 0o644)
			f, _, output := testFactory(t, nil)
			code := Run(context.Background(), f, []string{"run", p})
			_, stderr := output()
			if code != ExitUsage || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, stderr, tt.want)
			}
		})
	}
}

func TestExpectFlags(t *testing.T) {
	gw := gatewaytest.StartDemo(t, gateway.Options{})
	tests := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--expect-status", "200", gw.URL + "/public/echo"}, 0, ""},
		{[]string{"--expect-status", "201,204", gw.URL + "/public/echo"}, 1, "expected status 201 or 204, got 200"},
		{[]string{"--expect-jq", `.method == "GET"`, gw.URL + "/public/echo"}, 0, ""},
		{[]string{"--expect-jq", `.method == "PUT"`, gw.URL + "/public/echo"}, 1, `--expect-jq .method == "PUT" was false, want true`},
		{[]string{"--expect-jq", `.nope |`, gw.URL + "/public/echo"}, 2, "invalid --expect-jq expression"},
		{[]string{"-f", "--expect-status", "404", gw.URL + "/nothing"}, 22, "HTTP 404"},
		{[]string{"--expect-status", "404", gw.URL + "/nothing"}, 0, ""},
		{[]string{"-s", "-o", "/dev/null", "-w", "%{json}", gw.URL + "/public/echo"}, 0, ""},
	}
	for _, tt := range tests {
		f, _, output := testFactory(t, nil)
		code := Run(context.Background(), f, tt.args)
		stdout, stderr := output()
		if code != tt.code || !strings.Contains(stderr, tt.msg) {
			t.Errorf("gwcurl %q: exit %d stderr %q; want %d and %q", tt.args, code, stderr, tt.code, tt.msg)
		}
		if strings.Contains(strings.Join(tt.args, " "), "%{json}") {
			var v map[string]any
			if err := json.Unmarshal([]byte(stdout), &v); err != nil {
				t.Fatalf("-w %%{json} is not JSON: %q", stdout)
			}
			for _, k := range []string{"http_code", "time_total", "time_connect", "size_download", "url_effective", "method", "auth_kind"} {
				if _, ok := v[k]; !ok {
					t.Errorf("-w %%{json} lacks %s: %s", k, stdout)
				}
			}
		}
	}
}

// TestRunParallelOnTerminal runs `gwcurl run --parallel` with stderr on a
// terminal, so the progress line is drawn while workers finish requests.
// Under -race it catches the progress line reading results that other
// workers are still writing; it also checks the table and the final count.
func TestRunParallelOnTerminal(t *testing.T) {
	origin := httptest.NewServer(testorigin.Handler())
	t.Cleanup(origin.Close)
	dir := t.TempDir()
	var b strings.Builder
	const total, failing = 40, 10
	for i := range total {
		status := 200
		if i%(total/failing) == 0 {
			status = 503 // no expect: any status >= 400 fails
		}
		fmt.Fprintf(&b, "- {name: step-%02d, url: '%s/status/%d'}\n", i, origin.URL, status)
	}
	runFile := filepath.Join(dir, "smoke.yaml")
	if err := os.WriteFile(runFile, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	f, ios, output := testFactory(t, nil)
	ios.SetTTY(false, true, true)
	code := Run(context.Background(), f, []string{"run", runFile, "--parallel", "8"})
	stdout, stderr := output()
	if code != ExitFailure {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if want := fmt.Sprintf("%d of %d requests failed", failing, total); !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
	if want := fmt.Sprintf("%d/%d done, ", total, total); !strings.Contains(stderr, want) {
		t.Errorf("no progress line %q on the terminal:\n%s", want, stderr)
	}
	if n := strings.Count(stdout, "step-"); n != total {
		t.Errorf("table has %d rows, want %d:\n%s", n, total, stdout)
	}
}
