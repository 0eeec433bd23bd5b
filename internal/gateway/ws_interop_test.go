package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gwcurl/gwcurl/internal/demo"
	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
)

// Interop with independent implementations: the WebSocket client is Python's
// `websockets` (Debian's python3-websockets, which .ci/run installs), the
// SigV4 signature is botocore's. They may live in different interpreters
// (Debian's python3 and a pyenv one), so each runs in the first python3
// that can import it.

// pythonWith returns a python3 that imports module: /usr/bin/python3 (where
// Debian's packages are) first, then the one on PATH. Under CI=true a
// missing one fails the test.
func pythonWith(t *testing.T, module string) string {
	t.Helper()
	cands := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		cands = append(cands, p)
	}
	var errs []string
	for _, py := range cands {
		out, err := exec.Command(py, "-c", "import "+module).CombinedOutput()
		if err == nil {
			return py
		}
		errs = append(errs, fmt.Sprintf("%s: %v %s", py, err, strings.TrimSpace(string(out))))
	}
	msg := fmt.Sprintf("no python3 imports %s (%s)", module, strings.Join(errs, "; "))
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; required under CI=true", msg)
	}
	t.Skip(msg)
	return ""
}

// botocoreSign prints the headers botocore's SigV4Auth adds to GET url.
const botocoreSign = `
import json, sys
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
url, key, secret, service, region = sys.argv[1:6]
req = AWSRequest(method="GET", url=url)
SigV4Auth(Credentials(key, secret), service, region).add_auth(req)
print(json.dumps({k: v for k, v in req.headers.items()}))
`

// pyWSClient connects with extra headers, reads the first message, sends
// one and reads its echo; a refused handshake prints the status.
const pyWSClient = `
import asyncio, json, sys
import websockets
try:
    from websockets.asyncio.client import connect   # websockets >= 13
    kw = "additional_headers"
except ImportError:
    from websockets import connect                  # Debian 12: 10.x
    kw = "extra_headers"

def status_of(e):
    r = getattr(e, "response", None)
    if r is not None:
        return r.status_code
    return getattr(e, "status_code", 0)

async def main():
    url, headers, send = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    try:
        async with connect(url, open_timeout=10, **{kw: headers}) as ws:
            first = await ws.recv()
            await ws.send(send)
            echo = await ws.recv()
            print(json.dumps({"status": 101, "first": first, "echo": echo}))
    except (getattr(websockets.exceptions, "InvalidStatus", ()), websockets.exceptions.InvalidStatusCode) as e:
        print(json.dumps({"status": status_of(e)}))

asyncio.run(main())
`

type pyResult struct {
	Status int    `json:"status"`
	First  string `json:"first"`
	Echo   string `json:"echo"`
}

func runPy(t *testing.T, py string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, args...).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s: %v\n%s%s", py, err, out, stderr)
	}
	return out
}

func TestWSInteropPythonClientBotocoreSigned(t *testing.T) {
	wsPy := pythonWith(t, "websockets")
	boto := pythonWith(t, "botocore.auth")
	gw := gatewaytest.StartDemo(t, gateway.Options{})
	u := gw.URL + "/ws/chat"

	sign := func(secret string) string {
		return strings.TrimSpace(string(runPy(t, boto, "-c", botocoreSign, u, demo.AWSAccessKeyID, secret, "execute-api", demo.Region)))
	}
	client := func(headers string) pyResult {
		var res pyResult
		out := runPy(t, wsPy, "-c", pyWSClient, wsURL(u), headers, "hello from python")
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("python output %q: %v", out, err)
		}
		return res
	}

	signed := sign(demo.AWSSecretAccessKey)
	if !strings.Contains(signed, "AWS4-HMAC-SHA256 Credential="+demo.AWSAccessKeyID) {
		t.Fatalf("botocore headers: %s", signed)
	}
	res := client(signed)
	if res.Status != 101 || !strings.HasPrefix(res.First, `{"connectionId":"`) || res.Echo != "hello from python" {
		t.Fatalf("signed: %+v", res)
	}
	if res := client("{}"); res.Status != 403 {
		t.Fatalf("unsigned: %+v", res)
	}
	if res := client(sign(demo.IntruderSecretAccessKey)); res.Status != 403 {
		t.Fatalf("wrong secret: %+v", res)
	}
	// The gateway logged no upgrade for the refusals.
	upgrades := 0
	for _, e := range gw.Gateway.Requests() {
		if e.Status == 101 {
			upgrades++
		}
	}
	if upgrades != 1 {
		t.Fatalf("%d upgrades logged, want 1", upgrades)
	}
}
