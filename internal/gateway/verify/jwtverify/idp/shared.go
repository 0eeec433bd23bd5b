package idp

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
)

// sharedRetention is how long the shared store keeps a code or session
// past its own expiry (which is checked on the gateway clock), so a late
// replay is still recognized as one.
const sharedRetention = time.Hour

// Share makes s keep its codes and refresh sessions in kv under the
// namespace ns ("cognito", "magic") instead of in memory, so that several
// gateway instances sharing kv act as one provider: a code issued by one
// is redeemable once at any of them, a refresh token works at all of them,
// and a revocation holds everywhere. The in-memory bounds (maxCodes,
// maxSessions) do not apply; bound the store with its own memory policy.
func (s *Store) Share(kv auth.SharedStore, ns string) {
	s.kv, s.ns = kv, ns+":"
}

func (s *Store) k(kind string, secret string) string {
	h := Hash(secret)
	return s.ns + kind + ":" + hex.EncodeToString(h[:])
}

func unavailable(err error) *OAuthError {
	return &OAuthError{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Description: "shared store unavailable: " + err.Error()}
}

type wireCode struct {
	Grant   Grant     `json:"g"`
	Expires time.Time `json:"e"`
}

func (s *Store) issueShared(g Grant) (string, error) {
	code := RandomToken(32)
	b, err := json.Marshal(wireCode{Grant: g, Expires: s.now().Add(s.codeTTL)})
	if err != nil {
		return "", err
	}
	if err := s.kv.Set(s.k("code", code), b, s.codeTTL+sharedRetention); err != nil {
		return "", unavailable(err)
	}
	return code, nil
}

func (s *Store) redeemShared(code string, check func(*Grant) error) (*Grant, error) {
	v, first, ok, err := s.kv.Take(s.k("code", code))
	switch {
	case err != nil:
		return nil, unavailable(err)
	case !ok:
		return nil, ErrCodeUnknown
	case !first:
		if sid, ok, err := s.kv.Get(s.k("codesession", code)); err == nil && ok {
			s.Revoke(string(sid))
		}
		return nil, ErrCodeReplayed
	}
	var w wireCode
	if err := json.Unmarshal(v, &w); err != nil {
		return nil, ErrCodeUnknown
	}
	if s.now().After(w.Expires) {
		return nil, ErrCodeExpired
	}
	if err := check(&w.Grant); err != nil {
		return nil, err
	}
	return &w.Grant, nil
}

func (s *Store) bindShared(code, sessionID string) {
	_ = s.kv.Set(s.k("codesession", code), []byte(sessionID), s.codeTTL+sharedRetention)
}

func (s *Store) newSessionShared(sess Session, ttl time.Duration) (string, *Session, error) {
	rt := RandomToken(48)
	sess.ID = RandomToken(16)
	sess.Expires = s.now().Add(ttl)
	b, err := json.Marshal(sess)
	if err != nil {
		return "", nil, err
	}
	life := ttl + sharedRetention
	if err := s.kv.Set(s.k("refresh", rt), b, life); err != nil {
		return "", nil, unavailable(err)
	}
	if err := s.kv.Set(s.ns+"session:"+sess.ID, []byte(strconv.FormatInt(sess.Expires.UnixMicro(), 10)), life); err != nil {
		return "", nil, unavailable(err)
	}
	return rt, &sess, nil
}

// lookupShared returns a refresh token's session with its revocation
// flag, or nil.
func (s *Store) lookupShared(refreshToken string) (*Session, error) {
	b, ok, err := s.kv.Get(s.k("refresh", refreshToken))
	if err != nil || !ok {
		return nil, err
	}
	var sess Session
	if json.Unmarshal(b, &sess) != nil {
		return nil, nil
	}
	_, revoked, err := s.kv.Get(s.ns + "revoked:" + sess.ID)
	if err != nil {
		return nil, err
	}
	sess.Revoked = revoked
	return &sess, nil
}

func (s *Store) sessionShared(refreshToken string) (*Session, error) {
	sess, err := s.lookupShared(refreshToken)
	switch {
	case err != nil:
		return nil, unavailable(err)
	case sess == nil:
		return nil, ErrRefreshUnknown
	case sess.Revoked:
		return nil, ErrRefreshRevoked
	case s.now().After(sess.Expires):
		return nil, ErrRefreshExpired
	}
	return sess, nil
}

// sessionExpiry returns a session's expiry, ok false when it is unknown.
func (s *Store) sessionExpiry(id string) (time.Time, bool) {
	b, ok, err := s.kv.Get(s.ns + "session:" + id)
	if err != nil || !ok {
		return time.Time{}, false
	}
	us, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.UnixMicro(us), true
}

func (s *Store) revokeShared(id string) {
	exp, ok := s.sessionExpiry(id)
	if !ok {
		return
	}
	life := exp.Sub(s.now()) + sharedRetention
	if life < sharedRetention {
		life = sharedRetention
	}
	_ = s.kv.Set(s.ns+"revoked:"+id, []byte("1"), life)
}

// liveShared fails closed: a store it cannot read makes the session dead.
func (s *Store) liveShared(id string) bool {
	exp, ok := s.sessionExpiry(id)
	if !ok || s.now().After(exp) {
		return false
	}
	_, revoked, err := s.kv.Get(s.ns + "revoked:" + id)
	return err == nil && !revoked
}
