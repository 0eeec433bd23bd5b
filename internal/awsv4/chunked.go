package awsv4

// S3 streaming (chunked) payload signing, STREAMING-AWS4-HMAC-SHA256-PAYLOAD,
// per the S3 API reference "Signature calculations for the Authorization
// header: Transferring payload in multiple chunks (chunked upload)".
//
// Written here by hand because aws-sdk-go-v2's v4.Signer signs a request
// with one payload hash and has no chunk-signing API (the SDK's own S3
// client does not stream-sign either; it uses a trailing checksum), and both
// the client (encoder) and the gateway (decoder and verifier) need the same
// chunk rules. The published example of that document is the test vector.

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Streaming payload constants.
const (
	// StreamingPayload is the x-amz-content-sha256 value of a signed chunked upload.
	StreamingPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	// StreamingUnsignedTrailer is the x-amz-content-sha256 value of an
	// unsigned chunked upload with a checksum trailer.
	StreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	// ChunkAlgorithm opens the string to sign of each chunk.
	ChunkAlgorithm = "AWS4-HMAC-SHA256-PAYLOAD"
	// DefaultChunkSize is the data size of every chunk but the last that
	// gwcurl sends. S3 requires at least 8 KiB and recommends 64 KiB or
	// more; it documents no maximum, MinIO accepts up to 16 MiB. 1 MiB
	// chunks cost the server one chunk signature (a signing-key derivation
	// and two HMACs in MinIO) per MiB instead of per 64 KiB, which measured
	// as a tenth of MinIO's CPU time on a 1 GiB upload
	// (docs/performance.md); three chunk buffers stay far under the
	// 32 MiB memory bound.
	DefaultChunkSize = 1 << 20
	// MaxChunkSize bounds one chunk a decoder accepts (memory per request).
	MaxChunkSize = 16 << 20
)

const chunkSigPrefix = ";chunk-signature="

// ChunkChain holds what every chunk signature of one request depends on: the
// signing key, the request time and scope, and the previous signature (the
// seed signature of the request for the first chunk).
type ChunkChain struct {
	Key   []byte    // SigningKey(secret, date, region, service)
	Time  time.Time // the request's X-Amz-Date
	Scope string    // Scope(date, region, service)
	Prev  string    // the previous signature, hex
}

// ChunkStringToSign is the string to sign of a chunk whose data hashes to
// chunkHash (hex SHA-256), chained to prev.
func ChunkStringToSign(t time.Time, scope, prev, chunkHash string) string {
	return ChunkAlgorithm + "\n" + t.UTC().Format(TimeFormat) + "\n" + scope + "\n" + prev + "\n" + EmptySHA256 + "\n" + chunkHash
}

// Next signs the chunk data and advances the chain to its signature.
func (c *ChunkChain) Next(data []byte) string {
	sum := sha256.Sum256(data)
	var hs [64]byte
	hex.Encode(hs[:], sum[:])
	sig := Signature(c.Key, ChunkStringToSign(c.Time, c.Scope, c.Prev, string(hs[:])))
	c.Prev = sig
	return sig
}

// ChunkedLength is the encoded (wire) length of a decoded body of n bytes
// sent in chunks of chunkSize, including the final empty chunk.
func ChunkedLength(n int64, chunkSize int) int64 {
	cs := int64(chunkSize)
	frame := func(size int64) int64 {
		return int64(len(strconv.FormatInt(size, 16))) + int64(len(chunkSigPrefix)) + 64 + 2 + size + 2
	}
	full := n / cs
	total := full * frame(cs)
	if rem := n % cs; rem > 0 {
		total += frame(rem)
	}
	return total + frame(0)
}

// TrailerLength is the encoded length of NewTrailerEncoder's output for a
// body of n bytes and a checksum of sumSize bytes.
func TrailerLength(n int64, chunkSize int, trailer string, sumSize int) int64 {
	cs := int64(chunkSize)
	frame := func(size int64) int64 { return int64(len(strconv.FormatInt(size, 16))) + 2 + size + 2 }
	total := (n / cs) * frame(cs)
	if rem := n % cs; rem > 0 {
		total += frame(rem)
	}
	return total + 3 + int64(len(trailer)+1+base64.StdEncoding.EncodedLen(sumSize)) + 4
}

