package sign

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/sigv4verify"
	"github.com/gwcurl/gwcurl/internal/profiles"
)

// endpointSTS is an STS on 127.0.0.1 that verifies every signature and
// answers AssumeRole (with v4TempKey) and GetCallerIdentity; it records
// the actions it answered.
type endpointSTS struct {
	*httptest.Server
	mu      sync.Mutex
	actions []string
}

func (s *endpointSTS) seen() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.actions, ",")
}

func newEndpointSTS(t *testing.T) *endpointSTS {
	t.Helper()
	s := &endpointSTS{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := sigv4verify.VerifyRequest(r, []auth.AWSKey{v4Key, v4TempKey}, sigv4verify.Options{Service: "sts"})
		w.Header().Set("Content-Type", "text/xml")
		if err != nil {
			var rej *auth.Rejection
			errors.As(err, &rej)
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>%v</Message></Error></ErrorResponse>`, err)
			return
		}
		body, _ := io.ReadAll(r.Body)
		q := string(body)
		s.mu.Lock()
		defer s.mu.Unlock()
		switch {
		case strings.Contains(q, "Action=AssumeRole"):
			s.actions = append(s.actions, "AssumeRole")
			fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey><SessionToken>%s</SessionToken><Expiration>%s</Expiration></Credentials><AssumedRoleUser><Arn>%s</Arn><AssumedRoleId>AROAEXAMPLE:alice</AssumedRoleId></AssumedRoleUser></AssumeRoleResult></AssumeRoleResponse>`,
				v4TempKey.AccessKeyID, v4TempKey.SecretAccessKey, v4TempKey.SessionToken, time.Now().Add(time.Hour).UTC().Format(time.RFC3339), v4TempKey.ARN)
		case strings.Contains(q, "Action=GetCallerIdentity"):
			s.actions = append(s.actions, "GetCallerIdentity")
			account, uid := sigv4verify.CallerIDs(res.Key.ARN)
			fmt.Fprintf(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>%s</Arn><UserId>%s</UserId><Account>%s</Account></GetCallerIdentityResult></GetCallerIdentityResponse>`,
				res.Key.ARN, uid, account)
		default:
			http.Error(w, "unexpected action", http.StatusBadRequest)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// AWS_ENDPOINT_URL_STS sends whoami's GetCallerIdentity to the configured
// STS, as the AWS CLI does; a profile's sts_endpoint still wins.
func TestCallerIdentityHonoursAWSEndpointURLSTS(t *testing.T) {
	v4IsolateAWS(t)
	s := newEndpointSTS(t)
	t.Setenv("AWS_ENDPOINT_URL_STS", s.URL)
	a, env := v4StaticAuth("", "")
	d, _ := v4Deps(nil, env)
	arn, _, _, err := AWSCallerIdentity(context.Background(), a, d, "")
	if err != nil {
		t.Fatal(err)
	}
	if arn != v4Key.ARN || s.seen() != "GetCallerIdentity" {
		t.Fatalf("arn %s, STS saw %q", arn, s.seen())
	}
}

// An assume-role profile reaches the STS its configuration names: the
// profile's endpoint_url, a services section, AWS_ENDPOINT_URL.
func TestAssumeRoleHonoursConfiguredEndpoints(t *testing.T) {
	cases := []struct {
		name   string
		config func(url string) string
		env    func(url string) map[string]string
	}{
		{"profile endpoint_url", func(u string) string {
			return "[profile role]\nrole_arn = arn:aws:iam::123456789012:role/oncall\nsource_profile = src\nregion = eu-west-1\nendpoint_url = " + u + "\n"
		}, nil},
		{"services section", func(u string) string {
			return "[profile role]\nrole_arn = arn:aws:iam::123456789012:role/oncall\nsource_profile = src\nregion = eu-west-1\nservices = local\n\n[services local]\nsts =\n  endpoint_url = " + u + "\n"
		}, nil},
		{"AWS_ENDPOINT_URL", func(string) string {
			return "[profile role]\nrole_arn = arn:aws:iam::123456789012:role/oncall\nsource_profile = src\nregion = eu-west-1\n"
		}, func(u string) map[string]string { return map[string]string{"AWS_ENDPOINT_URL": u} }},
		{"AWS_ENDPOINT_URL_STS", func(string) string {
			return "[profile role]\nrole_arn = arn:aws:iam::123456789012:role/oncall\nsource_profile = src\nregion = eu-west-1\n"
		}, func(u string) map[string]string { return map[string]string{"AWS_ENDPOINT_URL_STS": u} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := v4IsolateAWS(t)
			s := newEndpointSTS(t)
			v4WriteFile(t, filepath.Join(dir, "credentials"), fmt.Sprintf("[src]\naws_access_key_id = %s\naws_secret_access_key = %s\n", v4Key.AccessKeyID, v4Key.SecretAccessKey))
			v4WriteFile(t, filepath.Join(dir, "config"), c.config(s.URL))
			if c.env != nil {
				for k, v := range c.env(s.URL) {
					t.Setenv(k, v)
				}
			}
			a := profiles.Auth{Kind: "sigv4", AWSProfile: "role"}
			d, _ := v4Deps(nil, nil)
			prov, _, err := AWSCredentials(context.Background(), a, d)
			if err != nil {
				t.Fatalf("assume-role through %s: %v", c.name, err)
			}
			creds, _ := prov.Retrieve(context.Background())
			if creds.AccessKeyID != v4TempKey.AccessKeyID {
				t.Fatalf("got %s, want the assumed role's key", creds.AccessKeyID)
			}
			arn, _, _, err := AWSCallerIdentity(context.Background(), a, d, "")
			if err != nil || arn != v4TempKey.ARN {
				t.Fatalf("whoami: %s %v", arn, err)
			}
			// whoami resolves the chain again: a second AssumeRole.
			if got := s.seen(); got != "AssumeRole,AssumeRole,GetCallerIdentity" {
				t.Errorf("the configured STS saw %q", got)
			}
		})
	}
}

// The sts-identity proof is signed for the configured STS host when the
// profile names none.
func TestSTSIdentityHonoursConfiguredEndpoint(t *testing.T) {
	v4IsolateAWS(t)
	t.Setenv("AWS_ENDPOINT_URL_STS", "https://sts.internal.example:8443")
	a, env := v4StaticAuth("", "")
	a.Kind = "sts-identity"
	d, _ := v4Deps(nil, env)
	s, err := newSTSIdentity(context.Background(), a, d)
	if err != nil {
		t.Fatal(err)
	}
	if s.endpoint.Host != "sts.internal.example:8443" || s.region != "us-east-1" {
		t.Errorf("endpoint %s region %s", s.endpoint, s.region)
	}
	a.STSEndpoint = "https://sts.eu-west-1.amazonaws.com/"
	s, err = newSTSIdentity(context.Background(), a, d)
	if err != nil || s.endpoint.Host != "sts.eu-west-1.amazonaws.com" {
		t.Errorf("the profile's sts_endpoint must win: %v %v", s, err)
	}
}
