package gateway_test

import (
	"bytes"
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

// BenchmarkPublicEcho measures the handler in-process (no network).
func BenchmarkPublicEcho(b *testing.B) {
	cfg, err := gateway.DemoConfig("")
	if err != nil {
		b.Fatal(err)
	}
	g, err := gateway.New(cfg, gateway.Options{BaseURL: "http://127.0.0.1:1", Log: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", "http://127.0.0.1:1/public/echo?x=1", nil)
			req.RemoteAddr = "127.0.0.1:5555"
			w := &discardWriter{h: http.Header{}}
			g.ServeHTTP(w, req)
			if w.status != 200 {
				b.Fatalf("status %d", w.status)
			}
		}
	})
}

type discardWriter struct {
	h      http.Header
	status int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(s int)           { d.status = s }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
