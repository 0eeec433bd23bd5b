package login_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/demo"
	"github.com/gwcurl/gwcurl/internal/demoflow"
	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/magicmock"
	"github.com/gwcurl/gwcurl/internal/login"
)

func mailbox(t *testing.T, e *demoEnv, to string) []magicmock.Message {
	t.Helper()
	resp, err := e.srv.Client().Get(e.srv.URL + magicmock.MailboxPath + "?to=" + url.QueryEscape(to))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m []magicmock.Message
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestMagicLinkLogin: login for demo-magic, the link read from the mailbox
// and opened, logged in, /magic/echo → 200.
func TestMagicLinkLogin(t *testing.T) {
	t.Parallel()
	e := startDemo(t)
	o := e.opts(t, "demo-magic")
	errs := make(chan error, 1)
	go func() { errs <- demoflow.OpenMailboxLink(t.Context(), e.srv.Client(), e.srv.URL, demo.UserEmail, 0) }()
	tok, err := login.Login(t.Context(), o)
	if err != nil {
		t.Fatalf("login: %v\n%s", err, e.stderr)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	msgs := mailbox(t, e, demo.UserEmail)
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	// The link is bound to this login's loopback listener and state.
	if !strings.Contains(e.stderr.String(), "A sign-in link was sent to demo@example.com.") ||
		!strings.Contains(e.stderr.String(), "security code "+msgs[0].SecurityCode) {
		t.Errorf("stderr:\n%s", e.stderr)
	}
	if st, m := e.call(t, "/magic/echo", tok, o.Auth); st != 200 || principal(m) != demo.UserEmail {
		t.Fatalf("/magic/echo: %d %v", st, m)
	}
	if _, email, _, err := login.Identity(tok); err != nil || email != demo.UserEmail {
		t.Errorf("Identity: %q %v", email, err)
	}
	// Refresh and logout work as for cognito.
	e.clk.add(2 * time.Hour)
	tok2, err := login.Token(t.Context(), o)
	if err != nil || tok2.Extra("id_token") == tok.Extra("id_token") {
		t.Fatalf("refresh: %v", err)
	}
	if st, _ := e.call(t, "/magic/echo", tok2, o.Auth); st != 200 {
		t.Errorf("refreshed: %d", st)
	}
	if err := login.Logout(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if _, err := login.Token(t.Context(), o); err == nil {
		t.Error("still logged in after logout")
	}
}

// TestMagicLinkPasted: --no-browser on a terminal; the person pastes the
// e-mailed link, which gwcurl opens itself.
func TestMagicLinkPasted(t *testing.T) {
	t.Parallel()
	e := startDemo(t)
	o := e.opts(t, "demo-magic")
	o.Auth.Email = ""
	o.NoBrowser, o.Interactive = true, true
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	o.Stdin = pr
	go func() {
		io.WriteString(pw, demo.UserEmail+"\n") // the prompt for the address
		for i := 0; i < 500; i++ {
			if m := mailbox(t, e, demo.UserEmail); len(m) > 0 {
				io.WriteString(pw, "<"+m[0].Link+">\n")
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	tok, err := login.Login(t.Context(), o)
	if err != nil {
		t.Fatalf("login: %v\n%s", err, e.stderr)
	}
	if st, _ := e.call(t, "/magic/echo", tok, o.Auth); st != 200 {
		t.Errorf("/magic/echo: %d", st)
	}
	if !strings.Contains(e.stderr.String(), "E-mail address to send the sign-in link to:") || !strings.Contains(e.stderr.String(), "Paste the link") {
		t.Errorf("stderr:\n%s", e.stderr)
	}
}

func TestMagicLinkErrors(t *testing.T) {
	t.Parallel()
	e := startDemo(t)
	o := e.opts(t, "demo-magic")
	o.Auth.Email = ""
	if _, err := login.Login(t.Context(), o); err == nil || !strings.Contains(err.Error(), "no e-mail address: pass --email") {
		t.Errorf("no address: %v", err)
	}
	o.Email = "Demo <demo@example.com>"
	if _, err := login.Login(t.Context(), o); err == nil || !strings.Contains(err.Error(), "not an e-mail address") {
		t.Errorf("bad address: %v", err)
	}
	// A link that is never opened: timeout.
	o.Email = demo.UserEmail
	o.Timeout = 300 * time.Millisecond
	if _, err := login.Login(t.Context(), o); !isDeadline(err) {
		t.Errorf("timeout: %v", err)
	}

	// The service refuses (rate limit), and a link from another login does
	// not complete this one.
	srv := gatewaytest.StartYAML(t, `
users: [{email: demo@example.com, password: x}]
mocks: {magic: {sends_per_minute: 1}}
routes: [{prefix: /magic, auth: {kind: jwt, issuer: "${base_url}/_mock/magic", client_id: gwcurl-demo-magic}, upstream: "builtin:echo"}]
`, gateway.Options{})
	o2 := o
	o2.Auth.StartURL, o2.Auth.TokenURL = srv.URL+magicmock.StartPath, srv.URL+magicmock.TokenPath
	o2.HTTPClient = srv.Client()
	o2.Timeout = 300 * time.Millisecond
	if _, err := login.Login(t.Context(), o2); !isDeadline(err) {
		t.Fatalf("first: %v", err)
	}
	if _, err := login.Login(t.Context(), o2); err == nil || !strings.Contains(err.Error(), "refuses to send another link now (retry after") {
		t.Errorf("rate limited: %v", err)
	}
}

// TestMagicLinkForeignLink: a link sent for another login (another state
// and verifier) reaches this login's listener only if it is on the same
// port; its state is refused.
func TestMagicLinkForeignLink(t *testing.T) {
	t.Parallel()
	e := startDemo(t)
	o := e.opts(t, "demo-magic")
	o.Auth.RedirectPort = freePort(t)
	// Someone else asks for a link to the same address and port.
	body := `{"email":"demo@example.com","redirect_uri":"http://127.0.0.1:` + itoa(o.Auth.RedirectPort) + `/callback","code_challenge":"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM","code_challenge_method":"S256","state":"attacker"}`
	resp, err := e.srv.Client().Post(e.srv.URL+magicmock.StartPath, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	foreign := mailbox(t, e, demo.UserEmail)[0].Link
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := login.Login(ctx, o)
		done <- err
	}()
	// Wait for this login's own message, then open the foreign link first.
	var own string
	for i := 0; i < 500 && own == ""; i++ {
		if m := mailbox(t, e, demo.UserEmail); len(m) == 2 {
			own = m[1].Link
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r, err := e.srv.Client().Get(foreign); err != nil || r.StatusCode != http.StatusBadRequest {
		t.Errorf("foreign link through the listener: %v %v", r.StatusCode, err)
	} else {
		r.Body.Close()
	}
	if r, err := e.srv.Client().Get(own); err != nil || r.StatusCode != 200 {
		t.Fatalf("own link: %v", err)
	} else {
		r.Body.Close()
	}
	if err := <-done; err != nil {
		t.Fatalf("login: %v", err)
	}
}
