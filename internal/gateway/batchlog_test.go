package gateway_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/gateway"
)

// gateWriter records writes; while gate is open (not closed) the first
// Write blocks until release is closed.
type gateWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	writes  int
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func newGateWriter() *gateWriter {
	return &gateWriter{entered: make(chan struct{}), release: make(chan struct{})}
}

func (g *gateWriter) Write(p []byte) (int, error) {
	g.once.Do(func() { close(g.entered); <-g.release })
	g.mu.Lock()
	defer g.mu.Unlock()
	g.writes++
	return g.buf.Write(p)
}

func TestBatchWriterKeepsEveryLineWholeAndInOrder(t *testing.T) {
	g := newGateWriter()
	close(g.release)
	b := gateway.NewBatchWriter(g)
	const writers, lines = 8, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range lines {
				fmt.Fprintf(b, "{\"w\":%d,\"i\":%d,\"pad\":%q}\n", w, i, strings.Repeat("x", i%97))
			}
		}()
	}
	wg.Wait()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	next := make([]int, writers)
	got := strings.Split(strings.TrimSuffix(g.buf.String(), "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("%d lines, want %d", len(got), writers*lines)
	}
	for _, l := range got {
		var w, i int
		var pad string
		if _, err := fmt.Sscanf(l, "{\"w\":%d,\"i\":%d,\"pad\":%q}", &w, &i, &pad); err != nil {
			t.Fatalf("torn line %q: %v", l, err)
		}
		if i != next[w] || len(pad) != i%97 {
			t.Fatalf("writer %d: line %d after %d (%q)", w, i, next[w]-1, l)
		}
		next[w]++
	}
}

// While the log's writer is busy, lines queue and then go out together:
// a burst of 200 lines costs a handful of writes, not 200.
func TestBatchWriterBatchesWhileTheWriterIsBusy(t *testing.T) {
	g := newGateWriter()
	b := gateway.NewBatchWriter(g)
	fmt.Fprintln(b, "first")
	<-g.entered // the goroutine is inside the first write
	for i := range 200 {
		fmt.Fprintf(b, "line %d\n", i)
	}
	close(g.release)
	b.Close()
	if g.writes > 3 {
		t.Errorf("%d writes for 201 lines; want the 200 queued ones in one", g.writes)
	}
	if n := strings.Count(g.buf.String(), "\n"); n != 201 {
		t.Errorf("%d lines written, want 201", n)
	}
}

// A stalled writer holds back at most about 1 MiB: past that Write waits.
func TestBatchWriterBoundsWhatItHolds(t *testing.T) {
	g := newGateWriter()
	b := gateway.NewBatchWriter(g)
	fmt.Fprintln(b, "first")
	<-g.entered
	line := strings.Repeat("y", 1023) + "\n"
	done := make(chan struct{})
	go func() {
		for range 3 << 10 { // 3 MiB
			b.Write([]byte(line))
		}
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("3 MiB were accepted while the writer was stalled")
	case <-time.After(200 * time.Millisecond):
	}
	close(g.release)
	<-done
	b.Close()
	if got, want := g.buf.Len(), len("first\n")+3<<20; got != want {
		t.Errorf("wrote %d bytes, want %d", got, want)
	}
}

func TestBatchWriterAfterClose(t *testing.T) {
	g := newGateWriter()
	close(g.release)
	b := gateway.NewBatchWriter(g)
	fmt.Fprintln(b, "before")
	b.Close()
	b.Close() // twice is fine
	fmt.Fprintln(b, "after")
	if got := g.buf.String(); got != "before\nafter\n" {
		t.Errorf("got %q", got)
	}
}
