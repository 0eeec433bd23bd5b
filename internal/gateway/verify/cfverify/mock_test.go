package cfverify

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/nacl/box"
)

// checkCertsMatchKeys parses each PEM certificate of the certs document and
// checks that it holds the same RSA key as the JWK with its kid.
func checkCertsMatchKeys(body []byte) error {
	var doc struct {
		Keys        []struct{ Kid, N, E string }
		PublicCerts []struct{ Kid, Cert string } `json:"public_certs"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return err
	}
	for _, c := range doc.PublicCerts {
		block, _ := pem.Decode([]byte(c.Cert))
		if block == nil {
			return fmt.Errorf("kid %s: no PEM block", c.Kid)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return err
		}
		if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
			return fmt.Errorf("kid %s: not self-signed: %v", c.Kid, err)
		}
		pub, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("kid %s: not RSA", c.Kid)
		}
		found := false
		for _, k := range doc.Keys {
			if k.Kid != c.Kid {
				continue
			}
			n, err := base64.RawURLEncoding.DecodeString(k.N)
			if err != nil {
				return err
			}
			found = new(big.Int).SetBytes(n).Cmp(pub.N) == 0 && k.E == "AQAB" && pub.E == 65537
		}
		if !found {
			return fmt.Errorf("kid %s: certificate key does not match the JWK", c.Kid)
		}
	}
	return nil
}

// cliKey is a CLI's ephemeral box key pair, as cloudflared makes one.
type cliKey struct {
	pub, priv *[32]byte
	id        string
}

func newCLIKey(t *testing.T) cliKey {
	t.Helper()
	pub, priv, err := box.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return cliKey{pub, priv, base64.URLEncoding.EncodeToString(pub[:])}
}

func (h *harness) form(vals url.Values) (*http.Response, string) {
	h.t.Helper()
	req, err := http.NewRequestWithContext(h.t.Context(), "POST", h.srv.URL+CLIPath, strings.NewReader(vals.Encode()))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// open decrypts a transfer response as the CLI does.
func open(t *testing.T, k cliKey, resp *http.Response, body []byte) transferPayload {
	t.Helper()
	sealed, err := base64.StdEncoding.DecodeString(string(body))
	if err != nil {
		t.Fatal(err)
	}
	spk, err := base64.URLEncoding.DecodeString(resp.Header.Get(HeaderServicePublicKey))
	if err != nil || len(spk) != 32 {
		t.Fatalf("service-public-key %q: %v", resp.Header.Get(HeaderServicePublicKey), err)
	}
	var nonce [24]byte
	copy(nonce[:], sealed[:24])
	msg, ok := box.Open(nil, sealed[24:], &nonce, (*[32]byte)(spk), k.priv)
	if !ok {
		t.Fatal("cannot decrypt the transfer")
	}
	var p transferPayload
	if err := json.Unmarshal(msg, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCLILogin(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false)
	h.st.hold = 50 * time.Millisecond
	k := newCLIKey(t)
	q := url.Values{"aud": {demoAUD}, "token": {k.id}, "redirect_url": {h.srv.URL + "/admin/"}, "send_org_token": {"true"}, "edge_token_transfer": {"true"}}

	// Bad requests.
	for _, bad := range []url.Values{
		{"aud": {strings.Repeat("0", 64)}, "token": {k.id}},
		{"aud": {demoAUD}, "token": {"short"}},
		{"aud": {demoAUD}},
	} {
		if resp, body := h.do("GET", CLIPath+"?"+bad.Encode(), nil); resp.StatusCode != 400 {
			t.Errorf("%v: %d %s", bad, resp.StatusCode, body)
		}
	}

	// The login page is a username/password form carrying the request.
	resp, body := h.do("GET", CLIPath+"?"+q.Encode(), nil)
	page := string(body)
	if resp.StatusCode != 200 || !strings.Contains(page, `name="username"`) || !strings.Contains(page, `name="password"`) ||
		!strings.Contains(page, `value="`+k.id+`"`) || !strings.Contains(page, "gwcurl-demo.cloudflareaccess.com") {
		t.Fatalf("%d %s", resp.StatusCode, page)
	}

	// Polling before the login: nothing yet.
	if resp, body := h.do("GET", TransferPath+k.id, nil); resp.StatusCode != 404 {
		t.Fatalf("early poll: %d %s", resp.StatusCode, body)
	}

	// A wrong password shows the form again.
	form := url.Values{"aud": {demoAUD}, "token": {k.id}, "username": {"demo@example.com"}, "password": {"other-password"}}
	if resp, page := h.form(form); resp.StatusCode != 401 || !strings.Contains(page, "Incorrect email or password") || strings.Contains(page, "other-password") {
		t.Fatalf("wrong password: %d %s", resp.StatusCode, page)
	}
	if resp, _ := h.do("GET", TransferPath+k.id, nil); resp.StatusCode != 404 {
		t.Fatalf("a failed login completed the transfer")
	}

	// The right password (email case-insensitive) completes it.
	form.Set("username", "Demo@Example.com")
	form.Set("password", "demo-password")
	if resp, page := h.form(form); resp.StatusCode != 200 || !strings.Contains(page, "you can close this tab") {
		t.Fatalf("login: %d %s", resp.StatusCode, page)
	}
	resp, body = h.do("GET", TransferPath+k.id, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("poll: %d %s", resp.StatusCode, body)
	}
	p := open(t, k, resp, body)
	claims := oidcVerify(t, h, p.AppToken)
	if claims["email"] != "demo@example.com" || claims["sub"] == "" || claims["common_name"] != nil {
		t.Errorf("app token claims = %v", claims)
	}

	// The transfer is one-shot.
	if resp, _ := h.do("GET", TransferPath+k.id, nil); resp.StatusCode != 404 {
		t.Errorf("second poll: %d", resp.StatusCode)
	}

	// The app token opens the route as the user.
	resp, body = h.do("GET", "/admin/me", map[string]string{HeaderToken: p.AppToken})
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var e echo
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatal(err)
	}
	if e.Identity.Principal != "demo@example.com" || e.Headers.Get(HeaderUserEmail) != "demo@example.com" {
		t.Errorf("identity %+v headers %v", e.Identity, e.Headers)
	}

	// The org token is not an application token.
	if resp, body := h.do("GET", "/admin/me", map[string]string{HeaderToken: p.OrgToken}); resp.StatusCode != 403 {
		t.Errorf("org token accepted: %s", body)
	}
}

// TestLongPoll: a poll waiting on the endpoint returns as soon as the
// person logs in, not at the end of the hold.
func TestLongPoll(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false)
	h.st.hold = 30 * time.Second
	k := newCLIKey(t)
	type result struct {
		resp *http.Response
		body []byte
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		resp, err := h.srv.Client().Get(h.srv.URL + TransferPath + strings.TrimRight(k.id, "=")) // unpadded works too
		if err != nil {
			done <- result{}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		done <- result{resp, b}
	}()
	time.Sleep(100 * time.Millisecond)
	resp, page := h.form(url.Values{"aud": {demoAUD}, "token": {k.id}, "username": {"other@example.com"}, "password": {"other-password"}})
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d %s", resp.StatusCode, page)
	}
	r := <-done
	if r.resp == nil || r.resp.StatusCode != 200 {
		t.Fatalf("long poll failed: %+v", r)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("long poll waited for the hold")
	}
	if p := open(t, k, r.resp, r.body); oidcVerify(t, h, p.AppToken)["email"] != "other@example.com" {
		t.Errorf("wrong user")
	}
}

func TestUnknownMockPath(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false)
	if resp, _ := h.do("GET", MockPrefix+"nope", nil); resp.StatusCode != 404 {
		t.Errorf("status %d", resp.StatusCode)
	}
	if resp, _ := h.do("GET", TransferPath+"not-a-key", nil); resp.StatusCode != 400 {
		t.Errorf("status %d", resp.StatusCode)
	}
}

// stdlibVerify verifies an RS256 JWT against the JWKS at certsURL using only
// the standard library, and checks exp/nbf against now (unless zero).
func stdlibVerify(ctx context.Context, c *http.Client, certsURL, raw string, now time.Time) (map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", certsURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var jwks struct {
		Keys []struct{ Kid, Kty, N, E string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&jwks); err != nil {
		return nil, err
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("not a JWS compact serialization")
	}
	var header struct{ Alg, Kid string }
	if err := decodeSegment(parts[0], &header); err != nil {
		return nil, err
	}
	if header.Alg != "RS256" {
		return nil, fmt.Errorf("alg %q", header.Alg)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	verified := false
	for _, k := range jwks.Keys {
		if k.Kid != header.Kid || k.Kty != "RSA" {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(k.N)
		e, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bad JWK")
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		verified = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) == nil
	}
	if !verified {
		return nil, fmt.Errorf("signature does not verify with kid %q", header.Kid)
	}
	var claims map[string]any
	if err := decodeSegment(parts[1], &claims); err != nil {
		return nil, err
	}
	if !now.IsZero() {
		exp, _ := claims["exp"].(float64)
		nbf, _ := claims["nbf"].(float64)
		if int64(exp) <= now.Unix() || int64(nbf) > now.Unix() {
			return nil, fmt.Errorf("outside its validity (exp %v, nbf %v)", exp, nbf)
		}
	}
	return claims, nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func audContains(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		for _, x := range a {
			if x == want {
				return true
			}
		}
	}
	return false
}
