package gateway_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/gwcurl/gwcurl/internal/awsv4"
	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
)

// TestLoadEchoIntegrity sends 2,000 requests, 32 at a time, through
// builtin:echo on loopback and checks that every body's sha256 comes back
// unchanged. Bounded: it takes a second or two on a 2-core machine.
func TestLoadEchoIntegrity(t *testing.T) {
	if testing.Short() {
		t.Skip("load test skipped with -short")
	}
	s := gatewaytest.StartDemo(t, gateway.Options{Log: io.Discard})
	const total, workers = 2000, 32
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers},
	}
	defer client.CloseIdleConnections()

	var next, failures atomic.Int64
	var firstErr sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for next.Add(1) <= total {
				body := make([]byte, rng.IntN(16<<10))
				for i := range body {
					body[i] = byte(rng.UintN(256))
				}
				sum := sha256.Sum256(body)
				if err := echoOnce(client, s.URL+"/public/echo", body, hex.EncodeToString(sum[:])); err != nil {
					failures.Add(1)
					firstErr.Do(func() { t.Errorf("first failure: %v", err) })
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d of %d requests failed", n, total)
	}
	t.Logf("%d requests, %d concurrent, in %s (%.0f req/s), zero errors", total, workers, elapsed.Round(time.Millisecond), total/elapsed.Seconds())
}

func echoOnce(c *http.Client, url string, body []byte, wantSum string) error {
	resp, err := c.Post(url, "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	var e struct {
		BodySHA256    string `json:"body_sha256"`
		ContentLength int    `json:"content_length"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		return err
	}
	if e.BodySHA256 != wantSum || e.ContentLength != len(body) {
		return fmt.Errorf("sha256 %s (%d bytes), want %s (%d bytes)", e.BodySHA256, e.ContentLength, wantSum, len(body))
	}
	return nil
}

// BenchmarkChain measures a request through the whole handler chain
// in-process (no network), on the embedded demo: /public/echo (no auth),
// /admin/echo with a CF Access service token (the session's application
// token comes from the cache) and /aws/echo with a SigV4 signature
// (verified every time; the SDK signs once, the headers are replayed).
func BenchmarkChain(b *testing.B) {
	cfg, err := gateway.DemoConfig("")
	if err != nil {
		b.Fatal(err)
	}
	g, err := gateway.New(cfg, gateway.Options{BaseURL: "http://127.0.0.1:1", Log: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	signed, _ := http.NewRequest("GET", "http://127.0.0.1:1/aws/echo?x=1", nil)
	creds := aws.Credentials{AccessKeyID: "AKIAGWCURLDEMO000001", SecretAccessKey: "gwcurlDemoSecretKey000000000000000000001"}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, signed, awsv4.EmptySHA256, "lambda", "us-east-1", time.Now()); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		header     http.Header
	}{
		{"public", "/public/echo?x=1", nil},
		{"admin-cf-service-token", "/admin/echo?x=1", http.Header{"Cf-Access-Client-Id": {"demo.access"}, "Cf-Access-Client-Secret": {"demo-cf-secret"}}},
		{"aws-sigv4", "/aws/echo?x=1", signed.Header},
	} {
		b.Run(tc.name, func(b *testing.B) {
			serve := func() {
				req, _ := http.NewRequest("GET", "http://127.0.0.1:1"+tc.path, nil)
				req.RemoteAddr = "127.0.0.1:5555"
				for k, v := range tc.header {
					req.Header[k] = v
				}
				w := &discardWriter{h: http.Header{}}
				g.ServeHTTP(w, req)
				if w.status != 200 {
					b.Fatalf("status %d", w.status)
				}
			}
			serve() // the first CF request mints the session's token
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					serve()
				}
			})
		})
	}
}

type discardWriter struct {
	h      http.Header
	status int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(s int)           { d.status = s }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
