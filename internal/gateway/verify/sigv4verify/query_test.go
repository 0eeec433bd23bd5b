package sigv4verify_test

import (
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/gateway/verify/sigv4verify"
)

// TestOriginSeesTheSignedQuery: the verifier reads '+' literally and ';'
// as data (as AWS does); Go's parser, like most origins', reads '+' as a
// space and drops pieces with ';'. The origin must get the parameters the
// signature covered, whatever the spelling on the wire.
func TestOriginSeesTheSignedQuery(t *testing.T) {
	v := newVerifier(t, sigv4verify.Options{})
	want := url.Values{"a": {"1+2"}, "b": {"x;y"}, "c": {"d e"}}
	for _, presign := range []time.Duration{0, time.Minute} {
		// Signed for a=1+2, b=x;y (the canonical query encodes them as
		// %2B and %3B), then sent with the ambiguous spelling.
		r := signed(t, signOpts{method: "GET", target: "/items?a=1%2B2&b=x%3By&c=d%20e", presign: presign})
		raw := strings.NewReplacer("%2B", "+", "%3B", ";").Replace(r.URL.RawQuery)
		if raw == r.URL.RawQuery {
			t.Fatalf("test setup: %q has nothing to respell", raw)
		}
		r.URL.RawQuery = raw
		r.RequestURI = r.URL.Path + "?" + raw
		if _, err := v.Verify(httptest.NewRecorder(), r); err != nil {
			t.Fatalf("presign %v: %v", presign, err)
		}
		got, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			t.Fatalf("origin query %q: %v", r.URL.RawQuery, err)
		}
		for _, k := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders"} {
			delete(got, k)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("presign %v: origin reads %v from %q, want the signed %v", presign, got, r.URL.RawQuery, want)
		}
		if !strings.HasSuffix(r.RequestURI, "?"+r.URL.RawQuery) {
			t.Errorf("RequestURI %q disagrees with the query %q", r.RequestURI, r.URL.RawQuery)
		}
	}
}

// TestUnsignedIs403InAWSShape: Lambda function URLs and API Gateway answer
// an unsigned request 403 (never 401) with their JSON message; the
// gateway's reason keeps the prefix gwcurl explain matches.
func TestUnsignedIs403InAWSShape(t *testing.T) {
	for service, want := range map[string][2]string{
		"lambda":      {"Message", "Forbidden"},
		"execute-api": {"message", "Missing Authentication Token"},
		"s3":          {"Message", "Access Denied"},
	} {
		v := newVerifier(t, sigv4verify.Options{Service: service})
		_, err := v.Verify(httptest.NewRecorder(), httptest.NewRequest("GET", "http://gw.test/items", nil))
		rej := wantReject(t, err, 403, "missing AWS SigV4 authentication")
		if rej.Details[want[0]] != want[1] {
			t.Errorf("%s: details %v, want %s=%q", service, rej.Details, want[0], want[1])
		}
	}
}
