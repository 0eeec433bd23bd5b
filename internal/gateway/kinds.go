package gateway

import (
	"fmt"
	"net/http"

	"gopkg.in/yaml.v3"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/cfverify"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/cognitomock"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/googleverify"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/jwtverify"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/magicmock"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/sigv4verify"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/stsverify"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/turnstile"
	"github.com/gwcurl/gwcurl/internal/rejectcode"
)

// DefaultKinds returns the auth kinds the gateway knows, by the name used in
// a route's `auth: {kind: ...}`. Each verifier lives in its own package;
// register it here with one line. (Those packages must not import this one.)
func DefaultKinds() map[string]auth.Factory {
	return map[string]auth.Factory{
		"none":         NoneFactory,
		"sigv4":        sigv4verify.Factory,
		"sts_identity": stsverify.Factory,
		"google_id":    googleverify.Factory,
		"cf_access":    cfverify.Factory,
		"jwt":          jwtverify.Factory,
	}
}

// DefaultMocks returns the mock identity providers the gateway serves
// (one factory per kind that has providers). Register each with one line.
func DefaultMocks() []auth.MockFactory {
	return []auth.MockFactory{
		googleverify.Mocks,
		cfverify.Mocks,
		cognitomock.Mocks,
		magicmock.Mocks,
		stsverify.Mocks,
		turnstile.Mocks,
	}
}

// NoneFactory builds the verifier of `auth: {kind: none}`: it accepts every
// request as the principal "anonymous". A public route still names it:
// routes deny by default.
func NoneFactory(node *yaml.Node, _ *auth.Env) (auth.Verifier, error) {
	for i := 0; node != nil && i < len(node.Content); i += 2 {
		if k := node.Content[i].Value; k != "kind" {
			return nil, fmt.Errorf("%s: kind none takes no other keys", k)
		}
	}
	return noneVerifier{id: (&auth.Identity{Kind: "none", Principal: "anonymous"}).Encode()}, nil
}

type noneVerifier struct{ id *auth.Identity }

// Verify returns the shared anonymous identity (origins must not mutate it).
func (v noneVerifier) Verify(http.ResponseWriter, *http.Request) (*auth.Identity, error) {
	return v.id, nil
}

// NotImplemented is the factory of a kind whose verifier has not landed
// yet: the route exists and its auth block is kept, and every request is
// refused with 403 {"reason": "auth kind KIND not implemented yet"}.
func NotImplemented(kind string) auth.Factory {
	return func(node *yaml.Node, _ *auth.Env) (auth.Verifier, error) {
		if node == nil || node.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("want a mapping {kind: %s, ...}", kind)
		}
		return notImplemented{kind: kind}, nil
	}
}

type notImplemented struct{ kind string }

func (n notImplemented) Verify(http.ResponseWriter, *http.Request) (*auth.Identity, error) {
	return nil, auth.Reject(rejectcode.KindNotImplemented, "auth kind %s not implemented yet", n.kind).With("kind", n.kind)
}
