package sign

import (
	"strings"
	"time"

	"github.com/gwcurl/gwcurl/internal/jwtclaims"
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
	all, err := jwtclaims.Decode(token)
	if err != nil {
		return nil, err
	}
	c := &GoogleClaims{
		All:             all,
		Issuer:          jwtclaims.String(all, "iss"),
		Subject:         jwtclaims.String(all, "sub"),
		Email:           jwtclaims.String(all, "email"),
		AuthorizedParty: jwtclaims.String(all, "azp"),
		Audience:        strings.Join(jwtclaims.Audience(all), " "),
		EmailVerified:   jwtclaims.Bool(all, "email_verified"),
	}
	c.Expiry, _ = jwtclaims.Time(all, "exp")
	c.IssuedAt, _ = jwtclaims.Time(all, "iat")
	return c, nil
}
