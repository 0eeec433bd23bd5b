package gateway_test

import (
	"strings"
	"testing"

	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
)

// TestCredentialCookiesParsedAsBrowsersDo: whitespace around a cookie name
// is not part of it (RFC 6265 §5.2, net/http), so "CF_Authorization =x" is
// the Access token and never reaches an origin of another kind.
func TestCredentialCookiesParsedAsBrowsersDo(t *testing.T) {
	t.Parallel()
	s := gatewaytest.StartDemo(t, gateway.Options{})
	for _, c := range []string{
		"CF_Authorization =stolen; keep=1",
		"keep=1; CF_Authorization\t=stolen",
		" CF_AppSession = stolen ;keep=1",
		"keep=1;CF_Authorization=stolen",
	} {
		e := echoOf(t, do(t, "GET", s.URL+"/public/echo", nil, "Cookie", c))
		got := e.Headers["Cookie"]
		if strings.Contains(got, "stolen") || !strings.Contains(got, "keep=1") {
			t.Errorf("Cookie %q reached the origin as %q", c, got)
		}
	}
}
