package sigv4verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/gwcurl/gwcurl/internal/awsv4"
	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/rejectcode"
)

// bodyHash is the SHA-256 of a request body that has been read and put back.
type bodyHash struct {
	hash string
	n    int64
}

// spool reads r.Body once, hashing it as it goes, and replaces it with an
// equivalent unread body: in memory up to SpoolMemory bytes, beyond that in
// a temporary file that is unlinked at once (on Unix) so nothing is left
// behind whatever the origin does with the body. The gateway's body limit
// has already refused or capped oversized bodies; a *http.MaxBytesError is
// returned as is, so the frame answers 413.
func (v *Verifier) spool(r *http.Request) (*bodyHash, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return &bodyHash{hash: awsv4.EmptySHA256}, nil
	}
	h := sha256.New()
	var mem bytes.Buffer
	src := r.Body
	n, err := io.Copy(io.MultiWriter(h, &mem), io.LimitReader(src, v.opts.SpoolMemory+1))
	if err != nil {
		return nil, bodyErr(err)
	}
	if n <= v.opts.SpoolMemory {
		src.Close()
		r.Body = io.NopCloser(bytes.NewReader(mem.Bytes()))
		return &bodyHash{hash: hex.EncodeToString(h.Sum(nil)), n: n}, nil
	}
	f, err := os.CreateTemp(v.opts.TempDir, "gwcurl-sigv4-body-*")
	if err != nil {
		return nil, fmt.Errorf("spool request body: %w", err)
	}
	name := f.Name()
	unlinked := os.Remove(name) == nil // Unix: the open file lives on, the name is gone
	tf := &tempBody{f: f}
	if !unlinked {
		tf.name = name
	}
	if _, err := f.Write(mem.Bytes()); err != nil {
		tf.Close()
		return nil, fmt.Errorf("spool request body: %w", err)
	}
	m, err := io.Copy(io.MultiWriter(h, f), src)
	if err != nil {
		tf.Close()
		return nil, bodyErr(err)
	}
	src.Close()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		tf.Close()
		return nil, fmt.Errorf("spool request body: %w", err)
	}
	r.Body = tf
	return &bodyHash{hash: hex.EncodeToString(h.Sum(nil)), n: n + m}, nil
}

func bodyErr(err error) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return err
	}
	return auth.Reject(rejectcode.BadBody, "reading the request body failed: %v", err)
}

// tempBody is a spooled body on disk; Close removes the file if it could
// not be unlinked while open (Windows).
type tempBody struct {
	f    *os.File
	name string
}

func (t *tempBody) Read(p []byte) (int, error) { return t.f.Read(p) }

func (t *tempBody) Close() error {
	err := t.f.Close()
	if t.name != "" {
		os.Remove(t.name)
	}
	return err
}
