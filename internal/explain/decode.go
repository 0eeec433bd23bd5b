package explain

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gwcurl/gwcurl/internal/awsv4"
	"github.com/gwcurl/gwcurl/internal/jwtclaims"
	"github.com/gwcurl/gwcurl/internal/lazyre"
)

// maxInput bounds what Decode reads.
const maxInput = 1 << 20

// reHeaderLine matches "Name: value" (a pasted header line).
var reHeaderLine = lazyre.New(`^([A-Za-z0-9][A-Za-z0-9_-]*):[ \t]*(.+)$`)

// Decode explains a pasted value offline (`gwcurl explain TOKEN|-`): a JWT
// (header, claims, expiry in words, issuer hints), an STS identity proof
// (url, vault base64 JSON or k8s-aws-v1. token: format, access key, region,
// expiry, action), a SigV4 Authorization header or presigned URL, an AWS
// error body (XML or JSON), the mock gateway's JSON refusal, an OAuth error,
// or a whole HTTP response as `curl -i` prints it. A "Name: value" header
// line and a "Bearer " prefix are accepted. now is the clock for "expires
// in". Nothing in the Report is a secret: signatures and tokens appear only
// as short prefixes.
func Decode(input string, now time.Time) (*Report, error) {
	if len(input) > maxInput {
		return nil, fmt.Errorf("input is over %d KiB: explain takes one token, header or error body", maxInput>>10)
	}
	in := strings.TrimSpace(strings.TrimPrefix(input, "\ufeff"))
	if in == "" {
		return nil, errors.New("nothing to explain: pass a token, an identity header or an error body (or - for stdin)")
	}
	// The raw input is a secret as a whole (a token, a proof): scrub it
	// from every line, with its parts.
	sc := &scrubber{}
	if !strings.ContainsAny(in, " \t\r\n") {
		sc.addToken(in)
	}

	rep, err := decode(in, now, sc)
	if err != nil {
		return nil, err
	}
	if id, ierr := decodeIdentity(in); ierr == nil {
		sc.add(id.signature)
		sc.add(id.sessionToken)
		sc.add(id.authorization)
	}
	sc.finish()
	for i, l := range rep.Lines {
		rep.Lines[i] = sc.clean(l)
	}
	rep.Fields, _ = sc.value(rep.Fields).(map[string]any)
	if rep.Fields == nil {
		rep.Fields = map[string]any{}
	}
	rep.Fields["kind"] = rep.Kind
	return rep, nil
}

func decode(in string, now time.Time, sc *scrubber) (*Report, error) {
	// A whole HTTP response (curl -i, or gwcurl -i).
	if strings.HasPrefix(in, "HTTP/") {
		return decodeResponse(in, sc)
	}
	// A header line: "Authorization: Bearer …", "X-Fluid-Identity: …".
	header := ""
	if !strings.Contains(in, "\n") && !strings.HasPrefix(in, "http://") && !strings.HasPrefix(in, "https://") {
		if m := reHeaderLine.FindStringSubmatch(in); m != nil && !strings.HasPrefix(in, "{") {
			header, in = m[1], strings.TrimSpace(m[2])
			sc.addHeaderValue(header, in)
		}
	}
	if strings.EqualFold(header, "Cookie") || strings.EqualFold(header, "Set-Cookie") {
		// The credential cookies: Access's CF_Authorization, or any JWT.
		for part := range strings.SplitSeq(in, ";") {
			if _, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok && strings.Count(v, ".") == 2 {
				in = v
				break
			}
		}
	}
	if scheme, rest, ok := strings.Cut(in, " "); ok && strings.EqualFold(scheme, "Bearer") {
		in = strings.TrimSpace(rest)
		sc.addToken(in)
	}
	switch {
	case strings.HasPrefix(in, "AWS4-HMAC-SHA256 "):
		return decodeSigV4Authorization(in)
	case strings.HasPrefix(in, k8sPrefix), (strings.HasPrefix(in, "https://") || strings.HasPrefix(in, "http://")) && strings.Contains(in, "X-Amz-"):
		return decodeIdentityReport(in, now)
	case strings.HasPrefix(in, "{"):
		if strings.Contains(in, "iam_http_request_method") {
			return decodeIdentityReport(in, now)
		}
		return decodeBody(in)
	case strings.HasPrefix(in, "<"), reCFErrorText.MatchString(in):
		return decodeBody(in)
	}
	if strings.Count(in, ".") == 2 && !strings.ContainsAny(in, " \n") {
		j, err := decodeJWT(in)
		if err != nil {
			return nil, err
		}
		return jwtReport(j, now, header), nil
	}
	if looksLikeIdentityProof(in) {
		return decodeIdentityReport(in, now)
	}
	if b, err := decodeB64(in); err == nil && bytes.Contains(b, []byte("iam_http_request_method")) {
		return decodeIdentityReport(in, now)
	}
	return nil, errors.New("not recognised: want a JWT, an STS identity header (url, vault or k8s-aws-v1.), a SigV4 Authorization header, an AWS error body (XML or JSON) or an HTTP response")
}

