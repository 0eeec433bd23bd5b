package sign

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/sso"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
	"github.com/aws/smithy-go"

	"github.com/gwcurl/gwcurl/internal/profiles"
)

// Hint shown when no AWS credentials could be found or loaded.
const awsCredentialsHint = "run `aws sso login`, pick a profile with --aws-profile or AWS_PROFILE, or run `aws configure`"

// credOptions are the seams of the credential chain that tests replace.
type credOptions struct {
	// onEC2 reports whether this machine looks like an EC2 instance; nil
	// means the real probe (ec2Signs).
	onEC2 func() bool
	// imdsEndpoint replaces the instance metadata endpoint (tests point it
	// at a fake on 127.0.0.1, so even a wrong decision never leaves the host).
	imdsEndpoint string
}

// AWSCredentials returns the AWS credentials an auth block selects, cached
// (aws.CredentialsCache, safe for concurrent use), and the region configured
// for it: a.Region, else the AWS config's region (AWS_REGION, the profile's
// region), else "". It is shared by the sigv4 and sts-identity kinds, so both
// resolve credentials the same way:
//
//   - a.AccessKeyID set: static keys, the secret (and optional session token)
//     resolved from their secret references through d.Secrets;
//   - otherwise the AWS SDK's default chain (environment, shared config and
//     credentials files, SSO, assume-role, credential_process, web identity,
//     ECS/EKS container credentials) for a.AWSProfile when set. A profile
//     named in the auth block wins over AWS_ACCESS_KEY_ID in the
//     environment. The EC2 instance metadata service is only consulted
//     when this machine shows signs of being on EC2 (see docs/auth/sigv4.md),
//     with short timeouts, so a laptop with no AWS setup fails in well under
//     a second instead of waiting on 169.254.169.254.
//
// Credentials are retrieved once before returning, so a missing, expired or
// unreadable credential is reported here as a *CredentialError with a hint.
// The SDK reads its own environment variables from the process environment;
// d.Getenv is used for gwcurl's own decisions (region fallback, IMDS probe).
func AWSCredentials(ctx context.Context, a profiles.Auth, d Deps) (aws.CredentialsProvider, string, error) {
	return awsCredentials(ctx, a, d, credOptions{})
}

func authKind(a profiles.Auth) string {
	if a.Kind == "" {
		return "sigv4"
	}
	return a.Kind
}

func awsCredentials(ctx context.Context, a profiles.Auth, d Deps, o credOptions) (aws.CredentialsProvider, string, error) {
	kind := authKind(a)
	getenv := d.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if a.AccessKeyID != "" {
		return staticAWSCredentials(ctx, kind, a, d, getenv)
	}
	if prov, region, ok := envAWSCredentials(a, d, getenv); ok {
		return prov, region, nil
	}

	// NOTE: the chain (SSO, STS assume-role, container credentials) keeps the
	// SDK's own HTTP client rather than d.HTTPClient: only the SDK's
	// buildable client can take AWS_CA_BUNDLE / ca_bundle, and with any other
	// client LoadDefaultConfig fails outright when a bundle is configured.
	// It honours HTTPS_PROXY and NO_PROXY like the AWS CLI.
	var opts []func(*config.LoadOptions) error
	if a.AWSProfile != "" {
		opts = append(opts, config.WithSharedConfigProfile(a.AWSProfile))
	}
	if a.Region != "" {
		opts = append(opts, config.WithRegion(a.Region))
	}
	opts = append(opts, endpointOptions(ctx, a.AWSProfile)...)
	onEC2 := o.onEC2
	if onEC2 == nil {
		onEC2 = func() bool { return ec2Signs(os.ReadFile) }
	}
	useIMDS, why := imdsAllowed(getenv, onEC2)
	if useIMDS {
		// The SDK's IMDS client dials with a 250 ms timeout and waits 500 ms
		// for headers; without retries an unreachable IMDS costs about a
		// second instead of several (the credentials cache asks again on
		// the next request anyway).
		opts = append(opts, config.WithEC2RoleCredentialOptions(func(eo *ec2rolecreds.Options) {
			eo.Client = imds.New(imds.Options{Endpoint: o.imdsEndpoint, Retryer: aws.NopRetryer{}})
		}))
	} else {
		opts = append(opts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
		if o.imdsEndpoint != "" {
			opts = append(opts, config.WithEC2IMDSEndpoint(o.imdsEndpoint))
		}
	}
	d.Tracef("sigv4: credential chain: aws profile %q, instance metadata %s", displayProfile(a.AWSProfile, getenv), why)

	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, "", awsCredentialError(kind, a, getenv, err, useIMDS)
	}
	if cfg.Credentials == nil {
		return nil, "", awsCredentialError(kind, a, getenv, errNoAWSCredentials, useIMDS)
	}
	prov := cfg.Credentials
	if _, ok := prov.(*aws.CredentialsCache); !ok {
		prov = aws.NewCredentialsCache(prov)
	}
	creds, err := prov.Retrieve(ctx)
	if err != nil {
		return nil, "", awsCredentialError(kind, a, getenv, err, useIMDS)
	}
	d.Tracef("sigv4: credentials %s from %s%s", creds.AccessKeyID, sourceName(creds.Source), tempNote(creds))
	return prov, cfg.Region, nil
}

