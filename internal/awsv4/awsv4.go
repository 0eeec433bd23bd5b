// Package awsv4 holds the pieces of AWS Signature Version 4 that both sides
// of gwcurl need and that aws-sdk-go-v2 does not export: URI encoding, path
// normalization, query canonicalization from a raw query string, header value
// trimming, the signing-key derivation, and the inference of the signing
// service and region from an AWS host name.
//
// The client signs with aws-sdk-go-v2's v4.Signer; it uses this package only
// to put the request's path and query into a form where what goes on the wire
// and what the SDK signs agree. The gateway's verifier has no SDK to lean on
// (the SDK signs, it never verifies), so it rebuilds the canonical request
// from the raw request with this package.
//
// Rules follow the IAM user guide "Create a signed AWS API request" and the
// behaviour of botocore and aws-c-auth, checked against their test suites.
package awsv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Protocol constants.
const (
	Algorithm       = "AWS4-HMAC-SHA256"
	TimeFormat      = "20060102T150405Z" // X-Amz-Date
	DateFormat      = "20060102"         // credential scope date
	ScopeTerminator = "aws4_request"
	EmptySHA256     = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	UnsignedPayload = "UNSIGNED-PAYLOAD"
	// MaxPresignExpires is the largest X-Amz-Expires AWS accepts (7 days).
	MaxPresignExpires = 604800
)

// Query parameter names of presigned (query) authentication.
const (
	QueryAlgorithm     = "X-Amz-Algorithm"
	QueryCredential    = "X-Amz-Credential"
	QueryDate          = "X-Amz-Date"
	QueryExpires       = "X-Amz-Expires"
	QuerySignedHeaders = "X-Amz-SignedHeaders"
	QuerySignature     = "X-Amz-Signature"
	QuerySecurityToken = "X-Amz-Security-Token"
)

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// URIEncode percent-encodes every byte of s except the unreserved characters
// A-Z a-z 0-9 - . _ ~ (and '/' when keepSlash), with upper-case hex. Space is
// %20, never '+'. Go's url.QueryEscape and url.PathEscape both differ from
// this, which is why it is written out here.
func URIEncode(s string, keepSlash bool) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; !unreserved(c) && !(keepSlash && c == '/') {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hexdig = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || (keepSlash && c == '/') {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexdig[c>>4], hexdig[c&15])
	}
	return string(b)
}

// ErrBadEscape reports a '%' that is not followed by two hex digits.
var ErrBadEscape = errors.New("invalid percent-encoding")

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// DecodePercent decodes %XX escapes. Unlike url.QueryUnescape it leaves '+'
// alone: AWS reads a raw '+' in a query or path as a plus sign, not a space
// (see curl#20543, smithy-rs#4227).
func DecodePercent(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("%w %q", ErrBadEscape, s[i:])
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", fmt.Errorf("%w %q", ErrBadEscape, s[i:i+3])
		}
		b = append(b, hi<<4|lo)
		i += 2
	}
	return string(b), nil
}

