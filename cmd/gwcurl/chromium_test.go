package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/gwcurl/gwcurl/internal/chromiumtest"

	"github.com/chromedp/chromedp"

	"github.com/gwcurl/gwcurl/internal/demo"
)

// haveChromium is the script condition [chromium]. Under CI it is always
// true, so a missing Chromium fails the script instead of skipping it.
func haveChromium() bool { return os.Getenv("CI") != "" || chromiumtest.Find() != "" }

// chromiumBrowser is the GWCURL_BROWSER command `headless-chromium URL`: a
// real headless Chromium opens the login URL gwcurl gives, a person's
// keystrokes fill the mock Cognito form, and the browser follows the
// redirects to gwcurl's loopback listener. It exits 0 once the listener's
// page says the login is complete.
func chromiumBrowser(loginURL string) int {
	// gwcurl discards its browser's output: failures go to a file in the
	// script's work directory (testscript -testwork keeps it).
	if f, err := os.OpenFile("headless-chromium.log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
		defer f.Close()
		os.Stderr = f
	}
	bin := chromiumtest.Find()
	if bin == "" {
		fmt.Fprintln(os.Stderr, "headless-chromium: no Chromium found (apt-get install chromium, or set GWCURL_TEST_CHROMIUM)")
		return 1
	}
	dir, err := os.MkdirTemp("", "gwcurl-chromium-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "headless-chromium:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, chromiumtest.Options(bin, dir)...)
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	err = chromedp.Do(browserCtx,
		chromedp.Navigate(loginURL),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), demo.UserEmail),
		chromedp.SendKeys(chromedp.CSS("#password"), demo.UserPassword),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#result")),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "headless-chromium:", err)
		return 1
	}
	text, err := chromedp.Run(browserCtx, chromedp.Text(chromedp.CSS("#result")))
	if err != nil || text != "gwcurl: login complete" {
		fmt.Fprintf(os.Stderr, "headless-chromium: the browser ended showing %q (%v)\n", text, err)
		return 1
	}
	return 0
}
