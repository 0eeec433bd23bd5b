package sign

// Rules of this file (docs/auth/sigv4.md, "What gets signed, and how"):
//   - The signature is computed by aws-sdk-go-v2's v4.Signer; this file only
//     prepares the request so that what goes on the wire and what the SDK
//     signs are the same bytes: host, path and query are normalized on the
//     outgoing request first, and the SDK signs a copy whose URL.Opaque
//     carries exactly the path AWS will canonicalize.
//   - x-amz-content-sha256 is always sent and signed; the body is hashed by
//     streaming a fresh copy from req.GetBody, never read into memory.
//   - Every Sign call uses a fresh time from Deps.Now.
//   - Secrets (secret key, session token, signature) never reach an error or
//     the trace except as a short prefix.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/logging"
	"golang.org/x/net/http/httpguts"

	"github.com/gwcurl/gwcurl/internal/awsv4"
	"github.com/gwcurl/gwcurl/internal/profiles"
)

// maxUnrewindableBody bounds how much of a body without GetBody is buffered
// so it can be hashed and still sent. The CLI always sets GetBody; this is a
// safety net for other callers.
const maxUnrewindableBody = 8 << 20

// sigV4Signer signs with SigV4 for one service and region.
type sigV4Signer struct {
	creds    aws.CredentialsProvider
	service  string
	region   string
	unsigned bool // UNSIGNED-PAYLOAD
	signer   *v4.Signer
	now      func() time.Time
	trace    func(format string, args ...any)
	onSigned func(SigV4Info) // Deps.OnSigV4 (--explain)
	skew     *ClockSkew      // Deps.ClockSkew; nil: no correction
	v4a      *awsv4.V4AKeys  // SigV4a (auth.algorithm: sigv4a); nil for SigV4
	payload  string          // "" (automatic), PayloadHash, PayloadStreaming or payloadTrailer
	checksum string          // auth.checksum (payloadTrailer): crc32 or sha256
	warn     func(string)    // one warning line
}

// Interface guards.
var (
	_ Signer          = (*sigV4Signer)(nil)
	_ RetryOnResponse = (*sigV4Signer)(nil)
)

func newSigV4(ctx context.Context, a profiles.Auth, target string, d Deps) (Signer, error) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("sigv4: cannot sign for %q: want an absolute http(s) URL", target)
	}
	prov, cfgRegion, err := AWSCredentials(ctx, a, d)
	if err != nil {
		return nil, err
	}
	service, region, err := resolveServiceRegion(a, u.Host, cfgRegion)
	if err != nil {
		return nil, err
	}
	if a.Payload == PayloadUnsigned {
		a.UnsignedPayload = true
	}
	if a.UnsignedPayload && !unsignedPayloadAllowed(service) {
		return nil, fmt.Errorf("sigv4: --unsigned-payload is not allowed for service %s: it requires a signed payload hash (drop --unsigned-payload)", service)
	}
	payload, err := payloadMode(a, service)
	if err != nil {
		return nil, err
	}
	var v4aKeys *awsv4.V4AKeys
	switch a.Algorithm {
	case "", "sigv4":
	case "sigv4a":
		if _, err := awsv4.ParseRegionSet(region); err != nil {
			return nil, fmt.Errorf("sigv4a: region set %q: %v: pass --region '*' or a list such as us-east-1,eu-west-1", region, err)
		}
		v4aKeys = &awsv4.V4AKeys{}
		if payload == PayloadStreaming || payload == payloadTrailer {
			return nil, errors.New("sigv4a: --payload streaming and --checksum are not supported with SigV4a: use --payload hash or unsigned")
		}
	default:
		return nil, fmt.Errorf("sigv4: unknown algorithm %q: want sigv4 or sigv4a", a.Algorithm)
	}
	// Services that do not support payload signing (VPC Lattice) get
	// UNSIGNED-PAYLOAD without being asked.
	unsigned := a.UnsignedPayload || awsv4.PayloadRuleFor(service) == awsv4.PayloadUnsignedRequired
	d.Tracef("sigv4: signing for service %s, %s %s%s", service, ifThen(v4aKeys == nil, "region")+ifThen(v4aKeys != nil, "SigV4a region set"), region, ifThen(unsigned, ", unsigned payload"))
	return &sigV4Signer{
		creds:    prov,
		service:  service,
		region:   region,
		unsigned: unsigned,
		signer:   v4.NewSigner(),
		now:      Clock(d.Now),
		trace:    d.Trace,
		onSigned: d.OnSigV4,
		skew:     d.ClockSkew,
		warn:     d.warner(),
		v4a:      v4aKeys,
		payload:  payload,
		checksum: a.Checksum,
	}, nil
}

