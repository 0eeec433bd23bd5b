package cli

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// jwtClaims decodes a JWT's payload without verifying it (for display only:
// whoami and explain say what a token claims; gateways verify).
func jwtClaims(tok string) (map[string]any, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, false
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil, false
	}
	return m, true
}
