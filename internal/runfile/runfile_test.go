package runfile

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseErrorsNameFileAndLine(t *testing.T) {
	tests := []struct{ name, body, want, hint string }{
		{"unknown key", "- name: a\n  url: /x\n  expct: {status: 200}\n", `bad.yaml:3: unknown key "expct"`, "keys: name"},
		{"unknown expect key", "- {name: a, url: /x, expect: {stat: 200}}\n", "bad.yaml:1: unknown key expect.stat", "keys: name"},
		{"no url", "- {name: a}\n", "bad.yaml:1: a: no url", "each request needs url"},
		{"bad status", "- {name: a, url: /x, expect: {status: abc}}\n", `bad.yaml:1: a: invalid status "abc"`, ""},
		{"bad jq", "- {name: a, url: /x, expect: {jq: '.nope |'}}\n", "bad.yaml:1: a: invalid --expect-jq expression", ""},
		{"bad method", "- {name: a, url: /x, method: get}\n", `bad.yaml:1: a: method "get" is not an upper-case token`, ""},
		{"dup name", "- {name: a, url: /x}\n- {name: a, url: /y}\n", `bad.yaml:2: name "a" already used on line 1`, "own name"},
		{"not a list", "name: a\n", "bad.yaml: not a list", "YAML list"},
		{"not a mapping", "- just a string\n", "bad.yaml:1: each request is a mapping", "keys: name"},
		{"empty list", "[]\n", "bad.yaml: no requests", "at least one"},
		{"syntax", "- {name: a\n", "bad.yaml:", "YAML list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(tt.body))
			var re *Error
			if !errors.As(err, &re) {
				t.Fatalf("error %v (%T), want *Error", err, err)
			}
			if !strings.Contains(re.Error(), tt.want) || !strings.Contains(re.Hint, tt.hint) {
				t.Fatalf("error %q hint %q; want %q and hint with %q", re.Error(), re.Hint, tt.want, tt.hint)
			}
		})
	}
}

