package stsverify_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/gwcurl/gwcurl/internal/awsv4"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
)

// stsClient is aws-sdk-go-v2's own STS client pointed at the mock.
func stsClient(srv *gatewaytest.Server, k key, region string) *sts.Client {
	return sts.New(sts.Options{
		Region:       region,
		BaseEndpoint: aws.String(srv.URL + "/_mock/sts/"),
		Credentials:  credentials.NewStaticCredentialsProvider(k.id, k.secret, k.token),
		HTTPClient:   srv.Client(),
	})
}

// TestMockWithTheSDK: the AWS SDK's GetCallerIdentity (a header-signed
// POST form, XML answer) works against the mock, for long-term keys and
// role sessions, and its refusals are AWS's error codes.
func TestMockWithTheSDK(t *testing.T) {
	t.Parallel()
	srv := startTest(t)
	cases := []struct {
		k                   key
		region              string
		arn, account, uidPf string
		code                string
	}{
		{demoK, "us-east-1", demoARN, "123456789012", "AIDA", ""},
		{demoK, "ap-southeast-2", demoARN, "123456789012", "AIDA", ""},
		{oncallK, "us-east-1", oncallARN, "123456789012", "AROA", ""},
		{key{demoKey, "wrong", ""}, "us-east-1", "", "", "", "SignatureDoesNotMatch"},
		{key{"AKIANOTKNOWN00000000", "x", ""}, "us-east-1", "", "", "", "InvalidClientTokenId"},
		{key{oncallKey, oncallSecret, "other-token"}, "us-east-1", "", "", "", "InvalidClientTokenId"},
		{key{oncallKey, oncallSecret, ""}, "us-east-1", "", "", "", "InvalidClientTokenId"},
	}
	for _, c := range cases {
		out, err := stsClient(srv, c.k, c.region).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
		if c.code != "" {
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != c.code {
				t.Errorf("%s: %v, want %s", c.k.id, err, c.code)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.k.id, err)
		}
		if aws.ToString(out.Arn) != c.arn || aws.ToString(out.Account) != c.account || !strings.HasPrefix(aws.ToString(out.UserId), c.uidPf) {
			t.Errorf("%s: %s %s %s", c.k.id, aws.ToString(out.Arn), aws.ToString(out.Account), aws.ToString(out.UserId))
		}
		if c.uidPf == "AROA" && !strings.HasSuffix(aws.ToString(out.UserId), ":alice") {
			t.Errorf("role session UserId %s", aws.ToString(out.UserId))
		}
	}
	// Another action with valid credentials: AWS's InvalidAction.
	_, err := stsClient(srv, demoK, "us-east-1").GetSessionToken(context.Background(), &sts.GetSessionTokenInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidAction" {
		t.Errorf("GetSessionToken: %v", err)
	}
}

type xmlAnswer struct {
	XMLName xml.Name
	Result  struct {
		Arn, UserId, Account string
	} `xml:"GetCallerIdentityResult"`
	Error struct {
		Type, Code, Message string
	} `xml:"Error"`
}

