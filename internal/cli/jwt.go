package cli

import "github.com/gwcurl/gwcurl/internal/jwtclaims"

// jwtClaims decodes a JWT's payload without verifying it (for display only:
// whoami and explain say what a token claims; gateways verify).
func jwtClaims(tok string) (map[string]any, bool) {
	m, err := jwtclaims.Decode(tok)
	return m, err == nil
}
