// Package chromiumtest finds a Chromium and gives the flags the browser
// tests start it with (headless, no sandbox as root, and no background
// networking: this machine's closed network refuses those connections).
package chromiumtest

import (
	"os"
	"os/exec"

	"github.com/chromedp/chromedp"
)

// Find returns a Chromium or Chrome binary ($GWCURL_TEST_CHROMIUM first),
// or "".
func Find() string {
	if p := os.Getenv("GWCURL_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Options are the allocator options for bin with a fresh profile in dir.
func Options(bin, dir string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(dir),
	}
}
