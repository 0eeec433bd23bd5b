package sign

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/sigv4verify"
)

// skewServer verifies SigV4 with a clock off by offset and answers as AWS
// does: a Date header on its own clock, and the body style given.
func skewServer(t *testing.T, offset time.Duration, refusal func(w http.ResponseWriter, reason string, now time.Time)) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	now := func() time.Time { return time.Now().Add(offset) }
	v, err := sigv4verify.New(sigv4verify.Options{Service: "execute-api", Region: "us-east-1", Now: now}, []auth.AWSKey{v4Key})
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Date", now().UTC().Format(http.TimeFormat))
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if _, err := v.Check(r); err != nil {
			var rej *auth.Rejection
			if !errors.As(err, &rej) {
				t.Error(err)
			}
			refusal(w, rej.Reason, now())
			return
		}
		fmt.Fprintf(w, "ok %s", body)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestSigV4SkewCorrection(t *testing.T) {
	v4IsolateAWS(t)
	for name, tc := range map[string]struct {
		offset  time.Duration
		refusal func(w http.ResponseWriter, reason string, now time.Time)
		warn    string
	}{
		"s3 RequestTimeTooSkewed, server ahead": {10 * time.Minute, func(w http.ResponseWriter, _ string, now time.Time) {
			w.WriteHeader(403)
			fmt.Fprintf(w, "<Error><Code>RequestTimeTooSkewed</Code><ServerTime>%s</ServerTime></Error>", now.UTC().Format(time.RFC3339))
		}, "10m ahead of"},
		"Signature expired, server behind": {-20 * time.Minute, func(w http.ResponseWriter, _ string, _ time.Time) {
			w.WriteHeader(403)
			fmt.Fprint(w, `{"message":"Signature expired: 20260101T000000Z is now earlier than 20260101T000500Z"}`)
		}, "20m behind"},
		"bare 403 with a Date far off": {7 * time.Minute, func(w http.ResponseWriter, _ string, _ time.Time) {
			w.WriteHeader(403)
			fmt.Fprint(w, `{"message":"Forbidden"}`)
		}, "7m ahead of"},
		"the gateway's reason": {-10 * time.Minute, func(w http.ResponseWriter, reason string, _ time.Time) {
			w.WriteHeader(403)
			fmt.Fprintf(w, `{"error":"Forbidden","reason":%q}`, reason)
		}, "10m behind"},
	} {
		t.Run(name, func(t *testing.T) {
			srv, calls := skewServer(t, tc.offset, tc.refusal)
			a, env := v4StaticAuth("execute-api", "us-east-1")
			d, _ := v4Deps(nil, env)
			var warnings []string
			d.Warn = func(m string) { warnings = append(warnings, m) }
			d.ClockSkew = &ClockSkew{}
			s, err := New(context.Background(), a, srv.URL, d)
			if err != nil {
				t.Fatal(err)
			}
			client := &http.Client{Transport: &Transport{Signer: s}}
			for i := range 3 { // later requests are signed right the first time
				resp, err := client.Post(srv.URL+"/x", "text/plain", strings.NewReader("hello"))
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(b) != "ok hello" {
					t.Fatalf("request %d: %d %s", i, resp.StatusCode, b)
				}
			}
			if got := calls.Load(); got != 4 {
				t.Errorf("server saw %d requests, want 4 (one refused, three accepted)", got)
			}
			if len(warnings) != 1 || !strings.Contains(warnings[0], tc.warn) {
				t.Errorf("warnings %q, want one naming %q", warnings, tc.warn)
			}
			if off := d.ClockSkew.Offset(); (off - tc.offset).Abs() > 2*time.Second {
				t.Errorf("remembered offset %s, want about %s", off, tc.offset)
			}
		})
	}
}

// Off (no ClockSkew), and for refusals that are not about time, the first
// answer comes back untouched.
func TestSigV4SkewCorrectionOff(t *testing.T) {
	v4IsolateAWS(t)
	refuse := func(w http.ResponseWriter, reason string, _ time.Time) {
		w.WriteHeader(403)
		fmt.Fprintf(w, `{"reason":%q}`, reason)
	}
	srv, calls := skewServer(t, 10*time.Minute, refuse)
	a, env := v4StaticAuth("execute-api", "us-east-1")
	d, _ := v4Deps(nil, env)
	s, err := New(context.Background(), a, srv.URL, d)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: &Transport{Signer: s}}).Get(srv.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(b), "off the gateway clock") || calls.Load() != 1 {
		t.Fatalf("without correction: %d %s after %d requests", resp.StatusCode, b, calls.Load())
	}

	// A refusal for another reason, clocks in step: no retry, body intact.
	srv2, calls2 := skewServer(t, 0, refuse)
	a.SecretAccessKey = "env:GW_TEMP_SECRET" // wrong secret for the key
	d.ClockSkew = &ClockSkew{}
	s, err = New(context.Background(), a, srv2.URL, d)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = (&http.Client{Transport: &Transport{Signer: s}}).Get(srv2.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(b), "signature") || calls2.Load() != 1 || d.ClockSkew.Offset() != 0 {
		t.Fatalf("signature mismatch: %d %s after %d requests, offset %s", resp.StatusCode, b, calls2.Load(), d.ClockSkew.Offset())
	}
}
