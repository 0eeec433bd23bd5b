package profiles

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// tokenServer is a real HTTP token endpoint that counts mints. Each mint
// returns a distinct token valid for ttl.
type tokenServer struct {
	*httptest.Server
	n atomic.Int64
}

func newTokenServer(t *testing.T, ttl time.Duration, delay time.Duration) *tokenServer {
	ts := &tokenServer{}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := ts.n.Add(1)
		time.Sleep(delay) // widen the race window
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"access_token": fmt.Sprintf("tok-%d", n),
			"expires_in":   int(ttl / time.Second),
			"id_token":     fmt.Sprintf("id-%d", n),
		})
	}))
	t.Cleanup(ts.Close)
	return ts
}

// mintFrom fetches a token from url with a plain HTTP client.
func mintFrom(url string) func(ctx context.Context) (*oauth2.Token, error) {
	return func(ctx context.Context) (*oauth2.Token, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var body struct {
			AccessToken string `json:"access_token"`
			ExpiresIn   int    `json:"expires_in"`
			IDToken     string `json:"id_token"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			return nil, err
		}
		t := &oauth2.Token{AccessToken: body.AccessToken, TokenType: "Bearer", Expiry: time.Now().Add(time.Duration(body.ExpiresIn) * time.Second)}
		return t.WithExtra(map[string]any{"id_token": body.IDToken}), nil
	}
}

const helperEnv = "GWCURL_TOKENCACHE_HELPER"

// TestTokenCacheHelperProcess is the body of the subprocesses started by
// TestTokenCacheMultiProcess; it does nothing in a normal run.
func TestTokenCacheHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper process only")
	}
	c := &TokenCache{Dir: os.Getenv("GWCURL_TC_DIR")}
	tok, err := c.Source(context.Background(), os.Getenv("GWCURL_TC_KEY"), mintFrom(os.Getenv("GWCURL_TC_URL"))).Token()
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(3)
	}
	fmt.Print(tok.AccessToken)
	os.Exit(0)
}

func TestTokenCacheMultiProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 30 processes")
	}
	srv := newTokenServer(t, time.Hour, 200*time.Millisecond)
	dir := filepath.Join(t.TempDir(), "cache")
	const n = 30
	outs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestTokenCacheHelperProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), helperEnv+"=1", "GWCURL_TC_DIR="+dir, "GWCURL_TC_KEY=google|demo|http://x|sa:a@b", "GWCURL_TC_URL="+srv.URL)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				err = fmt.Errorf("%v: %s", err, stderr.String())
			}
			outs[i], errs[i] = string(out), err
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("process %d: %v", i, errs[i])
		}
		if outs[i] != "tok-1" {
			t.Errorf("process %d got %q, want tok-1", i, outs[i])
		}
	}
	if got := srv.n.Load(); got != 1 {
		t.Fatalf("token endpoint called %d times by %d processes, want 1", got, n)
	}
	checkModes(t, dir)
}

func checkModes(t *testing.T, dir string) {
	t.Helper()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o700 {
		t.Errorf("cache dir mode %o, want 700", m)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var jsonFiles int
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s mode %o, want 600", e.Name(), m)
		}
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("leftover temp file %s", e.Name())
		}
		if strings.HasSuffix(e.Name(), ".json") {
			jsonFiles++
		}
	}
	if jsonFiles != 1 {
		t.Errorf("%d cache files, want 1", jsonFiles)
	}
}

func TestTokenCacheGoroutines(t *testing.T) {
	for _, shared := range []bool{true, false} {
		t.Run(fmt.Sprintf("shared-source=%v", shared), func(t *testing.T) {
			srv := newTokenServer(t, time.Hour, 50*time.Millisecond)
			dir := filepath.Join(t.TempDir(), "c")
			c := &TokenCache{Dir: dir}
			key := "google|p|aud|src"
			one := c.Source(context.Background(), key, mintFrom(srv.URL))
			var wg sync.WaitGroup
			got := make([]string, 30)
			errs := make([]error, 30)
			for i := range 30 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					src := one
					if !shared {
						src = (&TokenCache{Dir: dir}).Source(context.Background(), key, mintFrom(srv.URL))
					}
					tok, err := src.Token()
					if err == nil {
						got[i] = tok.AccessToken
					}
					errs[i] = err
				}()
			}
			wg.Wait()
			for i := range 30 {
				if errs[i] != nil || got[i] != "tok-1" {
					t.Errorf("goroutine %d: %q, %v", i, got[i], errs[i])
				}
			}
			if n := srv.n.Load(); n != 1 {
				t.Fatalf("minted %d times, want 1", n)
			}
			checkModes(t, dir)
		})
	}
}

func TestTokenCacheRoundTripAndExtras(t *testing.T) {
	c := &TokenCache{Dir: filepath.Join(t.TempDir(), "c")}
	if tok, err := c.Get("k"); tok != nil || err != nil {
		t.Fatalf("empty cache Get = %v, %v", tok, err)
	}
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	in := (&oauth2.Token{AccessToken: "a", TokenType: "Bearer", RefreshToken: "r", Expiry: exp}).WithExtra(map[string]any{"id_token": "i"})
	if err := c.Put("k", in); err != nil {
		t.Fatal(err)
	}
	out, err := c.Get("k")
	if err != nil || out == nil {
		t.Fatalf("Get = %v, %v", out, err)
	}
	if out.AccessToken != "a" || out.RefreshToken != "r" || out.TokenType != "Bearer" || !out.Expiry.Equal(exp) || out.Extra("id_token") != "i" {
		t.Fatalf("round trip lost data: %+v id_token=%v", out, out.Extra("id_token"))
	}
	if other, _ := c.Get("other"); other != nil {
		t.Fatal("another key must not see the entry")
	}
	if err := c.Delete("k"); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("k"); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if tok, _ := c.Get("k"); tok != nil {
		t.Fatal("entry still there after Delete")
	}
}

func TestTokenCacheFileNames(t *testing.T) {
	for _, key := range []string{"google|p|https://x.run.app|sa:a@b.iam", "../../etc/passwd", "", strings.Repeat("é/", 200)} {
		b := fileBase(key)
		if strings.ContainsAny(b, `/\`) || b == "" || strings.HasPrefix(b, ".") || len(b) > 100 {
			t.Errorf("unsafe file name %q for key %q", b, key)
		}
	}
	if fileBase("a|b") == fileBase("a_b") {
		t.Error("keys with the same slug must get different files")
	}
}

func TestTokenCacheExpiryRemints(t *testing.T) {
	srv := newTokenServer(t, time.Hour, 0)
	now := time.Now()
	c := &TokenCache{Dir: t.TempDir(), Now: func() time.Time { return now }}
	// A token that expires in 30 s is inside the 60 s margin: re-minted.
	if err := c.Put("k", &oauth2.Token{AccessToken: "old", Expiry: now.Add(30 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	src := c.Source(context.Background(), "k", mintFrom(srv.URL))
	tok, err := src.Token()
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "tok-1" {
		t.Fatalf("got %q, want a fresh token", tok.AccessToken)
	}
	// Memoized while valid, including across sources (from the file).
	if tok, _ := src.Token(); tok.AccessToken != "tok-1" {
		t.Fatalf("second call got %q", tok.AccessToken)
	}
	if tok, _ := c.Source(context.Background(), "k", mintFrom(srv.URL)).Token(); tok.AccessToken != "tok-1" {
		t.Fatalf("new source got %q", tok.AccessToken)
	}
	if n := srv.n.Load(); n != 1 {
		t.Fatalf("minted %d times, want 1", n)
	}
	// Move the clock to 59 s before expiry: both the memo and the file are stale.
	now = now.Add(time.Hour - 59*time.Second)
	if tok, _ := src.Token(); tok.AccessToken != "tok-2" {
		t.Fatalf("after expiry got %q, want tok-2", tok.AccessToken)
	}
	if stored, _ := c.Get("k"); stored.AccessToken != "tok-2" {
		t.Fatalf("cache holds %q, want tok-2", stored.AccessToken)
	}
}

func TestTokenCacheCorruptedFile(t *testing.T) {
	for name, content := range map[string]string{
		"garbage":   "\x00\x01not json",
		"truncated": `{"key":"k","access_token":"ab`,
		"empty":     "",
		"wrong key": `{"key":"other","access_token":"stolen","expiry":"2100-01-01T00:00:00Z"}`,
	} {
		t.Run(name, func(t *testing.T) {
			srv := newTokenServer(t, time.Hour, 0)
			c := &TokenCache{Dir: t.TempDir()}
			file, _ := c.paths("k")
			if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if tok, err := c.Get("k"); tok != nil || err != nil {
				t.Fatalf("Get on corrupted file = %v, %v; want absent", tok, err)
			}
			tok, err := c.Source(context.Background(), "k", mintFrom(srv.URL)).Token()
			if err != nil || tok.AccessToken != "tok-1" {
				t.Fatalf("Token = %v, %v", tok, err)
			}
			b, _ := os.ReadFile(file)
			var e cacheEntry
			if err := json.Unmarshal(b, &e); err != nil || e.AccessToken != "tok-1" {
				t.Fatalf("file not replaced: %s", b)
			}
		})
	}
}

func TestTokenCacheMintError(t *testing.T) {
	c := &TokenCache{Dir: t.TempDir()}
	var calls int
	src := c.Source(context.Background(), "k", func(context.Context) (*oauth2.Token, error) {
		calls++
		return nil, io.ErrUnexpectedEOF
	})
	for range 2 {
		if _, err := src.Token(); err != io.ErrUnexpectedEOF {
			t.Fatalf("err = %v", err)
		}
	}
	if calls != 2 {
		t.Fatalf("a failed mint must not be cached: %d calls", calls)
	}
	if tok, _ := c.Get("k"); tok != nil {
		t.Fatal("failed mint stored something")
	}
}

func TestTokenCacheMemoryOnly(t *testing.T) {
	srv := newTokenServer(t, time.Hour, 0)
	c := &TokenCache{}
	src := c.Source(context.Background(), "k", mintFrom(srv.URL))
	for range 3 {
		if tok, err := src.Token(); err != nil || tok.AccessToken != "tok-1" {
			t.Fatalf("Token = %v, %v", tok, err)
		}
	}
	if n := srv.n.Load(); n != 1 {
		t.Fatalf("minted %d times", n)
	}
}

func TestTokenCacheTightensDirMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c := &TokenCache{Dir: dir}
	if err := c.Put("k", &oauth2.Token{AccessToken: "a"}); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(dir)
	if fi.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %o", fi.Mode().Perm())
	}
}

func TestTokenCacheUnwritableDirStillMints(t *testing.T) {
	// A directory path below a regular file cannot be created, even by root.
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := newTokenServer(t, time.Hour, 0)
	var lines []string
	c := &TokenCache{Dir: filepath.Join(blocker, "c"), Trace: func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) }}
	tok, err := c.Source(context.Background(), "k", mintFrom(srv.URL)).Token()
	if err != nil || tok.AccessToken != "tok-1" {
		t.Fatalf("Token = %v, %v", tok, err)
	}
	if !strings.Contains(strings.Join(lines, "\n"), "without the cache") {
		t.Fatalf("no trace about the unusable cache: %q", lines)
	}
}
