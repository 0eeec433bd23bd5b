package idp

import (
	"errors"
	"net/http"
	"time"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
)

// ExchangeCode redeems a single-use authorization code for client clientID
// (RFC 6749 §4.1.3 with PKCE S256, RFC 7636), checking that the code was
// issued to that client for that redirect URI and that the verifier matches
// the challenge, then starts a refresh session bound to the code (so a
// replayed code can revoke what it produced). origin names where the
// redirect URI came from in the error ("the authorization request").
// Errors are *OAuthError, ready for WriteError.
func (s *Store) ExchangeCode(code, clientID, redirectURI, verifier string, refreshTTL time.Duration, origin string) (*Grant, string, *Session, error) {
	if code == "" {
		return nil, "", nil, Errorf("invalid_request", "code is required")
	}
	g, err := s.RedeemCode(code, func(g *Grant) error {
		switch {
		case g.ClientID != clientID:
			return Errorf("invalid_grant", "the code was issued to another client")
		case redirectURI != g.RedirectURI:
			return Errorf("invalid_grant", "redirect_uri differs from the one %s", origin)
		case verifier == "":
			return Errorf("invalid_grant", "code_verifier is required (PKCE)")
		case !VerifyS256(g.Challenge, verifier):
			return Errorf("invalid_grant", "PKCE verification failed: code_verifier does not match the code_challenge")
		}
		return nil
	})
	if err != nil {
		var oe *OAuthError
		if !errors.As(err, &oe) {
			err = Errorf("invalid_grant", "%s", err.Error())
		}
		return nil, "", nil, err
	}
	rt, sess, err := s.NewSession(Session{ClientID: clientID, Scope: g.Scope, User: g.User, AuthTime: g.AuthTime}, refreshTTL)
	if err != nil {
		return nil, "", nil, &OAuthError{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Description: err.Error()}
	}
	s.BindCode(code, sess.ID)
	return g, rt, sess, nil
}

// RefreshSession looks up a refresh token issued to client clientID and
// reloads its user from users (a deleted user cannot refresh). Errors are
// *OAuthError, ready for WriteError.
func (s *Store) RefreshSession(refreshToken, clientID string, users []auth.User) (*Session, error) {
	if refreshToken == "" {
		return nil, Errorf("invalid_request", "refresh_token is required")
	}
	sess, err := s.Session(refreshToken)
	if err != nil {
		var oe *OAuthError
		if errors.As(err, &oe) { // the shared store is unavailable
			return nil, oe
		}
		return nil, Errorf("invalid_grant", "%s", err.Error())
	}
	if sess.ClientID != clientID {
		return nil, Errorf("invalid_grant", "the refresh token was issued to another client")
	}
	u := FindUser(users, sess.User.Email)
	if u == nil {
		return nil, Errorf("invalid_grant", "the user no longer exists")
	}
	sess.User = *u
	return sess, nil
}

// RevocationRequest parses an RFC 7009 revocation request: the form, the
// client's authentication and the token to revoke. On failure it has
// already answered the error and returns ok false.
func RevocationRequest(w http.ResponseWriter, r *http.Request, clients map[string]*Client) (c *Client, token string, ok bool) {
	form, err := ParseForm(w, r)
	if err != nil {
		WriteError(w, err)
		return nil, "", false
	}
	c, err = AuthenticateClient(r, form, clients)
	if err != nil {
		WriteError(w, err)
		return nil, "", false
	}
	token = form.Get("token")
	if token == "" {
		WriteError(w, Errorf("invalid_request", "token is required"))
		return nil, "", false
	}
	return c, token, true
}