// NormalizePath removes "." and ".." segments (RFC 3986 §5.2.4) and collapses
// repeated slashes, as AWS does for every service but S3. An empty path is
// "/". The algorithm is botocore's remove_dot_segments, which the aws-c-auth
// *-normalized vectors agree with.
func NormalizePath(p string) string {
	if p == "" {
		return "/"
	}
	var out []string
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	var b strings.Builder
	if p[0] == '/' {
		b.WriteByte('/')
	}
	b.WriteString(strings.Join(out, "/"))
	if p[len(p)-1] == '/' && len(out) > 0 {
		b.WriteByte('/')
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

// PathMode selects how the canonical URI is derived from the wire path.
type PathMode int

const (
	// PathNormalized is every service but S3: the wire path is normalized
	// and then URI-encoded again ("double encoding": %20 becomes %2520).
	PathNormalized PathMode = iota
	// PathS3 is S3: no normalization, single encoding. The wire path is
	// decoded once and re-encoded, which is what S3 compares against.
	PathS3
	// PathEncodedOnly encodes the wire path again without normalizing it.
	// No AWS service behaves like this; it exists for the "*-unnormalized"
	// vectors of the aws-c-auth suite.
	PathEncodedOnly
)

// CanonicalURI returns the canonical URI for a path exactly as it appears on
// the wire (percent-encoded as sent, without the query).
func CanonicalURI(wirePath string, mode PathMode) (string, error) {
	if wirePath == "" {
		wirePath = "/"
	}
	switch mode {
	case PathS3:
		dec, err := DecodePercent(wirePath)
		if err != nil {
			return "", fmt.Errorf("path: %w", err)
		}
		return URIEncode(dec, true), nil
	case PathEncodedOnly:
		return URIEncode(wirePath, true), nil
	default:
		return URIEncode(NormalizePath(wirePath), true), nil
	}
}

// QueryParam is one decoded query parameter. Bare marks a parameter written
// without '=' ("?versioning"); its canonical form is still "versioning=".
type QueryParam struct {
	Key, Value string
	Bare       bool
}

// ParseQuery splits a raw query string on '&' (only: ';' is data, as AWS
// sees it) and percent-decodes names and values, keeping '+' literal. Empty
// pieces are dropped. A malformed escape is an error rather than a silent
// drop, which is what url.ParseQuery (and so the SDK) would do.
func ParseQuery(raw string) ([]QueryParam, error) {
	if raw == "" {
		return nil, nil
	}
	var params []QueryParam
	for _, piece := range strings.Split(raw, "&") {
		if piece == "" {
			continue
		}
		k, v, hasEq := strings.Cut(piece, "=")
		dk, err := DecodePercent(k)
		if err != nil {
			return nil, fmt.Errorf("query parameter %q: %w", k, err)
		}
		dv, err := DecodePercent(v)
		if err != nil {
			return nil, fmt.Errorf("query parameter %q: %w", dk, err)
		}
		params = append(params, QueryParam{Key: dk, Value: dv, Bare: !hasEq})
	}
	return params, nil
}

// EncodeQuery is the wire form of params: in their order, every name and
// value URI-encoded (%20 for space, %2B for plus), bare names kept bare.
func EncodeQuery(params []QueryParam) string {
	var b strings.Builder
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(URIEncode(p.Key, false))
		if !p.Bare {
			b.WriteByte('=')
			b.WriteString(URIEncode(p.Value, false))
		}
	}
	return b.String()
}

// CanonicalQuery is the canonical query string of params: each name and
// value URI-encoded, sorted by encoded name and then encoded value (sorting
// happens after encoding), "name=value" joined with '&'.
func CanonicalQuery(params []QueryParam) string {
	type kv struct{ k, v string }
	enc := make([]kv, len(params))
	for i, p := range params {
		enc[i] = kv{URIEncode(p.Key, false), URIEncode(p.Value, false)}
	}
	sort.Slice(enc, func(i, j int) bool {
		if enc[i].k != enc[j].k {
			return enc[i].k < enc[j].k
		}
		return enc[i].v < enc[j].v
	})
	var b strings.Builder
	for i, p := range enc {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// TrimAll is the canonical form of one header value: leading and trailing
// whitespace removed and runs of spaces collapsed to one (the IAM guide's
// "Trimall"; aws-sdk-go-v2 and aws-c-auth collapse spaces the same way).
func TrimAll(v string) string {
	v = strings.Trim(v, " \t\r\n")
	if !strings.Contains(v, "  ") {
		return v
	}
	b := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] == ' ' && i > 0 && v[i-1] == ' ' {
			continue
		}
		b = append(b, v[i])
	}
	return string(b)
}

// Scope is the credential scope "date/region/service/aws4_request".
func Scope(date, region, service string) string {
	return date + "/" + region + "/" + service + "/" + ScopeTerminator
}

// HashHex is lowercase hex SHA-256 of b.
func HashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// StringToSign builds the string to sign from the request time, the scope and
// the canonical request.
func StringToSign(t time.Time, scope, canonicalRequest string) string {
	return Algorithm + "\n" + t.UTC().Format(TimeFormat) + "\n" + scope + "\n" + HashHex([]byte(canonicalRequest))
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// SigningKey derives the SigV4 signing key for one day, region and service.
func SigningKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, ScopeTerminator)
}

// Signature is lowercase hex HMAC-SHA256(signingKey, stringToSign).
func Signature(signingKey []byte, stringToSign string) string {
	return hex.EncodeToString(hmacSHA256(signingKey, stringToSign))
}

// IsHexSHA256 reports whether s is 64 lowercase hex digits.
func IsHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Redact shortens a secret-bearing value (a signature, a session token) to a
// short prefix for traces and error messages.
func Redact(s string) string {
	const keep = 6
	if len(s) <= keep {
		return strings.Repeat("*", len(s))
	}
	return s[:keep] + "…"
}
