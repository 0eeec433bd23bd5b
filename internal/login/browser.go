package login

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/pkg/browser"
)

// SystemBrowser returns the Browser the CLI passes in Options: the command
// in $GWCURL_BROWSER, else $BROWSER, run with the URL as its one argument
// (a "%s" in the command is replaced by the URL instead), else the
// platform's opener through pkg/browser. The command is split on spaces and
// run without a shell; it is started and not waited for (a browser may run
// until it is closed).
//
// pkg/browser sends the opener's output to its package variables Stdout and
// Stderr (os.Stdout by default); the CLI should set browser.Stdout to its
// stderr once at start-up so that `gwcurl token` output stays clean.
func SystemBrowser(getenv func(string) string) func(url string) error {
	cmd := ""
	if getenv != nil {
		cmd = strings.TrimSpace(getenv("GWCURL_BROWSER"))
		if cmd == "" {
			// $BROWSER may list alternatives separated by ':' (the
			// sensible-browser convention); the first is used.
			cmd = strings.TrimSpace(strings.Split(getenv("BROWSER"), ":")[0])
		}
	}
	if cmd == "" {
		return browser.OpenURL
	}
	return func(u string) error {
		args := strings.Fields(cmd)
		replaced := false
		for i, a := range args {
			if strings.Contains(a, "%s") {
				args[i] = strings.ReplaceAll(a, "%s", u)
				replaced = true
			}
		}
		if !replaced {
			args = append(args, u)
		}
		c := exec.Command(args[0], args[1:]...)
		if err := c.Start(); err != nil {
			if errors.Is(err, exec.ErrNotFound) {
				return fmt.Errorf("browser command %q not found", args[0])
			}
			return fmt.Errorf("browser command %q: %v", args[0], err)
		}
		go func() { _ = c.Wait() }() // reap it whenever it ends
		return nil
	}
}
