// Package turnstile is the gateway's mock of Cloudflare Turnstile's
// siteverify endpoint (https://developers.cloudflare.com/turnstile/), served
// at /_mock/turnstile/siteverify, with the published test secrets:
//
//	1x0000000000000000000000000000000AA  always passes (the dummy token)
//	2x0000000000000000000000000000000AA  always fails
//	3x0000000000000000000000000000000AA  answers token-already-spent
//
// Test secrets accept only the dummy token XXXX.DUMMY.TOKEN.XXXX, which
// production secrets refuse (as Cloudflare documents). For any other secret
// the mock plays the widget too: GET /_mock/turnstile/token issues a token
// that siteverify accepts once; a second use is timeout-or-duplicate.
package turnstile

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
)

// Published test values.
const (
	SecretPass  = "1x0000000000000000000000000000000AA"
	SecretFail  = "2x0000000000000000000000000000000AA"
	SecretSpent = "3x0000000000000000000000000000000AA"
	DummyToken  = "XXXX.DUMMY.TOKEN.XXXX"

	// Prefix is where the mock is mounted.
	Prefix = "/_mock/turnstile/"
	// tokenTTL is how long an issued token may be verified (Cloudflare: 300 s).
	tokenTTL = 300 * time.Second
	maxOpen  = 100000
)

// Tokens keeps the one-time state of issued tokens. The gateway may share
// it between instances (store: redis); the in-process one is the default.
type Tokens interface {
	// Issue records a new token valid until exp.
	Issue(token string, exp time.Time) error
	// Spend reports whether token was issued, unexpired and unspent, and
	// marks it spent.
	Spend(token string, now time.Time) (ok, spent bool, err error)
}

// Mocks builds the mock for a gateway: auth.Env.Shared["turnstile:tokens"]
// (a Tokens) when set, else in-process state.
func Mocks(env *auth.Env) ([]auth.Mock, error) {
	now := time.Now
	if env != nil && env.Now != nil {
		now = env.Now
	}
	var toks Tokens = &memTokens{m: map[string]memToken{}}
	if env != nil {
		if t, ok := env.Shared[SharedTokensKey].(Tokens); ok {
			toks = t
		}
	}
	m := &mock{now: now, tokens: toks}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+Prefix+"siteverify", m.siteverify)
	mux.HandleFunc("GET "+Prefix+"token", m.issue)
	return []auth.Mock{{Prefix: Prefix, Handler: mux}}, nil
}

// SharedTokensKey is the auth.Env.Shared key of a shared Tokens.
const SharedTokensKey = "turnstile:tokens"

type mock struct {
	now    func() time.Time
	tokens Tokens
}

// Result is siteverify's answer.
type Result struct {
	Success     bool     `json:"success"`
	ErrorCodes  []string `json:"error-codes"`
	ChallengeTS string   `json:"challenge_ts,omitempty"`
	Hostname    string   `json:"hostname,omitempty"`
	Action      string   `json:"action,omitempty"`
	CData       string   `json:"cdata,omitempty"`
}

func (m *mock) siteverify(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	var secret, token string
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var in struct {
			Secret   string `json:"secret"`
			Response string `json:"response"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			answer(w, http.StatusBadRequest, Result{ErrorCodes: []string{"bad-request"}})
			return
		}
		secret, token = in.Secret, in.Response
	} else {
		if err := r.ParseForm(); err != nil {
			answer(w, http.StatusBadRequest, Result{ErrorCodes: []string{"bad-request"}})
			return
		}
		secret, token = r.PostForm.Get("secret"), r.PostForm.Get("response")
	}
	ok := Result{Success: true, ErrorCodes: []string{}, ChallengeTS: m.now().UTC().Format(time.RFC3339), Hostname: "example.com"}
	fail := func(code string) { answer(w, http.StatusOK, Result{ErrorCodes: []string{code}}) }
	switch {
	case secret == "":
		fail("missing-input-secret")
	case token == "":
		fail("missing-input-response")
	case secret == SecretFail:
		fail("invalid-input-response")
	case secret == SecretSpent:
		fail("timeout-or-duplicate")
	case secret == SecretPass && token == DummyToken:
		answer(w, http.StatusOK, ok)
	case secret == SecretPass, token == DummyToken:
		// Test secrets accept only the dummy token; real ones refuse it.
		fail("invalid-input-response")
	default:
		valid, spent, err := m.tokens.Spend(token, m.now())
		switch {
		case err != nil:
			fail("internal-error")
		case spent:
			fail("timeout-or-duplicate")
		case !valid:
			fail("invalid-input-response")
		default:
			answer(w, http.StatusOK, ok)
		}
	}
}

// issue plays the widget: a fresh token for the page.
func (m *mock) issue(w http.ResponseWriter, _ *http.Request) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	tok := "0." + base64.RawURLEncoding.EncodeToString(b[:])
	if err := m.tokens.Issue(tok, m.now().Add(tokenTTL)); err != nil {
		http.Error(w, "turnstile mock: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(tok + "\n"))
}

func answer(w http.ResponseWriter, status int, res Result) {
	if res.ErrorCodes == nil {
		res.ErrorCodes = []string{}
	}
	b, _ := json.Marshal(res)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

type memToken struct {
	exp   time.Time
	spent bool
}

type memTokens struct {
	mu sync.Mutex
	m  map[string]memToken
}

func (t *memTokens) Issue(tok string, exp time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.m) >= maxOpen {
		now := exp.Add(-tokenTTL)
		for k, v := range t.m {
			if now.After(v.exp) {
				delete(t.m, k)
			}
		}
	}
	t.m[tok] = memToken{exp: exp}
	return nil
}

func (t *memTokens) Spend(tok string, now time.Time) (bool, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.m[tok]
	if !ok || now.After(v.exp) {
		return false, false, nil
	}
	if v.spent {
		return false, true, nil
	}
	v.spent = true
	t.m[tok] = v
	return true, false, nil
}
