package sign

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// GoogleClaims are the claims of a Google ID token that gwcurl shows
// (`gwcurl whoami`, -v traces).
type GoogleClaims struct {
	Issuer          string         `json:"iss"`
	Audience        string         `json:"aud"`
	Subject         string         `json:"sub"`
	Email           string         `json:"email,omitempty"`
	EmailVerified   bool           `json:"email_verified,omitempty"`
	AuthorizedParty string         `json:"azp,omitempty"`
	IssuedAt        time.Time      `json:"-"`
	Expiry          time.Time      `json:"-"`
	All             map[string]any `json:"-"` // every claim, as decoded
}

// DecodeGoogleIDToken decodes an ID token's claims WITHOUT verifying its
// signature: it is for showing what a token says (the gateway verifies).
func DecodeGoogleIDToken(token string) (*GoogleClaims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, fmt.Errorf("payload is not base64url: %w", err)
	}
	var all map[string]any
	if err := json.Unmarshal(b, &all); err != nil || all == nil {
		return nil, errors.New("payload is not a JSON object")
	}
	c := &GoogleClaims{All: all}
	c.Issuer, _ = all["iss"].(string)
	c.Subject, _ = all["sub"].(string)
	c.Email, _ = all["email"].(string)
	c.AuthorizedParty, _ = all["azp"].(string)
	switch v := all["aud"].(type) {
	case string:
		c.Audience = v
	case []any:
		var auds []string
		for _, a := range v {
			if s, ok := a.(string); ok {
				auds = append(auds, s)
			}
		}
		c.Audience = strings.Join(auds, " ")
	}
	switch v := all["email_verified"].(type) {
	case bool:
		c.EmailVerified = v
	case string:
		c.EmailVerified = v == "true"
	}
	if f, ok := all["exp"].(float64); ok {
		c.Expiry = time.Unix(int64(f), 0)
	}
	if f, ok := all["iat"].(float64); ok {
		c.IssuedAt = time.Unix(int64(f), 0)
	}
	return c, nil
}
