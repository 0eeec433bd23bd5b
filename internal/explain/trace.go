package explain

import (
	"fmt"
	"strings"
	"sync"
)

// SigningTrace recovers what the sigv4 signer signed from its -v trace
// (sign.Deps.Trace): the canonical request and the string to sign, for
// Sent.CanonicalRequest and Sent.StringToSign. internal/sign exports them no
// other way. Use its Trace method as Deps.Trace; Next, when set, receives
// every trace line too (the -v output). The session token in the trace's
// canonical request is already redacted; Diagnose treats the redacted value
// as equal to the full one the server shows. Safe for concurrent use.
type SigningTrace struct {
	Next func(format string, args ...any)

	mu               sync.Mutex
	canonicalRequest string
	stringToSign     string
}

// Trace records a trace line and passes it on to Next.
func (t *SigningTrace) Trace(format string, args ...any) {
	if t.Next != nil {
		t.Next(format, args...)
	}
	head, body, ok := strings.Cut(fmt.Sprintf(format, args...), "\n")
	if !ok {
		return
	}
	var dst *string
	switch head {
	case "sigv4: canonical request:":
		dst = &t.canonicalRequest
	case "sigv4: string to sign:":
		dst = &t.stringToSign
	default:
		return
	}
	lines := strings.Split(body, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, "    ") // the trace indents by four spaces
	}
	t.mu.Lock()
	*dst = strings.Join(lines, "\n")
	t.mu.Unlock()
}

// Signed returns the canonical request and string to sign of the last
// signing (a retry re-signs; the last attempt is the one that was answered).
func (t *SigningTrace) Signed() (canonicalRequest, stringToSign string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.canonicalRequest, t.stringToSign
}