// ErrChunk is wrapped by every refusal of a chunked body by the decoder.
var ErrChunk = errors.New("aws-chunked body refused")

// chunkDecoder decodes and verifies an aws-chunked body: a chunk's bytes are
// returned only after its signature has been checked.
type chunkDecoder struct {
	r       *bufio.Reader
	chain   ChunkChain
	buf     []byte
	pending []byte
	want, n int64
	done    bool
	err     error
}

// NewChunkDecoder returns the decoded data of the aws-chunked body r, each
// chunk verified against chain before any of its bytes are returned. A bad
// chunk, a bad signature, a missing final chunk or a decoded length other
// than decodedLength is an error wrapping ErrChunk.
func NewChunkDecoder(r io.Reader, chain ChunkChain, decodedLength int64) io.Reader {
	return &chunkDecoder{r: bufio.NewReaderSize(r, 64<<10), chain: chain, want: decodedLength}
}

func (d *chunkDecoder) Read(p []byte) (int, error) {
	for len(d.pending) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		if d.done {
			return 0, io.EOF
		}
		if err := d.next(); err != nil {
			d.err = err
		}
	}
	n := copy(p, d.pending)
	d.pending = d.pending[n:]
	return n, nil
}

func (d *chunkDecoder) fail(format string, args ...any) error {
	return fmt.Errorf("%w: chunk at decoded offset %d: %s", ErrChunk, d.n, fmt.Sprintf(format, args...))
}

// next reads, verifies and stages one chunk.
func (d *chunkDecoder) next() error {
	line, err := d.r.ReadSlice('\n')
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return d.fail("the body ended before the final (empty) chunk")
		}
		if err == bufio.ErrBufferFull {
			return d.fail("chunk header line too long")
		}
		return err
	}
	line = bytes.TrimSuffix(line, []byte("\r\n"))
	// line points into the reader's buffer: copy what is kept.
	sizeHex, sigRef, ok := bytes.Cut(line, []byte(chunkSigPrefix))
	sig := append([]byte(nil), sigRef...)
	if !ok || len(sizeHex) == 0 || len(sizeHex) > 8 || len(sig) != 64 {
		return d.fail("malformed chunk header %q", truncate(line, 100))
	}
	size, err := strconv.ParseInt(string(sizeHex), 16, 64) // before the buffer moves on
	if err != nil || size < 0 {
		return d.fail("malformed chunk size %q", sizeHex)
	}
	if size > MaxChunkSize {
		return d.fail("chunk of %d bytes is over the %d MiB limit", size, MaxChunkSize>>20)
	}
	if d.n+size > d.want {
		return d.fail("chunks carry more than the %d bytes of x-amz-decoded-content-length", d.want)
	}
	if int64(cap(d.buf)) < size {
		d.buf = make([]byte, size)
	}
	data := d.buf[:size]
	if _, err := io.ReadFull(d.r, data); err != nil {
		return d.fail("the body ended inside a chunk")
	}
	var crlf [2]byte
	if _, err := io.ReadFull(d.r, crlf[:]); err != nil || crlf != [2]byte{'\r', '\n'} {
		return d.fail("chunk data not followed by CRLF")
	}
	prev := d.chain.Prev
	if want := d.chain.Next(data); !hmac.Equal([]byte(want), sig) {
		d.chain.Prev = prev
		return d.fail("chunk signature mismatch")
	}
	d.n += size
	if size == 0 {
		if d.n != d.want {
			return d.fail("the body has %d bytes but x-amz-decoded-content-length says %d", d.n, d.want)
		}
		if _, err := d.r.ReadByte(); err != io.EOF {
			return d.fail("data after the final chunk")
		}
		d.done = true
		return nil
	}
	d.pending = data
	return nil
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