// ---- JWT ----

// wellKnownClaims are shown first, with labels, in this order.
var wellKnownClaims = []struct{ name, label string }{
	{"iss", "issuer"}, {"sub", "subject"}, {"aud", "audience"}, {"azp", "party (azp)"},
	{"email", "email"}, {"email_verified", "email verified"}, {"common_name", "service token"},
	{"type", "type"}, {"token_use", "token use"}, {"client_id", "client id"}, {"cognito:username", "username"},
	{"username", "username"}, {"scope", "scope"},
}

func jwtReport(j *jwtInfo, now time.Time, header string) *Report {
	alg, _ := j.header["alg"].(string)
	kid, _ := j.header["kid"].(string)
	head := "JWT (decoded, not verified): alg " + orDefault(alg, "(none)")
	if kid != "" {
		head += ", key id " + kid
	}
	if typ, _ := j.header["typ"].(string); typ != "" {
		head += ", typ " + typ
	}
	lines := []string{head}
	if header != "" {
		lines = append(lines, "sent as:         "+header+" header")
	}
	if alg == "none" || alg == "" {
		lines = append(lines, "warning:         unsigned token (alg none): no verifier should accept it")
	}
	iss := j.str("iss")
	if hint := issuerHint(iss, j.aud, j.claims); hint != "" {
		lines = append(lines, "what:            "+hint)
	}
	shown := map[string]bool{"exp": true, "iat": true, "nbf": true, "auth_time": true}
	for _, c := range wellKnownClaims {
		v, ok := j.claims[c.name]
		if !ok {
			continue
		}
		shown[c.name] = true
		lines = append(lines, fmt.Sprintf("%-16s %s", c.label+":", claimString(v)))
	}
	fields := map[string]any{"header": j.header, "claims": j.claims, "issuer_hint": issuerHint(iss, j.aud, j.claims)}
	if !j.iat.IsZero() {
		lines = append(lines, "issued:          "+whenWords(j.iat, now))
		fields["issued_at"] = fmtTime(j.iat)
	}
	if !j.nbf.IsZero() {
		l := "not before:      " + whenWords(j.nbf, now)
		if !now.IsZero() && j.nbf.After(now) {
			l += "  NOT YET VALID"
		}
		lines = append(lines, l)
		fields["not_before"] = fmtTime(j.nbf)
	}
	if at, ok := jwtclaims.Time(j.claims, "auth_time"); ok {
		lines = append(lines, "authenticated:   "+whenWords(at.UTC(), now))
	}
	switch {
	case j.exp.IsZero():
		lines = append(lines, "expires:         never (no exp claim): most verifiers refuse such tokens")
	default:
		l := "expires:         " + whenWords(j.exp, now)
		expired := !now.IsZero() && !now.Before(j.exp)
		if expired {
			l = "expires:         EXPIRED " + relative(j.exp, now) + " (" + fmtTime(j.exp) + ")"
		}
		if !j.iat.IsZero() {
			l += ", lifetime " + fmtDur(j.exp.Sub(j.iat))
		}
		lines = append(lines, l)
		fields["expires_at"] = fmtTime(j.exp)
		if !now.IsZero() {
			fields["expired"] = expired
			fields["expires_in_seconds"] = int64(j.exp.Sub(now).Seconds())
		}
	}
	var other []string
	for _, k := range sortedKeys(j.claims) {
		if !shown[k] {
			other = append(other, fmt.Sprintf("%s=%s", k, claimString(j.claims[k])))
		}
	}
	if len(other) > 0 {
		lines = append(lines, "other claims:    "+strings.Join(other, ", "))
	}
	return &Report{Kind: "jwt", Lines: lines, Fields: fields}
}

