package sign

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/awsv4"
	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/sigv4verify"
)

// A presigned URL works with a plain, unauthenticated GET.
func TestPresignSigV4(t *testing.T) {
	v4IsolateAWS(t)
	for _, service := range []string{"lambda", "s3"} {
		t.Run(service, func(t *testing.T) {
			vs := newV4Server(t, sigv4verify.Options{Service: service, Region: "us-east-1"}, nil)
			a, env := v4StaticAuth(service, "us-east-1")
			a.AccessKeyID, a.SecretAccessKey, a.SessionToken = v4TempKey.AccessKeyID, "env:GW_TEMP_SECRET", "env:GW_TOKEN"
			d, tl := v4Deps(nil, env)
			signed, err := PresignSigV4(context.Background(), a, d, "GET", vs.URL+"/reports/q1 2026.csv?download=1&tag=a+b", 15*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(signed)
			q := u.Query()
			if q.Get("X-Amz-Expires") != "900" || q.Get("X-Amz-Signature") == "" || q.Get("X-Amz-Security-Token") != v4TempKey.SessionToken || q.Get("tag") != "a+b" {
				t.Errorf("presigned URL %s", signed)
			}
			resp, err := http.Get(signed)
			if err != nil {
				t.Fatal(err)
			}
			got := v4Decode(t, resp)
			if got.Status != 200 || got.Principal != v4TempKey.ARN {
				t.Fatalf("got %+v", got)
			}
			want := awsv4.EmptySHA256
			if service == "s3" {
				want = awsv4.UnsignedPayload
			}
			if got.Payload != want {
				t.Errorf("payload = %s, want %s", got.Payload, want)
			}
			if strings.Contains(tl.String(), v4TempKey.SecretAccessKey) {
				t.Error("trace leaks the secret")
			}
		})
	}
}

func TestPresignSigV4Errors(t *testing.T) {
	v4IsolateAWS(t)
	a, env := v4StaticAuth("lambda", "us-east-1")
	d, _ := v4Deps(nil, env)
	for _, tt := range []struct {
		url     string
		expires time.Duration
		want    string
	}{
		{"https://x.lambda-url.us-east-1.on.aws/", 0, "out of range"},
		{"https://x.lambda-url.us-east-1.on.aws/", 8 * 24 * time.Hour, "out of range"},
		{"/relative", time.Minute, "not an absolute http(s) URL"},
		{"ftp://host/x", time.Minute, "not an absolute http(s) URL"},
	} {
		if _, err := PresignSigV4(context.Background(), a, d, "GET", tt.url, tt.expires); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s %s: err = %v, want %q", tt.url, tt.expires, err, tt.want)
		}
	}
	// The region and service come from the host.
	a.Service, a.Region = "", ""
	u, err := PresignSigV4(context.Background(), a, d, "", "https://bucket.s3.eu-west-2.amazonaws.com/k", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(u, "%2Feu-west-2%2Fs3%2Faws4_request") || !strings.HasPrefix(u, "https://bucket.s3.eu-west-2.amazonaws.com/k?") {
		t.Errorf("presigned URL %s", u)
	}
}

// fakeSTS answers GetCallerIdentity (POST form, as the SDK sends it) after
// verifying its SigV4 signature with the gateway's verifier for service sts.
func fakeSTS(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := sigv4verify.VerifyRequest(r, []auth.AWSKey{v4Key, v4TempKey}, sigv4verify.Options{Service: "sts"})
		w.Header().Set("Content-Type", "text/xml")
		if err != nil {
			var rej *auth.Rejection
			errors.As(err, &rej)
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>%s</Message></Error><RequestId>r1</RequestId></ErrorResponse>`, rej.Reason)
			return
		}
		body, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(body), "Action=GetCallerIdentity") {
			http.Error(w, "unexpected action", 400)
			return
		}
		account, uid := sigv4verify.CallerIDs(res.Key.ARN)
		fmt.Fprintf(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>%s</Arn><UserId>%s</UserId><Account>%s</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
			res.Key.ARN, uid, account)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestAWSCallerIdentity(t *testing.T) {
	v4IsolateAWS(t)
	sts := fakeSTS(t)
	a, env := v4StaticAuth("", "")
	a.STSEndpoint = sts.URL
	d, _ := v4Deps(nil, env)
	arn, account, uid, err := AWSCallerIdentity(context.Background(), a, d, "https://x.lambda-url.eu-west-1.on.aws/")
	if err != nil {
		t.Fatal(err)
	}
	if arn != v4Key.ARN || account != "123456789012" || !strings.HasPrefix(uid, "AIDA") {
		t.Errorf("got %s %s %s", arn, account, uid)
	}

	a.SecretAccessKey = "env:WRONG"
	env["WRONG"] = "not-the-secret"
	_, _, _, err = AWSCallerIdentity(context.Background(), a, d, "")
	v4WantCredentialError(t, err, "STS refused the credentials", "aws")
}
