package idp

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
)

func TestMatchRedirect(t *testing.T) {
	t.Parallel()
	reg := []string{"http://127.0.0.1/callback", "http://[::1]/callback", "http://localhost:8080/cb", "https://app.example.com/cb", "myapp://done"}
	for got, want := range map[string]bool{
		"http://127.0.0.1/callback":                      true,
		"http://127.0.0.1:1/callback":                    true,
		"http://127.0.0.1:65535/callback":                true,
		"http://[::1]:4000/callback":                     true,
		"http://localhost/cb":                            true,
		"http://localhost:9999/cb":                       true,
		"https://app.example.com/cb":                     true,
		"myapp://done":                                   true,
		"http://127.0.0.1:4000/callback/":                false,
		"http://127.0.0.1:4000/Callback":                 false,
		"http://127.0.0.1:4000/callback?x=1":             false,
		"http://127.0.0.1:4000/callback#x":               false,
		"http://127.0.0.1:65536/callback":                false,
		"http://127.0.0.1:04000/callback":                false,
		"http://127.0.0.1:/callback":                     false,
		"http://user@127.0.0.1:4000/callback":            false,
		"http://localhost:pw@evil.example/cb":            false,
		"http://127.0.0.1.evil.example/callback":         false,
		"http://127.0.0.1%2f@evil.example/callback":      false,
		"http://127.0.0.1:4000\\@evil.example/callback":  false,
		"https://127.0.0.1:4000/callback":                false,
		"http://[::ffff:127.0.0.1]:4000/callback":        false,
		"http://0x7f000001:4000/callback":                false,
		"https://app.example.com/cb/":                    false,
		"https://app.example.com:443/cb":                 false,
		"http://127.0.0.1:4000/%63allback":               false,
		"":                                               false,
		"HTTP://127.0.0.1:4000/callback":                 false,
		"http://127.0.0.1:4000/callback/../callback":     false,
		"http://127.0.0.1:4000/callback\r\nX-Evil: 1":    false,
		"http://127.0.0.1:4000/callback\t":               false,
		"http://127.0.0.1 :4000/callback":                false,
		"http://127.0.0.2:4000/callback":                 false,
		"http://localhost.:4000/cb":                      false,
		"http://LOCALHOST:4000/cb":                       false,
		"http://[::1]:4000/callback?":                    false,
		"http://127.0.0.1:4000//callback":                false,
		"http://127.0.0.1:4000/callback;x":               false,
		"javascript://127.0.0.1/%0aalert(1)":             false,
		"http://127.0.0.1:4000/callback%00":              false,
		"http://127.0.0.1:+4000/callback":                false,
		"http://127.0.0.1:4000/callback?" + "state=1&x=": false,
	} {
		if MatchRedirect(reg, got) != want {
			t.Errorf("MatchRedirect(%q) = %v, want %v", got, !want, want)
		}
	}
}

func TestPKCE(t *testing.T) {
	t.Parallel()
	// RFC 7636 Appendix B.
	v := "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	c := "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	if !ValidChallenge(c) || !VerifyS256(c, v) {
		t.Fatal("RFC 7636 Appendix B vector fails")
	}
	if VerifyS256(c, v[:42]+"x") || VerifyS256(c, v+"x") {
		t.Error("a wrong verifier passes")
	}
	if VerifyS256(v, v) {
		t.Error("plain passes as S256")
	}
	for _, bad := range []string{strings.Repeat("a", 42), strings.Repeat("a", 129), strings.Repeat("a", 42) + "+", strings.Repeat("a", 42) + "="} {
		if ValidVerifier(bad) {
			t.Errorf("ValidVerifier(%q)", bad)
		}
	}
	if ValidChallenge("short") || ValidChallenge(c+"=") {
		t.Error("ValidChallenge accepts a bad challenge")
	}
}

