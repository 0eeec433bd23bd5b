package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/miniotest"
)

// Acceptance of S3 streaming signing (STREAMING-AWS4-HMAC-SHA256-PAYLOAD)
// against MinIO, which verifies the seed signature, every chunk signature
// and the final chunk strictly. The uploads go through the CLI's own code
// path (Run), from a file and from stdin, above the automatic threshold.

const (
	s3User   = "gwcurlminio"
	s3Secret = "gwcurl-minio-secret-0001"
)

// s3CLI runs gwcurl with MinIO's credentials, stdin as given.
func s3CLI(t *testing.T, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	dir := t.TempDir()
	secret, conf := filepath.Join(dir, "secret"), filepath.Join(dir, "config.yaml")
	os.WriteFile(secret, []byte(s3Secret), 0o600) //nolint:errcheck // read back below
	if err := os.WriteFile(conf, []byte("profiles:\n  minio:\n    auth:\n      kind: sigv4\n      access_key_id: "+s3User+
		"\n      secret_access_key: file:"+secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, ios, output := testFactory(t, map[string]string{"GWCURL_CONFIG": conf})
	ios.In = bytes.NewReader(stdin)
	args = append([]string{"-p", "minio", "--service", "s3", "--region", "us-east-1"}, args...)
	code := Run(context.Background(), f, args)
	out, errOut := output()
	return code, out, errOut
}

func TestS3StreamingUploadMinIO(t *testing.T) {
	base := miniotest.Start(t, s3User, s3Secret)
	// MinIO answers 503 for a moment after it says it is ready.
	for i := 0; ; i++ {
		code, _, stderr := s3CLI(t, nil, "-X", "PUT", "--fail", base+"/stream")
		if code == 0 {
			break
		}
		if i == 50 || !strings.Contains(stderr, "503") {
			t.Fatalf("create bucket: exit %d\n%s", code, stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
	data := make([]byte, 20<<20+12345) // over the 8 MiB threshold, not a whole number of chunks
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(data)
	file := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	uploads := []struct {
		name  string
		stdin []byte
		args  []string
	}{
		{"upload-file", nil, []string{"-T", file}},
		{"data-binary", nil, []string{"-X", "PUT", "--data-binary", "@" + file}},
		{"stdin", data, []string{"-T", "-"}},
	}
	for _, u := range uploads {
		t.Run(u.name, func(t *testing.T) {
			key := base + "/stream/" + u.name
			args := append([]string{"-v", "--fail"}, u.args...)
			code, _, stderr := s3CLI(t, u.stdin, append(args, key)...)
			if code != 0 {
				t.Fatalf("upload: exit %d\n%s", code, lastLines(stderr, 30))
			}
			if !strings.Contains(stderr, "sigv4: streaming payload (STREAMING-AWS4-HMAC-SHA256-PAYLOAD)") {
				t.Fatalf("the upload was not stream-signed:\n%s", lastLines(stderr, 30))
			}
			if strings.Contains(stderr, "payload sha256") {
				t.Fatalf("the body was hashed before sending (two passes):\n%s", lastLines(stderr, 30))
			}
			out := filepath.Join(t.TempDir(), "back")
			if code, _, stderr := s3CLI(t, nil, "--fail", "-o", out, key); code != 0 {
				t.Fatalf("download: exit %d\n%s", code, stderr)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if sha256.Sum256(got) != want {
				t.Fatalf("object differs: %d bytes back, %d sent", len(got), len(data))
			}
		})
	}
	// --checksum: unsigned aws-chunked with an x-amz-checksum-* trailer, which MinIO checks.
	for _, alg := range []string{"crc32", "sha256"} {
		t.Run("checksum-"+alg, func(t *testing.T) {
			key := base + "/stream/checksum-" + alg
			code, _, stderr := s3CLI(t, nil, "-v", "--fail", "--checksum", alg, "-T", file, key)
			if code != 0 || !strings.Contains(stderr, "STREAMING-UNSIGNED-PAYLOAD-TRAILER") || !strings.Contains(stderr, "x-amz-checksum-"+alg+" trailer") {
				t.Fatalf("upload: exit %d\n%s", code, lastLines(stderr, 30))
			}
			out := filepath.Join(t.TempDir(), "back")
			if code, _, stderr := s3CLI(t, nil, "--fail", "-o", out, key); code != 0 {
				t.Fatalf("download: exit %d\n%s", code, stderr)
			}
			if got, _ := os.ReadFile(out); sha256.Sum256(got) != want {
				t.Fatalf("object differs: %d bytes back", len(got))
			}
		})
	}
	// Below the threshold the body is hashed whole; --payload streaming forces chunks.
	small := filepath.Join(t.TempDir(), "small")
	if err := os.WriteFile(small, data[:100<<10], 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := s3CLI(t, nil, "-v", "--fail", "-T", small, base+"/stream/small")
	if code != 0 || !strings.Contains(stderr, "payload sha256") || strings.Contains(stderr, "streaming payload") {
		t.Fatalf("small upload: exit %d, want a hashed payload:\n%s", code, lastLines(stderr, 20))
	}
	code, _, stderr = s3CLI(t, nil, "-v", "--fail", "--payload", "streaming", "-T", small, base+"/stream/small")
	if code != 0 || !strings.Contains(stderr, "streaming payload") {
		t.Fatalf("--payload streaming: exit %d:\n%s", code, lastLines(stderr, 20))
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// TestPayloadFlagRefusedBeforeSending: a bad --payload is one usage error,
// and no request reaches the server.
func TestPayloadFlagRefusedBeforeSending(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits++ }))
	defer srv.Close()
	for _, args := range [][]string{
		{"--payload", "chunked", "-d", "x", srv.URL},
		{"--payload", "streaming", "--unsigned-payload", "-d", "x", srv.URL},
		{"--payload", "streaming", "--service", "lambda", "-d", "x", srv.URL},
		{"--checksum", "md5", "-d", "x", srv.URL},
		{"--checksum", "crc32", "--payload", "hash", "-d", "x", srv.URL},
		{"--checksum", "crc32", "--service", "lambda", "-d", "x", srv.URL},
	} {
		code, _, stderr := s3CLI(t, nil, args...)
		if code == 0 || !(strings.Contains(stderr, "payload") || strings.Contains(stderr, "checksum")) {
			t.Errorf("%v: exit %d\n%s", args, code, stderr)
		}
	}
	if hits != 0 {
		t.Fatalf("%d requests were sent", hits)
	}
}
