package sigv4verify

// SigV4a verification (AWS4-ECDSA-P256-SHA256) on routes with sigv4a: true
// (docs/auth/sigv4.md, "The mock gateway"). The checks are SigV4's (Check):
// strict parsing, freshness, signed-header policy, payload hash, session
// token; what differs is the credential scope (no region), the region set
// (X-Amz-Region-Set, signed, which must cover the route's region) and the
// signature (ECDSA P-256 under the key derived from the secret, see
// internal/awsv4/v4a.go). checkV4A runs the stages it shares with Check
// (payload hash, canonical request, freshness, signed-header policy, key)
// through checkShared with its own scope check, then checks its signature
// and the body.

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gwcurl/gwcurl/internal/awsv4"
	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/rejectcode"
)

// isV4A reports whether r is signed with SigV4a (header or query form).
func isV4A(r *http.Request, params []awsv4.QueryParam) bool {
	if strings.HasPrefix(strings.TrimSpace(r.Header.Get("Authorization")), awsv4.AlgorithmV4A+" ") {
		return true
	}
	for _, p := range params {
		if p.Key == awsv4.QueryAlgorithm && p.Value == awsv4.AlgorithmV4A {
			return true
		}
	}
	return false
}

// v4aCred is a parsed SigV4a authentication.
type v4aCred struct {
	credential        // region stays empty: a SigV4a scope has none
	regions    string // X-Amz-Region-Set as sent
}

func parseV4A(r *http.Request, params []awsv4.QueryParam) (*v4aCred, error) {
	c := &v4aCred{}
	fields := map[string]string{}
	if h := r.Header.Values("Authorization"); len(h) > 0 {
		if len(h) > 1 {
			return nil, auth.Reject(rejectcode.MalformedSigV4, "the Authorization header was sent %d times", len(h))
		}
		a, err := awsv4.ParseAuthorization(h[0])
		if err != nil {
			return nil, auth.Reject(rejectcode.MalformedSigV4, "SigV4a: %v", err)
		}
		fields["Credential"], fields["SignedHeaders"], fields["Signature"] = a.Credential, a.SignedHeaders, a.Signature
		c.params = params
		if c.amzDate, err = singleHeader(r, "X-Amz-Date"); err != nil {
			return nil, err
		}
		if c.token, err = singleHeader(r, "X-Amz-Security-Token"); err != nil {
			return nil, err
		}
		if c.regions, err = singleHeader(r, awsv4.HeaderRegionSet); err != nil {
			return nil, err
		}
	} else {
		c.presigned = true
		got := map[string]string{}
		for _, p := range params {
			if n, ok := queryAuthName(p.Key); ok || strings.EqualFold(p.Key, awsv4.QueryRegionSet) {
				if !ok {
					n = awsv4.QueryRegionSet
				}
				if p.Key != n {
					return nil, auth.Reject(rejectcode.MalformedSigV4, "query parameter %q must be spelled %s", shorten(p.Key), n)
				}
				if _, dup := got[n]; dup {
					return nil, auth.Reject(rejectcode.MalformedSigV4, "query parameter %s appears twice", n)
				}
				got[n] = p.Value
			}
			if p.Key != awsv4.QuerySignature {
				c.params = append(c.params, p)
			}
		}
		fields["Credential"], fields["SignedHeaders"], fields["Signature"] = got[awsv4.QueryCredential], got[awsv4.QuerySignedHeaders], got[awsv4.QuerySignature]
		c.amzDate, c.token, c.regions = got[awsv4.QueryDate], got[awsv4.QuerySecurityToken], got[awsv4.QueryRegionSet]
		n, err := strconv.Atoi(got[awsv4.QueryExpires])
		if err != nil || n < 1 || n > awsv4.MaxPresignExpires {
			return nil, auth.Reject(rejectcode.MalformedSigV4, "X-Amz-Expires %q must be a whole number of seconds from 1 to %d", shorten(got[awsv4.QueryExpires]), awsv4.MaxPresignExpires)
		}
		c.expires = n
	}
	parts := strings.Split(fields["Credential"], "/")
	if len(parts) != 4 || parts[3] != awsv4.ScopeTerminator || parts[0] == "" || parts[2] == "" {
		return nil, auth.Reject(rejectcode.MalformedSigV4, "malformed SigV4a credential %q: want ACCESS_KEY/YYYYMMDD/service/aws4_request", shorten(fields["Credential"]))
	}
	c.accessKeyID, c.scopeDate, c.service = parts[0], parts[1], parts[2]
	sh := fields["SignedHeaders"]
	if sh == "" {
		return nil, auth.Reject(rejectcode.MalformedSigV4, "SignedHeaders is empty")
	}
	c.signedHeaders = strings.Split(sh, ";")
	if !sort.StringsAreSorted(c.signedHeaders) || strings.ToLower(sh) != sh {
		return nil, auth.Reject(rejectcode.MalformedSigV4, "SignedHeaders %q must be sorted lower-case names", shorten(sh))
	}
	c.signature = fields["Signature"]
	if c.signature == "" || len(c.signature) > 144 || strings.Trim(c.signature, "0123456789abcdef") != "" {
		return nil, auth.Reject(rejectcode.MalformedSigV4, "malformed SigV4a signature: want the lower-case hex of an ASN.1 ECDSA signature")
	}
	t, err := time.Parse(awsv4.TimeFormat, c.amzDate)
	if err != nil {
		return nil, auth.Reject(rejectcode.MalformedSigV4, "missing or malformed X-Amz-Date %q", shorten(c.amzDate))
	}
	c.time = t
	if c.regions == "" {
		return nil, auth.Reject(rejectcode.MalformedSigV4, "SigV4a request without X-Amz-Region-Set")
	}
	return c, nil
}

