package explain

// Rules of this file: every string the package returns passes through a
// scrubber. It knows the secrets gwcurl sent (from Sent) and replaces each
// with internal/redact's short prefix; then it redacts anything shaped like
// a credential that it was not told about (a server may echo a token back,
// S3 echoes session tokens in ExpiredToken). Control characters from
// server-supplied text are replaced, and lines are cut to a bounded length.

import (
	"github.com/gwcurl/gwcurl/internal/lazyre"
	"net/url"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gwcurl/gwcurl/internal/awsv4"
	"github.com/gwcurl/gwcurl/internal/redact"
)

// maxLine bounds one printed line; server text can be arbitrarily long.
const maxLine = 400

// minSecret is the shortest value treated as a secret: shorter cookie or
// header values ("dark", "1") would blank out ordinary words.
const minSecret = 8

type scrubber struct {
	secrets []string // longest first
}

func newScrubber(s Sent) *scrubber {
	sc := &scrubber{}
	identityHeaders := []string{}
	for k, vs := range s.Header {
		for _, v := range vs {
			if looksLikeIdentityProof(v) {
				identityHeaders = append(identityHeaders, k)
			}
		}
	}
	for k, vs := range s.Header {
		if !redact.IsSensitiveHeader(k, identityHeaders...) {
			continue
		}
		for _, v := range vs {
			sc.addHeaderValue(k, v)
		}
	}
	sc.addToken(s.Token)
	sc.addURL(s.URL)
	sc.finish()
	return sc
}

// add remembers one secret and its percent-encoded forms (canonical query
// strings and URLs carry those).
func (sc *scrubber) add(v string) {
	v = strings.TrimSpace(v)
	if len(v) < minSecret {
		return
	}
	sc.secrets = append(sc.secrets, v)
	if e := awsv4.URIEncode(v, false); e != v {
		sc.secrets = append(sc.secrets, e)
	}
	if e := url.QueryEscape(v); e != v {
		sc.secrets = append(sc.secrets, e)
	}
}

func (sc *scrubber) addToken(t string) {
	t = strings.TrimSpace(t)
	if t == "" {
		return
	}
	sc.add(t)
	if parts := strings.Split(t, "."); len(parts) == 3 {
		sc.add(parts[2]) // a JWT's signature on its own
	}
}

func (sc *scrubber) addHeaderValue(name, v string) {
	sc.add(v)
	l := strings.ToLower(name)
	switch {
	case strings.HasPrefix(v, "AWS4-"):
		if _, sig, ok := strings.Cut(v, "Signature="); ok {
			sc.add(strings.TrimSpace(sig))
		}
	case l == "cookie" || l == "set-cookie":
		for part := range strings.SplitSeq(v, ";") {
			if _, val, ok := strings.Cut(strings.TrimSpace(part), "="); ok {
				sc.addToken(val)
			}
		}
	default:
		if scheme, rest, ok := strings.Cut(v, " "); ok && !strings.ContainsAny(scheme, ":/") {
			sc.addToken(rest)
		}
		sc.addToken(v)
	}
	// An identity proof carries a signature and maybe a session token.
	if id, err := decodeIdentity(v); err == nil {
		sc.add(id.signature)
		sc.add(id.sessionToken)
		sc.add(id.authorization)
	}
}

func (sc *scrubber) addURL(raw string) {
	u, err := url.Parse(raw)
	if err != nil {
		return
	}
	for k, vs := range u.Query() {
		if redact.IsSensitiveQuery(k) {
			for _, v := range vs {
				sc.add(v)
			}
		}
	}
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			sc.add(p)
		}
	}
}

func (sc *scrubber) finish() {
	sort.Slice(sc.secrets, func(i, j int) bool { return len(sc.secrets[i]) > len(sc.secrets[j]) })
}

// Patterns of credentials the scrubber was not told about.
var (
	reJWT        = lazyre.New(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,}`)
	reSigParam   = lazyre.New(`(?i)((?:x-amz-)?signature[=:]\s*)([0-9a-f]{16,})`)
	reTokenParam = lazyre.New(`(?i)(x-amz-security-token[=:]\s*|<Token-0>|cf-access-client-secret[=:]\s*|cf-access-token[=:]\s*|cf_authorization=|client_secret[=:]\s*|refresh_token[=:]\s*|access_token[=:]\s*|id_token[=:]\s*)([^\s&;,"'<\\]{4,})`)
	// AWS STS session tokens by their fixed prefixes (base64 of their
	// binary header), for a pasted answer that echoes one bare.
	reSessionToken = lazyre.New(`(?:FQoGZXIvYXdz|FwoGZXIvYXdz|IQoJb3JpZ2luX2Vj)[A-Za-z0-9+/=]{8,}`)
	reBearer       = lazyre.New(`(?i)(bearer\s+)([A-Za-z0-9._~+/=-]{12,})`)
	reSigProvided  = lazyre.New(`(?i)(<SignatureProvided>)([^<]*)`)
)

// clean scrubs one line: known secrets, credential-shaped text, control
// characters, length.
func (sc *scrubber) clean(s string) string {
	s = redact.String(s, sc.secrets...)
	s = reJWT.ReplaceAllStringFunc(s, redact.Secret)
	s = reSigParam.ReplaceAllStringFunc(s, func(m string) string {
		g := reSigParam.FindStringSubmatch(m)
		return g[1] + awsv4.Redact(g[2])
	})
	s = reTokenParam.ReplaceAllStringFunc(s, func(m string) string {
		g := reTokenParam.FindStringSubmatch(m)
		if strings.HasSuffix(g[2], "…") || g[2] == "****" {
			return m // already redacted
		}
		return g[1] + redact.Secret(g[2])
	})
	s = reBearer.ReplaceAllStringFunc(s, func(m string) string {
		g := reBearer.FindStringSubmatch(m)
		return g[1] + redact.Secret(g[2])
	})
	s = reSigProvided.ReplaceAllString(s, "${1}(redacted)")
	s = reSessionToken.ReplaceAllStringFunc(s, redact.Secret)
	return printable(s, maxLine)
}

func (sc *scrubber) finding(f Finding) Finding {
	out := Finding{Cause: sc.clean(f.Cause), Fix: sc.clean(f.Fix)}
	for _, l := range f.Detail {
		out.Detail = append(out.Detail, sc.clean(l))
	}
	return out
}

// value scrubs every string inside a JSON-like value (for Report.Fields).
func (sc *scrubber) value(v any) any {
	switch x := v.(type) {
	case string:
		return sc.clean(x)
	case []string:
		out := make([]string, len(x))
		for i, s := range x {
			out[i] = sc.clean(s)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = sc.value(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = sc.value(e)
		}
		return out
	case []Finding:
		out := make([]map[string]any, len(x))
		for i, f := range x {
			f = sc.finding(f)
			m := map[string]any{"cause": f.Cause, "fix": f.Fix}
			if len(f.Detail) > 0 {
				m["detail"] = f.Detail
			}
			out[i] = m
		}
		return out
	}
	return v
}

// printable replaces control characters (other than tab) with '?', drops
// invalid UTF-8 and cuts s to n bytes (on a rune boundary) with "…".
func printable(s string, n int) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || (unicode.IsControl(r) && r != '\t') {
			clean = false
			break
		}
	}
	if !clean {
		s = strings.Map(func(r rune) rune {
			switch {
			case r == utf8.RuneError:
				return '?'
			case r == '\t':
				return r
			case unicode.IsControl(r):
				return '?'
			}
			return r
		}, s)
	}
	if len(s) > n {
		cut := n
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