func claimString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			parts = append(parts, claimString(e))
		}
		return strings.Join(parts, ", ")
	case json.Number:
		return x.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// ---- STS identity / presigned URLs / SigV4 headers ----

func decodeIdentityReport(in string, now time.Time) (*Report, error) {
	p, err := decodeIdentity(in)
	if p == nil {
		return nil, err
	}
	kind := "sts-identity"
	title := map[string]string{
		"url":   "STS identity proof (url format: a presigned GetCallerIdentity URL), decoded, not verified",
		"k8s":   "STS identity proof (k8s format: k8s-aws-v1. + base64url of a presigned URL, as aws-iam-authenticator), decoded, not verified",
		"vault": "STS identity proof (vault format: base64 JSON of Vault's aws iam login fields), decoded, not verified",
	}[p.format]
	if p.action != "" && p.action != "GetCallerIdentity" || p.action == "" && p.format == "url" {
		kind, title = "presigned-url", "AWS presigned URL (query authentication), decoded, not verified"
	}
	lines := []string{title}
	fields := map[string]any{"format": p.format}
	if p.reqURL != nil {
		ep := p.reqURL.Scheme + "://" + p.reqURL.Host + p.reqURL.EscapedPath()
		hint := ""
		if s, r := hostServiceRegion(p.reqURL.Host); s == "sts" {
			hint = " (STS, " + r + ")"
			if p.reqURL.Host == "sts.amazonaws.com" {
				hint = " (global STS endpoint, signs as us-east-1)"
			}
		}
		lines = append(lines, "request:         "+p.method+" "+ep+hint)
		fields["method"], fields["endpoint"] = p.method, ep
	}
	if p.action != "" {
		l := "action:          " + p.action
		if p.version != "" {
			l += " (version " + p.version + ")"
		}
		lines = append(lines, l)
		fields["action"] = p.action
	}
	if a := p.auth; a != nil {
		lines = append(lines,
			"access key:      "+a.accessKey+" ("+keyType(a.accessKey)+")",
			"scope:           "+a.scope(),
			"region:          "+a.region,
			"service:         "+a.service,
			"signed headers:  "+strings.Join(a.signedHeaders, ";"))
		fields["access_key_id"], fields["key_type"] = a.accessKey, keyType(a.accessKey)
		fields["region"], fields["service"], fields["signed_headers"] = a.region, a.service, a.signedHeaders
		if p.reqURL != nil {
			if _, r := hostServiceRegion(p.reqURL.Host); r != "" && r != a.region {
				lines = append(lines, "warning:         signed for "+a.region+" but the endpoint is in "+r+": STS will refuse it")
			}
		}
	}
	lines = append(lines, identityTimeLines(p, kind, now, fields)...)
	lines = append(lines, identityServerIDLines(p, kind, fields)...)
	tok := "none (long-term key)"
	if p.hasToken {
		tok = "present (temporary credentials; redacted)"
	}
	lines = append(lines, "session token:   "+tok)
	fields["session_token"] = p.hasToken
	if p.signature != "" {
		lines = append(lines, "signature:       "+redactSig(p.signature))
	}
	lines = append(lines, "principal:       known only to STS: the gateway learns the ARN by verifying the proof (gwcurl whoami shows yours)")
	return &Report{Kind: kind, Lines: lines, Fields: fields}, nil
}

