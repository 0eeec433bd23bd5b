package login

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func loopbackGet(t *testing.T, rawURL string, host string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", rawURL, nil)
	if host != "" {
		req.Host = host
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestLoopbackOneShot: 127.0.0.1 only, exact path, the state checked, a
// foreign Host refused, one callback served, then closed.
func TestLoopbackOneShot(t *testing.T) {
	t.Parallel()
	log := &syncWriter{}
	lb, err := listenLoopback(0, "the-state", log)
	if err != nil {
		t.Fatal(err)
	}
	addr := lb.ln.Addr().(*net.TCPAddr)
	if !addr.IP.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Fatalf("listening on %v, want 127.0.0.1", addr)
	}
	if !strings.HasPrefix(lb.redirectURI, "http://127.0.0.1:") || !strings.HasSuffix(lb.redirectURI, "/callback") {
		t.Fatalf("redirect URI %q", lb.redirectURI)
	}
	// Not reachable on the machine's other addresses.
	if ifaces, err := net.InterfaceAddrs(); err == nil {
		for _, a := range ifaces {
			ipn, ok := a.(*net.IPNet)
			if !ok || ipn.IP.IsLoopback() || ipn.IP.To4() == nil {
				continue
			}
			c, err := net.DialTimeout("tcp", net.JoinHostPort(ipn.IP.String(), lb.port()), time.Second)
			if err == nil {
				c.Close()
				t.Errorf("the listener answers on %s", ipn.IP)
			}
		}
	}
	base := "http://" + lb.hostPort
	for _, tc := range []struct {
		url, host string
		status    int
	}{
		{base + "/", "", 404},
		{base + "/callback/", "", 404},
		{base + "/callback?code=c&state=wrong", "", 400},
		{base + "/callback?code=c", "", 400},
		{base + "/callback?code=c&state=the-state&state=the-state", "", 400},
		{base + "/callback?code=c&state=the-state", "evil.example:" + lb.port(), 400},
	} {
		if st, body := loopbackGet(t, tc.url, tc.host); st != tc.status {
			t.Errorf("%s (Host %q): %d, want %d: %s", tc.url, tc.host, st, tc.status, body)
		}
	}
	select {
	case r := <-lb.results:
		t.Fatalf("a refused request ended the wait: %+v", r)
	default:
	}
	if !strings.Contains(log.String(), "wrong state") {
		t.Errorf("no warning for the wrong state: %q", log.String())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	done := make(chan struct{})
	var code string
	go func() {
		defer close(done)
		code, err = lb.wait(ctx, nil, parseCallbackURL)
	}()
	st, body := loopbackGet(t, base+"/callback?code=the-code&state=the-state", "")
	if st != 200 || !strings.Contains(body, "login complete") {
		t.Errorf("callback: %d %s", st, body)
	}
	<-done
	if err != nil || code != "the-code" {
		t.Fatalf("wait: %q %v", code, err)
	}
	// A second callback is not taken.
	if st, _ := loopbackGet(t, base+"/callback?code=other&state=the-state", ""); st != http.StatusGone {
		t.Errorf("second callback: %d, want 410", st)
	}
	lb.close()
	if c, err := net.DialTimeout("tcp", lb.hostPort, time.Second); err == nil {
		c.Close()
		t.Error("the listener is still open after the login")
	}
}

func TestLoopbackErrorAndPaste(t *testing.T) {
	t.Parallel()
	lb, err := listenLoopback(0, "st", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer lb.close()
	lb.wantIss = "https://issuer.example"
	// Pasted lines: junk, another login's callback, a mix-up, then an error.
	paste := make(chan string, 4)
	paste <- "not a url"
	paste <- "http://" + lb.hostPort + "/callback?code=x&state=other"
	paste <- "http://" + lb.hostPort + "/callback?code=x&state=st&iss=" + url.QueryEscape("https://evil.example")
	_, err = lb.wait(t.Context(), paste, parseCallbackURL)
	if err == nil || !strings.Contains(err.Error(), "mix-up") {
		t.Fatalf("iss mismatch: %v", err)
	}

	lb2, _ := listenLoopback(0, "st", io.Discard)
	defer lb2.close()
	go loopbackGet(t, "http://"+lb2.hostPort+"/callback?error=access_denied&error_description=User+cancelled&state=st", "")
	_, err = lb2.wait(t.Context(), nil, parseCallbackURL)
	if err == nil || !strings.Contains(err.Error(), "access_denied (User cancelled)") {
		t.Fatalf("error callback: %v", err)
	}

	// A fixed port that is taken.
	if _, err := listenLoopback(lb2.ln.Addr().(*net.TCPAddr).Port, "s", io.Discard); err == nil || !strings.Contains(err.Error(), "redirect_port") {
		t.Errorf("busy redirect_port: %v", err)
	}
}

// syncWriter is a strings.Builder safe for the listener's goroutines.
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestReadLinesEndsWithTheLogin: once the login is over (its context is
// cancelled), a line nobody receives must not leave the reader goroutine
// blocked forever. synctest fails the test if any goroutine of the bubble is
// still blocked when it ends.
func TestReadLinesEndsWithTheLogin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pw.Close()
		ctx, cancel := context.WithCancel(t.Context())
		lines := readLines(ctx, pr)
		go pw.Write([]byte("first\nsecond\n")) //nolint:errcheck // the reader takes both lines in one read
		if got := <-lines; got != "first" {
			t.Fatalf("first line = %q", got)
		}
		cancel() // the login ended: nobody will receive "second"
		synctest.Wait()
		select {
		case l, ok := <-lines:
			if ok {
				t.Fatalf("after the login ended the reader still delivered %q", l)
			}
		default:
			t.Fatal("the reader goroutine is still blocked after the login ended")
		}
	})
}
