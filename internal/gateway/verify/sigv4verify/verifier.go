// Package sigv4verify is the mock gateway's AWS Signature Version 4
// verifier: the `sigv4` route kind, which stands in for a Lambda function
// URL (or API Gateway, or S3) with AuthType AWS_IAM.
//
// # Rules (docs/auth/sigv4.md, "The mock gateway")
//
//   - The canonical request is rebuilt from the request as received:
//     r.RequestURI (path and query exactly as sent), r.Host, the received
//     header values. Nothing decoded and re-encoded by net/http is trusted.
//     Paths are normalized and encoded again for every service but S3,
//     which gets single encoding and no normalization.
//   - Exactly one of header authentication (Authorization) and query
//     authentication (X-Amz-* parameters) is accepted, parsed strictly;
//     duplicate or case-folded authentication parameters are refused.
//   - The credential scope must name the route's region and service and the
//     request's own date; the request time must be within max_skew of the
//     gateway clock (presigned: not yet expired, X-Amz-Expires 1..604800).
//   - host, and every x-amz-* header present, must be signed; a signed
//     header that is absent is refused.
//   - The body's SHA-256 is computed by streaming it (in memory up to a
//     limit, then into an unlinked temporary file) and compared with
//     x-amz-content-sha256; an equivalent unread body is left in r.Body for
//     the origin. UNSIGNED-PAYLOAD only where allow_unsigned_payload is set,
//     never for lambda.
//   - S3 streaming uploads (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, service s3
//     only): every chunk signature and the final empty chunk are verified
//     while the decoded body is spooled; a bad chunk refuses the request
//     (403) before the origin sees any of it (stream.go).
//   - Signatures are compared in constant time (hmac.Equal).
//   - A session token must belong to its access key (constant-time
//     compare) and be signed.
//   - A refusal names what failed and carries the canonical request and
//     string to sign the gateway computed, as AWS's SignatureDoesNotMatch
//     does; never a secret or the expected signature.
package sigv4verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gwcurl/gwcurl/internal/awsv4"
	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/rejectcode"
)

// Kind is the verifier's name in gateway configs and in Identity.Kind.
const Kind = "sigv4"

// DefaultMaxSkew is how far a request's time may be from the gateway clock
// ("a request must reach AWS within five minutes of the time stamp").
const DefaultMaxSkew = 5 * time.Minute

// DefaultSpoolMemory is how much of a body is kept in memory while it is
// hashed; the rest goes to an unlinked temporary file.
const DefaultSpoolMemory = 1 << 20

// PathRules selects how the canonical URI is derived from the wire path.
type PathRules int

const (
	// PathsAuto is S3's rules for service s3, normalized otherwise.
	PathsAuto PathRules = iota
	// PathsNormalized: dot segments removed, slashes collapsed, encoded again.
	PathsNormalized
	// PathsS3: no normalization, single encoding.
	PathsS3
	// PathsEncodedOnly: encoded again, not normalized (aws-c-auth's
	// "*-unnormalized" vectors; no AWS service does this).
	PathsEncodedOnly
)

// Options configure a Verifier.
type Options struct {
	// Service is the signing name the credential scope must carry
	// ("lambda", "execute-api", "s3", "sts", ...). Required.
	Service string
	// Region the credential scope must carry. "" accepts any region, for
	// callers such as a mock STS whose clients sign for their own region.
	Region string
	// AllowUnsignedPayload accepts x-amz-content-sha256: UNSIGNED-PAYLOAD.
	// It is refused for service lambda.
	AllowUnsignedPayload bool
	// MaxSkew is the largest accepted distance between the request time and
	// the gateway clock; 0 means DefaultMaxSkew.
	MaxSkew time.Duration
	// MaxPresignAge, when set, caps the life of a presigned request
	// whatever its X-Amz-Expires says (STS presigned GetCallerIdentity is
	// valid 15 minutes; docs/auth/sts-identity.md).
	MaxPresignAge time.Duration
	// Now is the gateway clock; nil means time.Now.
	Now func() time.Time
	// Paths overrides the path rules (PathsAuto: by Service).
	Paths PathRules
	// SpoolMemory is how many body bytes are kept in memory while hashing;
	// 0 means DefaultSpoolMemory. TempDir holds larger bodies ("" = os.TempDir()).
	SpoolMemory int64
	TempDir     string
	// SigV4a also accepts AWS4-ECDSA-P256-SHA256 requests whose region set
	// covers Region (route key sigv4a: true; see v4a.go).
	SigV4a bool
}

