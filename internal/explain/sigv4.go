package explain

import (
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/gwcurl/gwcurl/internal/awsv4"
)

// sigv4Auth is the SigV4 authentication a request carried (header or
// presigned query), without its signature.
type sigv4Auth struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	amzDate                          time.Time
	presigned                        bool
}

func (a *sigv4Auth) scope() string {
	return awsv4.Scope(a.date, a.region, a.service)
}

// parseSigV4Header parses "AWS4-HMAC-SHA256 Credential=AKID/date/region/
// service/aws4_request, SignedHeaders=a;b, Signature=hex".
func parseSigV4Header(v string) *sigv4Auth {
	// A malformed header is still diagnosed from the fields read before the
	// problem, so the parser's error is not fatal here.
	h, _ := awsv4.ParseAuthorization(v)
	if h.Algorithm != awsv4.Algorithm {
		return nil
	}
	c, ok := awsv4.ParseCredential(h.Credential)
	if !ok || c.AccessKeyID == "" {
		return nil
	}
	a := &sigv4Auth{accessKey: c.AccessKeyID, date: c.Date, region: c.Region, service: c.Service}
	if h.SignedHeaders != "" {
		a.signedHeaders = strings.Split(h.SignedHeaders, ";")
	}
	return a
}

// parseSigV4Query parses a presigned URL's authentication parameters.
func parseSigV4Query(q url.Values) *sigv4Auth {
	get := func(k string) string {
		for name, vs := range q {
			if strings.EqualFold(name, k) && len(vs) > 0 {
				return vs[0]
			}
		}
		return ""
	}
	cred := get(awsv4.QueryCredential)
	if cred == "" {
		return nil
	}
	c, ok := awsv4.ParseCredential(cred)
	if !ok || c.AccessKeyID == "" {
		return nil
	}
	a := &sigv4Auth{presigned: true, accessKey: c.AccessKeyID, date: c.Date, region: c.Region, service: c.Service}
	if sh := get(awsv4.QuerySignedHeaders); sh != "" {
		a.signedHeaders = strings.Split(sh, ";")
	}
	a.amzDate, _ = time.Parse(awsv4TimeFormat, get(awsv4.QueryDate))
	return a
}

// sigv4Auth returns the SigV4 authentication gwcurl sent, or nil.
func (d *diag) sigv4Auth() *sigv4Auth {
	if d.auth != nil || d.authDone {
		return d.auth
	}
	d.authDone = true
	if a := parseSigV4Header(d.s.Header.Get("Authorization")); a != nil {
		a.amzDate, _ = time.Parse(awsv4TimeFormat, d.s.Header.Get("X-Amz-Date"))
		d.auth = a
	} else if u, err := url.Parse(d.s.URL); err == nil {
		d.auth = parseSigV4Query(u.Query())
	}
	return d.auth
}

// signedRegion and signedService are what the client signed for.
func (d *diag) signedRegion() string {
	if d.s.Region != "" {
		return d.s.Region
	}
	if a := d.sigv4Auth(); a != nil {
		return a.region
	}
	return ""
}

func (d *diag) signedService() string {
	if d.s.Service != "" {
		return d.s.Service
	}
	if a := d.sigv4Auth(); a != nil {
		return a.service
	}
	return ""
}

// hostExpects is what the URL's host says the service and region are
// (Lambda function URLs, API Gateway, S3 and regional endpoints).
func (d *diag) hostExpects() (service, region string) {
	u, err := url.Parse(d.s.URL)
	if err != nil || u.Host == "" {
		return "", ""
	}
	return awsv4.InferServiceRegion(u.Host)
}

func (d *diag) host() string {
	u, err := url.Parse(d.s.URL)
	if err != nil {
		return ""
	}
	return u.Host
}

func (d *diag) isSigV4() bool {
	return d.s.AuthKind == "sigv4" || d.sigv4Auth() != nil
}

// ---- findings shared by the gateway and AWS rules ----

