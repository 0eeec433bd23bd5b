package stsverify

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gwcurl/gwcurl/internal/awsv4"
	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/rejectcode"
)

// Formats of the identity header.
const (
	FormatURL   = "url"   // the pre-signed GetCallerIdentity URL
	FormatVault = "vault" // Vault's iam login fields, JSON, base64
	FormatK8s   = "k8s"   // aws-iam-authenticator's token
)

// Server-id (audience) headers, one per format, lower case as they appear
// in SignedHeaders. They match internal/sign's names.
const (
	ServerIDHeaderURL   = "x-gwcurl-server-id"
	ServerIDHeaderVault = "x-vault-aws-iam-server-id"
	ServerIDHeaderK8s   = "x-k8s-aws-id"
	// K8sTokenPrefix starts an aws-iam-authenticator token.
	K8sTokenPrefix = "k8s-aws-v1."
)

// Size limits: aws-iam-authenticator refuses tokens over 4 KiB; a Vault
// proof (headers and all, base64 twice) is larger.
const (
	maxK8sToken    = 4 << 10
	maxHeaderValue = 16 << 10
	// maxPresignExpires is aws-iam-authenticator's bound on X-Amz-Expires
	// (docs/auth/sts-identity.md, "How a back end verifies a proof"); STS ignores the value for GetCallerIdentity anyway.
	maxPresignExpires = 900
)

func serverIDHeader(format string) string {
	switch format {
	case FormatVault:
		return ServerIDHeaderVault
	case FormatK8s:
		return ServerIDHeaderK8s
	}
	return ServerIDHeaderURL
}

// presignParams is the allowlist of query parameters of a pre-signed proof
// (docs/auth/sts-identity.md, "How a back end verifies a proof"), by lower-case name, with the one spelling accepted.
var presignParams = map[string]string{
	"action":               "Action",
	"version":              "Version",
	"x-amz-algorithm":      awsv4.QueryAlgorithm,
	"x-amz-credential":     awsv4.QueryCredential,
	"x-amz-date":           awsv4.QueryDate,
	"x-amz-expires":        awsv4.QueryExpires,
	"x-amz-security-token": awsv4.QuerySecurityToken,
	"x-amz-signature":      awsv4.QuerySignature,
	"x-amz-signedheaders":  awsv4.QuerySignedHeaders,
}

// vaultHeaders is the allowlist of headers copied from a Vault proof into
// the STS request (docs/auth/sts-identity.md, "How a back end verifies a proof"); any other X-Amz-* header is refused, other
// headers are dropped.
var vaultHeaders = map[string]bool{
	"authorization": true, "content-type": true, "x-amz-date": true,
	"x-amz-security-token": true, "x-amz-content-sha256": true,
	ServerIDHeaderVault: true,
}

// proof is a parsed identity header: the parts of a signed
// GetCallerIdentity request the verifier may use to rebuild it.
type proof struct {
	format string
	method string   // GET (url, k8s) or POST (vault)
	target *url.URL // scheme://host/path the client signed for; checked against the trusted endpoint

	query []awsv4.QueryParam // pre-signed: the allowlisted parameters, in order

	body     []byte      // vault: the form body, validated
	headers  http.Header // vault: the allowlisted headers, canonical names
	serverID string      // vault: the client's server-id header value

	accessKeyID, region string
	scopeDate           string
	signedHeaders       []string
	date                time.Time
}