// resolveServiceRegion applies the precedence: the auth block (flags and
// profile) over what the host says, over the AWS config's region.
func resolveServiceRegion(a profiles.Auth, host, cfgRegion string) (service, region string, err error) {
	infService, infRegion := awsv4.InferServiceRegion(host)
	service, region = a.Service, a.Region
	if service == "" {
		service = infService
	}
	if region == "" {
		region = infRegion
	}
	if region == "" {
		region = cfgRegion
	}
	switch {
	case service == "":
		return "", "", fmt.Errorf("sigv4: cannot tell the AWS service from host %s: pass --service (for example lambda, execute-api, s3) or set auth.service in the profile", hostOnly(host))
	case region == "":
		return "", "", fmt.Errorf("sigv4: cannot tell the AWS region from host %s: pass --region, set auth.region in the profile, or set AWS_REGION", hostOnly(host))
	}
	return service, region, nil
}

func hostOnly(h string) string {
	if hh, _, err := net.SplitHostPort(h); err == nil {
		return hh
	}
	return h
}

// unsignedPayloadAllowed: Lambda (and so Lambda behind CloudFront OAC)
// rejects UNSIGNED-PAYLOAD; S3 and most others accept it over HTTPS
// (awsv4.PayloadRuleFor).
func unsignedPayloadAllowed(service string) bool {
	return awsv4.PayloadRuleFor(service) != awsv4.PayloadHashRequired
}

// isS3 reports the services that use S3's canonical URI rules (no
// normalization, single encoding).
func isS3(service string) bool {
	switch service {
	case "s3", "s3-object-lambda", "s3-outposts", "s3express":
		return true
	}
	return false
}

// Sign implements Signer.
func (s *sigV4Signer) Sign(ctx context.Context, req *http.Request) error {
	creds, err := s.creds.Retrieve(ctx)
	if err != nil {
		return &CredentialError{Kind: "sigv4", Err: fmt.Errorf("cannot refresh AWS credentials: %w", err), Hint: awsCredentialsHint}
	}
	hash := awsv4.UnsignedPayload
	var n int64 = -1
	stream := s.streams(req)
	switch {
	case stream:
		if err := prepareStreaming(req, s.checksum); err != nil {
			return err
		}
		hash = awsv4.StreamingPayload
		if s.checksum != "" {
			hash = awsv4.StreamingUnsignedTrailer
		}
	case !s.unsigned:
		if hash, n, err = payloadSHA256(req); err != nil {
			return fmt.Errorf("sigv4: hashing the request body: %w", err)
		}
	}
	p := v4Params{
		Service:       s.service,
		Region:        s.region,
		Time:          s.signingTime(),
		PayloadHash:   hash,
		ContentSHA256: true,
		Path:          pathModeFor(s.service),
	}
	var res v4Result
	if s.v4a != nil {
		res, err = signV4A(s.v4a, creds, req, p)
	} else {
		res, err = signV4(ctx, s.signer, creds, req, p)
	}
	if err != nil {
		return err
	}
	if stream {
		s.chunkBody(req, creds, p.Time, res.Signature)
	}
	if s.onSigned != nil {
		s.onSigned(SigV4Info{CanonicalRequest: redactCanonical(res.CanonicalRequest, creds.SessionToken), StringToSign: res.StringToSign,
			Region: s.region, Service: s.service, Time: p.Time})
	}
	if s.trace != nil {
		if n >= 0 {
			s.trace("sigv4: payload sha256 %s (%d bytes, streamed)", hash, n)
		}
		traceSigning(s.trace, res, creds)
	}
	return nil
}

