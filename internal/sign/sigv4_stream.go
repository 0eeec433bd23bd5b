package sign

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/gwcurl/gwcurl/internal/awsv4"
	"github.com/gwcurl/gwcurl/internal/profiles"
)

// Payload modes (auth.payload, --payload).
const (
	PayloadHash      = "hash"
	PayloadUnsigned  = "unsigned"
	PayloadStreaming = "streaming"
)

// ChecksumAlgorithms are the values --checksum accepts.
var ChecksumAlgorithms = []string{"crc32", "sha256"}

// checksumHash returns a fresh hash and the size of its sum for alg.
func checksumHash(alg string) (hash.Hash, int) {
	if alg == "crc32" {
		return crc32.NewIEEE(), crc32.Size
	}
	return sha256.New(), sha256.Size
}

// payloadTrailer: STREAMING-UNSIGNED-PAYLOAD-TRAILER (auth.checksum).
const payloadTrailer = "trailer"

// PayloadModes are the values --payload accepts.
var PayloadModes = []string{PayloadHash, PayloadUnsigned, PayloadStreaming}

// StreamThreshold is the body size above which an S3 upload is signed
// chunk by chunk (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) instead of hashed
// whole first: above it, the extra pass over the data costs more than the
// chunk framing (docs/auth/sigv4.md, "S3 uploads").
const StreamThreshold = 8 << 20

// payloadMode validates auth.payload against the service. It returns ""
// (automatic), PayloadHash or PayloadStreaming; "unsigned" is folded into
// UnsignedPayload by the caller's flag handling and checked here.
func payloadMode(a profiles.Auth, service string) (string, error) {
	if a.Checksum != "" {
		switch {
		case !slices.Contains(ChecksumAlgorithms, a.Checksum):
			return "", fmt.Errorf("sigv4: unknown checksum %q: want crc32 or sha256", a.Checksum)
		case a.Payload != "" || a.UnsignedPayload:
			return "", errors.New("sigv4: --checksum sends the body unsigned with a checksum trailer: drop --payload / --unsigned-payload")
		case service != "s3":
			return "", fmt.Errorf("sigv4: --checksum is for service s3 only (service here: %s)", service)
		}
		return payloadTrailer, nil
	}
	switch a.Payload {
	case "":
		return "", nil
	case PayloadUnsigned:
		return "", nil // a.UnsignedPayload is set alongside (CLI) or checked below
	case PayloadHash:
		if a.UnsignedPayload {
			return "", errors.New("sigv4: --payload hash and --unsigned-payload contradict each other: keep one")
		}
		return PayloadHash, nil
	case PayloadStreaming:
		if a.UnsignedPayload {
			return "", errors.New("sigv4: --payload streaming and --unsigned-payload contradict each other: keep one")
		}
		if service != "s3" {
			return "", fmt.Errorf("sigv4: --payload streaming is for service s3 only (service here: %s): use --payload hash", service)
		}
		return PayloadStreaming, nil
	}
	return "", fmt.Errorf("sigv4: unknown payload mode %q: want %s", a.Payload, strings.Join(PayloadModes, ", "))
}

// streams reports whether req is signed with a streaming payload: asked
// for, or automatic for an s3 body over StreamThreshold or of unknown length.
func (s *sigV4Signer) streams(req *http.Request) bool {
	if s.unsigned || s.v4a != nil || s.payload == PayloadHash || req.Body == nil || req.Body == http.NoBody {
		return false
	}
	if s.payload == PayloadStreaming || s.payload == payloadTrailer {
		return true
	}
	return s.service == "s3" && (req.ContentLength > StreamThreshold || req.ContentLength < 0)
}

// prepareStreaming sets the headers of an aws-chunked body before the
// request is signed: Content-Encoding, x-amz-decoded-content-length and the
// encoded Content-Length. S3 needs the decoded length up front, so a body of
// unknown length cannot stream (the CLI spools stdin, so it always knows).
func prepareStreaming(req *http.Request, checksum string) error {
	n := req.ContentLength
	if n < 0 {
		return errors.New("sigv4: a streaming (aws-chunked) upload needs the body's length: S3 requires x-amz-decoded-content-length")
	}
	enc := "aws-chunked"
	for _, v := range req.Header.Values("Content-Encoding") {
		for _, e := range strings.Split(v, ",") {
			if e = strings.TrimSpace(e); e != "" && !strings.EqualFold(e, "aws-chunked") {
				enc += "," + e
			}
		}
	}
	req.Header.Set("Content-Encoding", enc)
	req.Header.Set("X-Amz-Decoded-Content-Length", strconv.FormatInt(n, 10))
	if checksum != "" {
		_, size := checksumHash(checksum)
		req.Header.Set("X-Amz-Trailer", "x-amz-checksum-"+checksum)
		req.ContentLength = awsv4.TrailerLength(n, awsv4.DefaultChunkSize, "x-amz-checksum-"+checksum, size)
		return nil
	}
	req.ContentLength = awsv4.ChunkedLength(n, awsv4.DefaultChunkSize)
	return nil
}

// chunkBody replaces req's body (and GetBody, which the transport may call
// to resend) with its aws-chunked encoding, each chunk signed in turn from
// the seed signature of the request.
func (s *sigV4Signer) chunkBody(req *http.Request, creds aws.Credentials, t time.Time, seed string) {
	date := t.UTC().Format(awsv4.DateFormat)
	chain := awsv4.ChunkChain{
		Key:   awsv4.SigningKey(creds.SecretAccessKey, date, s.region, s.service),
		Time:  t,
		Scope: awsv4.Scope(date, s.region, s.service),
		Prev:  seed,
	}
	n, _ := strconv.ParseInt(req.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64)
	encode := func(rc io.ReadCloser) io.ReadCloser {
		if s.checksum != "" {
			h, _ := checksumHash(s.checksum)
			return awsv4.NewTrailerEncoder(rc, h, "x-amz-checksum-"+s.checksum, awsv4.DefaultChunkSize, n)
		}
		return awsv4.NewChunkEncoder(rc, chain, awsv4.DefaultChunkSize, n)
	}
	req.Body = encode(req.Body)
	if get := req.GetBody; get != nil {
		req.GetBody = func() (io.ReadCloser, error) {
			rc, err := get()
			if err != nil {
				return nil, err
			}
			return encode(rc), nil
		}
	}
	if s.trace != nil && s.checksum != "" {
		s.trace("sigv4: streaming payload (%s): %d bytes in aws-chunked chunks of %d KiB, %d bytes on the wire, x-amz-checksum-%s trailer",
			awsv4.StreamingUnsignedTrailer, n, awsv4.DefaultChunkSize>>10, req.ContentLength, s.checksum)
	} else if s.trace != nil {
		s.trace("sigv4: streaming payload (%s): %d bytes in aws-chunked chunks of %d KiB, %d bytes on the wire, each chunk signed as it is sent",
			awsv4.StreamingPayload, n, awsv4.DefaultChunkSize>>10, req.ContentLength)
	}
}