// parseProof reads the identity header's value in whichever of the three
// formats it is written.
func parseProof(v string) (*proof, *auth.Rejection) {
	if len(v) > maxHeaderValue {
		return nil, auth.Reject(rejectcode.MalformedProof, "the identity proof is %d bytes, over the %d KiB limit", len(v), maxHeaderValue>>10)
	}
	v = strings.TrimSpace(v)
	switch {
	case strings.HasPrefix(v, K8sTokenPrefix):
		if len(v) > maxK8sToken {
			return nil, auth.Reject(rejectcode.MalformedProof, "k8s token is %d bytes, over the %d limit", len(v), maxK8sToken)
		}
		raw, err := base64.RawURLEncoding.Strict().DecodeString(v[len(K8sTokenPrefix):])
		if err != nil {
			return nil, auth.Reject(rejectcode.MalformedProof, "k8s token: the part after %s is not unpadded base64url", K8sTokenPrefix)
		}
		return parsePresigned(string(raw), FormatK8s)
	case hasPrefixFold(v, "https://") || hasPrefixFold(v, "http://"):
		return parsePresigned(v, FormatURL)
	}
	if p, rej := parseVault(v); p != nil || !rej.garbage {
		if rej != nil {
			return nil, rej.Rejection
		}
		return p, nil
	}
	return nil, auth.Reject(rejectcode.MalformedProof, "the identity header is not an STS identity proof: want a pre-signed GetCallerIdentity URL, a k8s-aws-v1. token, or Vault iam login fields (base64 JSON)")
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// parsePresigned reads a pre-signed GetCallerIdentity URL (url and k8s).
func parsePresigned(raw, format string) (*proof, *auth.Rejection) {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.Host == "" {
		return nil, auth.Reject(rejectcode.MalformedProof, "%s proof: not an absolute URL", format)
	}
	if u.User != nil || u.Fragment != "" || u.RawFragment != "" {
		return nil, auth.Reject(rejectcode.MalformedProof, "%s proof: the URL must not carry user info or a fragment", format)
	}
	query, err := awsv4.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, auth.Reject(rejectcode.MalformedProof, "%s proof: malformed query string: %v", format, err)
	}
	p := &proof{format: format, method: http.MethodGet, target: &url.URL{Scheme: strings.ToLower(u.Scheme), Host: u.Host, Path: u.Path, RawPath: u.RawPath}}
	got := map[string]string{}
	for _, q := range query {
		lk := strings.ToLower(q.Key)
		if _, dup := got[lk]; dup {
			// CVE-2022-2385: a verifier and STS that read different copies
			// of a parameter disagree on who signed.
			return nil, auth.Reject(rejectcode.MalformedProof, "%s proof: query parameter %s appears more than once (compared case-insensitively)", format, shorten(q.Key))
		}
		name, ok := presignParams[lk]
		if !ok {
			return nil, auth.Reject(rejectcode.MalformedProof, "%s proof: query parameter %q is not allowed in a GetCallerIdentity proof", format, shorten(q.Key))
		}
		if q.Key != name {
			return nil, auth.Reject(rejectcode.MalformedProof, "%s proof: query parameter %q must be spelled %s", format, shorten(q.Key), name)
		}
		if q.Bare {
			return nil, auth.Reject(rejectcode.MalformedProof, "%s proof: query parameter %s has no value", format, name)
		}
		got[lk] = q.Value
		p.query = append(p.query, q)
	}
	for _, lk := range []string{"action", "version", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires", "x-amz-signedheaders", "x-amz-signature"} {
		if _, ok := got[lk]; !ok {
			return nil, auth.Reject(rejectcode.MalformedProof, "%s proof: the URL lacks the %s query parameter", format, presignParams[lk])
		}
	}
	if rej := checkOperation(got["action"], got["version"]); rej != nil {
		return nil, rej
	}
	if alg := got["x-amz-algorithm"]; alg != awsv4.Algorithm {
		return nil, auth.Reject(rejectcode.MalformedProof, "%s proof: X-Amz-Algorithm %q is not %s", format, shorten(alg), awsv4.Algorithm)
	}
	if rej := p.parseCredential(got["x-amz-credential"]); rej != nil {
		return nil, rej
	}
	if rej := p.parseDate(got["x-amz-date"]); rej != nil {
		return nil, rej
	}
	exp := got["x-amz-expires"]
	if n, err := strconv.Atoi(exp); err != nil || n < 1 || n > maxPresignExpires || strings.TrimLeft(exp, "0123456789") != "" {
		return nil, auth.Reject(rejectcode.MalformedProof, "%s proof: X-Amz-Expires %q must be a whole number of seconds from 1 to %d", format, shorten(exp), maxPresignExpires)
	}
	if rej := p.parseSignedHeaders(got["x-amz-signedheaders"], []string{"host", serverIDHeader(format)}); rej != nil {
		return nil, rej
	}
	return p, nil
}

// vaultRejection is a Vault-format refusal; garbage means the value is not
// a Vault proof at all (not base64 JSON).
type vaultRejection struct {
	*auth.Rejection
	garbage bool
}

