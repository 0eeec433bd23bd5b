// Command bareproxy is the yardstick of bench/gateway.sh's latency figures:
// Go's bare httputil.ReverseProxy (NewSingleHostReverseProxy, nothing
// else) in front of -upstream. It listens, prints its base URL as its first
// stdout line, and serves until SIGINT/SIGTERM.
//
//	go run ./bench/cmd/bareproxy -upstream URL [-listen ADDR] [-max-idle-per-host N]
//
// -max-idle-per-host sets the transport's idle pool per host (Go's default
// is 2); bench/gateway.sh gives it the gateway's own default (256) so that
// both proxies keep their upstream connections under 10 workers and the
// figure compares proxying, not reconnecting.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bareproxy:", err)
		os.Exit(1)
	}
}

func run() error {
	upstream := flag.String("upstream", "", "the http:// origin to proxy to (required)")
	listen := flag.String("listen", "127.0.0.1:0", "listen address")
	maxIdle := flag.Int("max-idle-per-host", 0, "idle upstream connections kept per host (0: Go's default, 2)")
	flag.Parse()

	target, err := url.Parse(*upstream)
	if err != nil || target.Scheme != "http" || target.Host == "" {
		return fmt.Errorf("-upstream %q: want an http:// URL with a host", *upstream)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	if *maxIdle > 0 {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns = *maxIdle * 4
		t.MaxIdleConnsPerHost = *maxIdle
		rp.Transport = t
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("http://%s\n", ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