func pathModeFor(service string) awsv4.PathMode {
	if isS3(service) {
		return awsv4.PathS3
	}
	return awsv4.PathNormalized
}

func traceSigning(trace func(string, ...any), res v4Result, creds aws.Credentials) {
	if res.CanonicalRequest == "" {
		trace("sigv4: canonical request and string to sign: not reported by the AWS SDK signer")
	} else {
		trace("sigv4: canonical request:\n%s", indent(redactCanonical(res.CanonicalRequest, creds.SessionToken)))
		trace("sigv4: string to sign:\n%s", indent(res.StringToSign))
	}
	trace("sigv4: signature %s (access key %s%s)", awsv4.Redact(res.Signature), creds.AccessKeyID,
		ifThen(creds.SessionToken != "", ", session token "+awsv4.Redact(creds.SessionToken)))
}

// ifThen is s when cond holds, else "".
func ifThen(cond bool, s string) string {
	if cond {
		return s
	}
	return ""
}

func indent(s string) string { return "    " + strings.ReplaceAll(s, "\n", "\n    ") }

// redactCanonical hides the session token, which appears in the canonical
// request as a header value or as a query value.
func redactCanonical(cr, token string) string {
	if token == "" {
		return cr
	}
	r := awsv4.Redact(token)
	cr = strings.ReplaceAll(cr, token, r)
	return strings.ReplaceAll(cr, awsv4.URIEncode(token, false), r)
}

