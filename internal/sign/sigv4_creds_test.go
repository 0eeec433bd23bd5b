package sign

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/profiles"
)

func v4WriteFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func v4WantCredentialError(t *testing.T, err error, msg, hint string) {
	t.Helper()
	var ce *CredentialError
	if !errors.As(err, &ce) {
		t.Fatalf("want a *CredentialError, got %T %v", err, err)
	}
	if !strings.Contains(ce.Error(), msg) || !strings.Contains(ce.Hint, hint) {
		t.Fatalf("got %q (hint %q), want %q (hint %q)", ce.Error(), ce.Hint, msg, hint)
	}
}

// The SDK chain: environment keys, a named profile (which beats the
// environment), region from the config.
func TestAWSCredentialsChain(t *testing.T) {
	dir := v4IsolateAWS(t)
	v4WriteFile(t, filepath.Join(dir, "credentials"), "[named]\naws_access_key_id = AKIAFROMPROFILE00001\naws_secret_access_key = profileSecret\n")
	v4WriteFile(t, filepath.Join(dir, "config"), "[profile named]\nregion = eu-central-1\n")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAFROMENVIRONMENT1")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "envSecret")
	t.Setenv("AWS_SESSION_TOKEN", "envToken")
	t.Setenv("AWS_REGION", "ap-south-1")
	d, tl := v4Deps(nil, nil)

	prov, region, err := AWSCredentials(context.Background(), profiles.Auth{Kind: "sigv4"}, d)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := prov.Retrieve(context.Background())
	if c.AccessKeyID != "AKIAFROMENVIRONMENT1" || c.SessionToken != "envToken" || region != "ap-south-1" {
		t.Errorf("environment: got %s (token %q), region %s", c.AccessKeyID, c.SessionToken, region)
	}

	prov, region, err = AWSCredentials(context.Background(), profiles.Auth{Kind: "sigv4", AWSProfile: "named"}, d)
	if err != nil {
		t.Fatal(err)
	}
	c, _ = prov.Retrieve(context.Background())
	if c.AccessKeyID != "AKIAFROMPROFILE00001" || c.SessionToken != "" {
		t.Errorf("a named profile must win over the environment, got %s", c.AccessKeyID)
	}
	if region != "ap-south-1" { // AWS_REGION beats the profile's region, as in the AWS CLI
		t.Errorf("region = %s", region)
	}
	_, region, _ = AWSCredentials(context.Background(), profiles.Auth{Kind: "sigv4", AWSProfile: "named", Region: "us-west-2"}, d)
	if region != "us-west-2" {
		t.Errorf("auth.region must win, got %s", region)
	}
	if strings.Contains(tl.String(), "profileSecret") || strings.Contains(tl.String(), "envSecret") {
		t.Errorf("trace leaks a secret:\n%s", tl)
	}
}

// With no AWS setup at all, the answer is a CredentialError with a hint,
// in well under two seconds.
func TestAWSCredentialsMissingIsFast(t *testing.T) {
	v4IsolateAWS(t)
	d, _ := v4Deps(nil, nil)
	start := time.Now()
	_, err := New(context.Background(), profiles.Auth{Kind: "sigv4", Region: "us-east-1", Service: "lambda"}, "https://x.lambda-url.us-east-1.on.aws/", d)
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %s", el)
	}
	v4WantCredentialError(t, err, "no AWS credentials found", "aws sso login")
	if !IsCredentialError(err) {
		t.Error("IsCredentialError = false")
	}
}

