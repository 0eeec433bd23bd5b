package mockkeys

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func TestStoreRotationJWKSAndPEM(t *testing.T) {
	s, err := New(Options{Name: "test", Initial: 2})
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.Sign(jwt.MapClaims{"sub": "a"})
	if err != nil {
		t.Fatal(err)
	}
	kids := s.KeyIDs()
	if len(kids) != 2 || len(kids[0]) != 64 || kids[0] == kids[1] {
		t.Fatalf("key ids %q: want two distinct 64-hex fingerprints", kids)
	}
	if p, err := s.VerifySignature(t.Context(), first); err != nil || !strings.Contains(string(p), `"sub":"a"`) {
		t.Fatalf("VerifySignature: %s %v", p, err)
	}
	set, _ := s.JWKS()
	certs, _ := s.PEMCerts()
	for i, k := range set.Keys {
		if k.Kid != kids[i] || k.Kty != "RSA" || k.Alg != "RS256" || k.N == "" || k.E != "AQAB" {
			t.Errorf("jwk %d: %+v", i, k)
		}
		b, _ := pem.Decode([]byte(certs[i].PEM))
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil || certs[i].Kid != kids[i] {
			t.Fatalf("cert %d: %v", i, err)
		}
		if pub, _ := s.PublicKey(kids[i]); !pub.Equal(c.PublicKey) {
			t.Errorf("cert %d holds another key", i)
		}
	}
	// One rotation: the old current key is still accepted; two: it is not.
	if err := s.Rotate(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifySignature(t.Context(), first); err != nil {
		t.Fatalf("after one rotation: %v", err)
	}
	_ = s.Rotate()
	if _, err := s.VerifySignature(t.Context(), first); !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), "unknown signing key") {
		t.Fatalf("after two rotations: %v, want unknown signing key", err)
	}
	// A token signed by the right kid with another key is refused.
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"sub": "a"})
	tok.Header["kid"] = s.KeyIDs()[0]
	forged, _ := tok.SignedString(otherKey)
	if _, err := s.VerifySignature(t.Context(), forged); err == nil || errors.Is(err, ErrUnknownKey) {
		t.Fatalf("forged with a known kid: %v, want a signature error", err)
	}
	if err := s.SetKeyIDs([]string{"x", "x"}); err == nil {
		t.Error("duplicate key ids accepted")
	}
	if err := s.SetKeyIDs([]string{"cur", "prev"}); err != nil || s.KeyIDs()[0] != "cur" {
		t.Errorf("SetKeyIDs: %v %q", err, s.KeyIDs())
	}
}
