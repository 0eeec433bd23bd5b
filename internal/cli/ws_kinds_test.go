package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gwcurl/gwcurl/internal/demoflow"
	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
)

// TestWSEveryAuthKind: the handshake of gwcurl ws carries every auth kind's
// credential, and the gateway's verifier of that kind accepts it. The demo
// config gets, beside each demo route, a WebSocket route with the same auth
// block (/ws-aws beside /aws, ...), so each demo profile signs for it.
func TestWSEveryAuthKind(t *testing.T) {
	cfg, err := gateway.DemoConfig("")
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range append([]gateway.Route(nil), cfg.Routes...) {
		switch rc.Prefix {
		case "/aws", "/sts", "/run", "/admin", "/app", "/magic":
			cfg.Routes = append(cfg.Routes, gateway.Route{Prefix: "/ws-" + rc.Prefix[1:], Auth: rc.Auth, Upstream: "builtin:ws-echo"})
		}
	}
	gw := gatewaytest.Start(t, cfg, gateway.Options{})
	conf := filepath.Join(t.TempDir(), "config.yaml")
	if err := demoflow.WriteProfiles(conf, gw.URL); err != nil {
		t.Fatal(err)
	}
	f, _, _ := testFactory(t, map[string]string{"GWCURL_CONFIG": conf})
	d := &demoEnv{base: gw.URL, env: map[string]string{}}
	for _, k := range []string{"GWCURL_CONFIG", "HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "GWCURL_SECRETS_DIR", "CI",
		"AWS_EC2_METADATA_DISABLED", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"} {
		d.env[k] = f.Getenv(k)
	}
	for _, p := range []string{"demo-cognito", "demo-magic"} {
		if err := f.demoLogin(context.Background(), d, p); err != nil {
			t.Fatalf("login %s: %v", p, err)
		}
	}
	for prefix, profile := range map[string]string{"/ws-aws": "demo-sigv4", "/ws-sts": "demo-sts", "/ws-run": "demo-google",
		"/ws-admin": "demo-cf", "/ws-app": "demo-cognito", "/ws-magic": "demo-magic"} {
		t.Run(profile, func(t *testing.T) {
			args := []string{"-p", profile, "ws", "$GW" + prefix + "/chat", "--send", profile, "--count", "1"}
			if profile == "demo-sigv4" {
				args = append(args, "--presign") // query auth, the browser's way
			}
			out, errOut, code := f.demoRun(context.Background(), d, "", args...)
			if code != 0 || string(out) != profile+"\n" {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			// Without the profile's credential the same route refuses.
			out, errOut, code = f.demoRun(context.Background(), d, "", "-p", "demo-public", "ws", "$GW"+prefix+"/chat", "--send", "x")
			if code != ExitHTTP || len(out) != 0 || !strings.Contains(string(errOut), "handshake refused: HTTP 40") {
				t.Fatalf("unauthenticated: exit %d, stdout %q, stderr %q", code, out, errOut)
			}
		})
	}
}