func (d *diag) regionFinding(signed, expected string, score int, how string) {
	if signed == "" {
		signed = d.signedRegion()
	}
	if expected == "" {
		_, expected = d.hostExpects()
	}
	d.scopeFinding(scopePart{
		key: "region", matchFix: "sign for %[1]s: --region %[1]s (or auth.region: %[1]s in the profile)",
		unknownFix:    "sign for the endpoint's region: --region REGION",
		signedOnlyFix: "sign for the endpoint's region: --region REGION (the region in the endpoint's host name)",
	}, signed, expected, score, how)
}

func (d *diag) serviceFinding(signed, expected string, score int, how string) {
	if signed == "" {
		signed = d.signedService()
	}
	if expected == "" {
		expected, _ = d.hostExpects()
	}
	d.scopeFinding(scopePart{
		key: "service", matchFix: "sign for service %[1]s: --service %[1]s (or auth.service: %[1]s in the profile)",
		unknownFix:    "sign with the endpoint's signing name: --service NAME",
		signedOnlyFix: "sign with the endpoint's signing name: --service NAME (lambda for function URLs, execute-api for API Gateway, s3)",
	}, signed, expected, score, how)
}

// scopePart words a finding about one part of the credential scope.
type scopePart struct {
	key                                 string
	matchFix, unknownFix, signedOnlyFix string // matchFix formats the expected value as %[1]s
}

// scopeFinding reports a credential scope part (region or service) that the
// endpoint refused: what was signed, what it expects when known, and how to fix it.
func (d *diag) scopeFinding(p scopePart, signed, expected string, score int, how string) {
	var cause, fix string
	switch {
	case signed != "" && expected != "":
		cause = fmt.Sprintf("%s: signed for %s, endpoint expects %s", p.key, signed, expected)
		fix = fmt.Sprintf(p.matchFix, expected)
	case signed != "":
		cause = fmt.Sprintf("%s: signed for %s, which the endpoint does not accept", p.key, signed)
		fix = p.signedOnlyFix
	default:
		cause = fmt.Sprintf("%s: the credential scope names the wrong %s", p.key, p.key)
		fix = p.unknownFix
	}
	f := Finding{Cause: cause, Fix: fix}
	if how != "" {
		f.Detail = []string{how}
	}
	d.add(p.key, score, f)
}

