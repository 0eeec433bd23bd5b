package demoflow

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// The demo browser's requests carry the login's context: once it is
// cancelled, the browser sends nothing and reports the cancellation.
func TestFormBrowserHonoursContext(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte(`<form action="/login" method="post"><input name="username"><input type="password" name="password"></form>`)) //nolint:errcheck
	}))
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	errs := make(chan error, 1)
	if err := FormBrowser(ctx, srv.Client(), "demo@example.com", "pw", func(err error) { errs <- err })(srv.URL + "/page"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the browser reported nothing")
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d requests reached the server after the context ended", n)
	}

	// With a live context the same page is fetched and the form posted.
	errs = make(chan error, 1)
	if err := FormBrowser(context.Background(), srv.Client(), "demo@example.com", "pw", func(err error) { errs <- err })(srv.URL + "/page"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for hits.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := hits.Load(); n != 2 {
		t.Fatalf("%d requests, want the page and the form post", n)
	}
}