func TestStoreCodes(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	s := NewStore(func() time.Time { return now }, time.Minute)
	ok := func(*Grant) error { return nil }
	code, err := s.IssueCode(Grant{ClientID: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RedeemCode("nope", ok); !errors.Is(err, ErrCodeUnknown) {
		t.Errorf("unknown code: %v", err)
	}
	g, err := s.RedeemCode(code, ok)
	if err != nil || g.ClientID != "c" {
		t.Fatal(g, err)
	}
	_, sess, _ := s.NewSession(Session{ClientID: "c"}, time.Hour)
	s.BindCode(code, sess.ID)
	if _, err := s.RedeemCode(code, ok); !errors.Is(err, ErrCodeReplayed) {
		t.Errorf("replay: %v", err)
	}
	if s.Live(sess.ID) {
		t.Error("the session of a replayed code is still live")
	}
	// A failed check spends the code.
	code, _ = s.IssueCode(Grant{})
	if _, err := s.RedeemCode(code, func(*Grant) error { return errors.New("bad verifier") }); err == nil {
		t.Fatal("check ignored")
	}
	if _, err := s.RedeemCode(code, ok); !errors.Is(err, ErrCodeReplayed) {
		t.Errorf("code reusable after a failed check: %v", err)
	}
	code, _ = s.IssueCode(Grant{})
	now = now.Add(2 * time.Minute)
	if _, err := s.RedeemCode(code, ok); !errors.Is(err, ErrCodeExpired) {
		t.Errorf("expired: %v", err)
	}
}

func TestAuthenticateClient(t *testing.T) {
	t.Parallel()
	pub, _ := NewClient(ClientConfig{ClientID: "pub", CallbackURLs: []string{"http://127.0.0.1/cb"}}, "c", nil)
	conf, _ := NewClient(ClientConfig{ClientID: "conf", ClientSecret: "s e/cret", CallbackURLs: []string{"https://x/cb"}}, "c", nil)
	clients := map[string]*Client{"pub": pub, "conf": conf}
	try := func(form url.Values, user, pass string) error {
		r := httptest.NewRequest("POST", "/token", strings.NewReader(form.Encode()))
		if user != "" {
			r.SetBasicAuth(user, pass)
		}
		_, err := AuthenticateClient(r, form, clients)
		return err
	}
	for name, tc := range map[string]struct {
		form       url.Values
		user, pass string
		ok         bool
	}{
		"public":                 {url.Values{"client_id": {"pub"}}, "", "", true},
		"public with secret":     {url.Values{"client_id": {"pub"}, "client_secret": {"x"}}, "", "", false},
		"basic, form-urlencoded": {url.Values{}, "conf", url.QueryEscape("s e/cret"), true},
		"post":                   {url.Values{"client_id": {"conf"}, "client_secret": {"s e/cret"}}, "", "", true},
		"wrong secret":           {url.Values{"client_id": {"conf"}, "client_secret": {"nope"}}, "", "", false},
		"no secret":              {url.Values{"client_id": {"conf"}}, "", "", false},
		"unknown":                {url.Values{"client_id": {"x"}}, "", "", false},
		"both ways":              {url.Values{"client_secret": {"s e/cret"}}, "conf", url.QueryEscape("s e/cret"), false},
		"basic id differs":       {url.Values{"client_id": {"pub"}}, "conf", url.QueryEscape("s e/cret"), false},
	} {
		if err := try(tc.form, tc.user, tc.pass); (err == nil) != tc.ok {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	t.Parallel()
	users := []auth.User{{Email: "A@example.com", Password: "pw"}}
	if CheckPassword(users, "a@example.com", "pw") == nil || CheckPassword(users, " A@EXAMPLE.com ", "pw") == nil {
		t.Error("the right password is refused")
	}
	if CheckPassword(users, "a@example.com", "PW") != nil || CheckPassword(users, "b@example.com", "pw") != nil || CheckPassword(users, "", "") != nil {
		t.Error("a wrong login passes")
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	k := NewKeys("kid-")
	tok, err := k.Sign(map[string]any{"a": 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.VerifySignature(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k.KeyIDs()[0], "kid-") {
		t.Error(k.KeyIDs())
	}
	if _, err := NewKeys("x").VerifySignature(t.Context(), tok); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("foreign key: %v", err)
	}
	first, again := SubjectFor("i", "a@example.com"), SubjectFor("i", "a@example.com")
	if first != again || SubjectFor("i", "a") == SubjectFor("j", "a") {
		t.Error("SubjectFor is not stable per issuer")
	}
	sum := sha256.Sum256([]byte("at"))
	if AtHash("at") != base64.RawURLEncoding.EncodeToString(sum[:16]) {
		t.Error("at_hash")
	}
}
