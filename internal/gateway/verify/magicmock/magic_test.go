package magicmock_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/magicmock"
)

const (
	email    = "demo@example.com"
	redirect = "http://127.0.0.1:50000/callback"
	verifier = "magic-verifier-0123456789-0123456789-0123456789"
)

type harness struct {
	t   *testing.T
	srv *gatewaytest.Server
	c   *http.Client
	now time.Time
}

func newHarness(t *testing.T, cfg string) *harness {
	h := &harness{t: t, now: time.Now()}
	opts := gateway.Options{Now: func() time.Time { return h.now }}
	if cfg == "" {
		h.srv = gatewaytest.StartDemo(t, opts)
	} else {
		h.srv = gatewaytest.StartYAML(t, cfg, opts)
	}
	c := *h.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	h.c = &c
	return h
}

type answer struct {
	status int
	header http.Header
	body   string
	json   map[string]any
}

func (h *harness) do(method, path, ctype string, body []byte, hdr ...string) answer {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.srv.URL+path, bytes.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := h.c.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
	_ = json.Unmarshal(b, &a.json)
	return a
}

func challenge(v string) string {
	s := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

func (h *harness) start(mod func(map[string]any)) answer {
	h.t.Helper()
	body := map[string]any{"email": email, "redirect_uri": redirect, "code_challenge": challenge(verifier),
		"code_challenge_method": "S256", "state": "st"}
	if mod != nil {
		mod(body)
	}
	b, _ := json.Marshal(body)
	return h.do("POST", magicmock.StartPath, "application/json", b)
}

func (h *harness) mailbox(to string) []magicmock.Message {
	h.t.Helper()
	a := h.do("GET", magicmock.MailboxPath+"?to="+url.QueryEscape(to), "", nil)
	var m []magicmock.Message
	if err := json.Unmarshal([]byte(a.body), &m); err != nil || a.status != 200 {
		h.t.Fatalf("mailbox: %d %s", a.status, a.body)
	}
	return m
}

// open opens a mailed link and returns the code from its redirect.
func (h *harness) open(link string) (string, answer) {
	h.t.Helper()
	u, _ := url.Parse(link)
	a := h.do("GET", u.RequestURI(), "", nil)
	if a.status != http.StatusFound {
		return "", a
	}
	loc, _ := url.Parse(a.header.Get("Location"))
	if !strings.HasPrefix(loc.String(), redirect+"?") || loc.Query().Get("state") != "st" {
		h.t.Fatalf("link redirected to %q", loc)
	}
	return loc.Query().Get("code"), a
}

func (h *harness) exchange(code, v string) answer {
	h.t.Helper()
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {v}, "redirect_uri": {redirect}, "client_id": {"gwcurl-demo-magic"}}
	return h.do("POST", magicmock.TokenPath, "application/x-www-form-urlencoded", []byte(f.Encode()))
}

func TestMagicLinkEndToEnd(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "")
	st := h.start(nil)
	if st.status != http.StatusAccepted || st.json["client_id"] != "gwcurl-demo-magic" || st.json["security_code"] == "" {
		t.Fatalf("start: %d %v", st.status, st.json)
	}
	msgs := h.mailbox(email)
	if len(msgs) != 1 || msgs[0].To != email || msgs[0].Subject == "" || !strings.Contains(msgs[0].Body, msgs[0].Link) ||
		!strings.Contains(msgs[0].Body, st.json["security_code"].(string)) {
		t.Fatalf("mailbox: %+v", msgs)
	}
	code, a := h.open(msgs[0].Link)
	if code == "" {
		t.Fatalf("link: %d %s", a.status, a.body)
	}
	// The link works once.
	if _, a := h.open(msgs[0].Link); a.status != http.StatusGone {
		t.Errorf("second open: %d", a.status)
	}
	tok := h.exchange(code, verifier)
	if tok.status != 200 {
		t.Fatalf("token: %d %v", tok.status, tok.json)
	}
	idt := tok.json["id_token"].(string)
	echo := h.do("GET", "/magic/echo", "", nil, "Authorization", "Bearer "+idt)
	if echo.status != 200 {
		t.Fatalf("/magic/echo: %d %s", echo.status, echo.body)
	}
	if id, _ := echo.json["identity"].(map[string]any); id["principal"] != email {
		t.Errorf("identity %v", echo.json["identity"])
	}
	// The token of one route's issuer is refused on the other's route.
	if a := h.do("GET", "/app/echo", "", nil, "Authorization", "Bearer "+idt); a.status != 403 {
		t.Errorf("magic token on /app: %d %v", a.status, a.json)
	}
	// Refresh, then revoke.
	rt := tok.json["refresh_token"].(string)
	f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"gwcurl-demo-magic"}}
	if a := h.do("POST", magicmock.TokenPath, "application/x-www-form-urlencoded", []byte(f.Encode())); a.status != 200 || a.json["id_token"] == nil {
		t.Errorf("refresh: %d %v", a.status, a.json)
	}
	rv := url.Values{"token": {rt}, "client_id": {"gwcurl-demo-magic"}}
	if a := h.do("POST", magicmock.RevokePath, "application/x-www-form-urlencoded", []byte(rv.Encode())); a.status != 200 {
		t.Errorf("revoke: %d", a.status)
	}
	if a := h.do("POST", magicmock.TokenPath, "application/x-www-form-urlencoded", []byte(f.Encode())); a.json["error"] != "invalid_grant" {
		t.Errorf("refresh after revoke: %d %v", a.status, a.json)
	}
	// DELETE empties the mailbox.
	if a := h.do("DELETE", magicmock.MailboxPath, "", nil); a.status != 204 || len(h.mailbox("")) != 0 {
		t.Errorf("delete mailbox: %d", a.status)
	}
}

