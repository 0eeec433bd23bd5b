package cognitomock

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gwcurl/gwcurl/internal/gateway/verify/jwtverify/idp"
)

// authRequest is a validated authorization request.
type authRequest struct {
	client      *idp.Client
	redirectURI string
	state       string
	scope       string
	nonce       string
	challenge   string
}

// authError is a refused authorization request. With redirect set the
// error goes back to the client's callback (RFC 6749 §4.1.2.1); without, the
// client or callback could not be trusted and the error is shown to the
// person instead.
type authError struct {
	redirect    bool
	code        string
	description string
}

// parseAuthorize validates the query of /oauth2/authorize. The client and
// the redirect URI are checked first: until both are known good, nothing
// is ever redirected (an open redirector otherwise).
func (p *Provider) parseAuthorize(q url.Values) (*authRequest, *authError) {
	for k, v := range q {
		if len(v) > 1 {
			return nil, &authError{code: "invalid_request", description: "parameter " + k + " appears more than once"}
		}
	}
	cid := q.Get("client_id")
	if cid == "" {
		return nil, &authError{code: "invalid_request", description: "client_id is required"}
	}
	c, ok := p.clients[cid]
	if !ok {
		return nil, &authError{code: "invalid_client", description: "no app client " + cid + " in this user pool"}
	}
	ru := q.Get("redirect_uri")
	if ru == "" {
		return nil, &authError{code: "invalid_request", description: "redirect_uri is required"}
	}
	if !idp.MatchRedirect(c.CallbackURLs, ru) {
		return nil, &authError{code: "redirect_mismatch", description: "redirect_uri " + ru + " is not a callback URL of app client " + cid}
	}
	ar := &authRequest{client: c, redirectURI: ru, state: q.Get("state"), nonce: q.Get("nonce")}
	fail := func(code, desc string) (*authRequest, *authError) {
		return ar, &authError{redirect: true, code: code, description: desc}
	}
	switch rt := q.Get("response_type"); rt {
	case "code":
	case "":
		return fail("invalid_request", "response_type is required")
	default:
		return fail("unsupported_response_type", "response_type "+rt+" is not supported; use code")
	}
	scope, err := idp.ScopeSubset(q.Get("scope"), c.Scopes)
	if err != nil {
		return fail("invalid_scope", err.Error())
	}
	ar.scope = scope
	ar.challenge = q.Get("code_challenge")
	method := q.Get("code_challenge_method")
	switch {
	case ar.challenge == "":
		return fail("invalid_request", "code_challenge is required (PKCE with S256)")
	case method != "S256":
		return fail("invalid_request", "code_challenge_method must be S256 (plain is not supported)")
	case !idp.ValidChallenge(ar.challenge):
		return fail("invalid_request", "code_challenge must be the base64url SHA-256 of the code verifier (43 characters)")
	}
	if len(ar.state) > 2048 || len(ar.nonce) > 2048 {
		return fail("invalid_request", "state or nonce is too long")
	}
	return ar, nil
}

// authorize serves the login page (GET) and checks the submitted form
// (POST). The form posts back to the same URL, query included, and every
// parameter is validated again on the POST.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	ar, aerr := p.parseAuthorize(r.URL.Query())
	if aerr != nil {
		if !aerr.redirect {
			idp.WritePage(w, http.StatusBadRequest, idp.Page{Title: "Sign-in error", Error: aerr.code + ": " + aerr.description,
				Note: "The app's sign-in request is not valid, so you are not sent back to it."})
			return
		}
		redirectError(w, r, ar, aerr.code, aerr.description)
		return
	}
	action := AuthorizePath + "?" + r.URL.RawQuery
	page := idp.Page{Title: "Sign in to " + ar.client.ID, Form: true, Action: action,
		Note: "gwcurl mock Cognito user pool: every account and token here is local and fake."}
	if r.Method == http.MethodGet {
		idp.WritePage(w, http.StatusOK, page)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		page.Error = "The form could not be read."
		idp.WritePage(w, http.StatusBadRequest, page)
		return
	}
	username := strings.TrimSpace(r.PostForm.Get("username"))
	u := idp.CheckPassword(p.env.Users, username, r.PostForm.Get("password"))
	if u == nil {
		page.Error = "Incorrect username or password."
		page.Username = username
		idp.WritePage(w, http.StatusUnauthorized, page)
		return
	}
	code, err := p.store.IssueCode(idp.Grant{
		ClientID: ar.client.ID, RedirectURI: ar.redirectURI, Challenge: ar.challenge,
		Scope: ar.scope, Nonce: ar.nonce, State: ar.state, User: *u, AuthTime: p.now(),
	})
	if err != nil {
		redirectError(w, r, ar, "temporarily_unavailable", err.Error())
		return
	}
	http.Redirect(w, r, idp.AppendQuery(ar.redirectURI, url.Values{"code": {code}, "state": {ar.state}}), http.StatusFound)
}

func redirectError(w http.ResponseWriter, r *http.Request, ar *authRequest, code, desc string) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, idp.AppendQuery(ar.redirectURI, url.Values{"error": {code}, "error_description": {desc}, "state": {ar.state}}), http.StatusFound)
}

// logout is Cognito's /logout: it ends the hosted UI session (the mock
// keeps none) and sends the browser to a registered sign-out URL.
func (p *Provider) logout(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c, ok := p.clients[q.Get("client_id")]
	if !ok {
		idp.WritePage(w, http.StatusBadRequest, idp.Page{Title: "Sign-out error", Error: "unknown or missing client_id"})
		return
	}
	lu := q.Get("logout_uri")
	if lu == "" || !idp.MatchRedirect(c.LogoutURLs, lu) {
		idp.WritePage(w, http.StatusBadRequest, idp.Page{Title: "Sign-out error", Error: "logout_uri is missing or is not a sign-out URL of app client " + c.ID})
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, lu, http.StatusFound)
}
