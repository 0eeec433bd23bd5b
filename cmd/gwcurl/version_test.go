package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// needTool finds an external tool; it fails under CI=true and skips elsewhere.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI: %v", name, err)
		}
		t.Skipf("%s not found: %v", name, err)
	}
	return p
}

// TestVersionFromBuild builds gwcurl with plain `go build` in a git checkout
// of the current work tree (copied, so uncommitted changes are what is
// tested) and checks what `gwcurl version` reports: the commit, -dirty for a
// modified tree, a tag when HEAD is tagged, and -ldflags -X stamps.
func TestVersionFromBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	gitBin := needTool(t, "git")
	goBin := needTool(t, "go")
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(gitBin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	// The work tree's files (tracked and new, not ignored) in a fresh repository.
	ls := exec.Command(gitBin, "ls-files", "-z", "-co", "--exclude-standard")
	ls.Dir = root
	files, err := ls.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(files), "\x00"), "\x00") {
		data, err := os.ReadFile(filepath.Join(root, name))
		if os.IsNotExist(err) {
			continue // deleted in the work tree
		}
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q")
	git("add", "-A")
	git("commit", "-q", "-m", "snapshot")
	head := git("rev-parse", "HEAD")

	bin := filepath.Join(t.TempDir(), "gwcurl")
	version := func(ldflags string) (text string, d map[string]any) {
		t.Helper()
		args := []string{"build", "-trimpath", "-o", bin}
		if ldflags != "" {
			args = append(args, "-ldflags", ldflags)
		}
		build := exec.Command(goBin, append(args, "./cmd/gwcurl")...)
		build.Dir = dir
		// The defaults a user has: VCS stamping on (some machines turn it off
		// in their go env file), modules as go.sum pins them. -trimpath and
		// CGO_ENABLED=0 as `make dist` builds, so the two share the build cache.
		build.Env = append(os.Environ(), "GOFLAGS=-buildvcs=auto -mod=readonly", "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		out, err := exec.Command(bin, "version").Output()
		if err != nil {
			t.Fatalf("gwcurl version: %v", err)
		}
		js, err := exec.Command(bin, "version", "--json").Output()
		if err != nil {
			t.Fatalf("gwcurl version --json: %v", err)
		}
		if err := json.Unmarshal(js, &d); err != nil {
			t.Fatalf("version --json: %v\n%s", err, js)
		}
		return string(out), d
	}
	want := func(text, sub string) {
		t.Helper()
		if !strings.Contains(text, sub) {
			t.Errorf("gwcurl version:\n%s\nwant it to contain %q", text, sub)
		}
	}

	text, d := version("")
	want(text, "gwcurl v0.0.0-") // the pseudo-version Go records for an untagged commit
	want(text, "commit:   "+head[:12]+"\n")
	want(text, "platform: "+runtime.GOOS+"/"+runtime.GOARCH)
	if d["commit"] != head || d["dirty"] != false || d["go"] != runtime.Version() {
		t.Errorf("version --json = %v, want commit %s, not dirty, go %s", d, head, runtime.Version())
	}

	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	text, d = version("")
	want(text, "commit:   "+head[:12]+"-dirty")
	if d["dirty"] != true {
		t.Errorf("version --json = %v, want dirty", d)
	}
	git("checkout", "-q", "--", "README.md")

	git("tag", "v1.2.3")
	text, _ = version("")
	want(text, "gwcurl v1.2.3\n")

	text, d = version("-X github.com/gwcurl/gwcurl/internal/build.Version=v9.8.7 -X github.com/gwcurl/gwcurl/internal/build.Date=2026-03-04T05:06:07Z")
	want(text, "gwcurl v9.8.7\n")
	want(text, "date:     2026-03-04T05:06:07Z")
	want(text, "commit:   "+head[:12])
	if d["version"] != "v9.8.7" {
		t.Errorf("version --json = %v, want v9.8.7", d)
	}
}
