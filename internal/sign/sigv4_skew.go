package sign

// Automatic clock-skew correction (docs/auth/sigv4.md, "Clock skew"). AWS
// refuses a SigV4 request whose X-Amz-Date is more than 5 minutes (S3: 15)
// from its own clock. When a request is refused for its time, the signer
// measures the server's clock from the answer (its Date header, or the time
// the body states), re-signs once with that offset, warns once, and keeps
// the offset for the rest of the process (every request of `gwcurl run`).
// The AWS SDKs do the same (aws-sdk-go-v2's retry middleware keeps a clock
// offset); the SDK's middleware is not reachable from a bare v4.Signer, so
// the detection is written out here.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gwcurl/gwcurl/internal/lazyre"
)

// ClockSkew is the offset between this machine's clock and the servers'
// (server − local), measured from a refused request and shared by every
// SigV4 signer of a process. The zero value is ready to use; a nil
// *ClockSkew in Deps turns correction off.
type ClockSkew struct {
	mu     sync.Mutex
	offset time.Duration
}

// Offset is the current correction (0 until one was measured).
func (c *ClockSkew) Offset() time.Duration {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}

// set records an offset and reports whether it changed.
func (c *ClockSkew) set(d time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.offset == d {
		return false
	}
	c.offset = d
	return true
}

// skewDateThreshold: a 403 whose Date is this far off is taken as a time
// refusal even when its body does not say so (AWS allows 5 minutes).
const skewDateThreshold = 4 * time.Minute

// skewMinimum: a measured offset below this cannot explain a refusal, so
// re-signing would not help.
const skewMinimum = 30 * time.Second

// skewReasons are how servers say a request's time was refused: S3's
// RequestTimeTooSkewed, the "Signature expired" of most AWS services,
// "Signature not yet current", and the mock gateway's reason.
var skewReasons = lazyre.New(`RequestTimeTooSkewed|Signature expired|Signature not yet current|off the gateway clock|request time too skewed`)

// serverTimeInBody finds a time the body states: S3's <ServerTime>, the
// mock gateway's gateway_time.
var serverTimeInBody = lazyre.New(`(?:<ServerTime>|"gateway_time"\s*:\s*")([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z)`)

// Retry implements RetryOnResponse: see the file comment.
func (s *sigV4Signer) Retry(_ context.Context, resp *http.Response) bool {
	if s.skew == nil || resp == nil || resp.Request == nil {
		return false
	}
	switch resp.StatusCode {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
	default:
		return false
	}
	if resp.Request.Header.Get("Authorization") == "" {
		return false // presigned or unsigned: nothing to re-sign
	}
	local := s.clock()
	body := peekBody(resp, 16<<10)
	server, _ := time.Parse(http.TimeFormat, resp.Header.Get("Date"))
	if m := serverTimeInBody.FindSubmatch(body); m != nil {
		if t, err := time.Parse(time.RFC3339Nano, string(m[1])); err == nil {
			server = t
		}
	}
	if server.IsZero() {
		return false
	}
	// Date has whole seconds: its reading t means [t, t+1s).
	offset := server.Add(500 * time.Millisecond).Sub(local).Round(time.Second)
	refusedForTime := skewReasons.Match(body) ||
		(resp.StatusCode == http.StatusForbidden && (offset-s.skew.Offset()).Abs() > skewDateThreshold)
	if !refusedForTime || (offset-s.skew.Offset()).Abs() < skewMinimum {
		return false
	}
	if s.skew.set(offset) && s.warn != nil {
		dir := "ahead of"
		if offset < 0 {
			dir = "behind"
		}
		s.warn(fmt.Sprintf("sigv4: the server's clock is %s %s this machine's; signing with the server's time (sync this clock with NTP; --no-skew-correction turns this off)",
			fmtSkew(offset), dir))
	}
	return true
}

// clock is the raw local clock (no correction).
func (s *sigV4Signer) clock() time.Time { return s.now() }

// signingTime is the local clock corrected by the measured skew.
func (s *sigV4Signer) signingTime() time.Time { return s.now().Add(s.skew.Offset()) }

// peekBody reads up to n bytes of resp.Body and puts them back, so the
// caller still sees the whole answer.
func peekBody(resp *http.Response, n int64) []byte {
	if resp.Body == nil || resp.Body == http.NoBody {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, n))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), readerOrErr(resp.Body, err)), resp.Body}
	return b
}

func readerOrErr(r io.Reader, err error) io.Reader {
	if err != nil {
		return errReader{err}
	}
	return r
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// fmtSkew prints an offset as 10m, 10m5s, 45s, 2h3m.
func fmtSkew(d time.Duration) string {
	d = d.Abs().Round(time.Second)
	s := d.String()
	if d >= time.Minute {
		s = strings.TrimSuffix(s, "0s")
	}
	if d >= time.Hour {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
