package stsverify

import (
	"encoding/base64"
	"strings"
	"testing"
)

// The seeds run in every `go test`; fuzz with
//
//	go test -run '^$' -fuzz '^FuzzParseProof$' -fuzztime 1m -parallel 1 ./internal/gateway/verify/stsverify/

// FuzzParseProof: the three proof formats (pre-signed URL, k8s token,
// Vault login fields) parse or are refused with a reason.
func FuzzParseProof(f *testing.F) {
	url := "https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAX%2F20260501%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20260501T120000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=" + strings.Repeat("a", 64)
	vault := base64.StdEncoding.EncodeToString([]byte(`{"iam_http_request_method":"POST","iam_request_url":"` + base64.StdEncoding.EncodeToString([]byte("https://sts.amazonaws.com/")) + `","iam_request_body":"` + base64.StdEncoding.EncodeToString([]byte("Action=GetCallerIdentity&Version=2011-06-15")) + `","iam_request_headers":"` + base64.StdEncoding.EncodeToString([]byte(`{"Authorization":["AWS4-HMAC-SHA256 Credential=AKIAX/20260501/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"],"X-Amz-Date":["20260501T120000Z"]}`)) + `"}`))
	for _, s := range []string{
		url, K8sTokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(url)), vault, "garbage", "http://u:p@x/#f", K8sTokenPrefix + "!!",
		`{"iam_http_request_method":"GET"}`, "https://sts.amazonaws.com/?X-Amz-Credential=a/b&X-Amz-Credential=c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		p, rej := parseProof(v)
		switch {
		case p == nil && (rej == nil || rej.Reason == ""):
			t.Fatalf("%q: neither a proof nor a reason", v)
		case p != nil && rej != nil:
			t.Fatalf("%q: both a proof and a rejection", v)
		case p != nil && (p.target == nil || (p.method != "GET" && p.method != "POST")):
			t.Fatalf("%q: proof without a target or with method %q", v, p.method)
		}
	})
}

// FuzzParseCallerIdentity: STS answers (XML or JSON) from an endpoint the
// gateway calls parse or fail, never panic, and a parsed one has an ARN.
func FuzzParseCallerIdentity(f *testing.F) {
	f.Add("text/xml", `<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/a</Arn><UserId>AIDA</UserId><Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>`)
	f.Add("application/json", `{"GetCallerIdentityResponse":{"GetCallerIdentityResult":{"Arn":"arn:aws:iam::123456789012:user/a","Account":"123456789012","UserId":"x"}}}`)
	f.Add("text/xml", `<ErrorResponse><Error><Code>x</Code></Error></ErrorResponse>`)
	f.Add("", "")
	f.Fuzz(func(t *testing.T, ct, body string) {
		id, err := ParseCallerIdentity(ct, []byte(body))
		if err == nil && (id == nil || id.Arn == "") {
			t.Fatalf("%q %q: parsed without an ARN: %+v", ct, body, id)
		}
	})
}

// FuzzParseARN: an ARN parses to parts that print back canonical.
func FuzzParseARN(f *testing.F) {
	for _, s := range []string{"arn:aws:iam::123456789012:user/demo", "arn:aws:sts::123456789012:assumed-role/r/s", "arn:aws-cn:iam::1:role/x/y", "arn:::::", "arn:aws:iam::123456789012:root"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := ParseARN(s); err != nil {
			return
		}
		c, err := CanonicalARN(s)
		if err != nil {
			t.Fatalf("%q parses but has no canonical form: %v", s, err)
		}
		if c2, err := CanonicalARN(c); err != nil || c2 != c {
			t.Fatalf("canonical form of %q is not stable: %q -> %q (%v)", s, c, c2, err)
		}
	})
}
