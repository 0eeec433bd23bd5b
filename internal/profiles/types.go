package profiles

// Config is the whole config file.
type Config struct {
	Current  string              `yaml:"current,omitempty" json:"current,omitempty"`
	Profiles map[string]*Profile `yaml:"profiles,omitempty" json:"profiles,omitempty"`
}

// Profile is one named API: where it lives and how to authenticate to it.
type Profile struct {
	Name    string            `yaml:"-" json:"-"`
	BaseURL string            `yaml:"base_url,omitempty" json:"base_url,omitempty"`
	Headers map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	Auth    Auth              `yaml:"auth,omitempty" json:"auth,omitempty"`
}

// Auth is a profile's auth block. Kind selects which of the other fields
// apply; see docs/configuration.md. Secret fields hold references (env:NAME,
// cmd:COMMAND, keyring:, file:), never the secret itself; resolve them with a
// [Resolver].
type Auth struct {
	Kind string `yaml:"kind,omitempty" json:"kind,omitempty"`

	// sigv4 and sts-identity
	Region          string `yaml:"region,omitempty" json:"region,omitempty"`
	Service         string `yaml:"service,omitempty" json:"service,omitempty"`
	AWSProfile      string `yaml:"aws_profile,omitempty" json:"aws_profile,omitempty"`
	UnsignedPayload bool   `yaml:"unsigned_payload,omitempty" json:"unsigned_payload,omitempty"`
	// Payload chooses how the body is signed: "" (automatic: S3 uploads
	// over 8 MiB stream), "hash", "unsigned" or "streaming".
	Payload string `yaml:"payload,omitempty" json:"payload,omitempty"`
	// Checksum ("crc32" or "sha256") sends S3 uploads unsigned with an
	// x-amz-checksum-* trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER).
	Checksum string `yaml:"checksum,omitempty" json:"checksum,omitempty"`
	// Algorithm is "sigv4" (the default) or "sigv4a" (ECDSA, multi-region;
	// Region is then a region set: "*" or a comma-separated list).
	Algorithm string `yaml:"algorithm,omitempty" json:"algorithm,omitempty"`
	// AccessKeyID and SecretAccessKey let a profile name static AWS keys
	// (the secret as a reference); used by the demo profiles.
	AccessKeyID     string `yaml:"access_key_id,omitempty" json:"access_key_id,omitempty"`
	SecretAccessKey string `yaml:"secret_access_key,omitempty" json:"secret_access_key,omitempty"`
	SessionToken    string `yaml:"session_token,omitempty" json:"session_token,omitempty"`

	// sts-identity
	Header      string `yaml:"header,omitempty" json:"header,omitempty"` // also google: Authorization or X-Serverless-Authorization
	Format      string `yaml:"format,omitempty" json:"format,omitempty"` // url | vault | k8s
	ServerID    string `yaml:"server_id,omitempty" json:"server_id,omitempty"`
	STSEndpoint string `yaml:"sts_endpoint,omitempty" json:"sts_endpoint,omitempty"`

	// google
	Audience    string `yaml:"audience,omitempty" json:"audience,omitempty"`
	Credentials string `yaml:"credentials,omitempty" json:"credentials,omitempty"` // key file path
	Impersonate string `yaml:"impersonate,omitempty" json:"impersonate,omitempty"`

	// cf-access, cognito (client_id/client_secret shared)
	ClientID     string `yaml:"client_id,omitempty" json:"client_id,omitempty"`
	ClientSecret string `yaml:"client_secret,omitempty" json:"client_secret,omitempty"` // secret reference

	// bearer
	Token string `yaml:"token,omitempty" json:"token,omitempty"` // secret reference

	// cognito
	Issuer       string   `yaml:"issuer,omitempty" json:"issuer,omitempty"`
	Domain       string   `yaml:"domain,omitempty" json:"domain,omitempty"`
	Scopes       []string `yaml:"scopes,omitempty" json:"scopes,omitempty"`
	RedirectPort int      `yaml:"redirect_port,omitempty" json:"redirect_port,omitempty"`
	UseToken     string   `yaml:"use_token,omitempty" json:"use_token,omitempty"` // id | access

	// magic-link
	StartURL string `yaml:"start_url,omitempty" json:"start_url,omitempty"`
	TokenURL string `yaml:"token_url,omitempty" json:"token_url,omitempty"`
	Email    string `yaml:"email,omitempty" json:"email,omitempty"`
}

// Kinds lists the auth kinds, in documentation order.
var Kinds = []string{"none", "sigv4", "sts-identity", "google", "cf-access", "bearer", "cognito", "magic-link"}
