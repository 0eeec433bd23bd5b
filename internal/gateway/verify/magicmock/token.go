package magicmock

import (
	"net/http"
	"strings"

	"github.com/gwcurl/gwcurl/internal/gateway/verify/jwtverify/idp"
)

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	b := p.base(r)
	w.Header().Set("Cache-Control", "public, max-age=300")
	idp.WriteJSON(w, http.StatusOK, map[string]any{
		"issuer":                                p.issuerFor(r),
		"magic_link_start_endpoint":             b + StartPath,
		"token_endpoint":                        b + TokenPath,
		"revocation_endpoint":                   b + RevokePath,
		"jwks_uri":                              b + JWKSPath,
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "email"},
		"token_endpoint_auth_methods_supported": []string{"none", "client_secret_basic", "client_secret_post"},
		"code_challenge_methods_supported":      []string{"S256"},
	})
}

func (p *Provider) jwks(w http.ResponseWriter, _ *http.Request) {
	b, err := idp.JWKS(p.keys)
	if err != nil {
		idp.WriteError(w, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(b)
}

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
		_, rt, sess, err := p.store.ExchangeCode(form.Get("code"), c.ID, form.Get("redirect_uri"), form.Get("code_verifier"), p.refreshTTL, "the link was sent for")
		if err != nil {
			idp.WriteError(w, err)
			return
		}
		resp, err := p.mint(r, c, sess)
		if err != nil {
			idp.WriteError(w, err)
			return
		}
		resp["refresh_token"] = rt
		idp.WriteJSON(w, http.StatusOK, resp)
	case "refresh_token":
		sess, err := p.store.RefreshSession(form.Get("refresh_token"), c.ID, p.env.Users)
		if err != nil {
			idp.WriteError(w, err)
			return
		}
		resp, err := p.mint(r, c, sess)
		if err != nil {
			idp.WriteError(w, err)
			return
		}
		idp.WriteJSON(w, http.StatusOK, resp)
	case "":
		idp.WriteError(w, idp.Errorf("invalid_request", "grant_type is required"))
	default:
		idp.WriteError(w, idp.Errorf("unsupported_grant_type", "grant_type %s is not supported (authorization_code, refresh_token)", gt))
	}
}

// mint issues an ID token (aud = client id, token_use id) and an access
// token (client_id, token_use access), as the jwt verifier expects.
func (p *Provider) mint(r *http.Request, c *idp.Client, sess *idp.Session) (map[string]any, error) {
	now := p.now()
	iss := p.issuerFor(r)
	email := strings.ToLower(sess.User.Email)
	sub := idp.SubjectFor(iss, email)
	exp := now.Add(p.tokenTTL)
	access := map[string]any{
		"iss": iss, "sub": sub, "client_id": c.ID, "token_use": "access", "scope": sess.Scope,
		"origin_jti": sess.ID, "auth_time": sess.AuthTime.Unix(), "iat": now.Unix(), "exp": exp.Unix(),
		"jti": idp.RandomToken(16), "email": sess.User.Email,
	}
	at, err := p.keys.Sign(access)
	if err != nil {
		return nil, err
	}
	id := map[string]any{
		"iss": iss, "sub": sub, "aud": c.ID, "token_use": "id", "email": sess.User.Email, "email_verified": true,
		"amr": []string{"email"}, "origin_jti": sess.ID, "auth_time": sess.AuthTime.Unix(), "iat": now.Unix(),
		"exp": exp.Unix(), "jti": idp.RandomToken(16), "at_hash": idp.AtHash(at),
	}
	if sess.User.Name != "" {
		id["name"] = sess.User.Name
	}
	it, err := p.keys.Sign(id)
	if err != nil {
		return nil, err
	}
	return map[string]any{"access_token": at, "id_token": it, "token_type": "Bearer", "expires_in": int(p.tokenTTL.Seconds())}, nil
}

func (p *Provider) revoke(w http.ResponseWriter, r *http.Request) {
	c, tok, ok := idp.RevocationRequest(w, r, p.clients)
	if !ok {
		return
	}
	if sess := p.store.LookupRefresh(tok); sess != nil {
		if sess.ClientID != c.ID {
			idp.WriteError(w, idp.Errorf("unauthorized_client", "the token was issued to another client"))
			return
		}
		p.store.Revoke(sess.ID)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}
