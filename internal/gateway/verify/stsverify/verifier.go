// Package stsverify is the mock gateway's `sts_identity` verifier and its
// mock STS (/_mock/sts/).
//
// # The pattern
//
// A caller proves who it is by signing an sts:GetCallerIdentity request
// with its own AWS credentials and handing the signed request to the back
// end in a header; the back end has STS answer who signed it, and checks
// the ARN against an allowlist. Vault's aws auth (iam method) and
// aws-iam-authenticator (EKS) work this way, and so do IAM-gated routes
// behind CloudFront. The header holds one of three formats: the pre-signed
// URL itself (url), aws-iam-authenticator's token (k8s), or Vault's iam
// login fields (vault).
//
// # Rules (docs/auth/sts-identity.md, "How a back end verifies a proof")
//
//   - The STS request is rebuilt from trusted parts: the method and
//     endpoint (scheme, host, path) are the route's, never the client's; a
//     proof signed for another host is refused before anything is sent, so
//     the verifier is no SSRF primitive. Only the allowlisted signature
//     parameters (pre-signed) or headers (vault) and the validated body are
//     copied; any other X-Amz-* is refused.
//   - Parameter and header names are unique case-insensitively
//     (CVE-2022-2385); Action is GetCallerIdentity and Version 2011-06-15;
//     a Vault body holds exactly those two.
//   - A proof lives 15 minutes after its X-Amz-Date, as STS honours it,
//     whatever X-Amz-Expires says (which must be 1..900); a proof dated
//     more than max_skew ahead of the gateway clock is refused.
//   - With server_id set, the format's server-id header must be listed in
//     SignedHeaders (exact element) and, for vault, carry the route's value;
//     the verifier supplies its own value when rebuilding the request, so a
//     proof made for another server fails. A proof bound to a server id is
//     refused by a route without one.
//   - The endpoint is the gateway's own mock STS (sts: mock, the default),
//     checked in-process with the gateway's key table and no HTTP; or real
//     STS (sts: aws | aws-cn | aws-us-gov | https://<sts host>/), a fixed
//     allowlist of hosts per partition, called with no redirects, a
//     timeout, Accept: application/json and strict parsing of the answer.
//   - The ARN is canonicalized (assumed-role session → role, without path)
//     before the allowlist: exact ARNs, or a prefix ending in '*'.
//   - Every refusal is a 401 (no header) or 403 with a reason; the proof
//     itself never appears in a reason or the log.
package stsverify

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
	"gopkg.in/yaml.v3"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
	"github.com/gwcurl/gwcurl/internal/rejectcode"
	"github.com/gwcurl/gwcurl/internal/strictyaml"
)

// Kind is the verifier's name in gateway configs and in Identity.Kind.
const Kind = "sts_identity"

// DefaultHeader carries the proof when the route names no header.
const DefaultHeader = "X-Fluid-Identity"

// DefaultMaxSkew is how far ahead of the gateway clock a proof may be dated.
const DefaultMaxSkew = 5 * time.Minute

// STSMock selects the gateway's own mock STS as the endpoint.
const STSMock = "mock"

// Formats lists the three formats.
var Formats = []string{FormatURL, FormatVault, FormatK8s}

// Options configure a Verifier.
type Options struct {
	// Header carries the proof; "" means DefaultHeader.
	Header string
	// Formats accepted; empty means all three.
	Formats []string
	// Allow is the ARN allowlist: exact canonical ARNs, or prefixes
	// ending in '*' (within one account). Required.
	Allow []string
	// ServerID, when set, must be signed into every proof in the format's
	// server-id header (X-Gwcurl-Server-ID, X-Vault-AWS-IAM-Server-ID or
	// x-k8s-aws-id).
	ServerID string
	// STS is the endpoint: "mock" or "" (the gateway's mock STS at
	// MockEndpoint, verified in-process against Keys), a partition ("aws",
	// "aws-cn", "aws-us-gov": any of its STS hosts), or one real STS
	// endpoint URL (https://sts.eu-west-1.amazonaws.com/).
	STS string
	// MockEndpoint is the mock STS's URL, the gateway's base URL +
	// MockPrefix. "" (no base URL) refuses every proof when STS is mock.
	MockEndpoint string
	// Keys is the gateway's AWS key table, for the mock STS.
	Keys []auth.AWSKey
	// Now is the gateway clock; nil means time.Now.
	Now func() time.Time
	// MaxSkew bounds how far in the future a proof may be dated; 0 means
	// DefaultMaxSkew.
	MaxSkew time.Duration
	// HTTPClient calls real STS (redirects are never followed, calls are
	// bounded to 10 s); nil means a default client.
	HTTPClient *http.Client
}

