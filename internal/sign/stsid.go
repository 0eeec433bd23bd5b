package sign

// The sts-identity auth kind (docs/auth/sts-identity.md): the caller
// proves who it is to a back end by handing it a signed STS
// GetCallerIdentity request, which the back end has STS answer.
//
// Rules of this file (docs/auth/sts-identity.md, "The three formats" and "Lifetime, traces, and what is never shown"):
//   - The signed request is fixed: GetCallerIdentity, Version 2011-06-15,
//     nothing else. url and k8s pre-sign a GET (query authentication, like
//     aws-iam-authenticator); vault signs a POST whose body is the form
//     Action=GetCallerIdentity&Version=2011-06-15 (like Vault's iam login).
//   - Signing is aws-sdk-go-v2's v4.Signer, through the same signV4 helper
//     the sigv4 kind uses; nothing is added to the request after signing.
//   - A server id, when set, goes into a header that is listed in
//     SignedHeaders, binding the proof to one back end.
//   - Every Sign makes a fresh proof with a fresh time; STS honours it for
//     15 minutes after signing whatever X-Amz-Expires says.
//   - The proof is a credential: it is never traced or put in an error, and
//     it is sent only over https or plain http to a loopback address.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"golang.org/x/net/http/httpguts"

	"github.com/gwcurl/gwcurl/internal/awsv4"
	"github.com/gwcurl/gwcurl/internal/hostcheck"
	"github.com/gwcurl/gwcurl/internal/profiles"
)

// Identity proof formats (auth.format).
const (
	STSFormatURL   = "url"   // the pre-signed GetCallerIdentity URL
	STSFormatVault = "vault" // Vault's iam login fields, JSON, base64
	STSFormatK8s   = "k8s"   // aws-iam-authenticator's token
)

// STSFormats lists the formats, default first.
var STSFormats = []string{STSFormatURL, STSFormatVault, STSFormatK8s}

// Names of the sts-identity protocol.
const (
	// DefaultSTSIdentityHeader carries the proof when auth.header is unset.
	DefaultSTSIdentityHeader = "X-Fluid-Identity"
	// Server-id (audience) headers, one per format.
	STSServerIDHeader   = "X-Gwcurl-Server-ID"
	VaultServerIDHeader = "X-Vault-AWS-IAM-Server-ID"
	K8sServerIDHeader   = "x-k8s-aws-id"
	// K8sTokenPrefix starts an aws-iam-authenticator token.
	K8sTokenPrefix = "k8s-aws-v1."
	// STSGlobalEndpoint is used when neither auth.sts_endpoint nor a region is set.
	STSGlobalEndpoint = "https://sts.amazonaws.com/"
	// STSCallerIdentityBody is the signed request's form (vault body, url/k8s query).
	STSCallerIdentityBody = "Action=GetCallerIdentity&Version=2011-06-15"
	// STSProofLifetime is how long STS accepts a signed GetCallerIdentity
	// after its X-Amz-Date, whatever X-Amz-Expires says.
	STSProofLifetime = 15 * time.Minute
)

// X-Amz-Expires of the pre-signed formats. STS ignores it for
// GetCallerIdentity (the proof lives STSProofLifetime); k8s keeps the 60
// aws-iam-authenticator sends, url says the real lifetime so that a verifier
// that does honour X-Amz-Expires agrees with STS.
const (
	stsURLExpires = 900 * time.Second
	stsK8sExpires = 60 * time.Second
)

// STSServerIDHeaderFor returns the server-id header name of a format.
func STSServerIDHeaderFor(format string) string {
	switch format {
	case STSFormatVault:
		return VaultServerIDHeader
	case STSFormatK8s:
		return K8sServerIDHeader
	}
	return STSServerIDHeader
}

// stsIdentity is the Signer of auth kind sts-identity.
type stsIdentity struct {
	format   string
	header   string
	serverID string
	endpoint *url.URL // the STS endpoint the proof is signed for
	region   string
	creds    aws.CredentialsProvider
	signer   *v4.Signer
	now      func() time.Time
	d        Deps
}

// Interface guard.
var _ Signer = (*stsIdentity)(nil)

// stsProof is one signed GetCallerIdentity request and its header form.
type stsProof struct {
	value       string        // the header value (a credential)
	req         *http.Request // the signed STS request, ready to send
	body        []byte        // vault: the POST body
	accessKeyID string
	expires     time.Time
}

