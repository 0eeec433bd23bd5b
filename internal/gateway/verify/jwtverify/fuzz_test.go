package jwtverify_test

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/jwtverify"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/jwtverify/idp"
)

// The seeds run in every `go test`; fuzz with
//
//	go test -run '^$' -fuzz '^FuzzJWT$' -fuzztime 1m -parallel 1 ./internal/gateway/verify/jwtverify/

// FuzzJWT: any Authorization value is refused with a 4xx and a reason,
// unless it is the genuine token.
func FuzzJWT(f *testing.F) {
	keys := idp.NewKeys("fz-")
	iss := "https://issuer.test"
	env := &auth.Env{Shared: map[string]any{}}
	if err := jwtverify.RegisterIssuer(env, iss, keys); err != nil {
		f.Fatal(err)
	}
	v := verifier(f, env, `{kind: jwt, issuer: "`+iss+`", client_id: c}`)
	good, err := keys.Sign(map[string]any{"iss": iss, "aud": "c", "sub": "s", "exp": time.Now().Add(time.Hour).Unix()})
	if err != nil {
		f.Fatal(err)
	}
	seg := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, s := range []string{
		"Bearer " + good[:len(good)-2] + "AA", "Bearer a.b.c", "Basic x", "bearer  ", "Bearer " + seg(`{"alg":"none"}`) + "." + seg(`{"iss":"`+iss+`"}`) + ".",
		"Bearer " + seg(`{"alg":"RS256","crit":["b64"],"b64":false}`) + "." + seg(`{"iss":"`+iss+`"}`) + ".AA",
		"Bearer " + seg(`{"alg":"RS256"}`) + "." + seg(`{"iss":"`+iss+`","nbf":"x"}`) + ".AA",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		id, rej, _ := verify(v, header)
		if header == "Bearer "+good {
			return
		}
		if rej == nil || rej.Reason == "" || rej.Status < 400 || rej.Status >= 500 {
			t.Fatalf("%q: identity %v, rejection %v", header, id, rej)
		}
	})
}
