package sign

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// countingSigner stamps each attempt with a sequence number.
type countingSigner struct {
	n       atomic.Int32
	retries atomic.Int32
	retry   bool
}

func (s *countingSigner) Sign(_ context.Context, r *http.Request) error {
	n := s.n.Add(1)
	r.Header.Set("X-Signed", strings.Repeat("x", int(n)))
	return nil
}

func (s *countingSigner) Retry(_ context.Context, resp *http.Response) bool {
	if !s.retry || resp.StatusCode != http.StatusUnauthorized {
		return false
	}
	s.retries.Add(1)
	return true
}

func TestTransportSignsEachAttemptAndNotOtherHosts(t *testing.T) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("X-Signed"))
		body, _ := io.ReadAll(r.Body)
		if string(body) != "payload" {
			t.Errorf("body = %q", body)
		}
		if len(seen) == 1 {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	s := &countingSigner{retry: true}
	tr := &Transport{Signer: s, AllowedHost: strings.TrimPrefix(srv.URL, "http://")}
	req, _ := http.NewRequest("POST", srv.URL, strings.NewReader("payload"))
	orig := req.Header.Clone()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || s.retries.Load() != 1 {
		t.Fatalf("status %d after %d retries, want 200 after 1", resp.StatusCode, s.retries.Load())
	}
	if len(seen) != 2 || seen[0] != "x" || seen[1] != "xx" {
		t.Fatalf("attempts signed %q, want fresh signatures per attempt", seen)
	}
	if len(req.Header) != len(orig) || req.Header.Get("X-Signed") != "" {
		t.Fatal("the caller's request was mutated")
	}

	// A host other than AllowedHost goes out unsigned.
	seen = nil
	tr.AllowedHost = "other.example:443"
	req, _ = http.NewRequest("POST", srv.URL, strings.NewReader("payload"))
	resp, err = tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(seen) != 1 || seen[0] != "" {
		t.Fatalf("request to another host was signed: %q", seen)
	}
}

type closeTracker struct {
	io.Reader
	closed bool
}

func (c *closeTracker) Close() error { c.closed = true; return nil }

func TestTransportClosesBodyOnSignError(t *testing.T) {
	tr := &Transport{Signer: SignerFunc(func(context.Context, *http.Request) error {
		return Credentialf("test", "hint", "no credentials")
	})}
	body := &closeTracker{Reader: strings.NewReader("x")}
	req, _ := http.NewRequest("POST", "http://127.0.0.1:1/", body)
	_, err := tr.RoundTrip(req)
	if !IsCredentialError(err) {
		t.Fatalf("err = %v, want a CredentialError", err)
	}
	var ce *CredentialError
	if !errors.As(err, &ce) || ce.Hint != "hint" {
		t.Fatalf("hint lost: %v", err)
	}
	if !body.closed {
		t.Fatal("request body not closed on a signing error")
	}
}
