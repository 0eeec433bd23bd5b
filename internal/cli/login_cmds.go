package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/gwcurl/gwcurl/internal/demoflow"
	"github.com/gwcurl/gwcurl/internal/login"
	"github.com/gwcurl/gwcurl/internal/profiles"
	"github.com/gwcurl/gwcurl/internal/sign"
)

// loginOpts builds the login library's options for a profile.
func (f *Factory) loginOpts(pc *profileCtx, store profiles.SecretStore) login.Options {
	return login.Options{
		Profile:     pc.name,
		Auth:        pc.auth,
		HTTPClient:  pc.client,
		Now:         f.Now,
		Stderr:      f.IO.ErrOut,
		Stdin:       f.IO.In,
		Interactive: f.IO.CanPrompt() && f.Getenv("CI") == "",
		Store:       store,
		Resolver:    pc.deps.Secrets,
	}
}

// loginStore is where login tokens go: the secret store every command
// reads (the keyring when one answers, else files), or with
// --insecure-storage the file store, which the secret store reads too.
func (f *Factory) loginStore(pc *profileCtx, insecure bool) profiles.SecretStore {
	if insecure {
		return f.fileSecrets()
	}
	return pc.deps.Secrets.Store
}

func (f *Factory) browserLogin(ctx context.Context, pc *profileCtx, o *loginOptions) error {
	lo := f.loginOpts(pc, f.loginStore(pc, o.insecure))
	lo.Browser = f.browserFor(o.noBrowser)
	lo.NoBrowser = o.noBrowser
	lo.Timeout = o.timeout
	lo.Email = o.email
	tok, err := login.Login(ctx, lo)
	if err != nil {
		return loginErr(err, pc.name)
	}
	who := ""
	if sub, email, _, err := login.Identity(tok); err == nil {
		who = firstNonEmpty(email, sub)
	}
	f.loggedIn(pc.name, who, tok.Expiry)
	return nil
}

func (f *Factory) browserLogout(ctx context.Context, pc *profileCtx) error {
	err := login.Logout(ctx, f.loginOpts(pc, pc.deps.Secrets.Store))
	// Also where --insecure-storage or GWCURL_SECRET_STORE=file put it.
	if err2 := login.Logout(ctx, f.loginOpts(pc, f.fileSecrets())); err == nil && err2 != nil && !errors.Is(err2, login.ErrLoginRequired) {
		err = err2
	}
	if errors.Is(err, login.ErrLoginRequired) {
		return nil // nothing to forget
	}
	return err
}

func (f *Factory) browserWhoami(ctx context.Context, pc *profileCtx, id *identity) (*identity, error) {
	tok, err := login.Token(ctx, f.loginOpts(pc, pc.deps.Secrets.Store))
	if err != nil {
		var lr *login.LoginRequiredError
		if errors.As(err, &lr) {
			return nil, &sign.CredentialError{Kind: pc.auth.Kind, Err: err, Hint: lr.Hint()}
		}
		return nil, err
	}
	sub, email, exp, err := login.Identity(tok)
	if err != nil {
		return nil, err
	}
	id.Principal = firstNonEmpty(email, sub)
	id.Expires = timePtr(exp)
	if sub != "" {
		id.Details["subject"] = sub
	}
	if pc.auth.Issuer != "" {
		id.Details["issuer"] = pc.auth.Issuer
	}
	return id, nil
}

func (f *Factory) stsWhoami(ctx context.Context, pc *profileCtx, id *identity) error {
	if pc.auth.Kind != "sts-identity" {
		return fmt.Errorf("unknown auth kind %q", pc.auth.Kind)
	}
	arn, err := sign.STSIdentityARN(ctx, pc.auth, pc.deps)
	if err != nil {
		return err
	}
	id.Principal = arn
	id.Details["format"] = firstNonEmpty(pc.auth.Format, "url")
	id.Details["header"] = firstNonEmpty(pc.auth.Header, sign.DefaultSTSIdentityHeader)
	return nil
}

// demoLogin logs a browser-login profile in headlessly against the demo
// gateway, through the real login code path (loopback listener, PKCE).
func (f *Factory) demoLogin(ctx context.Context, d *demoEnv, profile string) error {
	sub := d.factory(ctx, f, f.IO)
	pc, err := sub.selectProfile(profile, "", nil)
	if err != nil {
		return err
	}
	lo := sub.loginOpts(pc, pc.deps.Secrets.Store)
	lo.Stderr = nil
	return demoflow.Login(ctx, lo, d.base)
}
