package sigv4verify_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/awsv4/suite"
	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/sigv4verify"
)

// suiteVerifier is a verifier for the suite's scope (service "service",
// us-east-1) at the suite's clock, with AKIDEXAMPLE in its key table
// (temporary, with token, when the case has one).
func suiteVerifier(t *testing.T, c suite.Case) *sigv4verify.Verifier {
	t.Helper()
	paths := sigv4verify.PathsNormalized
	if !c.Normalize {
		paths = sigv4verify.PathsEncodedOnly
	}
	v, err := sigv4verify.New(sigv4verify.Options{
		Service: c.Service, Region: c.Region, Now: func() time.Time { return c.Time }, Paths: paths,
	}, []auth.AWSKey{{
		AccessKeyID: c.Credentials.AccessKeyID, SecretAccessKey: c.Credentials.SecretAccessKey,
		SessionToken: c.Credentials.SessionToken, ARN: "arn:aws:iam::123456789012:user/suite",
	}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// serverRequest builds the *http.Request a Go server would hand the
// verifier for a vector's signed request: RequestURI as written, Host out
// of the header map, obs-folded values already joined.
func serverRequest(sr suite.Request) *http.Request {
	h := sr.Header.Clone()
	host := h.Get("Host")
	h.Del("Host")
	u, err := url.ParseRequestURI(sr.Target)
	if err != nil {
		u = &url.URL{Path: sr.Path(), RawQuery: sr.RawQuery()}
	}
	r := &http.Request{
		Method: sr.Method, RequestURI: sr.Target, URL: u, Host: host, Header: h,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Body: http.NoBody,
	}
	if len(sr.Body) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(sr.Body))
		r.ContentLength = int64(len(sr.Body))
	}
	if cl := h.Get("Content-Length"); cl != "" {
		r.ContentLength, _ = strconv.ParseInt(cl, 10, 64)
	}
	return r
}

// wantRefused lists the vectors the verifier must refuse, and why.
func wantRefused(c suite.Case, query bool) string {
	if c.OmitSessionToken {
		if query {
			return "signature mismatch" // the token is in the query, so in the canonical request
		}
		return "x-amz-security-token is present but not signed"
	}
	return ""
}

// TestSuiteAccepted: every vector's signed request is accepted (header
// form; for aws-c-auth also the presigned query form), except the
// unsigned-token ones, which are refused with their reason.
func TestSuiteAccepted(t *testing.T) {
	cases, err := suite.Load(suite.Locate(t))
	if err != nil {
		t.Fatal(err)
	}
	var accepted, refused int
	for _, c := range cases {
		forms := []struct {
			name  string
			req   suite.Request
			query bool
		}{{"header", c.Header.Signed, false}}
		if c.Query != nil {
			forms = append(forms, struct {
				name  string
				req   suite.Request
				query bool
			}{"query", c.Query.Signed, true})
		}
		for _, f := range forms {
			t.Run(c.ID()+"/"+f.name, func(t *testing.T) {
				v := suiteVerifier(t, c)
				r := serverRequest(f.req)
				res, err := v.Check(r)
				if want := wantRefused(c, f.query); want != "" {
					var rej *auth.Rejection
					if !errors.As(err, &rej) || rej.Reason != want {
						t.Fatalf("want refusal %q, got %v", want, err)
					}
					refused++
					return
				}
				if err != nil {
					var rej *auth.Rejection
					if errors.As(err, &rej) {
						t.Fatalf("refused: %s\ncanonical request:\n%s\nstring to sign:\n%s", rej.Reason, rej.Details["canonical_request"], rej.Details["string_to_sign"])
					}
					t.Fatal(err)
				}
				accepted++
				want := c.Header
				if f.query {
					want = *c.Query
				}
				if res.CanonicalRequest != want.CanonicalRequest {
					t.Errorf("canonical request:\n got: %q\nwant: %q", res.CanonicalRequest, want.CanonicalRequest)
				}
				if res.StringToSign != want.StringToSign {
					t.Errorf("string to sign:\n got: %q\nwant: %q", res.StringToSign, want.StringToSign)
				}
				// The body is still there for the origin.
				b, _ := io.ReadAll(r.Body)
				if !bytes.Equal(b, f.req.Body) {
					t.Errorf("body left for the origin = %q, want %q", b, f.req.Body)
				}
			})
		}
	}
	t.Logf("suite: %d signed requests accepted, %d refused as expected", accepted, refused)
}

// mutations returns copies of a signed request with one byte changed in the
// method, the path, the query, each signed header value and the body.
func mutations(sr suite.Request, signed []string) map[string]suite.Request {
	flip := func(s string) string {
		if s == "" {
			return "a"
		}
		c := byte('a')
		if s[len(s)-1] == 'a' {
			c = 'b'
		}
		return s[:len(s)-1] + string(c)
	}
	clone := func() suite.Request {
		c := sr
		c.Header = sr.Header.Clone()
		c.Body = append([]byte(nil), sr.Body...)
		return c
	}
	out := map[string]suite.Request{}
	m := clone()
	m.Method = flip(m.Method)
	out["method"] = m

	m = clone()
	p, q := sr.Path(), sr.RawQuery()
	if p == "/" {
		p = "/a"
	} else {
		p = flip(p)
	}
	m.Target = p
	if strings.Contains(sr.Target, "?") {
		m.Target += "?" + q
	}
	out["path"] = m

	if q := sr.RawQuery(); q != "" {
		// Change the last byte of the first parameter that is not an X-Amz-* one.
		var pieces []string
		changed := false
		for _, piece := range strings.Split(q, "&") {
			if !changed && !strings.HasPrefix(piece, "X-Amz-") {
				piece = flip(piece)
				changed = true
			}
			pieces = append(pieces, piece)
		}
		if changed {
			m = clone()
			m.Target = sr.Path() + "?" + strings.Join(pieces, "&")
			out["query"] = m
		}
	}
	for _, name := range signed {
		key := http.CanonicalHeaderKey(name)
		vals := sr.Header[key]
		if len(vals) == 0 {
			continue
		}
		m = clone()
		m.Header[key][len(vals)-1] = flip(vals[len(vals)-1])
		out["header "+name] = m
	}
	m = clone()
	m.Body = []byte(flip(string(m.Body)))
	if cl := m.Header.Get("Content-Length"); cl != "" {
		m.Header.Set("Content-Length", strconv.Itoa(len(m.Body)))
	}
	out["body"] = m
	return out
}

// TestSuiteTampered: any one byte changed in the method, path, query, a
// signed header value or the body makes the verifier refuse the request.
func TestSuiteTampered(t *testing.T) {
	cases, err := suite.Load(suite.Locate(t))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range cases {
		if wantRefused(c, false) != "" {
			continue
		}
		v := suiteVerifier(t, c)
		res, err := v.Check(serverRequest(c.Header.Signed))
		if err != nil {
			t.Fatalf("%s: the untouched request is refused: %v", c.ID(), err)
		}
		for what, m := range mutations(c.Header.Signed, res.SignedHeaders) {
			t.Run(c.ID()+"/"+what, func(t *testing.T) {
				_, err := v.Check(serverRequest(m))
				var rej *auth.Rejection
				if !errors.As(err, &rej) {
					t.Fatalf("tampered request (%s) accepted: %s %s", what, m.Method, m.Target)
				}
				n++
			})
		}
	}
	t.Logf("%d tampered requests refused", n)
}

// TestSuiteOverTheWire sends each vector's signed request byte for byte
// over a TCP connection to a real net/http server running the verifier,
// so the server's own parsing (Host, obs-fold, RequestURI) is exercised.
// Vectors whose request line is not valid HTTP (a raw space in the path)
// are refused by net/http before any handler runs; they are covered by
// TestSuiteAccepted.
func TestSuiteOverTheWire(t *testing.T) {
	cases, err := suite.Load(suite.Locate(t))
	if err != nil {
		t.Fatal(err)
	}
	var current *sigv4verify.Verifier
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := current.Check(r)
		if err != nil {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, err.Error())
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	sent, unparsable := 0, 0
	for _, c := range cases {
		if wantRefused(c, false) != "" {
			continue
		}
		t.Run(c.ID(), func(t *testing.T) {
			current = suiteVerifier(t, c)
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write(c.Header.Signed.Wire()); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusBadRequest && strings.Contains(c.Header.Signed.Target, " ") {
				unparsable++
				t.Skipf("net/http refuses the request line %q (400), as it should", c.Header.Signed.Target)
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			sent++
		})
	}
	t.Logf("%d vectors accepted over TCP, %d not valid HTTP on the wire", sent, unparsable)
}
