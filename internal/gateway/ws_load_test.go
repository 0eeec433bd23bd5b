package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
)

// TestLoadWebSocket opens 200 concurrent SigV4-signed connections to the
// demo's /ws (builtin:ws-echo) and exchanges 50 messages on each (random
// text and binary, up to 4 KiB), checking every echo byte for byte; then it
// checks that the goroutines of the gateway and its connections are gone.
// Skipped with -short. GWCURL_WS_LOAD=CONNS,MESSAGES changes the scale
// (docs/testing.md).
func TestLoadWebSocket(t *testing.T) {
	if testing.Short() {
		t.Skip("load test skipped with -short")
	}
	conns, msgs := 200, 50
	if v := os.Getenv("GWCURL_WS_LOAD"); v != "" {
		if _, err := fmt.Sscanf(v, "%d,%d", &conns, &msgs); err != nil || conns < 1 || msgs < 1 {
			t.Fatalf("GWCURL_WS_LOAD=%q: want CONNS,MESSAGES", v)
		}
	}
	before := runtime.NumGoroutine()
	gw := gatewaytest.StartDemo(t, gateway.Options{Log: nil})
	u := gw.URL + "/ws/load"

	var failures, exchanged, bytesEchoed atomic.Int64
	var firstErr sync.Once
	fail := func(err error) {
		failures.Add(1)
		firstErr.Do(func() { t.Errorf("first failure: %v", err) })
	}
	var peak atomic.Int64
	var ready, wg sync.WaitGroup
	ready.Add(conns)
	start := time.Now()
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c, _, err := websocket.Dial(ctx, wsURL(u), &websocket.DialOptions{HTTPHeader: sigv4Header(t, http.MethodGet, u, "")})
			ready.Done()
			if err != nil {
				fail(fmt.Errorf("conn %d: dial: %w", i, err))
				return
			}
			defer c.CloseNow()                        //nolint:errcheck
			if _, _, err := c.Read(ctx); err != nil { // the announcement
				fail(fmt.Errorf("conn %d: announcement: %w", i, err))
				return
			}
			ready.Wait() // all connections open at once
			if n := int64(runtime.NumGoroutine()); n > peak.Load() {
				peak.Store(n)
			}
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			for m := range msgs {
				typ := websocket.MessageText
				body := []byte("conn " + strconv.Itoa(i) + " message " + strconv.Itoa(m) + " ")
				extra := make([]byte, rng.IntN(4<<10))
				if m%2 == 1 {
					typ = websocket.MessageBinary
					for k := range extra {
						extra[k] = byte(rng.UintN(256))
					}
				} else {
					for k := range extra {
						extra[k] = 'a' + byte(rng.UintN(26))
					}
				}
				body = append(body, extra...)
				if err := c.Write(ctx, typ, body); err != nil {
					fail(fmt.Errorf("conn %d message %d: write: %w", i, m, err))
					return
				}
				gotTyp, got, err := c.Read(ctx)
				if err != nil {
					fail(fmt.Errorf("conn %d message %d: read: %w", i, m, err))
					return
				}
				if gotTyp != typ || !bytes.Equal(got, body) {
					fail(fmt.Errorf("conn %d message %d: echo differs (%d bytes, want %d)", i, m, len(got), len(body)))
					return
				}
				exchanged.Add(1)
				bytesEchoed.Add(int64(len(body)))
			}
			if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
				fail(fmt.Errorf("conn %d: close: %w", i, err))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d of %d connections failed", n, conns)
	}
	if got, want := exchanged.Load(), int64(conns*msgs); got != want {
		t.Fatalf("%d messages echoed intact, want %d", got, want)
	}

	// Every connection's goroutines end with it: the gateway's hub is empty
	// and the goroutine count returns to where it was (the test server's
	// own goroutines end with Close).
	gw.Close()
	gw.Gateway.Close()
	deadline := time.Now().Add(10 * time.Second)
	after := runtime.NumGoroutine()
	for after > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		after = runtime.NumGoroutine()
	}
	t.Logf("%d connections × %d messages: %d echoed intact (%.1f MiB) in %s (%.0f messages/s); goroutines %d before, %d peak, %d after",
		conns, msgs, exchanged.Load(), float64(bytesEchoed.Load())/(1<<20), elapsed.Round(time.Millisecond),
		float64(exchanged.Load())/elapsed.Seconds(), before, peak.Load(), after)
	if after > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines grew from %d to %d after every connection closed:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}
