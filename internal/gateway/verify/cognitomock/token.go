package cognitomock

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gwcurl/gwcurl/internal/gateway/verify/jwtverify/idp"
)

// token is POST /oauth2/token.
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	form, err := idp.ParseForm(w, r)
	if err != nil {
		idp.WriteError(w, err)
		return
	}
	c, err := idp.AuthenticateClient(r, form, p.clients)
	if err != nil {
		idp.WriteError(w, err)
		return
	}
	switch gt := form.Get("grant_type"); gt {
	case "authorization_code":
		p.codeGrant(w, r, c, form.Get("code"), form.Get("redirect_uri"), form.Get("code_verifier"))
	case "refresh_token":
		p.refreshGrant(w, r, c, form.Get("refresh_token"))
	case "":
		idp.WriteError(w, idp.Errorf("invalid_request", "grant_type is required"))
	default:
		idp.WriteError(w, idp.Errorf("unsupported_grant_type", "grant_type %s is not supported (authorization_code, refresh_token)", gt))
	}
}

func (p *Provider) codeGrant(w http.ResponseWriter, r *http.Request, c *idp.Client, code, redirectURI, verifier string) {
	g, rt, sess, err := p.store.ExchangeCode(code, c.ID, redirectURI, verifier, p.refreshTTL, "of the authorization request")
	if err != nil {
		idp.WriteError(w, err)
		return
	}
	resp, err := p.mint(r, c, sess, g.Nonce)
	if err != nil {
		idp.WriteError(w, err)
		return
	}
	resp["refresh_token"] = rt
	idp.WriteJSON(w, http.StatusOK, resp)
}

func (p *Provider) refreshGrant(w http.ResponseWriter, r *http.Request, c *idp.Client, rt string) {
	sess, err := p.store.RefreshSession(rt, c.ID, p.env.Users)
	if err != nil {
		idp.WriteError(w, err)
		return
	}
	resp, err := p.mint(r, c, sess, "")
	if err != nil {
		idp.WriteError(w, err)
		return
	}
	// Without refresh-token rotation Cognito returns no new refresh token:
	// the client keeps using the one it has.
	idp.WriteJSON(w, http.StatusOK, resp)
}

// mint issues an access token, and an ID token when the scope has openid,
// with Cognito's claims.
func (p *Provider) mint(r *http.Request, c *idp.Client, sess *idp.Session, nonce string) (map[string]any, error) {
	now := p.now()
	iss := p.issuerFor(r)
	sub := idp.SubjectFor(iss, strings.ToLower(sess.User.Email))
	exp := now.Add(p.tokenTTL)
	eventID := idp.SubjectFor(idp.RandomToken(16), "event")
	access := map[string]any{
		"sub":        sub,
		"iss":        iss,
		"version":    2,
		"client_id":  c.ID,
		"origin_jti": sess.ID,
		"event_id":   eventID,
		"token_use":  "access",
		"scope":      sess.Scope,
		"auth_time":  sess.AuthTime.Unix(),
		"exp":        exp.Unix(),
		"iat":        now.Unix(),
		"jti":        idp.SubjectFor(idp.RandomToken(16), "jti"),
		"username":   sess.User.Email,
	}
	at, err := p.keys.Sign(access)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": int(p.tokenTTL.Seconds())}
	if idp.HasScope(sess.Scope, "openid") {
		id := map[string]any{
			"at_hash":          idp.AtHash(at),
			"sub":              sub,
			"iss":              iss,
			"cognito:username": sess.User.Email,
			"origin_jti":       sess.ID,
			"aud":              c.ID,
			"event_id":         eventID,
			"token_use":        "id",
			"auth_time":        sess.AuthTime.Unix(),
			"exp":              exp.Unix(),
			"iat":              now.Unix(),
			"jti":              idp.SubjectFor(idp.RandomToken(16), "jti"),
		}
		if idp.HasScope(sess.Scope, "email") {
			id["email"] = sess.User.Email
			id["email_verified"] = true
		}
		if idp.HasScope(sess.Scope, "profile") && sess.User.Name != "" {
			id["name"] = sess.User.Name
		}
		if nonce != "" {
			id["nonce"] = nonce
		}
		it, err := p.keys.Sign(id)
		if err != nil {
			return nil, err
		}
		out["id_token"] = it
	}
	return out, nil
}

// userInfo is /oauth2/userInfo: the user of a live access token issued
// with the openid scope.
func (p *Provider) userInfo(w http.ResponseWriter, r *http.Request) {
	deny := func(desc string) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		idp.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": desc})
	}
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer`)
		idp.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_request", "error_description": "send the access token as Authorization: Bearer"})
		return
	}
	claims, err := p.verifyOwn(r.Context(), tok)
	if err != nil {
		deny(err.Error())
		return
	}
	if claims.TokenUse != "access" {
		deny("userInfo needs an access token")
		return
	}
	if claims.Issuer != p.issuerFor(r) {
		deny("the access token is not from this user pool")
		return
	}
	if !p.now().Before(claims.exp()) {
		deny("Access token is expired")
		return
	}
	if !idp.HasScope(claims.Scope, "openid") {
		deny("the access token has no openid scope")
		return
	}
	if !p.store.Live(claims.OriginJTI) {
		deny("Access token has been revoked")
		return
	}
	u := idp.FindUser(p.env.Users, claims.Username)
	if u == nil {
		deny("User does not exist.")
		return
	}
	out := map[string]any{"sub": claims.Sub, "username": u.Email}
	if idp.HasScope(claims.Scope, "email") {
		out["email"] = u.Email
		out["email_verified"] = "true" // Cognito answers a string here
	}
	if idp.HasScope(claims.Scope, "profile") && u.Name != "" {
		out["name"] = u.Name
	}
	idp.WriteJSON(w, http.StatusOK, out)
}

type ownClaims struct {
	Issuer    string  `json:"iss"`
	Sub       string  `json:"sub"`
	TokenUse  string  `json:"token_use"`
	Scope     string  `json:"scope"`
	OriginJTI string  `json:"origin_jti"`
	Username  string  `json:"username"`
	Exp       float64 `json:"exp"`
}

func (c *ownClaims) exp() time.Time { return time.Unix(int64(c.Exp), 0) }

func (p *Provider) verifyOwn(ctx context.Context, tok string) (*ownClaims, error) {
	payload, err := p.keys.VerifySignature(ctx, tok)
	if err != nil {
		return nil, errors.New("the token is not signed by this user pool")
	}
	var c ownClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, errors.New("the token's claims cannot be read")
	}
	return &c, nil
}

// revoke is /oauth2/revoke (RFC 7009): it revokes a refresh token, and with
// it the access tokens minted from its session (as Cognito does for its own
// endpoints). An unknown token is not an error.
func (p *Provider) revoke(w http.ResponseWriter, r *http.Request) {
	c, tok, ok := idp.RevocationRequest(w, r, p.clients)
	if !ok {
		return
	}
	sess := p.store.LookupRefresh(tok)
	switch {
	case sess == nil && strings.Count(tok, ".") == 2:
		idp.WriteError(w, idp.Errorf("unsupported_token_type", "only refresh tokens can be revoked"))
		return
	case sess == nil:
		// RFC 7009 §2.2: an invalid token is answered 200.
	case sess.ClientID != c.ID:
		idp.WriteError(w, idp.Errorf("unauthorized_client", "the token was issued to another client"))
		return
	default:
		p.store.Revoke(sess.ID)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}