// Verifier verifies SigV4-signed requests against a key table. It is safe
// for concurrent use.
type Verifier struct {
	opts  Options
	mode  awsv4.PathMode
	keys  map[string]auth.AWSKey
	clock func() time.Time
	// v4aKeys caches the SigV4a keys derived from the key table.
	v4aKeys awsv4.V4AKeys
	// ids caches the identity of each key that signed (*auth.Identity,
	// encoded once, shared read-only by its requests).
	ids sync.Map
	// signingKeys caches derived SigV4 signing keys by key, date, region
	// and service ([]byte), as the AWS SDKs do; nSigningKeys bounds it.
	signingKeys  sync.Map
	nSigningKeys atomic.Int64
}

// maxSigningKeys bounds the signing-key cache: beyond it, keys are derived
// on every request (the date is bounded by the allowed skew, but the
// region of a scope need not be).
const maxSigningKeys = 4096

// signingKey returns the SigV4 signing key of key for a credential scope,
// derived once per day, region and service (four HMACs saved per request).
func (v *Verifier) signingKey(key auth.AWSKey, date, region, service string) []byte {
	// The key table of a Verifier is fixed: the id names the secret.
	ck := key.AccessKeyID + "\x00" + date + "\x00" + region + "\x00" + service
	if k, ok := v.signingKeys.Load(ck); ok {
		return k.([]byte)
	}
	k := awsv4.SigningKey(key.SecretAccessKey, date, region, service)
	if v.nSigningKeys.Add(1) <= maxSigningKeys {
		v.signingKeys.Store(ck, k)
	}
	return k
}

// identity is Identity(res), encoded once per key.
func (v *Verifier) identity(res *Result) *auth.Identity {
	if id, ok := v.ids.Load(res.Key.AccessKeyID); ok {
		return id.(*auth.Identity)
	}
	id := Identity(res).Encode()
	v.ids.Store(res.Key.AccessKeyID, id)
	return id
}

// Interface guard.
var _ auth.Verifier = (*Verifier)(nil)

// New builds a Verifier for opts over the key table keys.
func New(opts Options, keys []auth.AWSKey) (*Verifier, error) {
	if opts.Service == "" {
		return nil, errors.New("service: required (the signing name, e.g. lambda)")
	}
	if opts.Service == "lambda" && opts.AllowUnsignedPayload {
		return nil, errors.New("allow_unsigned_payload: lambda does not accept unsigned payloads")
	}
	if opts.MaxSkew < 0 || opts.MaxPresignAge < 0 {
		return nil, errors.New("max_skew: must be positive")
	}
	if opts.MaxSkew == 0 {
		opts.MaxSkew = DefaultMaxSkew
	}
	if opts.SpoolMemory <= 0 {
		opts.SpoolMemory = DefaultSpoolMemory
	}
	v := &Verifier{opts: opts, keys: make(map[string]auth.AWSKey, len(keys)), clock: opts.Now}
	if v.clock == nil {
		v.clock = time.Now
	}
	switch opts.Paths {
	case PathsS3:
		v.mode = awsv4.PathS3
	case PathsEncodedOnly:
		v.mode = awsv4.PathEncodedOnly
	case PathsNormalized:
		v.mode = awsv4.PathNormalized
	default:
		if opts.Service == "s3" {
			v.mode = awsv4.PathS3
		}
	}
	for _, k := range keys {
		if k.AccessKeyID == "" || k.SecretAccessKey == "" {
			return nil, fmt.Errorf("aws_keys: an entry lacks access_key_id or secret_access_key")
		}
		if prev, dup := v.keys[k.AccessKeyID]; dup && prev != k {
			return nil, fmt.Errorf("aws_keys: access key %s is listed twice with different values", k.AccessKeyID)
		}
		v.keys[k.AccessKeyID] = k
	}
	return v, nil
}

// Result is what a successful verification proved.
type Result struct {
	Key             auth.AWSKey // the key that signed (secret included: do not log)
	Presigned       bool        // query authentication
	Time            time.Time   // the request's signing time
	Region, Service string      // from the credential scope
	SignedHeaders   []string
	PayloadHash     string // as signed: a hex digest or UNSIGNED-PAYLOAD
	// Query is the query as the signature covers it, in the order sent,
	// decoded as AWS decodes it ('+' literal, ';' data), without
	// X-Amz-Signature.
	Query            []awsv4.QueryParam
	CanonicalRequest string
	StringToSign     string
}