func newSTSIdentity(ctx context.Context, a profiles.Auth, d Deps) (*stsIdentity, error) {
	format := strings.ToLower(a.Format)
	if format == "" {
		format = STSFormatURL
	}
	if format != STSFormatURL && format != STSFormatVault && format != STSFormatK8s {
		return nil, fmt.Errorf("sts-identity: format %q is not one of url, vault, k8s (set --identity-format or auth.format)", a.Format)
	}
	header := a.Header
	if header == "" {
		header = DefaultSTSIdentityHeader
	}
	if !httpguts.ValidHeaderFieldName(header) {
		return nil, fmt.Errorf("sts-identity: header %q is not a valid HTTP header name (auth.header)", header)
	}
	if a.ServerID != "" && !httpguts.ValidHeaderFieldValue(a.ServerID) {
		return nil, fmt.Errorf("sts-identity: server id %q is not a valid HTTP header value (auth.server_id)", a.ServerID)
	}
	if a.STSEndpoint == "" {
		a.STSEndpoint = configuredSTSEndpoint(ctx, a) // AWS_ENDPOINT_URL_STS and friends
	}
	endpoint, region, err := stsEndpointRegion(a)
	if err != nil {
		return nil, err
	}
	prov, _, err := AWSCredentials(ctx, a, d)
	if err != nil {
		return nil, err
	}
	d.Tracef("sts-identity: format %s in header %s, STS endpoint %s, region %s%s", format, header, endpoint.Host, region,
		map[bool]string{true: ", server id header " + STSServerIDHeaderFor(format)}[a.ServerID != ""])
	return &stsIdentity{
		format: format, header: header, serverID: a.ServerID, endpoint: endpoint, region: region,
		creds: prov, signer: v4.NewSigner(), now: Clock(d.Now), d: d,
	}, nil
}

func newSTSIdentitySigner(ctx context.Context, a profiles.Auth, target string, d Deps) (Signer, error) {
	if target != "" {
		if u, err := url.Parse(target); err != nil || u.Host == "" {
			return nil, fmt.Errorf("sts-identity: cannot sign for %q: want an absolute http(s) URL", target)
		}
	}
	return newSTSIdentity(ctx, a, d)
}

