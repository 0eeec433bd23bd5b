package sigv4verify

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gwcurl/gwcurl/internal/awsv4"
	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/rejectcode"
)

// Query parameters of query authentication, matched case-insensitively so
// that a case-folded duplicate ("x-amz-signature") is refused rather than
// ignored.
var queryAuthParams = []string{
	awsv4.QueryAlgorithm, awsv4.QueryCredential, awsv4.QueryDate, awsv4.QueryExpires,
	awsv4.QuerySignedHeaders, awsv4.QuerySignature, awsv4.QuerySecurityToken,
}

func queryAuthName(k string) (string, bool) {
	for _, n := range queryAuthParams {
		if strings.EqualFold(k, n) {
			return n, true
		}
	}
	return "", false
}

// parseAuth finds and strictly parses the request's single authentication
// (docs/auth/sigv4.md, "The mock gateway").
func parseAuth(r *http.Request, params []awsv4.QueryParam, service string) (*credential, error) {
	authz := r.Header.Values("Authorization")
	qauth := false
	for _, p := range params {
		switch n, _ := queryAuthName(p.Key); n {
		case awsv4.QueryAlgorithm, awsv4.QueryCredential, awsv4.QuerySignature, awsv4.QuerySignedHeaders:
			qauth = true
		}
	}
	switch {
	case len(authz) == 0 && !qauth:
		return nil, noAuthentication(service)
	case len(authz) > 0 && qauth:
		return nil, auth.Reject(rejectcode.MalformedSigV4, "both an Authorization header and query-string authentication (X-Amz-*) were sent: use exactly one")
	case len(authz) > 1:
		return nil, auth.Reject(rejectcode.MalformedSigV4, "the Authorization header was sent %d times", len(authz))
	case qauth:
		return parseQueryAuth(params)
	}
	return parseHeaderAuth(r, authz[0], params)
}

// noAuthentication is the answer to an unsigned request: 403, as Lambda
// function URLs and API Gateway answer it (never 401), with their JSON
// message field alongside the gateway's reason.
func noAuthentication(service string) *auth.Rejection {
	rej := auth.Reject(rejectcode.MissingSigV4, "missing AWS SigV4 authentication: no Authorization header and no X-Amz-Signature query parameter")
	switch service {
	case "execute-api":
		rej.Header = http.Header{"X-Amzn-Errortype": {"MissingAuthenticationTokenException"}}
		return rej.With("message", "Missing Authentication Token")
	case "s3":
		return rej.With("Code", "AccessDenied").With("Message", "Access Denied")
	}
	rej.Header = http.Header{"X-Amzn-Errortype": {"AccessDeniedException"}}
	return rej.With("Message", "Forbidden")
}

func parseHeaderAuth(r *http.Request, h string, params []awsv4.QueryParam) (*credential, error) {
	a, perr := awsv4.ParseAuthorization(h)
	switch a.Algorithm {
	case awsv4.Algorithm:
	case "AWS4-ECDSA-P256-SHA256":
		return nil, auth.Reject(rejectcode.MalformedSigV4, "SigV4a (AWS4-ECDSA-P256-SHA256) is not accepted on this route: sign with SigV4 (AWS4-HMAC-SHA256)")
	default:
		return nil, auth.Unauthorized(rejectcode.NotSigV4, "the Authorization header is not AWS SigV4 (want %q, got %q)", awsv4.Algorithm+" Credential=...", redactScheme(a.Algorithm))
	}
	if perr != nil {
		return nil, auth.Reject(rejectcode.MalformedSigV4, "%v", perr)
	}
	c := &credential{params: params}
	if err := c.parseCredential(a.Credential); err != nil {
		return nil, err
	}
	if err := c.parseSignedHeaders(a.SignedHeaders); err != nil {
		return nil, err
	}
	if err := c.parseSignature(a.Signature); err != nil {
		return nil, err
	}
	amzDate, err := singleHeader(r, "X-Amz-Date")
	if err != nil {
		return nil, err
	}
	if amzDate != "" {
		if err := c.parseDate(amzDate, "X-Amz-Date"); err != nil {
			return nil, err
		}
	} else {
		d, err := singleHeader(r, "Date")
		if err != nil {
			return nil, err
		}
		if d == "" {
			return nil, auth.Reject(rejectcode.MalformedSigV4, "missing X-Amz-Date header")
		}
		t, err := http.ParseTime(d)
		if err != nil {
			return nil, auth.Reject(rejectcode.MalformedSigV4, "Date header %q is not an HTTP date", shorten(d))
		}
		c.time, c.amzDate = t.UTC(), t.UTC().Format(awsv4.TimeFormat)
	}
	if c.token, err = singleHeader(r, "X-Amz-Security-Token"); err != nil {
		return nil, err
	}
	return c, nil
}