func staticAWSCredentials(ctx context.Context, kind string, a profiles.Auth, d Deps, getenv func(string) string) (aws.CredentialsProvider, string, error) {
	if a.SecretAccessKey == "" {
		return nil, "", Credentialf(kind, "set auth.secret_access_key to a secret reference such as env:AWS_SECRET_ACCESS_KEY",
			"auth.access_key_id is set but auth.secret_access_key is not")
	}
	if d.Secrets == nil {
		return nil, "", Credentialf(kind, "", "no secret resolver to read auth.secret_access_key")
	}
	secret, err := d.Secrets.Resolve(ctx, d.Profile, "auth.secret_access_key", a.SecretAccessKey)
	if err != nil {
		return nil, "", &CredentialError{Kind: kind, Err: err, Hint: "check auth.secret_access_key in the profile"}
	}
	token := ""
	if a.SessionToken != "" {
		if token, err = d.Secrets.Resolve(ctx, d.Profile, "auth.session_token", a.SessionToken); err != nil {
			return nil, "", &CredentialError{Kind: kind, Err: err, Hint: "check auth.session_token in the profile"}
		}
	}
	region := a.Region
	if region == "" {
		region = getenv("AWS_REGION")
	}
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	d.Tracef("sigv4: credentials %s from the profile's static keys%s", a.AccessKeyID, ifThen(token != "", " (with session token)"))
	p := credentials.NewStaticCredentialsProvider(a.AccessKeyID, secret, token)
	return aws.NewCredentialsCache(p), region, nil
}

// envAWSCredentials is what `curl --aws-sigv4` does with keys in the
// environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and
// AWS_SESSION_TOKEN) used as they are, with no AWS config or credentials
// file read, no instance metadata probe and no SDK configuration loaded.
// It answers only where the SDK's default chain would pick the same keys
// and region: no aws_profile in the auth block (that one wins over the
// environment; AWS_PROFILE does not), and the region known without the
// config file (auth.region, else AWS_REGION). Otherwise ok is false and
// the full chain runs.
func envAWSCredentials(a profiles.Auth, d Deps, getenv func(string) string) (prov aws.CredentialsProvider, region string, ok bool) {
	if a.AWSProfile != "" {
		return nil, "", false
	}
	id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return nil, "", false
	}
	region = a.Region
	if region == "" {
		region = getenv("AWS_REGION")
	}
	if region == "" {
		return nil, "", false
	}
	token := getenv("AWS_SESSION_TOKEN")
	d.Tracef("sigv4: credentials %s from the environment (AWS_ACCESS_KEY_ID)%s; no AWS config file read", id, ifThen(token != "", " (with session token)"))
	c := aws.Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: token, Source: credentials.StaticCredentialsName}
	return aws.NewCredentialsCache(credentials.StaticCredentialsProvider{Value: c}), region, true
}

var errNoAWSCredentials = errors.New("no AWS credentials found")

