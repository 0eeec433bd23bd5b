package sign

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/gwcurl/gwcurl/internal/jwtclaims"
	"github.com/gwcurl/gwcurl/internal/profiles"
)

// Bearer returns a Signer that sets header (default "Authorization") to
// "Bearer <token>" from ts. Every bearer-style credential in gwcurl (Google ID
// tokens, Cloudflare Access app tokens, login tokens, static tokens) is an
// oauth2.TokenSource behind this one Signer.
func Bearer(ts oauth2.TokenSource, header string) Signer {
	if header == "" {
		header = "Authorization"
	}
	return SignerFunc(func(ctx context.Context, req *http.Request) error {
		tok, err := ts.Token()
		if err != nil {
			return err
		}
		req.Header.Set(header, "Bearer "+tok.AccessToken)
		return nil
	})
}

func newBearer(ctx context.Context, a profiles.Auth, d Deps) (Signer, error) {
	if a.Token == "" {
		return nil, Credentialf("bearer", "set auth.token to a secret reference such as env:API_TOKEN", "no token configured")
	}
	tok, err := d.Secrets.Resolve(ctx, d.Profile, "auth.token", a.Token)
	if err != nil {
		return nil, &CredentialError{Kind: "bearer", Err: err, Hint: "check the token reference in the profile"}
	}
	if d.Trace != nil {
		if c := jwtSummary(tok, d.Now); c != "" {
			d.Tracef("bearer token (JWT, not verified by gwcurl): %s", c)
		} else {
			d.Tracef("bearer token: opaque, %d characters", len(tok))
		}
	}
	return Bearer(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok}), a.Header), nil
}

// jwtSummary describes a JWT's identifying claims for -v traces: never the
// token, never its signature.
func jwtSummary(tok string, now func() time.Time) string {
	c, err := jwtclaims.Decode(tok)
	if err != nil {
		return ""
	}
	var out []string
	for _, k := range []string{"iss", "sub", "aud", "email", "token_use", "client_id", "scope"} {
		if v, ok := c[k]; ok {
			out = append(out, fmt.Sprintf("%s=%v", k, v))
		}
	}
	if exp, ok := jwtclaims.Time(c, "exp"); ok {
		t := exp.UTC()
		left := t.Sub(Clock(now)()).Round(time.Second)
		state := "expires in " + left.String()
		if left < 0 {
			state = "EXPIRED " + (-left).String() + " ago"
		}
		out = append(out, fmt.Sprintf("exp=%s (%s)", t.Format(time.RFC3339), state))
	}
	return strings.Join(out, " ")
}
