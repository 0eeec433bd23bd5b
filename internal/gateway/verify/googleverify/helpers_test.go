package googleverify

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
)

// gw is a minimal gateway for tests: the mock Google endpoints plus routes
// protected by google_id verifiers; the origin answers the identity and the
// headers it received, like builtin:echo.
type gw struct {
	*httptest.Server
	env    *auth.Env
	state  *State
	mux    *http.ServeMux
	tokens atomic.Int64 // requests to the token endpoint
	now    atomic.Pointer[time.Time]
}

func newGW(t *testing.T, mockYAML string) *gw {
	t.Helper()
	g := &gw{mux: http.NewServeMux()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.Server = httptest.NewUnstartedServer(g.mux)
	g.Server.Listener.Close()
	g.Server.Listener = ln
	g.env = &auth.Env{
		BaseURL: "http://" + ln.Addr().String(),
		Now: func() time.Time {
			if p := g.now.Load(); p != nil {
				return *p
			}
			return time.Now()
		},
		Shared: map[string]any{},
	}
	if mockYAML != "" {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(mockYAML), &n); err != nil {
			t.Fatal(err)
		}
		g.env.Shared["mock:google"] = n.Content[0]
	}
	mocks, err := Mocks(g.env)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mocks {
		h := m.Handler
		if m.Prefix == mockPrefix {
			h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == TokenPath {
					g.tokens.Add(1)
				}
				m.Handler.ServeHTTP(w, r)
			})
		}
		g.mux.Handle(m.Prefix, h)
	}
	if g.state, err = StateFor(g.env); err != nil {
		t.Fatal(err)
	}
	g.Start()
	t.Cleanup(g.Close)
	return g
}

// route mounts a google_id verifier built from authYAML at prefix.
func (g *gw) route(t *testing.T, prefix, authYAML string) {
	t.Helper()
	v, err := Factory(yamlNode(t, strings.ReplaceAll(authYAML, "${base_url}", g.URL)), g.env)
	if err != nil {
		t.Fatal(err)
	}
	g.mux.Handle(prefix+"/", http.StripPrefix(prefix, protect(v)))
}

func protect(v auth.Verifier) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := v.Verify(w, r)
		if err != nil {
			rej, ok := err.(*auth.Rejection)
			if !ok {
				http.Error(w, err.Error(), 500)
				return
			}
			for k, vs := range rej.Header {
				w.Header()[k] = vs
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(rej.Status)
			json.NewEncoder(w).Encode(map[string]any{"error": http.StatusText(rej.Status), "reason": rej.Reason, "details": rej.Details})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"identity": id, "headers": r.Header, "path": r.URL.Path})
	})
}

func yamlNode(t testing.TB, s string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(s), &n); err != nil {
		t.Fatal(err)
	}
	return n.Content[0]
}

type echoResp struct {
	Error    string              `json:"error"`
	Reason   string              `json:"reason"`
	Identity *auth.Identity      `json:"identity"`
	Headers  map[string][]string `json:"headers"`
}

// call sends GET url with header: value and decodes the answer.
func call(t *testing.T, url string, hdr http.Header) (int, echoResp) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e echoResp
	json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e
}

func bearerHdr(tok string) http.Header {
	return http.Header{"Authorization": {"Bearer " + tok}}
}

func newEnvForConfig() *auth.Env {
	return &auth.Env{BaseURL: "http://127.0.0.1:1", Shared: map[string]any{}}
}
