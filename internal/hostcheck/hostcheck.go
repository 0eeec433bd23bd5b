// Package hostcheck holds the one test of whether a host is this machine,
// shared by the client (which sends secrets over plain http only to a
// loopback address) and the mock identity providers (which accept plain
// http redirect URIs only on loopback, RFC 8252 §7.3 and §8.3).
package hostcheck

import (
	"net"
	"net/url"
	"strings"
)

// Loopback reports whether host names this machine: "localhost" (any case)
// or a loopback IP literal (127.0.0.0/8, ::1). host may carry a port and
// IPv6 brackets ("127.0.0.1:8080", "[::1]:443", "[::1]").
func Loopback(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SecureURL reports whether a credential may travel to u: over https, or
// over plain http to a loopback host, where it never crosses a network.
func SecureURL(u *url.URL) bool {
	switch u.Scheme {
	case "https":
		return true
	case "http":
		return Loopback(u.Host)
	}
	return false
}

// RedirectLoopback reports whether host is one of the three loopback
// spellings an authorization server accepts in a plain-http redirect URI:
// 127.0.0.1, ::1 and localhost, exactly (RFC 8252 §7.3; Cognito accepts no
// other). It is stricter than [Loopback] on purpose: a registered redirect
// URI is matched as text, so 127.0.0.2 or LOCALHOST are other URIs.
func RedirectLoopback(host string) bool {
	return host == "127.0.0.1" || host == "::1" || host == "localhost"
}
