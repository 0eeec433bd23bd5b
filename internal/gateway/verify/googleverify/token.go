package googleverify

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gwcurl/gwcurl/internal/jwtclaims"
)

// rawJWT is a compact JWS decoded by golang-jwt, before any trust
// decision.
//
// The verifier takes the steps of jwt.Parse one by one (decode, alg,
// key by kid, signature, claims) so that each refusal can name exactly what
// failed ("alg HS256 not allowed", "unknown key id", "claim aud: want X,
// got Y"); decoding and the RS256 signature check are golang-jwt's.
type rawJWT struct {
	header       map[string]any
	claims       map[string]any
	signingInput string // base64url(header) "." base64url(payload)
	sig          []byte
}

// maxTokenLen bounds what we are willing to decode; Google ID tokens are
// about 1 KiB.
const maxTokenLen = 16 << 10

// parser keeps numbers as json.Number, so NumericDates are checked exactly.
var parser = jwt.NewParser(jwt.WithJSONNumber())

func splitJWT(tok string) (*rawJWT, error) {
	if len(tok) > maxTokenLen {
		return nil, fmt.Errorf("token is %d bytes, longer than %d", len(tok), maxTokenLen)
	}
	if n := strings.Count(tok, ".") + 1; n != 3 {
		return nil, fmt.Errorf("token is not a JWT (%d dot-separated parts, want 3)", n)
	}
	claims := jwt.MapClaims{}
	t, parts, err := parser.ParseUnverified(tok, &claims)
	// An unknown or missing alg (ErrTokenUnverifiable) is refused by the
	// verifier with its own words; the rest was decoded.
	if err != nil && !errors.Is(err, jwt.ErrTokenUnverifiable) {
		return nil, err
	}
	if t.Header == nil {
		return nil, errors.New("token header is not a JSON object")
	}
	if err := jwtclaims.CheckCrit(t.Header); err != nil {
		return nil, err
	}
	if claims == nil {
		return nil, errors.New("token payload is not a JSON object")
	}
	return &rawJWT{header: t.Header, claims: claims, signingInput: parts[0] + "." + parts[1], sig: t.Signature}, nil
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
func (r *rawJWT) audiences() []string { return jwtclaims.Audience(r.claims) }

// boolClaim accepts true and "true" (Google has used both for
// email_verified).
func (r *rawJWT) boolClaim(name string) bool { return jwtclaims.Bool(r.claims, name) }

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
