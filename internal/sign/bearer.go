package sign

import (
	"context"
	"net/http"

	"golang.org/x/oauth2"

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
	return Bearer(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok}), a.Header), nil
}
