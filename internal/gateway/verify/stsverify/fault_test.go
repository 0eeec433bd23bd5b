package stsverify_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/stsverify"
)

// TestRealSTSFaults: a real STS endpoint that does not answer in time, or
// refuses the connection, is an outage, not a bad proof: 503 with
// Retry-After and a reason naming the endpoint.
func TestRealSTSFaults(t *testing.T) {
	t.Parallel()
	now := time.Now()
	release := make(chan struct{})
	slow := newFakeSTS(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedAddr := ln.Addr().String()
	ln.Close() // nothing listens there now
	refused := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r2 := r.Clone(r.Context())
		r2.URL.Scheme, r2.URL.Host = "http", refusedAddr
		return http.DefaultTransport.RoundTrip(r2)
	})
	for name, c := range map[string]struct {
		client *http.Client
		reason string
	}{
		"timeout": {&http.Client{Transport: slow, Timeout: 200 * time.Millisecond}, "could not reach STS at sts.amazonaws.com"},
		"refused": {&http.Client{Transport: refused}, "could not reach STS at sts.amazonaws.com"},
	} {
		v, err := stsverify.New(stsverify.Options{Allow: []string{demoARN}, STS: "https://sts.amazonaws.com", HTTPClient: c.client})
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("GET", "/x", nil)
		r.Header.Set("X-Fluid-Identity", presignedURL(t, demoK, "https://sts.amazonaws.com/", gciQuery, nil, "us-east-1", now, 900))
		_, err = v.Verify(httptest.NewRecorder(), r)
		var rej *auth.Rejection
		if !errors.As(err, &rej) || rej.Status != http.StatusServiceUnavailable || !strings.Contains(rej.Reason, c.reason) || rej.Header.Get("Retry-After") == "" {
			t.Errorf("%s: %v (%+v), want 503 %q with Retry-After", name, err, rej, c.reason)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