// payloadSHA256 hashes the body by streaming a fresh copy from GetBody. It
// returns the hex digest and the number of bytes hashed.
func payloadSHA256(req *http.Request) (string, int64, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return awsv4.EmptySHA256, 0, nil
	}
	if req.GetBody == nil {
		// Not from the CLI: buffer a small body so it can be both hashed and sent.
		b, err := io.ReadAll(io.LimitReader(req.Body, maxUnrewindableBody+1))
		req.Body.Close()
		if err != nil {
			return "", 0, err
		}
		if len(b) > maxUnrewindableBody {
			return "", 0, fmt.Errorf("the body is over %d MiB and cannot be re-read (no GetBody)", maxUnrewindableBody>>20)
		}
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		sum := sha256.Sum256(b)
		return hex.EncodeToString(sum[:]), int64(len(b)), nil
	}
	rc, err := RewindBody(req)
	if err != nil {
		return "", 0, err
	}
	defer rc.Close()
	h := sha256.New()
	bufSize := 256 << 10 // fewer read calls than 64 KiB; sha256sum-speed or better
	if req.ContentLength > 0 && req.ContentLength < int64(bufSize) {
		bufSize = int(req.ContentLength) // a small body needs no large buffer per signature
	}
	n, err := io.CopyBuffer(h, rc, make([]byte, bufSize))
	if err != nil {
		return "", n, err
	}
	if req.ContentLength > 0 && n != req.ContentLength {
		return "", n, fmt.Errorf("the body has %d bytes but Content-Length says %d", n, req.ContentLength)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// v4Params are the inputs of one signing operation.
type v4Params struct {
	Service, Region string
	Time            time.Time
	PayloadHash     string
	ContentSHA256   bool // send and sign x-amz-content-sha256 (header form)
	Path            awsv4.PathMode
	Presign         bool
	Expires         time.Duration // presign: X-Amz-Expires
	// noCapture signs without the SDK's signing log, as if the SDK no
	// longer reported its canonical request (tests).
	noCapture bool
}

// v4Result is what signing produced, for the trace and for tests.
type v4Result struct {
	CanonicalRequest string
	StringToSign     string
	Signature        string
	URL              string // presign: the signed URL as it goes on the wire
}

// Headers that are never signed: hop-by-hop headers a proxy may rewrite,
// headers Go's transport sets after signing, and the ones signing sets.
var unsignedHeaders = []string{
	"Authorization", "Connection", "Expect", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding",
	"Upgrade", "User-Agent", "X-Amzn-Trace-Id", "Content-Length", "Host",
}

// Headers signing sets; stale copies (a previous attempt) are dropped first.
var signingHeaders = []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256"}

// signV4 signs req in place (header form) or returns a presigned URL. It
// normalizes req's host, path and query first, so the request that is sent
// is exactly the one that was signed.
func signV4(ctx context.Context, signer *v4.Signer, creds aws.Credentials, req *http.Request, p v4Params) (v4Result, error) {
	var res v4Result
	host, canonPath, err := prepareWire(req, p.Path)
	if err != nil {
		return res, err
	}

	// The copy the SDK signs: the same method, host, query, headers and
	// length, with URL.Opaque carrying the path to canonicalize (the SDK
	// prefers Opaque, see its package doc on pre-escaping).
	for _, h := range signingHeaders {
		req.Header.Del(h)
	}
	sh := make(http.Header, len(req.Header)+3)
	for k, v := range req.Header {
		sh[k] = v
	}
	for _, h := range unsignedHeaders {
		delete(sh, h)
	}
	if p.ContentSHA256 {
		req.Header.Set("X-Amz-Content-Sha256", p.PayloadHash)
		sh.Set("X-Amz-Content-Sha256", p.PayloadHash)
	}
	sq := req.URL.RawQuery
	if p.Presign {
		secs := int64(p.Expires / time.Second)
		if secs < 1 || secs > awsv4.MaxPresignExpires {
			return res, fmt.Errorf("sigv4: presign expiry %s is out of range (1s to 168h)", p.Expires)
		}
		if sq != "" {
			sq += "&"
		}
		sq += awsv4.QueryExpires + "=" + strconv.FormatInt(secs, 10)
	}
	sreq := &http.Request{
		Method:        req.Method,
		URL:           &url.URL{Scheme: req.URL.Scheme, Host: host, Opaque: "//" + host + canonPath, RawQuery: sq},
		Host:          host,
		Header:        sh,
		ContentLength: req.ContentLength,
	}
	if sreq.Method == "" {
		sreq.Method = http.MethodGet
	}
	capture := &signingCapture{}
	opt := func(o *v4.SignerOptions) {
		o.DisableURIPathEscaping = p.Path == awsv4.PathS3
		if !p.noCapture {
			o.Logger = capture
			o.LogSigning = true
		}
	}
	if p.Presign {
		signed, _, err := signer.PresignHTTP(ctx, creds, sreq, p.PayloadHash, p.Service, p.Region, p.Time, opt)
		if err != nil {
			return res, fmt.Errorf("sigv4: %w", err)
		}
		su, err := url.Parse(signed)
		if err != nil {
			return res, fmt.Errorf("sigv4: presigned URL: %w", err)
		}
		out := *req.URL
		out.Host = host
		out.User = nil
		out.Fragment, out.RawFragment = "", ""
		out.RawQuery = su.RawQuery
		res.URL = out.String()
		res.Signature = su.Query().Get(awsv4.QuerySignature)
	} else {
		if err := signer.SignHTTP(ctx, creds, sreq, p.PayloadHash, p.Service, p.Region, p.Time, opt); err != nil {
			return res, fmt.Errorf("sigv4: %w", err)
		}
		for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
			if v := sreq.Header.Values(h); len(v) > 0 {
				req.Header[h] = append([]string(nil), v...)
			}
		}
		a, _ := awsv4.ParseAuthorization(sreq.Header.Get("Authorization"))
		res.Signature = a.Signature
	}
	if sreq.Host != host {
		// The SDK strips a default port from Host; keep the wire in step.
		req.Host = sreq.Host
	}
	// Best effort: the signature above does not depend on the capture; if
	// the SDK stops logging its canonical request, -v and --explain say so
	// instead of showing it.
	res.CanonicalRequest, res.StringToSign = capture.canonical, capture.stringToSign
	return res, nil
}

