package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/awsv4"
)

// loopbackPair dials a fresh 127.0.0.1 listener through bulkDial and
// returns the client side and what the server side reads until EOF.
func loopbackPair(t *testing.T) (net.Conn, <-chan []byte) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got := make(chan []byte, 1)
	go func() {
		s, err := l.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer s.Close()
		b, _ := io.ReadAll(s)
		got <- b
	}()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := bulkDial(d.DialContext)(context.Background(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(bulkConn); !ok {
		t.Fatalf("bulkDial returned %T, want bulkConn", c)
	}
	return c, got
}

func testEncoder(n int) (io.ReadCloser, int64) {
	chain := awsv4.ChunkChain{Key: awsv4.SigningKey("secret", "20261205", "us-east-1", "s3"),
		Time: time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC), Scope: awsv4.Scope("20261205", "us-east-1", "s3"), Prev: string(bytes.Repeat([]byte("0"), 64))}
	data := bytes.Repeat([]byte("gwcurl"), n/6)
	return awsv4.NewChunkEncoder(bytes.NewReader(data), chain, 64<<10, int64(len(data))), awsv4.ChunkedLength(int64(len(data)), 64<<10)
}

// The encoder behind net/http's LimitedReader goes to the socket through
// WriteFramesTo: the server gets exactly the bytes Read would have given.
func TestBulkConnWritesFrames(t *testing.T) {
	c, got := loopbackPair(t)
	enc, n := testEncoder(300 << 10)
	lr := &io.LimitedReader{R: enc, N: n}
	if w, err := c.(io.ReaderFrom).ReadFrom(lr); err != nil || w != n || lr.N != 0 {
		t.Fatalf("ReadFrom = %d, %v (N left %d), want %d", w, err, lr.N, n)
	}
	c.Close()
	want, _ := testEncoder(300 << 10)
	wantBytes, _ := io.ReadAll(want)
	if b := <-got; sha256.Sum256(b) != sha256.Sum256(wantBytes) {
		t.Errorf("server got %d bytes, want the %d of the encoding", len(b), len(wantBytes))
	}
}

// A limit shorter than the encoding (a ContentLength that does not match)
// fails instead of sending more than was declared.
func TestBulkConnKeepsTheLimit(t *testing.T) {
	c, got := loopbackPair(t)
	enc, n := testEncoder(100 << 10)
	lr := &io.LimitedReader{R: enc, N: n - 10}
	w, err := c.(io.ReaderFrom).ReadFrom(lr)
	if !errors.Is(err, io.ErrShortWrite) || w != n-10 {
		t.Fatalf("ReadFrom = %d, %v; want %d, io.ErrShortWrite", w, err, n-10)
	}
	enc.Close()
	c.Close()
	if b := <-got; int64(len(b)) != n-10 {
		t.Errorf("server got %d bytes, want %d", len(b), n-10)
	}
}

// Any other body takes *net.TCPConn's own path (sendfile for a file).
func TestBulkConnOtherBodies(t *testing.T) {
	c, got := loopbackPair(t)
	body := bytes.Repeat([]byte("x"), 70000)
	if w, err := c.(io.ReaderFrom).ReadFrom(&io.LimitedReader{R: bytes.NewReader(body), N: 70000}); err != nil || w != 70000 {
		t.Fatalf("ReadFrom = %d, %v", w, err)
	}
	c.Close()
	if b := <-got; !bytes.Equal(b, body) {
		t.Errorf("server got %d bytes", len(b))
	}
}
