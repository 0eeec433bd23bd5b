//go:build unix

package main

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Shell examples in README.md and docs/ (docs/reference is generated and not
// scanned) are run by TestDocExamples, so the manual cannot drift from the
// binary. The fenced block's info string decides:
//
//	```sh / ```bash / ```shell   every line is a command (a leading "$ " is dropped)
//	```console                   lines starting with "$ " are commands (with their
//	                             "\" continuation lines); other lines are sample
//	                             output and are not compared
//	```sh cloud, ```console cloud   needs a cloud account or a real service:
//	                             only syntax-checked with bash -n
//	```sh norun                  run elsewhere (the README's set-up commands run
//	                             in .ci/run), only syntax-checked here
//	anything else (yaml, json, text, ...) is not a shell example; a block with
//	no info string that looks like a command ("$ " or "gwcurl ") is an error.
//
// The runnable blocks of one file run in order in one bash (set -euo
// pipefail), so a gateway started with & in one block serves the next; every
// command must exit 0. "/tmp/" in an example is replaced by a private
// temporary directory. The environment is isolated as in the testscripts
// (HOME, XDG dirs, file-backed secrets, CI=true), and HTTP(S)_PROXY points at
// a closed loopback port so that nothing can reach beyond 127.0.0.1.

type docBlock struct {
	file  string
	line  int
	info  string
	lines []string
}

func (b docBlock) marker() string {
	f := strings.Fields(b.info)
	for _, m := range f[1:] {
		if m == "cloud" || m == "norun" {
			return m
		}
	}
	return ""
}

// commands returns the block's shell commands.
func (b docBlock) commands() string {
	var out []string
	console := strings.Fields(b.info)[0] == "console"
	cont := false
	for _, l := range b.lines {
		switch {
		case console && cont:
			out = append(out, l)
		case strings.HasPrefix(l, "$ "):
			out = append(out, l[2:])
		case console:
			continue // sample output
		default:
			out = append(out, l)
		}
		cont = strings.HasSuffix(l, `\`)
	}
	return strings.Join(out, "\n") + "\n"
}

func parseDocBlocks(t *testing.T, path, rel string) []docBlock {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []docBlock
	var cur *docBlock
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		trimmed := strings.TrimSpace(l)
		if strings.HasPrefix(trimmed, "```") {
			if cur != nil {
				blocks = append(blocks, *cur)
				cur = nil
				continue
			}
			cur = &docBlock{file: rel, line: n, info: strings.TrimSpace(strings.TrimPrefix(trimmed, "```"))}
			continue
		}
		if cur != nil {
			cur.lines = append(cur.lines, l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Errorf("%s:%d: unterminated code block", rel, cur.line)
	}
	return blocks
}

func isShell(info string) bool {
	f := strings.Fields(info)
	if len(f) == 0 {
		return false
	}
	switch f[0] {
	case "sh", "bash", "shell", "console":
		return true
	}
	return false
}

func TestDocExamples(t *testing.T) {
	bash := needTool(t, "bash")
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"README.md"}
	err = filepath.WalkDir(filepath.Join(root, "docs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "reference" {
			return filepath.SkipDir // generated from the command tree
		}
		if !d.IsDir() && strings.HasSuffix(p, ".md") {
			rel, _ := filepath.Rel(root, p)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// A PATH with gwcurl (this test binary, dispatched by testscript.Main on
	// its name), a scripted browser and a few common tools, and nothing else:
	// an example that calls aws, gcloud or the like must be marked cloud.
	bin := t.TempDir()
	for _, name := range []string{"gwcurl", "fake-browser", "cf-fake-browser"} {
		if err := os.Symlink(os.Args[0], filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tool := range []string{"sh", "cat", "head", "tail", "sleep", "echo", "printf", "mkdir", "rm", "kill",
		"grep", "sed", "tr", "cut", "wc", "env", "true", "false", "test", "ls", "cp", "mv", "touch", "base64", "curl", "jq"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			continue // an example using it fails with "command not found"
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	browser := "#!" + bash + "\ncase \"$1\" in *" + "/cdn-cgi/access/cli" + "*) exec cf-fake-browser \"$1\";; *) exec fake-browser \"$1\";; esac\n"
	if err := os.WriteFile(filepath.Join(bin, "doc-browser"), []byte(browser), 0o755); err != nil {
		t.Fatal(err)
	}

	ran := 0
	for _, rel := range files {
		var script strings.Builder
		for _, b := range parseDocBlocks(t, filepath.Join(root, rel), rel) {
			if !isShell(b.info) {
				if b.info == "" && len(b.lines) > 0 && (strings.HasPrefix(b.lines[0], "$ ") || strings.HasPrefix(b.lines[0], "gwcurl ")) {
					t.Errorf("%s:%d: a command in a block without an info string: mark it sh, console (add cloud or norun if it cannot run here) or text", b.file, b.line)
				}
				continue
			}
			cmds := b.commands()
			check := exec.Command(bash, "-n")
			check.Stdin = strings.NewReader(cmds)
			if out, err := check.CombinedOutput(); err != nil {
				t.Errorf("%s:%d: bash -n: %v\n%s", b.file, b.line, err, out)
				continue
			}
			if b.marker() != "" {
				continue
			}
			fmt.Fprintf(&script, "echo '### %s:%d' >&2\n%s", b.file, b.line, cmds)
			ran++
		}
		if script.Len() == 0 {
			continue
		}
		t.Run(strings.ReplaceAll(rel, "/", "_"), func(t *testing.T) {
			runDocScript(t, bash, bin, script.String())
		})
	}
	if ran == 0 {
		t.Fatal("no runnable examples found")
	}
}

func runDocScript(t *testing.T, bash, bin, body string) {
	work := t.TempDir()
	tmp := filepath.Join(work, "tmp") + "/"
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	body = strings.ReplaceAll(body, "/tmp/", tmp)
	script := "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + body
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, "-c", script)
	cmd.Dir = work
	cmd.Env = []string{
		"PATH=" + bin,
		"GWCURL_BROWSER=doc-browser",
		"HOME=" + work,
		"TMPDIR=" + tmp,
		"XDG_CONFIG_HOME=" + filepath.Join(work, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(work, ".cache"),
		"GWCURL_SECRETS_DIR=" + filepath.Join(work, ".secrets"),
		"AWS_CONFIG_FILE=" + filepath.Join(work, ".aws/config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(work, ".aws/credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"CI=true",
		"LANG=C.UTF-8",
		// Nothing leaves loopback: any other host goes to a closed port.
		"HTTP_PROXY=http://127.0.0.1:9", "HTTPS_PROXY=http://127.0.0.1:9",
		"http_proxy=http://127.0.0.1:9", "https_proxy=http://127.0.0.1:9",
		"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost",
	}
	// Its own process group, so background jobs the examples start end with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) //nolint:errcheck // the group may be gone
	}
	if err != nil {
		t.Fatalf("examples failed: %v (the last ### line names the block)\n%s", err, out)
	}
}
