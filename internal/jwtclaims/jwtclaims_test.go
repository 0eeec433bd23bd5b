package jwtclaims

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestDecode(t *testing.T) {
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "https://issuer.example", "aud": []string{"a", "b"}, "exp": 1700000000, "email_verified": "true",
	}).SignedString([]byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Decode(tok)
	if err != nil {
		t.Fatal(err)
	}
	if String(c, "iss") != "https://issuer.example" || len(Audience(c)) != 2 || !Bool(c, "email_verified") {
		t.Errorf("claims %v", c)
	}
	if exp, ok := Time(c, "exp"); !ok || !exp.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("exp %v %v", exp, ok)
	}
	var s struct {
		Iss string `json:"iss"`
	}
	if err := Into(tok, &s); err != nil || s.Iss != "https://issuer.example" {
		t.Errorf("Into: %v %q", err, s.Iss)
	}
	// An alg golang-jwt does not know still shows the claims.
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"XY999"}`))
	pl := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"u"}`))
	if c, err := Decode(hdr + "." + pl + ".sig"); err != nil || String(c, "sub") != "u" {
		t.Errorf("unknown alg: %v %v", c, err)
	}
	// Padded segments are accepted.
	if c, err := Decode(hdr + "." + base64.URLEncoding.EncodeToString([]byte(`{"sub":"pad"}`)) + ".sig"); err != nil || String(c, "sub") != "pad" {
		t.Errorf("padded: %v %v", c, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256"}`))
	for tok, want := range map[string]error{
		"abc":            ErrNotJWT,
		"a.b.c.d":        ErrNotJWT,
		hdr + ".!!!.sig": ErrPayloadBase64,
		hdr + "." + base64.RawURLEncoding.EncodeToString([]byte(`[1]`)) + ".s":  ErrPayloadJSON,
		hdr + "." + base64.RawURLEncoding.EncodeToString([]byte(`null`)) + ".s": ErrPayloadJSON,
		"!!!." + base64.RawURLEncoding.EncodeToString([]byte(`{}`)) + ".s":      ErrNotJWT,
	} {
		if _, err := Decode(tok); !errors.Is(err, want) {
			t.Errorf("%q: %v, want %v", tok, err, want)
		}
	}
}

// Parts gives the header too, and numbers exactly as sent.
func TestParts(t *testing.T) {
	tk := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"exp": 1700000000, "big": 9007199254740993})
	tk.Header["kid"] = "k1"
	tok, err := tk.SignedString([]byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	hdr, c, err := Parts(tok)
	if err != nil {
		t.Fatal(err)
	}
	if hdr["kid"] != "k1" || hdr["alg"] != "HS256" {
		t.Errorf("header %v", hdr)
	}
	if n, ok := c["big"].(json.Number); !ok || n.String() != "9007199254740993" {
		t.Errorf("big = %#v, want the exact json.Number", c["big"])
	}
	if exp, ok := Time(c, "exp"); !ok || !exp.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("exp %v %v", exp, ok)
	}
	if _, _, err := Parts("a.b"); !errors.Is(err, ErrNotJWT) {
		t.Errorf("two parts: %v", err)
	}
}
