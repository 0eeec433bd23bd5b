package googleverify

import (
	"bytes"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// rawJWT is a compact JWS split into its parts, before any trust decision.
//
// The verifier splits tokens itself (rather than calling jwt.Parse) so that
// each refusal can name exactly what failed ("alg HS256 not allowed",
// "unknown key id", "claim aud: want X, got Y"); the signature itself is
// checked by golang-jwt's RS256 implementation.
type rawJWT struct {
	header       map[string]any
	claims       map[string]any
	signingInput string // base64url(header) "." base64url(payload)
	sig          []byte
}

// maxTokenLen bounds what we are willing to decode; Google ID tokens are
// about 1 KiB.
const maxTokenLen = 16 << 10

func splitJWT(tok string) (*rawJWT, error) {
	if len(tok) > maxTokenLen {
		return nil, fmt.Errorf("token is %d bytes, longer than %d", len(tok), maxTokenLen)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("token is not a JWT (%d dot-separated parts, want 3)", len(parts))
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, errors.New("token header is not base64url")
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, errors.New("token payload is not base64url")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, errors.New("token signature is not base64url")
	}
	r := &rawJWT{signingInput: parts[0] + "." + parts[1], sig: sig}
	if err := decodeObject(hb, &r.header); err != nil {
		return nil, fmt.Errorf("token header is not a JSON object: %v", err)
	}
	if crit, ok := r.header["crit"]; ok {
		// RFC 7515 §4.1.11: a recipient must refuse a token whose crit
		// names an extension it does not understand; this one understands
		// none (Google never sets crit).
		b, _ := json.Marshal(crit)
		if len(b) > 60 {
			b = append(b[:60], "..."...)
		}
		return nil, fmt.Errorf("token header has crit %s: no critical header extension is understood here (RFC 7515 §4.1.11)", b)
	}
	if err := decodeObject(pb, &r.claims); err != nil {
		return nil, fmt.Errorf("token payload is not a JSON object: %v", err)
	}
	return r, nil
}

func decodeObject(b []byte, v *map[string]any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if *v == nil {
		return errors.New("null")
	}
	if d.More() {
		return errors.New("trailing data")
	}
	return nil
}

func (r *rawJWT) alg() string { s, _ := r.header["alg"].(string); return s }
func (r *rawJWT) kid() string { s, _ := r.header["kid"].(string); return s }

// verifyRS256 checks the signature with pub (PKCS #1 v1.5, SHA-256).
func (r *rawJWT) verifyRS256(pub *rsa.PublicKey) error {
	return jwt.SigningMethodRS256.Verify(r.signingInput, r.sig, pub)
}

// str returns a string claim ("" when absent or not a string).
func (r *rawJWT) str(name string) string { s, _ := r.claims[name].(string); return s }

// numericDate returns a NumericDate claim. ok is false when the claim is
// absent; err is set when it is present but not a number.
func (r *rawJWT) numericDate(name string) (t time.Time, ok bool, err error) {
	v, present := r.claims[name]
	if !present {
		return time.Time{}, false, nil
	}
	var f float64
	switch n := v.(type) {
	case json.Number:
		f, err = n.Float64()
	case float64:
		f = n
	default:
		err = errors.New("not a number")
	}
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return time.Time{}, true, fmt.Errorf("claim %s is not a valid NumericDate", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

// audiences returns the aud claim as a list (JWT allows a string or an array).
func (r *rawJWT) audiences() []string {
	switch v := r.claims["aud"].(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// boolClaim accepts true and "true" (Google has used both for
// email_verified).
func (r *rawJWT) boolClaim(name string) bool {
	switch v := r.claims[name].(type) {
	case bool:
		return v
	case string:
		return v == "true"
	}
	return false
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
