//go:build linux

package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
	"github.com/gwcurl/gwcurl/internal/testorigin"
)

// openPTY allocates a pseudo-terminal pair.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pty on this machine: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

// runOnPTY runs gwcurl (this test binary re-executed) with stdout and stderr
// on a real terminal and returns everything the terminal received.
func runOnPTY(t *testing.T, env []string, args ...string) string {
	t.Helper()
	m, s := openPTY(t)
	defer m.Close()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), append([]string{"GWCURL_RUN_MAIN=1", "TERM=xterm-256color", "NO_COLOR=", "CLICOLOR="}, env...)...)
	cmd.Stdout, cmd.Stderr = s, s
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&out, m); close(done) }() //nolint:errcheck // EIO at the end is expected
	if err := cmd.Wait(); err != nil {
		t.Fatalf("gwcurl %v: %v\n%s", args, err, out.String())
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	return out.String()
}

func TestTerminalOutput(t *testing.T) {
	origin := httptest.NewServer(testorigin.Handler())
	defer origin.Close()

	t.Run("coloured pretty JSON on a terminal", func(t *testing.T) {
		out := runOnPTY(t, nil, origin.URL+"/json")
		if !strings.Contains(out, "\x1b[") {
			t.Fatalf("no ANSI styling on a terminal:\n%q", out)
		}
		if !strings.Contains(out, "\n  ") {
			t.Fatalf("JSON not pretty-printed:\n%q", out)
		}
		if !strings.Contains(out, "HTTP/1.1 200 OK") {
			t.Fatalf("no status line on the terminal's stderr:\n%q", out)
		}
	})
	for _, env := range []string{"NO_COLOR=1", "CLICOLOR=0", "TERM=dumb"} {
		t.Run(env+" turns styling off", func(t *testing.T) {
			out := runOnPTY(t, []string{env}, origin.URL+"/json")
			if strings.Contains(out, "\x1b") {
				t.Fatalf("escape byte with %s:\n%q", env, out)
			}
			if !strings.Contains(out, `"name": "widget"`) {
				t.Fatalf("JSON not pretty-printed with %s:\n%q", env, out)
			}
		})
	}
	t.Run("binary is not dumped to a terminal", func(t *testing.T) {
		out := runOnPTY(t, nil, origin.URL+"/bytes?n=5000")
		if !strings.Contains(out, "binary output (5000 bytes) not shown") {
			t.Fatalf("binary not refused:\n%q", out)
		}
	})
	t.Run("server control characters are neutralised", func(t *testing.T) {
		out := runOnPTY(t, []string{"NO_COLOR=1"}, origin.URL+"/text?s=%1B]0%3Bpwned%07hello")
		if strings.Contains(out, "\x1b]0;pwned") {
			t.Fatalf("escape sequence from the server reached the terminal:\n%q", out)
		}
		if !strings.Contains(out, "^[]0;pwned^Ghello") {
			t.Fatalf("control characters not shown visibly:\n%q", out)
		}
	})
}

func TestProgressOnTerminal(t *testing.T) {
	origin := httptest.NewServer(testorigin.Handler())
	defer origin.Close()
	dir := t.TempDir()
	out := runOnPTY(t, []string{"NO_COLOR=1"}, "-o", dir+"/big.bin", origin.URL+"/bytes?n=67108864")
	if !strings.Contains(out, "↓ download") || !strings.Contains(out, "64.0 MiB") {
		t.Fatalf("no download progress on the terminal:\n%q", out)
	}
	fi, err := os.Stat(dir + "/big.bin")
	if err != nil || fi.Size() != 64<<20 {
		t.Fatalf("download: %v %v", fi, err)
	}
}

// TestUserPasswordPrompt: -u USER without a password asks for it on the
// terminal, with echo off, and sends basic auth, as curl does.
func TestUserPasswordPrompt(t *testing.T) {
	origin := httptest.NewServer(testorigin.Handler())
	defer origin.Close()
	m, s := openPTY(t)
	defer m.Close()
	outFile := t.TempDir() + "/echo.json"
	cmd := exec.Command(os.Args[0], "-s", "-o", outFile, "-w", "%{http_code}", "-u", "ann", origin.URL+"/echo")
	var stdout bytes.Buffer
	cmd.Env = append(os.Environ(), "GWCURL_RUN_MAIN=1", "TERM=xterm-256color")
	cmd.Stdin, cmd.Stderr, cmd.Stdout = s, s, &stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	var (
		mu     sync.Mutex
		screen bytes.Buffer
	)
	shown := func() string { mu.Lock(); defer mu.Unlock(); return screen.String() }
	prompted := make(chan struct{})
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 256)
		for {
			n, err := m.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			now := screen.String()
			mu.Unlock()
			if strings.Contains(now, "Enter host password for user 'ann':") {
				select {
				case <-prompted:
				default:
					close(prompted)
				}
			}
			if err != nil {
				return
			}
		}
	}()
	select {
	case <-prompted:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill() //nolint:errcheck
		t.Fatalf("no password prompt; terminal showed %q", shown())
	}
	// Type only once gwcurl has turned echo off, as a person would after
	// the prompt (the master's termios are the terminal's).
	for deadline := time.Now().Add(10 * time.Second); ; {
		tio, err := unix.IoctlGetTermios(int(m.Fd()), unix.TCGETS)
		if err == nil && tio.Lflag&unix.ECHO == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("echo still on 10 s after the prompt (%v)", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	io.WriteString(m, "pty-secret\r") //nolint:errcheck
	if err := cmd.Wait(); err != nil {
		t.Fatalf("gwcurl: %v; terminal %q", err, shown())
	}
	if stdout.String() != "200" {
		t.Fatalf("-w printed %q", stdout.String())
	}
	if strings.Contains(shown(), "pty-secret") {
		t.Error("the password was echoed to the terminal")
	}
	echo, _ := os.ReadFile(outFile)
	if want := "Basic YW5uOnB0eS1zZWNyZXQ="; !strings.Contains(string(echo), want) { // ann:pty-secret
		t.Errorf("the origin did not get %s: %s", want, echo)
	}
}

// TestWSTerminalOutput: on a terminal gwcurl ws pretty-prints JSON messages
// and neutralises control characters a server sends.
func TestWSTerminalOutput(t *testing.T) {
	gw := gatewaytest.StartYAML(t, "routes:\n  - {prefix: /e, auth: none, upstream: builtin:ws-echo}\n", gateway.Options{})
	u := "ws" + strings.TrimPrefix(gw.URL, "http") + "/e"
	out := runOnPTY(t, []string{"NO_COLOR=1"}, "ws", u, "--send", `{"a":[1,2]}`, "--send", "\x1b]0;pwned\x07hi", "--count", "2")
	if !strings.Contains(out, "{\r\n  \"a\": [") {
		t.Fatalf("JSON message not pretty-printed:\n%q", out)
	}
	if strings.Contains(out, "\x1b]0;pwned") || !strings.Contains(out, "^[]0;pwned^Ghi") {
		t.Fatalf("control characters reached the terminal:\n%q", out)
	}
}
