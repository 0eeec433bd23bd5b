package stsverify_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/gwcurl/gwcurl/internal/awsv4"
	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/stsverify"
)

// Keys of the test gateway: the demo pair, and two temporary keys of role
// sessions.
const (
	demoKey      = "AKIAGWCURLDEMO000001"
	demoSecret   = "gwcurlDemoSecretKey000000000000000000001"
	demoARN      = "arn:aws:iam::123456789012:user/demo"
	intruderKey  = "AKIAGWCURLDEMO000002"
	intruderSec  = "gwcurlDemoSecretKey000000000000000000002"
	intruderARN  = "arn:aws:iam::123456789012:user/intruder"
	oncallKey    = "ASIAGWCURLTEMP000003"
	oncallSecret = "gwcurlTempSecretKey000000000000000000003"
	oncallToken  = "FwoGZXIvYXdzEXAMPLEsessiontokenoncall"
	oncallARN    = "arn:aws:sts::123456789012:assumed-role/oncall/alice"
	devKey       = "ASIAGWCURLTEMP000004"
	devSecret    = "gwcurlTempSecretKey000000000000000000004"
	devToken     = "FwoGZXIvYXdzEXAMPLEsessiontokendev"
	devARN       = "arn:aws:sts::123456789012:assumed-role/dev/bob"
)

const testConfig = `
aws_keys:
  - {access_key_id: AKIAGWCURLDEMO000001, secret_access_key: gwcurlDemoSecretKey000000000000000000001, arn: "arn:aws:iam::123456789012:user/demo"}
  - {access_key_id: AKIAGWCURLDEMO000002, secret_access_key: gwcurlDemoSecretKey000000000000000000002, arn: "arn:aws:iam::123456789012:user/intruder"}
  - {access_key_id: ASIAGWCURLTEMP000003, secret_access_key: gwcurlTempSecretKey000000000000000000003, session_token: FwoGZXIvYXdzEXAMPLEsessiontokenoncall, arn: "arn:aws:sts::123456789012:assumed-role/oncall/alice"}
  - {access_key_id: ASIAGWCURLTEMP000004, secret_access_key: gwcurlTempSecretKey000000000000000000004, session_token: FwoGZXIvYXdzEXAMPLEsessiontokendev, arn: "arn:aws:sts::123456789012:assumed-role/dev/bob"}
routes:
  - prefix: /sts
    auth:
      kind: sts_identity
      header: X-Fluid-Identity
      formats: [url, vault, k8s]
      allow: ["arn:aws:iam::123456789012:user/demo", "arn:aws:iam::123456789012:role/oncall"]
    strip_prefix: true
    upstream: builtin:echo
  - prefix: /bound
    auth:
      kind: sts_identity
      server_id: api-1.example.com
      allow: ["arn:aws:iam::123456789012:user/demo"]
    strip_prefix: true
    upstream: builtin:echo
  - prefix: /roles
    auth:
      kind: sts_identity
      header: X-Proof
      formats: [url]
      allow: ["arn:aws:iam::123456789012:role/*"]
    strip_prefix: true
    upstream: builtin:echo
`

func startTest(t *testing.T) *gatewaytest.Server {
	t.Helper()
	kinds := gateway.DefaultKinds()
	kinds[stsverify.Kind] = stsverify.Factory
	return gatewaytest.StartYAML(t, testConfig, gateway.Options{Kinds: kinds, Mocks: []auth.MockFactory{stsverify.Mocks}})
}

// key is who signs a hand-made proof.
type key struct{ id, secret, token string }

var (
	demoK     = key{demoKey, demoSecret, ""}
	intruderK = key{intruderKey, intruderSec, ""}
	oncallK   = key{oncallKey, oncallSecret, oncallToken}
	devK      = key{devKey, devSecret, devToken}
)

// presignedURL pre-signs GET endpoint?query with aws-sdk-go-v2's signer
// directly (not through internal/sign), signing the given extra headers.
func presignedURL(t *testing.T, k key, endpoint, query string, hdr http.Header, region string, at time.Time, expires int) string {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	q := query
	if expires > 0 {
		q += "&X-Amz-Expires=" + itoa(expires)
	}
	req := &http.Request{Method: "GET", URL: &url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawQuery: q}, Host: u.Host, Header: hdr.Clone()}
	if req.Header == nil {
		req.Header = http.Header{}
	}
	signed, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: k.id, SecretAccessKey: k.secret, SessionToken: k.token},
		req, awsv4.EmptySHA256, "sts", region, at)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// vaultProof signs a POST of body to endpoint and packs Vault's login
// fields; edit may change the headers map before packing.
func vaultProof(t *testing.T, k key, endpoint, body string, hdr http.Header, region string, at time.Time, edit func(h map[string][]string, login map[string]string)) string {
	t.Helper()
	u, _ := url.Parse(endpoint)
	h := hdr.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	req := &http.Request{Method: "POST", URL: &url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}, Host: u.Host, Header: h, ContentLength: int64(len(body))}
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: k.id, SecretAccessKey: k.secret, SessionToken: k.token},
		req, awsv4.HashHex([]byte(body)), "sts", region, at); err != nil {
		t.Fatal(err)
	}
	m := map[string][]string(req.Header)
	login := map[string]string{
		"iam_http_request_method": "POST",
		"iam_request_url":         base64.StdEncoding.EncodeToString([]byte(endpoint)),
		"iam_request_body":        base64.StdEncoding.EncodeToString([]byte(body)),
	}
	if edit != nil {
		edit(m, login)
	}
	hj, _ := json.Marshal(m)
	if _, ok := login["iam_request_headers"]; !ok {
		login["iam_request_headers"] = base64.StdEncoding.EncodeToString(hj)
	}
	lj, _ := json.Marshal(login)
	return base64.StdEncoding.EncodeToString(lj)
}

func k8sToken(u string) string {
	return stsverify.K8sTokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(u))
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

const gciQuery = "Action=GetCallerIdentity&Version=2011-06-15"

// call sends hdr to the route path and returns status and the JSON answer.
func call(t *testing.T, srv *gatewaytest.Server, path string, hdr map[string]string) (int, map[string]any) {
	t.Helper()
	return get(t, srv.URL+path, hdr)
}

func contains(s any, sub string) bool {
	str, _ := s.(string)
	return strings.Contains(str, sub)
}
