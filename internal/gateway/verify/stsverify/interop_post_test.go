package stsverify_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// boto3PresignDefault is generate_presigned_url with boto3's default
// method for a query API: the URL is signed for POST.
const boto3PresignDefault = `
import sys, boto3
from botocore.config import Config
endpoint, key, secret = sys.argv[1:4]
s = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name="us-east-1")
c = s.client("sts", endpoint_url=endpoint, config=Config(signature_version="v4"))
print(c.generate_presigned_url("get_caller_identity", ExpiresIn=900))
`

// TestInteropBoto3PresignedForPOST: STS answers a GetCallerIdentity URL
// pre-signed for POST (boto3's default) when it is POSTed; so must the
// mock.
func TestInteropBoto3PresignedForPOST(t *testing.T) {
	py, err := python3Boto3(t)
	need(t, "python3 with boto3", err)
	srv := startTest(t)
	mock := srv.URL + "/_mock/sts/"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c", boto3PresignDefault, mock, demoK.id, demoK.secret)
	cmd.Env = toolEnv(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("boto3: %v", err)
	}
	u := strings.TrimSpace(string(out))
	status, _, b := fetch(t, "POST", u, "", nil)
	if status != 200 || !strings.Contains(string(b), "<Arn>"+demoARN+"</Arn>") {
		t.Fatalf("POST of a URL presigned for POST: %d %s", status, b)
	}
	// The same URL sent with GET is refused: the method is signed.
	if status, _, b := fetch(t, "GET", u, "", nil); status != 403 {
		t.Errorf("GET of a URL presigned for POST: %d %s", status, b)
	}
}