// signatureMismatch explains a refused signature. With the canonical
// request the server computed (the mock gateway's canonical_request, S3's
// CanonicalRequest, API Gateway's "Canonical String") and the one gwcurl
// signed, it tells a wrong secret (both equal) from a request that changed
// on the way (a diff, naming the first differing component).
func (d *diag) signatureMismatch(serverCR, serverSTS, source string) {
	clientCR := strings.TrimRight(d.s.CanonicalRequest, "\n")
	serverCR = strings.TrimRight(strings.ReplaceAll(serverCR, "\r\n", "\n"), "\n")
	key := ""
	if a := d.sigv4Auth(); a != nil {
		key = a.accessKey
	}
	keyName := "the access key"
	if key != "" {
		keyName = key
	}
	switch {
	case serverCR != "" && clientCR != "":
		if canonEqual(clientCR, serverCR) {
			if serverSTS != "" && d.s.StringToSign != "" && !canonEqual(strings.TrimSpace(d.s.StringToSign), strings.TrimSpace(serverSTS)) {
				d.add("signature", scoreDerived, Finding{
					Cause:  "string to sign mismatch: the canonical requests agree but the " + stsDiffName(d.s.StringToSign, serverSTS) + " differs",
					Fix:    "sign with the date and credential scope the server expects (check --region, --service and the clock)",
					Detail: lineDiff("string to sign (- signed by gwcurl, + computed by "+source+")", strings.Split(strings.TrimSpace(d.s.StringToSign), "\n"), strings.Split(strings.TrimSpace(serverSTS), "\n")),
				})
				return
			}
			d.add("signature", scoreDerived, Finding{
				Cause: fmt.Sprintf("wrong secret key: %s computed the same canonical request as gwcurl, so the signature differs only by the key: the secret for %s is not the one the server has", source, keyName),
				Fix:   fmt.Sprintf("use the right secret access key for %s (AWS_SECRET_ACCESS_KEY, --aws-profile, or auth.secret_access_key); it may have been rotated", keyName),
			})
			return
		}
		comp, fix := canonDiffName(clientCR, serverCR)
		d.add("signature", scoreDerived, Finding{
			Cause:  "canonical request mismatch: " + comp,
			Fix:    fix,
			Detail: lineDiff("canonical request (- signed by gwcurl, + computed by "+source+")", strings.Split(clientCR, "\n"), strings.Split(serverCR, "\n")),
		})
	case serverCR != "":
		detail := []string{"canonical request computed by " + source + ":"}
		for _, l := range strings.Split(serverCR, "\n") {
			detail = append(detail, "  "+l)
		}
		d.add("signature", scoreDerived-5, Finding{
			Cause:  "signature mismatch: compare the canonical request " + source + " computed (below) with the one gwcurl signed (gwcurl -v)",
			Fix:    "if they are equal the secret key is wrong; if not, something changed the request after signing (a proxy or CDN rewriting Host, the path or a header)",
			Detail: detail,
		})
	default:
		if d.viaCloudFront() && d.s.Header.Get("X-Amz-Content-Sha256") == "" && (d.s.Method == "POST" || d.s.Method == "PUT" || d.s.Method == "PATCH") {
			// CloudFront OAC signs the origin request itself but cannot hash
			// the body: the viewer must send x-amz-content-sha256.
			d.add("payload", scoreDerived-5, Finding{
				Cause:  "missing payload hash: CloudFront (origin access control) signs the " + d.s.Method + " for Lambda but needs the body's SHA-256 in x-amz-content-sha256 from the client; the Lambda origin refused the signature and CloudFront passed its 403 on",
				Fix:    "send x-amz-content-sha256: <hex SHA-256 of the body> (gwcurl --auth sigv4 always does unless --unsigned-payload; with --auth none add it with -H)",
				Detail: d.cloudFrontEvidence(),
			})
		}
		if d.viaCloudFront() && !d.sentKnown {
			// Pasted: the method and headers are unknown.
			d.add("payload", scoreLikely+5, Finding{
				Cause:  "through CloudFront: if this was a POST or PUT to a Lambda URL with origin access control, the client did not send x-amz-content-sha256 (CloudFront cannot hash the body, so the origin refuses its signature)",
				Fix:    "send x-amz-content-sha256: <hex SHA-256 of the body> (gwcurl --auth sigv4 always does unless --unsigned-payload)",
				Detail: d.cloudFrontEvidence(),
			})
		}
		fix := "run with -v to see the canonical request; check the secret key for " + keyName + "; a proxy or CDN that rewrites Host, the path or a signed header breaks the signature"
		if d.viaCloudFront() {
			fix = "CloudFront is in front: call the origin URL directly, or let CloudFront sign (origin access control) and send only x-amz-content-sha256; also check the secret key for " + keyName
		}
		d.add("signature", scoreLikely, Finding{
			Cause: "signature mismatch: the server computed a different signature (it does not say why): a wrong secret key, or the request changed after signing",
			Fix:   fix,
		})
	}
}

// cloudFrontEvidence lists the headers that show CloudFront answered, for
// the detail of a finding (X-Amz-Cf-Id finds the request in CloudFront's
// logs; X-Cache "Error from cloudfront" marks an error answer).
func (d *diag) cloudFrontEvidence() []string {
	var out []string
	for _, h := range []string{"X-Cache", "Via", "X-Amz-Cf-Pop", "X-Amz-Cf-Id"} {
		if v := d.r.Header.Get(h); v != "" {
			out = append(out, strings.ToLower(h)+": "+v)
		}
	}
	if len(out) > 0 {
		out = append([]string{"answered through CloudFront:"}, out...)
	}
	return out
}

// viaCloudFront reports whether the answer came through CloudFront.
func (d *diag) viaCloudFront() bool {
	h := d.r.Header
	return h.Get("X-Amz-Cf-Id") != "" || strings.Contains(strings.ToLower(h.Get("Via")), "cloudfront") ||
		strings.Contains(strings.ToLower(h.Get("Server")), "cloudfront") || strings.Contains(strings.ToLower(h.Get("X-Cache")), "cloudfront")
}