func TestMagicLinkRefusals(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "")
	for name, mod := range map[string]func(map[string]any){
		"unregistered redirect": func(b map[string]any) { b["redirect_uri"] = "http://evil.example/callback" },
		"plain PKCE":            func(b map[string]any) { b["code_challenge_method"] = "plain" },
		"no challenge":          func(b map[string]any) { delete(b, "code_challenge") },
		"unknown client":        func(b map[string]any) { b["client_id"] = "nope" },
		"not an address":        func(b map[string]any) { b["email"] = "Demo <demo@example.com>" },
	} {
		if a := h.start(mod); a.status != 400 {
			t.Errorf("%s: %d %v", name, a.status, a.json)
		}
	}
	if n := len(h.mailbox("")); n != 0 {
		t.Errorf("refused starts sent %d messages", n)
	}
	// An unknown address: the same answer, no mail.
	if a := h.start(func(b map[string]any) { b["email"] = "nobody@example.com" }); a.status != http.StatusAccepted || len(h.mailbox("nobody@example.com")) != 0 {
		t.Errorf("unknown address: %d", a.status)
	}
	// A wrong verifier: the code is spent.
	h.start(nil)
	code, _ := h.open(h.mailbox(email)[0].Link)
	if a := h.exchange(code, "x"+verifier[1:]); a.json["error"] != "invalid_grant" {
		t.Errorf("wrong verifier: %v", a.json)
	}
	if a := h.exchange(code, verifier); a.json["error"] != "invalid_grant" {
		t.Errorf("code reused after a failed verifier: %v", a.json)
	}
	// A forged link.
	if _, a := h.open(h.srv.URL + magicmock.VerifyPath + "?token=forged"); a.status != 400 {
		t.Errorf("forged link: %d", a.status)
	}
	// An expired link.
	h.start(nil)
	msgs := h.mailbox(email)
	h.now = h.now.Add(11 * time.Minute)
	if _, a := h.open(msgs[len(msgs)-1].Link); a.status != http.StatusGone {
		t.Errorf("expired link: %d", a.status)
	}
}

func TestMagicLinkRateLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, `
users: [{email: demo@example.com, password: x}]
mocks: {magic: {sends_per_minute: 2}}
routes: [{prefix: /p, auth: {kind: none}, upstream: "builtin:echo"}]
`)
	for i := range 2 {
		if a := h.start(nil); a.status != http.StatusAccepted {
			t.Fatalf("send %d: %d", i, a.status)
		}
	}
	a := h.start(nil)
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
		t.Errorf("third send: %d %v", a.status, a.header)
	}
	if n := len(h.mailbox(email)); n != 2 {
		t.Errorf("%d messages, want 2", n)
	}
	h.now = h.now.Add(31 * time.Second)
	if a := h.start(nil); a.status != http.StatusAccepted {
		t.Errorf("after the wait: %d", a.status)
	}
}
