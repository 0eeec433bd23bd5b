package googleverify

import (
	"strings"
	"testing"
	"time"
)

// TestValidationCache: a verified Google ID token is not verified again
// until shortly before its exp; refusals are not cached; once expired on the
// gateway clock it is refused.
func TestValidationCache(t *testing.T) {
	g := newGW(t, "")
	av, err := Factory(yamlNode(t, `{kind: google_id, audiences: ["`+g.URL+`/run"], leeway: 0s}`), g.env)
	if err != nil {
		t.Fatal(err)
	}
	v := av.(*Verifier)
	g.mux.Handle("/run/", protect(v))
	start := time.Now()
	g.now.Store(&start)
	tok, err := g.state.Sign(map[string]any{"aud": g.URL + "/run", "sub": "1", "iat": start.Unix(), "exp": start.Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := g.state.Sign(map[string]any{"aud": "https://elsewhere.example", "sub": "1", "iat": start.Unix(), "exp": start.Add(time.Hour).Unix()})
	for i := range 4 {
		if code, e := call(t, g.URL+"/run/", bearerHdr(tok)); code != 200 {
			t.Fatalf("request %d: %d %q", i, code, e.Reason)
		}
	}
	if n := v.SignatureChecks(); n != 1 {
		t.Errorf("4 requests with one token: %d signature checks, want 1", n)
	}
	for range 2 {
		if code, _ := call(t, g.URL+"/run/", bearerHdr(other)); code != 403 {
			t.Fatalf("wrong audience: %d", code)
		}
	}
	if n := v.SignatureChecks(); n != 3 {
		t.Errorf("a refusal was cached: %d signature checks, want 3", n)
	}
	near := start.Add(time.Hour - 10*time.Second)
	g.now.Store(&near)
	if code, e := call(t, g.URL+"/run/", bearerHdr(tok)); code != 200 || v.SignatureChecks() != 4 {
		t.Errorf("10 s before exp: %d %q, %d checks (want a fresh check, 4)", code, e.Reason, v.SignatureChecks())
	}
	after := start.Add(time.Hour + time.Second)
	g.now.Store(&after)
	if code, e := call(t, g.URL+"/run/", bearerHdr(tok)); code != 403 || !strings.Contains(e.Reason, "expired") {
		t.Errorf("after exp: %d %q", code, e.Reason)
	}
}
