//go:build soak

package gateway_test

// The soak: GWCURL_SOAK_N requests (default 50000), GWCURL_SOAK_C at once
// (default 64), of mixed auth kinds against the demo gateway on loopback.
//
//	go test -tags soak -run TestSoak -v -timeout 30m ./internal/gateway/
//
// It fails on any unexpected status or altered body, and when the heap or
// the goroutine count after the run is not back near its level after the
// warm-up.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/googleverify"
)

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func TestSoak(t *testing.T) {
	total, conc := envInt("GWCURL_SOAK_N", 50000), envInt("GWCURL_SOAK_C", 64)
	s := gatewaytest.StartDemo(t, gateway.Options{})
	gs, err := googleverify.StateFor(s.Gateway.Env())
	if err != nil {
		t.Fatal(err)
	}
	gtok, err := gs.Sign(map[string]any{"aud": s.URL + "/run", "sub": "1", "email": "x@example.com", "email_verified": true})
	if err != nil {
		t.Fatal(err)
	}
	stsProof := presignSTS(t, s.URL+"/_mock/sts/", demoKey, time.Now())
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}, Timeout: time.Minute}
	defer client.CloseIdleConnections()

	kinds := []string{"public", "aws", "run", "admin", "sts", "refused"}
	one := func(i int) error {
		kind := kinds[i%len(kinds)]
		body := make([]byte, 64+i%4096)
		_, _ = rand.Read(body)
		sum := sha256.Sum256(body)
		target := s.URL + "/" + kind + "/echo/" + strconv.Itoa(i)
		want := http.StatusOK
		hdr := http.Header{}
		switch kind {
		case "refused":
			target = s.URL + "/aws/echo/" + strconv.Itoa(i) // unsigned
			want = http.StatusForbidden
		case "aws":
			hdr = signAWS(t, s.URL, "POST", "/aws/echo/"+strconv.Itoa(i), string(body), demoKey, "us-east-1", "lambda", time.Now(), nil)
		case "run":
			hdr.Set("Authorization", "Bearer "+gtok)
		case "admin":
			hdr.Set("Cf-Access-Client-Id", "demo.access")
			hdr.Set("Cf-Access-Client-Secret", "demo-cf-secret")
		case "sts":
			hdr.Set("X-Fluid-Identity", stsProof)
		}
		req, err := http.NewRequest("POST", target, bytes.NewReader(body))
		if err != nil {
			return err
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("%s #%d: %v", kind, i, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("%s #%d: reading the answer: %v", kind, i, err)
		}
		if resp.StatusCode != want {
			return fmt.Errorf("%s #%d: status %d, want %d: %.200s", kind, i, resp.StatusCode, want, b)
		}
		if want != http.StatusOK {
			return nil
		}
		var e gateway.EchoResponse
		if err := json.Unmarshal(b, &e); err != nil {
			return fmt.Errorf("%s #%d: echo: %v", kind, i, err)
		}
		if e.BodySHA256 != hex.EncodeToString(sum[:]) || e.ContentLength != int64(len(body)) {
			return fmt.Errorf("%s #%d: body altered (%d bytes, sha256 %s)", kind, i, e.ContentLength, e.BodySHA256)
		}
		return nil
	}
	run := func(from, to int) (failures []error) {
		var next atomic.Int64
		next.Store(int64(from))
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= to {
						return
					}
					if err := one(i); err != nil {
						mu.Lock()
						failures = append(failures, err)
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		return failures
	}
	measure := func() (heap uint64, goroutines int) {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc, runtime.NumGoroutine()
	}

	warm := min(2000, total/10)
	if f := run(0, warm); len(f) > 0 {
		t.Fatalf("warm-up: %d failures, first: %v", len(f), f[0])
	}
	heap0, g0 := measure()
	start := time.Now()
	failures := run(warm, total)
	elapsed := time.Since(start)
	heap1, g1 := measure()
	t.Logf("%d requests (%d concurrent) in %s: %.0f req/s; %d failures", total-warm, conc, elapsed.Round(time.Millisecond),
		float64(total-warm)/elapsed.Seconds(), len(failures))
	t.Logf("heap after warm-up %.1f MiB, after the run %.1f MiB; goroutines %d -> %d", float64(heap0)/(1<<20), float64(heap1)/(1<<20), g0, g1)
	for i, f := range failures {
		if i == 10 {
			break
		}
		t.Error(f)
	}
	if heap1 > heap0*3/2+16<<20 {
		t.Errorf("heap grew from %d to %d bytes", heap0, heap1)
	}
	if g1 > g0+conc/4+10 {
		t.Errorf("goroutines grew from %d to %d", g0, g1)
	}
	n := 0
	for _, e := range s.Gateway.Requests() {
		if e.Status >= 500 {
			n++
		}
	}
	if n > 0 {
		t.Errorf("%d 5xx answers in the recent request log", n)
	}
}