// Verifier verifies STS identity proofs. It is safe for concurrent use.
type Verifier struct {
	header   string
	formats  []string
	allow    *allowlist
	serverID string

	mock      *url.URL // sts: mock (nil endpoint: no base URL)
	mockMode  bool
	partition string   // sts: <partition>
	fixed     *url.URL // sts: <url>

	keys    []auth.AWSKey
	now     func() time.Time
	maxSkew time.Duration
	client  *http.Client
}

// Interface guards.
var (
	_ auth.Verifier    = (*Verifier)(nil)
	_ auth.Factory     = Factory
	_ auth.MockFactory = Mocks
)

// New builds a Verifier.
func New(opts Options) (*Verifier, error) {
	v := &Verifier{header: opts.Header, serverID: opts.ServerID, keys: slices.Clone(opts.Keys), now: opts.Now, maxSkew: opts.MaxSkew}
	if v.header == "" {
		v.header = DefaultHeader
	}
	if !httpguts.ValidHeaderFieldName(v.header) {
		return nil, fmt.Errorf("header: %q is not a valid header name", v.header)
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.maxSkew < 0 {
		return nil, fmt.Errorf("max_skew: must be positive")
	}
	if v.maxSkew == 0 {
		v.maxSkew = DefaultMaxSkew
	}
	if opts.ServerID != "" && !httpguts.ValidHeaderFieldValue(opts.ServerID) {
		return nil, fmt.Errorf("server_id: %q is not a valid header value", opts.ServerID)
	}
	v.formats = slices.Clone(opts.Formats)
	if len(v.formats) == 0 {
		v.formats = slices.Clone(Formats)
	}
	for i, f := range v.formats {
		if !slices.Contains(Formats, f) {
			return nil, fmt.Errorf("formats[%d]: %q is not one of url, vault, k8s", i, f)
		}
	}
	al, err := newAllowlist(opts.Allow)
	if err != nil {
		return nil, err
	}
	v.allow = al

	switch s := opts.STS; {
	case s == "" || s == STSMock:
		v.mockMode = true
		if opts.MockEndpoint != "" {
			u, err := url.Parse(opts.MockEndpoint)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
				return nil, fmt.Errorf("mock STS endpoint %q is not an http(s) URL", opts.MockEndpoint)
			}
			v.mock = u
		}
	case stsHosts[s] != nil:
		v.partition = s
	default:
		u, err := url.Parse(s)
		if err != nil || u.Scheme != "https" || u.Port() != "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("sts: %q: want mock, a partition (aws, aws-cn, aws-us-gov) or an STS endpoint such as https://sts.us-east-1.amazonaws.com/", s)
		}
		if _, _, ok := STSHost(u.Hostname()); !ok {
			return nil, fmt.Errorf("sts: %s is not an STS endpoint (want sts.amazonaws.com, sts.REGION.amazonaws.com, sts-fips.REGION.amazonaws.com, sts.REGION.api.aws or the aws-cn and aws-us-gov equivalents)", u.Host)
		}
		v.fixed = &url.URL{Scheme: "https", Host: strings.ToLower(u.Host), Path: "/"}
	}
	if !v.mockMode {
		v.client = newSTSClient(opts.HTTPClient)
	}
	return v, nil
}

// configKeys are the keys of an sts_identity route's auth block.
var configKeys = []string{"kind", "header", "formats", "allow", "server_id", "sts", "max_skew"}

