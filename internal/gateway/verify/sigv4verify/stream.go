package sigv4verify

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gwcurl/gwcurl/internal/awsv4"
	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/rejectcode"
)

// checkChunks verifies an S3 streaming upload (x-amz-content-sha256:
// STREAMING-AWS4-HMAC-SHA256-PAYLOAD) whose seed signature has been
// verified: it decodes the aws-chunked body, checking each chunk signature
// against the chain before its bytes are kept, and the final empty chunk.
// The decoded body is spooled (memory, then an unlinked temp file) and only
// then handed on, so a bad chunk anywhere refuses the whole request with 403
// and the origin never receives part of it. The origin gets the decoded body
// with its real length and SHA-256, and no aws-chunked encoding.
func (v *Verifier) checkChunks(r *http.Request, secret string, cred *credential, reject func(rejectcode.Code, string, ...any) *auth.Rejection) error {
	dl, err := singleHeader(r, "X-Amz-Decoded-Content-Length")
	if err != nil {
		return err
	}
	n, perr := strconv.ParseInt(dl, 10, 64)
	if dl == "" || perr != nil || n < 0 {
		return reject(rejectcode.MalformedSigV4, "a streaming upload needs x-amz-decoded-content-length (got %q)", dl)
	}
	enc, rest := false, []string{}
	for _, val := range r.Header.Values("Content-Encoding") {
		for _, e := range strings.Split(val, ",") {
			switch e = strings.TrimSpace(e); {
			case strings.EqualFold(e, "aws-chunked"):
				enc = true
			case e != "":
				rest = append(rest, e)
			}
		}
	}
	if !enc {
		return reject(rejectcode.MalformedSigV4, "a streaming upload needs Content-Encoding: aws-chunked")
	}
	chain := awsv4.ChunkChain{
		Key:   awsv4.SigningKey(secret, cred.scopeDate, cred.region, cred.service),
		Time:  cred.time,
		Scope: awsv4.Scope(cred.scopeDate, cred.region, cred.service),
		Prev:  cred.signature,
	}
	encoded := r.Body
	if encoded == nil {
		encoded = http.NoBody
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{awsv4.NewChunkDecoder(encoded, chain, n), encoded}
	body, err := v.spool(r)
	if err != nil {
		var rj *auth.Rejection
		if errors.As(err, &rj) && strings.Contains(rj.Reason, awsv4.ErrChunk.Error()) {
			_, detail, _ := strings.Cut(rj.Reason, awsv4.ErrChunk.Error()+": ")
			return reject(rejectcode.ChunkRefused, "streaming upload refused: %s", detail)
		}
		return err
	}
	r.ContentLength = body.n
	r.Header.Del("Content-Length")
	r.Header.Del("X-Amz-Decoded-Content-Length")
	r.Header.Set("X-Amz-Content-Sha256", body.hash)
	if len(rest) > 0 {
		r.Header.Set("Content-Encoding", strings.Join(rest, ","))
	} else {
		r.Header.Del("Content-Encoding")
	}
	return nil
}
