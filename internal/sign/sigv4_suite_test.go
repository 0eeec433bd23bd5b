package sign

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/gwcurl/gwcurl/internal/awsv4"
	"github.com/gwcurl/gwcurl/internal/awsv4/suite"
)

// v4ClientExclusions are the suite cases the client's signer does not run,
// with the reason. Keep this list minimal.
var v4ClientExclusions = map[string]string{
	// The session token is added after signing and left out of the
	// signature. gwcurl always signs the token (docs/auth/sigv4.md, "What
	// gets signed, and how"); the verifier tests check that such a
	// request is refused.
	"aws-c-auth/post-sts-header-after": "session token deliberately unsigned; gwcurl always signs it",
}

// v4SuiteRequest builds the request of a vector the way a caller would hand it
// to the signer. URL.Opaque keeps the target's path byte for byte (the
// vectors put raw spaces and UTF-8 on the request line, which url.Parse
// would re-escape).
func v4SuiteRequest(t *testing.T, c suite.Case) *http.Request {
	t.Helper()
	r := c.Request
	host := r.Host()
	u := &url.URL{Scheme: "https", Host: host, Opaque: "//" + host + r.Path(), RawQuery: r.RawQuery()}
	h := r.Header.Clone()
	h.Del("Host")
	h.Del("X-Amz-Date")           // the signer sets it
	h.Del("X-Amz-Security-Token") // comes from the credentials
	var cl int64
	if v := h.Get("Content-Length"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		cl = n
		h.Del("Content-Length")
	}
	body := r.Body
	req := &http.Request{Method: r.Method, URL: u, Host: host, Header: h, ContentLength: cl}
	if len(body) > 0 {
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return req
}

func v4SuiteParams(t *testing.T, c suite.Case, req *http.Request, presign bool) v4Params {
	t.Helper()
	hash, _, err := payloadSHA256(req)
	if err != nil {
		t.Fatal(err)
	}
	mode := awsv4.PathNormalized
	if !c.Normalize {
		mode = awsv4.PathEncodedOnly
	}
	p := v4Params{
		Service: c.Service, Region: c.Region, Time: c.Time, PayloadHash: hash,
		ContentSHA256: c.SignBody && !presign, Path: mode,
	}
	if presign {
		p.Presign, p.Expires = true, time.Duration(c.ExpiresIn)*time.Second
	}
	return p
}

func v4SuiteCreds(c suite.Case) aws.Credentials {
	return aws.Credentials{AccessKeyID: c.Credentials.AccessKeyID, SecretAccessKey: c.Credentials.SecretAccessKey, SessionToken: c.Credentials.SessionToken}
}

// TestSigV4Suite signs every applicable vector of both suites with the
// client's signer (header form, and for aws-c-auth also the presigned query
// form) and compares the canonical request, the string to sign, the
// signature and the Authorization header or signed URL.
func TestSigV4Suite(t *testing.T) {
	cases, err := suite.Load(suite.Locate(t))
	if err != nil {
		t.Fatal(err)
	}
	signer := v4.NewSigner()
	var ran, ranQuery, skipped int
	for _, c := range cases {
		t.Run(c.ID(), func(t *testing.T) {
			if why, ok := v4ClientExclusions[c.ID()]; ok {
				skipped++
				t.Skip(why)
			}
			ran++
			req := v4SuiteRequest(t, c)
			creds := v4SuiteCreds(c)
			if c.OmitSessionToken {
				// botocore post-sts-header-after: the request given to the
				// signer has no token (it is added afterwards), so the
				// signer has none to sign.
				creds.SessionToken = ""
			}
			res, err := signV4(context.Background(), signer, creds, req, v4SuiteParams(t, c, req, false))
			if err != nil {
				t.Fatal(err)
			}
			v4Check(t, "canonical request", res.CanonicalRequest, c.Header.CanonicalRequest)
			v4Check(t, "string to sign", res.StringToSign, c.Header.StringToSign)
			v4Check(t, "signature", res.Signature, c.Header.Signature)
			v4Check(t, "Authorization", req.Header.Get("Authorization"), c.Header.Authorization)
			v4Check(t, "X-Amz-Date", req.Header.Get("X-Amz-Date"), c.Time.UTC().Format(awsv4.TimeFormat))

			if c.Query == nil {
				return
			}
			ranQuery++
			req = v4SuiteRequest(t, c)
			res, err = signV4(context.Background(), signer, v4SuiteCreds(c), req, v4SuiteParams(t, c, req, true))
			if err != nil {
				t.Fatal(err)
			}
			v4Check(t, "query canonical request", res.CanonicalRequest, c.Query.CanonicalRequest)
			v4Check(t, "query string to sign", res.StringToSign, c.Query.StringToSign)
			v4Check(t, "query signature", res.Signature, c.Query.Signature)
			got, err := url.Parse(res.URL)
			if err != nil {
				t.Fatal(err)
			}
			v4Check(t, "signed URL query", v4SortedQuery(t, got.RawQuery), v4SortedQuery(t, c.Query.Signed.RawQuery()))
		})
	}
	t.Logf("suite: %d cases, %d signed in header form, %d also in query form, %d excluded", len(cases), ran, ranQuery, skipped)
	if ran < 50 {
		t.Errorf("only %d suite cases ran; the suite looks incomplete", ran)
	}
}

func v4SortedQuery(t *testing.T, raw string) string {
	t.Helper()
	ps, err := awsv4.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, p := range ps {
		s = append(s, awsv4.URIEncode(p.Key, false)+"="+awsv4.URIEncode(p.Value, false))
	}
	sort.Strings(s)
	return strings.Join(s, "&")
}

func v4Check(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\n got: %q\nwant: %q", what, got, want)
	}
}

// TestSigV4SignsWithoutTheSDKLog: signing does not depend on the SDK's
// signing log, which is captured only to show the canonical request in -v
// and --explain. With the capture off (as if the SDK stopped logging), every
// suite case still gets the vector's signature and Authorization header,
// and the trace says the canonical request was not reported.
func TestSigV4SignsWithoutTheSDKLog(t *testing.T) {
	cases, err := suite.Load(suite.Locate(t))
	if err != nil {
		t.Fatal(err)
	}
	signer := v4.NewSigner()
	ran := 0
	for _, c := range cases {
		if _, ok := v4ClientExclusions[c.ID()]; ok || c.OmitSessionToken {
			continue
		}
		req := v4SuiteRequest(t, c)
		p := v4SuiteParams(t, c, req, false)
		p.noCapture = true
		res, err := signV4(context.Background(), signer, v4SuiteCreds(c), req, p)
		if err != nil {
			t.Fatalf("%s: %v", c.ID(), err)
		}
		if res.Signature != c.Header.Signature || req.Header.Get("Authorization") != c.Header.Authorization {
			t.Errorf("%s: signature %s, want %s", c.ID(), res.Signature, c.Header.Signature)
		}
		if res.CanonicalRequest != "" {
			t.Errorf("%s: a canonical request was reported with the capture off", c.ID())
		}
		var lines []string
		traceSigning(func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) }, res, v4SuiteCreds(c))
		if !strings.Contains(strings.Join(lines, "\n"), "not reported by the AWS SDK signer") {
			t.Errorf("%s: trace %q", c.ID(), lines)
		}
		ran++
	}
	if ran < 30 {
		t.Fatalf("only %d suite cases ran", ran)
	}
}
