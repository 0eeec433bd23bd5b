package gateway_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/coder/websocket"

	"github.com/gwcurl/gwcurl/internal/awsv4"
	"github.com/gwcurl/gwcurl/internal/demo"
	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
)

// sigv4Header signs method url (empty body) for execute-api with the demo
// key (or secret, when not "") and returns the headers to send.
func sigv4Header(t testing.TB, method, rawURL, secret string) http.Header {
	t.Helper()
	if secret == "" {
		secret = demo.AWSSecretAccessKey
	}
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Content-Sha256", awsv4.EmptySHA256)
	creds := aws.Credentials{AccessKeyID: demo.AWSAccessKeyID, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, awsv4.EmptySHA256, "execute-api", demo.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	req.Header.Del("Host")
	return req.Header
}

func wsURL(base string) string { return "ws" + strings.TrimPrefix(base, "http") }

func dialWS(t testing.TB, rawURL string, h http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return websocket.Dial(ctx, rawURL, &websocket.DialOptions{HTTPHeader: h})
}

func readText(t testing.TB, c *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	typ, data, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if typ != websocket.MessageText {
		t.Fatalf("got a %v message", typ)
	}
	return string(data)
}

func writeText(t testing.TB, c *websocket.Conn, s string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// connectDemoWS opens a signed connection to the demo's /ws and returns it
// with its announced connection id.
func connectDemoWS(t testing.TB, base string) (*websocket.Conn, string) {
	t.Helper()
	u := base + "/ws/chat"
	c, resp, err := dialWS(t, wsURL(u), sigv4Header(t, http.MethodGet, u, ""))
	if err != nil {
		t.Fatalf("dial: %v (response %v)", err, resp)
	}
	t.Cleanup(func() { c.CloseNow() }) //nolint:errcheck
	var ann struct {
		ConnectionID string `json:"connectionId"`
	}
	if err := json.Unmarshal([]byte(readText(t, c)), &ann); err != nil || ann.ConnectionID == "" {
		t.Fatalf("first message is not the announcement: %v", err)
	}
	if got := resp.Header.Get("X-Connection-Id"); got != ann.ConnectionID {
		t.Fatalf("X-Connection-Id %q, announced %q", got, ann.ConnectionID)
	}
	return c, ann.ConnectionID
}

func TestWSDemoEchoSigned(t *testing.T) {
	gw := gatewaytest.StartDemo(t, gateway.Options{})
	c, _ := connectDemoWS(t, gw.URL)
	for _, m := range []string{"hello", `{"action":"x"}`, strings.Repeat("é", 1000)} {
		writeText(t, c, m)
		if got := readText(t, c); got != m {
			t.Fatalf("echo %q, want %q", got, m)
		}
	}
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
}

func TestWSDemoRefusesBadHandshakes(t *testing.T) {
	gw := gatewaytest.StartDemo(t, gateway.Options{})
	u := gw.URL + "/ws/chat"
	cases := map[string]http.Header{
		"unsigned":     {},
		"wrong secret": sigv4Header(t, http.MethodGet, u, demo.IntruderSecretAccessKey),
		"other path":   sigv4Header(t, http.MethodGet, gw.URL+"/ws/other", ""),
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			c, resp, err := dialWS(t, wsURL(u), h)
			if err == nil {
				c.CloseNow() //nolint:errcheck
				t.Fatal("upgraded")
			}
			if resp == nil || (resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusUnauthorized) {
				t.Fatalf("response %v, err %v", resp, err)
			}
			if resp.Header.Get("Upgrade") != "" {
				t.Fatal("a refusal carries Upgrade")
			}
		})
	}
}