// identityTimeLines describes when a proof or presigned URL was signed and
// when it expires.
func identityTimeLines(p *identityProof, kind string, now time.Time, fields map[string]any) []string {
	var lines []string
	if !p.amzDate.IsZero() {
		lines = append(lines, "signed:          "+whenWords(p.amzDate, now))
		fields["signed_at"] = fmtTime(p.amzDate)
		if kind == "sts-identity" {
			exp := p.expiresAt()
			l := "expires:         " + fmtTime(exp) + " (STS honours a signed GetCallerIdentity for 15 minutes)"
			if r := relative(exp, now); r != "" {
				l = "expires:         " + fmtTime(exp) + " (" + r + "; STS honours a signed GetCallerIdentity for 15 minutes)"
			}
			expired := !now.IsZero() && !now.Before(exp)
			if expired {
				l = "expires:         EXPIRED " + relative(exp, now) + " (" + fmtTime(exp) + "; STS accepts it for 15 minutes after signing)"
			}
			lines = append(lines, l)
			fields["expires_at"] = fmtTime(exp)
			if !now.IsZero() {
				fields["expired"] = expired
			}
		}
	}
	if p.expires > 0 {
		lines = append(lines, fmt.Sprintf("X-Amz-Expires:   %ds", p.expires))
		if kind == "presigned-url" && !p.amzDate.IsZero() {
			exp := p.amzDate.Add(time.Duration(p.expires) * time.Second)
			lines = append(lines, "expires:         "+whenWords(exp, now))
			fields["expires_at"] = fmtTime(exp)
			if !now.IsZero() {
				fields["expired"] = !now.Before(exp)
			}
		}
	}
	return lines
}

// identityServerIDLines describes the server id header that binds a proof
// to one gateway, if any.
func identityServerIDLines(p *identityProof, kind string, fields map[string]any) []string {
	var lines []string
	if p.serverIDName != "" {
		l := "server id:       " + p.serverIDName
		if p.serverIDValue != "" {
			l += ": " + p.serverIDValue
		}
		if p.serverIDSigned {
			l += " (signed: binds the proof to one gateway)"
		} else {
			l += " (NOT signed: it can be replayed elsewhere)"
		}
		lines = append(lines, l)
		fields["server_id_header"], fields["server_id"], fields["server_id_signed"] = p.serverIDName, p.serverIDValue, p.serverIDSigned
	} else if kind == "sts-identity" {
		lines = append(lines, "server id:       none (the proof is not bound to one gateway)")
	}
	return lines
}

func redactSig(s string) string {
	if len(s) > 6 {
		return s[:6] + "…"
	}
	return "****"
}

func hostServiceRegion(host string) (string, string) {
	d := &diag{s: Sent{URL: "https://" + host + "/"}}
	return d.hostExpects()
}

func decodeSigV4Authorization(in string) (*Report, error) {
	a := parseSigV4Header(in)
	if a == nil {
		return nil, errors.New("malformed SigV4 Authorization header: want AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=NAMES, Signature=HEX")
	}
	lines := []string{
		"SigV4 Authorization header (decoded, not verified)",
		"access key:      " + a.accessKey + " (" + keyType(a.accessKey) + ")",
		"date:            " + a.date,
		"region:          " + a.region,
		"service:         " + a.service,
		"signed headers:  " + strings.Join(a.signedHeaders, ";"),
	}
	if h, _ := awsv4.ParseAuthorization(in); h.Signature != "" {
		lines = append(lines, "signature:       "+redactSig(h.Signature))
	}
	has := func(h string) bool {
		for _, s := range a.signedHeaders {
			if s == h {
				return true
			}
		}
		return false
	}
	if !has("host") {
		lines = append(lines, "warning:         host is not signed: AWS refuses this")
	}
	if !has("x-amz-date") && !has("date") {
		lines = append(lines, "warning:         the date is not signed")
	}
	return &Report{Kind: "sigv4-authorization", Lines: lines, Fields: map[string]any{
		"access_key_id": a.accessKey, "key_type": keyType(a.accessKey), "date": a.date, "region": a.region,
		"service": a.service, "signed_headers": a.signedHeaders,
	}}, nil
}

// ---- error bodies and responses ----

func statusFromText(s string) int {
	for c := 100; c < 600; c++ {
		if http.StatusText(c) == s {
			return c
		}
	}
	return 0
}

func decodeBody(in string) (*Report, error) {
	rec := Received{Header: http.Header{}, Body: []byte(in)}
	p := parseResponse(rec)
	switch {
	case p.gw != nil:
		rec.Status = statusFromText(p.gw.Error)
	case p.text != "" && reCFErrorText.MatchString(p.text):
		rec.Status = 403 // Cloudflare's short 1xxx body; the status is not pasted
	case p.aws == nil && p.oa == nil && p.goog == nil && (p.page == nil || !looksHTML([]byte(in))):
		return nil, errors.New("not recognised: the JSON or XML is not an AWS error, a gateway refusal or an OAuth error")
	}
	return responseReport(Sent{}, rec, p), nil
}