func TestParseDefaults(t *testing.T) {
	steps, err := Parse("ok.yaml", []byte("- {url: /a}\n- {url: /b, body: {x: 1}}\n- {url: /c, body: raw, method: PUT}\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, s := range steps {
		got = append(got, s.Name+" "+s.Method+" "+strconv.Itoa(s.Line)+" "+s.ct+" "+string(s.body))
	}
	want := []string{"request 1 GET 1  ", `request 2 POST 2 application/json {"x":1}`, "request 3 PUT 3  raw"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("steps:\n%q\nwant\n%q", got, want)
	}
}

// echo answers with the status named by the path's last element
// (/status/503) or 200, and a JSON echo of what it received.
func echo(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		status := 200
		if rest, ok := strings.CutPrefix(r.URL.Path, "/status/"); ok {
			status, _ = strconv.Atoi(rest)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{
			"method": r.Method, "query": r.URL.RawQuery, "body": string(body), "ct": r.Header.Get("Content-Type"),
			"ua": r.Header.Get("User-Agent"), "team": r.Header.Get("X-Team"), "step": r.Header.Get("X-Step"),
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// tick is a clock that advances one second per reading, so durations are
// exact without timing anything.
func tick() func() time.Time {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		return now
	}
}

func TestRunSendsChecksAndReportsInFileOrder(t *testing.T) {
	srv := echo(t)
	file := `- {name: get, profile: p, url: /echo, query: {b: "x y", a: "1"}, expect: {status: 200, jq: '.method == "GET" and .query == "a=1&b=x%20y" and .team == "core" and .ua == "gwcurl/test"'}}
- {name: post, profile: p, url: /echo, body: {n: 3}, headers: {X-Step: s}, expect: {status: [200, 201], jq: '.body == "{\"n\":3}" and .ct == "application/json" and .step == "s"'}}
- {name: wrong-status, profile: p, url: /echo, expect: {status: 418}}
- {name: wrong-jq, profile: p, url: /echo, expect: {jq: '.method == "POST"'}}
- {name: no-expect-5xx, profile: p, url: /status/503}
- {name: absolute, url: '` + srv.URL + `/echo'}
- {name: no-base, url: /echo}
- {name: broken, profile: broken, url: /echo}
`
	steps, err := Parse("smoke.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	var calls sync.Map
	r := &Runner{
		Target: func(name string) *Target {
			n, _ := calls.LoadOrStore(name, new(int))
			*n.(*int)++ // one worker: no race
			switch name {
			case "p":
				return &Target{Client: srv.Client(), BaseURL: srv.URL + "/", Headers: map[string]string{"X-Team": "core"}, AuthKind: "none"}
			case "broken":
				return &Target{AuthKind: "sigv4", Err: errors.New("no credentials\nsecond line")}
			}
			return &Target{Client: srv.Client(), AuthKind: "none"}
		},
		Parallel:  1,
		UserAgent: "gwcurl/test",
		Now:       tick(),
	}
	var progress []Progress
	r.Progress = func(p Progress) { progress = append(progress, p) }
	rep := r.Run(context.Background(), steps)

	want := []struct {
		name   string
		passed bool
		status int
		reason string
	}{
		{"get", true, 200, ""},
		{"post", true, 200, ""},
		{"wrong-status", false, 200, "expected status 418, got 200"},
		{"wrong-jq", false, 200, `--expect-jq .method == "POST" was false, want true`},
		{"no-expect-5xx", false, 503, "HTTP 503 Service Unavailable (no expect.status given, so >= 400 fails)"},
		{"absolute", true, 200, ""},
		{"no-base", false, 0, "path /echo needs a profile with a base_url"},
		{"broken", false, 0, "no credentials"},
	}
	if len(rep.Results) != len(want) {
		t.Fatalf("%d results, want %d", len(rep.Results), len(want))
	}
	for i, w := range want {
		got := rep.Results[i]
		if got.Name != w.name || got.Passed != w.passed || got.Status != w.status || got.Reason != w.reason {
			t.Errorf("result %d = %+v, want %+v", i, got, w)
		}
		if got.Seconds != 1 {
			t.Errorf("%s took %v s on a clock that ticks once per reading, want 1", got.Name, got.Seconds)
		}
	}
	if rep.Results[0].URL != srv.URL+"/echo?a=1&b=x%20y" || rep.Results[7].AuthKind != "sigv4" {
		t.Errorf("url %q auth kind %q", rep.Results[0].URL, rep.Results[7].AuthKind)
	}
	if f := rep.Failed(); f != 5 {
		t.Errorf("Failed() = %d, want 5", f)
	}
	if len(progress) != len(want) || progress[len(progress)-1] != (Progress{Done: 8, Total: 8, Failed: 5, Name: "broken"}) {
		t.Errorf("progress %+v", progress)
	}
	if rep.Elapsed <= 0 {
		t.Errorf("elapsed %v", rep.Elapsed)
	}
}

func TestRunFailFastSkipsTheRest(t *testing.T) {
	srv := echo(t)
	steps, err := Parse("f.yaml", []byte("- {name: a, url: /status/500}\n- {name: b, url: /echo}\n- {name: c, url: /echo}\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{Target: func(string) *Target { return &Target{Client: srv.Client(), BaseURL: srv.URL} }, FailFast: true, Now: tick()}
	rep := r.Run(context.Background(), steps)
	if rep.Results[0].Passed || !rep.Results[1].Skipped || !rep.Results[2].Skipped || rep.Failed() != 1 {
		t.Fatalf("results %+v %+v %+v, failed %d", rep.Results[0], rep.Results[1], rep.Results[2], rep.Failed())
	}
	doc, err := rep.JUnit("f.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var x struct {
		Suites []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Skipped  int    `xml:"skipped,attr"`
			Cases    []struct {
				Classname string `xml:"classname,attr"`
				Failure   *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(doc, &x); err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	s := x.Suites[0]
	if s.Name != "f.yaml" || s.Tests != 3 || s.Failures != 1 || s.Skipped != 2 || s.Cases[0].Classname != "gwcurl" || !strings.Contains(s.Cases[0].Failure.Message, "HTTP 500") {
		t.Fatalf("JUnit:\n%s", doc)
	}
}

// TestRunParallelSharesNothingUnsafely runs many steps on many workers
// under -race; every result lands in its own slot, in file order.
func TestRunParallelSharesNothingUnsafely(t *testing.T) {
	srv := echo(t)
	var b strings.Builder
	const total = 60
	for i := range total {
		status := 200
		if i%6 == 0 {
			status = 500
		}
		b.WriteString("- {name: s" + strconv.Itoa(i) + ", url: /status/" + strconv.Itoa(status) + "}\n")
	}
	steps, err := Parse("p.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	target := &Target{Client: srv.Client(), BaseURL: srv.URL}
	var last Progress
	r := &Runner{Target: func(string) *Target { return target }, Parallel: 8, Now: time.Now, Timeout: time.Minute,
		Progress: func(p Progress) { last = p }}
	rep := r.Run(context.Background(), steps)
	for i, res := range rep.Results {
		if res.Name != "s"+strconv.Itoa(i) || res.Passed == (i%6 == 0) {
			t.Fatalf("result %d: %+v", i, res)
		}
	}
	if rep.Failed() != total/6 || last.Done != total || last.Failed != total/6 {
		t.Fatalf("failed %d, last progress %+v", rep.Failed(), last)
	}
}
