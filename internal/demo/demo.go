// Package demo holds the fixed, published credentials of the embedded demo
// gateway (docs/gateway.md, "The embedded demo"), so the demo config, the mock providers, the
// profiles written by `gwcurl gateway --profiles-out` and the tests all agree
// on one set of names.
//
// # Everything here is public
//
// These are demo credentials, committed to a public repository and printed in
// the documentation. They protect nothing: the mock gateway accepts them only
// because it is a local, offline mock. Never configure a real service with
// them.
package demo

import (
	"crypto/rsa"
	"crypto/x509"
	_ "embed" // for the service-account key
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
)

// GoogleServiceAccountKeyPEM is the PKCS#8 PEM private key of the demo Google
// service account. It is a PUBLISHED DEMO KEY (generated once with
// `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048` and
// committed): the Google mock registers its public half so that ID tokens
// minted with it verify; it must never be trusted anywhere else.
//
//go:embed google-sa-key.pem
var GoogleServiceAccountKeyPEM string

// Demo identities and secrets (docs/gateway.md, "The embedded demo").
const (
	// GoogleServiceAccountEmail is the demo service account (client_email).
	GoogleServiceAccountEmail = "demo@gwcurl-demo.iam.gserviceaccount.com"
	// GoogleProjectID is the demo service account's project.
	GoogleProjectID = "gwcurl-demo"
	// GoogleServiceAccountKeyID is the key file's private_key_id, which the
	// mock uses as the "kid" of the tokens it signs with the key.
	GoogleServiceAccountKeyID = "ad332da490722f42bbc67412ab1ae9a801391574"
	// GoogleServiceAccountClientID is the numeric client_id of the key file.
	GoogleServiceAccountClientID = "100000000000000000001"

	// AWSAccessKeyID / AWSSecretAccessKey belong to AWSARN, which is on the
	// /sts allowlist.
	AWSAccessKeyID     = "AKIAGWCURLDEMO000001"
	AWSSecretAccessKey = "gwcurlDemoSecretKey000000000000000000001"
	AWSARN             = "arn:aws:iam::123456789012:user/demo"
	// IntruderAccessKeyID is a second valid key whose ARN is on no allowlist.
	IntruderAccessKeyID     = "AKIAGWCURLDEMO000002"
	IntruderSecretAccessKey = "gwcurlDemoSecretKey000000000000000000002"
	IntruderARN             = "arn:aws:iam::123456789012:user/intruder"
	// OncallRoleARN is the second ARN on the /sts allowlist.
	OncallRoleARN = "arn:aws:iam::123456789012:role/oncall"

	// CFTeamDomain, CFAudTag and the service token configure /admin.
	CFTeamDomain      = "https://gwcurl-demo.cloudflareaccess.com"
	CFAudTag          = "e1f9f45012bf2c68eee5cd8c3c73d6215141265d28cc64e98fc42aaf7d672135"
	CFClientID        = "demo.access"
	CFClientSecret    = "demo-cf-secret"
	CognitoClientID   = "gwcurl-demo"
	MagicClientID     = "gwcurl-demo-magic"
	UserEmail         = "demo@example.com"
	UserPassword      = "demo-password"
	STSIdentityHeader = "X-Fluid-Identity"
	Region            = "us-east-1"
	SigV4Service      = "lambda"
)

// GoogleServiceAccountKey parses [GoogleServiceAccountKeyPEM].
func GoogleServiceAccountKey() (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(GoogleServiceAccountKeyPEM))
	if block == nil {
		return nil, errors.New("demo google service account key: no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("demo google service account key: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("demo google service account key: %T is not an RSA key", k)
	}
	return rk, nil
}

// GoogleServiceAccountJSON returns the demo service account's key file, in
// the format of a key downloaded from the Google Cloud console, with
// token_uri pointing at tokenURI (the mock's token endpoint).
func GoogleServiceAccountJSON(tokenURI string) ([]byte, error) {
	f := struct {
		Type           string `json:"type"`
		ProjectID      string `json:"project_id"`
		PrivateKeyID   string `json:"private_key_id"`
		PrivateKey     string `json:"private_key"`
		ClientEmail    string `json:"client_email"`
		ClientID       string `json:"client_id"`
		TokenURI       string `json:"token_uri"`
		UniverseDomain string `json:"universe_domain"`
	}{
		Type:         "service_account",
		ProjectID:    GoogleProjectID,
		PrivateKeyID: GoogleServiceAccountKeyID,
		PrivateKey:   GoogleServiceAccountKeyPEM,
		ClientEmail:  GoogleServiceAccountEmail,
		ClientID:     GoogleServiceAccountClientID,
		// auth_uri and auth_provider_x509_cert_url are informational in a
		// key file and left out, so the file names no real Google host.
		TokenURI:       tokenURI,
		UniverseDomain: "googleapis.com",
	}
	return json.MarshalIndent(f, "", "  ")
}