func TestWSConnectionsAPI(t *testing.T) {
	gw := gatewaytest.StartDemo(t, gateway.Options{})
	c, id := connectDemoWS(t, gw.URL)
	api := gw.URL + "/ws/@connections/"
	do := func(method, url, body string, signed bool) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		if signed {
			sreq, _ := http.NewRequest(method, url, strings.NewReader(body))
			hash := awsv4.EmptySHA256
			if body != "" {
				hash = sha256Hex(body)
			}
			sreq.Header.Set("X-Amz-Content-Sha256", hash)
			creds := aws.Credentials{AccessKeyID: demo.AWSAccessKeyID, SecretAccessKey: demo.AWSSecretAccessKey}
			if err := v4.NewSigner().SignHTTP(context.Background(), creds, sreq, hash, "execute-api", demo.Region, time.Now()); err != nil {
				t.Fatal(err)
			}
			req.Header = sreq.Header
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	if resp, _ := do(http.MethodPost, api+id, "hi", false); resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned push: %s", resp.Status)
	}
	if resp, body := do(http.MethodPost, api+id, "hi", true); resp.StatusCode != http.StatusOK {
		t.Fatalf("push: %s %s", resp.Status, body)
	}
	if got := readText(t, c); got != "hi" {
		t.Fatalf("pushed %q", got)
	}
	resp, body := do(http.MethodGet, api+id, "", true)
	var info struct {
		ConnectionID string            `json:"connectionId"`
		ConnectedAt  time.Time         `json:"connectedAt"`
		Identity     map[string]string `json:"identity"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &info) != nil || info.ConnectionID != id ||
		info.ConnectedAt.IsZero() || info.Identity["sourceIp"] != "127.0.0.1" || info.Identity["principal"] != demo.AWSARN {
		t.Fatalf("describe: %s %s", resp.Status, body)
	}
	if resp, body := do(http.MethodPost, api+"nosuchconnection", "hi", true); resp.StatusCode != http.StatusGone {
		t.Fatalf("unknown id: %s %s", resp.Status, body)
	}
	if resp, body := do(http.MethodDelete, api+id, "", true); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %s %s", resp.Status, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err := c.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("after DELETE: %v", err)
	}
	if resp, _ := do(http.MethodGet, api+id, "", true); resp.StatusCode != http.StatusGone {
		t.Fatalf("describe after delete: %s", resp.Status)
	}
}

func TestWSCrossOriginRefused(t *testing.T) {
	gw := gatewaytest.StartDemo(t, gateway.Options{})
	u := gw.URL + "/ws/chat"
	h := sigv4Header(t, http.MethodGet, u, "")
	h.Set("Origin", "http://evil.example")
	_, resp, err := dialWS(t, wsURL(u), h)
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin handshake: %v %v", resp, err)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "evil.example") {
		t.Fatalf("reason: %s", body)
	}
	// Without a CORS policy, which lets simple cross-origin requests
	// through (the browser keeps their answers from the page), a
	// cross-origin WebSocket is still refused: browsers enforce nothing.
	open := gatewaytest.StartYAML(t, "routes:\n  - {prefix: /a, auth: none, upstream: builtin:ws-echo}\n", gateway.Options{})
	_, resp, err = dialWS(t, wsURL(open.URL)+"/a", http.Header{"Origin": {"http://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin handshake without cors: %v %v", resp, err)
	}
	body, _ = io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "cross-origin handshake") {
		t.Fatalf("reason: %s", body)
	}
	c, _, err := dialWS(t, wsURL(open.URL)+"/a", http.Header{"Origin": {open.URL}})
	if err != nil {
		t.Fatalf("same-origin handshake: %v", err)
	}
	c.CloseNow() //nolint:errcheck
	// An origin the gateway allows (the demo's cors.allow_origins) may.
	h = sigv4Header(t, http.MethodGet, u, "")
	h.Set("Origin", "http://localhost:3000")
	c, resp, err = dialWS(t, wsURL(u), h)
	if err != nil {
		t.Fatalf("allowed origin: %v %v", resp, err)
	}
	c.CloseNow() //nolint:errcheck
}

func TestWSPlainRequestGets426(t *testing.T) {
	gw := gatewaytest.StartDemo(t, gateway.Options{})
	req, _ := http.NewRequest(http.MethodGet, gw.URL+"/ws/chat", nil)
	req.Header = sigv4Header(t, http.MethodGet, gw.URL+"/ws/chat", "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("status %s", resp.Status)
	}
}

func TestWSLimits(t *testing.T) {
	gw := gatewaytest.StartYAML(t, `
routes:
  - prefix: /small
    auth: none
    upstream: builtin:ws-echo
    max_message: 1KiB
  - prefix: /idle
    auth: none
    upstream: builtin:ws-echo
    idle_timeout: 300ms
  - prefix: /limited
    auth: none
    upstream: builtin:ws-echo
    rate_limit: {rps: 0.001, burst: 1}
  - prefix: /short
    auth: none
    upstream: builtin:ws-echo
    max_duration: 300ms
`, gateway.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, _, err := dialWS(t, wsURL(gw.URL)+"/small", nil)
	if err != nil {
		t.Fatal(err)
	}
	writeText(t, c, strings.Repeat("a", 1024))
	if got := readText(t, c); len(got) != 1024 {
		t.Fatalf("echo of 1 KiB: %d bytes", len(got))
	}
	writeText(t, c, strings.Repeat("a", 1025))
	if _, _, err := c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("over max_message: %v", err)
	}

	c, _, err = dialWS(t, wsURL(gw.URL)+"/idle", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Read(ctx)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusGoingAway || !strings.Contains(ce.Reason, "idle") {
		t.Fatalf("idle: %v", err)
	}

	c, _, err = dialWS(t, wsURL(gw.URL)+"/short", nil)
	if err != nil {
		t.Fatal(err)
	}
	for { // busy, never idle: the lifetime ends it
		if err = c.Write(ctx, websocket.MessageText, []byte("x")); err == nil {
			_, _, err = c.Read(ctx)
		}
		if err != nil {
			break
		}
	}
	if !errors.As(err, &ce) || ce.Code != websocket.StatusGoingAway || !strings.Contains(ce.Reason, "lifetime") {
		t.Fatalf("max_duration: %v", err)
	}

	c, _, err = dialWS(t, wsURL(gw.URL)+"/limited", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow() //nolint:errcheck
	if _, resp, err := dialWS(t, wsURL(gw.URL)+"/limited", nil); err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second handshake over the rate limit: %v %v", resp, err)
	}
}

// An origin behind ws:// or http:// receives the connection id, the
// verified identity and the messages; its messages reach the client.
func TestWSProxiesToOrigin(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"chat.v1"}})
		if err != nil {
			return
		}
		defer c.CloseNow() //nolint:errcheck
		hello, _ := json.Marshal(map[string]string{
			"id": r.Header.Get("X-Connection-Id"), "identity": r.Header.Get("X-Gateway-Identity"),
			"auth": r.Header.Get("Authorization") + r.Header.Get("X-Amz-Date") + r.Header.Get("X-Amz-Content-Sha256"), "path": r.URL.Path,
		})
		ctx := context.Background()
		c.Write(ctx, websocket.MessageText, hello) //nolint:errcheck
		for {
			typ, data, err := c.Read(ctx)
			if err != nil {
				return
			}
			c.Write(ctx, typ, append([]byte("origin:"), data...)) //nolint:errcheck
		}
	}))
	defer origin.Close()
	for _, scheme := range []string{"ws", "http"} {
		t.Run(scheme, func(t *testing.T) {
			gw := gatewaytest.StartYAML(t, `
routes:
  - prefix: /chat
    auth: {kind: sigv4, service: execute-api, region: us-east-1}
    strip_prefix: true
    upstream: `+scheme+strings.TrimPrefix(origin.URL, "http")+`/base
aws_keys:
  - {access_key_id: `+demo.AWSAccessKeyID+`, secret_access_key: `+demo.AWSSecretAccessKey+`, arn: "`+demo.AWSARN+`"}
`, gateway.Options{})
			u := gw.URL + "/chat/room"
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, resp, err := websocket.Dial(ctx, wsURL(u), &websocket.DialOptions{HTTPHeader: sigv4Header(t, http.MethodGet, u, ""), Subprotocols: []string{"chat.v1"}})
			if err != nil {
				t.Fatalf("dial: %v %v", err, resp)
			}
			defer c.CloseNow() //nolint:errcheck
			if c.Subprotocol() != "chat.v1" {
				t.Fatalf("subprotocol %q", c.Subprotocol())
			}
			var hello map[string]string
			if err := json.Unmarshal([]byte(readText(t, c)), &hello); err != nil {
				t.Fatal(err)
			}
			if hello["id"] == "" || hello["id"] != resp.Header.Get("X-Connection-Id") || !strings.Contains(hello["identity"], demo.AWSARN) ||
				hello["auth"] != "" || hello["path"] != "/base/room" {
				t.Fatalf("origin saw %v", hello)
			}
			writeText(t, c, "ping")
			if got := readText(t, c); got != "origin:ping" {
				t.Fatalf("got %q", got)
			}
			if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestWSConfigErrors(t *testing.T) {
	for text, want := range map[string]string{
		"routes:\n  - {prefix: /a, auth: none, upstream: builtin:ws-echo, max_mesage: 1KiB}\n":          "max_message",
		"routes:\n  - {prefix: /a, auth: none, upstream: builtin:ws-echo, allow_origins: [evil]}\n":     "allow_origins",
		"routes:\n  - {prefix: /a, auth: none, upstream: builtin:ws-echo, idle_timeout: soon}\n":        "idle_timeout",
		"routes:\n  - {prefix: /a, auth: none, upstream: builtin:ws-nope}\n":                            "builtin:ws-echo",
		"routes:\n  - {prefix: /a, auth: none, upstream: builtin:ws-echo, announce_connection_id: 3}\n": "announce_connection_id",
	} {
		_, err := gateway.ParseConfig("t.yaml", []byte(text), "")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %s", text, err, want)
		}
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Closing the gateway closes its connections with 1001.
func TestWSGatewayCloseClosesConnections(t *testing.T) {
	gw := gatewaytest.StartDemo(t, gateway.Options{})
	c, _ := connectDemoWS(t, gw.URL)
	go gw.Gateway.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err := c.Read(ctx)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusGoingAway || !strings.Contains(ce.Reason, "shutting down") {
		t.Fatalf("after Close: %v", err)
	}
}
