package login_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/demo"
	"github.com/gwcurl/gwcurl/internal/demoflow"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/cognitomock"
	"github.com/gwcurl/gwcurl/internal/login"
)

// TestCognitoLoginScriptedBrowser is the acceptance flow with a scripted
// HTTP client as the browser: gwcurl's URL, the mock's login form, the
// redirect to the loopback listener, the verified tokens, /app/echo.
func TestCognitoLoginScriptedBrowser(t *testing.T) {
	t.Parallel()
	e := startDemo(t)
	o := e.opts(t, "demo-cognito")
	var opened []string
	sink := &errSink{}
	browse := demoflow.FormBrowser(context.Background(), e.srv.Client(), demo.UserEmail, demo.UserPassword, sink.set)
	o.Browser = func(u string) error { opened = append(opened, u); return browse(u) }

	tok, err := login.Login(t.Context(), o)
	if err != nil {
		t.Fatalf("login: %v (browser: %v)\n%s", err, sink.get(), e.stderr)
	}
	if len(opened) != 1 || loginURL(t, e.stderr.String()) != opened[0] {
		t.Fatalf("the browser opened %q; stderr:\n%s", opened, e.stderr)
	}
	au, _ := url.Parse(opened[0])
	q := au.Query()
	for k, want := range map[string]string{"client_id": demo.CognitoClientID, "response_type": "code", "code_challenge_method": "S256"} {
		if q.Get(k) != want {
			t.Errorf("authorize %s = %q, want %q", k, q.Get(k), want)
		}
	}
	if len(q.Get("state")) < 43 || len(q.Get("nonce")) < 43 || len(q.Get("code_challenge")) != 43 || !strings.HasPrefix(au.String(), e.srv.URL+cognitomock.AuthorizePath) {
		t.Errorf("authorize URL %s", au)
	}
	ru, _ := url.Parse(q.Get("redirect_uri"))
	if ru.Scheme != "http" || ru.Hostname() != "127.0.0.1" || ru.Path != "/callback" {
		t.Errorf("redirect_uri %s", ru)
	}
	// The library shows the URL; the success line is the CLI's.
	if !strings.Contains(e.stderr.String(), "Opening the browser to log in") || !strings.Contains(e.stderr.String(), au.String()) {
		t.Errorf("stderr:\n%s", e.stderr)
	}
	// One callback only: the listener is gone.
	if c, err := net.DialTimeout("tcp", ru.Host, time.Second); err == nil {
		c.Close()
		t.Error("the loopback listener is still open")
	}
	if id, _ := tok.Extra("id_token").(string); id == "" || tok.RefreshToken == "" || tok.AccessToken == "" {
		t.Fatalf("token %+v", tok)
	}
	if st, m := e.call(t, "/app/echo", tok, o.Auth); st != 200 || principal(m) != demo.UserEmail {
		t.Fatalf("/app/echo: %d %v", st, m)
	}
	// Stored: Token serves it without a browser, and Identity reads it.
	got, err := login.Token(t.Context(), o)
	if err != nil || got.Extra("id_token") != tok.Extra("id_token") {
		t.Fatalf("Token: %v", err)
	}
	sub, email, exp, err := login.Identity(got)
	if err != nil || email != demo.UserEmail || sub == "" || exp.Before(e.clk.now().Add(50*time.Minute)) {
		t.Errorf("Identity: %q %q %v %v", sub, email, exp, err)
	}
	// use_token: access selects the access token, which /app refuses.
	acc := o.Auth
	acc.UseToken = "access"
	if st, m := e.call(t, "/app/echo", got, acc); st != 403 || m["reason"] != "claim token_use: want id, got access" {
		t.Errorf("access token on /app: %d %v", st, m)
	}
}

