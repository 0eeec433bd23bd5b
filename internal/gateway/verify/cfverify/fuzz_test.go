package cfverify

import (
	"net/http"
	"testing"
)

// The seeds run in every `go test`; fuzz with
//
//	go test -run '^$' -fuzz '^FuzzStripCookies$' -fuzztime 1m -parallel 1 ./internal/gateway/verify/cfverify/

// FuzzStripCookies: the Access cookies are found and removed as net/http
// (and browsers) read them; no CF_Authorization or CF_AppSession is left
// for the origin, and a value net/http reads is the one the verifier read.
func FuzzStripCookies(f *testing.F) {
	for _, s := range []string{
		"CF_Authorization=x", "CF_Authorization =x; keep=1", "a=1;CF_AppSession\t=y", `CF_Authorization="q"`,
		"CF_Authorization=1; CF_Authorization=2", "keep=1", ";;", "CF_Authorization",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cookie string) {
		before := (&http.Request{Header: http.Header{"Cookie": {cookie}}}).Cookies()
		h := http.Header{"Cookie": {cookie}}
		found := stripCookies(h, CookieAuthorization, CookieAppSession)
		for _, c := range (&http.Request{Header: h}).Cookies() {
			if c.Name == CookieAuthorization || c.Name == CookieAppSession {
				t.Fatalf("%q: %s left as %q", cookie, c.Name, h["Cookie"])
			}
		}
		for _, c := range before {
			if c.Name == CookieAuthorization {
				if _, ok := found[CookieAuthorization]; !ok {
					t.Fatalf("%q: net/http reads %s=%q, the verifier found none", cookie, c.Name, c.Value)
				}
				break
			}
		}
	})
}
