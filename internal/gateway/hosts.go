package gateway

import (
	"net"
	"net/url"
	"strings"
)

// hostPolicy is the DNS-rebinding guard: the gateway answers only requests
// whose Host names it (docs/security.md). A page on rebind.example whose
// name an attacker points at 127.0.0.1 makes the browser send
// "Host: rebind.example:PORT"; such a request is answered 421 before CORS,
// the mock providers (/_mock/mailbox, /computeMetadata/) or any route run,
// so the page can neither read magic links nor mint tokens.
type hostPolicy struct {
	exact   map[string]bool // "host:port", lower case; IPv6 in brackets
	anyPort map[string]bool // host names configured without a port
	// loopbackAnyPort accepts localhost, 127.0.0.1 and [::1] on any port;
	// set when the gateway does not know its own port (no base URL, e.g. a
	// handler mounted by a test).
	loopbackAnyPort bool
}

var loopbackNames = []string{"localhost", "127.0.0.1", "[::1]"}

// newHostPolicy builds the policy from the base URL (the listen address)
// and the configured hosts.
func newHostPolicy(baseURL string, hosts []string) hostPolicy {
	p := hostPolicy{exact: map[string]bool{}, anyPort: map[string]bool{}}
	port := ""
	if u, err := url.Parse(baseURL); err == nil && u.Host != "" {
		p.exact[strings.ToLower(u.Host)] = true
		port = u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
			// A browser omits the default port from Host.
			p.exact[strings.ToLower(u.Hostname())] = true
			if strings.Contains(u.Hostname(), ":") {
				p.exact["["+strings.ToLower(u.Hostname())+"]"] = true
			}
		}
	}
	if port == "" {
		p.loopbackAnyPort = true
	} else {
		for _, n := range loopbackNames {
			p.exact[n+":"+port] = true
			if port == "80" {
				p.exact[n] = true
			}
		}
	}
	for _, h := range hosts {
		h = strings.ToLower(h)
		if _, _, err := net.SplitHostPort(h); err == nil {
			p.exact[h] = true
		} else {
			p.anyPort[strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")] = true
		}
	}
	return p
}

// allows reports whether a request's Host names this gateway.
func (p *hostPolicy) allows(host string) bool {
	if host == "" {
		return false
	}
	if p.exact[host] {
		return true
	}
	lh := strings.ToLower(host)
	if p.exact[lh] {
		return true
	}
	name, _, err := net.SplitHostPort(lh)
	if err != nil {
		name = strings.TrimSuffix(strings.TrimPrefix(lh, "["), "]")
	}
	if p.anyPort[name] {
		return true
	}
	if p.loopbackAnyPort {
		return name == "localhost" || name == "::1" || name == "127.0.0.1"
	}
	return false
}

// validHostEntry reports whether a hosts: entry is a bare host name, IP
// literal or host:port, with no scheme, path, user info or wildcard.
func validHostEntry(h string) bool {
	if h == "" || strings.ContainsAny(h, "/?#@* \t\\") {
		return false
	}
	name := h
	if hn, port, err := net.SplitHostPort(h); err == nil {
		if port == "" {
			return false
		}
		for _, c := range port {
			if c < '0' || c > '9' {
				return false
			}
		}
		name = hn
	} else {
		name = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	}
	if net.ParseIP(name) != nil {
		return true
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return false
			}
		}
	}
	return true
}
