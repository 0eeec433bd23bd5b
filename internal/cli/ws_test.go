package cli

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

// wsServer starts a loopback WebSocket server running session for each
// connection; handshake, when not nil, may refuse the upgrade first.
func wsServer(t *testing.T, handshake func(w http.ResponseWriter, r *http.Request) bool, session func(ctx context.Context, c *websocket.Conn)) (string, chan http.Header) {
	t.Helper()
	seen := make(chan http.Header, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		if handshake != nil && !handshake(w, r) {
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow() //nolint:errcheck
		session(r.Context(), c)
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http"), seen
}

func echoSession(ctx context.Context, c *websocket.Conn) {
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		if err := c.Write(ctx, typ, data); err != nil {
			return
		}
	}
}

func runWSTest(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	f, ios, outputs := testFactory(t, nil)
	ios.In = strings.NewReader(stdin)
	code = Run(context.Background(), f, append([]string{"ws"}, args...))
	stdout, stderr = outputs()
	return code, stdout, stderr
}

func TestWSSendCountEcho(t *testing.T) {
	u, seen := wsServer(t, nil, echoSession)
	code, out, errOut := runWSTest(t, "", u+"/chat", "--send", "hello", "--send", `{"a":1}`, "--count", "2")
	if code != 0 || out != "hello\n{\"a\":1}\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	h := <-seen
	if h.Get("Sec-Websocket-Key") == "" || h.Get("Authorization") != "" || !strings.HasPrefix(h.Get("User-Agent"), "gwcurl/") {
		t.Fatalf("handshake headers: %v", h)
	}
}

func TestWSStdinLinesThenEOFCloses(t *testing.T) {
	u, _ := wsServer(t, nil, echoSession)
	code, out, errOut := runWSTest(t, "one\ntwo\r\n", u, "--count", "2", "-H", "X-Tenant: t1")
	if code != 0 || out != "one\ntwo\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// Without --count the end of stdin closes the connection normally.
	code, _, errOut = runWSTest(t, "", u)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestWSBinaryAsBase64(t *testing.T) {
	u, _ := wsServer(t, nil, func(ctx context.Context, c *websocket.Conn) {
		c.Write(ctx, websocket.MessageBinary, []byte{0, 1, 2, 0xff}) //nolint:errcheck
		c.Read(ctx)                                                  //nolint:errcheck // until the client closes
	})
	code, out, errOut := runWSTest(t, "", u, "--count", "1")
	if code != 0 || out != "AAEC/w==\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestWSRefusedHandshakeExit22(t *testing.T) {
	u, _ := wsServer(t, func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"error":"Forbidden","reason":"sigv4: signature does not match"}`)) //nolint:errcheck
		return false
	}, echoSession)
	code, out, errOut := runWSTest(t, "", u, "--send", "x")
	if code != ExitHTTP || out != "" || !strings.Contains(errOut, "HTTP 403 Forbidden: sigv4: signature does not match") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestWSAbnormalCloseExit1(t *testing.T) {
	u, _ := wsServer(t, nil, func(ctx context.Context, c *websocket.Conn) {
		c.Close(websocket.StatusInternalError, "origin failed") //nolint:errcheck
	})
	code, _, errOut := runWSTest(t, "", u, "--count", "1")
	if code != ExitFailure || !strings.Contains(errOut, "1011") || !strings.Contains(errOut, "origin failed") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestWSConnectRefusedExit7(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	code, _, errOut := runWSTest(t, "", "ws://"+addr+"/", "--send", "x")
	if code != ExitConnect {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestWSMaxTimeExit28(t *testing.T) {
	u, _ := wsServer(t, nil, func(ctx context.Context, c *websocket.Conn) {
		c.Read(ctx) //nolint:errcheck // silent until the client closes
	})
	code, _, errOut := runWSTest(t, "", u, "--count", "1", "-m", "0.3")
	if code != ExitTimeout {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestWSUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"ws://127.0.0.1:1/", "--count", "-1"},
		{"ftp://127.0.0.1:1/"},
		{"/chat"}, // no profile with a base_url
		{"ws://127.0.0.1:1/", "--presign", "--auth", "google"},
	} {
		code, _, errOut := runWSTest(t, "", args...)
		if code != ExitUsage || strings.Count(errOut, "gwcurl: error:") != 1 {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
}
