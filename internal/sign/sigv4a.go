package sign

// SigV4a signing (docs/auth/sigv4.md, "SigV4a"). The request is prepared for
// the wire exactly as for SigV4 (prepareWire); the canonical request is then
// built here with internal/awsv4's canonicalization, because aws-sdk-go-v2's
// SigV4a signer is an internal package (see internal/awsv4/v4a.go for why no
// library is used), and signed with the ECDSA key derived from the
// credentials.

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/gwcurl/gwcurl/internal/awsv4"
)

// signV4A signs req in place (header form) or returns a presigned URL with
// SigV4a for p.Service and the region set p.Region ("*", "us-east-1,eu-west-1").
func signV4A(keys *awsv4.V4AKeys, creds aws.Credentials, req *http.Request, p v4Params) (v4Result, error) {
	var res v4Result
	if _, err := awsv4.ParseRegionSet(p.Region); err != nil {
		return res, fmt.Errorf("sigv4a: region set %q: %w", p.Region, err)
	}
	key, err := keys.Get(creds.AccessKeyID, creds.SecretAccessKey)
	if err != nil {
		return res, err
	}
	host, _, err := prepareWire(req, p.Path)
	if err != nil {
		return res, err
	}
	// The canonical URI of the path as it now goes on the wire (the SDK
	// encodes prepareWire's form once more itself; here that is explicit).
	canonPath, err := awsv4.CanonicalURI(uriPath(req.URL), p.Path)
	if err != nil {
		return res, fmt.Errorf("sigv4a: %w", err)
	}
	for _, h := range append(signingHeaders, awsv4.HeaderRegionSet) {
		req.Header.Del(h)
	}
	amzDate := p.Time.UTC().Format(awsv4.TimeFormat)
	scope := awsv4.ScopeV4A(amzDate[:8], p.Service)
	credential := creds.AccessKeyID + "/" + scope

	// Signed headers: host and every header of the request except the
	// unsigned ones (as for SigV4), content-length when known.
	hdr := http.Header{}
	for k, v := range req.Header {
		hdr[k] = v
	}
	for _, h := range unsignedHeaders {
		hdr.Del(h)
	}
	params, err := awsv4.ParseQuery(req.URL.RawQuery)
	if err != nil {
		return res, fmt.Errorf("sigv4a: %w", err)
	}
	if p.Presign {
		if params, err = v4aPresignParams(params, p, creds, credential, amzDate); err != nil {
			return res, err
		}
	} else {
		v4aSetHeaders(req.Header, hdr, p, creds, amzDate)
	}
	if req.ContentLength > 0 {
		hdr.Set("Content-Length", strconv.FormatInt(req.ContentLength, 10))
	}
	hdr.Set("Host", host)
	headerBlock, signed := v4aCanonicalHeaders(hdr)
	if p.Presign {
		params = append(params, awsv4.QueryParam{Key: awsv4.QuerySignedHeaders, Value: signed})
	}
	res.CanonicalRequest = req.Method + "\n" + canonPath + "\n" + awsv4.CanonicalQuery(params) + "\n" +
		headerBlock + "\n" + signed + "\n" + p.PayloadHash
	res.StringToSign = awsv4.AlgorithmV4A + "\n" + amzDate + "\n" + scope + "\n" + awsv4.HashHex([]byte(res.CanonicalRequest))
	if res.Signature, err = awsv4.SignV4A(key, res.StringToSign); err != nil {
		return res, fmt.Errorf("sigv4a: %w", err)
	}

	if p.Presign {
		params = append(params, awsv4.QueryParam{Key: awsv4.QuerySignature, Value: res.Signature})
		out := *req.URL
		out.Host = host
		out.User = nil
		out.Fragment, out.RawFragment = "", ""
		out.RawQuery = awsv4.EncodeQuery(params)
		res.URL = out.String()
		return res, nil
	}
	req.Header.Set("Authorization", fmt.Sprintf("%s Credential=%s, SignedHeaders=%s, Signature=%s",
		awsv4.AlgorithmV4A, credential, signed, res.Signature))
	return res, nil
}

// v4aPresignParams appends the query parameters of a presigned SigV4a URL
// (all but X-Amz-SignedHeaders and X-Amz-Signature) to params.
func v4aPresignParams(params []awsv4.QueryParam, p v4Params, creds aws.Credentials, credential, amzDate string) ([]awsv4.QueryParam, error) {
	secs := int64(p.Expires / time.Second)
	if secs < 1 || secs > awsv4.MaxPresignExpires {
		return nil, fmt.Errorf("sigv4a: presign expiry %s is out of range (1s to 168h)", p.Expires)
	}
	params = append(params,
		awsv4.QueryParam{Key: awsv4.QueryAlgorithm, Value: awsv4.AlgorithmV4A},
		awsv4.QueryParam{Key: awsv4.QueryCredential, Value: credential},
		awsv4.QueryParam{Key: awsv4.QueryDate, Value: amzDate},
		awsv4.QueryParam{Key: awsv4.QueryExpires, Value: strconv.FormatInt(secs, 10)},
		awsv4.QueryParam{Key: awsv4.QueryRegionSet, Value: p.Region},
	)
	if creds.SessionToken != "" {
		params = append(params, awsv4.QueryParam{Key: awsv4.QuerySecurityToken, Value: creds.SessionToken})
	}
	return params, nil
}

// v4aSetHeaders sets the signing headers of a SigV4a Authorization-header
// signature on the request's headers (out) and on those it signs (signed).
func v4aSetHeaders(out, signed http.Header, p v4Params, creds aws.Credentials, amzDate string) {
	set := func(k, v string) {
		out.Set(k, v)
		signed.Set(k, v)
	}
	set("X-Amz-Date", amzDate)
	set(awsv4.HeaderRegionSet, p.Region)
	if creds.SessionToken != "" {
		set("X-Amz-Security-Token", creds.SessionToken)
	}
	if p.ContentSHA256 {
		set("X-Amz-Content-Sha256", p.PayloadHash)
	}
}

// v4aCanonicalHeaders returns the canonical headers block of hdr (one
// "name:values" line each, sorted by lower-case name, repeated headers
// joined) and its signed-headers list.
func v4aCanonicalHeaders(hdr http.Header) (block, signed string) {
	names := make([]string, 0, len(hdr))
	lower := make(map[string][]string, len(hdr))
	for k, v := range hdr {
		lk := strings.ToLower(k)
		if _, seen := lower[lk]; !seen {
			names = append(names, lk)
		}
		lower[lk] = append(lower[lk], v...)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		vals := make([]string, len(lower[n]))
		for i, v := range lower[n] {
			vals[i] = awsv4.TrimAll(v)
		}
		b.WriteString(n + ":" + strings.Join(vals, ",") + "\n")
	}
	return b.String(), strings.Join(names, ";")
}
