package sign

import (
	"context"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/gwcurl/gwcurl/internal/profiles"
)

// AWS endpoint configuration (docs/auth/sigv4.md, "AWS endpoints"): every
// AWS API gwcurl calls (assume-role, web identity, GetCallerIdentity for
// whoami, the STS host of an sts-identity proof) goes where the AWS CLI
// would send it: AWS_ENDPOINT_URL_STS, the profile's services section,
// AWS_ENDPOINT_URL, the profile's endpoint_url, resolved by the SDK itself
// (configured endpoints, see the AWS SDKs and Tools reference guide).

// awsServiceConfig loads the AWS configuration of an auth block (its
// aws_profile and region) with prov as the credentials, so that clients
// built from it resolve their endpoints from the same settings.
func awsServiceConfig(ctx context.Context, a profiles.Auth, region string, prov aws.CredentialsProvider) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{config.WithEC2IMDSClientEnableState(imds.ClientDisabled)}
	if a.AWSProfile != "" {
		opts = append(opts, config.WithSharedConfigProfile(a.AWSProfile))
	}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if prov != nil {
		opts = append(opts, config.WithCredentialsProvider(prov))
	}
	return config.LoadDefaultConfig(ctx, opts...)
}

// configuredSTSEndpoint returns the STS endpoint the AWS configuration
// names for the auth block, "" when it names none (then the regional or
// global STS host is used).
func configuredSTSEndpoint(ctx context.Context, a profiles.Auth) string {
	region := a.Region
	if region == "" {
		region = "us-east-1"
	}
	cfg, err := awsServiceConfig(ctx, a, region, aws.AnonymousCredentials{})
	if err != nil {
		return ""
	}
	return aws.ToString(sts.NewFromConfig(cfg).Options().BaseEndpoint)
}

// globalEndpoint is AWS_ENDPOINT_URL, else the profile's endpoint_url.
// The SDK resolves these only after the credential chain, so the STS
// clients of assume-role and web identity would miss them (they do see the
// STS-specific settings); stsClientEndpoint fills them in.
func globalEndpoint(ctx context.Context, profile string) string {
	if os.Getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") == "true" {
		return ""
	}
	if v := os.Getenv("AWS_ENDPOINT_URL"); v != "" {
		return v
	}
	if profile == "" {
		profile = os.Getenv("AWS_PROFILE")
	}
	if profile == "" {
		profile = "default"
	}
	// The same files LoadDefaultConfig reads (the package default is fixed
	// when the process starts).
	sc, err := config.LoadSharedConfigProfile(ctx, profile, func(o *config.LoadSharedConfigOptions) {
		if f := os.Getenv("AWS_CONFIG_FILE"); f != "" {
			o.ConfigFiles = []string{f}
		}
		if f := os.Getenv("AWS_SHARED_CREDENTIALS_FILE"); f != "" {
			o.CredentialsFiles = []string{f}
		}
	})
	if err != nil || (sc.IgnoreConfiguredEndpoints != nil && *sc.IgnoreConfiguredEndpoints) {
		return ""
	}
	return sc.BaseEndpoint
}

// stsClientEndpoint gives an STS client of the credential chain the global
// endpoint when no STS-specific one is configured.
func stsClientEndpoint(ctx context.Context, profile string, c any) (*sts.Client, bool) {
	sc, ok := c.(*sts.Client)
	if !ok {
		return nil, false
	}
	o := sc.Options()
	if o.BaseEndpoint != nil {
		return nil, false
	}
	ep := globalEndpoint(ctx, profile)
	if ep == "" {
		return nil, false
	}
	o.BaseEndpoint = aws.String(ep)
	return sts.New(o), true
}

// endpointOptions are the credential chain's options that route its STS
// calls to the configured endpoints.
func endpointOptions(ctx context.Context, profile string) []func(*config.LoadOptions) error {
	return []func(*config.LoadOptions) error{
		config.WithAssumeRoleCredentialOptions(func(o *stscreds.AssumeRoleOptions) {
			if c, ok := stsClientEndpoint(ctx, profile, o.Client); ok {
				o.Client = c
			}
		}),
		config.WithWebIdentityRoleCredentialOptions(func(o *stscreds.WebIdentityRoleOptions) {
			if c, ok := stsClientEndpoint(ctx, profile, o.Client); ok {
				o.Client = c
			}
		}),
	}
}