func decodeResponse(in string, sc *scrubber) (*Report, error) {
	rec, proto, err := parseHTTPResponse(in)
	if err != nil {
		return nil, err
	}
	for _, v := range rec.Header.Values("Set-Cookie") {
		sc.addHeaderValue("Set-Cookie", v)
	}
	rep := responseReport(Sent{}, rec, parseResponse(rec))
	rep.Kind = "http-response"
	rep.Lines = append([]string{fmt.Sprintf("HTTP %d %s (%s)", rec.Status, http.StatusText(rec.Status), proto)}, rep.Lines...)
	rep.Fields["status"] = rec.Status
	rep.Fields["protocol"] = proto
	return rep, nil
}

// reStatusLine matches a status line as curl -i prints it: "HTTP/1.1 403
// Forbidden", "HTTP/2 403", "HTTP/3 302" (HTTP/2 and 3 have no reason
// phrase and no minor version).
var reStatusLine = lazyre.New(`^HTTP/(\d)(?:\.(\d))?[ \t]+(\d{3})(?:[ \t]+(.*))?$`)

// parseHTTPResponse reads a response as `curl -i` (or `gwcurl -i`) prints
// it: HTTP/1.x, HTTP/2 or HTTP/3, CRLF or bare LF line ends. When curl shows
// several header blocks (a "100 Continue", a proxy's "200 Connection
// established", or redirects with -L), the last one is the answer. It
// returns the answer and its protocol ("HTTP/2"). The header block is
// parsed with net/textproto after the status line is read here, because
// net/http.ReadResponse refuses "HTTP/2 403" (it wants "HTTP/2.0").
func parseHTTPResponse(in string) (Received, string, error) {
	s := strings.TrimPrefix(in, "\ufeff")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var (
		status       int
		proto        string
		head, body   string
		found        bool
		headerFailed error
	)
	for {
		s = strings.TrimLeft(s, "\n")
		line, rest, _ := strings.Cut(s, "\n")
		m := reStatusLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			break
		}
		found = true
		status, _ = strconv.Atoi(m[3])
		proto = "HTTP/" + m[1]
		if m[2] != "" && m[1] == "1" {
			proto += "." + m[2]
		}
		if strings.HasPrefix(rest, "\n") { // no headers
			head, body = "", rest[1:]
		} else {
			head, body, _ = strings.Cut(rest, "\n\n")
		}
		s = body
		if !reStatusLine.MatchString(strings.TrimSpace(firstLine(strings.TrimLeft(body, "\n")))) {
			break
		}
	}
	if !found {
		return Received{}, "", errors.New("cannot read the HTTP response: want a status line such as \"HTTP/1.1 403 Forbidden\" or \"HTTP/2 403\"")
	}
	if status < 100 || status > 999 {
		return Received{}, "", fmt.Errorf("cannot read the HTTP response: bad status %d", status)
	}
	h := http.Header{}
	if strings.TrimSpace(head) != "" {
		tp := textproto.NewReader(bufio.NewReader(strings.NewReader(head + "\n\n")))
		mh, err := tp.ReadMIMEHeader()
		if err != nil && len(mh) == 0 {
			headerFailed = err
		}
		h = http.Header(mh)
	}
	if headerFailed != nil {
		return Received{}, "", fmt.Errorf("cannot read the HTTP response headers: %v", headerFailed)
	}
	b := []byte(body)
	if len(b) > MaxBody {
		b = b[:MaxBody]
	}
	return Received{Status: status, Header: h, Body: b}, proto, nil
}