// VerifyRequest verifies one SigV4-signed request (header or presigned
// query authentication) against keys with opts: the reusable entry point
// for other mock services (a mock STS verifying GetCallerIdentity with
// Service "sts"). r may be a server request (r.RequestURI set) or one
// built by hand (then r.URL's escaped path and RawQuery, and r.Host or
// r.URL.Host, are used). r.Body is consumed and replaced by an equivalent
// unread body. A refusal is a *auth.Rejection.
func VerifyRequest(r *http.Request, keys []auth.AWSKey, opts Options) (*Result, error) {
	v, err := New(opts, keys)
	if err != nil {
		return nil, err
	}
	return v.Check(r)
}

// Verify implements auth.Verifier: it checks r and, on success, removes the
// consumed credentials (Authorization, X-Amz-Security-Token, and for
// presigned requests X-Amz-Signature and X-Amz-Security-Token from the
// query) before the origin sees the request. The origin gets the query as
// it was verified, re-encoded without ambiguity (see forwardVerifiedQuery).
func (v *Verifier) Verify(_ http.ResponseWriter, r *http.Request) (*auth.Identity, error) {
	res, err := v.Check(r)
	if err != nil {
		return nil, err
	}
	r.Header.Del("Authorization")
	r.Header.Del("X-Amz-Security-Token")
	forwardVerifiedQuery(r, res)
	return v.identity(res), nil
}

// Identity turns a Result into the gateway identity: Principal is the key's
// ARN, Claims the shape of a Lambda function URL's
// requestContext.authorizer.iam (docs/auth/sigv4.md, "The mock gateway").
func Identity(res *Result) *auth.Identity {
	arn := res.Key.ARN
	account, userID := CallerIDs(arn)
	if arn == "" {
		arn = res.Key.AccessKeyID
	}
	return &auth.Identity{
		Kind:      Kind,
		Principal: arn,
		Claims: map[string]any{
			"accessKey":       res.Key.AccessKeyID,
			"accountId":       account,
			"callerId":        userID,
			"userArn":         res.Key.ARN,
			"userId":          userID,
			"principalOrgId":  nil,
			"cognitoIdentity": nil,
		},
	}
}

// CallerIDs derives the account and a stable unique id for an ARN, in the
// form AWS uses (GetCallerIdentity's UserId, Lambda's callerId): AIDA… for
// users, AROA…:session for assumed roles, the account id for root. The key
// table carries no unique ids, so they are derived from the ARN (the same
// ARN always gives the same id); a mock STS should use this too so both
// agree.
func CallerIDs(arn string) (account, userID string) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return "", ""
	}
	account, resource := parts[4], parts[5]
	uid := func(prefix, seed string) string {
		sum := sha256.Sum256([]byte(seed))
		return prefix + base32.StdEncoding.EncodeToString(sum[:])[:17]
	}
	switch {
	case resource == "root":
		return account, account
	case strings.HasPrefix(resource, "assumed-role/"):
		rs := strings.SplitN(strings.TrimPrefix(resource, "assumed-role/"), "/", 2)
		session := ""
		if len(rs) == 2 {
			session = rs[1]
		}
		roleARN := "arn:" + parts[1] + ":iam::" + account + ":role/" + rs[0]
		return account, uid("AROA", roleARN) + ":" + session
	case strings.HasPrefix(resource, "role/"):
		return account, uid("AROA", arn)
	default:
		return account, uid("AIDA", arn)
	}
}

// credential is the parsed authentication of a request.
type credential struct {
	presigned     bool
	accessKeyID   string
	scopeDate     string
	region        string
	service       string
	signedHeaders []string
	signature     string
	amzDate       string // as sent
	time          time.Time
	expires       int // presigned
	token         string
	params        []awsv4.QueryParam // the query, without X-Amz-Signature
}

