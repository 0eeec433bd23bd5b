package gateway_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gwcurl/gwcurl/internal/miniotest"
)

// The acceptance test of origin_auth: a route signing with SigV4 (service
// s3) in front of a real MinIO, which verifies SigV4 and the payload hash
// strictly. Plain curl, without credentials, PUTs and GETs objects through
// the gateway binary; a 100 MiB body crosses it in bounded memory.

const (
	minioUser   = "gwcurlminio"
	minioSecret = "gwcurl-minio-secret-0001"
)

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
		if os.Getenv("CI") == "true" {
			t.Fatalf("the memory bound needs /proc (CI runs on Linux): %v", err)
		}
		t.Skipf("no /proc, so the memory bound cannot be read: %v", err)
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
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed (the acceptance is plain curl)")
	}
	minio := miniotest.Start(t, minioUser, minioSecret)
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