// responseReport describes an error answer and what it means. A pasted
// answer has no arrival time (Received.At is zero), so its Date is not
// compared with this machine's clock.
func responseReport(s Sent, rec Received, p *response) *Report {
	rep := &Report{Fields: map[string]any{}}
	switch {
	case p.gw != nil:
		rep.Kind = "gateway-rejection"
		rep.Lines = append(rep.Lines, "mock gateway refusal: "+p.gw.Error)
		if p.gw.Code != "" {
			rep.Lines = append(rep.Lines, "code:            "+p.gw.Code)
		}
		if p.gw.Reason != "" {
			rep.Lines = append(rep.Lines, "reason:          "+p.gw.Reason)
		}
		keys := make([]string, 0, len(p.gw.Details))
		for k := range p.gw.Details {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k == "canonical_request" || k == "string_to_sign" {
				continue // shown in findings' detail when useful
			}
			rep.Lines = append(rep.Lines, fmt.Sprintf("%-16s %s", k+":", claimString(p.gw.Details[k])))
		}
		rep.Fields["error"], rep.Fields["reason"], rep.Fields["details"] = p.gw.Error, p.gw.Reason, p.gw.Details
		if p.gw.Code != "" {
			rep.Fields["code"] = p.gw.Code
		}
	case p.aws != nil:
		rep.Kind = "aws-error"
		format := map[string]string{"s3-xml": "S3 XML", "query-xml": "AWS query XML (STS, IAM)", "json": "AWS JSON (API Gateway, Lambda)"}[p.aws.Format]
		rep.Lines = append(rep.Lines, "AWS error ("+format+"): "+orDefault(p.aws.Code, "(no code)"))
		if p.aws.Message != "" {
			rep.Lines = append(rep.Lines, "message:         "+firstLine(p.aws.Message))
		}
		for _, k := range []string{"AWSAccessKeyId", "RequestTime", "ServerTime", "MaxAllowedSkewMilliseconds", "Region", "RequestId", "HostId"} {
			if v := strings.TrimSpace(p.aws.Fields[k]); v != "" {
				rep.Lines = append(rep.Lines, fmt.Sprintf("%-16s %s", k+":", v))
			}
		}
		fields := map[string]any{"format": p.aws.Format, "code": p.aws.Code, "message": p.aws.Message}
		for k, v := range p.aws.Fields {
			switch k {
			case "SignatureProvided", "Token-0", "StringToSignBytes", "CanonicalRequestBytes":
				continue // a secret, or noise
			}
			fields[k] = v
		}
		rep.Fields = fields
	case p.oa != nil:
		rep.Kind = "oauth-error"
		rep.Lines = append(rep.Lines, "OAuth error: "+p.oa.Code)
		if p.oa.Description != "" {
			rep.Lines = append(rep.Lines, "description:     "+p.oa.Description)
		}
		rep.Fields["error"], rep.Fields["error_description"] = p.oa.Code, p.oa.Description
	case p.goog != nil:
		rep.Kind = "google-error"
		rep.Lines = append(rep.Lines, fmt.Sprintf("Google API error %d %s: %s", p.goog.Code, p.goog.Status, p.goog.Message))
		rep.Fields["code"], rep.Fields["status"], rep.Fields["message"] = p.goog.Code, p.goog.Status, p.goog.Message
	case p.page != nil:
		rep.Kind = "html-page"
		rep.Lines = append(rep.Lines, "HTML page: "+orDefault(p.page.Title, "(no title)"))
		if t := firstSentence(p.page.Text); t != "" {
			rep.Lines = append(rep.Lines, "text:            "+t)
		}
	case p.text != "":
		rep.Kind = "text"
		rep.Lines = append(rep.Lines, "text: "+firstLine(p.text))
	}
	if c, ok := p.bearerChallenge(); ok {
		rep.Lines = append(rep.Lines, "WWW-Authenticate: Bearer "+challengeString(c))
	}
	fs := Diagnose(s, rec)
	for i, f := range fs {
		label := "cause:"
		if i > 0 {
			label = "maybe:"
		}
		rep.Lines = append(rep.Lines, label+"  "+f.Cause)
		if f.Fix != "" {
			rep.Lines = append(rep.Lines, "fix:    "+f.Fix)
		}
		for _, l := range f.Detail {
			rep.Lines = append(rep.Lines, "    "+l)
		}
	}
	rep.Fields["findings"] = fs
	return rep
}

func challengeString(c challenge) string {
	keys := make([]string, 0, len(c.Params))
	for k := range c.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"=\""+c.Params[k]+"\"")
	}
	return strings.Join(parts, ", ")
}