func TestCognitoRefreshAndLogout(t *testing.T) {
	t.Parallel()
	e := startDemo(t)
	o := e.opts(t, "demo-cognito")
	o.Browser = demoflow.FormBrowser(context.Background(), e.srv.Client(), demo.UserEmail, demo.UserPassword, nil)
	first, err := login.Login(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	// Two hours later the ID token has expired: Token refreshes it.
	e.clk.add(2 * time.Hour)
	tok, err := login.Token(t.Context(), o)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if tok.Extra("id_token") == first.Extra("id_token") || tok.RefreshToken != first.RefreshToken || !tok.Expiry.After(e.clk.now()) {
		t.Fatalf("not refreshed: %+v", tok)
	}
	if st, m := e.call(t, "/app/echo", tok, o.Auth); st != 200 {
		t.Fatalf("refreshed token: %d %v", st, m)
	}
	// A forced refresh, as after a 401.
	if again, err := login.Refresh(t.Context(), o); err != nil || again.Extra("id_token") == tok.Extra("id_token") {
		t.Fatalf("Refresh: %v", err)
	}
	// Logout deletes the tokens and revokes the refresh token.
	if err := login.Logout(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if e.store.len() != 0 {
		t.Error("tokens left in the store")
	}
	form := url.Values{"grant_type": {"refresh_token"}, "client_id": {demo.CognitoClientID}, "refresh_token": {first.RefreshToken}}
	resp, err := e.srv.Client().PostForm(e.srv.URL+cognitomock.TokenPath, form)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	if m["error"] != "invalid_grant" {
		t.Errorf("the refresh token still works after logout: %v", m)
	}
	var lr *login.LoginRequiredError
	if _, err := login.Token(t.Context(), o); !errors.As(err, &lr) || lr.Hint() != "run `gwcurl login -p demo-cognito`" {
		t.Errorf("after logout: %v", err)
	}
	if err := login.Logout(t.Context(), o); err != nil {
		t.Errorf("logout twice: %v", err)
	}
}

// TestNoLoginFailsFast: without a token and with no terminal a request
// fails at once with the hint; it never waits for a browser.
func TestNoLoginFailsFast(t *testing.T) {
	t.Parallel()
	e := startDemo(t)
	for _, p := range []string{"demo-cognito", "demo-magic"} {
		o := e.opts(t, p)
		o.Interactive = false
		start := time.Now()
		_, err := login.Token(t.Context(), o)
		var lr *login.LoginRequiredError
		if !errors.As(err, &lr) || !errors.Is(err, login.ErrLoginRequired) || lr.Hint() != "run `gwcurl login -p "+p+"`" {
			t.Errorf("%s: %v", p, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: took %s", p, d)
		}
	}
	// Tokens stored for other settings do not count.
	o := e.opts(t, "demo-cognito")
	o.Browser = demoflow.FormBrowser(context.Background(), e.srv.Client(), demo.UserEmail, demo.UserPassword, nil)
	if _, err := login.Login(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	o.Auth.ClientID = "another-client"
	if _, err := login.Token(t.Context(), o); !errors.Is(err, login.ErrLoginRequired) || !strings.Contains(err.Error(), "settings changed") {
		t.Errorf("changed profile: %v", err)
	}
}

func TestCognitoLoginTimeout(t *testing.T) {
	t.Parallel()
	e := startDemo(t)
	o := e.opts(t, "demo-cognito")
	o.NoBrowser = true
	o.Browser = func(string) error { t.Error("--no-browser opened a browser"); return nil }
	o.Timeout = 300 * time.Millisecond
	start := time.Now()
	_, err := login.Login(t.Context(), o)
	if !isDeadline(err) || !strings.Contains(err.Error(), "no login completed within 300ms") {
		t.Fatalf("timeout: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %s", d)
	}
	if !strings.Contains(e.stderr.String(), cognitomock.AuthorizePath+"?") {
		t.Errorf("--no-browser must still print the URL:\n%s", e.stderr)
	}
	if e.store.len() != 0 {
		t.Error("a failed login stored something")
	}
}

// TestCognitoLoginRefusals runs the refusals end to end, from gwcurl's side.
func TestCognitoLoginRefusals(t *testing.T) {
	t.Parallel()
	e := startDemo(t)
	noRedirect := *e.srv.Client()
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	// submit posts the form and returns the callback URL the mock redirects to.
	submit := func(u, pw string) (*url.URL, error) {
		form := url.Values{"username": {demo.UserEmail}, "password": {pw}}
		resp, err := noRedirect.PostForm(u, form)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			return nil, errors.New(resp.Status)
		}
		return resp.Location()
	}
	get := func(u string) int {
		resp, err := e.srv.Client().Get(u)
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	t.Run("wrong state is ignored", func(t *testing.T) {
		o := e.opts(t, "demo-cognito")
		o.Profile = "wrong-state"
		sink := &errSink{}
		o.Browser = func(u string) error {
			go func() {
				cb, err := submit(u, demo.UserPassword)
				if err != nil {
					sink.set(err)
					return
				}
				forged := *cb
				q := forged.Query()
				q.Set("state", "attacker-state")
				q.Set("code", "attacker-code")
				forged.RawQuery = q.Encode()
				if st := get(forged.String()); st != 400 {
					sink.set(errors.New("forged callback answered " + http.StatusText(st)))
				}
				if st := get(cb.String()); st != 200 {
					sink.set(errors.New("real callback answered " + http.StatusText(st)))
				}
			}()
			return nil
		}
		if _, err := login.Login(t.Context(), o); err != nil || sink.get() != nil {
			t.Fatalf("login: %v, browser: %v", err, sink.get())
		}
	})

	t.Run("provider error", func(t *testing.T) {
		o := e.opts(t, "demo-cognito")
		o.Profile = "denied"
		o.Browser = func(u string) error {
			go func() {
				au, _ := url.Parse(u)
				ru, _ := url.Parse(au.Query().Get("redirect_uri"))
				ru.RawQuery = url.Values{"error": {"access_denied"}, "error_description": {"User cancelled the login"}, "state": {au.Query().Get("state")}}.Encode()
				get(ru.String())
			}()
			return nil
		}
		_, err := login.Login(t.Context(), o)
		if err == nil || !strings.Contains(err.Error(), "the provider refused the login: access_denied (User cancelled the login)") {
			t.Fatalf("error=: %v", err)
		}
	})

	t.Run("replayed code", func(t *testing.T) {
		// The code is redeemed by someone else before gwcurl: gwcurl's
		// exchange is a replay and fails.
		o := e.opts(t, "demo-cognito")
		o.Profile = "replay"
		o.Browser = func(u string) error {
			go func() {
				cb, err := submit(u, demo.UserPassword)
				if err != nil {
					return
				}
				au, _ := url.Parse(u)
				resp, err := e.srv.Client().PostForm(e.srv.URL+cognitomock.TokenPath, url.Values{"grant_type": {"authorization_code"},
					"client_id": {demo.CognitoClientID}, "code": {cb.Query().Get("code")}, "redirect_uri": {au.Query().Get("redirect_uri")},
					"code_verifier": {"stolen-but-wrong-verifier-0123456789012345678901"}})
				if err == nil {
					resp.Body.Close()
				}
				get(cb.String())
			}()
			return nil
		}
		_, err := login.Login(t.Context(), o)
		if err == nil || !strings.Contains(err.Error(), "the token endpoint refused the authorization code: invalid_grant") {
			t.Fatalf("replayed code: %v", err)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		o := e.opts(t, "demo-cognito")
		o.Profile = "wrong-password"
		o.Timeout = time.Second
		sink := &errSink{}
		o.Browser = demoflow.FormBrowser(context.Background(), e.srv.Client(), demo.UserEmail, "not-the-password", sink.set)
		_, err := login.Login(t.Context(), o)
		if !isDeadline(err) {
			t.Fatalf("wrong password: %v", err)
		}
		if be := sink.get(); be == nil || !strings.Contains(be.Error(), "401 Unauthorized Sign in to gwcurl-demo Incorrect username or password.") {
			t.Errorf("browser: %v", be)
		}
	})

	t.Run("redirect not registered", func(t *testing.T) {
		o := e.opts(t, "demo-cognito")
		o.Profile = "unregistered"
		o.Timeout = time.Second
		sink := &errSink{}
		o.Browser = func(u string) error {
			// The callback is registered on 127.0.0.1 only with path /callback.
			au, _ := url.Parse(u)
			q := au.Query()
			q.Set("redirect_uri", strings.Replace(q.Get("redirect_uri"), "/callback", "/elsewhere", 1))
			au.RawQuery = q.Encode()
			return demoflow.FormBrowser(context.Background(), e.srv.Client(), demo.UserEmail, demo.UserPassword, sink.set)(au.String())
		}
		if _, err := login.Login(t.Context(), o); !isDeadline(err) {
			t.Fatalf("unregistered redirect: %v", err)
		}
		if be := sink.get(); be == nil || !strings.Contains(be.Error(), "400") {
			t.Errorf("browser: %v", be)
		}
	})

	t.Run("interrupted", func(t *testing.T) {
		o := e.opts(t, "demo-cognito")
		o.Profile = "interrupted"
		ctx, cancel := context.WithCancel(t.Context())
		o.Browser = func(string) error { cancel(); return nil }
		if _, err := login.Login(ctx, o); !errors.Is(err, context.Canceled) || isDeadline(err) {
			t.Fatalf("cancel: %v", err)
		}
	})
}

// TestCognitoPastedCallback: --no-browser on a terminal, the browser is on
// another machine and cannot reach the listener; the person pastes the
// address it was sent to.
func TestCognitoPastedCallback(t *testing.T) {
	t.Parallel()
	e := startDemo(t)
	o := e.opts(t, "demo-cognito")
	o.NoBrowser, o.Interactive = true, true
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	o.Stdin = pr
	noRedirect := *e.srv.Client()
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	go func() {
		// Wait for the printed URL, log in "elsewhere", paste the callback.
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) && !printedURL.MatchString(e.stderr.String()) {
			time.Sleep(10 * time.Millisecond)
		}
		u := printedURL.FindStringSubmatch(e.stderr.String())[1]
		resp, err := noRedirect.PostForm(u, url.Values{"username": {demo.UserEmail}, "password": {demo.UserPassword}})
		if err != nil {
			return
		}
		resp.Body.Close()
		io.WriteString(pw, "garbage\n")
		io.WriteString(pw, resp.Header.Get("Location")+"\n")
	}()
	tok, err := login.Login(t.Context(), o)
	if err != nil {
		t.Fatalf("pasted callback: %v\n%s", err, e.stderr)
	}
	if st, _ := e.call(t, "/app/echo", tok, o.Auth); st != 200 {
		t.Errorf("/app/echo: %d", st)
	}
	if !strings.Contains(e.stderr.String(), "paste the address") || !strings.Contains(e.stderr.String(), "That is not usable") {
		t.Errorf("stderr:\n%s", e.stderr)
	}
}

func TestDemoLogin(t *testing.T) {
	t.Parallel()
	e := startDemo(t)
	for _, p := range []string{"demo-cognito", "demo-magic"} {
		o := e.opts(t, p)
		if err := demoflow.Login(t.Context(), o, e.srv.URL); err != nil {
			t.Fatalf("%s: %v\n%s", p, err, e.stderr)
		}
		tok, err := login.Token(t.Context(), o)
		if err != nil {
			t.Fatal(err)
		}
		path := map[string]string{"demo-cognito": "/app/echo", "demo-magic": "/magic/echo"}[p]
		if st, m := e.call(t, path, tok, o.Auth); st != 200 || principal(m) != demo.UserEmail {
			t.Errorf("%s %s: %d %v", p, path, st, m)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		kind, issuer, domain, client, start, token, use, secret string
		port                                                    int
		want                                                    string
	}{
		"ok issuer":        {kind: "cognito", issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_X", client: "c"},
		"ok domain":        {kind: "cognito", domain: "app.auth.us-east-1.amazoncognito.com", client: "c"},
		"ok loopback http": {kind: "cognito", issuer: "http://127.0.0.1:8080/_mock/cognito", client: "c"},
		"no issuer":        {kind: "cognito", client: "c", want: "set auth.issuer"},
		"no client":        {kind: "cognito", issuer: "https://x", want: "client_id is required"},
		"plain http":       {kind: "cognito", issuer: "http://idp.example.com", client: "c", want: "plain http is allowed only to a loopback"},
		"bad use_token":    {kind: "cognito", issuer: "https://x", client: "c", use: "refresh", want: "use_token"},
		"literal secret":   {kind: "cognito", issuer: "https://x", client: "c", secret: "hunter2", want: "secret reference"},
		"bad port":         {kind: "cognito", issuer: "https://x", client: "c", port: 70000, want: "redirect_port"},
		"magic ok":         {kind: "magic-link", start: "https://m.example/start", token: "https://m.example/token"},
		"magic no token":   {kind: "magic-link", start: "https://m.example/start", want: "token_url are required"},
		"other kind":       {kind: "bearer", want: "no browser login"},
	}
	for name, c := range cases {
		a := demoAuth(c.kind, c.issuer, c.domain, c.client, c.start, c.token, c.use, c.secret, c.port)
		err := login.Validate(a)
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

// TestCognitoDomainAndPort: a managed-login domain instead of an issuer
// (the issuer is learned from the verified token), and a fixed
// redirect_port, as a Cognito app client with an exact callback URL needs.
func TestCognitoDomainAndPort(t *testing.T) {
	t.Parallel()
	e := startDemo(t)
	port := freePort(t)
	for name, mod := range map[string]func(*login.Options){
		"domain only":       func(o *login.Options) { o.Auth.Issuer, o.Auth.Domain = "", e.srv.URL+"/_mock/cognito" },
		"domain and issuer": func(o *login.Options) { o.Auth.Domain = e.srv.URL + "/_mock/cognito" },
		"fixed port":        func(o *login.Options) { o.Auth.RedirectPort = port },
	} {
		o := e.opts(t, "demo-cognito")
		o.Profile = name
		mod(&o)
		var opened string
		browse := demoflow.FormBrowser(context.Background(), e.srv.Client(), demo.UserEmail, demo.UserPassword, nil)
		o.Browser = func(u string) error { opened = u; return browse(u) }
		tok, err := login.Login(t.Context(), o)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, e.stderr)
		}
		if st, _ := e.call(t, "/app/echo", tok, o.Auth); st != 200 {
			t.Errorf("%s: /app/echo %d", name, st)
		}
		au, _ := url.Parse(opened)
		ru := au.Query().Get("redirect_uri")
		if name == "fixed port" && ru != "http://127.0.0.1:"+itoa(port)+"/callback" {
			t.Errorf("redirect_uri %s, want port %d", ru, port)
		}
		if _, err := login.Token(t.Context(), o); err != nil {
			t.Errorf("%s: Token: %v", name, err)
		}
	}
}