// sigv4 adds what can be inferred from the signed request itself.
func (d *diag) sigv4() {
	if !d.isSigV4() || (d.r.Status != 401 && d.r.Status != 403 && d.r.Status != 400) {
		return
	}
	a := d.sigv4Auth()
	if a == nil {
		if d.s.AuthKind == "sigv4" {
			d.add("unsigned", scoreLikely, Finding{
				Cause: "no SigV4 signature was sent (no Authorization header and no X-Amz-Signature)",
				Fix:   "check that the request goes through a sigv4 profile (-p PROFILE or --auth sigv4) and that no -H Authorization overrides it",
			})
		}
		return
	}
	// What the host name says.
	hs, hr := d.hostExpects()
	if hr != "" && a.region != "" && hr != a.region {
		d.regionFinding(a.region, hr, scoreLikely, "the host "+d.host()+" is in "+hr)
	}
	if hs != "" && a.service != "" && hs != a.service {
		d.serviceFinding(a.service, hs, scoreLikely, "the host "+d.host()+" is a "+hs+" endpoint")
	}
	// Payload hash.
	payload := d.s.Header.Get("X-Amz-Content-Sha256")
	service := d.signedService()
	switch {
	case payload == awsv4.UnsignedPayload && service == "lambda":
		d.add("payload", scoreLikely+10, Finding{
			Cause: "unsigned payload: Lambda (function URLs, and CloudFront OAC in front of them) does not accept UNSIGNED-PAYLOAD",
			Fix:   "sign the body: drop --unsigned-payload (and auth.unsigned_payload) so x-amz-content-sha256 carries the body's SHA-256",
		})
	case payload == "" && !a.presigned && (d.s.Method == "POST" || d.s.Method == "PUT" || d.s.Method == "PATCH") && (service == "lambda" || d.viaCloudFront()):
		d.add("payload", scoreLikely, Finding{
			Cause: "missing payload hash: a " + d.s.Method + " through CloudFront OAC to Lambda needs x-amz-content-sha256 with the body's SHA-256",
			Fix:   "send x-amz-content-sha256 (gwcurl's sigv4 signer always does; check that nothing strips it)",
		})
	}
	// A temporary key without its session token.
	if strings.HasPrefix(a.accessKey, "ASIA") && d.s.Header.Get("X-Amz-Security-Token") == "" && !a.presigned {
		d.add("session-token", scoreLikely, Finding{
			Cause: "temporary credentials without a session token: " + a.accessKey + " is an STS key (ASIA…) but no X-Amz-Security-Token was sent",
			Fix:   "use the full credential set (AWS_SESSION_TOKEN or the profile's session token), or refresh it (aws sso login / assume the role again)",
		})
	}
	// A session token added after signing.
	if tok, signed := d.sentSessionToken(); tok && !signed && !a.presigned {
		d.add("session-token", scoreLikely-5, Finding{
			Cause: "unsigned session token: X-Amz-Security-Token was sent but is not in SignedHeaders; services that want it signed refuse the request",
			Fix:   "let gwcurl add the session token before signing (AWS_SESSION_TOKEN or the profile's session token), never with -H",
		})
	}
	// A signature time far from when gwcurl signed: a copied X-Amz-Date.
	if !a.amzDate.IsZero() && !d.s.SignedAt.IsZero() {
		if off := d.s.SignedAt.Sub(a.amzDate); off.Abs() > skewNotable {
			d.add("stale", scoreLikely, Finding{
				Cause: fmt.Sprintf("stale X-Amz-Date: the request carries %s, %s away from when gwcurl signed it", fmtTime(a.amzDate), fmtDur(off)),
				Fix:   "do not pass X-Amz-Date (or Authorization) with -H: let gwcurl sign each attempt",
			})
		}
	}
}

// ---- canonical requests ----

type canonParts struct {
	method, uri, query string
	headers            []string // "name:value"
	signed, payload    string
}

