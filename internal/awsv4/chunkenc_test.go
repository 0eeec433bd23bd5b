package awsv4

import (
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
)

// The pipelined encoder gives the same bytes whatever the reader's buffer
// sizes, in both forms.
func TestChunkEncoderReadSizes(t *testing.T) {
	data := bytes.Repeat([]byte("a"), 66560)
	for name, r := range map[string]func() io.Reader{
		"one byte": func() io.Reader {
			return iotest.OneByteReader(NewChunkEncoder(bytes.NewReader(data), docChain(), docChunk, int64(len(data))))
		},
		"half": func() io.Reader {
			return iotest.HalfReader(NewChunkEncoder(bytes.NewReader(data), docChain(), docChunk, int64(len(data))))
		},
	} {
		got, err := io.ReadAll(r())
		if err != nil || !bytes.Equal(got, docBody()) {
			t.Errorf("%s: %d bytes, %v; want the AWS example", name, len(got), err)
		}
	}
	if err := iotest.TestReader(NewChunkEncoder(bytes.NewReader(data), docChain(), docChunk, int64(len(data))), docBody()); err != nil {
		t.Error(err)
	}
}

// closeRecorder is a source that records Close and can block its reads.
type closeRecorder struct {
	io.Reader
	mu     sync.Mutex
	closed bool
}

func (c *closeRecorder) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

// Close stops the producer mid-body and closes the source; a later Read
// fails instead of returning a truncated body as complete.
func TestChunkEncoderCloseMidBody(t *testing.T) {
	n := int64(10 * docChunk)
	src := &closeRecorder{Reader: bytes.NewReader(make([]byte, n))}
	enc := NewChunkEncoder(src, docChain(), docChunk, n)
	if _, err := io.ReadFull(enc, make([]byte, docChunk)); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if !src.closed {
		t.Fatal("the source was not closed")
	}
	if _, err := io.ReadAll(enc); !errors.Is(err, errEncoderClosed) {
		t.Fatalf("Read after Close: %v, want errEncoderClosed", err)
	}
}

// Close before any Read starts nothing and still closes the source.
func TestChunkEncoderCloseUnread(t *testing.T) {
	src := &closeRecorder{Reader: strings.NewReader("abc")}
	enc := NewChunkEncoder(src, docChain(), docChunk, 3)
	if err := enc.Close(); err != nil || !src.closed {
		t.Fatalf("Close: %v, source closed %v", err, src.closed)
	}
}

// A source error reaches the reader after the chunks read before it.
func TestChunkEncoderSourceError(t *testing.T) {
	boom := errors.New("disk gone")
	src := io.MultiReader(bytes.NewReader(make([]byte, 2*docChunk)), iotest.ErrReader(boom))
	got, err := io.ReadAll(NewChunkEncoder(src, docChain(), docChunk, 3*int64(docChunk)))
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the source's", err)
	}
	if want := 2 * (len("10000;chunk-signature=") + 64 + 2 + docChunk + 2); len(got) != want {
		t.Fatalf("%d bytes before the error, want the two whole chunks (%d)", len(got), want)
	}
}

// writeRecorder records the size of each Write.
type writeRecorder struct {
	bytes.Buffer
	sizes []int
}

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.sizes = append(w.sizes, len(p))
	return w.Buffer.Write(p)
}

// WriteFramesTo gives the same bytes as Read, one Write per frame, also
// when the transport has read the first bytes itself; the trailer form too.
func TestChunkEncoderWriteFramesTo(t *testing.T) {
	data := bytes.Repeat([]byte("a"), 66560)
	for _, first := range []int{0, 1, 100, docChunk + 50} {
		enc := NewChunkEncoder(bytes.NewReader(data), docChain(), docChunk, int64(len(data)))
		head := make([]byte, first)
		if _, err := io.ReadFull(enc, head); err != nil {
			t.Fatal(err)
		}
		var w writeRecorder
		n, err := enc.(FrameWriter).WriteFramesTo(&w)
		if err != nil || n != int64(w.Len()) {
			t.Fatalf("after %d bytes read: WriteFramesTo = %d, %v (wrote %d)", first, n, err, w.Len())
		}
		if got := append(head, w.Bytes()...); !bytes.Equal(got, docBody()) {
			t.Errorf("after %d bytes read: %d bytes, want the AWS example", first, len(got))
		}
		// Two data chunks and the final empty one, the first maybe cut by Read.
		if len(w.sizes) > 3 {
			t.Errorf("after %d bytes read: %d writes (%v), want one per frame", first, len(w.sizes), w.sizes)
		}
		if n, err := enc.(FrameWriter).WriteFramesTo(&w); n != 0 || err != nil {
			t.Errorf("again at the end: %d, %v", n, err)
		}
	}

	sum := crc32.NewIEEE()
	var byRead, byFrames bytes.Buffer
	if _, err := io.Copy(&byRead, iotest.HalfReader(NewTrailerEncoder(bytes.NewReader(data), sum, "x-amz-checksum-crc32", docChunk, int64(len(data))))); err != nil {
		t.Fatal(err)
	}
	enc := NewTrailerEncoder(bytes.NewReader(data), crc32.NewIEEE(), "x-amz-checksum-crc32", docChunk, int64(len(data)))
	if _, err := enc.(FrameWriter).WriteFramesTo(&byFrames); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(byRead.Bytes(), byFrames.Bytes()) {
		t.Errorf("trailer form: WriteFramesTo wrote %d bytes, Read %d, or they differ", byFrames.Len(), byRead.Len())
	}
}

// A source error and a failing writer both end WriteFramesTo with the error.
func TestChunkEncoderWriteFramesToErrors(t *testing.T) {
	boom := errors.New("disk gone")
	src := io.MultiReader(bytes.NewReader(make([]byte, 2*docChunk)), iotest.ErrReader(boom))
	var w bytes.Buffer
	if _, err := NewChunkEncoder(src, docChain(), docChunk, 3*int64(docChunk)).(FrameWriter).WriteFramesTo(&w); !errors.Is(err, boom) {
		t.Errorf("source error: %v", err)
	}
	full := errors.New("connection reset")
	enc := NewChunkEncoder(bytes.NewReader(make([]byte, 3*docChunk)), docChain(), docChunk, 3*int64(docChunk))
	if _, err := enc.(FrameWriter).WriteFramesTo(failingWriter{full}); !errors.Is(err, full) {
		t.Errorf("writer error: %v", err)
	}
	if err := enc.Close(); err != nil {
		t.Errorf("Close after a failed write: %v", err)
	}
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }
