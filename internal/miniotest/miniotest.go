// Package miniotest starts MinIO, a strict S3 SigV4 verifier, on loopback
// for tests (the S3 origin_auth route and the client's streaming uploads).
// MinIO is not Debian-packaged: .ci/run installs it with `go install
// github.com/minio/minio@VERSION`. Under CI=true a missing MinIO fails the
// test; elsewhere the test is skipped with the install command.
package miniotest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Version is the MinIO .ci/run installs.
const Version = "v0.0.0-20260212201848-7aac2a2c5b7c"

// Binary finds the minio binary on PATH, in GOBIN or in GOPATH/bin.
func Binary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("minio"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		home, _ := os.UserHomeDir()
		gopath = filepath.Join(home, "go")
	}
	for _, dir := range []string{os.Getenv("GOBIN"), filepath.Join(strings.Split(gopath, string(os.PathListSeparator))[0], "bin")} {
		p := filepath.Join(dir, "minio")
		if fi, err := os.Stat(p); dir != "" && err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("minio is not installed (CI=true): .ci/run installs it with go install github.com/minio/minio@" + Version)
	}
	t.Skip("minio is not installed: go install github.com/minio/minio@" + Version + " to run this test")
	return ""
}

// Start runs MinIO with the given root credentials on loopback until the
// test ends, and returns its URL once it says it is ready.
func Start(t testing.TB, user, secret string) string {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	port, console := freePort(t), freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "server", "--quiet", "--address", fmt.Sprintf("127.0.0.1:%d", port),
		"--console-address", fmt.Sprintf("127.0.0.1:%d", console), filepath.Join(dir, "data"))
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+user, "MINIO_ROOT_PASSWORD="+secret,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "HOME="+dir)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start minio: %v", err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() }) //nolint:errcheck // killed
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("minio did not come up: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
