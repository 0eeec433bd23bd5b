package gateway

// origin_auth: how the gateway authenticates itself to a route's origins,
// with the client's own signers (internal/sign), as the Workers gateway
// signs toward a Lambda URL or mints a Google ID token toward Cloud Run
// (docs/gateway.md, "Signing toward origins").

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gwcurl/gwcurl/internal/demo"
	"github.com/gwcurl/gwcurl/internal/originauth"
	"github.com/gwcurl/gwcurl/internal/strictyaml"
)

// originAuthKinds maps the gateway's kind names (as its auth kinds are
// spelled) to the signer kinds.
var originAuthKinds = map[string]string{
	"sigv4":        "sigv4",
	"google_id":    "google",
	"cf_access":    "cf-access",
	"sts_identity": "sts-identity",
	"bearer":       "bearer",
}

// originAuthFields are the keys each kind accepts (besides kind and
// keep_caller_authorization).
var originAuthFields = map[string][]string{
	"sigv4":        {"region", "service", "aws_profile", "access_key_id", "secret_access_key", "session_token", "payload", "spool_memory"},
	"google_id":    {"credentials", "impersonate", "audience"},
	"cf_access":    {"client_id", "client_secret"},
	"sts_identity": {"region", "aws_profile", "access_key_id", "secret_access_key", "session_token", "header", "format", "server_id", "sts_endpoint"},
	"bearer":       {"token"},
}

// secretFields hold references, never secrets.
var secretFields = map[string]bool{"secret_access_key": true, "session_token": true, "client_secret": true, "token": true}

// defaultSpoolMemory is how much of a body a sigv4 route keeps in memory
// while hashing it; the rest goes to a 0600 temp file.
const defaultSpoolMemory = 1 << 20

// originAuth is a route's compiled origin_auth block.
type originAuth struct {
	kind       string // gateway spelling
	auth       originauth.Auth
	keepAuthz  bool  // the caller's Authorization reaches the origin
	spool      bool  // the body is spooled so it can be hashed and sent
	spoolLimit int64 // bytes kept in memory
	key        string
	line       int
}

// parseOriginAuth decodes and checks an origin_auth block. Its errors name
// the route and the file line.
func (g *Gateway) parseOriginAuth(n *yaml.Node, rc *Route, key string) (*originAuth, error) {
	fail := func(at *yaml.Node, sub, format string, args ...any) error {
		line := rc.line
		if at != nil && at.Line > 0 {
			line = at.Line
		}
		k := key
		if sub != "" {
			k += "." + sub
		}
		return &ConfigError{File: g.cfg.Source, Line: line, Key: k, Problem: "route " + rc.Prefix + ": " + fmt.Sprintf(format, args...)}
	}
	if n.Kind != yaml.MappingNode {
		return nil, fail(n, "", "want a mapping {kind: sigv4|google_id|cf_access|sts_identity|bearer, ...}")
	}
	kind := scalarAt(n, "kind")
	signKind, ok := originAuthKinds[kind]
	if !ok {
		return nil, fail(n, "kind", "unknown origin auth kind %q (known: bearer, cf_access, google_id, sigv4, sts_identity)", kind)
	}
	oa := &originAuth{kind: kind, auth: originauth.Auth{Kind: signKind}, key: key, line: n.Line, spoolLimit: defaultSpoolMemory}
	allowed := append([]string{"kind", "keep_caller_authorization"}, originAuthFields[kind]...)
	for i := 0; i < len(n.Content); i += 2 {
		if err := oa.decodeField(n.Content[i], n.Content[i+1], allowed, fail); err != nil {
			return nil, err
		}
	}
	if err := g.completeOriginAuth(oa, n, fail); err != nil {
		return nil, err
	}
	if oa.keepAuthz && (kind == "sigv4" || kind == "bearer") {
		return nil, fail(n, "keep_caller_authorization", "kind %s sends its own Authorization header; the caller's cannot be kept", kind)
	}
	return oa, nil
}

// configFail reports a problem at a node of an origin_auth block; sub is
// the key under the block ("" for the block itself).
type configFail func(at *yaml.Node, sub, format string, args ...any) error