// stsEndpointRegion picks the STS endpoint and the signing region:
// auth.sts_endpoint, else the regional endpoint of auth.region, else the
// global endpoint; the region is auth.region, else the one the endpoint's
// host names, else us-east-1.
func stsEndpointRegion(a profiles.Auth) (*url.URL, string, error) {
	raw := a.STSEndpoint
	if raw == "" {
		switch {
		case a.Region == "":
			raw = STSGlobalEndpoint
		case !awsv4.IsRegion(a.Region):
			return nil, "", fmt.Errorf("sts-identity: region %q is not an AWS region name such as us-east-1", a.Region)
		case strings.HasPrefix(a.Region, "cn-"):
			raw = "https://sts." + a.Region + ".amazonaws.com.cn/"
		default:
			raw = "https://sts." + a.Region + ".amazonaws.com/"
		}
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, "", fmt.Errorf("sts-identity: sts_endpoint %q is not an http(s) URL without query or fragment, such as https://sts.amazonaws.com/", raw)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	region := a.Region
	if svc, inferred := awsv4.InferServiceRegion(u.Host); svc == "sts" && inferred != "" {
		if region != "" && region != inferred {
			return nil, "", fmt.Errorf("sts-identity: region %s does not match STS endpoint %s, which signs for %s: drop --region or use the regional endpoint https://sts.%s.amazonaws.com/",
				region, u.Host, inferred, region)
		}
		region = inferred
	}
	if region == "" {
		region = "us-east-1"
	}
	return u, region, nil
}

// Sign implements Signer: it puts a fresh proof in the identity header.
func (s *stsIdentity) Sign(ctx context.Context, req *http.Request) error {
	req.Header.Del(s.header)
	if !hostcheck.SecureURL(req.URL) {
		return fmt.Errorf("sts-identity: refusing to send an identity proof over plain http to %s; use https (plain http is allowed only to loopback addresses)", req.URL.Host)
	}
	p, err := s.proof(ctx)
	if err != nil {
		return err
	}
	req.Header.Set(s.header, p.value)
	return nil
}

// proof signs a new GetCallerIdentity request in the profile's format.
func (s *stsIdentity) proof(ctx context.Context) (*stsProof, error) {
	creds, err := s.creds.Retrieve(ctx)
	if err != nil {
		return nil, &CredentialError{Kind: "sts-identity", Err: fmt.Errorf("cannot refresh AWS credentials: %w", err), Hint: awsCredentialsHint}
	}
	t := s.now()
	u := *s.endpoint
	req := &http.Request{Method: http.MethodGet, URL: &u, Header: http.Header{}}
	if s.serverID != "" {
		// Set as the format's own header; the signer lists it in SignedHeaders.
		req.Header[http.CanonicalHeaderKey(STSServerIDHeaderFor(s.format))] = []string{s.serverID}
	}
	p := v4Params{Service: "sts", Region: s.region, Time: t, Path: awsv4.PathNormalized}
	out := &stsProof{accessKeyID: creds.AccessKeyID, expires: t.Add(STSProofLifetime)}

	switch s.format {
	case STSFormatVault:
		body := []byte(STSCallerIdentityBody)
		req.Method = http.MethodPost
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		req.ContentLength = int64(len(body))
		p.PayloadHash = awsv4.HashHex(body)
		if _, err := signV4(ctx, s.signer, creds, req, p); err != nil {
			return nil, err
		}
		hdr, err := json.Marshal(req.Header)
		if err != nil {
			return nil, fmt.Errorf("sts-identity: %w", err)
		}
		login, err := json.Marshal(vaultLogin{
			Method:  http.MethodPost,
			URL:     base64.StdEncoding.EncodeToString([]byte(req.URL.String())),
			Body:    base64.StdEncoding.EncodeToString(body),
			Headers: base64.StdEncoding.EncodeToString(hdr),
		})
		if err != nil {
			return nil, fmt.Errorf("sts-identity: %w", err)
		}
		out.value = base64.StdEncoding.EncodeToString(login)
		out.body = body
	default:
		u.RawQuery = STSCallerIdentityBody
		p.PayloadHash = awsv4.EmptySHA256
		p.Presign = true
		p.Expires = stsURLExpires
		if s.format == STSFormatK8s {
			p.Expires = stsK8sExpires
		}
		res, err := signV4(ctx, s.signer, creds, req, p)
		if err != nil {
			return nil, err
		}
		if s.format == STSFormatK8s {
			out.value = K8sTokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(res.URL))
		} else {
			out.value = res.URL
		}
		su, err := url.Parse(res.URL)
		if err != nil {
			return nil, fmt.Errorf("sts-identity: presigned URL: %w", err)
		}
		req.URL = su
	}
	out.req = req
	s.d.Tracef("sts-identity: %s proof for access key %s, region %s, valid until %s (the proof itself is not shown)",
		s.format, creds.AccessKeyID, s.region, out.expires.UTC().Format(time.RFC3339))
	return out, nil
}

// vaultLogin is the body of Vault's POST /v1/auth/aws/login, iam method
// (without the role, which names a Vault role rather than the caller).
type vaultLogin struct {
	Method  string `json:"iam_http_request_method"`
	URL     string `json:"iam_request_url"`
	Body    string `json:"iam_request_body"`
	Headers string `json:"iam_request_headers"`
}

// STSIdentityHeader returns the header a sts-identity request would carry
// now: its name (auth.header, default X-Fluid-Identity) and a fresh proof
// in the profile's format, for `gwcurl token`. The value is a credential
// (valid 15 minutes): print it only where asked to. target, when not "",
// must be an absolute URL; it is only checked.
func STSIdentityHeader(ctx context.Context, a profiles.Auth, target string, d Deps) (name, value string, err error) {
	if target != "" {
		if u, perr := url.Parse(target); perr != nil || u.Host == "" {
			return "", "", fmt.Errorf("sts-identity: %q is not an absolute http(s) URL", target)
		}
	}
	s, err := newSTSIdentity(ctx, a, d)
	if err != nil {
		return "", "", err
	}
	p, err := s.proof(ctx)
	if err != nil {
		return "", "", err
	}
	return s.header, p.value, nil
}