// Factory builds a route's verifier from its auth block:
//
//	auth:
//	  kind: sts_identity
//	  header: X-Fluid-Identity     # default
//	  formats: [url, vault, k8s]   # default: all three
//	  allow:                       # required: canonical ARNs, or a prefix ending in *
//	    - arn:aws:iam::123456789012:user/demo
//	    - arn:aws:iam::123456789012:role/oncall
//	  server_id: api.example.com   # optional audience the proof must sign
//	  sts: mock                    # default; or aws | aws-cn | aws-us-gov | https://sts.REGION.amazonaws.com/
//	  max_skew: 5m                 # how far ahead of the clock a proof may be dated
//
// With sts: mock the proof must be signed for the gateway's own mock STS
// (env.BaseURL + /_mock/sts/) and is verified in-process against
// env.AWSKeys.
func Factory(node *yaml.Node, env *auth.Env) (auth.Verifier, error) {
	if node == nil || node.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("want a mapping {kind: sts_identity, allow: [...]}")
	}
	var opts Options
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, val := node.Content[i], node.Content[i+1]
		str := func(dst *string) error {
			if val.Kind != yaml.ScalarNode || val.Decode(dst) != nil {
				return fmt.Errorf("%s (line %d): want a string", k.Value, val.Line)
			}
			return nil
		}
		list := func(dst *[]string) error {
			if val.Kind != yaml.SequenceNode || val.Decode(dst) != nil {
				return fmt.Errorf("%s (line %d): want a list of strings", k.Value, val.Line)
			}
			return nil
		}
		var err error
		switch k.Value {
		case "kind":
			if val.Value != Kind {
				return nil, fmt.Errorf("kind: %q is not %s", val.Value, Kind)
			}
		case "header":
			err = str(&opts.Header)
		case "formats":
			err = list(&opts.Formats)
		case "allow":
			err = list(&opts.Allow)
		case "server_id":
			err = str(&opts.ServerID)
		case "sts":
			err = str(&opts.STS)
		case "max_skew":
			d, perr := time.ParseDuration(val.Value)
			if perr != nil || d <= 0 || val.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("max_skew (line %d): %q is not a positive duration such as 5m", val.Line, val.Value)
			}
			opts.MaxSkew = d
		default:
			return nil, strictyaml.UnknownKey(k, "kind sts_identity", configKeys)
		}
		if err != nil {
			return nil, err
		}
	}
	if env != nil {
		opts.Now = env.Now
		opts.Keys = env.AWSKeys
		if env.BaseURL != "" {
			opts.MockEndpoint = strings.TrimSuffix(env.BaseURL, "/") + MockPrefix
		}
	}
	return New(opts)
}

// Verify implements auth.Verifier. On success it removes the identity
// header, so the origin never sees the proof.
func (v *Verifier) Verify(_ http.ResponseWriter, r *http.Request) (*auth.Identity, error) {
	vals := r.Header.Values(v.header)
	switch len(vals) {
	case 0:
		return nil, auth.Unauthorized(rejectcode.MissingSTSIdentity, "missing %s header: send a signed STS GetCallerIdentity proof (gwcurl --auth sts-identity)", v.header).With("header", v.header)
	case 1:
	default:
		return nil, auth.Reject(rejectcode.MalformedProof, "the %s header was sent %d times", v.header, len(vals))
	}
	p, rej := parseProof(vals[0])
	if rej != nil {
		return nil, rej
	}
	if !slices.Contains(v.formats, p.format) {
		return nil, auth.Reject(rejectcode.MalformedProof, "format %s is not accepted on this route (accepted: %s)", p.format, strings.Join(v.formats, ", "))
	}
	endpoint, rej := v.endpointFor(p)
	if rej != nil {
		return nil, rej
	}

	now := v.now()
	if end := p.date.Add(ProofLifetime); now.After(end) {
		return nil, auth.Reject(rejectcode.ProofExpired, "the proof expired at %s: a GetCallerIdentity proof is honoured 15 minutes after it was signed (%s)",
			end.UTC().Format(time.RFC3339), p.date.UTC().Format(time.RFC3339)).With("gateway_time", now.UTC().Format(time.RFC3339))
	}
	if ahead := p.date.Sub(now); ahead > v.maxSkew {
		return nil, auth.Reject(rejectcode.ClockSkew, "the proof is dated %s, %s ahead of the gateway clock (max %s)",
			p.date.UTC().Format(time.RFC3339), ahead.Round(time.Second), v.maxSkew).
			With("request_time", p.date.UTC().Format(time.RFC3339)).With("gateway_time", now.UTC().Format(time.RFC3339))
	}

	sid := serverIDHeader(p.format)
	switch {
	case v.serverID != "" && !p.signs(sid):
		return nil, auth.Reject(rejectcode.ServerIDMismatch, "the server id header %s is not signed: this route requires proofs bound to its server id (gwcurl --identity-server-id)", sid)
	case v.serverID != "" && p.format == FormatVault && p.serverID != v.serverID:
		return nil, auth.Reject(rejectcode.ServerIDMismatch, "the proof is bound to server id %q, this route is %q", shorten(p.serverID), v.serverID)
	case v.serverID == "" && p.signs(sid):
		return nil, auth.Reject(rejectcode.ServerIDMismatch, "the proof is bound to a server id (%s is signed) but this route has none: it was made for another server", sid)
	}

	req := p.request(endpoint, v.serverID)
	var id *CallerIdentity
	if v.mockMode {
		var serr *STSError
		if id, serr = GetCallerIdentity(req, v.keys, now); serr != nil {
			return nil, auth.Reject(rejectcode.STSRefused, "STS refused the proof: %s: %s", serr.Code, serr.Message).
				With("sts_code", serr.Code).With("sts_message", serr.Message)
		}
	} else if id, rej = callSTS(r.Context(), v.client, req); rej != nil {
		return nil, rej
	}

	parsed, err := ParseARN(id.Arn)
	if err != nil {
		return nil, auth.Reject(rejectcode.STSAnswerInvalid, "STS answered an unusable ARN: %v", err)
	}
	if parsed.Account != id.Account {
		return nil, auth.Reject(rejectcode.STSAnswerInvalid, "STS answered ARN %s for account %s", shorten(id.Arn), shorten(id.Account))
	}
	canonical, _ := CanonicalARN(id.Arn)
	claims := map[string]any{
		"arn":           id.Arn,
		"account":       id.Account,
		"user_id":       id.UserID,
		"format":        p.format,
		"access_key_id": p.accessKeyID,
		"region":        p.region,
	}
	if role, session, ok := parsed.AssumedRole(); ok {
		// aws-iam-authenticator: a role session's UserId is ROLEID:SESSION.
		if rid, sess, ok := strings.Cut(id.UserID, ":"); !ok || rid == "" || sess != session {
			return nil, auth.Reject(rejectcode.STSAnswerInvalid, "STS answered assumed-role %s with a UserId that is not ROLEID:%s", role, shorten(session))
		}
		claims["session_name"] = session
	}
	if !v.allow.allows(canonical) {
		return nil, auth.Reject(rejectcode.PrincipalNotAllowed, "principal %s is not allowed on this route", canonical).With("arn", id.Arn)
	}
	r.Header.Del(v.header)
	return &auth.Identity{Kind: Kind, Principal: canonical, Claims: claims}, nil
}

