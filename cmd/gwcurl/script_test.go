package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/gwcurl/gwcurl/internal/cli"
	"github.com/gwcurl/gwcurl/internal/demoflow"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/cfverify/cfaccesstest"
	"github.com/gwcurl/gwcurl/internal/redistest"
	"github.com/gwcurl/gwcurl/internal/testorigin"
)

func TestMain(m *testing.M) {
	if os.Getenv("GWCURL_RUN_MAIN") == "1" { // re-executed as gwcurl by tty_test.go
		os.Exit(cli.Main())
	}
	testscript.Main(m, map[string]func(){
		// fake-browser URL: a scripted browser for GWCURL_BROWSER. It opens the
		// login page, signs in as the demo user and follows the redirects to
		// gwcurl's loopback listener (it acts in the background, as a browser).
		"fake-browser": func() {
			errs := make(chan error, 1)
			demoflow.FormBrowser(context.Background(), &http.Client{Timeout: 20 * time.Second}, "demo@example.com", "demo-password", func(err error) { errs <- err })(os.Args[1]) //nolint:errcheck
			select {
			case err := <-errs:
				fmt.Fprintln(os.Stderr, "fake-browser:", err)
				os.Exit(1)
			case <-time.After(3 * time.Second):
			}
			os.Exit(0)
		},
		// cf-fake-browser URL: a person signing in on Access's CLI login page.
		"cf-fake-browser": func() {
			errs := make(chan error, 1)
			cfaccesstest.Browser(&http.Client{Timeout: 20 * time.Second}, "demo@example.com", "demo-password", errs)(os.Args[1]) //nolint:errcheck
			select {
			case err := <-errs:
				if err != nil {
					fmt.Fprintln(os.Stderr, "cf-fake-browser:", err)
					os.Exit(1)
				}
			case <-time.After(3 * time.Second):
			}
			os.Exit(0)
		},
		// headless-chromium URL: a real headless Chromium signing in (chromium_test.go).
		"headless-chromium": func() { os.Exit(chromiumBrowser(os.Args[1])) },
		"gwcurl": func() {
			code := cli.Main()
			// Record the exit code for the `exitcode` script command.
			if f := os.Getenv("GWCURL_TEST_EXITFILE"); f != "" {
				os.WriteFile(f, []byte(strconv.Itoa(code)), 0o644) //nolint:errcheck
			}
			os.Exit(code)
		},
	})
}