// checkV4A verifies a SigV4a request; see the file comment.
func (v *Verifier) checkV4A(r *http.Request, rawPath string, params []awsv4.QueryParam) (*Result, error) {
	cred, err := parseV4A(r, params)
	if err != nil {
		return nil, err
	}
	sr, err := v.checkShared(r, rawPath, &cred.credential, true, awsv4.AlgorithmV4A, awsv4.ScopeV4A(cred.scopeDate, cred.service),
		func(reject rejecter) *auth.Rejection { return v.checkV4AScope(cred, reject) })
	if err != nil {
		return nil, err
	}
	priv, err := v.v4aKeys.Get(sr.key.AccessKeyID, sr.key.SecretAccessKey)
	if err != nil {
		return nil, sr.reject(rejectcode.SignatureMismatch, "cannot derive the SigV4a key of %s", sr.key.AccessKeyID)
	}
	if !awsv4.VerifyV4A(&priv.PublicKey, sr.sts, cred.signature) {
		return nil, sr.reject(rejectcode.SignatureMismatch, "signature mismatch (SigV4a)")
	}
	if err := v.checkBody(r, sr.pl, sr.reject); err != nil {
		return nil, err
	}
	return &Result{
		Key: sr.key, Presigned: cred.presigned, Time: cred.time, Region: cred.regions, Service: cred.service,
		SignedHeaders: cred.signedHeaders, PayloadHash: sr.pl.hash, CanonicalRequest: sr.cr, StringToSign: sr.sts,
	}, nil
}

// checkV4AScope checks the SigV4a credential scope (date and service; it
// has no region) and the region set, which must be signed and cover the
// route's region.
func (v *Verifier) checkV4AScope(cred *v4aCred, reject rejecter) *auth.Rejection {
	if cred.scopeDate != cred.amzDate[:8] {
		return reject(rejectcode.ScopeDateMismatch, "credential scope date %s does not match the request date %s", cred.scopeDate, cred.amzDate)
	}
	if cred.service != v.opts.Service {
		return reject(rejectcode.ServiceMismatch, "credential scope service: signed for %s, route expects %s", cred.service, v.opts.Service).
			With("want", v.opts.Service).With("got", cred.service)
	}
	set, err := awsv4.ParseRegionSet(cred.regions)
	if err != nil {
		return reject(rejectcode.MalformedSigV4, "X-Amz-Region-Set %q: %v", shorten(cred.regions), err)
	}
	if v.opts.Region != "" && !awsv4.RegionSetCovers(set, v.opts.Region) {
		return reject(rejectcode.RegionMismatch, "region set: signed for %s, which does not include the route's region %s", cred.regions, v.opts.Region).
			With("want", v.opts.Region).With("got", cred.regions)
	}
	if !cred.presigned && !slices.Contains(cred.signedHeaders, "x-amz-region-set") {
		return reject(rejectcode.HeaderNotSigned, "x-amz-region-set is present but not signed")
	}
	return nil
}