// The instance metadata service is asked only on machines that look like
// EC2 (or when opted in), with short timeouts. A fake IMDS on 127.0.0.1
// stands in for 169.254.169.254.
func TestAWSCredentialsIMDS(t *testing.T) {
	v4IsolateAWS(t)
	var hits atomic.Int64
	expires := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	imdsSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch {
		case r.Method == "PUT" && r.URL.Path == "/latest/api/token":
			io.WriteString(w, "imds-token")
		case r.URL.Path == "/latest/meta-data/iam/security-credentials/":
			io.WriteString(w, "gwcurl-role")
		case r.URL.Path == "/latest/meta-data/iam/security-credentials/gwcurl-role":
			json.NewEncoder(w).Encode(map[string]string{"Code": "Success", "AccessKeyId": "ASIAFROMIMDS00000001",
				"SecretAccessKey": "imdsSecret", "Token": "imdsToken", "Expiration": expires, "LastUpdated": expires, "Type": "AWS-HMAC"})
		default:
			http.NotFound(w, r)
		}
	}))
	defer imdsSrv.Close()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "")
	d, _ := v4Deps(nil, nil)
	a := profiles.Auth{Kind: "sigv4"}

	// Not on EC2: IMDS is not asked, even with an endpoint configured.
	_, _, err := awsCredentials(context.Background(), a, d, credOptions{onEC2: func() bool { return false }, imdsEndpoint: imdsSrv.URL})
	v4WantCredentialError(t, err, "instance metadata skipped", "aws configure")
	if hits.Load() != 0 {
		t.Fatalf("IMDS was contacted %d times off EC2", hits.Load())
	}

	// On EC2: credentials come from IMDS.
	prov, _, err := awsCredentials(context.Background(), a, d, credOptions{onEC2: func() bool { return true }, imdsEndpoint: imdsSrv.URL})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := prov.Retrieve(context.Background())
	if c.AccessKeyID != "ASIAFROMIMDS00000001" || c.SessionToken != "imdsToken" || !c.CanExpire {
		t.Errorf("got %+v", c)
	}

	// On EC2 but IMDS does not answer: bounded, not a hang.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer hang.Close()
	start := time.Now()
	_, _, err = awsCredentials(context.Background(), a, d, credOptions{onEC2: func() bool { return true }, imdsEndpoint: hang.URL})
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("an unresponsive IMDS held the chain for %s", el)
	}
	if !IsCredentialError(err) {
		t.Errorf("err = %v", err)
	}
}

func TestIMDSAllowed(t *testing.T) {
	tests := []struct {
		env   map[string]string
		onEC2 bool
		want  bool
	}{
		{env: nil, onEC2: false, want: false},
		{env: nil, onEC2: true, want: true},
		{env: map[string]string{"AWS_EC2_METADATA_DISABLED": "true"}, onEC2: true, want: false},
		{env: map[string]string{"AWS_EC2_METADATA_DISABLED": "TRUE"}, onEC2: true, want: false},
		{env: map[string]string{"AWS_EC2_METADATA_DISABLED": "false"}, onEC2: false, want: true},
		{env: map[string]string{"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:1"}, want: true},
		{env: map[string]string{"AWS_EXECUTION_ENV": "AWS_ECS_EC2"}, want: true},
		{env: map[string]string{"AWS_EXECUTION_ENV": "AWS_ECS_FARGATE"}, want: false},
	}
	for _, tt := range tests {
		got, why := imdsAllowed(func(k string) string { return tt.env[k] }, func() bool { return tt.onEC2 })
		if got != tt.want {
			t.Errorf("env %v, onEC2 %v: got %v (%s)", tt.env, tt.onEC2, got, why)
		}
	}
}

func TestEC2Signs(t *testing.T) {
	files := func(m map[string]string) func(string) ([]byte, error) {
		return func(p string) ([]byte, error) {
			if v, ok := m[p]; ok {
				return []byte(v), nil
			}
			return nil, os.ErrNotExist
		}
	}
	for _, tt := range []struct {
		files map[string]string
		want  bool
	}{
		{map[string]string{}, false},
		{map[string]string{"/sys/class/dmi/id/sys_vendor": "QEMU\n"}, false},
		{map[string]string{"/sys/class/dmi/id/sys_vendor": "Amazon EC2\n"}, true},
		{map[string]string{"/sys/class/dmi/id/board_vendor": "Amazon EC2\n"}, true},
		{map[string]string{"/sys/class/dmi/id/bios_version": "4.11.amazon\n"}, true},
		{map[string]string{"/sys/hypervisor/uuid": "ec2e1916-9099-7caf-fd21-012345abcdef\n"}, true},
		{map[string]string{"/sys/hypervisor/uuid": "4c4c4544-0000-1111\n"}, false},
	} {
		if got := ec2Signs(files(tt.files)); got != tt.want {
			t.Errorf("%v: got %v", tt.files, got)
		}
	}
}

