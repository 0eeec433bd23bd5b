package cfverify

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
)

// BenchmarkVerify: a service token pair (the session's application token
// handed out from the cache after the first request) and an application
// token presented in cf-access-token (RS256 verified every time).
func BenchmarkVerify(b *testing.B) {
	env := &auth.Env{Now: time.Now, Shared: map[string]any{}}
	v, err := Factory(node(b, demoConfig), env)
	if err != nil {
		b.Fatal(err)
	}
	service := func() string {
		r := httptest.NewRequest("GET", "http://gw.test/admin/x", nil)
		r.Header.Set(HeaderClientID, demoID)
		r.Header.Set(HeaderClientSecret, demoSecret)
		if _, err := v.Verify(httptest.NewRecorder(), r); err != nil {
			b.Fatal(err)
		}
		return r.Header.Get(HeaderAssertion)
	}
	tok := service() // generates the signing keys and mints the session's token
	b.Run("service-token", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			service()
		}
	})
	b.Run("app-token", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r := httptest.NewRequest("GET", "http://gw.test/admin/x", nil)
			r.Header.Set(HeaderToken, tok)
			if _, err := v.Verify(httptest.NewRecorder(), r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
