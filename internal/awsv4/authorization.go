package awsv4

import (
	"strconv"
	"strings"
)

// Authorization is a SigV4 Authorization header value, split into its
// parts but not checked further:
//
//	AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=a;b, Signature=HEX
//
// (IAM user guide, "Create a signed AWS API request", step 4). It is the one
// parser of the header: the verifiers, explain and the client's -v trace all
// read it through [ParseAuthorization].
type Authorization struct {
	Algorithm     string // the scheme word: AWS4-HMAC-SHA256, or another the caller refuses
	Credential    string // AKID/DATE/REGION/SERVICE/aws4_request as sent
	SignedHeaders string // "host;x-amz-date" as sent
	Signature     string // hex as sent
}

// AuthProblem is what [ParseAuthorization] found wrong.
type AuthProblem int

// The problems, in the order the parser meets them.
const (
	NotNameValue   AuthProblem = iota + 1 // a comma-separated part has no "="
	UnknownField                          // a part other than Credential, SignedHeaders, Signature
	DuplicateField                        // a field appears twice
	MissingField                          // a field is absent
)

// AuthError is a malformed Authorization header: Problem, and Part, the part
// or field name it concerns, as sent. Error quotes Part cut to 80 bytes, as
// it may be long or hostile.
type AuthError struct {
	Problem AuthProblem
	Part    string
}

func (e *AuthError) Error() string {
	switch e.Problem {
	case NotNameValue:
		return "malformed Authorization header: " + quote(e.Part) + " is not Name=Value"
	case UnknownField:
		return "malformed Authorization header: unexpected field " + quote(e.Part) + " (want Credential, SignedHeaders, Signature)"
	case DuplicateField:
		return "malformed Authorization header: " + e.Part + " appears twice"
	}
	return "malformed Authorization header: " + e.Part + " is missing"
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return strconv.Quote(s)
}

// ParseAuthorization splits a header value into its algorithm and its three
// fields. The algorithm is returned whatever it is, for the caller to accept
// or refuse; the fields must be exactly Credential, SignedHeaders and
// Signature, once each, in any order. On an *AuthError the fields read
// before the problem are returned too, so a diagnosis can still show them.
func ParseAuthorization(h string) (Authorization, error) {
	alg, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	a := Authorization{Algorithm: alg}
	seen := map[string]bool{}
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			return a, &AuthError{NotNameValue, part}
		}
		var dst *string
		switch name {
		case "Credential":
			dst = &a.Credential
		case "SignedHeaders":
			dst = &a.SignedHeaders
		case "Signature":
			dst = &a.Signature
		default:
			return a, &AuthError{UnknownField, name}
		}
		if seen[name] {
			return a, &AuthError{DuplicateField, name}
		}
		seen[name] = true
		*dst = val
	}
	for _, n := range []string{"Credential", "SignedHeaders", "Signature"} {
		if !seen[n] {
			return a, &AuthError{MissingField, n}
		}
	}
	return a, nil
}

// Credential is the Credential field of a SigV4 Authorization header or the
// X-Amz-Credential query parameter, split at its slashes.
type Credential struct {
	AccessKeyID, Date, Region, Service, Terminator string
}

// ParseCredential splits "AKID/DATE/REGION/SERVICE/aws4_request" into its
// five parts; ok is false when there are not exactly five. The parts are
// not checked further.
func ParseCredential(s string) (c Credential, ok bool) {
	p := strings.Split(s, "/")
	if len(p) != 5 {
		return Credential{}, false
	}
	return Credential{p[0], p[1], p[2], p[3], p[4]}, true
}