func TestAWSCredentialsErrors(t *testing.T) {
	dir := v4IsolateAWS(t)
	v4WriteFile(t, filepath.Join(dir, "config"), strings.Join([]string{
		"[profile sso]",
		"sso_start_url = https://example.awsapps.com/start",
		"sso_region = us-east-1",
		"sso_account_id = 123456789012",
		"sso_role_name = Dev",
		"region = us-east-1",
		"[profile empty]",
		"region = us-east-1",
	}, "\n"))
	d, _ := v4Deps(nil, map[string]string{"EMPTY": ""})
	for _, tt := range []struct {
		name      string
		a         profiles.Auth
		msg, hint string
	}{
		{"unknown profile", profiles.Auth{AWSProfile: "nope"}, `aws profile "nope" is not in the AWS config`, "--aws-profile"},
		{"sso not logged in", profiles.Auth{AWSProfile: "sso"}, `AWS SSO session for profile "sso" is missing or expired`, "aws sso login --profile sso"},
		{"profile without credentials", profiles.Auth{AWSProfile: "empty"}, `aws profile "empty" has no usable credentials`, "aws sso login"},
		{"static key without secret", profiles.Auth{AccessKeyID: "AKIA1"}, "auth.secret_access_key is not", "secret reference"},
		{"static secret unresolved", profiles.Auth{AccessKeyID: "AKIA1", SecretAccessKey: "env:EMPTY"}, "environment variable EMPTY is not set", "auth.secret_access_key"},
		{"static secret literal", profiles.Auth{AccessKeyID: "AKIA1", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG"}, "is not a secret reference", "auth.secret_access_key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.a.Kind = "sigv4"
			start := time.Now()
			_, _, err := AWSCredentials(context.Background(), tt.a, d)
			v4WantCredentialError(t, err, tt.msg, tt.hint)
			if strings.Contains(err.Error(), "wJalrXUtnFEMI") {
				t.Errorf("error echoes a secret: %v", err)
			}
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("took %s", el)
			}
		})
	}
}

// Static keys resolve their references and take the region from the
// auth block or AWS_REGION.
func TestAWSCredentialsStatic(t *testing.T) {
	v4IsolateAWS(t)
	a, env := v4StaticAuth("", "")
	a.SessionToken = "env:GW_TOKEN"
	env["AWS_REGION"] = "sa-east-1"
	d, _ := v4Deps(nil, env)
	prov, region, err := AWSCredentials(context.Background(), a, d)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := prov.Retrieve(context.Background())
	if c.AccessKeyID != v4Key.AccessKeyID || c.SecretAccessKey != v4Key.SecretAccessKey || c.SessionToken != v4TempKey.SessionToken || region != "sa-east-1" {
		t.Errorf("got %+v, region %s", c, region)
	}
}

func TestResolveServiceRegion(t *testing.T) {
	for _, tt := range []struct {
		a                        profiles.Auth
		host, cfgRegion          string
		service, region, errText string
	}{
		{host: "abc.lambda-url.eu-west-1.on.aws", service: "lambda", region: "eu-west-1"},
		{a: profiles.Auth{Region: "us-east-2"}, host: "abc.lambda-url.eu-west-1.on.aws", service: "lambda", region: "us-east-2"},
		{a: profiles.Auth{Service: "execute-api"}, host: "abc.lambda-url.eu-west-1.on.aws", service: "execute-api", region: "eu-west-1"},
		{host: "abc.lambda-url.eu-west-1.on.aws", cfgRegion: "us-east-1", service: "lambda", region: "eu-west-1"},
		{a: profiles.Auth{Service: "execute-api"}, host: "api.example.com", cfgRegion: "ap-south-1", service: "execute-api", region: "ap-south-1"},
		{host: "api.example.com:8443", cfgRegion: "us-east-1", errText: "cannot tell the AWS service from host api.example.com: pass --service"},
		{a: profiles.Auth{Service: "lambda"}, host: "127.0.0.1:8080", errText: "cannot tell the AWS region from host 127.0.0.1: pass --region"},
	} {
		s, r, err := resolveServiceRegion(tt.a, tt.host, tt.cfgRegion)
		if tt.errText != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("%s: err = %v, want %q", tt.host, err, tt.errText)
			}
			continue
		}
		if err != nil || s != tt.service || r != tt.region {
			t.Errorf("%+v %s: got %s %s %v", tt.a, tt.host, s, r, err)
		}
	}
}

