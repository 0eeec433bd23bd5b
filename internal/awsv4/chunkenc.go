package awsv4

import (
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"sync"
)

// The encoder is a two-stage pipeline: a producer goroutine reads chunk
// i+1 from the source, hashes it and signs it (the chain is sequential, so
// one producer) into a frame buffer, while the consumer, the transport
// calling Read, copies chunk i to the connection. On a multi-GiB upload the
// SHA-256 of each chunk then overlaps with sending the previous one instead
// of stalling the connection (docs/performance.md, "S3 streaming upload").
// Memory is bounded: encoderBuffers frames of hdrRoom+chunkSize+2 bytes.

// encoderBuffers is the number of frame buffers: one being sent, one ready,
// one being filled.
const encoderBuffers = 3

// hdrRoom is the space reserved before the data of a frame for its header
// line: up to 8 hex digits, ";chunk-signature=", 64 hex digits and CRLF.
const hdrRoom = 8 + len(chunkSigPrefix) + 64 + 2

// errEncoderClosed is returned by Read after Close.
var errEncoderClosed = errors.New("aws-chunked: body closed")

// frame is one encoded chunk: b is the wire bytes (header, data, CRLF, and
// for the last unsigned chunk the trailer), within buf.
type frame struct {
	buf  []byte
	b    []byte
	last bool
	err  error
}

type chunkEncoder struct {
	// Producer side (owned by the producer goroutine once started).
	src       io.Reader
	chain     ChunkChain
	chunkSize int
	want, n   int64     // declared and read decoded length
	sum       hash.Hash // unsigned with a checksum trailer (NewTrailerEncoder): no chain
	trailer   string    // e.g. x-amz-checksum-crc32

	// Consumer side (Read).
	cur frame
	end bool  // the last frame (or an error) has been taken
	err error // sticky, returned once cur is drained

	free  chan []byte
	ready chan frame

	mu       sync.Mutex // started, closed
	started  bool
	closed   bool
	stop     chan struct{}
	exited   chan struct{}
	closeSrc func() error
}

// NewChunkEncoder returns the aws-chunked, chunk-signed encoding of src,
// which must hold exactly decodedLength bytes. Chunks are read, hashed and
// signed one ahead of the one being sent (a goroutine started by the first
// Read and stopped by Close). Close closes src when it is an io.Closer.
func NewChunkEncoder(src io.Reader, chain ChunkChain, chunkSize int, decodedLength int64) io.ReadCloser {
	return newEncoder(src, chunkSize, decodedLength, func(e *chunkEncoder) { e.chain = chain })
}

// NewTrailerEncoder returns the unsigned aws-chunked encoding of src
// (STREAMING-UNSIGNED-PAYLOAD-TRAILER): plain chunks, a final empty chunk,
// then the trailer header trailer: base64(sum of the body). src must hold
// exactly decodedLength bytes.
func NewTrailerEncoder(src io.Reader, sum hash.Hash, trailer string, chunkSize int, decodedLength int64) io.ReadCloser {
	return newEncoder(src, chunkSize, decodedLength, func(e *chunkEncoder) { e.sum, e.trailer = sum, trailer })
}

func newEncoder(src io.Reader, chunkSize int, decodedLength int64, set func(*chunkEncoder)) *chunkEncoder {
	e := &chunkEncoder{src: src, chunkSize: chunkSize, want: decodedLength}
	set(e)
	if c, ok := src.(io.Closer); ok {
		e.closeSrc = c.Close
	}
	return e
}

// start launches the producer on the first Read.
func (e *chunkEncoder) start() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errEncoderClosed
	}
	if !e.started {
		e.started = true
		e.free = make(chan []byte, encoderBuffers)
		for range encoderBuffers {
			e.free <- make([]byte, hdrRoom+e.chunkSize+2)
		}
		e.ready = make(chan frame, 1)
		e.stop = make(chan struct{})
		e.exited = make(chan struct{})
		go e.produce()
	}
	return nil
}

func (e *chunkEncoder) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if !e.end {
		if err := e.start(); err != nil {
			return 0, err
		}
	}
	n := 0
	for n < len(p) {
		if len(e.cur.b) == 0 {
			if e.cur.buf != nil {
				e.free <- e.cur.buf // never blocks: the channel holds every buffer
				e.cur = frame{}
			}
			if e.end {
				break
			}
			f, ok := e.next(n == 0)
			if !ok {
				break // nothing ready yet: send what is here
			}
			if f.err != nil {
				e.err, e.end = f.err, true
				break
			}
			e.cur, e.end = f, f.last
			continue
		}
		c := copy(p[n:], e.cur.b)
		n += c
		e.cur.b = e.cur.b[c:]
	}
	switch {
	case n > 0:
		return n, nil
	case e.err != nil:
		return 0, e.err
	case e.end:
		return 0, io.EOF
	}
	return 0, io.ErrNoProgress // unreachable: next(true) blocks until a frame or an error
}

