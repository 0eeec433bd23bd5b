package sign

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/gwcurl/gwcurl/internal/awsv4"
	"github.com/gwcurl/gwcurl/internal/profiles"
)

// PresignSigV4 returns a SigV4 pre-signed URL (query authentication) for
// method and rawURL, valid for expires (1s to 7 days), made with the
// credentials of a. Service and region are resolved as for requests. The
// payload is UNSIGNED-PAYLOAD for S3 and the hash of an empty body for other
// services, so a URL for another service only works for requests without a
// body. Only the host header is signed. A URL signed with temporary
// credentials stops working when they expire, whatever expires says.
func PresignSigV4(ctx context.Context, a profiles.Auth, d Deps, method, rawURL string, expires time.Duration) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("presign: %q is not an absolute http(s) URL", rawURL)
	}
	if method == "" {
		method = http.MethodGet
	}
	prov, cfgRegion, err := AWSCredentials(ctx, a, d)
	if err != nil {
		return "", err
	}
	service, region, err := resolveServiceRegion(a, u.Host, cfgRegion)
	if err != nil {
		return "", err
	}
	creds, err := prov.Retrieve(ctx)
	if err != nil {
		return "", &CredentialError{Kind: authKind(a), Err: err, Hint: awsCredentialsHint}
	}
	hash := awsv4.EmptySHA256
	if isS3(service) {
		hash = awsv4.UnsignedPayload
	}
	req := &http.Request{Method: strings.ToUpper(method), URL: u, Header: http.Header{}}
	p := v4Params{
		Service: service, Region: region, Time: Clock(d.Now)(), PayloadHash: hash,
		Path: pathModeFor(service), Presign: true, Expires: expires,
	}
	var res v4Result
	switch a.Algorithm {
	case "sigv4a":
		res, err = signV4A(&awsv4.V4AKeys{}, creds, req, p)
	case "", "sigv4":
		res, err = signV4(ctx, v4.NewSigner(), creds, req, p)
	default:
		err = fmt.Errorf("sigv4: unknown algorithm %q: want sigv4 or sigv4a", a.Algorithm)
	}
	if err != nil {
		return "", err
	}
	if creds.CanExpire && !creds.Expires.IsZero() && creds.Expires.Before(p.Time.Add(expires)) {
		d.Tracef("presign: the credentials expire at %s, before the URL would (%s)",
			creds.Expires.UTC().Format(time.RFC3339), p.Time.Add(expires).UTC().Format(time.RFC3339))
	}
	if d.Trace != nil {
		traceSigning(d.Trace, res, creds)
	}
	return res.URL, nil
}

// AWSCallerIdentity asks STS who the credentials of a belong to
// (sts:GetCallerIdentity). target, when not "", is the URL the profile calls
// and only serves to infer the region. a.STSEndpoint, when set, replaces the
// STS endpoint (the mock gateway's /_mock/sts/ for example); the region
// defaults to us-east-1. Requests go through d.HTTPClient. A refusal by STS
// (invalid or expired keys) is a *CredentialError.
func AWSCallerIdentity(ctx context.Context, a profiles.Auth, d Deps, target string) (arn, account, userID string, err error) {
	prov, region, err := AWSCredentials(ctx, a, d)
	if err != nil {
		return "", "", "", err
	}
	if a.Region == "" && target != "" {
		if u, perr := url.Parse(target); perr == nil {
			if _, r := awsv4.InferServiceRegion(u.Host); r != "" {
				region = r
			}
		}
	}
	if region == "" {
		region = "us-east-1"
	}
	// The AWS configuration's endpoint settings apply, unless the profile
	// names its own STS endpoint.
	cfg, cerr := awsServiceConfig(ctx, a, region, prov)
	if cerr != nil {
		cfg = aws.Config{Credentials: prov, Region: region}
	}
	if d.HTTPClient != nil {
		cfg.HTTPClient = d.HTTPClient
	}
	client := sts.NewFromConfig(cfg, func(o *sts.Options) {
		if a.STSEndpoint != "" {
			o.BaseEndpoint = aws.String(a.STSEndpoint)
		}
	})
	out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", "", "", stsError(authKind(a), err)
	}
	return aws.ToString(out.Arn), aws.ToString(out.Account), aws.ToString(out.UserId), nil
}

// stsError maps STS refusals of the credentials to a CredentialError; other
// failures (network, endpoint) stay plain errors.
func stsError(kind string, err error) error {
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException",
			"AccessDenied", "UnrecognizedClientException", "IncompleteSignature", "InvalidAccessKeyId":
			return &CredentialError{Kind: kind, Err: fmt.Errorf("STS refused the credentials: %w", err), Hint: awsCredentialsHint}
		}
	}
	return fmt.Errorf("sts GetCallerIdentity: %w", err)
}