// decodeField decodes one key k and value v of an origin_auth block into oa.
func (oa *originAuth) decodeField(k, v *yaml.Node, allowed []string, fail configFail) error {
	if !slices.Contains(allowed, k.Value) {
		return fail(k, k.Value, "unknown key for kind %s (%s)", oa.kind, strictyaml.Hint(k.Value, allowed))
	}
	if k.Value == "keep_caller_authorization" {
		if err := v.Decode(&oa.keepAuthz); err != nil || v.Kind != yaml.ScalarNode {
			return fail(v, k.Value, "want true or false")
		}
		return nil
	}
	if k.Value == "spool_memory" {
		var b ByteSize
		if err := b.UnmarshalYAML(v); err != nil {
			return fail(v, k.Value, "%v", err)
		}
		oa.spoolLimit = int64(b)
		return nil
	}
	if v.Kind != yaml.ScalarNode || v.Value == "" {
		return fail(v, k.Value, "want a non-empty string")
	}
	val := v.Value
	if secretFields[k.Value] && !isSecretRef(val) {
		return fail(v, k.Value, "must be a secret reference (env:NAME, file:PATH, cmd:COMMAND), not the secret itself")
	}
	if !setOriginAuthString(&oa.auth, k.Value, val) {
		return fail(v, k.Value, "want hash (default) or unsigned, got %q", val)
	}
	return nil
}

// setOriginAuthString sets the string field name of a to val. It is false
// only for a payload mode other than hash or unsigned.
func setOriginAuthString(a *originauth.Auth, name, val string) bool {
	switch name {
	case "region":
		a.Region = val
	case "service":
		a.Service = val
	case "aws_profile":
		a.AWSProfile = val
	case "access_key_id":
		a.AccessKeyID = val
	case "secret_access_key":
		a.SecretAccessKey = val
	case "session_token":
		a.SessionToken = val
	case "payload":
		switch val {
		case "hash":
		case "unsigned":
			a.UnsignedPayload = true
		default:
			return false
		}
	case "credentials":
		a.Credentials = val
	case "impersonate":
		a.Impersonate = val
	case "audience":
		a.Audience = val
	case "client_id":
		a.ClientID = val
	case "client_secret":
		a.ClientSecret = val
	case "token":
		a.Token = val
	case "header":
		a.Header = val
	case "format":
		a.Format = val
	case "server_id":
		a.ServerID = val
	case "sts_endpoint":
		a.STSEndpoint = val
	}
	return true
}

// completeOriginAuth checks the fields each kind requires together and fills
// in what the gateway supplies itself (its own AWS keys, the demo's Google
// service account).
func (g *Gateway) completeOriginAuth(oa *originAuth, n *yaml.Node, fail configFail) error {
	a := &oa.auth
	switch oa.kind {
	case "sigv4", "sts_identity":
		if a.AccessKeyID != "" && a.SecretAccessKey == "" {
			if g.ownAWSSecret(a.AccessKeyID) == "" {
				return fail(n, "secret_access_key", "required with access_key_id (unless the key is one of the gateway's aws_keys)")
			}
			a.SecretAccessKey = "keyring:" + awsKeysRef + a.AccessKeyID
		}
		if a.AccessKeyID == "" && a.SecretAccessKey != "" {
			return fail(n, "access_key_id", "required with secret_access_key")
		}
		oa.spool = oa.kind == "sigv4" && !a.UnsignedPayload
	case "google_id":
		if a.Credentials == builtinDemoCredentials {
			if g.baseURL == "" {
				return fail(n, "credentials", "%s needs the gateway's base URL", builtinDemoCredentials)
			}
			js, err := demo.GoogleServiceAccountJSON(g.baseURL + "/_mock/google/token")
			if err != nil {
				return fail(n, "credentials", "%v", err)
			}
			a.Credentials, a.CredentialsJSON = "", js
		}
		if oa.keepAuthz {
			a.Header = "X-Serverless-Authorization"
		}
	case "cf_access":
		if a.ClientID == "" || a.ClientSecret == "" {
			return fail(n, "", "client_id and client_secret (a reference) are both required")
		}
	case "bearer":
		if a.Token == "" {
			return fail(n, "token", "required (a reference such as env:ORIGIN_TOKEN)")
		}
	}
	return nil
}

// builtinDemoCredentials names the demo's Google service account, whose
// token endpoint is the gateway's own mock.
const builtinDemoCredentials = "builtin:demo"

// awsKeysRef prefixes keyring: keys that name one of the gateway's own
// aws_keys (the demo signs toward its own /aws route with them).
const awsKeysRef = "aws_keys/"

func (g *Gateway) ownAWSSecret(id string) string {
	for _, k := range g.cfg.AWSKeys {
		if k.AccessKeyID == id {
			return k.SecretAccessKey
		}
	}
	return ""
}

func isSecretRef(s string) bool {
	scheme, rest, ok := strings.Cut(s, ":")
	return ok && rest != "" && (scheme == "env" || scheme == "file" || scheme == "cmd" || scheme == "keyring")
}

