package stsverify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Interop with AWS's own tools: a GetCallerIdentity URL pre-signed by
// boto3 (as `aws eks get-token` makes it) is accepted by the verifier and
// the mock STS, and the AWS CLI's `sts get-caller-identity` works against
// the mock. The tools are skipped where absent, except under CI=true.

// need skips when a tool is missing, but fails under CI=true.
func need(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true: %v", what, err)
	}
	t.Skipf("%s not available: %v", what, err)
}

// toolEnv is the environment for AWS tools: the process's, minus every
// AWS_ variable, plus the given ones, with no config files and no
// instance metadata.
func toolEnv(t *testing.T, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	// An empty file rather than /dev/null: botocore 1.43 cannot parse
	// /dev/null as a config file ("Unable to parse config file").
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return append(env, append([]string{
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=" + empty, "AWS_SHARED_CREDENTIALS_FILE=" + empty,
		"AWS_PAGER=", "HOME=" + dir,
	}, extra...)...)
}

// python3Boto3 returns a python3 that imports boto3: the one on PATH, else
// Debian's /usr/bin/python3 (python3-boto3, which .ci/run installs).
func python3Boto3(t *testing.T) (string, error) {
	var last error = fmt.Errorf("no python3")
	for _, name := range []string{"python3", "/usr/bin/python3"} {
		py, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		out, err := exec.Command(py, "-c", "import boto3").CombinedOutput()
		if err == nil {
			return py, nil
		}
		last = fmt.Errorf("python3 cannot import boto3: %v %s", err, out)
	}
	return "", last
}

// boto3Presign is the token half of `aws eks get-token`: a pre-signed GET
// of GetCallerIdentity, with a header (x-k8s-aws-id) added before signing
// when given.
const boto3Presign = `
import sys, boto3
from botocore.config import Config
endpoint, key, secret, region, expires, hname, hvalue = sys.argv[1:8]
s = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=region)
c = s.client("sts", endpoint_url=endpoint, config=Config(signature_version="v4"))
if hname:
    def add_header(request, **kwargs):
        request.headers[hname] = hvalue
    c.meta.events.register("before-sign.sts.GetCallerIdentity", add_header)
print(c.generate_presigned_url("get_caller_identity", ExpiresIn=int(expires), HttpMethod="GET"))
`

func runBoto3(t *testing.T, py, endpoint string, k key, expires int, hname, hvalue string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c", boto3Presign, endpoint, k.id, k.secret, "us-east-1", fmt.Sprint(expires), hname, hvalue)
	cmd.Env = toolEnv(t)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("boto3: %v\n%s", err, stderr)
	}
	return strings.TrimSpace(string(out))
}

func TestInteropBoto3Presigned(t *testing.T) {
	py, err := python3Boto3(t)
	need(t, "python3 with boto3", err)
	srv := startTest(t)
	mock := srv.URL + "/_mock/sts/"

	u := runBoto3(t, py, mock, demoK, 900, "", "")
	if !strings.HasPrefix(u, mock+"?") || !strings.Contains(u, "Action=GetCallerIdentity") {
		t.Fatalf("boto3 made %q", u)
	}
	// The mock STS answers the URL itself...
	status, _, b := fetch(t, "GET", u, "", nil)
	if status != 200 || !strings.Contains(string(b), "<Arn>"+demoARN+"</Arn>") {
		t.Fatalf("mock STS: %d %s", status, b)
	}
	// ...and the verifier accepts it as a url proof and as a k8s token.
	for _, v := range []string{u, k8sToken(u)} {
		if status, body := call(t, srv, "/sts/x", map[string]string{"X-Fluid-Identity": v}); status != 200 || !contains(body["identity"].(map[string]any)["principal"], demoARN) {
			t.Errorf("verifier: %d %v", status, body["reason"])
		}
	}
	// aws eks get-token's shape: x-k8s-aws-id signed, X-Amz-Expires 60,
	// accepted on a route bound to that server id.
	tok := k8sToken(runBoto3(t, py, mock, demoK, 60, "x-k8s-aws-id", "api-1.example.com"))
	if status, body := call(t, srv, "/bound/x", map[string]string{"X-Fluid-Identity": tok}); status != 200 {
		t.Errorf("k8s token bound to the server id: %d %v", status, body["reason"])
	}
	// The intruder's boto3 URL is valid STS-wise but not allowlisted.
	iu := runBoto3(t, py, mock, intruderK, 900, "", "")
	if status, body := call(t, srv, "/sts/x", map[string]string{"X-Fluid-Identity": iu}); status != 403 || !contains(body["reason"], "user/intruder is not allowed") {
		t.Errorf("intruder: %d %v", status, body["reason"])
	}
}

func TestInteropAWSCLI(t *testing.T) {
	awsPath, err := exec.LookPath("aws")
	if err == nil {
		if out, verr := exec.Command(awsPath, "--version").CombinedOutput(); verr != nil {
			err = fmt.Errorf("aws --version: %v %s", verr, out)
		}
	}
	need(t, "the AWS CLI", err)
	srv := startTest(t)
	run := func(k key) (string, string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, awsPath, "sts", "get-caller-identity", "--endpoint-url", srv.URL+"/_mock/sts/", "--output", "json")
		env := []string{"AWS_ACCESS_KEY_ID=" + k.id, "AWS_SECRET_ACCESS_KEY=" + k.secret, "AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1"}
		if k.token != "" {
			env = append(env, "AWS_SESSION_TOKEN="+k.token)
		}
		cmd.Env = toolEnv(t, env...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	for _, c := range []struct {
		k   key
		arn string
	}{{demoK, demoARN}, {oncallK, oncallARN}} {
		out, stderr, err := run(c.k)
		if err != nil {
			t.Fatalf("aws sts get-caller-identity (%s): %v\n%s", c.k.id, err, stderr)
		}
		var got struct{ Arn, Account, UserId string }
		if err := json.Unmarshal([]byte(out), &got); err != nil || got.Arn != c.arn || got.Account != "123456789012" {
			t.Errorf("aws printed %q", out)
		}
	}
	out, stderr, err := run(key{demoKey, "wrong-secret", ""})
	if err == nil || !strings.Contains(stderr, "SignatureDoesNotMatch") || strings.Contains(out, demoARN) {
		t.Errorf("wrong secret: err %v, stdout %q, stderr %q", err, out, stderr)
	}
}
