package login_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/chromiumtest"

	"github.com/chromedp/chromedp"

	"github.com/gwcurl/gwcurl/internal/demo"
	"github.com/gwcurl/gwcurl/internal/login"
)

// TestChromiumLogin is the acceptance test with a real browser: headless
// Chromium opens the URL gwcurl gives, a person's keystrokes fill the mock
// Cognito login form, the browser follows the redirect to gwcurl's loopback
// listener, and the login completes; /app/echo then answers the demo user.
// In CI (CI set) a missing Chromium fails the test instead of skipping it.
func TestChromiumLogin(t *testing.T) {
	chromium := chromiumtest.Find()
	if chromium == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI: Chromium is required for the browser login test (apt-get install chromium, or set GWCURL_TEST_CHROMIUM)")
		}
		t.Skip("no Chromium found (install the chromium package, or set GWCURL_TEST_CHROMIUM)")
	}
	e := startDemo(t) // the embedded demo as it is: same-origin form posts pass the CORS policy
	o := e.opts(t, "demo-cognito")
	o.Timeout = 50 * time.Second

	dir, err := os.MkdirTemp("", "gwcurl-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Chromium's helpers may still write for a moment after it exits.
		for range 50 {
			if os.RemoveAll(dir) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromiumtest.Options(chromium, dir)...)
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	start := time.Now()
	// Start the browser first, so its start-up is not part of the login.
	if err := chromedp.Do(browserCtx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	t.Logf("chromium started in %s", time.Since(start).Round(time.Millisecond))

	type outcome struct {
		text, url string
		err       error
	}
	done := make(chan outcome, 1)
	o.Browser = func(u string) error {
		go func() {
			ctx, cancel := context.WithTimeout(browserCtx, 40*time.Second)
			defer cancel()
			err := chromedp.Do(ctx,
				chromedp.Navigate(u),
				chromedp.WaitVisible(chromedp.CSS("#username")),
				chromedp.SendKeys(chromedp.CSS("#username"), demo.UserEmail),
				chromedp.SendKeys(chromedp.CSS("#password"), demo.UserPassword),
				chromedp.Click(chromedp.CSS("#signin")),
				chromedp.WaitVisible(chromedp.CSS("#result")),
			)
			var res outcome
			if err == nil {
				res.text, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#result")))
			}
			if err == nil {
				res.url, err = chromedp.Run(ctx, chromedp.Location())
			}
			res.err = err
			done <- res
		}()
		return nil
	}
	loginStart := time.Now()
	tok, err := login.Login(t.Context(), o)
	if err != nil {
		var berr error
		select {
		case res := <-done:
			berr = res.err
		case <-time.After(time.Second):
		}
		t.Fatalf("login: %v\nbrowser: %v\n%s", err, berr, e.stderr)
	}
	res := <-done
	if res.err != nil {
		t.Fatalf("browser: %v", res.err)
	}
	t.Logf("login through chromium took %s (%s in all)", time.Since(loginStart).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if res.text != "gwcurl: login complete" || !strings.HasPrefix(res.url, "http://127.0.0.1:") || !strings.Contains(res.url, "/callback?code=") {
		t.Errorf("the browser ended on %q showing %q", res.url, res.text)
	}
	if st, m := e.call(t, "/app/echo", tok, o.Auth); st != 200 || principal(m) != demo.UserEmail {
		t.Fatalf("/app/echo: %d %v", st, m)
	}
}