// vaultLogin is Vault's iam login fields.
type vaultLogin struct {
	Method  *string `json:"iam_http_request_method"`
	URL     *string `json:"iam_request_url"`
	Body    *string `json:"iam_request_body"`
	Headers *string `json:"iam_request_headers"`
	Role    string  `json:"role"` // a Vault role name; accepted and ignored
}

// parseVault reads Vault's iam login fields (docs/auth/sts-identity.md, "How a back end verifies a proof"): the
// login JSON, the STS endpoint, the body, the headers and their
// Authorization, one function each.
func parseVault(v string) (*proof, *vaultRejection) {
	js, err := base64.StdEncoding.Strict().DecodeString(v)
	if err != nil || len(js) == 0 || js[0] != '{' {
		return nil, &vaultRejection{garbage: true}
	}
	fail := func(rej *auth.Rejection) (*proof, *vaultRejection) {
		return nil, &vaultRejection{Rejection: rej}
	}
	rawURL, body, hdrJSON, rej := decodeVaultLogin(js)
	if rej != nil {
		return fail(rej)
	}
	target, rej := vaultTarget(rawURL)
	if rej != nil {
		return fail(rej)
	}
	p := &proof{format: FormatVault, method: http.MethodPost, body: body, target: target}
	if rej := checkVaultBody(body); rej != nil {
		return fail(rej)
	}
	if p.headers, rej = vaultRequestHeaders(hdrJSON); rej != nil {
		return fail(rej)
	}
	p.serverID = p.headers.Get(ServerIDHeaderVault)
	if rej := p.parseVaultAuthorization(); rej != nil {
		return fail(rej)
	}
	return p, nil
}

// vaultReject is a refusal of the vault proof's form.
func vaultReject(format string, args ...any) *auth.Rejection {
	return auth.Reject(rejectcode.MalformedProof, "vault proof: "+format, args...)
}

// decodeVaultLogin decodes the login JSON (no unknown or missing fields,
// method POST) and its three base64 fields.
func decodeVaultLogin(js []byte) (rawURL, body, hdrJSON []byte, rej *auth.Rejection) {
	var login vaultLogin
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&login); err != nil {
		return nil, nil, nil, vaultReject("the login fields are not valid: %v", shortErr(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, nil, vaultReject("trailing data after the login fields")
	}
	switch {
	case login.Method == nil || login.URL == nil || login.Body == nil || login.Headers == nil:
		return nil, nil, nil, vaultReject("want iam_http_request_method, iam_request_url, iam_request_body and iam_request_headers")
	case *login.Method != http.MethodPost:
		return nil, nil, nil, vaultReject("iam_http_request_method must be POST, not %q", shorten(*login.Method))
	}
	out := make([][]byte, 3)
	for i, f := range []struct{ name, b64 string }{{"iam_request_url", *login.URL}, {"iam_request_body", *login.Body}, {"iam_request_headers", *login.Headers}} {
		b, err := base64.StdEncoding.Strict().DecodeString(f.b64)
		if err != nil {
			return nil, nil, nil, vaultReject("%s is not base64", f.name)
		}
		out[i] = b
	}
	return out[0], out[1], out[2], nil
}

// vaultTarget reads iam_request_url: an absolute URL, the bare STS endpoint.
func vaultTarget(rawURL []byte) (*url.URL, *auth.Rejection) {
	u, err := url.Parse(string(rawURL))
	if err != nil || u.Opaque != "" || u.Host == "" {
		return nil, vaultReject("iam_request_url is not an absolute URL")
	}
	if u.User != nil || u.Fragment != "" || u.RawQuery != "" || u.ForceQuery {
		return nil, vaultReject("iam_request_url must be the bare STS endpoint, without user info, query or fragment")
	}
	return &url.URL{Scheme: strings.ToLower(u.Scheme), Host: u.Host, Path: u.Path, RawPath: u.RawPath}, nil
}

// checkVaultBody requires the body to be exactly Action=GetCallerIdentity
// and Version (docs/auth/sts-identity.md, "How a back end verifies a proof").
func checkVaultBody(body []byte) *auth.Rejection {
	form, err := awsv4.ParseQuery(string(body))
	if err != nil {
		return vaultReject("iam_request_body: %v", err)
	}
	vals := map[string]string{}
	for _, f := range form {
		lk := strings.ToLower(f.Key)
		if _, dup := vals[lk]; dup {
			return vaultReject("iam_request_body: %s appears more than once (compared case-insensitively)", shorten(f.Key))
		}
		if f.Key != "Action" && f.Key != "Version" {
			return vaultReject("iam_request_body: parameter %q is not allowed (only Action and Version)", shorten(f.Key))
		}
		vals[lk] = f.Value
	}
	if _, ok := vals["action"]; !ok {
		return vaultReject("iam_request_body lacks Action")
	}
	if _, ok := vals["version"]; !ok {
		return vaultReject("iam_request_body lacks Version")
	}
	return checkOperation(vals["action"], vals["version"])
}

// vaultRequestHeaders reads iam_request_headers: Go's map[string][]string
// (or string values), names unique case-insensitively, only the allowlist
// copied, and a form Content-Type.
func vaultRequestHeaders(hdrJSON []byte) (http.Header, *auth.Rejection) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdrJSON, &raw); err != nil {
		return nil, vaultReject("iam_request_headers is not a JSON object of headers")
	}
	h := http.Header{}
	for name, rv := range raw {
		lk := strings.ToLower(name)
		var vs []string
		var one string
		if err := json.Unmarshal(rv, &vs); err != nil {
			if err := json.Unmarshal(rv, &one); err != nil {
				return nil, vaultReject("iam_request_headers: %s is neither a string nor a list of strings", shorten(name))
			}
			vs = []string{one}
		}
		if !vaultHeaders[lk] {
			if strings.HasPrefix(lk, "x-amz-") {
				return nil, vaultReject("header %s is not allowed in a GetCallerIdentity proof", shorten(name))
			}
			continue // User-Agent and the like: not forwarded
		}
		ck := http.CanonicalHeaderKey(lk)
		if _, dup := h[ck]; dup {
			return nil, vaultReject("header %s appears more than once (compared case-insensitively)", shorten(name))
		}
		if len(vs) != 1 {
			return nil, vaultReject("header %s must have exactly one value", shorten(name))
		}
		h[ck] = vs
	}
	ct := h.Get("Content-Type")
	if mt, params, err := mime.ParseMediaType(ct); err != nil || mt != "application/x-www-form-urlencoded" ||
		len(params) > 1 || (len(params) == 1 && !strings.EqualFold(params["charset"], "utf-8")) {
		return nil, vaultReject("Content-Type must be application/x-www-form-urlencoded; charset=utf-8, not %q", shorten(ct))
	}
	return h, nil
}

