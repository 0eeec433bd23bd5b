package cli

import (
	"context"
	"io"
	"net"

	"github.com/gwcurl/gwcurl/internal/awsv4"
)

// bulkDial wraps dial so that plain TCP connections are bulkConns.
func bulkDial(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok && err == nil {
			return bulkConn{tc}, nil
		}
		return c, err
	}
}

// bulkConn is a TCP connection that lets an aws-chunked body write itself
// to the socket in whole frames. net/http copies a request body with
// io.Copy(conn, io.LimitReader(body, ContentLength)); *net.TCPConn's
// ReadFrom turns that into sendfile for a file (kept: everything else goes
// to it) and into 32 KiB reads and writes for anything else. For the
// encoder of an S3 streaming upload, 1 MiB frames written as they are cost
// a thirty-second of the write syscalls and no copy into the 32 KiB buffer
// (docs/performance.md, "Large signed uploads"). TLS connections are not
// wrapped: their records are 16 KiB whatever the writes.
type bulkConn struct{ *net.TCPConn }

func (c bulkConn) ReadFrom(r io.Reader) (int64, error) {
	if lr, ok := r.(*io.LimitedReader); ok {
		if fw, ok := lr.R.(awsv4.FrameWriter); ok {
			w := &limitedWriter{w: c.TCPConn, n: lr.N}
			n, err := fw.WriteFramesTo(w)
			lr.N -= n
			return n, err
		}
	}
	return c.TCPConn.ReadFrom(r)
}

// limitedWriter passes at most n bytes to w, as the io.LimitedReader it
// replaces would have read; a body longer than that fails.
type limitedWriter struct {
	w io.Writer
	n int64
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	short := false
	if int64(len(p)) > l.n {
		p, short = p[:l.n], true
	}
	n, err := l.w.Write(p)
	l.n -= int64(n)
	if err == nil && short {
		err = io.ErrShortWrite
	}
	return n, err
}