// Check verifies r and returns what it proved, or a *auth.Rejection.
// r.Body is replaced by an equivalent unread body. The stages: parse the
// authentication, settle the payload hash, build the canonical request (so
// every refusal from then on can show what the gateway computed), check the
// scope, the freshness and the signed-header policy, find the key, compare
// the signature, then verify the body.
func (v *Verifier) Check(r *http.Request) (*Result, error) {
	rawPath, rawQuery := rawTarget(r)
	params, err := awsv4.ParseQuery(rawQuery)
	if err != nil {
		return nil, auth.Reject(rejectcode.MalformedSigV4, "malformed query string: %v", err)
	}
	if v.opts.SigV4a && isV4A(r, params) {
		return v.checkV4A(r, rawPath, params)
	}
	cred, err := parseAuth(r, params, v.opts.Service)
	if err != nil {
		return nil, err
	}
	sr, err := v.checkShared(r, rawPath, cred, false, awsv4.Algorithm, awsv4.Scope(cred.scopeDate, cred.region, cred.service),
		func(reject rejecter) *auth.Rejection { return v.checkScope(cred, reject) })
	if err != nil {
		return nil, err
	}
	want := awsv4.Signature(v.signingKey(sr.key, cred.scopeDate, cred.region, cred.service), sr.sts)
	if !hmac.Equal([]byte(want), []byte(cred.signature)) {
		return nil, sr.reject(rejectcode.SignatureMismatch, "signature mismatch")
	}
	if sr.pl.streaming {
		// Every chunk verified against the chain from the seed signature
		// before the origin sees any of it.
		err = v.checkChunks(r, sr.key.SecretAccessKey, cred, sr.reject)
	} else {
		err = v.checkBody(r, sr.pl, sr.reject)
	}
	if err != nil {
		return nil, err
	}
	return &Result{
		Key: sr.key, Presigned: cred.presigned, Time: cred.time, Region: cred.region, Service: cred.service,
		SignedHeaders: cred.signedHeaders, PayloadHash: sr.pl.hash, CanonicalRequest: sr.cr, StringToSign: sr.sts,
		Query: cred.params,
	}, nil
}

// rejecter makes a rejection that carries the canonical request and string
// to sign the gateway computed.
type rejecter func(code rejectcode.Code, format string, args ...any) *auth.Rejection

// shared is what the stages SigV4 and SigV4a have in common established:
// the payload, the canonical request and string to sign, the key, and a
// rejecter that shows the first two.
type shared struct {
	pl      payload
	cr, sts string
	key     auth.AWSKey
	reject  rejecter
}

// checkShared runs, in order, the stages of Check that SigV4 and SigV4a
// (v4a) share: settle the payload hash, build the canonical request and
// the string to sign (algorithm, scope), then check the scope (checkScope,
// which differs), the freshness, the signed-header policy (SigV4a may not
// sign Date in place of X-Amz-Date), the unsigned-payload rule, and find the
// key. What is left to each is its signature and the body.
func (v *Verifier) checkShared(r *http.Request, rawPath string, cred *credential, v4a bool, algorithm, scope string, checkScope func(rejecter) *auth.Rejection) (shared, error) {
	now := v.clock()
	canonURI, err := awsv4.CanonicalURI(rawPath, v.mode)
	if err != nil {
		return shared{}, auth.Reject(rejectcode.MalformedSigV4, "malformed path %q: %v", rawPath, err)
	}
	pl, err := v.payload(r, cred.presigned, v4a)
	if err != nil {
		return shared{}, err
	}
	cr, err := canonicalRequest(r, canonURI, cred.params, cred.signedHeaders, pl.hash)
	if err != nil {
		return shared{}, err
	}
	sts := algorithm + "\n" + cred.amzDate + "\n" + scope + "\n" + awsv4.HashHex([]byte(cr))
	reject := func(code rejectcode.Code, format string, args ...any) *auth.Rejection {
		return auth.Reject(code, format, args...).With("canonical_request", cr).With("string_to_sign", sts)
	}
	if rej := checkScope(reject); rej != nil {
		return shared{}, rej
	}
	if rej := v.checkFreshness(cred.presigned, cred.time, cred.expires, now, reject); rej != nil {
		return shared{}, rej
	}
	if rej := checkSignedHeaderPolicy(r, cred.signedHeaders, cred.presigned, !v4a, reject); rej != nil {
		return shared{}, rej
	}
	if pl.hash == awsv4.UnsignedPayload && pl.claimed == awsv4.UnsignedPayload && !v.opts.AllowUnsignedPayload {
		return shared{}, reject(rejectcode.UnsignedPayload, "unsigned payload not allowed for service %s", v.opts.Service).With("service", v.opts.Service)
	}
	key, rej := v.key(cred.accessKeyID, cred.token, reject)
	if rej != nil {
		return shared{}, rej
	}
	return shared{pl: pl, cr: cr, sts: sts, key: key, reject: reject}, nil
}

