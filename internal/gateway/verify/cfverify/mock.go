package cfverify

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/nacl/box"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
)

// Paths of the mock Access endpoints, as on a real Access-protected host.
const (
	MockPrefix   = "/cdn-cgi/access/"
	CertsPath    = "/cdn-cgi/access/certs"
	CLIPath      = "/cdn-cgi/access/cli"
	TransferPath = "/cdn-cgi/access/transfer/"
)

// HeaderServicePublicKey carries the transfer service's box public key on a
// transfer response, as login.cloudflareaccess.org does.
const HeaderServicePublicKey = "Service-Public-Key"

// Mocks returns the mock Access endpoints, mounted at /cdn-cgi/access/:
//
//	GET  /cdn-cgi/access/certs            the team's keys: JWKS "keys" (current and
//	                                      previous), "public_cert", "public_certs"
//	GET  /cdn-cgi/access/cli?aud=&token=  the CLI login page (a username/password form
//	                                      checked against the gateway's users)
//	POST /cdn-cgi/access/cli              the form; on success the app token is
//	                                      encrypted to the CLI's key and kept for it
//	GET  /cdn-cgi/access/transfer/<key>   the CLI's long poll for that token
//
// The real transfer service is https://login.cloudflareaccess.org/transfer/<key>;
// here it lives on the gateway, so a login never leaves the machine.
func Mocks(env *auth.Env) ([]auth.Mock, error) {
	st, err := sharedState(env)
	if err != nil {
		return nil, err
	}
	m := &mock{st: st, env: env}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+CertsPath, m.certs)
	mux.HandleFunc("GET "+CLIPath, m.loginPage)
	mux.HandleFunc("POST "+CLIPath, m.login)
	mux.HandleFunc("GET "+TransferPath+"{key}", m.transfer)
	mux.HandleFunc(MockPrefix, func(w http.ResponseWriter, r *http.Request) {
		jsonError(w, http.StatusNotFound, "no mock Cloudflare Access endpoint at "+r.URL.Path)
	})
	return []auth.Mock{{Prefix: MockPrefix, Handler: mux}}, nil
}

type mock struct {
	st  *state
	env *auth.Env
}

func (m *mock) certs(w http.ResponseWriter, r *http.Request) {
	doc, err := m.st.certs()
	if err != nil {
		jsonError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_ = json.NewEncoder(w).Encode(doc)
}

// loginRequest is the query (GET) or form (POST) of the CLI login page.
type loginRequest struct {
	app         *application
	key         *[32]byte
	keyString   string // canonical base64url of key: the transfer id
	redirectURL string
}

func (m *mock) parseLogin(r *http.Request) (*loginRequest, string) {
	aud := strings.ToLower(r.FormValue("aud"))
	app, ok := m.st.app(aud)
	if !ok {
		return nil, "unknown application: aud does not name a cf_access route of this gateway"
	}
	key, err := decodeKey(r.FormValue("token"))
	if err != nil {
		return nil, "token: " + err.Error()
	}
	return &loginRequest{
		app:         app,
		key:         key,
		keyString:   base64.URLEncoding.EncodeToString(key[:]),
		redirectURL: r.FormValue("redirect_url"),
	}, ""
}

// decodeKey decodes the CLI's box public key (base64url, padded as
// cloudflared sends it, or not).
func decodeKey(s string) (*[32]byte, error) {
	s = strings.TrimSpace(s)
	b, err := base64.URLEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawURLEncoding.DecodeString(s)
	}
	if err != nil || len(b) != 32 {
		return nil, errors.New("want the CLI's 32-byte public key in base64url")
	}
	var k [32]byte
	copy(k[:], b)
	return &k, nil
}

type pageData struct {
	Team, AUD, Token, Redirect, Error, Email string
}

var loginTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Cloudflare Access (gwcurl mock)</title></head>
<body>
<h1>Sign in to {{.Team}}</h1>
<p>Cloudflare Access (gwcurl mock gateway): sign in to send an application token to the command line.</p>
{{if .Error}}<p role="alert"><strong>{{.Error}}</strong></p>{{end}}
<form method="post" action="/cdn-cgi/access/cli">
<input type="hidden" name="aud" value="{{.AUD}}">
<input type="hidden" name="token" value="{{.Token}}">
<input type="hidden" name="redirect_url" value="{{.Redirect}}">
<p><label>Email <input type="email" name="username" value="{{.Email}}" autocomplete="username" required></label></p>
<p><label>Password <input type="password" name="password" autocomplete="current-password" required></label></p>
<p><button type="submit">Sign in</button></p>
</form>
</body></html>
`))
})

var doneTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("done").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Signed in (gwcurl mock)</title></head>
<body>
<h1>Success</h1>
<p>You are signed in as {{.Email}}. The command line has received its token: you can close this tab.</p>
</body></html>
`))
})

