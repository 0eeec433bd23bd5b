package sigv4verify_test

import (
	"errors"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/awsv4"
	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/sigv4verify"
)

// The seeds run in every `go test`; fuzz one with
//
//	go test -run '^$' -fuzz '^FuzzHeaderAuth$' -fuzztime 1m -parallel 1 ./internal/gateway/verify/sigv4verify/

// FuzzHeaderAuth: whatever the Authorization, X-Amz-Date and
// x-amz-content-sha256 headers, the verifier answers a *auth.Rejection
// (never another error, never success without the secret).
func FuzzHeaderAuth(f *testing.F) {
	good := signed(f, signOpts{body: []byte("x")})
	f.Add(good.Header.Get("Authorization"), good.Header.Get("X-Amz-Date"), good.Header.Get("X-Amz-Content-Sha256"))
	f.Add("AWS4-HMAC-SHA256 Credential=AKIAGWCURLTEST000001/20260501/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=00", "20260501T120000Z", "")
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/e,SignedHeaders=,Signature=", "2026", "UNSIGNED-PAYLOAD")
	f.Add("AWS4-HMAC-SHA256 Credential==,Credential==", "", "STREAMING-X")
	f.Add("Bearer x", "", "")
	v := newVerifier(f, sigv4verify.Options{})
	f.Fuzz(func(t *testing.T, authz, date, hash string) {
		r := httptest.NewRequest("POST", "http://gw.test:8080/items", strings.NewReader("x"))
		for k, val := range map[string]string{"Authorization": authz, "X-Amz-Date": date, "X-Amz-Content-Sha256": hash} {
			if val != "" {
				r.Header[k] = []string{val}
			}
		}
		_, err := v.Check(r)
		var rej *auth.Rejection
		if !errors.As(err, &rej) {
			if err == nil && authz == good.Header.Get("Authorization") {
				return // the genuine signature, replayed
			}
			t.Fatalf("Authorization %q: %v, want a rejection", authz, err)
		}
		if rej.Reason == "" || rej.Status < 400 || rej.Status >= 500 {
			t.Fatalf("rejection %d %q", rej.Status, rej.Reason)
		}
	})
}

// FuzzPresignedQuery: whatever the query, a presigned request is refused
// with a rejection unless it is the genuine one.
func FuzzPresignedQuery(f *testing.F) {
	good := signed(f, signOpts{method: "GET", target: "/items?a=1", presign: time.Minute})
	f.Add(good.URL.RawQuery)
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAGWCURLTEST000001%2F20260501%2Fus-east-1%2Flambda%2Faws4_request&X-Amz-Date=20260501T120000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00")
	f.Add("X-Amz-Signature=1&x-amz-signature=2")
	f.Add("X-Amz-Expires=-1&X-Amz-Algorithm=AWS4-HMAC-SHA256")
	f.Add("a=%zz")
	v := newVerifier(f, sigv4verify.Options{})
	f.Fuzz(func(t *testing.T, q string) {
		if strings.ContainsAny(q, "# \r\n") {
			return
		}
		r := httptest.NewRequest("GET", "http://gw.test:8080/items", nil)
		r.URL.RawQuery = q
		r.RequestURI = "/items?" + q
		_, err := v.Check(r)
		var rej *auth.Rejection
		if err == nil && q == good.URL.RawQuery {
			return
		}
		if !errors.As(err, &rej) || rej.Reason == "" {
			t.Fatalf("query %q: %v, want a rejection", q, err)
		}
	})
}

// FuzzVerifiedQueryReadsTheSame: the query forwarded to the origin (the
// verified parameters, re-encoded) reads, with Go's parser, as exactly the
// parameters the verifier read.
func FuzzVerifiedQueryReadsTheSame(f *testing.F) {
	for _, s := range []string{"a=1+2&b=x;y", "a=%2B&a=%20&c", "=&&=x", "k=v%3Bw;z=1", "a+b=c+d", "%E2%82%AC=%FF"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		params, err := awsv4.ParseQuery(raw)
		if err != nil {
			return
		}
		enc := awsv4.EncodeQuery(params)
		vals, err := url.ParseQuery(enc)
		if err != nil {
			t.Fatalf("%q forwarded as %q, which Go cannot parse: %v", raw, enc, err)
		}
		want := url.Values{}
		for _, p := range params {
			want[p.Key] = append(want[p.Key], p.Value)
		}
		if len(vals) != len(want) {
			t.Fatalf("%q forwarded as %q reads %v, want %v", raw, enc, vals, want)
		}
		for k, vs := range want {
			if strings.Join(vals[k], "\x00") != strings.Join(vs, "\x00") {
				t.Fatalf("%q forwarded as %q: %s reads %q, want %q", raw, enc, k, vals[k], vs)
			}
		}
	})
}