// FrameWriter is implemented by the bodies NewChunkEncoder and
// NewTrailerEncoder return. WriteFramesTo writes the rest of the encoding
// to w, one Write per frame (a whole chunk with its header, 1 MiB by
// default), instead of the 32 KiB reads net/http's body copy makes: a
// connection that is handed one (cli's bulkConn) saves thirty-one write
// syscalls and one copy of every MiB, and the scheduler churn of each
// syscall, which on a multi-GiB upload is a fifth of the client's CPU.
type FrameWriter interface {
	WriteFramesTo(w io.Writer) (int64, error)
}

// WriteFramesTo implements FrameWriter. It continues where Read stopped
// (the transport reads the first bytes into its own buffer), so the two
// may be mixed.
func (e *chunkEncoder) WriteFramesTo(w io.Writer) (int64, error) {
	if !e.end {
		if err := e.start(); err != nil {
			return 0, err
		}
	}
	var total int64
	for {
		if len(e.cur.b) > 0 {
			n, err := w.Write(e.cur.b)
			total += int64(n)
			e.cur.b = e.cur.b[n:]
			if err != nil {
				return total, err
			}
			continue
		}
		if e.cur.buf != nil {
			e.free <- e.cur.buf // never blocks: the channel holds every buffer
			e.cur = frame{}
		}
		if e.end {
			return total, e.err
		}
		f, _ := e.next(true)
		if f.err != nil {
			e.err, e.end = f.err, true
			return total, f.err
		}
		e.cur, e.end = f, f.last
	}
}

// next takes the next frame, waiting for it when wait is set.
func (e *chunkEncoder) next(wait bool) (frame, bool) {
	if !wait {
		select {
		case f := <-e.ready:
			return f, true
		default:
			return frame{}, false
		}
	}
	select {
	case f := <-e.ready:
		return f, true
	case <-e.stop:
		return frame{err: errEncoderClosed}, true
	}
}

// produce reads, hashes, signs and frames chunks until the last one, an
// error or Close.
func (e *chunkEncoder) produce() {
	defer close(e.exited)
	for {
		var buf []byte
		select {
		case buf = <-e.free:
		case <-e.stop:
			return
		}
		f := e.encode(buf)
		select {
		case e.ready <- f:
		case <-e.stop:
			return
		}
		if f.last || f.err != nil {
			return
		}
	}
}

// encode reads the next chunk into buf after hdrRoom bytes and frames it in
// place: the header just before the data, CRLF just after.
func (e *chunkEncoder) encode(buf []byte) frame {
	data := buf[hdrRoom : hdrRoom+e.chunkSize]
	n, err := io.ReadFull(e.src, data)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
	case err != nil:
		return frame{buf: buf, err: err}
	}
	e.n += int64(n)
	if e.n > e.want || (n < len(data) && e.n != e.want) {
		return frame{buf: buf, err: fmt.Errorf("aws-chunked: the body has %d bytes but %d were declared", e.n, e.want)}
	}
	data = data[:n]
	var hb [hdrRoom]byte
	h := strconv.AppendInt(hb[:0], int64(n), 16)
	if e.sum == nil {
		h = append(h, chunkSigPrefix...)
		h = append(h, e.chain.Next(data)...)
	} else {
		e.sum.Write(data)
	}
	h = append(h, '\r', '\n')
	off := hdrRoom - len(h)
	copy(buf[off:], h)
	end := hdrRoom + n
	if n == 0 && e.sum != nil {
		// The final chunk of an unsigned body: the trailer follows.
		t := e.trailer + ":" + base64.StdEncoding.EncodeToString(e.sum.Sum(nil)) + "\r\n\r\n"
		b := append(append([]byte(nil), buf[off:end]...), t...)
		return frame{buf: buf, b: b, last: true}
	}
	buf[end], buf[end+1] = '\r', '\n'
	return frame{buf: buf, b: buf[off : end+2], last: n == 0}
}

// Close stops the producer (waiting for it to leave the source) and closes
// the source. The transport may call it while a Read waits: that Read then
// fails.
func (e *chunkEncoder) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	started := e.started
	if started {
		close(e.stop)
	}
	e.mu.Unlock()
	if started {
		<-e.exited
	}
	if e.closeSrc != nil {
		return e.closeSrc()
	}
	return nil
}
