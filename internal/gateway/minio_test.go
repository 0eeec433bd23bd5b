package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The acceptance test of origin_auth: a route signing with SigV4 (service
// s3) in front of a real MinIO, which verifies SigV4 and the payload hash
// strictly. Plain curl, without credentials, PUTs and GETs objects through
// the gateway binary; a 100 MiB body crosses it in bounded memory.

const (
	minioUser   = "gwcurlminio"
	minioSecret = "gwcurl-minio-secret-0001"
)

// minioBinary finds MinIO (not Debian-packaged: `go install
// github.com/minio/minio@...`, see .ci/run). Under CI=true a missing MinIO
// fails the test.
func minioBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("minio"); err == nil {
		return p
	}
	for _, dir := range []string{os.Getenv("GOBIN"), filepath.Join(goPath(), "bin")} {
		if p := filepath.Join(dir, "minio"); dir != "" && isExec(p) {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("minio is not installed (CI=true): .ci/run installs it with go install github.com/minio/minio@...")
	}
	t.Skip("minio is not installed: go install github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c to run this test")
	return ""
}

func goPath() string {
	if p := os.Getenv("GOPATH"); p != "" {
		return strings.Split(p, string(os.PathListSeparator))[0]
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, "go")
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startMinIO runs MinIO on loopback until the test ends and returns its URL.
func startMinIO(t *testing.T, bin string) string {
	t.Helper()
	dir := t.TempDir()
	port, console := freePort(t), freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "server", "--quiet", "--address", fmt.Sprintf("127.0.0.1:%d", port),
		"--console-address", fmt.Sprintf("127.0.0.1:%d", console), filepath.Join(dir, "data"))
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+minioUser, "MINIO_ROOT_PASSWORD="+minioSecret,
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
		resp, err := http.Get(url + "/minio/health/live")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return url
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("minio did not come up: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// buildGwcurl builds the binary under test.
func buildGwcurl(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gwcurl")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/gwcurl/gwcurl/cmd/gwcurl")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startGatewayProcess runs `gwcurl gateway --config cfg` and returns its
// base URL and PID.
func startGatewayProcess(t *testing.T, bin, cfg string, env ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, "gateway", "--quiet", "--config", cfg)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }) //nolint:errcheck // stopping
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Wait() //nolint:errcheck // reporting stderr
		t.Fatalf("gateway did not start: %v\n%s", err, stderr.String())
	}
	go io.Copy(io.Discard, out) //nolint:errcheck // drain
	return strings.TrimSpace(line), cmd.Process.Pid
}

// peakRSS is the process's high-water resident set size (Linux).
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

func curl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("curl", append([]string{"-sS"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestS3ThroughSigningGatewayWithMinIO(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts MinIO and moves 100 MiB")
	}
	bin := minioBinary(t)
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed (the acceptance is plain curl)")
	}
	minio := startMinIO(t, bin)
	gw := buildGwcurl(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(cfg, []byte(`routes:
  - prefix: /s3
    auth: {kind: none}
    strip_prefix: true
    body_limit: 200MiB
    upstream: `+minio+`
    origin_auth:
      kind: sigv4
      service: s3
      region: us-east-1
      access_key_id: `+minioUser+`
      secret_access_key: env:GWTEST_MINIO_SECRET
`), 0o600); err != nil {
		t.Fatal(err)
	}
	base, pid := startGatewayProcess(t, gw, cfg, "GWTEST_MINIO_SECRET="+minioSecret)

	// Without the gateway, MinIO refuses the same anonymous request.
	if code := curl(t, "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", minio+"/direct"); code != "403" {
		t.Fatalf("MinIO answered %s to an unsigned request: it must verify", code)
	}
	if code := curl(t, "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", base+"/s3/bucket"); code != "200" {
		t.Fatalf("create bucket through the gateway: %s", code)
	}
	small := filepath.Join(dir, "small.txt")
	os.WriteFile(small, []byte("hello through the edge\n"), 0o600) //nolint:errcheck // read back below
	if code := curl(t, "-o", "/dev/null", "-w", "%{http_code}", "-T", small, base+"/s3/bucket/dir/hello%20world.txt"); code != "200" {
		t.Fatalf("PUT small object: %s", code)
	}
	if got := curl(t, base+"/s3/bucket/dir/hello%20world.txt"); got != "hello through the edge\n" {
		t.Fatalf("GET small object: %q", got)
	}

	// 100 MiB of random bytes: through a spool file, hashed, signed, sent.
	big := filepath.Join(dir, "big.bin")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), rand.Reader, 100<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	want := hex.EncodeToString(h.Sum(nil))
	before := peakRSS(t, pid)
	if code := curl(t, "-o", "/dev/null", "-w", "%{http_code}", "-T", big, base+"/s3/bucket/big.bin"); code != "200" {
		t.Fatalf("PUT 100 MiB: %s", code)
	}
	back := filepath.Join(dir, "back.bin")
	curl(t, "-o", back, base+"/s3/bucket/big.bin")
	bf, err := os.Open(back)
	if err != nil {
		t.Fatal(err)
	}
	h2 := sha256.New()
	n, _ := io.Copy(h2, bf)
	bf.Close()
	if got := hex.EncodeToString(h2.Sum(nil)); got != want || n != 100<<20 {
		t.Fatalf("100 MiB round trip: %d bytes, sha256 %s, want %s", n, got, want)
	}
	peak := peakRSS(t, pid)
	t.Logf("gateway peak RSS: %d MiB before the 100 MiB PUT+GET, %d MiB after", before>>20, peak>>20)
	if peak > 64<<20 {
		t.Errorf("gateway peak RSS %d MiB for a 100 MiB body: not bounded", peak>>20)
	}
}