// prepareWire normalizes req's host, query and path as they go on the wire
// and returns the host and the canonical URI to sign (shared by SigV4 and
// SigV4a).
func prepareWire(req *http.Request, mode awsv4.PathMode) (host, canonPath string, err error) {
	// Host: lower case, punycode, no default port, as it goes on the wire.
	host = req.Host
	if host == "" {
		host = req.URL.Host
	}
	host, err = httpguts.PunycodeHostPort(strings.ToLower(host))
	if err != nil {
		return "", "", fmt.Errorf("sigv4: host %q: %w", req.Host, err)
	}
	host = stripDefaultPort(req.URL.Scheme, host)
	req.Host = host

	// Query: every name and value fully percent-encoded (%20 for space, %2B
	// for plus), order kept. The SDK round-trips the query through
	// url.Values, which would read a raw '+' as a space and drop anything it
	// cannot parse; after this it reads back exactly what is sent.
	params, err := awsv4.ParseQuery(req.URL.RawQuery)
	if err != nil {
		return "", "", fmt.Errorf("sigv4: %w: write '%%' as %%25", err)
	}
	for _, q := range params {
		switch q.Key {
		case awsv4.QuerySignature, awsv4.QueryCredential, awsv4.QueryAlgorithm:
			return "", "", fmt.Errorf("sigv4: the URL already carries %s (a presigned URL): send it without --auth sigv4, or remove the X-Amz-* parameters", q.Key)
		}
	}
	req.URL.RawQuery = awsv4.EncodeQuery(params)
	req.URL.ForceQuery = false

	// Path: the canonical URI is derived from the wire path. For S3 the wire
	// path itself is put in canonical single-encoded form, because S3
	// compares against UriEncode(decoded key) and Go leaves characters
	// such as '=' or '$' unescaped.
	wirePath := uriPath(req.URL)
	canonPath = wirePath
	switch mode {
	case awsv4.PathS3:
		dec, err := awsv4.DecodePercent(wirePath)
		if err != nil {
			return "", "", fmt.Errorf("sigv4: path %q: %w", wirePath, err)
		}
		canonPath = awsv4.URIEncode(dec, true)
		setWirePath(req.URL, dec, canonPath)
	case awsv4.PathNormalized:
		canonPath = awsv4.NormalizePath(wirePath)
	}

	return host, canonPath, nil
}

// uriPath is the path as it goes on the wire, like the SDK's GetURIPath:
// from URL.Opaque when set, else EscapedPath; "/" when empty.
func uriPath(u *url.URL) string {
	p := u.EscapedPath()
	if u.Opaque != "" {
		o := u.Opaque
		if i := strings.IndexByte(o, '?'); i >= 0 {
			o = o[:i]
		}
		o = strings.TrimPrefix(o, "//")
		p = ""
		if i := strings.IndexByte(o, '/'); i >= 0 {
			p = o[i:]
		}
	}
	if p == "" {
		p = "/"
	}
	return p
}

// setWirePath makes u go out with the path encoded as enc.
func setWirePath(u *url.URL, decoded, enc string) {
	if u.Opaque != "" {
		o := strings.TrimPrefix(u.Opaque, "//")
		host := o
		if i := strings.IndexByte(o, '/'); i >= 0 {
			host = o[:i]
		}
		u.Opaque = "//" + host + enc
		return
	}
	u.Path, u.RawPath = decoded, enc
}

func stripDefaultPort(scheme, host string) string {
	h, port, err := net.SplitHostPort(host)
	if err != nil {
		return host
	}
	if (strings.EqualFold(scheme, "https") && port == "443") || (strings.EqualFold(scheme, "http") && port == "80") {
		if strings.Contains(h, ":") {
			return "[" + h + "]"
		}
		return h
	}
	return host
}

// signingCapture receives the SDK's signing log (LogSigning), whose
// arguments are the canonical request and the string to sign. This is how
// the trace shows exactly what the SDK signed rather than a recomputation.
type signingCapture struct {
	canonical, stringToSign string
}

func (c *signingCapture) Logf(_ logging.Classification, _ string, v ...any) {
	if len(v) >= 2 {
		c.canonical, _ = v[0].(string)
		c.stringToSign, _ = v[1].(string)
	}
}