// originTransport wraps base in the signer for one origin URL. A missing
// credential is a config error naming the route, not a 500 per request.
func (g *Gateway) originTransport(oa *originAuth, rc *Route, target string, base http.RoundTripper) (http.RoundTripper, error) {
	if g.originFactory == nil {
		// A library user that passed no factory (tests starting the demo
		// for other routes): the route answers 502 naming the cause. The
		// gwcurl binary always passes one.
		return noOriginSigner{route: rc.Prefix}, nil
	}
	baseDir := ""
	if g.cfg.Source != "" && g.cfg.Source != demoSource {
		baseDir = filepath.Dir(g.cfg.Source)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t, err := g.originFactory(ctx, oa.auth, target, originauth.Deps{
		Name:       "route " + rc.Prefix,
		HTTPClient: &http.Client{Transport: g.newTransport(10 * time.Second), Timeout: 30 * time.Second},
		Now:        g.now,
		Getenv:     g.getenv,
		BaseDir:    baseDir,
		Lookup: func(key string) (string, bool) {
			if id, ok := strings.CutPrefix(key, awsKeysRef); ok {
				v := g.ownAWSSecret(id)
				return v, v != ""
			}
			return "", false
		},
		Unsigned: unsignedTowardOrigin,
	}, base)
	if err != nil {
		return nil, &ConfigError{File: g.cfg.Source, Line: oa.line, Key: oa.key,
			Problem: "route " + rc.Prefix + ": origin " + target + ": " + err.Error()}
	}
	return t, nil
}

// spoolBody reads the request body into a spool (memory up to limit, then
// a 0600 temp file, unlinked at once) so the SigV4 signer can hash it and
// the proxy can still send it: GetBody rewinds, Content-Length is exact.
// OAC's edge function does the same before CloudFront re-signs.
func spoolBody(limit int64) Middleware {
	return func(next Handler) Handler {
		return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
				return next.ServeHTTP(w, r)
			}
			sp, err := newSpool(r.Body, limit)
			if err != nil {
				return err // *http.MaxBytesError becomes 413
			}
			defer sp.close()
			r.Body = sp.open()
			r.GetBody = func() (io.ReadCloser, error) { return sp.open(), nil }
			r.ContentLength = sp.n
			r.TransferEncoding = nil
			r.Header.Del("Transfer-Encoding")
			return next.ServeHTTP(w, r)
		})
	}
}

type spool struct {
	mem []byte
	f   *os.File
	n   int64
}

func newSpool(body io.Reader, limit int64) (*spool, error) {
	mem, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(mem)) <= limit {
		return &spool{mem: mem, n: int64(len(mem))}, nil
	}
	f, err := os.CreateTemp("", "gwcurl-spool-*") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("spool the request body: %w", err)
	}
	os.Remove(f.Name()) //nolint:errcheck // unlinked at once: gone when closed, even after a crash
	sp := &spool{f: f}
	n, err := f.Write(mem)
	if err == nil {
		var m int64
		m, err = io.CopyBuffer(f, body, make([]byte, 64<<10))
		sp.n = int64(n) + m
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return sp, nil
}

func (s *spool) open() io.ReadCloser {
	if s.f == nil {
		return io.NopCloser(bytes.NewReader(s.mem))
	}
	return io.NopCloser(io.NewSectionReader(s.f, 0, s.n))
}

func (s *spool) close() {
	if s.f != nil {
		s.f.Close()
	}
}

// spoolMiddleware spools bodies on routes whose signer hashes them.
func (rt *route) spoolMiddleware() Middleware {
	if rt.origin == nil || !rt.origin.spool {
		return nil
	}
	return spoolBody(rt.origin.spoolLimit)
}

// noOriginSigner refuses every request of a route whose origin_auth could
// not be built because the gateway was given no factory.
type noOriginSigner struct{ route string }

func (n noOriginSigner) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r.Body.Close()
	}
	return nil, fmt.Errorf("route %s: origin_auth is unavailable: the gateway was built without an origin signer (gateway.Options.OriginAuth)", n.route)
}

// unsignedTowardOrigin: a signature toward an origin covers the host, the
// content headers and x-amz-* (as CloudFront OAC signs), not the
// forwarding headers the gateway adds, which a proxy or load balancer in
// front of the origin may rewrite.
func unsignedTowardOrigin(name string) bool {
	l := strings.ToLower(name)
	return !strings.HasPrefix(l, "x-amz-") && !strings.HasPrefix(l, "content-")
}
