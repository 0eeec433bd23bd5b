package cli

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/gwcurl/gwcurl/internal/demoflow"
	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/sign"
)

type gatewayOptions struct {
	config      string
	listen      string
	env         string
	profilesOut string
	clockOffset time.Duration
	quiet       bool
}

func newCmdGateway(f *Factory) *cobra.Command {
	o := &gatewayOptions{}
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Serve a local mock of the edge gateway that verifies every credential kind",
		Long: doc(`
			Serve the mock gateway: routes with SigV4, STS identity, Google ID token,
			Cloudflare Access and JWT verification, mock identity providers under
			/_mock/, and the edge policies (CORS, size limit, rate limit, header
			sanitization). With no --config it serves the embedded demo (docs/gateway.md).

			The first line on stdout is the base URL, nothing else; the request log
			goes to stderr as JSON lines. SIGINT or SIGTERM shuts it down gracefully.
		`),
		Example: doc(`
			$ gwcurl gateway --profiles-out demo.yaml
			http://127.0.0.1:40123
			$ GWCURL_CONFIG=demo.yaml gwcurl -p demo-sigv4 POST /items name=x
			$ gwcurl gateway --clock-offset 10m    # reproduce clock skew
		`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.runGateway(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.config, "config", "", "gateway config YAML (default: the embedded demo)")
	fl.StringVar(&o.listen, "listen", "127.0.0.1:0", "address to listen on")
	fl.StringVar(&o.env, "env", "", "select an environments: overlay of the config")
	fl.StringVar(&o.profilesOut, "profiles-out", "", "write a gwcurl config with one profile per demo route to FILE")
	fl.DurationVar(&o.clockOffset, "clock-offset", 0, "run the gateway clock off by this much (e.g. 10m, -5m)")
	fl.BoolVar(&o.quiet, "quiet", false, "do not write the request log to stderr")
	return cmd
}

func (f *Factory) runGateway(ctx context.Context, o *gatewayOptions) error {
	var (
		cfg *gateway.Config
		err error
	)
	if o.config != "" {
		cfg, err = gateway.LoadConfig(o.config, o.env)
	} else {
		cfg, err = gateway.DemoConfig(o.env)
	}
	if err != nil {
		return gatewayConfigErr(err)
	}
	now := f.Now
	if o.clockOffset != 0 {
		base, off := f.Now, o.clockOffset
		now = func() time.Time { return base().Add(off) }
	}
	opts := gateway.Options{Now: now, Getenv: f.Getenv, OriginAuth: sign.OriginTransport}
	if !o.quiet {
		// One write(2) for many log lines under load; flushed at shutdown.
		logw := gateway.NewBatchWriter(f.IO.ErrOut)
		defer logw.Close()
		opts.Log = logw
	}
	if f.Getenv("GOGC") == "" {
		debug.SetGCPercent(gateway.GCPercent)
	}
	srv, err := gateway.Listen(o.listen, cfg, opts)
	if err != nil {
		var ce *gateway.ConfigError
		if errors.As(err, &ce) {
			return gatewayConfigErr(err)
		}
		var se *gateway.StoreError
		if errors.As(err, &se) {
			return &ExitError{Code: ExitConnect, Err: err, Hint: "is redis-server running at " + se.Addr + "? Without store: the gateway keeps its state in process"}
		}
		return &HintedError{Err: err, Hint: "is another process using that address? --listen 127.0.0.1:0 picks a free port"}
	}
	if o.profilesOut != "" {
		if err := demoflow.WriteProfiles(o.profilesOut, srv.URL); err != nil {
			srv.Shutdown(context.Background()) //nolint:errcheck // already failing
			return fmt.Errorf("cannot write profiles: %w", err)
		}
	}
	fmt.Fprintln(f.IO.Out, srv.URL)
	if o.profilesOut != "" {
		fmt.Fprintf(f.IO.ErrOut, "gwcurl: gateway profiles written to %s (use GWCURL_CONFIG=%s)\n", o.profilesOut, o.profilesOut)
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	return nil
}

func gatewayConfigErr(err error) error {
	return &UsageError{Err: err, Hint: "see docs/gateway.md for the config format"}
}
