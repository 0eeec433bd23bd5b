// Package jwtclaims decodes what a JWT claims WITHOUT verifying it, with
// golang-jwt's unverified parser. It is for showing and routing (whoami,
// -v traces, which issuer a login token came from, when a cached token
// expires): a client does not hold the issuer's keys; the gateway or the
// service verifies. Never accept a token on what this package returns.
//
// It is a leaf package: client packages (sign, login, cli) and the gateway
// may all import it (docs/testing.md, "Architecture").
package jwtclaims

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Errors Decode returns, by what is wrong with the token.
var (
	ErrNotJWT        = errors.New("not a JWT")
	ErrPayloadBase64 = errors.New("payload is not base64url")
	ErrPayloadJSON   = errors.New("payload is not a JSON object")
)

// parser accepts padded segments too: some issuers pad their base64url.
// exactParser keeps numbers as json.Number, for showing a token as it is.
var (
	parser      = jwt.NewParser(jwt.WithPaddingAllowed())
	exactParser = jwt.NewParser(jwt.WithPaddingAllowed(), jwt.WithJSONNumber())
)

// Decode returns the claims of a compact JWS (numbers as float64), without
// checking its signature, algorithm or any claim.
func Decode(tok string) (map[string]any, error) {
	claims, _, err := decode(tok)
	return claims, err
}

// Into decodes the claims of a compact JWS into v (a pointer to a struct
// with json tags), without checking anything.
func Into(tok string, v any) error {
	_, payload, err := decode(tok)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(payload, v); err != nil {
		return ErrPayloadJSON
	}
	return nil
}

// Parts returns the header and the claims of a compact JWS as they are
// (numbers as json.Number), without checking anything: for explaining a
// token (`gwcurl explain`), where the exact values are shown.
func Parts(tok string) (header, claims map[string]any, err error) {
	c, _, hdr, err := decodeWith(exactParser, tok)
	if err != nil {
		return nil, nil, err
	}
	return hdr, c, nil
}

func decode(tok string) (jwt.MapClaims, []byte, error) {
	c, payload, _, err := decodeWith(parser, tok)
	return c, payload, err
}

func decodeWith(parser *jwt.Parser, tok string) (jwt.MapClaims, []byte, map[string]any, error) {
	tok = strings.TrimSpace(tok)
	if strings.Count(tok, ".") != 2 {
		return nil, nil, nil, ErrNotJWT
	}
	claims := jwt.MapClaims{}
	t, _, err := parser.ParseUnverified(tok, &claims)
	seg := strings.Split(tok, ".")
	payload, perr := parser.DecodeSegment(seg[1])
	var header map[string]any
	switch {
	case perr != nil:
		return nil, nil, nil, ErrPayloadBase64
	case err == nil, errors.Is(err, jwt.ErrTokenUnverifiable):
		// An alg golang-jwt does not know is no reason not to show the
		// claims: they are decoded before the alg is looked up.
	default:
		var obj map[string]any
		if json.Unmarshal(payload, &obj) != nil || obj == nil {
			return nil, nil, nil, ErrPayloadJSON
		}
		var hdr map[string]any
		if h, herr := parser.DecodeSegment(seg[0]); herr != nil || json.Unmarshal(h, &hdr) != nil {
			return nil, nil, nil, ErrNotJWT // the header is wrong
		}
		header = hdr
		// Only the signature is not base64url: the claims were decoded,
		// and nothing here checks the signature.
	}
	if claims == nil {
		return nil, nil, nil, ErrPayloadJSON
	}
	if header == nil && t != nil {
		header = t.Header
	}
	return claims, payload, header, nil
}

// String returns a string claim ("" when absent or not a string).
func String(c map[string]any, name string) string {
	s, _ := c[name].(string)
	return s
}

// Time returns a NumericDate claim (RFC 7519 §2) in whole seconds; ok is
// false when it is absent or not a finite number.
func Time(c map[string]any, name string) (time.Time, bool) {
	var f float64
	switch n := c[name].(type) {
	case float64:
		f = n
	case json.Number:
		var err error
		if f, err = n.Float64(); err != nil {
			return time.Time{}, false
		}
	default:
		return time.Time{}, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// Audience returns the aud claim as a list: JWT allows a string or an
// array of strings (RFC 7519 §4.1.3).
func Audience(c map[string]any) []string {
	switch a := c["aud"].(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, x := range a {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// Bool accepts true and "true" (Google has used both for email_verified).
func Bool(c map[string]any, name string) bool {
	switch v := c[name].(type) {
	case bool:
		return v
	case string:
		return v == "true"
	}
	return false
}

// CheckCrit refuses a header with crit (RFC 7515 §4.1.11): a recipient must
// refuse a token whose crit names an extension it does not understand, and
// gwcurl understands none (no issuer it deals with sets crit).
func CheckCrit(header map[string]any) error {
	crit, ok := header["crit"]
	if !ok {
		return nil
	}
	b, _ := json.Marshal(crit)
	if len(b) > 60 {
		b = append(b[:60], "..."...)
	}
	return fmt.Errorf("token header has crit %s: no critical header extension is understood here (RFC 7515 §4.1.11)", b)
}