func fetch(t *testing.T, method, u, body string, hdr http.Header) (int, string, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, _ := http.NewRequestWithContext(t.Context(), method, u, r)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// TestMockPresigned: pre-signed GETs, XML or JSON, honoured 15 minutes
// whatever X-Amz-Expires says, and the refusals in AWS's shapes.
func TestMockPresigned(t *testing.T) {
	t.Parallel()
	srv := startTest(t)
	mock := srv.URL + "/_mock/sts/"
	now := time.Now()

	status, ctype, b := fetch(t, "GET", presignedURL(t, demoK, mock, gciQuery, nil, "us-east-1", now.Add(-5*time.Minute), 60), "", nil)
	var x xmlAnswer
	if err := xml.Unmarshal(b, &x); err != nil || status != 200 || ctype != "text/xml" || x.XMLName.Local != "GetCallerIdentityResponse" ||
		x.XMLName.Space != "https://sts.amazonaws.com/doc/2011-06-15/" || x.Result.Arn != demoARN || x.Result.Account != "123456789012" {
		t.Fatalf("XML: %d %s %s", status, ctype, b)
	}

	status, ctype, b = fetch(t, "GET", presignedURL(t, oncallK, mock, gciQuery, nil, "us-east-1", now, 900), "", http.Header{"Accept": {"application/json"}})
	var j struct {
		GetCallerIdentityResponse struct {
			GetCallerIdentityResult struct{ Arn, UserId, Account string }
			ResponseMetadata        struct{ RequestId string }
		}
	}
	if err := json.Unmarshal(b, &j); err != nil || status != 200 || ctype != "application/json" ||
		j.GetCallerIdentityResponse.GetCallerIdentityResult.Arn != oncallARN || j.GetCallerIdentityResponse.ResponseMetadata.RequestId == "" {
		t.Fatalf("JSON: %d %s %s", status, ctype, b)
	}

	refusals := []struct {
		name   string
		url    string
		status int
		code   string
	}{
		{"16 minutes old, X-Amz-Expires 900", presignedURL(t, demoK, mock, gciQuery, nil, "us-east-1", now.Add(-16*time.Minute), 900), 403, "SignatureDoesNotMatch"},
		{"AssumeRole", presignedURL(t, demoK, mock, "Action=AssumeRole&Version=2011-06-15&RoleArn=x", nil, "us-east-1", now, 900), 400, "InvalidAction"},
		{"no action", presignedURL(t, demoK, mock, "Version=2011-06-15", nil, "us-east-1", now, 900), 400, "MissingAction"},
		{"old version", presignedURL(t, demoK, mock, "Action=GetCallerIdentity&Version=2010-01-01", nil, "us-east-1", now, 900), 400, "InvalidAction"},
		{"signed for s3", strings.Replace(presignedURL(t, demoK, mock, gciQuery, nil, "us-east-1", now, 900), "%2Fsts%2F", "%2Fs3%2F", 1), 403, "SignatureDoesNotMatch"},
		{"unsigned", mock + "?" + gciQuery, 403, "MissingAuthenticationToken"},
		{"other path", srv.URL + "/_mock/sts/other?" + gciQuery, 404, "NotFound"},
	}
	for _, c := range refusals {
		status, ctype, b := fetch(t, "GET", c.url, "", nil)
		var x xmlAnswer
		if err := xml.Unmarshal(b, &x); err != nil || status != c.status || ctype != "text/xml" || x.XMLName.Local != "ErrorResponse" ||
			x.Error.Code != c.code || x.Error.Type != "Sender" {
			t.Errorf("%s: %d %s %s", c.name, status, ctype, b)
		}
	}
	// Errors in JSON when asked.
	status, ctype, b = fetch(t, "GET", mock+"?"+gciQuery, "", http.Header{"Accept": {"text/html, application/json;q=0.9"}})
	if status != 403 || ctype != "application/json" || !strings.Contains(string(b), `"Code":"MissingAuthenticationToken"`) {
		t.Errorf("JSON error: %d %s %s", status, ctype, b)
	}
}

// TestMockPOSTByHand: a header-signed POST form with an explicit payload
// hash, as Vault's client sends it; tampering with the body after signing
// is refused.
func TestMockPOSTByHand(t *testing.T) {
	t.Parallel()
	srv := startTest(t)
	sign := func(body string) http.Header {
		req, _ := http.NewRequest("POST", srv.URL+"/_mock/sts/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		req.Header.Set("X-Amz-Content-Sha256", awsv4.HashHex([]byte(body)))
		err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: demoKey, SecretAccessKey: demoSecret},
			req, awsv4.HashHex([]byte(body)), "sts", "us-east-1", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return req.Header
	}
	h := sign(gciQuery)
	if status, _, b := fetch(t, "POST", srv.URL+"/_mock/sts/", gciQuery, h); status != 200 || !strings.Contains(string(b), demoARN) {
		t.Fatalf("%d %s", status, b)
	}
	if status, _, b := fetch(t, "POST", srv.URL+"/_mock/sts/", "Action=AssumeRole&Version=2011-06-15", h); status != 403 ||
		!strings.Contains(string(b), "<Code>SignatureDoesNotMatch</Code>") {
		t.Errorf("swapped body: %d %s", status, b)
	}
	big := gciQuery + "&Pad=" + strings.Repeat("x", 70<<10)
	if status, _, b := fetch(t, "POST", srv.URL+"/_mock/sts/", big, sign(big)); status != 413 {
		t.Errorf("large body: %d %s", status, b)
	}
}