// Keys in the environment with a known region are used as they are, like
// `curl --aws-sigv4`: the AWS config file is not read (here it is a
// directory, which the SDK's loader refuses), and no instance metadata
// probe runs. A named profile, or no region, still goes through the chain.
func TestAWSCredentialsEnvironmentReadsNoFile(t *testing.T) {
	dir := v4IsolateAWS(t)
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()) // unreadable as a file
	t.Setenv("AWS_EC2_METADATA_DISABLED", "false")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAFROMENVIRONMENT1")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "envSecret")
	t.Setenv("AWS_SESSION_TOKEN", "envToken")
	d, tl := v4Deps(nil, nil)
	o := credOptions{onEC2: func() bool { t.Error("the EC2 probe ran"); return false }}

	for _, region := range []struct{ auth, env, want string }{{"eu-west-3", "", "eu-west-3"}, {"", "ap-south-1", "ap-south-1"}} {
		t.Setenv("AWS_REGION", region.env)
		prov, got, err := awsCredentials(context.Background(), profiles.Auth{Kind: "sigv4", Region: region.auth}, d, o)
		if err != nil {
			t.Fatal(err)
		}
		c, err := prov.Retrieve(context.Background())
		if err != nil || c.AccessKeyID != "AKIAFROMENVIRONMENT1" || c.SecretAccessKey != "envSecret" || c.SessionToken != "envToken" || got != region.want {
			t.Errorf("got %s/%q (%v), region %q; want the environment's keys, region %q", c.AccessKeyID, c.SessionToken, err, got, region.want)
		}
	}
	if !strings.Contains(tl.String(), "from the environment (AWS_ACCESS_KEY_ID)") || strings.Contains(tl.String(), "credential chain") {
		t.Errorf("trace:\n%s", tl.String())
	}

	// No region known without the config file: the chain runs and reads it.
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	v4WriteFile(t, filepath.Join(dir, "config"), "[default]\nregion = ca-central-1\n")
	_, got, err := awsCredentials(context.Background(), profiles.Auth{Kind: "sigv4"}, d, credOptions{onEC2: func() bool { return false }})
	if err != nil || got != "ca-central-1" {
		t.Errorf("without a region: got %q, %v; want the config file's ca-central-1", got, err)
	}
	// AWS_PROFILE does not beat the environment's keys (the SDK's order);
	// the auth block's aws_profile does.
	v4WriteFile(t, filepath.Join(dir, "credentials"), "[named]\naws_access_key_id = AKIAFROMPROFILE00001\naws_secret_access_key = profileSecret\n")
	t.Setenv("AWS_REGION", "ap-south-1")
	t.Setenv("AWS_PROFILE", "named")
	for _, tc := range []struct{ auth, want string }{{"", "AKIAFROMENVIRONMENT1"}, {"named", "AKIAFROMPROFILE00001"}} {
		prov, _, err := awsCredentials(context.Background(), profiles.Auth{Kind: "sigv4", AWSProfile: tc.auth}, d, credOptions{onEC2: func() bool { return false }})
		if err != nil {
			t.Fatal(err)
		}
		if c, _ := prov.Retrieve(context.Background()); c.AccessKeyID != tc.want {
			t.Errorf("AWS_PROFILE=named, aws_profile %q: got %s, want %s", tc.auth, c.AccessKeyID, tc.want)
		}
	}
}