// parseVaultAuthorization reads the proof's SigV4 Authorization header
// (AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…) and its
// X-Amz-Date.
func (p *proof) parseVaultAuthorization() *auth.Rejection {
	authz := p.headers.Get("Authorization")
	if authz == "" {
		return vaultReject("the Authorization header is missing")
	}
	a, perr := awsv4.ParseAuthorization(authz)
	if a.Algorithm != awsv4.Algorithm {
		return vaultReject("the Authorization header is not %s", awsv4.Algorithm)
	}
	var aerr *awsv4.AuthError
	if errors.As(perr, &aerr) {
		switch aerr.Problem {
		case awsv4.DuplicateField:
			// Exactly one SignedHeaders component (docs/auth/sts-identity.md, "How a back end verifies a proof").
			return vaultReject("the Authorization header has %s more than once", aerr.Part)
		case awsv4.MissingField:
			return vaultReject("the Authorization header needs Credential, SignedHeaders and Signature")
		}
		return vaultReject("malformed Authorization header")
	}
	if rej := p.parseCredential(a.Credential); rej != nil {
		return rej
	}
	d := p.headers.Get("X-Amz-Date")
	if d == "" {
		return vaultReject("the X-Amz-Date header is missing")
	}
	if rej := p.parseDate(d); rej != nil {
		return rej
	}
	// content-length is the validated body's, which the rebuilt request carries.
	allowed := []string{"host", "content-length", "content-type", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256", ServerIDHeaderVault}
	if rej := p.parseSignedHeaders(a.SignedHeaders, allowed); rej != nil {
		return rej
	}
	if !slices.Contains(p.signedHeaders, "x-amz-date") {
		return vaultReject("x-amz-date is not signed")
	}
	return nil
}

// checkOperation requires GetCallerIdentity of the 2011-06-15 API.
func checkOperation(action, version string) *auth.Rejection {
	if action != ActionGetCallerIdentity {
		return auth.Reject(rejectcode.MalformedProof, "the proof's action is %q, not GetCallerIdentity", shorten(action))
	}
	if version != APIVersion {
		return auth.Reject(rejectcode.MalformedProof, "the proof's Version is %q, not %s", shorten(version), APIVersion)
	}
	return nil
}

func (p *proof) parseCredential(s string) *auth.Rejection {
	parts := strings.Split(s, "/")
	if len(parts) != 5 || parts[4] != awsv4.ScopeTerminator || parts[0] == "" || parts[2] == "" {
		return auth.Reject(rejectcode.MalformedProof, "%s proof: malformed credential %q: want ACCESS_KEY/YYYYMMDD/region/sts/aws4_request", p.format, shorten(s))
	}
	if parts[3] != "sts" {
		return auth.Reject(rejectcode.MalformedProof, "%s proof: the credential is scoped to service %q, not sts", p.format, shorten(parts[3]))
	}
	if _, err := time.Parse(awsv4.DateFormat, parts[1]); err != nil || len(parts[1]) != 8 {
		return auth.Reject(rejectcode.MalformedProof, "%s proof: malformed credential scope date %q", p.format, shorten(parts[1]))
	}
	p.accessKeyID, p.region, p.scopeDate = parts[0], parts[2], parts[1]
	return nil
}

func (p *proof) parseDate(s string) *auth.Rejection {
	t, err := time.Parse(awsv4.TimeFormat, s)
	if err != nil || len(s) != len(awsv4.TimeFormat) {
		return auth.Reject(rejectcode.MalformedProof, "%s proof: X-Amz-Date %q is not YYYYMMDDTHHMMSSZ", p.format, shorten(s))
	}
	if p.scopeDate != "" && p.scopeDate != s[:8] {
		return auth.Reject(rejectcode.MalformedProof, "%s proof: the credential scope date %s is not the X-Amz-Date's %s", p.format, p.scopeDate, s[:8])
	}
	p.date = t
	return nil
}

// parseSignedHeaders reads SignedHeaders: lower-case, sorted, unique, with
// host, and nothing outside allowed (a header the verifier does not copy
// could never be signed for).
func (p *proof) parseSignedHeaders(s string, allowed []string) *auth.Rejection {
	names := strings.Split(s, ";")
	for i, n := range names {
		if n == "" || n != strings.ToLower(n) || (i > 0 && names[i-1] >= n) {
			return auth.Reject(rejectcode.MalformedProof, "%s proof: SignedHeaders %q must be lower-case names, sorted, without duplicates", p.format, shorten(s))
		}
		if !slices.Contains(allowed, n) {
			return auth.Reject(rejectcode.MalformedProof, "%s proof: signed header %s is not allowed (allowed: %s)", p.format, shorten(n), strings.Join(allowed, ", "))
		}
	}
	if !slices.Contains(names, "host") {
		return auth.Reject(rejectcode.MalformedProof, "%s proof: host is not signed", p.format)
	}
	p.signedHeaders = names
	return nil
}

// signs reports whether a header is in SignedHeaders (exact element match,
// docs/auth/sts-identity.md).
func (p *proof) signs(name string) bool { return slices.Contains(p.signedHeaders, name) }

// request rebuilds the STS request from trusted parts: the trusted endpoint
// (method, scheme, host, path), the allowlisted signature parameters or
// headers, the validated body, and the route's own server id
// (docs/auth/sts-identity.md, "How a back end verifies a proof").
func (p *proof) request(endpoint *url.URL, serverID string) *http.Request {
	u := &url.URL{Scheme: endpoint.Scheme, Host: endpoint.Host, Path: endpoint.Path, RawPath: endpoint.RawPath}
	r := &http.Request{Method: p.method, URL: u, Host: endpoint.Host, Header: http.Header{}, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	if p.method == http.MethodGet {
		u.RawQuery = awsv4.EncodeQuery(p.query)
		r.Body = http.NoBody
	} else {
		for k, v := range p.headers {
			if k != http.CanonicalHeaderKey(ServerIDHeaderVault) {
				r.Header[k] = slices.Clone(v)
			}
		}
		body := p.body
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		r.ContentLength = int64(len(body))
	}
	if serverID != "" {
		r.Header.Set(serverIDHeader(p.format), serverID)
	}
	return r
}

func shortErr(err error) string { return shorten(fmt.Sprint(err)) }