// payload is the payload hash a request is verified with.
type payload struct {
	claimed   string    // X-Amz-Content-Sha256 as sent ("" when absent)
	hash      string    // the hash in the canonical request
	body      *bodyHash // the spooled body, when its hash was computed
	streaming bool      // aws-chunked: the chunks are verified after the seed signature (stream.go)
}

// payload settles the payload hash from X-Amz-Content-Sha256, or, with no
// claim, from the body itself. SigV4a (v4a) has no streaming form here and
// no s3 rule.
func (v *Verifier) payload(r *http.Request, presigned, v4a bool) (payload, error) {
	claimed, err := singleHeader(r, "X-Amz-Content-Sha256")
	if err != nil {
		return payload{}, err
	}
	p := payload{claimed: claimed, hash: claimed}
	switch {
	case claimed == awsv4.UnsignedPayload:
	case claimed == awsv4.StreamingPayload && !presigned && v.opts.Service == "s3" && !v4a:
		p.streaming = true
	case strings.HasPrefix(claimed, "STREAMING-") && v4a:
		return p, auth.Reject(rejectcode.MalformedSigV4, "streaming payload signing (%s) is not supported with SigV4a by this gateway", claimed)
	case strings.HasPrefix(claimed, "STREAMING-"):
		return p, auth.Reject(rejectcode.MalformedSigV4, "streaming payload signing (%s) is not supported here (only %s on service s3): send the body with a single payload hash", claimed, awsv4.StreamingPayload)
	case claimed != "":
		if !awsv4.IsHexSHA256(claimed) {
			return p, auth.Reject(rejectcode.MalformedSigV4, "x-amz-content-sha256 %q is neither a lower-case hex SHA-256 nor UNSIGNED-PAYLOAD", claimed)
		}
	case presigned && v.mode == awsv4.PathS3:
		p.hash = awsv4.UnsignedPayload // S3 presigned URLs never sign the payload
	case !presigned && v.opts.Service == "s3" && !v4a:
		return p, auth.Reject(rejectcode.MalformedSigV4, "x-amz-content-sha256 header is required by s3")
	default:
		// No claim: the payload hash in the signature is the body's.
		if p.body, err = v.spool(r); err != nil {
			return p, err
		}
		p.hash = p.body.hash
	}
	return p, nil
}

// canonicalRequest builds the canonical request of r as signed (IAM user
// guide, "Create a signed AWS API request", step 1); SigV4 and SigV4a share
// it.
func canonicalRequest(r *http.Request, canonURI string, params []awsv4.QueryParam, signedHeaders []string, payloadHash string) (string, error) {
	var canon strings.Builder
	canon.WriteString(r.Method)
	canon.WriteByte('\n')
	canon.WriteString(canonURI)
	canon.WriteByte('\n')
	canon.WriteString(awsv4.CanonicalQuery(params))
	canon.WriteByte('\n')
	for _, name := range signedHeaders {
		vals, ok := headerValues(r, name)
		if !ok {
			return "", auth.Reject(rejectcode.HeaderNotSigned, "signed header %s is not in the request", name)
		}
		canon.WriteString(name)
		canon.WriteByte(':')
		for i, val := range vals {
			if i > 0 {
				canon.WriteByte(',')
			}
			canon.WriteString(awsv4.TrimAll(val))
		}
		canon.WriteByte('\n')
	}
	canon.WriteByte('\n')
	canon.WriteString(strings.Join(signedHeaders, ";"))
	canon.WriteByte('\n')
	canon.WriteString(payloadHash)
	return canon.String(), nil
}

// checkScope compares the credential scope with the request date and the
// route's region and service.
func (v *Verifier) checkScope(cred *credential, reject rejecter) *auth.Rejection {
	if cred.scopeDate != cred.amzDate[:8] {
		return reject(rejectcode.ScopeDateMismatch, "credential scope date %s does not match the request date %s", cred.scopeDate, cred.amzDate)
	}
	if v.opts.Region != "" && cred.region != v.opts.Region {
		return reject(rejectcode.RegionMismatch, "credential scope region: signed for %s, route expects %s", cred.region, v.opts.Region).
			With("want", v.opts.Region).With("got", cred.region)
	}
	if cred.service != v.opts.Service {
		return reject(rejectcode.ServiceMismatch, "credential scope service: signed for %s, route expects %s", cred.service, v.opts.Service).
			With("want", v.opts.Service).With("got", cred.service)
	}
	return nil
}