// endpointFor checks the host and path the proof was signed for against
// the route's trusted endpoint and returns that endpoint. The client's URL
// is never contacted: at most its host is compared.
func (v *Verifier) endpointFor(p *proof) (*url.URL, *auth.Rejection) {
	host := strings.ToLower(p.target.Host)
	hostname := p.target.Hostname()
	realPart, realRegion, isReal := STSHost(hostname)
	switch {
	case v.mockMode:
		if v.mock == nil {
			return nil, auth.Reject(rejectcode.STSEndpointRefused, "this route checks proofs against the gateway's mock STS, whose URL is unknown (the gateway was started without a base URL)")
		}
		if p.target.Scheme == v.mock.Scheme && host == strings.ToLower(v.mock.Host) && p.target.EscapedPath() == v.mock.EscapedPath() {
			return v.mock, nil
		}
		if isReal && p.target.Port() == "" {
			return nil, auth.Reject(rejectcode.STSEndpointRefused, "the proof is signed for the real STS host %s; this route checks proofs against the gateway's mock STS at %s (sts: mock), so the gateway does not call real STS: sign for the mock with sts_endpoint: %s",
				shorten(hostname), v.mock, v.mock)
		}
		return nil, auth.Reject(rejectcode.STSEndpointRefused, "the proof is signed for %s, which is not the STS endpoint this route trusts (%s): the gateway never contacts a host chosen by the client",
			shorten(p.target.Scheme+"://"+p.target.Host+p.target.EscapedPath()), v.mock)
	case !isReal || p.target.Port() != "" || p.target.Scheme != "https":
		return nil, auth.Reject(rejectcode.STSEndpointRefused, "the proof is signed for %s, which is not a real STS endpoint (https://sts[.REGION].amazonaws.com/ and the like): the gateway never contacts a host chosen by the client",
			shorten(p.target.Scheme+"://"+p.target.Host))
	case v.fixed != nil && host != v.fixed.Host:
		return nil, auth.Reject(rejectcode.STSEndpointRefused, "the proof is signed for STS host %s; this route trusts %s only", shorten(host), v.fixed.Host)
	case v.fixed == nil && realPart != v.partition:
		return nil, auth.Reject(rejectcode.STSEndpointRefused, "the proof is signed for STS host %s of partition %s; this route trusts partition %s only", shorten(host), realPart, v.partition)
	case p.target.EscapedPath() != "/":
		return nil, auth.Reject(rejectcode.STSEndpointRefused, "the proof's path is %q; STS answers at / only", shorten(p.target.EscapedPath()))
	case p.region != realRegion:
		return nil, auth.Reject(rejectcode.STSEndpointRefused, "the proof is scoped to region %s but signed for STS host %s (region %s)", shorten(p.region), host, realRegion)
	}
	return &url.URL{Scheme: "https", Host: host, Path: "/"}, nil
}
