package sigv4verify_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/gwcurl/gwcurl/internal/awsv4"
	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/sigv4verify"
)

// BenchmarkVerify: one header-authenticated GET, signed by the AWS SDK and
// verified (canonical request, signature, identity) on every iteration.
func BenchmarkVerify(b *testing.B) {
	key := auth.AWSKey{AccessKeyID: "AKIAGWCURLBENCH00001", SecretAccessKey: "benchSecretKey00000000000000000000000001",
		ARN: "arn:aws:iam::123456789012:user/bench"}
	at := time.Now()
	v, err := sigv4verify.New(sigv4verify.Options{Service: "lambda", Region: "us-east-1", Now: func() time.Time { return at }},
		[]auth.AWSKey{key})
	if err != nil {
		b.Fatal(err)
	}
	signed := httptest.NewRequest("GET", "http://127.0.0.1:8080/items/a%20b?b=2&a=1", nil)
	creds := aws.Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, signed, awsv4.EmptySHA256, "lambda", "us-east-1", at); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("GET", "http://127.0.0.1:8080/items/a%20b?b=2&a=1", nil)
		r.Header = signed.Header.Clone()
		id, err := v.Verify(httptest.NewRecorder(), r)
		if err != nil || id.Principal != key.ARN {
			b.Fatalf("%v %v", id, err)
		}
	}
}
