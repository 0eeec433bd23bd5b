package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"

	"github.com/gwcurl/gwcurl/internal/login"
	"github.com/gwcurl/gwcurl/internal/profiles"
	"github.com/gwcurl/gwcurl/internal/sign"
)

func TestClassify(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	bg := context.Background()
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want int
	}{
		{"usage", bg, usagef("h", "bad"), ExitUsage},
		{"profile not found", bg, &profiles.NotFoundError{Name: "x"}, ExitUsage},
		{"config error", bg, &profiles.ConfigError{File: "f", Line: 1, Msg: "m"}, ExitUsage},
		{"credentials", bg, fmt.Errorf("wrapped: %w", sign.Credentialf("sigv4", "h", "no creds")), ExitCredentials},
		{"dns", bg, &url.Error{Op: "Get", URL: "http://x", Err: &net.OpError{Op: "dial", Err: &net.DNSError{Name: "x", IsNotFound: true}}}, ExitResolve},
		{"refused", bg, &url.Error{Op: "Get", URL: "http://x", Err: dial}, ExitConnect},
		{"timeout", bg, &url.Error{Op: "Get", URL: "http://x", Err: context.DeadlineExceeded}, ExitTimeout},
		{"interrupted", cancelled, &url.Error{Op: "Get", URL: "http://x", Err: context.Canceled}, ExitInterrupted},
		// Ctrl-C during a login refresh: the signer reports a credential
		// problem, but the person interrupted (130, not 4).
		{"interrupted refresh", cancelled, &sign.CredentialError{Kind: "cognito", Err: &login.LoginRequiredError{Profile: "p", Reason: "x"}}, ExitInterrupted},
		{"login required", bg, &sign.CredentialError{Kind: "cognito", Err: &login.LoginRequiredError{Profile: "p", Reason: "x"}}, ExitCredentials},
		// A refresh whose token endpoint refuses the connection keeps curl's 7.
		{"refresh refused", bg, fmt.Errorf("cognito: refreshing the login failed: %w", &url.Error{Op: "Post", URL: "http://x", Err: dial}), ExitConnect},
		{"http fail", bg, &ExitError{Code: ExitHTTP, Err: errors.New("HTTP 500")}, ExitHTTP},
		{"other", bg, errors.New("boom"), ExitFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := classify(tt.ctx, cleanErr(tt.err)); got != tt.want {
				t.Fatalf("classify(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}
