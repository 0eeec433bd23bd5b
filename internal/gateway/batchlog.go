package gateway

import (
	"io"
	"runtime"
	"sync"
)

// GCPercent is the GOGC the gateway commands (`gwcurl gateway`,
// bench/cmd/gwserve) run with when the environment sets no GOGC. The
// gateway's live heap is a few MiB, so Go's default of 100 collects several
// hundred times a second under load; at 400 the collector's share of a
// /public/echo request falls from about a tenth of its CPU to a few percent
// (docs/performance.md, "Gateway"), for a heap that stays in tens of MiB.
const GCPercent = 400

// maxPendingLog bounds what a BatchWriter holds for its writer: past it,
// Write waits, so a stalled stderr slows requests down instead of growing
// memory without limit.
const maxPendingLog = 1 << 20

// BatchWriter hands the request log to its writer from one goroutine, so a
// burst of requests costs one write(2) for many lines instead of one each,
// and no request waits for the terminal or file the log goes to. Each Write
// is kept whole and in order; lines reach w as soon as the goroutine is
// scheduled (there is no timer). Close writes what is pending and stops the
// goroutine; Writes after Close go to w directly.
//
// The request log itself stays synchronous (one Write per entry), so
// library users and tests that read their own buffer see every line at
// once; the gateway commands wrap the process's stderr in a BatchWriter.
type BatchWriter struct {
	w    io.Writer
	wake chan struct{} // capacity 1: "there is something to write"
	done chan struct{} // closed when the goroutine has written all and exited

	mu      sync.Mutex
	space   *sync.Cond // signalled when the goroutine takes the pending bytes
	pending []byte
	closed  bool
}

// NewBatchWriter starts the goroutine that writes to w.
func NewBatchWriter(w io.Writer) *BatchWriter {
	b := &BatchWriter{w: w, wake: make(chan struct{}, 1), done: make(chan struct{})}
	b.space = sync.NewCond(&b.mu)
	go b.run()
	return b
}

// Write queues a copy of p. It never returns an error: a failed write of
// the log must not fail the request that produced the line.
func (b *BatchWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	for len(b.pending) >= maxPendingLog && !b.closed {
		b.space.Wait()
	}
	if b.closed {
		b.mu.Unlock()
		<-b.done
		_, _ = b.w.Write(p)
		return len(p), nil
	}
	b.pending = append(b.pending, p...)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default: // already signalled
	}
	return len(p), nil
}

func (b *BatchWriter) run() {
	defer close(b.done)
	var spare []byte
	for range b.wake {
		// Under load, let the goroutines that are ready run first: their
		// lines join this write. When idle nothing is waiting and this
		// returns at once, so a line is not held back.
		runtime.Gosched()
		b.mu.Lock()
		out, closed := b.pending, b.closed
		b.pending = spare[:0]
		b.space.Broadcast()
		b.mu.Unlock()
		if len(out) > 0 {
			_, _ = b.w.Write(out)
		}
		if cap(out) <= 4*maxPendingLog {
			spare = out
		}
		if closed {
			return
		}
	}
}

// Close writes what is pending, then stops the goroutine. It is safe to
// call more than once.
func (b *BatchWriter) Close() error {
	b.mu.Lock()
	already := b.closed
	b.closed = true
	b.space.Broadcast()
	b.mu.Unlock()
	if !already {
		select {
		case b.wake <- struct{}{}:
		default: // a wake-up is pending: the goroutine will see closed
		}
	}
	<-b.done
	return nil
}
