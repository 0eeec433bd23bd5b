package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
)

// TestExplainWithExpectJQOnTerminal: --explain diagnoses from the response
// body even when --expect-jq also keeps the body (the two readers are
// chained, not one replacing the other). On a terminal, as a person runs it.
func TestExplainWithExpectJQOnTerminal(t *testing.T) {
	gw := gatewaytest.StartDemo(t, gateway.Options{})
	for _, args := range [][]string{
		{"--explain", gw.URL + "/aws/echo"},
		{"--explain", "--expect-jq", ".ok", gw.URL + "/aws/echo"},
	} {
		f, ios, output := testFactory(t, nil)
		ios.SetTTY(false, true, true)
		code := Run(context.Background(), f, args)
		stdout, stderr := output()
		if want := map[int]int{2: ExitOK, 4: ExitFailure}[len(args)]; code != want {
			t.Errorf("%v: exit %d, want %d\nstderr:\n%s", args, code, want, stderr)
		}
		if !strings.Contains(stdout, "missing AWS SigV4 authentication") {
			t.Errorf("%v: body not shown:\n%s", args, stdout)
		}
		// The cause read from the gateway's body, not only from the status.
		if !strings.Contains(stderr, "cause: no SigV4 signature") {
			t.Errorf("%v: the diagnosis did not see the body:\n%s", args, stderr)
		}
	}
}
