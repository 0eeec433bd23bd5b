package sign

import (
	"context"
	"net/http"
)

// Interface guard.
var _ RetryOnResponse = (*cfAccess)(nil)

// Retry implements RetryOnResponse: when Access refuses the cached
// application token a request carried (401/403; Observe has already dropped
// it), the request is signed again once, with the service token pair, when
// one is configured. A person's login token has no such fallback: the
// refusal comes back and the hint says to log in again.
func (s *cfAccess) Retry(_ context.Context, resp *http.Response) bool {
	if resp == nil || resp.Request == nil {
		return false
	}
	if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
		return false
	}
	return resp.Request.Header.Get(CFAccessTokenHeader) != "" && s.pairConfigured() == nil
}
