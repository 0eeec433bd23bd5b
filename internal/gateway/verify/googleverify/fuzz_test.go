package googleverify

import (
	"encoding/base64"
	"testing"
)

// The seeds run in every `go test`; fuzz with
//
//	go test -run '^$' -fuzz '^FuzzGoogleToken$' -fuzztime 1m -parallel 1 ./internal/gateway/verify/googleverify/

// FuzzGoogleToken: any bearer value is refused with a reason (a token the
// issuer never signed cannot pass), and a parsed token never carries crit.
func FuzzGoogleToken(f *testing.F) {
	env := newEnvForConfig()
	st, err := StateFor(env)
	if err != nil {
		f.Fatal(err)
	}
	v, err := Factory(yamlNode(f, `{kind: google_id, audiences: ["http://127.0.0.1:1/run"]}`), env)
	if err != nil {
		f.Fatal(err)
	}
	good, err := st.Sign(map[string]any{"aud": "http://127.0.0.1:1/run", "sub": "1"})
	if err != nil {
		f.Fatal(err)
	}
	seg := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, s := range []string{
		good[:len(good)-2] + "AA", "a.b.c", "", "..", seg(`{"alg":"none"}`) + "." + seg(`{}`) + ".",
		seg(`{"alg":"RS256","crit":["x"]}`) + "." + seg(`{"exp":1}`) + ".AA",
		seg(`{"alg":"RS256","kid":1}`) + "." + seg(`{"exp":"1","aud":[1,null]}`) + ".AA",
		seg(`null`) + "." + seg(`[]`) + ".",
	} {
		f.Add(s)
	}
	gv := v.(*Verifier)
	f.Fuzz(func(t *testing.T, tok string) {
		if j, err := splitJWT(tok); err == nil {
			if _, ok := j.header["crit"]; ok {
				t.Fatalf("%q: parsed with a crit header", tok)
			}
		}
		claims, _, rej := gv.check(tok)
		if tok == good {
			return
		}
		if rej == nil || rej.Reason == "" {
			t.Fatalf("%q accepted: %v", tok, claims)
		}
	})
}
