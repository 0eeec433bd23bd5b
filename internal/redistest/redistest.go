// Package redistest starts a real redis-server (Debian's package, which
// .ci/run installs) on loopback for tests of the gateway's shared store.
// Under CI=true a missing redis-server fails the test; elsewhere the test
// is skipped with the install command.
package redistest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Missing is the message for a machine without redis-server.
const Missing = "redis-server is not installed (apt-get install redis-server)"

// Binary returns the path of redis-server, or "" when it is not
// installed.
func Binary() string {
	p, err := exec.LookPath("redis-server")
	if err != nil {
		return ""
	}
	return p
}

// Start runs redis-server without persistence on a free 127.0.0.1 port,
// its files in dir, and returns its URL (redis://127.0.0.1:PORT/0) once it
// answers PING, and a function that stops it.
func Start(dir string) (string, func(), error) {
	bin := Binary()
	if bin == "" {
		return "", nil, errors.New(Missing)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--protected-mode", "yes")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(15 * time.Second); ; {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_, _ = c.Write([]byte("PING\r\n"))
			buf := make([]byte, 16)
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			n, _ := c.Read(buf)
			c.Close()
			if strings.HasPrefix(string(buf[:n]), "+PONG") {
				break
			}
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("redis-server did not answer on %s: %s", addr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "redis://" + addr + "/0", stop, nil
}

// Require skips the test without redis-server, and fails it instead
// under CI=true.
func Require(t testing.TB) {
	t.Helper()
	if Binary() == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(Missing + " (CI=true): .ci/run installs Debian's redis-server")
		}
		t.Skip(Missing)
	}
}

// StartT is Start for a test: it stops the server when the test ends,
// skips without redis-server, and fails instead under CI=true.
func StartT(t testing.TB) string {
	t.Helper()
	Require(t)
	u, stop, err := Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return u
}
