// Package cfaccesstest runs a small Cloudflare Access gateway for tests of
// clients: the mock Access endpoints of package cfverify plus one protected
// route, /admin/, with the demo service token and user, and a scripted
// browser that completes the CLI login like a person would.
package cfaccesstest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"
	"gopkg.in/yaml.v3"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/cfverify"
)

// The demo application (docs/gateway.md, "The embedded demo").
const (
	TeamDomain   = "https://gwcurl-demo.cloudflareaccess.com"
	AUD          = "5f1a0b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeef"
	ClientID     = "demo.access"
	ClientSecret = "demo-cf-secret"
	UserEmail    = "demo@example.com"
	UserPassword = "demo-password"
)

// Server is the test gateway. Its /admin route (and everything under it)
// answers an Echo.
type Server struct {
	*httptest.Server
	Env *auth.Env

	mu       sync.Mutex
	received []http.Header
}

// Echo is what /admin/ answers after verification.
type Echo struct {
	Path     string         `json:"path"`
	Headers  http.Header    `json:"headers"` // as the origin received them
	Identity *auth.Identity `json:"identity"`
}

// New starts a server; it is closed when the test ends. now is the gateway
// clock (nil: time.Now).
func New(t testing.TB, now func() time.Time) *Server {
	t.Helper()
	if now == nil {
		now = time.Now
	}
	s := &Server{Env: &auth.Env{
		Now:    now,
		Users:  []auth.User{{Email: UserEmail, Password: UserPassword}},
		Shared: map[string]any{},
	}}
	var doc yaml.Node
	src := fmt.Sprintf("kind: cf_access\nteam_domain: %s\naud: %s\nservice_tokens:\n  - {client_id: %s, client_secret: %s}\n",
		TeamDomain, AUD, ClientID, ClientSecret)
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	v, err := cfverify.Factory(doc.Content[0], s.Env)
	if err != nil {
		t.Fatal(err)
	}
	mocks, err := cfverify.Mocks(s.Env)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, m := range mocks {
		mux.Handle(m.Prefix, m.Handler)
	}
	admin := func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.received = append(s.received, r.Header.Clone())
		s.mu.Unlock()
		id, err := v.Verify(w, r)
		if err != nil {
			var rej *auth.Rejection
			if !errors.As(err, &rej) {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			for k, vs := range rej.Header {
				w.Header()[k] = vs
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(rej.Status)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": http.StatusText(rej.Status), "reason": rej.Reason})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(Echo{Path: r.URL.Path, Headers: r.Header, Identity: id})
	}
	mux.HandleFunc("/admin", admin)
	mux.HandleFunc("/admin/", admin)
	s.Server = httptest.NewServer(mux)
	s.Env.BaseURL = s.URL
	t.Cleanup(s.Close)
	return s
}

// Received returns the headers of every request to /admin/ as the client
// sent them (before verification), in order.
func (s *Server) Received() []http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]http.Header(nil), s.received...)
}

// Browser returns a scripted browser for login.CFLoginOptions.Browser: it
// GETs the login URL, fills the form's username and password, and submits
// it, like a person would. Errors (a page without the form, a refused
// password) are reported through errs when it is not nil.
func Browser(client *http.Client, email, password string, errs chan<- error) func(string) error {
	report := func(err error) error {
		if errs != nil {
			errs <- err
		}
		return err
	}
	return func(loginURL string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, loginURL, nil)
		if err != nil {
			return report(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return report(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return report(fmt.Errorf("login page: %s", resp.Status))
		}
		action, fields, err := parseForm(resp.Body)
		if err != nil {
			return report(err)
		}
		if _, ok := fields["username"]; !ok {
			return report(errors.New("login page has no username field"))
		}
		if _, ok := fields["password"]; !ok {
			return report(errors.New("login page has no password field"))
		}
		fields.Set("username", email)
		fields.Set("password", password)
		target, err := resp.Request.URL.Parse(action)
		if err != nil {
			return report(err)
		}
		post, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), strings.NewReader(fields.Encode()))
		if err != nil {
			return report(err)
		}
		post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		presp, err := client.Do(post)
		if err != nil {
			return report(err)
		}
		defer presp.Body.Close()
		body, _ := io.ReadAll(presp.Body)
		if presp.StatusCode != http.StatusOK || !strings.Contains(string(body), "close this tab") {
			return report(fmt.Errorf("login form: %s", presp.Status))
		}
		return report(nil)
	}
}

// parseForm returns the first form's action and its input fields.
func parseForm(r io.Reader) (string, url.Values, error) {
	doc, err := html.Parse(r)
	if err != nil {
		return "", nil, err
	}
	var (
		action string
		found  bool
		fields = url.Values{}
	)
	var walk func(n *html.Node, inForm bool)
	walk = func(n *html.Node, inForm bool) {
		if n.Type == html.ElementNode && n.Data == "form" && !found {
			found, inForm = true, true
			action = attr(n, "action")
		}
		if inForm && n.Type == html.ElementNode && n.Data == "input" {
			if name := attr(n, "name"); name != "" {
				fields.Set(name, attr(n, "value"))
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, inForm)
		}
	}
	walk(doc, false)
	if !found {
		return "", nil, errors.New("login page has no form")
	}
	return action, fields, nil
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}
