// Package redact shortens secrets to a recognisable prefix before anything is
// printed: -v traces, --print-curl, explanations, logs and errors.
package redact

import (
	"net/url"
	"strings"
)

// Secret returns a short prefix of s followed by "…", enough to tell two
// values apart but useless to an attacker. Short values become "****".
func Secret(s string) string {
	if len(s) < 12 {
		return "****"
	}
	return s[:6] + "…"
}

// sensitive headers (lower case) whose whole value is a credential.
var sensitive = map[string]bool{
	"authorization":              true,
	"proxy-authorization":        true,
	"x-amz-security-token":       true,
	"x-amz-signature":            true,
	"cf-access-client-secret":    true,
	"cf-access-token":            true,
	"cf-access-jwt-assertion":    true,
	"cookie":                     true,
	"set-cookie":                 true,
	"x-serverless-authorization": true,
	"x-fluid-identity":           true,
	"x-vault-aws-iam-server-id":  false,
}

// IsSensitiveHeader reports whether a header's value must be redacted.
// extra lists additional sensitive header names (e.g. a profile's identity
// header), compared case-insensitively.
func IsSensitiveHeader(name string, extra ...string) bool {
	l := strings.ToLower(name)
	if sensitive[l] {
		return true
	}
	if strings.Contains(l, "token") || strings.Contains(l, "secret") || strings.Contains(l, "password") || strings.HasSuffix(l, "api-key") || strings.HasSuffix(l, "identity") {
		return true
	}
	for _, e := range extra {
		if strings.EqualFold(e, name) {
			return true
		}
	}
	return false
}

// sigv4Signature shortens the hex after "Signature=" to its first 6 digits.
func sigv4Signature(v string) string {
	i := strings.Index(v, "Signature=")
	if i < 0 {
		return v
	}
	start := i + len("Signature=")
	end := start
	for end < len(v) && strings.IndexByte("0123456789abcdefABCDEF", v[end]) >= 0 {
		end++
	}
	if end-start <= 6 {
		return v
	}
	return v[:start+6] + "…" + v[end:]
}

// HeaderValue redacts a header value if the header is sensitive. SigV4
// Authorization values keep the credential scope and signed headers (useful
// for diagnosis, not secret) and lose the signature.
func HeaderValue(name, value string, extra ...string) string {
	if !IsSensitiveHeader(name, extra...) {
		return value
	}
	l := strings.ToLower(name)
	switch {
	case l == "authorization" && strings.HasPrefix(value, "AWS4-"):
		return sigv4Signature(value)
	case l == "authorization" || l == "proxy-authorization" || l == "x-serverless-authorization":
		if scheme, rest, ok := strings.Cut(value, " "); ok {
			return scheme + " " + Secret(rest)
		}
		return Secret(value)
	case l == "cookie":
		return cookies(value, "; ")
	case l == "set-cookie":
		nv, attrs, _ := strings.Cut(value, ";")
		out := cookies(nv, "; ")
		if attrs != "" {
			out += ";" + attrs
		}
		return out
	}
	return Secret(value)
}

func cookies(v, sep string) string {
	parts := strings.Split(v, ";")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		name, val, ok := strings.Cut(p, "=")
		if ok {
			parts[i] = name + "=" + Secret(val)
		} else {
			parts[i] = p
		}
	}
	return strings.Join(parts, sep)
}

// sensitiveQuery are the query parameters whose values are credentials
// (lower case). It is the one list: [URL] redacts them and explain scrubs
// them from what it quotes, through [IsSensitiveQuery].
var sensitiveQuery = map[string]bool{
	"x-amz-signature": true, "x-amz-security-token": true, "x-amz-credential": false,
	"token": true, "access_token": true, "id_token": true, "code": true, "client_secret": true,
	"refresh_token": true, "signature": true, "sig": true, "key": true, "api_key": true,
	"header": true, // AppSync real-time: base64 JSON carrying the Authorization
}

// IsSensitiveQuery reports whether a query parameter's value is a
// credential, comparing the name case-insensitively.
func IsSensitiveQuery(name string) bool { return sensitiveQuery[strings.ToLower(name)] }

// URL redacts credential-bearing query parameters of a URL string, keeping
// the rest byte for byte.
func URL(raw string) string {
	base, query, ok := strings.Cut(raw, "?")
	if !ok {
		return raw
	}
	frag := ""
	if q, f, ok := strings.Cut(query, "#"); ok {
		query, frag = q, "#"+f
	}
	parts := strings.Split(query, "&")
	for i, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if IsSensitiveQuery(name) {
			parts[i] = k + "=" + Secret(v)
		}
	}
	return base + "?" + strings.Join(parts, "&") + frag
}

// String removes every occurrence of each secret from s (for error messages
// that might quote a server's reply).
func String(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, Secret(sec))
		}
	}
	return s
}

// Printable keeps a string from elsewhere (a provider's error text, a web
// page's) fit to quote in one line: control characters are dropped and it
// is cut to 200 bytes.
func Printable(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
