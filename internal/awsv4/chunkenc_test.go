package awsv4

import (
	"bytes"
	"errors"
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