func parseQueryAuth(params []awsv4.QueryParam) (*credential, error) {
	got := map[string]string{}
	c := &credential{presigned: true}
	for _, p := range params {
		n, ok := queryAuthName(p.Key)
		if !ok {
			c.params = append(c.params, p)
			continue
		}
		if p.Key != n {
			return nil, auth.Reject(rejectcode.MalformedSigV4, "query parameter %q must be spelled %s", shorten(p.Key), n)
		}
		if _, dup := got[n]; dup {
			return nil, auth.Reject(rejectcode.MalformedSigV4, "query parameter %s appears twice", n)
		}
		got[n] = p.Value
		if n != awsv4.QuerySignature {
			c.params = append(c.params, p)
		}
	}
	for _, n := range []string{awsv4.QueryAlgorithm, awsv4.QueryCredential, awsv4.QueryDate, awsv4.QueryExpires, awsv4.QuerySignedHeaders, awsv4.QuerySignature} {
		if _, ok := got[n]; !ok {
			return nil, auth.Reject(rejectcode.MalformedSigV4, "presigned request lacks the %s query parameter", n)
		}
	}
	if alg := got[awsv4.QueryAlgorithm]; alg != awsv4.Algorithm {
		return nil, auth.Reject(rejectcode.MalformedSigV4, "X-Amz-Algorithm %q is not supported (want %s)", shorten(alg), awsv4.Algorithm)
	}
	if err := c.parseCredential(got[awsv4.QueryCredential]); err != nil {
		return nil, err
	}
	if err := c.parseSignedHeaders(got[awsv4.QuerySignedHeaders]); err != nil {
		return nil, err
	}
	if err := c.parseSignature(got[awsv4.QuerySignature]); err != nil {
		return nil, err
	}
	if err := c.parseDate(got[awsv4.QueryDate], awsv4.QueryDate); err != nil {
		return nil, err
	}
	exp := got[awsv4.QueryExpires]
	n, err := strconv.Atoi(exp)
	if err != nil || n < 1 || n > awsv4.MaxPresignExpires || strings.TrimLeft(exp, "0123456789") != "" {
		return nil, auth.Reject(rejectcode.MalformedSigV4, "X-Amz-Expires %q must be a whole number of seconds from 1 to %d", shorten(exp), awsv4.MaxPresignExpires)
	}
	c.expires = n
	c.token = got[awsv4.QuerySecurityToken]
	return c, nil
}

func (c *credential) parseCredential(s string) error {
	parts := strings.Split(s, "/")
	if len(parts) != 5 || parts[4] != awsv4.ScopeTerminator {
		return auth.Reject(rejectcode.MalformedSigV4, "malformed credential %q: want ACCESS_KEY/YYYYMMDD/region/service/aws4_request", shorten(s))
	}
	for i, p := range parts[:4] {
		if p == "" {
			return auth.Reject(rejectcode.MalformedSigV4, "malformed credential %q: part %d is empty", shorten(s), i+1)
		}
	}
	if _, err := time.Parse(awsv4.DateFormat, parts[1]); err != nil || len(parts[1]) != 8 {
		return auth.Reject(rejectcode.MalformedSigV4, "malformed credential scope date %q: want YYYYMMDD", shorten(parts[1]))
	}
	c.accessKeyID, c.scopeDate, c.region, c.service = parts[0], parts[1], parts[2], parts[3]
	return nil
}

func (c *credential) parseSignedHeaders(s string) error {
	if s == "" {
		return auth.Reject(rejectcode.MalformedSigV4, "SignedHeaders is empty")
	}
	names := strings.Split(s, ";")
	for i, n := range names {
		if n == "" || n != strings.ToLower(n) || strings.ContainsAny(n, " \t:") {
			return auth.Reject(rejectcode.MalformedSigV4, "SignedHeaders %q: header names must be lower-case tokens", shorten(s))
		}
		if i > 0 && names[i-1] >= n {
			return auth.Reject(rejectcode.MalformedSigV4, "SignedHeaders %q must be sorted and without duplicates", shorten(s))
		}
	}
	c.signedHeaders = names
	return nil
}

func (c *credential) parseSignature(s string) error {
	if !awsv4.IsHexSHA256(s) {
		return auth.Reject(rejectcode.MalformedSigV4, "malformed signature: want 64 lower-case hex digits")
	}
	c.signature = s
	return nil
}

func (c *credential) parseDate(s, field string) error {
	t, err := time.Parse(awsv4.TimeFormat, s)
	if err != nil || len(s) != len(awsv4.TimeFormat) {
		return auth.Reject(rejectcode.MalformedSigV4, "%s %q is not in the form YYYYMMDDTHHMMSSZ", field, shorten(s))
	}
	c.time, c.amzDate = t, s
	return nil
}

// shorten bounds client-supplied text echoed in a refusal.
func shorten(s string) string {
	const max = 80
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

// redactScheme shows an unexpected Authorization scheme without a token
// that might follow it.
func redactScheme(s string) string {
	if len(s) > 20 {
		return awsv4.Redact(s)
	}
	return s
}
