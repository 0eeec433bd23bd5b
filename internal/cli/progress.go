package cli

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress shows transfer progress on stderr (a terminal only): bytes so
// far, the total when known, and the rate, redrawn at most 5 times a second.
type progress struct {
	keep    bool // -#/--progress-bar
	w       io.Writer
	label   string
	total   int64 // -1 when unknown
	start   time.Time
	mu      sync.Mutex
	n       int64
	last    time.Time
	drawn   bool
	minSize int64
}

// progressThreshold: smaller transfers finish before a bar helps anyone.
const progressThreshold = 1 << 20

func newProgress(w io.Writer, label string, total int64) *progress {
	return &progress{w: w, label: label, total: total, start: time.Now(), minSize: progressThreshold}
}

// forced is -#: progress from the first byte, and a final line kept.
func (p *progress) forced(on bool) *progress {
	if on {
		p.minSize, p.keep = 0, true
	}
	return p
}

func (p *progress) add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n += int64(n)
	now := time.Now()
	if p.n < p.minSize || now.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last = now
	p.draw(now)
}

func (p *progress) draw(now time.Time) {
	rate := float64(p.n) / now.Sub(p.start).Seconds()
	if p.total > 0 {
		fmt.Fprintf(p.w, "\r\x1b[K%s %s / %s (%d%%) %s/s", p.label, humanBytes(p.n), humanBytes(p.total), p.n*100/p.total, humanBytes(int64(rate)))
	} else {
		fmt.Fprintf(p.w, "\r\x1b[K%s %s %s/s", p.label, humanBytes(p.n), humanBytes(int64(rate)))
	}
	p.drawn = true
}

// done clears the line.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.keep { // -#: the final figures stay, on their own line
		p.draw(time.Now())
		fmt.Fprintln(p.w)
		return
	}
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

type progressReader struct {
	r io.Reader
	p *progress
}

func (pr *progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.p.add(n)
	return n, err
}

// progressReadCloser counts an upload body as the transport reads it.
type progressReadCloser struct {
	io.ReadCloser
	p *progress
}

func (pr *progressReadCloser) Read(b []byte) (int, error) {
	n, err := pr.ReadCloser.Read(b)
	pr.p.add(n)
	return n, err
}

func (pr *progressReadCloser) Close() error {
	pr.p.done()
	return pr.ReadCloser.Close()
}
