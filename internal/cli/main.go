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
	"sync"
	"syscall"
	"time"

	"github.com/pkg/browser"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gwcurl/gwcurl/internal/iostreams"
	"github.com/gwcurl/gwcurl/internal/profiles"
	"github.com/gwcurl/gwcurl/internal/redact"
	"github.com/gwcurl/gwcurl/internal/sign"
)

// Factory holds everything a command may use from the outside world. Only
// NewFactory touches the real process; tests build their own.
type Factory struct {
	IO        *iostreams.IOStreams
	Getenv    func(string) string
	Now       func() time.Time
	Transport http.RoundTripper // nil: a fresh *http.Transport per request command
	// Secrets returns the secret store: the OS keyring when one answers,
	// else 0600 files (docs/configuration.md, "Secret store"). Tests and
	// the demo put their own in its place.
	Secrets func() profiles.SecretStore

	secretsOnce sync.Once
	secrets     profiles.SecretStore
	// Browser opens a URL for a person (login flows).
	Browser func(url string) error
	// Context is the process context (cancelled on SIGINT/SIGTERM).
	Context context.Context

	// clockSkew is the SigV4 clock offset measured in this process, kept
	// for every later request (and every step of `gwcurl run`).
	clockSkewOnce sync.Once
	clockSkew     *sign.ClockSkew
}

// ClockSkew is the process's SigV4 clock-skew correction (docs/auth/sigv4.md, "Clock skew").
func (f *Factory) ClockSkew() *sign.ClockSkew {
	f.clockSkewOnce.Do(func() { f.clockSkew = &sign.ClockSkew{} })
	return f.clockSkew
}

// NewFactory wires the real process.
func NewFactory(ctx context.Context) *Factory {
	f := &Factory{
		IO:      iostreams.FromEnv(os.Stdin, os.Stdout, os.Stderr, os.Getenv),
		Getenv:  os.Getenv,
		Now:     time.Now,
		Context: ctx,
	}
	f.Secrets = f.defaultSecrets
	f.Browser = func(u string) error { return openBrowser(f.Getenv, u) }
	return f
}

// secretStoreMode is GWCURL_SECRET_STORE, checked (exit 2 when unknown).
// GWCURL_SECRETS_DIR alone means the file store in that directory: it
// isolates tests and the demo from the user's keyring.
func (f *Factory) secretStoreMode() (string, error) {
	m := f.Getenv("GWCURL_SECRET_STORE")
	switch m {
	case "", profiles.StoreAuto:
		if f.Getenv("GWCURL_SECRETS_DIR") != "" {
			return profiles.StoreFile, nil
		}
		return profiles.StoreAuto, nil
	case profiles.StoreKeyring, profiles.StoreFile:
		return m, nil
	}
	return "", usagef("set GWCURL_SECRET_STORE to keyring, file or auto, or unset it", "GWCURL_SECRET_STORE=%q is not a secret store", m)
}

// defaultSecrets builds the process's secret store once, so a keyring that
// failed to answer is not asked again by later calls.
func (f *Factory) defaultSecrets() profiles.SecretStore {
	f.secretsOnce.Do(func() {
		mode, err := f.secretStoreMode()
		if err != nil {
			mode = profiles.StoreAuto // the root command refuses it before any use
		}
		f.secrets = f.newSecretStore(mode)
	})
	return f.secrets
}

// newSecretStore returns a store of the given mode over the user's
// keyring and secrets directory.
func (f *Factory) newSecretStore(mode string) profiles.SecretStore {
	dir, err := profiles.SecretsDir(f.Getenv)
	if err != nil {
		dir = ""
	}
	s, err := profiles.NewSecretStore(profiles.SecretStoreOptions{
		Mode:    mode,
		Keyring: profiles.KeyringStore{Timeout: 3 * time.Second},
		Dir:     dir,
		OnFallback: func(dir string, cause error) {
			fmt.Fprintf(f.IO.ErrOut, "gwcurl: no OS keyring answered (%s); keeping secrets in 0600 files under %s (GWCURL_SECRET_STORE chooses)\n",
				oneLine(redact.URL(cause.Error())), dir)
		},
	})
	if err != nil {
		return profiles.FileStore{Dir: dir}
	}
	return s
}

// fileSecrets is the file store that --insecure-storage forces.
func (f *Factory) fileSecrets() profiles.SecretStore { return f.newSecretStore(profiles.StoreFile) }

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
	if hasCurlConfig(args) && isRequestCommand(root, args) {
		fs := pflag.NewFlagSet("gwcurl", pflag.ContinueOnError)
		fs.AddFlagSet(root.Flags())
		fs.AddFlagSet(root.PersistentFlags())
		expanded, err := expandCurlConfig(args, fs, f.IO.In)
		if err != nil {
			code, hint := classify(ctx, err)
			printError(f, err, hint)
			return code
		}
		args = expanded
	}
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

// hasCurlConfig reports whether args use -K/--config.
func hasCurlConfig(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "--config" || strings.HasPrefix(a, "--config=") || strings.HasPrefix(a, "-K") {
			return true
		}
	}
	return false
}

// isRequestCommand reports whether args run the request command itself
// (where -K is curl's), not a subcommand with a --config of its own.
func isRequestCommand(root *cobra.Command, args []string) bool {
	c, _, err := root.Find(args)
	return err != nil || c == root
}
