package awsv4

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"testing"
	"time"
)

// The example of the S3 API reference "Transferring payload in multiple
// chunks": 65 KiB of 'a' in 64 KiB chunks, seed signature from the request
// headers, and the three chunk signatures it publishes.
var (
	docTime  = time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)
	docSeed  = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
	docSigs  = []string{"ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648", "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497", "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"}
	docSizes = []int{65536, 1024, 0}
	docChunk = 64 << 10 // the example's chunk size
)

func docChain() ChunkChain {
	return ChunkChain{
		Key:   SigningKey("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3"),
		Time:  docTime,
		Scope: Scope("20130524", "us-east-1", "s3"),
		Prev:  docSeed,
	}
}

func docBody() []byte {
	var b bytes.Buffer
	for i, n := range docSizes {
		fmt.Fprintf(&b, "%x;chunk-signature=%s\r\n%s\r\n", n, docSigs[i], strings.Repeat("a", n))
	}
	return b.Bytes()
}

func TestChunkEncoderDocExample(t *testing.T) {
	data := bytes.Repeat([]byte("a"), 66560)
	enc := NewChunkEncoder(bytes.NewReader(data), docChain(), docChunk, int64(len(data)))
	got, err := io.ReadAll(enc)
	if err != nil {
		t.Fatal(err)
	}
	want := docBody()
	if !bytes.Equal(got, want) {
		t.Fatalf("encoding differs from the AWS example:\n got %q...\nwant %q...", got[:120], want[:120])
	}
	if n := ChunkedLength(66560, docChunk); n != 66824 || int64(len(got)) != n {
		t.Fatalf("ChunkedLength = %d, encoded %d, the example's Content-Length is 66824", n, len(got))
	}
}

func TestChunkedLength(t *testing.T) {
	for _, n := range []int64{0, 1, 8191, 65535, 65536, 65537, 3 << 20} {
		data := bytes.Repeat([]byte("x"), int(n))
		got, err := io.ReadAll(NewChunkEncoder(bytes.NewReader(data), docChain(), docChunk, n))
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(got)) != ChunkedLength(n, docChunk) {
			t.Errorf("n=%d: encoded %d bytes, ChunkedLength says %d", n, len(got), ChunkedLength(n, docChunk))
		}
		dec, err := io.ReadAll(NewChunkDecoder(bytes.NewReader(got), docChain(), n))
		if err != nil || !bytes.Equal(dec, data) {
			t.Errorf("n=%d: round trip: %v", n, err)
		}
	}
}

func TestChunkEncoderLengthMismatch(t *testing.T) {
	_, err := io.ReadAll(NewChunkEncoder(strings.NewReader("abc"), docChain(), docChunk, 4))
	if err == nil || !strings.Contains(err.Error(), "3 bytes but 4") {
		t.Fatalf("err = %v", err)
	}
}

func TestChunkDecoderDocExample(t *testing.T) {
	got, err := io.ReadAll(NewChunkDecoder(bytes.NewReader(docBody()), docChain(), 66560))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, bytes.Repeat([]byte("a"), 66560)) {
		t.Fatal("decoded data differs")
	}
}

func TestChunkDecoderRefuses(t *testing.T) {
	body := docBody()
	cases := map[string]func([]byte) []byte{
		"data byte": func(b []byte) []byte { b[1000] = 'b'; return b },
		"signature": func(b []byte) []byte { i := bytes.Index(b, []byte(docSigs[1])); b[i] ^= 1; return b },
		"no final":  func(b []byte) []byte { return b[:bytes.LastIndex(b, []byte("0;chunk"))] },
		"reordered": func(b []byte) []byte {
			return bytes.Replace(b, []byte(docSigs[0]), []byte(docSigs[1]), 1)
		},
		"trailing": func(b []byte) []byte { return append(b, 'x') },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			b := mutate(append([]byte(nil), body...))
			d := NewChunkDecoder(bytes.NewReader(b), docChain(), 66560)
			first := make([]byte, 70000)
			n, err := io.ReadFull(d, first)
			if err == nil {
				_, err = io.ReadAll(d)
			}
			if !errors.Is(err, ErrChunk) {
				t.Fatalf("err = %v, want ErrChunk", err)
			}
			if name == "data byte" && n > 0 {
				t.Fatalf("%d bytes of an unverified chunk were returned", n)
			}
		})
	}
	// Wrong declared length.
	if _, err := io.ReadAll(NewChunkDecoder(bytes.NewReader(body), docChain(), 66561)); !errors.Is(err, ErrChunk) {
		t.Fatalf("wrong decoded length accepted: %v", err)
	}
}

func TestTrailerEncoder(t *testing.T) {
	data := bytes.Repeat([]byte("a"), 65536+1024)
	got, err := io.ReadAll(NewTrailerEncoder(bytes.NewReader(data), crc32.NewIEEE(), "x-amz-checksum-crc32", docChunk, int64(len(data))))
	if err != nil {
		t.Fatal(err)
	}
	sum := crc32.ChecksumIEEE(data)
	b64 := base64.StdEncoding.EncodeToString([]byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)})
	want := "10000\r\n" + strings.Repeat("a", 65536) + "\r\n400\r\n" + strings.Repeat("a", 1024) + "\r\n0\r\nx-amz-checksum-crc32:" + b64 + "\r\n\r\n"
	if string(got) != want {
		t.Fatalf("encoding:\n got ...%q\nwant ...%q", got[len(got)-60:], want[len(want)-60:])
	}
	for _, n := range []int{0, 1, 65536, 200000} {
		enc, _ := io.ReadAll(NewTrailerEncoder(bytes.NewReader(data[:min(n, len(data))]), sha256.New(), "x-amz-checksum-sha256", docChunk, int64(min(n, len(data)))))
		if l := TrailerLength(int64(min(n, len(data))), docChunk, "x-amz-checksum-sha256", sha256.Size); int64(len(enc)) != l {
			t.Errorf("n=%d: encoded %d, TrailerLength %d", n, len(enc), l)
		}
	}
}
