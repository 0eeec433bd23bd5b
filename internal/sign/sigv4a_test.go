package sign

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/gateway/verify/sigv4verify"
)

// A SigV4a request round-trips through the gateway's verifier: header form
// with long-term and temporary (session token) keys, region sets "*" and a
// list, a body; the presigned form; and the refusals that matter.
func TestSigV4aRoundTrip(t *testing.T) {
	v4IsolateAWS(t)
	vs := newV4Server(t, sigv4verify.Options{Service: "execute-api", Region: "eu-west-1", SigV4a: true}, nil)
	for _, tc := range []struct {
		name, regions string
		temp          bool
		status        int
		reason        string
	}{
		{name: "all regions", regions: "*", status: 200},
		{name: "a list", regions: "us-east-1,eu-west-1", status: 200},
		{name: "session token", regions: "eu-*", temp: true, status: 200},
		{name: "region set without the route's region", regions: "us-east-1", status: 403, reason: "does not include the route's region eu-west-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, env := v4StaticAuth("execute-api", tc.regions)
			a.Algorithm = "sigv4a"
			if tc.temp {
				a.AccessKeyID, a.SecretAccessKey, a.SessionToken = v4TempKey.AccessKeyID, "env:GW_TEMP_SECRET", "env:GW_TOKEN"
			}
			signer, _ := newV4TestSigner(t, a, env, vs.URL, nil)
			resp, err := (&http.Client{Transport: &Transport{Signer: signer}}).Post(vs.URL+"/items?b=2&a=1", "application/json", strings.NewReader(`{"name":"x"}`))
			if err != nil {
				t.Fatal(err)
			}
			got := v4Decode(t, resp)
			if got.Status != tc.status || !strings.Contains(got.Reason, tc.reason) {
				t.Fatalf("got %d %q, want %d %q", got.Status, got.Reason, tc.status, tc.reason)
			}
			if tc.status == 200 && (got.BodySHA256 != v4SHA256([]byte(`{"name":"x"}`)) || !strings.Contains(strings.Join(got.SignedHeaders, ";"), "x-amz-region-set")) {
				t.Fatalf("verified %+v", got)
			}
			if tc.temp && got.Principal != v4TempKey.ARN {
				t.Fatalf("principal %q", got.Principal)
			}
		})
	}

	// Presigned.
	a, env := v4StaticAuth("execute-api", "*")
	a.Algorithm = "sigv4a"
	d, _ := v4Deps(nil, env)
	u, err := PresignSigV4(context.Background(), a, d, "GET", vs.URL+"/report?x=1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(u, "X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256") || !strings.Contains(u, "X-Amz-Region-Set=%2A") {
		t.Fatalf("presigned URL %s", u)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	if got := v4Decode(t, resp); got.Status != 200 {
		t.Fatalf("presigned: %+v", got)
	}

	// A route without sigv4a refuses it.
	plain := newV4Server(t, sigv4verify.Options{Service: "execute-api", Region: "eu-west-1"}, nil)
	signer, _ := newV4TestSigner(t, a, env, plain.URL, nil)
	resp, err = (&http.Client{Transport: &Transport{Signer: signer}}).Get(plain.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	if got := v4Decode(t, resp); got.Status != 403 || !strings.Contains(got.Reason, "SigV4a") {
		t.Fatalf("sigv4 route: %+v", got)
	}

	// A bad region set is refused before anything is sent.
	a.Region = "us-east-1,,eu-west-1"
	if _, err := New(context.Background(), a, vs.URL, d); err == nil || !strings.Contains(err.Error(), "region set") {
		t.Fatalf("bad region set: %v", err)
	}
}
