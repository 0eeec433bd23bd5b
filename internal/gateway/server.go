package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server is a gateway listening on a TCP address, for `gwcurl demo` and
// callers that want a running gateway without wiring net/http themselves.
type Server struct {
	// URL is the base URL ("http://127.0.0.1:PORT").
	URL     string
	Gateway *Gateway

	srv      *http.Server
	done     chan error
	waitOnce sync.Once
	serveErr error
}

// wait returns Serve's result once it has stopped.
func (s *Server) wait() error {
	s.waitOnce.Do(func() { s.serveErr = <-s.done })
	if errors.Is(s.serveErr, http.ErrServerClosed) {
		return nil
	}
	return s.serveErr
}

// Listen starts cfg on addr ("" means 127.0.0.1:0, a free loopback port).
// opts.BaseURL defaults to the listener's URL, so ${base_url} in the config
// names the real port. The server has production timeouts (headers 10s,
// idle 2m; no whole-request timeout, so large uploads and /delay work).
func Listen(addr string, cfg *Config, opts Options) (*Server, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("gateway: listen on %s: %w", addr, err)
	}
	url := "http://" + ln.Addr().String()
	if opts.BaseURL == "" {
		opts.BaseURL = url
	}
	g, err := New(cfg, opts)
	if err != nil {
		ln.Close()
		return nil, err
	}
	s := &Server{URL: url, Gateway: g, done: make(chan error, 1)}
	s.srv = NewHTTPServer(g)
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// NewHTTPServer wraps h in an http.Server with the gateway's timeouts.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
	}
}

// Shutdown stops accepting connections and waits for in-flight requests
// (bounded by ctx).
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	s.Gateway.Close()
	if serveErr := s.wait(); err == nil {
		err = serveErr
	}
	return err
}

// Close stops the server at once.
func (s *Server) Close() error {
	err := s.srv.Close()
	s.Gateway.Close()
	if serveErr := s.wait(); err == nil {
		err = serveErr
	}
	return err
}