// awsCredentialError turns an SDK credential error into a CredentialError
// with a hint that fits it.
func awsCredentialError(kind string, a profiles.Auth, getenv func(string) string, err error, usedIMDS bool) error {
	profile := a.AWSProfile
	if profile == "" {
		profile = getenv("AWS_PROFILE")
	}
	profileFlag := ""
	if profile != "" {
		profileFlag = " --profile " + profile
	}
	var notExist config.SharedConfigProfileNotExistError
	if errors.As(err, &notExist) {
		return Credentialf(kind, "check --aws-profile / AWS_PROFILE; `aws configure list-profiles` lists the profiles",
			"aws profile %q is not in the AWS config or credentials files", notExist.Profile)
	}
	var badToken *ssocreds.InvalidTokenError
	var opErr *smithy.OperationError
	isOp := errors.As(err, &opErr)
	if errors.As(err, &badToken) || (isOp && (opErr.ServiceID == sso.ServiceID || opErr.ServiceID == ssooidc.ServiceID)) ||
		strings.Contains(err.Error(), "SSO token") {
		return &CredentialError{Kind: kind, Err: fmt.Errorf("AWS SSO session for profile %q is missing or expired: %w", displayProfile(profile, getenv), err),
			Hint: "run `aws sso login" + profileFlag + "`"}
	}
	if errors.Is(err, errNoAWSCredentials) || (isOp && opErr.ServiceID == imds.ServiceID) {
		where := "environment, AWS config and credentials files, SSO, container credentials"
		if usedIMDS {
			where += ", EC2 instance metadata"
		} else {
			where += "; EC2 instance metadata skipped (not on EC2, or AWS_EC2_METADATA_DISABLED=true)"
		}
		if profile != "" {
			return Credentialf(kind, awsCredentialsHint, "aws profile %q has no usable credentials (looked in: %s)", profile, where)
		}
		return Credentialf(kind, awsCredentialsHint, "no AWS credentials found (looked in: %s)", where)
	}
	return &CredentialError{Kind: kind, Err: fmt.Errorf("cannot load AWS credentials: %w", err), Hint: awsCredentialsHint}
}

// imdsAllowed decides whether the credential chain may end at the EC2
// instance metadata service. AWS_EC2_METADATA_DISABLED=true always wins;
// =false, an explicit AWS_EC2_METADATA_SERVICE_ENDPOINT or ECS-on-EC2 are
// taken as opt-ins; otherwise only a machine that identifies as EC2 uses it.
func imdsAllowed(getenv func(string) string, onEC2 func() bool) (bool, string) {
	switch v := getenv("AWS_EC2_METADATA_DISABLED"); {
	case strings.EqualFold(v, "true"):
		return false, "disabled by AWS_EC2_METADATA_DISABLED"
	case strings.EqualFold(v, "false"):
		return true, "enabled by AWS_EC2_METADATA_DISABLED=false"
	}
	if getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT") != "" {
		return true, "enabled by AWS_EC2_METADATA_SERVICE_ENDPOINT"
	}
	if strings.HasPrefix(getenv("AWS_EXECUTION_ENV"), "AWS_ECS_EC2") {
		return true, "enabled (ECS on EC2)"
	}
	if onEC2() {
		return true, "enabled (this machine identifies as EC2)"
	}
	return false, "skipped (not on EC2; set AWS_EC2_METADATA_DISABLED=false to force it)"
}

// ec2Signs reports whether the machine identifies itself as an EC2 instance
// through DMI or the Xen hypervisor UUID, which Linux exposes to every user
// (product_uuid is root-only, so it is not used). Non-Linux systems have no
// such files and report false; AWS_EC2_METADATA_DISABLED=false opts in there.
func ec2Signs(readFile func(string) ([]byte, error)) bool {
	for _, f := range []string{"/sys/class/dmi/id/sys_vendor", "/sys/class/dmi/id/board_vendor", "/sys/class/dmi/id/bios_vendor"} {
		if b, err := readFile(f); err == nil && strings.Contains(strings.ToLower(string(b)), "amazon ec2") {
			return true
		}
	}
	if b, err := readFile("/sys/class/dmi/id/bios_version"); err == nil && strings.Contains(strings.ToLower(string(b)), "amazon") {
		return true
	}
	if b, err := readFile("/sys/hypervisor/uuid"); err == nil && strings.HasPrefix(strings.ToLower(string(b)), "ec2") {
		return true
	}
	return false
}

func displayProfile(p string, getenv func(string) string) string {
	if p != "" {
		return p
	}
	if p = getenv("AWS_PROFILE"); p != "" {
		return p
	}
	return "default"
}

func sourceName(s string) string {
	if s == "" {
		return "the AWS credential chain"
	}
	// Source can carry a file path ("SharedConfigCredentials: /home/me/.aws/credentials"): fine to show.
	return s
}

func tempNote(c aws.Credentials) string {
	if c.SessionToken == "" {
		return ""
	}
	if c.CanExpire {
		return fmt.Sprintf(" (temporary, expires %s)", c.Expires.UTC().Format("2006-01-02T15:04:05Z"))
	}
	return " (temporary)"
}
