package googleverify_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/demo"
	"github.com/gwcurl/gwcurl/internal/demoflow"
	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
	"github.com/gwcurl/gwcurl/internal/sign"
)

// TestDemoGatewayEndToEnd runs the embedded demo config in the real gateway
// frame with this package registered, writes the demo profiles as
// `gwcurl gateway --profiles-out` does, and calls /run with the demo-google
// profile through sign.New: the frame's ${base_url} expansion, the demo key
// file's token_uri, the verifier and builtin:echo's identity all line up.
func TestDemoGatewayEndToEnd(t *testing.T) {
	// The default registration serves google_id and its mocks.
	srv := gatewaytest.StartDemo(t, gateway.Options{})

	dir := t.TempDir()
	if err := demoflow.WriteProfiles(filepath.Join(dir, "config.yaml"), srv.URL); err != nil {
		t.Fatal(err)
	}
	prof := demoflow.Profiles(srv.URL, filepath.Join(dir, demoflow.GoogleKeyFileName)).Profiles["demo-google"]

	var trace []string
	d := sign.Deps{
		Profile:    "demo-google",
		HTTPClient: &http.Client{Timeout: 10 * time.Second},
		Now:        time.Now,
		Getenv:     func(k string) string { return map[string]string{"HOME": dir}[k] },
		CacheDir:   filepath.Join(dir, "cache"),
		Trace:      func(f string, a ...any) { trace = append(trace, f) },
		Stderr:     io.Discard,
	}
	target := prof.BaseURL + "/echo"
	for i := range 2 {
		s, err := sign.New(context.Background(), prof.Auth, target, d)
		if err != nil {
			t.Fatal(err)
		}
		client := &http.Client{Transport: &sign.Transport{Signer: s, AllowedHost: strings.TrimPrefix(srv.URL, "http://")}}
		resp, err := client.Get(target)
		if err != nil {
			t.Fatal(err)
		}
		var echo struct {
			Path     string              `json:"path"`
			Headers  map[string][]string `json:"headers"`
			Identity struct {
				Kind      string         `json:"kind"`
				Principal string         `json:"principal"`
				Claims    map[string]any `json:"claims"`
			} `json:"identity"`
			Reason string `json:"reason"`
		}
		json.NewDecoder(resp.Body).Decode(&echo)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("run %d: %d %s", i, resp.StatusCode, echo.Reason)
		}
		if echo.Identity.Kind != "google" || echo.Identity.Principal != demo.GoogleServiceAccountEmail || echo.Identity.Claims["aud"] != srv.URL+"/run" {
			t.Fatalf("identity %+v", echo.Identity)
		}
		for h := range echo.Headers {
			if strings.EqualFold(h, "Authorization") {
				t.Fatal("the ID token reached the origin")
			}
		}
	}
	// The second run used the cache.
	var hits int
	for _, l := range trace {
		if strings.Contains(l, "hit") {
			hits++
		}
	}
	if hits == 0 {
		t.Fatalf("second run did not hit the cache: %q", trace)
	}

	// Unauthenticated and wrong-audience requests are refused by the frame.
	resp, err := http.Get(prof.BaseURL + "/echo")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
}