func (m *mock) loginPage(w http.ResponseWriter, r *http.Request) {
	lr, problem := m.parseLogin(r)
	if lr == nil {
		jsonError(w, http.StatusBadRequest, problem)
		return
	}
	page(w, http.StatusOK, loginTmpl(), pageData{
		Team: strings.TrimPrefix(lr.app.teamDomain, "https://"), AUD: lr.app.aud,
		Token: lr.keyString, Redirect: lr.redirectURL,
	})
}

func (m *mock) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		jsonError(w, http.StatusBadRequest, "cannot read the login form")
		return
	}
	lr, problem := m.parseLogin(r)
	if lr == nil {
		jsonError(w, http.StatusBadRequest, problem)
		return
	}
	email, ok := m.checkUser(r.PostFormValue("username"), r.PostFormValue("password"))
	if !ok {
		page(w, http.StatusUnauthorized, loginTmpl(), pageData{
			Team: strings.TrimPrefix(lr.app.teamDomain, "https://"), AUD: lr.app.aud,
			Token: lr.keyString, Redirect: lr.redirectURL,
			Email: r.PostFormValue("username"), Error: "Incorrect email or password.",
		})
		return
	}
	payload, err := m.seal(r.Context(), lr, principal{email: email, secret: sha256.Sum256([]byte(r.PostFormValue("password")))})
	if err != nil {
		jsonError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if err := m.st.complete(lr.keyString, payload); err != nil {
		jsonError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	page(w, http.StatusOK, doneTmpl(), pageData{Email: email})
}

// checkUser finds the gateway user with this email and password, comparing
// every password in constant time.
func (m *mock) checkUser(email, password string) (string, bool) {
	got := sha256.Sum256([]byte(password))
	match := ""
	for _, u := range m.env.Users {
		want := sha256.Sum256([]byte(u.Password))
		ok := subtle.ConstantTimeCompare(got[:], want[:]) == 1
		if ok && strings.EqualFold(strings.TrimSpace(email), u.Email) && match == "" {
			match = u.Email
		}
	}
	return match, match != ""
}

// transferPayload is what the transfer service hands the CLI, decrypted.
type transferPayload struct {
	AppToken string `json:"app_token"`
	OrgToken string `json:"org_token"`
}

// seal hands the user their session's app token (minted once per session,
// see appToken), mints an org token and encrypts both to the CLI's key with
// NaCl box (the transfer service's key pair, a random nonce in front), as
// cloudflared expects: base64(nonce || box).
func (m *mock) seal(ctx context.Context, lr *loginRequest, who principal) (string, error) {
	app, err := m.st.appToken(ctx, lr.app, who)
	if err != nil {
		return "", err
	}
	appTok := app.token
	orgTok, err := m.st.mintOrg(lr.app, who.email)
	if err != nil {
		return "", err
	}
	msg, err := json.Marshal(transferPayload{AppToken: appTok, OrgToken: orgTok})
	if err != nil {
		return "", err
	}
	_, priv, err := m.st.boxKeys()
	if err != nil {
		return "", err
	}
	var nonce [24]byte
	if _, err := io.ReadFull(rand.Reader, nonce[:]); err != nil {
		return "", err
	}
	sealed := box.Seal(nonce[:], msg, &nonce, lr.key, priv)
	return base64.StdEncoding.EncodeToString(sealed), nil
}

// transfer is the CLI's long poll: it answers the sealed tokens once the
// login is done (200, once), or 404 after holding the request for a while.
func (m *mock) transfer(w http.ResponseWriter, r *http.Request) {
	key, err := decodeKey(r.PathValue("key"))
	if err != nil {
		jsonError(w, http.StatusBadRequest, "transfer id: "+err.Error())
		return
	}
	id := base64.URLEncoding.EncodeToString(key[:])
	t, err := m.st.pending(id)
	if err != nil {
		jsonError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	payload, ok := m.st.collect(id, t)
	if !ok {
		timer := time.NewTimer(m.st.hold)
		select {
		case <-t.ready:
		case <-timer.C:
		case <-r.Context().Done():
		}
		timer.Stop()
		payload, ok = m.st.collect(id, t)
	}
	if !ok {
		jsonError(w, http.StatusNotFound, "login not completed yet; keep polling")
		return
	}
	pub, _, err := m.st.boxKeys()
	if err != nil {
		jsonError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set(HeaderServicePublicKey, base64.URLEncoding.EncodeToString(pub[:]))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, payload)
}

func page(w http.ResponseWriter, status int, t *template.Template, d pageData) {
	// No scripts, styles or frames; the form posts only to this origin.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = t.Execute(w, d)
}

func jsonError(w http.ResponseWriter, status int, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": http.StatusText(status), "reason": reason})
}