// parseCanonical splits a canonical request into its components
// (docs/auth/sigv4.md, "What gets signed, and how"): method, URI, query, header lines, an empty line,
// signed headers, payload hash.
func parseCanonical(s string) (canonParts, bool) {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) < 6 {
		return canonParts{}, false
	}
	c := canonParts{method: lines[0], uri: lines[1], query: lines[2]}
	i := 3
	for ; i < len(lines) && lines[i] != ""; i++ {
		c.headers = append(c.headers, lines[i])
	}
	rest := lines[i:] // "", signed headers, payload hash
	if len(rest) < 3 {
		return canonParts{}, false
	}
	c.signed, c.payload = rest[1], rest[len(rest)-1]
	return c, true
}

// lineEqual compares two canonical lines, treating a redacted value
// ("FwoGZX…", from a -v trace) as equal to a value it is a prefix of.
func lineEqual(a, b string) bool {
	if a == b {
		return true
	}
	for _, p := range [][2]string{{a, b}, {b, a}} {
		r, full := p[0], p[1]
		if i := strings.Index(r, "…"); i >= 0 && strings.HasPrefix(full, r[:i]) && len(full) > i {
			// the rest of the line after the redacted value must match
			rest := r[i+len("…"):]
			if rest == "" || strings.HasSuffix(full, rest) {
				return true
			}
		}
	}
	return false
}

func canonEqual(a, b string) bool {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	if len(la) != len(lb) {
		return false
	}
	for i := range la {
		if !lineEqual(la[i], lb[i]) {
			return false
		}
	}
	return true
}