func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "chromium":
				return haveChromium(), nil
			case "redis":
				// Under CI=true a missing redis-server fails the script
				// rather than letting it skip.
				if redistest.Binary() == "" && os.Getenv("CI") == "true" {
					return false, errors.New(redistest.Missing + " (CI=true): .ci/run installs it")
				}
				return redistest.Binary() != "", nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Setup: func(e *testscript.Env) error {
			origin := httptest.NewServer(testorigin.Handler())
			e.Defer(origin.Close)
			e.Setenv("ORIGIN", origin.URL)
			e.Setenv("ORIGIN_HOST", strings.TrimPrefix(origin.URL, "http://"))
			e.Setenv("ORIGIN_PORT", origin.URL[strings.LastIndexByte(origin.URL, ':')+1:])
			tlsOrigin := httptest.NewUnstartedServer(testorigin.Handler())
			tlsOrigin.EnableHTTP2 = true
			tlsOrigin.StartTLS()
			e.Defer(tlsOrigin.Close)
			e.Setenv("ORIGIN_TLS", tlsOrigin.URL)
			caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsOrigin.Certificate().Raw})
			if err := os.WriteFile(filepath.Join(e.WorkDir, "origin-ca.pem"), caPEM, 0o644); err != nil {
				return err
			}
			// The same origin under another host name, for cross-host redirects.
			e.Setenv("ORIGIN_ALT", strings.Replace(origin.URL, "127.0.0.1", "localhost", 1))
			// A forward proxy that changes requests after they were signed.
			alter := httptest.NewServer(alteringProxy())
			e.Defer(alter.Close)
			e.Setenv("ALTERING_PROXY", alter.URL)
			e.Setenv("HOME", e.WorkDir)
			e.Setenv("XDG_CONFIG_HOME", filepath.Join(e.WorkDir, ".config"))
			e.Setenv("XDG_CACHE_HOME", filepath.Join(e.WorkDir, ".cache"))
			e.Setenv("GWCURL_SECRETS_DIR", filepath.Join(e.WorkDir, ".secrets"))
			e.Setenv("AWS_EC2_METADATA_DISABLED", "true")
			e.Setenv("NO_COLOR", "")
			e.Setenv("CI", "true")
			e.Setenv("GWCURL_TEST_EXITFILE", filepath.Join(e.WorkDir, ".exitcode"))
			sum := sha256.Sum256(testorigin.Bytes(1 << 20))
			e.Setenv("MIB_SHA256", hex.EncodeToString(sum[:]))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// mkbin FILE N: write N deterministic bytes (as the origin's /bytes).
			"mkbin": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: mkbin FILE N")
				}
				n, err := strconv.Atoi(args[1])
				ts.Check(err)
				ts.Check(os.WriteFile(ts.MkAbs(args[0]), testorigin.Bytes(n), 0o644))
			},
			// exitcode N: the last gwcurl exited with N.
			"exitcode": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: exitcode N")
				}
				got := ts.ReadFile(".exitcode")
				if (got == args[0]) == neg {
					ts.Fatalf("gwcurl exited %s, want %s%s", got, map[bool]string{true: "not ", false: ""}[neg], args[0])
				}
			},
			// exits N CMD ARGS...: run a program (Debian curl, say) and check
			// its exit code, to compare gwcurl with it in the same script.
			"exits": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: exits N CMD [ARGS...]")
				}
				want, err := strconv.Atoi(args[0])
				ts.Check(err)
				cmd := exec.Command(args[1], args[2:]...)
				cmd.Dir = ts.Getenv("WORK")
				cmd.Env = os.Environ()[:0]
				for _, k := range []string{"PATH", "HOME"} {
					cmd.Env = append(cmd.Env, k+"="+ts.Getenv(k))
				}
				out, err := cmd.CombinedOutput()
				got := 0
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					got = ee.ExitCode()
				} else {
					ts.Check(err)
				}
				if got != want {
					ts.Fatalf("%s exited %d, want %d\n%s", args[1], got, want, out)
				}
			},
			// sameecho A B [HEADER...]: two answers of the origin's echo (one
			// for curl, one for gwcurl) saw the same request: method, path,
			// query, body, Content-Type and Content-Length, and each HEADER.
			"sameecho": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: sameecho A B [HEADER...]")
				}
				type echo struct {
					Method, Path, Query, BodySHA string
					Length                       int
					Headers                      map[string]string
				}
				read := func(name string) echo {
					var raw struct {
						Method  string            `json:"method"`
						Path    string            `json:"path"`
						Query   string            `json:"query"`
						SHA     string            `json:"body_sha256"`
						Length  int               `json:"body_length"`
						Headers map[string]string `json:"headers"`
					}
					ts.Check(json.Unmarshal([]byte(ts.ReadFile(name)), &raw))
					return echo{raw.Method, raw.Path, raw.Query, raw.SHA, raw.Length, raw.Headers}
				}
				a, b := read(args[0]), read(args[1])
				if a.Method != b.Method || a.Path != b.Path || a.Query != b.Query || a.BodySHA != b.BodySHA || a.Length != b.Length {
					ts.Fatalf("different requests:\n%s %s?%s body %d %s\n%s %s?%s body %d %s", a.Method, a.Path, a.Query, a.Length, a.BodySHA, b.Method, b.Path, b.Query, b.Length, b.BodySHA)
				}
				for _, h := range append([]string{"Content-Type", "Content-Length"}, args[2:]...) {
					if a.Headers[h] != b.Headers[h] {
						ts.Fatalf("header %s: %q vs %q", h, a.Headers[h], b.Headers[h])
					}
				}
			},
			// samejar A B: two Netscape cookie files hold the same cookies
			// (comment lines aside, in any order).
			"samejar": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: samejar A B")
				}
				lines := func(name string) []string {
					var out []string
					for _, l := range strings.Split(ts.ReadFile(name), "\n") {
						if l != "" && (!strings.HasPrefix(l, "#") || strings.HasPrefix(l, "#HttpOnly_")) {
							out = append(out, l)
						}
					}
					sort.Strings(out)
					return out
				}
				a, b := lines(args[0]), lines(args[1])
				if strings.Join(a, "\n") != strings.Join(b, "\n") {
					ts.Fatalf("cookie jars differ:\n%s\n---\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
				}
			},
			// waitseen KEY: wait (up to 20s) until the origin has received a
			// request with key=KEY (/slow, /flaky), so a signal sent next
			// finds gwcurl mid-request however slow the machine is.
			"waitseen": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 1 {
					ts.Fatalf("usage: waitseen KEY")
				}
				deadline := time.Now().Add(20 * time.Second)
				for {
					resp, err := http.Get(ts.Getenv("ORIGIN") + "/seen?key=" + args[0])
					if err == nil {
						var v struct{ Count int }
						json.NewDecoder(resp.Body).Decode(&v) //nolint:errcheck
						resp.Body.Close()
						if v.Count > 0 {
							return
						}
					}
					if time.Now().After(deadline) {
						ts.Fatalf("the origin saw no request with key=%s", args[0])
					}
					time.Sleep(20 * time.Millisecond)
				}
			},
			// waitfile FILE: wait (up to 10s) until FILE exists and is not empty.
			"waitfile": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: waitfile FILE")
				}
				deadline := time.Now().Add(10 * time.Second)
				for {
					if fi, err := os.Stat(ts.MkAbs(args[0])); err == nil && fi.Size() > 0 {
						return
					}
					if time.Now().After(deadline) {
						ts.Fatalf("%s did not appear", args[0])
					}
					time.Sleep(20 * time.Millisecond)
				}
			},
			// open-magic-link BASEURL EMAIL: open the newest mailed link, as a person would.
			"open-magic-link": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: open-magic-link BASEURL EMAIL")
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				ts.Check(demoflow.OpenMailboxLink(ctx, &http.Client{}, ts.Getenv(args[0]), args[1], 0))
			},
			// gwbase FILE VAR: set VAR to the gateway base URL of a --profiles-out file.
			"gwbase": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: gwbase FILE VAR")
				}
				data := ts.ReadFile(args[0])
				i := strings.Index(data, "base_url: ")
				if i < 0 {
					ts.Fatalf("no base_url in %s", args[0])
				}
				u := strings.Fields(data[i+len("base_url: "):])[0]
				ts.Setenv(args[1], u[:strings.LastIndex(u, "/")])
			},
			// envfile VAR FILE: set VAR to the trimmed contents of FILE.
			"envfile": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: envfile VAR FILE")
				}
				ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile(args[1])))
			},
			// perm PATH MODE: PATH has exactly the octal permission bits MODE.
			"perm": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: perm PATH MODE")
				}
				fi, err := os.Stat(ts.MkAbs(args[0]))
				ts.Check(err)
				want, err := strconv.ParseUint(args[1], 8, 32)
				ts.Check(err)
				if (fi.Mode().Perm() == os.FileMode(want)) == neg {
					ts.Fatalf("%s has mode %#o, want %s%#o", args[0], fi.Mode().Perm(), map[bool]string{true: "not ", false: ""}[neg], want)
				}
			},
			// onlyfiles DIR FILE...: the regular files under DIR are exactly FILE... (relative to DIR).
			"onlyfiles": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 1 {
					ts.Fatalf("usage: onlyfiles DIR FILE...")
				}
				root := ts.MkAbs(args[0])
				var got []string
				ts.Check(filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
					if err != nil || d.IsDir() {
						return err
					}
					rel, _ := filepath.Rel(root, p)
					got = append(got, filepath.ToSlash(rel))
					return nil
				}))
				if strings.Join(got, " ") != strings.Join(args[1:], " ") {
					ts.Fatalf("files under %s: %v, want %v", args[0], got, args[1:])
				}
			},
			// redis-start VAR: run a redis-server on loopback until the
			// script ends; VAR is its redis:// URL.
			"redis-start": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 1 {
					ts.Fatalf("usage: redis-start VAR")
				}
				dir := ts.MkAbs(".redis")
				ts.Check(os.MkdirAll(dir, 0o700))
				u, stop, err := redistest.Start(dir)
				ts.Check(err)
				ts.Defer(stop)
				ts.Setenv(args[0], u)
			},
			// freeport VAR: set VAR to a free TCP port on 127.0.0.1.
			"freeport": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 1 {
					ts.Fatalf("usage: freeport VAR")
				}
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				ts.Check(err)
				ts.Setenv(args[0], strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
				ts.Check(ln.Close())
			},
			// expandenv IN OUT: copy IN to OUT with $VAR and ${VAR} expanded.
			"expandenv": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: expandenv IN OUT")
				}
				ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(os.Expand(ts.ReadFile(args[0]), ts.Getenv)), 0o600))
			},
			// setre VAR FILE REGEXP: set VAR to REGEXP's first group in FILE.
			"setre": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 3 {
					ts.Fatalf("usage: setre VAR FILE REGEXP")
				}
				m := regexp.MustCompile(args[2]).FindStringSubmatch(ts.ReadFile(args[1]))
				if len(m) < 2 {
					ts.Fatalf("%s does not match %s", args[1], args[2])
				}
				ts.Setenv(args[0], m[1])
			},
			// burst N URL...: send N concurrent GETs, spread over the URLs in
			// turn, and print how many got each status ("200: 10"), one
			// line per status in ascending order. Every 429 must carry
			// Retry-After.
			"burst": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: burst N URL...")
				}
				n, err := strconv.Atoi(args[0])
				ts.Check(err)
				var mu sync.Mutex
				counts := map[int]int{}
				var problems []string
				var wg sync.WaitGroup
				for i := range n {
					u := args[1+i%(len(args)-1)]
					wg.Add(1)
					go func() {
						defer wg.Done()
						resp, err := http.Get(u)
						mu.Lock()
						defer mu.Unlock()
						if err != nil {
							problems = append(problems, err.Error())
							return
						}
						io.Copy(io.Discard, resp.Body) //nolint:errcheck
						resp.Body.Close()
						counts[resp.StatusCode]++
						if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
							problems = append(problems, "a 429 without Retry-After")
						}
					}()
				}
				wg.Wait()
				if len(problems) > 0 {
					ts.Fatalf("burst: %s", strings.Join(problems, "; "))
				}
				codes := make([]int, 0, len(counts))
				for c := range counts {
					codes = append(codes, c)
				}
				sort.Ints(codes)
				for _, c := range codes {
					fmt.Fprintf(ts.Stdout(), "%d: %d\n", c, counts[c])
				}
			},
			// noesc FILE...: fail if a file holds an ANSI escape byte.
			"noesc": func(ts *testscript.TestScript, neg bool, args []string) {
				for _, a := range args {
					data := ts.ReadFile(a)
					for i := 0; i < len(data); i++ {
						if data[i] == 0x1b {
							ts.Fatalf("%s has an escape byte at offset %d: %q", a, i, fmt.Sprint(data[max(0, i-10):min(len(data), i+10)]))
						}
					}
				}
			},
		},
	})
}

// alteringProxy is a forward proxy (for gwcurl --proxy) that changes a
// request after the client signed it, as careless proxies do: it upper-cases
// the X-Tenant header and decodes percent-escapes the path does not need
// (as a proxy that re-encodes the decoded path does). It forwards to
// loopback targets only.
func alteringProxy() http.Handler {
	tr := &http.Transport{Proxy: nil}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !r.URL.IsAbs() {
			http.Error(w, "altering proxy: want an absolute-form request", http.StatusBadRequest)
			return
		}
		if h := r.URL.Hostname(); h != "127.0.0.1" && h != "localhost" && h != "::1" {
			http.Error(w, "altering proxy: loopback targets only", http.StatusBadGateway)
			return
		}
		out := r.Clone(r.Context())
		out.RequestURI = ""
		if v := out.Header.Get("X-Tenant"); v != "" {
			out.Header.Set("X-Tenant", strings.ToUpper(v))
		}
		out.URL.RawPath = "" // re-encode the path minimally: "%3A" goes out as ":"
		resp, err := tr.RoundTrip(out)
		if err != nil {
			http.Error(w, "altering proxy: "+err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body) //nolint:errcheck
	})
}