// checkFreshness bounds the request time t by the clock skew and, for a
// presigned URL, its lifetime (X-Amz-Expires seconds, capped by
// MaxPresignAge).
func (v *Verifier) checkFreshness(presigned bool, t time.Time, expires int, now time.Time, reject rejecter) *auth.Rejection {
	if presigned {
		if ahead := t.Sub(now); ahead > v.opts.MaxSkew {
			return reject(rejectcode.ClockSkew, "request time %s is %s off the gateway clock (max %s)", t.Format(time.RFC3339), ahead.Truncate(time.Second), shortDur(v.opts.MaxSkew)).
				With("request_time", t.Format(time.RFC3339)).With("gateway_time", now.UTC().Format(time.RFC3339))
		}
		life := time.Duration(expires) * time.Second
		if v.opts.MaxPresignAge > 0 && life > v.opts.MaxPresignAge {
			life = v.opts.MaxPresignAge
		}
		if end := t.Add(life); now.After(end) {
			return reject(rejectcode.PresignExpired, "presigned request expired at %s (signed %s, valid %s)", end.UTC().Format(time.RFC3339), t.Format(time.RFC3339), shortDur(life)).
				With("gateway_time", now.UTC().Format(time.RFC3339))
		}
	} else if skew := now.Sub(t).Abs(); skew > v.opts.MaxSkew {
		return reject(rejectcode.ClockSkew, "request time %s is %s off the gateway clock (max %s)", t.Format(time.RFC3339), skew.Truncate(time.Second), shortDur(v.opts.MaxSkew)).
			With("request_time", t.Format(time.RFC3339)).With("gateway_time", now.UTC().Format(time.RFC3339))
	}
	return nil
}

// checkSignedHeaderPolicy requires host, the date (x-amz-date, or date
// where allowDate) and every x-amz-* header to be signed.
func checkSignedHeaderPolicy(r *http.Request, signedHeaders []string, presigned, allowDate bool, reject rejecter) *auth.Rejection {
	signedSet := make(map[string]bool, len(signedHeaders))
	for _, h := range signedHeaders {
		signedSet[h] = true
	}
	if !signedSet["host"] {
		return reject(rejectcode.HeaderNotSigned, "host is not signed (it must be listed in SignedHeaders)")
	}
	if !presigned && !signedSet["x-amz-date"] && !(allowDate && signedSet["date"]) {
		return reject(rejectcode.HeaderNotSigned, "the request date is not signed (x-amz-date must be listed in SignedHeaders)")
	}
	var amz []string
	for k := range r.Header {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-") && !signedSet[lk] {
			amz = append(amz, lk)
		}
	}
	if len(amz) > 0 {
		sort.Strings(amz)
		return reject(rejectcode.HeaderNotSigned, "%s is present but not signed", amz[0])
	}
	return nil
}

// key finds the access key and checks the session token sent with it.
func (v *Verifier) key(accessKeyID, token string, reject rejecter) (auth.AWSKey, *auth.Rejection) {
	key, ok := v.keys[accessKeyID]
	if !ok {
		return key, reject(rejectcode.UnknownAccessKey, "unknown access key %s", accessKeyID).With("access_key_id", accessKeyID)
	}
	switch {
	case key.SessionToken != "" && token == "":
		return key, reject(rejectcode.SessionTokenMismatch, "access key %s is temporary: X-Amz-Security-Token is missing", key.AccessKeyID)
	case key.SessionToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(key.SessionToken)) != 1:
		return key, reject(rejectcode.SessionTokenMismatch, "X-Amz-Security-Token does not belong to access key %s", key.AccessKeyID)
	case key.SessionToken == "" && token != "":
		return key, reject(rejectcode.SessionTokenMismatch, "X-Amz-Security-Token was sent with the long-term access key %s", key.AccessKeyID)
	}
	return key, nil
}