func short(s string) string {
	const n = 100
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// canonDiffName names the first component in which the client's and the
// server's canonical requests differ, and the fix for it.
func canonDiffName(client, server string) (cause, fix string) {
	c, okc := parseCanonical(client)
	s, oks := parseCanonical(server)
	if !okc || !oks {
		return "the two canonical requests differ", "compare them below: the server's is what it received"
	}
	switch {
	case c.method != s.method:
		return fmt.Sprintf("the method differs (you signed %s, the server saw %s)", c.method, s.method),
			"something changed the method after signing (a redirect turning POST into GET, or a proxy); sign the request that is actually sent"
	case c.uri != s.uri:
		cause = fmt.Sprintf("the path differs (you signed %s, the server saw %s)", short(c.uri), short(s.uri))
		fix = "a proxy, CDN or custom domain rewrote the path (or its percent-encoding): sign the path the server receives, or call it directly; S3 paths are encoded once, other services twice"
		switch how := pathChange(c.uri, s.uri); {
		case strings.HasPrefix(how, "normalised"):
			return cause + ": a proxy normalised it (" + strings.TrimPrefix(how, "normalised: ") + ")",
				"send the path in its normal form (no '//', '/./' or '/../', as the server sees it) so the signed and the received path agree, or stop the proxy from rewriting it"
		case how != "":
			return cause + ": " + how, fix
		}
		return cause, fix
	case !lineEqual(c.query, s.query):
		return fmt.Sprintf("the query string differs (you signed %q, the server saw %q)", short(c.query), short(s.query)),
			"the query changed after signing or is encoded differently (a raw '+', a space, ordering, a parameter added by a proxy); encode it once as %XX"
	}
	cm, sm := headerMap(c.headers), headerMap(s.headers)
	for _, l := range c.headers {
		name, _, _ := strings.Cut(l, ":")
		sv, ok := sm[name]
		switch {
		case !ok:
			return fmt.Sprintf("the signed header %s is missing from the server's canonical request", name),
				"a proxy dropped the header; do not sign headers that proxies remove"
		case !lineEqual(cm[name], sv):
			if name == "host" {
				return fmt.Sprintf("the host differs (you signed %s, the server saw %s)", short(cm[name]), short(sv)),
					"a proxy, CDN or custom domain changed Host after signing: sign for the host the server sees (or call it directly); with CloudFront use origin access control"
			}
			return fmt.Sprintf("the header %s differs (you signed %q, the server saw %q)", name, short(cm[name]), short(sv)),
				"a proxy rewrote " + name + " after signing: do not sign headers that proxies change (or send the value the server sees)"
		}
	}
	for _, l := range s.headers {
		name, _, _ := strings.Cut(l, ":")
		if _, ok := cm[name]; !ok {
			return fmt.Sprintf("the server's canonical request has a header you did not sign: %s", name),
				"the signed header list changed on the way; sign exactly the headers that reach the server"
		}
	}
	switch {
	case c.signed != s.signed:
		return fmt.Sprintf("the signed headers differ (you signed %s, the server used %s)", c.signed, s.signed),
			"the SignedHeaders list changed on the way; sign exactly the headers that reach the server"
	case c.payload != s.payload:
		return fmt.Sprintf("the payload hash differs (you signed %s, the server used %s)", short(c.payload), short(s.payload)),
			"the body changed after signing, or x-amz-content-sha256 does not match it: send the body that was hashed"
	}
	return "the two canonical requests differ", "compare them below: the server's is what it received"
}

// pathChange says how a proxy changed a signed canonical path on the way,
// or "" when it cannot tell.
func pathChange(signed, seen string) string {
	clean := func(p string) string {
		c := path.Clean(p)
		if c == "." {
			return "/"
		}
		return c
	}
	switch {
	case clean(signed) == clean(seen):
		var what []string
		if strings.Contains(signed, "//") && !strings.Contains(seen, "//") {
			what = append(what, "collapsed '//'")
		}
		if strings.Contains(signed+"/", "/./") || strings.Contains(signed+"/", "/../") {
			what = append(what, "resolved '.' or '..' segments")
		}
		if strings.HasSuffix(signed, "/") != strings.HasSuffix(seen, "/") {
			what = append(what, "changed the trailing '/'")
		}
		return "normalised: " + orDefault(strings.Join(what, ", "), "rewrote it to its clean form")
	case unescapeAll(signed) == unescapeAll(seen):
		return "its percent-encoding changed on the way (a proxy decoded or re-encoded it)"
	case strings.HasSuffix(seen, signed):
		return "the prefix " + seen[:len(seen)-len(signed)] + " was added (an API Gateway stage, or a proxy's or custom domain's base path)"
	case strings.HasSuffix(signed, seen):
		return "the prefix " + signed[:len(signed)-len(seen)] + " was removed (a proxy or custom domain base path mapping strips it)"
	}
	return ""
}

// unescapeAll percent-decodes until nothing changes (canonical paths are
// encoded twice for most services).
func unescapeAll(p string) string {
	for range 3 {
		u, err := url.PathUnescape(p)
		if err != nil || u == p {
			return p
		}
		p = u
	}
	return p
}

func stsDiffName(client, server string) string {
	c := strings.Split(strings.TrimSpace(client), "\n")
	s := strings.Split(strings.TrimSpace(server), "\n")
	names := []string{"algorithm", "request date", "credential scope", "canonical request hash"}
	for i := 0; i < len(names) && i < len(c) && i < len(s); i++ {
		if c[i] != s[i] {
			return names[i]
		}
	}
	return "string to sign"
}

func headerMap(lines []string) map[string]string {
	m := make(map[string]string, len(lines))
	for _, l := range lines {
		k, v, _ := strings.Cut(l, ":")
		m[k] = v
	}
	return m
}

// maxDiffLines bounds a printed diff.
const maxDiffLines = 60

// lineDiff is a line diff of a (gwcurl's) and b (the server's) under the
// title what: an LCS
// over lines, which for canonical requests (a few dozen lines) is cheap.
// Lines only in a are marked "-", only in b "+", common lines " ".
func lineDiff(what string, a, b []string) []string {
	// A canonical request has a few dozen lines; a server could send any
	// amount, so the quadratic table is bounded.
	const maxLines = 200
	a, b = a[:min(len(a), maxLines)], b[:min(len(b), maxLines)]
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if lineEqual(a[i], b[j]) {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	out := []string{what + ":"}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && lineEqual(a[i], b[j]):
			out = append(out, "  "+a[i])
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			out = append(out, "- "+a[i])
			i++
		default:
			out = append(out, "+ "+b[j])
			j++
		}
		if len(out) > maxDiffLines {
			out = append(out, "  …")
			break
		}
	}
	return out
}
