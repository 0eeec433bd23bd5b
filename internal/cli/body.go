package cli

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"os"
	"strings"
)

// bodySource is a request body that can be opened again for every attempt
// (retries, redirects, and signers that hash the body before sending). Files
// are streamed from disk each time and never read whole into memory; stdin is
// spooled once to a 0600 temp file so it too can be re-read.
type bodySource struct {
	open    func() (io.ReadCloser, error)
	length  int64 // -1 when unknown
	cleanup func()
	label   string // for --print-curl and traces: "@file", "@-", or "" for inline
	inline  []byte // the data when it is small and in memory
	path    string // the file when the body is a file
}

func (b *bodySource) Close() {
	if b != nil && b.cleanup != nil {
		b.cleanup()
	}
}

func bytesBody(data []byte) *bodySource {
	return &bodySource{
		open:   func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		length: int64(len(data)),
		inline: data,
	}
}

// dataBody interprets a -d/--json value: "@file", "@-" (stdin) or literal data.
func dataBody(arg string, stdin io.Reader) (*bodySource, error) {
	if !strings.HasPrefix(arg, "@") {
		return bytesBody([]byte(arg)), nil
	}
	name := arg[1:]
	if name == "-" {
		return spoolStdin(stdin)
	}
	fi, err := os.Stat(name)
	if err != nil {
		return nil, usagef("-d @FILE reads the request body from FILE; use -d @- for stdin", "cannot read %s: %s", name, shortPathErr(err))
	}
	if fi.IsDir() {
		return nil, usagef("-d @FILE needs a file", "%s is a directory", name)
	}
	if !fi.Mode().IsRegular() { // a pipe or device: read it once
		f, err := os.Open(name)
		if err != nil {
			return nil, usagef("", "cannot read %s: %s", name, shortPathErr(err))
		}
		defer f.Close()
		return spoolStdin(f)
	}
	f, err := os.Open(name) // check readability now, not at send time
	if err != nil {
		return nil, usagef("-d @FILE reads the request body from FILE", "cannot read %s: %s", name, shortPathErr(err))
	}
	f.Close()
	return &bodySource{
		open:   func() (io.ReadCloser, error) { return os.Open(name) },
		length: fi.Size(),
		label:  arg,
		path:   name,
	}, nil
}

// spoolStdin copies r to a private temp file so the body can be re-read.
func spoolStdin(r io.Reader) (*bodySource, error) {
	if r == nil {
		return bytesBody(nil), nil
	}
	tmp, err := os.CreateTemp("", "gwcurl-body-*")
	if err != nil {
		return nil, fmt.Errorf("cannot spool stdin: %w", err)
	}
	name := tmp.Name()
	cleanup := func() { os.Remove(name) }
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		cleanup()
		return nil, err
	}
	n, err := io.Copy(tmp, r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("cannot read stdin: %w", err)
	}
	return &bodySource{
		open:    func() (io.ReadCloser, error) { return os.Open(name) },
		length:  n,
		cleanup: cleanup,
		label:   "@-",
		path:    name,
	}, nil
}

// decodeBody undoes a gzip or deflate Content-Encoding; other encodings
// (or none) pass through unchanged.
func decodeBody(encoding string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "gzip", "x-gzip":
		br := bufio.NewReader(r)
		if _, err := br.Peek(1); err != nil {
			return br, nil // an empty body (204, 304)
		}
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, &ExitError{Code: ExitBadEncoding, Err: fmt.Errorf("the answer says gzip but is not: %v", err)}
		}
		return zr, nil
	case "deflate":
		// HTTP's deflate is zlib-wrapped; some servers send raw deflate.
		br := bufio.NewReader(r)
		if hdr, err := br.Peek(2); err == nil && (uint16(hdr[0])<<8|uint16(hdr[1]))%31 == 0 && hdr[0]&0x0f == 8 {
			zr, err := zlib.NewReader(br)
			if err != nil {
				return nil, &ExitError{Code: ExitBadEncoding, Err: fmt.Errorf("the answer says deflate but is not: %v", err)}
			}
			return zr, nil
		}
		return flate.NewReader(br), nil
	}
	return r, nil
}