// checkBody verifies a claimed payload hash, after the signature, against
// the spooled body.
func (v *Verifier) checkBody(r *http.Request, pl payload, reject rejecter) error {
	if pl.body != nil || pl.hash == awsv4.UnsignedPayload {
		return nil
	}
	body, err := v.spool(r)
	if err != nil {
		return err
	}
	if body.hash != pl.hash {
		return reject(rejectcode.PayloadHashMismatch, "payload hash mismatch: x-amz-content-sha256 is %s but the body's SHA-256 is %s", pl.hash, body.hash)
	}
	return nil
}

// shortDur prints 5m rather than 5m0s.
func shortDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// rawTarget returns the path and query exactly as received. A server
// request carries them in RequestURI (origin-form, or absolute-form from a
// proxy-style client); a request built by hand in its URL.
func rawTarget(r *http.Request) (path, query string) {
	uri := r.RequestURI
	if uri == "" {
		p := r.URL.EscapedPath()
		if r.URL.Opaque != "" {
			o := strings.TrimPrefix(r.URL.Opaque, "//")
			p = ""
			if i := strings.IndexByte(o, '/'); i >= 0 {
				p = o[i:]
			}
		}
		return p, r.URL.RawQuery
	}
	if !strings.HasPrefix(uri, "/") {
		if i := strings.Index(uri, "://"); i >= 0 {
			rest := uri[i+3:]
			if j := strings.IndexAny(rest, "/?"); j >= 0 {
				uri = rest[j:]
			} else {
				uri = "/"
			}
		}
	}
	path, query, _ = strings.Cut(uri, "?")
	return path, query
}

// singleHeader returns the one value of a header, "" when absent, and
// refuses a header sent more than once.
func singleHeader(r *http.Request, name string) (string, error) {
	vals := r.Header.Values(name)
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
		return strings.TrimSpace(vals[0]), nil
	}
	return "", auth.Reject(rejectcode.MalformedSigV4, "%s was sent %d times", strings.ToLower(name), len(vals))
}

// headerValues returns every received value of a lower-case header name,
// in order. Go moves Host out of r.Header and Transfer-Encoding into
// r.TransferEncoding; both are reconstructed.
func headerValues(r *http.Request, name string) ([]string, bool) {
	switch name {
	case "host":
		h := r.Host
		if h == "" && r.URL != nil {
			h = r.URL.Host
		}
		return []string{h}, h != ""
	case "transfer-encoding":
		if len(r.TransferEncoding) > 0 {
			return []string{strings.Join(r.TransferEncoding, ",")}, true
		}
	case "content-length":
		if _, ok := r.Header["Content-Length"]; !ok && r.ContentLength > 0 {
			return []string{strconv.FormatInt(r.ContentLength, 10)}, true
		}
	}
	if vals, ok := r.Header[textproto.CanonicalMIMEHeaderKey(name)]; ok {
		return vals, true
	}
	// A name net/http did not canonicalize (not a valid token): match
	// case-insensitively, in a stable order.
	var keys []string
	for k := range r.Header {
		if strings.EqualFold(k, name) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, false
	}
	sort.Strings(keys)
	var vals []string
	for _, k := range keys {
		vals = append(vals, r.Header[k]...)
	}
	return vals, true
}

// forwardVerifiedQuery replaces the query the origin sees with the one the
// signature covered, each name and value URI-encoded (%2B for '+', %3B
// for ';', %20 for a space). The verifier reads the query as AWS does ('+'
// is a plus, ';' is data), while most origins (Go's url.ParseQuery, form
// decoders) read '+' as a space and drop pieces containing ';': forwarding
// the raw query would let the holder of a signed request or presigned URL
// change what the origin sees for signed parameters. Presigned requests
// also lose X-Amz-Signature and X-Amz-Security-Token.
func forwardVerifiedQuery(r *http.Request, res *Result) {
	params := res.Query
	if res.Presigned {
		kept := make([]awsv4.QueryParam, 0, len(params))
		for _, p := range params {
			if !strings.EqualFold(p.Key, awsv4.QuerySignature) && !strings.EqualFold(p.Key, awsv4.QuerySecurityToken) {
				kept = append(kept, p)
			}
		}
		params = kept
	}
	q := awsv4.EncodeQuery(params)
	r.URL.RawQuery = q
	r.URL.ForceQuery = false
	if p, _, ok := strings.Cut(r.RequestURI, "?"); ok || r.RequestURI != "" {
		if q != "" {
			p += "?" + q
		}
		r.RequestURI = p
	}
}
