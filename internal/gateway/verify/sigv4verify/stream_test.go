package sigv4verify_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/awsv4"
	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/sigv4verify"
	"github.com/gwcurl/gwcurl/internal/profiles"
	"github.com/gwcurl/gwcurl/internal/sign"
)

// flipAt flips one bit of the byte at offset off of the body it wraps, as a
// corrupting proxy would.
type flipAt struct {
	r   io.ReadCloser
	off int64
	pos int64
}

func (f *flipAt) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if i := f.off - f.pos; i >= 0 && i < int64(n) {
		p[i] ^= 1
	}
	f.pos += int64(n)
	return n, err
}

func (f *flipAt) Close() error { return f.r.Close() }

type tamper struct{ off int64 }

func (t tamper) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.off >= 0 {
		r.Body = &flipAt{r: r.Body, off: t.off}
		r.GetBody = nil
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestStreamingUploadVerified: gwcurl's own streaming signer against the
// verifier in front of an origin. Intact, the origin receives the decoded
// body; a flipped data byte or chunk-signature byte is refused with 403 and
// the origin receives nothing.
func TestStreamingUploadVerified(t *testing.T) {
	v := newVerifier(t, sigv4verify.Options{Service: "s3"})
	var mu sync.Mutex
	var originGot []byte
	var originHdr http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := v.Check(r); err != nil {
			var rj *auth.Rejection
			if !errors.As(err, &rj) {
				t.Errorf("not a rejection: %v", err)
			}
			http.Error(w, rj.Reason, rj.Status)
			return
		}
		b, err := io.ReadAll(r.Body) // the origin
		if err != nil {
			t.Errorf("origin read: %v", err)
		}
		mu.Lock()
		originGot, originHdr = b, r.Header.Clone()
		mu.Unlock()
	}))
	defer srv.Close()

	data := bytes.Repeat([]byte("0123456789abcdef"), (3<<20)/16)
	data = append(data, "tail of the body"...)
	cases := []struct {
		name   string
		off    int64 // encoded offset to corrupt; -1 none
		status int
		reason string
	}{
		{"intact", -1, 200, ""},
		{"data byte in chunk 2", int64(awsv4.DefaultChunkSize) + 200, 403, "chunk signature mismatch"},
		{"chunk signature", 30, 403, "chunk signature mismatch"},
		// The final (empty) chunk ends "0;chunk-signature=<64 hex>\r\n\r\n":
		// a bit of its signature, 10 bytes before the end.
		{"last chunk", awsv4.ChunkedLength(int64(len(data)), awsv4.DefaultChunkSize) - 10, 403, "streaming upload refused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mu.Lock()
			originGot, originHdr = nil, nil
			mu.Unlock()
			s, err := sign.New(context.Background(), profiles.Auth{Kind: "sigv4", Service: "s3", Region: "us-east-1",
				AccessKeyID: userKey.AccessKeyID, SecretAccessKey: "env:SK", Payload: "streaming"}, srv.URL, sign.Deps{
				HTTPClient: http.DefaultClient, Now: func() time.Time { return t0 }, Stderr: io.Discard,
				Getenv:  func(k string) string { return map[string]string{"SK": userKey.SecretAccessKey}[k] },
				Secrets: &profiles.Resolver{Getenv: func(k string) string { return map[string]string{"SK": userKey.SecretAccessKey}[k] }},
			})
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest("PUT", srv.URL+"/bucket/key", bytes.NewReader(data))
			resp, err := (&http.Client{Transport: &sign.Transport{Signer: s, Base: tamper{c.off}}}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status || !strings.Contains(string(body), c.reason) {
				t.Fatalf("status %d %q, want %d %q", resp.StatusCode, body, c.status, c.reason)
			}
			mu.Lock()
			defer mu.Unlock()
			if c.status != 200 {
				if originGot != nil {
					t.Fatalf("the origin received %d bytes of a refused upload", len(originGot))
				}
				return
			}
			if sha256.Sum256(originGot) != sha256.Sum256(data) {
				t.Fatalf("origin got %d bytes, want the %d decoded bytes", len(originGot), len(data))
			}
			if ce := originHdr.Get("Content-Encoding"); ce != "" {
				t.Errorf("origin sees Content-Encoding %q", ce)
			}
			if h := originHdr.Get("X-Amz-Content-Sha256"); h != fmt.Sprintf("%x", sha256.Sum256(data)) {
				t.Errorf("origin sees x-amz-content-sha256 %q", h)
			}
		})
	}
}
