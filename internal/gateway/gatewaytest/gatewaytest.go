// Package gatewaytest starts in-process mock gateways for tests, on a free
// loopback port, with the gateway's base URL known before it is built (so
// ${base_url} in the config names the real port).
package gatewaytest

import (
	"net/http/httptest"
	"testing"

	"github.com/gwcurl/gwcurl/internal/gateway"
)

// Server is a running test gateway.
type Server struct {
	*httptest.Server
	Gateway *gateway.Gateway
}

// Start serves cfg on 127.0.0.1:0 until the test ends. opts.BaseURL is set
// to the server's URL when empty.
func Start(tb testing.TB, cfg *gateway.Config, opts gateway.Options) *Server {
	tb.Helper()
	srv := httptest.NewUnstartedServer(nil)
	if opts.BaseURL == "" {
		opts.BaseURL = "http://" + srv.Listener.Addr().String()
	}
	g, err := gateway.New(cfg, opts)
	if err != nil {
		srv.Close()
		tb.Fatalf("gatewaytest: %v", err)
	}
	srv.Config.Handler = g
	srv.Start()
	tb.Cleanup(func() {
		srv.Close()
		g.Close()
	})
	return &Server{Server: srv, Gateway: g}
}

// StartDemo serves the embedded demo config (docs/gateway.md, "The embedded demo").
func StartDemo(tb testing.TB, opts gateway.Options) *Server {
	tb.Helper()
	cfg, err := gateway.DemoConfig("")
	if err != nil {
		tb.Fatalf("gatewaytest: %v", err)
	}
	return Start(tb, cfg, opts)
}

// StartYAML serves a config given as YAML text (named "test.yaml" in errors).
func StartYAML(tb testing.TB, yamlText string, opts gateway.Options) *Server {
	tb.Helper()
	cfg, err := gateway.ParseConfig("test.yaml", []byte(yamlText), "")
	if err != nil {
		tb.Fatalf("gatewaytest: %v", err)
	}
	return Start(tb, cfg, opts)
}
