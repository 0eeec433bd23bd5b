package login

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"net/url"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// startResponse is what a magic-link start endpoint may answer (every
// field optional).
type startResponse struct {
	ClientID     string `json:"client_id"`
	ExpiresIn    int    `json:"expires_in"`
	SecurityCode string `json:"security_code"`
}

// loginMagic runs the magic-link login: ask the service to e-mail a link
// bound to this session (loopback redirect_uri + PKCE challenge + state),
// wait for the browser to come back with a code (or for the pasted link),
// exchange the code with the verifier.
func loginMagic(ctx context.Context, o *Options) (*oauth2.Token, error) {
	a := o.Auth
	email := strings.TrimSpace(o.Email)
	if email == "" {
		email = strings.TrimSpace(a.Email)
	}
	// The terminal is read only for what needs it: the address when none
	// is configured, and a pasted link with --no-browser.
	var lines <-chan string
	if o.Interactive && o.Stdin != nil && (email == "" || o.NoBrowser) {
		linesCtx, stopLines := context.WithCancel(ctx)
		defer stopLines()
		lines = readLines(linesCtx, o.Stdin)
	}
	if email == "" && lines != nil {
		fmt.Fprint(o.stderr(), "E-mail address to send the sign-in link to: ")
		select {
		case l := <-lines:
			email = strings.TrimSpace(l)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if email == "" {
		return nil, errors.New("magic-link: no e-mail address: pass --email or set auth.email in the profile")
	}
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email {
		return nil, fmt.Errorf("magic-link: %q is not an e-mail address", email)
	}
	secret, err := o.clientSecret(ctx)
	if err != nil {
		return nil, err
	}
	state, verifier := randomString(), oauth2.GenerateVerifier()
	lb, err := listenLoopback(a.RedirectPort, state, o.stderr())
	if err != nil {
		return nil, err
	}
	defer lb.close()

	sr, err := startMagic(ctx, o, email, lb.redirectURI, oauth2.S256ChallengeFromVerifier(verifier), state)
	if err != nil {
		return nil, err
	}
	clientID := a.ClientID
	if clientID == "" {
		clientID = sr.ClientID
	}
	w := o.stderr()
	fmt.Fprintf(w, "A sign-in link was sent to %s.\n", email)
	if sr.SecurityCode != "" {
		fmt.Fprintf(w, "The e-mail shows the security code %s; use it only if it does.\n", clean(sr.SecurityCode))
	}
	fmt.Fprintln(w, "Open the link in a browser on this machine: it sends the browser back to gwcurl.")
	var paste <-chan string
	if lines != nil && o.NoBrowser {
		paste = lines
		fmt.Fprintln(w, "On another machine? Paste the link from the e-mail here and press Enter.")
	}
	fmt.Fprintf(w, "Waiting for the link to be opened (up to %s)…\n", o.timeout())

	code, err := lb.wait(ctx, paste, func(ctx context.Context, s string) (*url.URL, error) {
		return followMagicLink(ctx, o, s, lb)
	})
	if err != nil {
		return nil, err
	}
	style := oauth2.AuthStyleInParams
	if secret != "" {
		style = oauth2.AuthStyleInHeader
	}
	cfg := &oauth2.Config{ClientID: clientID, ClientSecret: secret, RedirectURL: lb.redirectURI,
		Endpoint: oauth2.Endpoint{TokenURL: a.TokenURL, AuthStyle: style}}
	tok, err := cfg.Exchange(oidc.ClientContext(ctx, o.client()), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, exchangeError(ctx, err)
	}
	rec := &record{Kind: a.Kind, Config: fingerprint(a), ClientID: clientID, TokenURL: a.TokenURL, AuthStyle: style, Email: email}
	p := &provider{}
	if raw, _ := tok.Extra("id_token").(string); raw != "" {
		if err := magicIssuer(ctx, o, rec, raw); err != nil {
			return nil, err
		}
	}
	if err := fillRecord(ctx, o, rec, tok, "", p); err != nil {
		return nil, err
	}
	if rec.Email == "" {
		rec.Email = email
	}
	if err := save(ctx, o, rec); err != nil {
		return nil, err
	}
	return rec.token(), nil
}

// startMagic POSTs the address to the start endpoint.
func startMagic(ctx context.Context, o *Options, email, redirectURI, challenge, state string) (*startResponse, error) {
	body := map[string]string{
		"email": email, "redirect_uri": redirectURI, "code_challenge": challenge,
		"code_challenge_method": "S256", "state": state,
	}
	if o.Auth.ClientID != "" {
		body["client_id"] = o.Auth.ClientID
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.Auth.StartURL, bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("magic-link: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := o.client().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("magic-link: cannot reach the start endpoint: %w", err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	var sr startResponse
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(rb, &e)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		wait := ""
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			wait = " (retry after " + clean(ra) + " s)"
		}
		return nil, fmt.Errorf("magic-link: the service refuses to send another link now%s", wait)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		msg := resp.Status
		if e.Error != "" {
			msg = clean(e.Error)
			if e.Description != "" {
				msg += ": " + clean(e.Description)
			}
		}
		return nil, fmt.Errorf("magic-link: the start endpoint refused: %s", msg)
	}
	_ = json.Unmarshal(rb, &sr)
	return &sr, nil
}

// followMagicLink turns a pasted string into the callback URL: the
// loopback address itself, or the e-mailed link, which is opened here
// without following its redirect (the Location is the callback).
func followMagicLink(ctx context.Context, o *Options, s string, lb *loopback) (*url.URL, error) {
	u, err := url.Parse(strings.Trim(s, "<>\"' "))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("not a link")
	}
	if u.Host == lb.hostPort {
		return u, nil
	}
	if err := checkURL("link", u.String()); err != nil {
		return nil, err
	}
	c := *o.client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot open the link: %w", err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody)) //nolint:errcheck // draining
	resp.Body.Close()
	if resp.StatusCode < 300 || resp.StatusCode > 399 {
		return nil, fmt.Errorf("the link answered %s (used or expired?)", resp.Status)
	}
	loc, err := resp.Location()
	if err != nil {
		return nil, errors.New("the link did not redirect")
	}
	return loc, nil
}

// magicIssuer finds the issuer and keys of a magic-link service's ID
// token: the issuer must be on the token endpoint's origin (the service we
// chose), and publishes its keys by OIDC discovery.
func magicIssuer(ctx context.Context, o *Options, rec *record, raw string) error {
	iss, err := unverifiedIssuer(raw)
	if err != nil {
		return fmt.Errorf("magic-link: %w", err)
	}
	if !sameOrigin(iss, o.Auth.TokenURL) {
		return fmt.Errorf("magic-link: the ID token's issuer %s is not on the token endpoint's origin", iss)
	}
	_, d, err := discoverIssuer(ctx, o, iss)
	if err != nil {
		return fmt.Errorf("magic-link: %w", err)
	}
	rec.Issuer, rec.JWKSURL = iss, d.JWKSURI
	if d.RevocationEndpoint != "" && sameOrigin(d.RevocationEndpoint, o.Auth.TokenURL) {
		rec.RevokeURL = d.RevocationEndpoint
	}
	rec.Algs = d.IDTokenSigningAlgValues
	return nil
}
