package jwtverify_test

import (
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/jwtverify"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/jwtverify/idp"
	"github.com/gwcurl/gwcurl/internal/rejectcode"
)

// TestRejectionCodes checks the stable code and the detail fields of each
// refusal (docs/gateway.md, "Rejection codes"), which `gwcurl --explain`
// reads instead of the reason.
func TestRejectionCodes(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	keys := idp.NewKeys("k-")
	env := &auth.Env{Now: func() time.Time { return now }, Shared: map[string]any{}}
	if err := jwtverify.RegisterIssuer(env, iss, keys); err != nil {
		t.Fatal(err)
	}
	sign := func(k *idp.Keys, mod func(map[string]any)) string {
		c := map[string]any{"iss": iss, "sub": "u-1", "aud": "app", "token_use": "id", "iat": now.Unix() - 10, "exp": now.Add(time.Hour).Unix()}
		if mod != nil {
			mod(c)
		}
		s, err := k.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	idV := verifier(t, env, `{kind: jwt, issuer: "`+iss+`", client_id: app, token_use: id}`)
	accessV := verifier(t, env, `{kind: jwt, issuer: "`+iss+`", client_id: app, token_use: access, scopes: [orders/read]}`)
	access := func(mod func(map[string]any)) func(map[string]any) {
		return func(c map[string]any) {
			delete(c, "aud")
			c["token_use"], c["client_id"], c["scope"] = "access", "app", "orders/read"
			mod(c)
		}
	}
	const at = "2027-01-15T09:00:00Z" // now (1_800_000_000 = 08:00Z) + 1h
	for _, tc := range []struct {
		name, header string
		v            auth.Verifier
		code         rejectcode.Code
		details      map[string]string
	}{
		{"missing", "", idV, rejectcode.MissingBearer, map[string]string{"header": "Authorization"}},
		{"not bearer", "Basic x", idV, rejectcode.MalformedToken, nil},
		{"not a JWT", "Bearer abc", idV, rejectcode.MalformedToken, nil},
		{"other key", "Bearer " + sign(idp.NewKeys("other-"), nil), idV, rejectcode.TokenSignatureInvalid, map[string]string{"issuer": iss}},
		{"expired", "Bearer " + sign(keys, func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() }), idV, rejectcode.TokenExpired,
			map[string]string{"at": "2027-01-15T07:00:00Z", "now": "2027-01-15T08:00:00Z"}},
		{"no exp", "Bearer " + sign(keys, func(c map[string]any) { delete(c, "exp") }), idV, rejectcode.MalformedToken, nil},
		{"nbf future", "Bearer " + sign(keys, func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() }), idV, rejectcode.TokenNotYetValid,
			map[string]string{"claim": "nbf", "at": at}},
		{"iat future", "Bearer " + sign(keys, func(c map[string]any) { c["iat"] = now.Add(time.Hour).Unix() }), idV, rejectcode.TokenNotYetValid,
			map[string]string{"claim": "iat", "at": at}},
		{"wrong issuer", "Bearer " + sign(keys, func(c map[string]any) { c["iss"] = "https://evil.example" }), idV, rejectcode.IssuerMismatch,
			map[string]string{"want": iss, "got": "https://evil.example"}},
		{"wrong aud", "Bearer " + sign(keys, func(c map[string]any) { c["aud"] = "other-app" }), idV, rejectcode.AudienceMismatch,
			map[string]string{"want": "app", "got": "other-app"}},
		{"token_use", "Bearer " + sign(keys, func(c map[string]any) { c["token_use"] = "access" }), idV, rejectcode.WrongTokenType,
			map[string]string{"want": "id", "got": "access"}},
		{"client_id", "Bearer " + sign(keys, access(func(c map[string]any) { c["client_id"] = "intruder" })), accessV, rejectcode.AudienceMismatch,
			map[string]string{"want": "app", "got": "intruder"}},
		{"scope", "Bearer " + sign(keys, access(func(c map[string]any) { c["scope"] = "openid" })), accessV, rejectcode.InsufficientScope,
			map[string]string{"want": "orders/read"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, rej, _ := verify(tc.v, tc.header)
			if rej == nil {
				t.Fatal("accepted")
			}
			if rej.Code != tc.code {
				t.Errorf("code %q, want %q (reason %q)", rej.Code, tc.code, rej.Reason)
			}
			for k, want := range tc.details {
				if got, _ := rej.Details[k].(string); got != want {
					t.Errorf("detail %s = %q, want %q", k, got, want)
				}
			}
		})
	}
}
