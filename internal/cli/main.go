// Package cli is gwcurl's command line: cobra commands that map user intent to
// library calls. It is the only package that touches the process (os, exit
// codes) and cobra; it decides exit codes in one place, [Run].
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pkg/browser"

	"github.com/gwcurl/gwcurl/internal/iostreams"
	"github.com/gwcurl/gwcurl/internal/profiles"
	"github.com/gwcurl/gwcurl/internal/redact"
)

// Factory holds everything a command may use from the outside world. Only
// NewFactory touches the real process; tests build their own.
type Factory struct {
	IO        *iostreams.IOStreams
	Getenv    func(string) string
	Now       func() time.Time
	Transport http.RoundTripper // nil: a fresh *http.Transport per request command
	// Secrets returns the secret store (the OS keyring by default).
	Secrets func() profiles.SecretStore
	// Browser opens a URL for a person (login flows).
	Browser func(url string) error
	// Context is the process context (cancelled on SIGINT/SIGTERM).
	Context context.Context
}

// NewFactory wires the real process.
func NewFactory(ctx context.Context) *Factory {
	f := &Factory{
		IO:      iostreams.FromEnv(os.Stdin, os.Stdout, os.Stderr, os.Getenv),
		Getenv:  os.Getenv,
		Now:     time.Now,
		Context: ctx,
	}
	f.Secrets = func() profiles.SecretStore {
		if d := f.Getenv("GWCURL_SECRETS_DIR"); d != "" { // tests and explicit opt-in
			return profiles.FileStore{Dir: d}
		}
		return profiles.KeyringStore{Timeout: 3 * time.Second}
	}
	f.Browser = func(u string) error { return openBrowser(f.Getenv, u) }
	return f
}

// openBrowser opens u with $GWCURL_BROWSER or $BROWSER (the URL as its one
// argument), else pkg/browser.
func openBrowser(getenv func(string) string, u string) error {
	for _, k := range []string{"GWCURL_BROWSER", "BROWSER"} {
		if cmd := getenv(k); cmd != "" {
			return startCommand(cmd, u)
		}
	}
	browser.Stdout, browser.Stderr = io.Discard, io.Discard
	return browser.OpenURL(u)
}

// Main runs gwcurl with the process's arguments and returns the exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, NewFactory(ctx), os.Args[1:])
}

// Run executes one command line and maps its outcome to an exit code.
func Run(ctx context.Context, f *Factory, args []string) int {
	if f.Context == nil {
		f.Context = ctx
	}
	root := NewRootCmd(f)
	root.SetArgs(args)
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	code, hint := classify(ctx, err)
	var ee *ExitError
	if errors.As(err, &ee) && ee.Err == nil {
		return code // the command already reported
	}
	if code == ExitInterrupted {
		fmt.Fprintln(f.IO.ErrOut, "gwcurl: interrupted")
		return code
	}
	printError(f, err, hint)
	return code
}

// printError writes "gwcurl: error: …" and an optional "gwcurl: hint: …".
func printError(f *Factory, err error, hint string) {
	st := f.IO.ErrStyles()
	msg := oneLine(err.Error())
	fmt.Fprintf(f.IO.ErrOut, "%s %s\n", st.Err.Render("gwcurl: error:"), msg)
	if hint != "" {
		fmt.Fprintf(f.IO.ErrOut, "%s %s\n", st.Dim.Render("gwcurl: hint:"), hint)
	}
	if f.Getenv("GWCURL_DEBUG") != "" {
		for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
			fmt.Fprintf(f.IO.ErrOut, "gwcurl: debug: %T: %s\n", e, redact.URL(oneLine(e.Error())))
		}
	}
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return s
}

// configFile loads the config file named by the environment.
func (f *Factory) configFile() (*profiles.File, error) {
	p, err := profiles.ConfigPath(f.Getenv)
	if err != nil {
		return nil, err
	}
	return profiles.Load(p)
}

// resolver returns a secret resolver anchored at the config file's dir.
func (f *Factory) resolver(cfgPath string) *profiles.Resolver {
	r := &profiles.Resolver{Getenv: f.Getenv}
	if f.Secrets != nil {
		r.Store = f.Secrets()
	}
	if cfgPath != "" {
		r.BaseDir = filepath.Dir(cfgPath)
	}
	return r
}
