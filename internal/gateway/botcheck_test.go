package gateway_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/turnstile"
)

// TestTurnstileBotCheck: Cloudflare's published test secrets and dummy
// token behave as documented against the mock siteverify; a token the mock
// widget issued passes once and is refused as spent after.
func TestTurnstileBotCheck(t *testing.T) {
	t.Parallel()
	s := gatewaytest.StartYAML(t, `
routes:
  - {prefix: /pass, auth: {kind: none}, upstream: builtin:echo, bot_check: {kind: turnstile, secret: `+turnstile.SecretPass+`}}
  - {prefix: /fail, auth: {kind: none}, upstream: builtin:echo, bot_check: {kind: turnstile, secret: `+turnstile.SecretFail+`}}
  - {prefix: /spent, auth: {kind: none}, upstream: builtin:echo, bot_check: {kind: turnstile, secret: `+turnstile.SecretSpent+`}}
  - {prefix: /real, auth: {kind: none}, upstream: builtin:echo, bot_check: {kind: turnstile, secret: "env:TS_SECRET", verify_url: "${base_url}/_mock/turnstile/siteverify"}}
`, gateway.Options{Getenv: func(k string) string {
		if k == "TS_SECRET" {
			return "0x4AAAAAAAreal-looking-secret"
		}
		return ""
	}})
	check := func(name string, r result, status int, reason string) {
		t.Helper()
		if r.status != status || !strings.Contains(string(r.body), reason) {
			t.Errorf("%s: %d %s, want %d %q", name, r.status, r.body, status, reason)
		}
	}
	dummy := []string{"cf-turnstile-response", turnstile.DummyToken}
	check("pass + dummy", do(t, "GET", s.URL+"/pass/x", nil, dummy...), 200, "")
	check("pass, no token", do(t, "GET", s.URL+"/pass/x", nil), 403, "no token")
	check("pass + other token", do(t, "GET", s.URL+"/pass/x", nil, "cf-turnstile-response", "abc"), 403, "invalid-input-response")
	check("fail + dummy", do(t, "GET", s.URL+"/fail/x", nil, dummy...), 403, "invalid-input-response")
	check("spent + dummy", do(t, "GET", s.URL+"/spent/x", nil, dummy...), 403, "timeout-or-duplicate")
	check("real + dummy", do(t, "GET", s.URL+"/real/x", nil, dummy...), 403, "invalid-input-response")

	tok := strings.TrimSpace(string(do(t, "GET", s.URL+"/_mock/turnstile/token", nil).body))
	r := do(t, "GET", s.URL+"/real/x", nil, "cf-turnstile-response", tok)
	check("real + issued token", r, 200, "")
	if e := echoOf(t, r); e.Headers["Cf-Turnstile-Response"] != "" {
		t.Errorf("the token reached the origin")
	}
	check("real + spent token", do(t, "GET", s.URL+"/real/x", nil, "cf-turnstile-response", tok), 403, "timeout-or-duplicate")

	// The form field of a page's POST works too, and the body reaches the origin.
	tok = strings.TrimSpace(string(do(t, "GET", s.URL+"/_mock/turnstile/token", nil).body))
	body := "name=x&cf-turnstile-response=" + tok
	r = do(t, "POST", s.URL+"/real/form", strings.NewReader(body), "Content-Type", "application/x-www-form-urlencoded")
	if e := echoOf(t, r); e.Body != body {
		t.Errorf("form body at the origin: %q", e.Body)
	}
	if r := do(t, "POST", s.URL+"/real/form", strings.NewReader(body), "Content-Type", "application/x-www-form-urlencoded"); r.status != http.StatusForbidden {
		t.Errorf("form with a spent token: %d", r.status)
	}
}

func TestTurnstileConfigErrors(t *testing.T) {
	t.Parallel()
	for block, want := range map[string]string{
		`{kind: turnstile, secret: 0x4AAAliteral}`: "must be a reference",
		`{kind: turnstile}`:                        "secret: route /r: required",
		`{kind: recaptcha, secret: "env:X"}`:       "unknown bot check",
		`{kind: turnstile, secret: "env:UNSET_X"}`: "UNSET_X is not set",
	} {
		cfg, err := gateway.ParseConfig("t.yaml", []byte("routes:\n  - prefix: /r\n    auth: {kind: none}\n    upstream: builtin:echo\n    bot_check: "+block+"\n"), "")
		if err == nil {
			_, err = gateway.New(cfg, gateway.Options{BaseURL: "http://127.0.0.1:1", Getenv: func(string) string { return "" }})
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", block, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "0x4AAAliteral") {
			t.Errorf("the error shows the secret: %v", err)
		}
	}
}
