package cli

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// pyEchoServer is Python websockets' echo server on a free loopback port; it
// prints the port, then echoes text and binary messages.
const pyEchoServer = `
import asyncio, sys
import websockets

async def echo(ws, path=None):
    async for m in ws:
        await ws.send(m)

async def main():
    async with websockets.serve(echo, "127.0.0.1", 0) as srv:
        print(srv.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()

asyncio.run(main())
`

// pythonWebsockets returns a python3 that imports websockets (Debian's
// python3-websockets is in /usr/bin/python3's path); under CI=true a
// missing one fails.
func pythonWebsockets(t *testing.T) string {
	t.Helper()
	cands := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		cands = append(cands, p)
	}
	for _, py := range cands {
		if exec.Command(py, "-c", "import websockets").Run() == nil {
			return py
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no python3 imports websockets (install python3-websockets); required under CI=true")
	}
	t.Skip("no python3 imports websockets (install python3-websockets)")
	return ""
}

// TestWSInteropPythonEchoServer: gwcurl ws talks to an independent
// implementation, in both directions, over stdin lines and --send.
func TestWSInteropPythonEchoServer(t *testing.T) {
	py := pythonWebsockets(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c", pyEchoServer)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait() //nolint:errcheck // killed by cancel
	defer cancel()
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			port <- strings.TrimSpace(sc.Text())
		}
	}()
	var u string
	select {
	case p := <-port:
		u = fmt.Sprintf("ws://127.0.0.1:%s/echo", p)
	case <-time.After(20 * time.Second):
		t.Fatal("the Python echo server did not start")
	}

	msgs := []string{"hello", `{"action":"sendmessage","data":"é ✓"}`, strings.Repeat("x", 70000)}
	code, out, errOut := runWSTest(t, "", append([]string{u, "--count", "3", "--ping", "10ms"},
		"--send", msgs[0], "--send", msgs[1], "--send", msgs[2])...)
	if code != 0 || out != strings.Join(msgs, "\n")+"\n" {
		t.Fatalf("--send: exit %d, %d bytes out, stderr %q", code, len(out), errOut)
	}
	code, out, errOut = runWSTest(t, "a\nb b\n", u, "--count", "2")
	if code != 0 || out != "a\nb b\n" {
		t.Fatalf("stdin: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
