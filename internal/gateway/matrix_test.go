package gateway_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/gwcurl/gwcurl/internal/gateway"
	"github.com/gwcurl/gwcurl/internal/gateway/gatewaytest"
	"github.com/gwcurl/gwcurl/internal/gateway/verify/googleverify"
	"github.com/gwcurl/gwcurl/internal/rejectcode"
)

// attack is one row of the attack matrix: a request that must be refused
// with a 4xx and a reason, never a 5xx and never let through.
type attack struct {
	name   string
	method string
	target string // path?query as sent on the wire (not normalized)
	header http.Header
	host   string // "" = the gateway's own address
	body   string
	chunk  bool   // send the body chunked
	status int    // 0 = any 4xx
	reason string // a substring of the JSON reason (case-insensitive)
}

var (
	demoKey     = aws.Credentials{AccessKeyID: "AKIAGWCURLDEMO000001", SecretAccessKey: "gwcurlDemoSecretKey000000000000000000001"}
	intruderKey = aws.Credentials{AccessKeyID: "AKIAGWCURLDEMO000002", SecretAccessKey: "gwcurlDemoSecretKey000000000000000000002"}
)

// signAWS signs a request for the demo /aws route (lambda, us-east-1) and
// returns its headers; edit changes the request before signing.
func signAWS(t *testing.T, base, method, target, body string, creds aws.Credentials, region, service string, at time.Time, edit func(*http.Request)) http.Header {
	t.Helper()
	r, err := http.NewRequest(method, base+target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(r)
	}
	sum := sha256.Sum256([]byte(body))
	hash := hex.EncodeToString(sum[:])
	r.Header.Set("X-Amz-Content-Sha256", hash)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hash, service, region, at); err != nil {
		t.Fatal(err)
	}
	return r.Header
}

// presignSTS returns a GetCallerIdentity URL presigned for the gateway's
// mock STS (or another endpoint).
func presignSTS(t *testing.T, endpoint string, creds aws.Credentials, at time.Time) string {
	t.Helper()
	r, _ := http.NewRequest("GET", endpoint+"?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Expires=900", nil)
	u, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, r, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sts", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func seg(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// TestAttackMatrix sends every attack to the demo gateway: each is refused
// with a 4xx and a reason; none is answered 5xx or reaches an origin.
func TestAttackMatrix(t *testing.T) {
	t.Parallel()
	s := gatewaytest.StartDemo(t, gateway.Options{})
	base := s.URL
	addr := strings.TrimPrefix(base, "http://")
	now := time.Now()
	gs, err := googleverify.StateFor(s.Gateway.Env())
	if err != nil {
		t.Fatal(err)
	}
	runAud := base + "/run"
	gtok := func(extra map[string]any) string {
		c := map[string]any{"aud": runAud, "sub": "1", "email": "x@example.com", "email_verified": true}
		for k, v := range extra {
			c[k] = v
		}
		tok, err := gs.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	rs := func(claims jwt.MapClaims, hdr map[string]any, key any, m jwt.SigningMethod) string {
		tk := jwt.NewWithClaims(m, claims)
		for k, v := range hdr {
			tk.Header[k] = v
		}
		out, err := tk.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	cognitoIss := base + "/_mock/cognito"
	jwtClaims := jwt.MapClaims{"iss": cognitoIss, "aud": "gwcurl-demo", "token_use": "id", "sub": "s", "email": "demo@example.com", "exp": now.Add(time.Hour).Unix()}
	gClaims := jwt.MapClaims{"iss": "https://accounts.google.com", "aud": runAud, "sub": "1", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	hsPub := rs(gClaims, map[string]any{"kid": gs.KeyIDs()[0]}, []byte("public-key-as-hmac-secret"), jwt.SigningMethodHS256)
	mockSTS := base + "/_mock/sts/"
	goodSTS := presignSTS(t, mockSTS, demoKey, now)
	awsHdr := func(target, body string, creds aws.Credentials, region, service string, at time.Time, edit func(*http.Request)) http.Header {
		return signAWS(t, base, "POST", target, body, creds, region, service, at, edit)
	}
	withH := func(h http.Header, kv ...string) http.Header {
		h = h.Clone()
		for i := 0; i+1 < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	goodAWS := awsHdr("/aws/echo", "hello", demoKey, "us-east-1", "lambda", now, nil)

	cases := []attack{
		// ---- edge: hosts (DNS rebinding) ----
		{name: "rebinding host on mailbox", target: "/_mock/mailbox", host: "rebind.example", status: 421, reason: "not served"},
		{name: "rebinding host on metadata", target: "/computeMetadata/v1/instance/service-accounts/default/identity?audience=x", host: "rebind.example:80", header: http.Header{"Metadata-Flavor": {"Google"}}, status: 421, reason: "not served"},
		{name: "rebinding host on request log", target: "/_mock/requests", host: "attacker.test", status: 421, reason: "not served"},
		{name: "rebinding host with matching origin", target: "/public/echo", host: "evil.test", header: http.Header{"Origin": {"http://evil.test"}}, status: 421, reason: "not served"},
		{name: "loopback name on another port", target: "/public/echo", host: "127.0.0.1:1", status: 421, reason: "not served"},
		// ---- edge: paths ----
		{name: "dot-dot", target: "/public/../aws/echo", status: 400, reason: "path has"},
		{name: "encoded dot-dot", target: "/public/%2e%2e/aws/echo", status: 400, reason: "path has"},
		{name: "dot-dot semicolon", target: "/public/..;/aws/echo", status: 400, reason: "path has"},
		{name: "dot-dot %3B", target: "/public/..%3B/aws/echo", status: 400, reason: "path has"},
		{name: "backslash", target: `/public/..\aws/echo`, status: 400, reason: "backslash"},
		{name: "encoded backslash", target: "/public/..%5Caws/echo", status: 400, reason: "backslash"},
		{name: "encoded slash dot-dot", target: "/public%2F..%2Faws/echo", status: 400, reason: "path has"},
		{name: "double-encoded dot-dot", target: "/public/%252e%252e/aws/echo", status: 400, reason: "doubly encoded"},
		{name: "unknown route", target: "/nowhere", status: 404, reason: "no route"},
		// ---- edge: CORS, methods, size, bodies ----
		{name: "foreign origin", target: "/public/echo", header: http.Header{"Origin": {"http://evil.example"}}, status: 403, reason: "cors"},
		{name: "preflight foreign origin", method: "OPTIONS", target: "/aws/echo", header: http.Header{"Origin": {"http://evil.example"}, "Access-Control-Request-Method": {"POST"}}, status: 403, reason: "cors"},
		{name: "preflight without origin", method: "OPTIONS", target: "/aws/echo", header: http.Header{"Access-Control-Request-Method": {"POST"}}, status: 403, reason: "preflight without an Origin"},
		{name: "preflight bad header", method: "OPTIONS", target: "/aws/echo", header: http.Header{"Origin": {"http://localhost:3000"}, "Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"x-evil"}}, status: 403, reason: "x-evil"},
		{name: "declared body too large", method: "POST", target: "/public/echo", header: http.Header{"Content-Length": {"11534336"}}, status: 413, reason: "larger than the limit"},
		{name: "chunked bad size", method: "POST", target: "/public/echo", body: "zz\r\nabc\r\n0\r\n\r\n", chunk: true, status: 400, reason: "malformed request body"},
		{name: "chunked overflow", method: "POST", target: "/public/items", body: "ffffffffffffffffffff\r\nabc\r\n0\r\n\r\n", chunk: true, status: 400, reason: "malformed request body"},
		{name: "chunked missing CRLF", method: "POST", target: "/public/echo", body: "3\r\nabcX0\r\n\r\n", chunk: true, status: 400, reason: "malformed request body"},
		{name: "request log bad limit", target: "/_mock/requests?limit=-1", status: 400, reason: "limit"},
		// ---- sigv4 ----
		{name: "sigv4 unsigned", method: "POST", target: "/aws/echo", body: "hello", status: 403, reason: "missing AWS SigV4"},
		{name: "sigv4 bearer", method: "POST", target: "/aws/echo", header: bearer("x"), body: "hello", status: 401, reason: "not AWS SigV4"},
		{name: "sigv4 sigv4a", method: "POST", target: "/aws/echo", header: http.Header{"Authorization": {"AWS4-ECDSA-P256-SHA256 Credential=x"}}, status: 403, reason: "SigV4a"},
		{name: "sigv4 tampered body", method: "POST", target: "/aws/echo", header: goodAWS, body: "hellO", status: 403, reason: "payload hash mismatch"},
		{name: "sigv4 other path", method: "POST", target: "/aws/echo2", header: goodAWS, body: "hello", status: 403, reason: "signature mismatch"},
		{name: "sigv4 added query", method: "POST", target: "/aws/echo?admin=1", header: goodAWS, body: "hello", status: 403, reason: "signature mismatch"},
		{name: "sigv4 wrong secret", method: "POST", target: "/aws/echo", header: awsHdr("/aws/echo", "hi", aws.Credentials{AccessKeyID: demoKey.AccessKeyID, SecretAccessKey: "wrong"}, "us-east-1", "lambda", now, nil), body: "hi", status: 403, reason: "signature mismatch"},
		{name: "sigv4 unknown key", method: "POST", target: "/aws/echo", header: awsHdr("/aws/echo", "hi", aws.Credentials{AccessKeyID: "AKIAUNKNOWN000000000", SecretAccessKey: "x"}, "us-east-1", "lambda", now, nil), body: "hi", status: 403, reason: "unknown access key"},
		{name: "sigv4 wrong region", method: "POST", target: "/aws/echo", header: awsHdr("/aws/echo", "hi", demoKey, "eu-west-1", "lambda", now, nil), body: "hi", status: 403, reason: "region"},
		{name: "sigv4 wrong service", method: "POST", target: "/aws/echo", header: awsHdr("/aws/echo", "hi", demoKey, "us-east-1", "execute-api", now, nil), body: "hi", status: 403, reason: "service"},
		{name: "sigv4 stale", method: "POST", target: "/aws/echo", header: awsHdr("/aws/echo", "hi", demoKey, "us-east-1", "lambda", now.Add(-20*time.Minute), nil), body: "hi", status: 403, reason: "off the gateway clock"},
		{name: "sigv4 future", method: "POST", target: "/aws/echo", header: awsHdr("/aws/echo", "hi", demoKey, "us-east-1", "lambda", now.Add(20*time.Minute), nil), body: "hi", status: 403, reason: "off the gateway clock"},
		{name: "sigv4 unsigned amz header", method: "POST", target: "/aws/echo", header: withH(goodAWS, "X-Amz-Target", "evil"), body: "hello", status: 403, reason: "not signed"},
		{name: "sigv4 two authorizations", method: "POST", target: "/aws/echo", header: withH(goodAWS, "Authorization", "AWS4-HMAC-SHA256 x"), body: "hello", status: 403, reason: "2 times"},
		{name: "sigv4 header and query auth", method: "POST", target: "/aws/echo?X-Amz-Signature=00", header: goodAWS, body: "hello", status: 403, reason: "use exactly one"},
		{name: "sigv4 malformed authorization", method: "POST", target: "/aws/echo", header: http.Header{"Authorization": {"AWS4-HMAC-SHA256 Credential"}}, status: 403, reason: "malformed Authorization"},
		{name: "sigv4 bad escape in query", method: "GET", target: "/aws/echo?a=%zz", header: goodAWS, status: 403, reason: "malformed query"},
		{name: "sigv4 streaming payload", method: "POST", target: "/aws/echo", header: withH(http.Header{"Authorization": goodAWS["Authorization"], "X-Amz-Date": goodAWS["X-Amz-Date"]}, "X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"), body: "hello", status: 403, reason: "streaming"},
		{name: "sigv4 unsigned payload on lambda", method: "POST", target: "/aws/echo", header: func() http.Header {
			h := awsHdr("/aws/echo", "hello", demoKey, "us-east-1", "lambda", now, nil)
			h.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
			return h
		}(), body: "hello", status: 403, reason: ""},
		// ---- sts_identity ----
		{name: "sts no proof", target: "/sts/echo", status: 401, reason: ""},
		{name: "sts garbage", target: "/sts/echo", header: http.Header{"X-Fluid-Identity": {"garbage"}}, status: 403, reason: "not an STS identity proof"},
		{name: "sts not-allowlisted principal", target: "/sts/echo", header: http.Header{"X-Fluid-Identity": {presignSTS(t, mockSTS, intruderKey, now)}}, status: 403, reason: "not allowed"},
		{name: "sts foreign host", target: "/sts/echo", header: http.Header{"X-Fluid-Identity": {presignSTS(t, "https://sts.evil.example/", demoKey, now)}}, status: 403, reason: ""},
		{name: "sts tampered signature", target: "/sts/echo", header: http.Header{"X-Fluid-Identity": {goodSTS[:len(goodSTS)-4] + "0000"}}, status: 403, reason: ""},
		{name: "sts other action", target: "/sts/echo", header: http.Header{"X-Fluid-Identity": {strings.Replace(goodSTS, "GetCallerIdentity", "AssumeRole", 1)}}, status: 403, reason: ""},
		{name: "sts bad k8s token", target: "/sts/echo", header: http.Header{"X-Fluid-Identity": {"k8s-aws-v1.!!!"}}, status: 403, reason: "base64url"},
		{name: "sts url with userinfo", target: "/sts/echo", header: http.Header{"X-Fluid-Identity": {strings.Replace(goodSTS, "http://", "http://u:p@", 1)}}, status: 403, reason: "user info"},
		{name: "sts stale proof", target: "/sts/echo", header: http.Header{"X-Fluid-Identity": {presignSTS(t, mockSTS, demoKey, now.Add(-time.Hour))}}, status: 403, reason: ""},
		{name: "mock sts unsigned", target: "/_mock/sts/?Action=GetCallerIdentity&Version=2011-06-15", status: 403, reason: ""},
		// ---- google_id ----
		{name: "google no token", target: "/run/echo", status: 401, reason: "no Google ID token"},
		{name: "google alg none", target: "/run/echo", header: bearer(seg(map[string]any{"alg": "none"}) + "." + seg(gClaims) + "."), status: 403, reason: "alg none"},
		{name: "google HS256 key confusion", target: "/run/echo", header: bearer(hsPub), status: 403, reason: "alg HS256"},
		{name: "google foreign key", target: "/run/echo", header: bearer(rs(gClaims, map[string]any{"kid": "0000"}, other, jwt.SigningMethodRS256)), status: 403, reason: "unknown key id"},
		{name: "google forged with known kid", target: "/run/echo", header: bearer(rs(gClaims, map[string]any{"kid": gs.KeyIDs()[0]}, other, jwt.SigningMethodRS256)), status: 403, reason: "signature mismatch"},
		{name: "google crit header", target: "/run/echo", header: bearer(seg(map[string]any{"alg": "RS256", "kid": gs.KeyIDs()[0], "crit": []string{"x"}, "x": 1}) + "." + seg(gClaims) + ".AAAA"), status: 403, reason: "crit"},
		{name: "google expired", target: "/run/echo", header: bearer(gtok(map[string]any{"iat": now.Add(-3 * time.Hour).Unix(), "exp": now.Add(-2 * time.Hour).Unix()})), status: 403, reason: "expired"},
		{name: "google wrong audience", target: "/run/echo", header: bearer(gtok(map[string]any{"aud": "https://other.run.app"})), status: 403, reason: "claim aud"},
		{name: "google wrong issuer", target: "/run/echo", header: bearer(gtok(map[string]any{"iss": "https://evil.example"})), status: 403, reason: "claim iss"},
		{name: "google exp not a number", target: "/run/echo", header: bearer(gtok(map[string]any{"exp": "tomorrow"})), status: 403, reason: "NumericDate"},
		{name: "google truncated", target: "/run/echo", header: bearer("eyJhbGciOiJSUzI1NiJ9.e30"), status: 403, reason: "malformed token"},
		// ---- jwt (cognito, magic) ----
		{name: "jwt no token", target: "/app/echo", status: 401, reason: "missing bearer token"},
		{name: "jwt basic scheme", target: "/app/echo", header: http.Header{"Authorization": {"Basic eDp5"}}, status: 401, reason: "Bearer"},
		{name: "jwt alg none", target: "/app/echo", header: bearer(seg(map[string]any{"alg": "none"}) + "." + seg(jwtClaims) + "."), status: 401, reason: "algorithm"},
		{name: "jwt HS256", target: "/app/echo", header: bearer(rs(jwtClaims, nil, []byte("secret"), jwt.SigningMethodHS256)), status: 401, reason: "algorithm"},
		{name: "jwt foreign key", target: "/app/echo", header: bearer(rs(jwtClaims, map[string]any{"kid": "x"}, other, jwt.SigningMethodRS256)), status: 401, reason: "signature"},
		{name: "jwt wrong issuer", target: "/app/echo", header: bearer(rs(jwt.MapClaims{"iss": "https://evil.example", "exp": now.Add(time.Hour).Unix()}, nil, other, jwt.SigningMethodRS256)), status: 403, reason: "claim iss"},
		{name: "jwt magic token on cognito route", target: "/app/echo", header: bearer(rs(jwt.MapClaims{"iss": base + "/_mock/magic", "exp": now.Add(time.Hour).Unix()}, nil, other, jwt.SigningMethodRS256)), status: 403, reason: "claim iss"},
		{name: "jwt two tokens", target: "/magic/echo", header: http.Header{"Authorization": {"Bearer a", "Bearer b"}}, status: 401, reason: "more than one"},
		{name: "jwt not a JWT", target: "/magic/echo", header: bearer("opaque-token"), status: 401, reason: "not a JWT"},
		{name: "jwt crit header", target: "/app/echo", header: bearer(rs(jwtClaims, map[string]any{"crit": []string{"exp-x"}, "exp-x": 1}, other, jwt.SigningMethodRS256)), status: 401, reason: ""},
		// ---- cf_access ----
		{name: "cf nothing", target: "/admin/echo", status: 0, reason: ""},
		{name: "cf wrong secret", target: "/admin/echo", header: http.Header{"Cf-Access-Client-Id": {"demo.access"}, "Cf-Access-Client-Secret": {"wrong"}}, status: 0, reason: ""},
		{name: "cf unknown client", target: "/admin/echo", header: http.Header{"Cf-Access-Client-Id": {"x"}, "Cf-Access-Client-Secret": {"demo-cf-secret"}}, status: 0, reason: ""},
		{name: "cf forged token", target: "/admin/echo", header: http.Header{"Cf-Access-Token": {rs(jwt.MapClaims{"aud": "x", "exp": now.Add(time.Hour).Unix()}, map[string]any{"kid": "k"}, other, jwt.SigningMethodRS256)}}, status: 0, reason: ""},
		{name: "cf forged cookie", target: "/admin/echo", header: http.Header{"Cookie": {"CF_Authorization=" + seg(map[string]any{"alg": "none"}) + "." + seg(map[string]any{"aud": "x"}) + "."}}, status: 0, reason: ""},
		{name: "cf cookie with spaced name", target: "/admin/echo", header: http.Header{"Cookie": {"CF_Authorization =garbage"}}, status: 0, reason: ""},
	}
	if len(cases) < 60 {
		t.Fatalf("the matrix has %d cases, want at least 60", len(cases))
	}
	// The stable code each verifier and the frame answer beside the reason
	// (docs/gateway.md, "Rejection codes"); every other refusal must carry
	// some code too.
	wantCode := map[string]rejectcode.Code{
		"rebinding host on mailbox": "wrong_host", "dot-dot": "bad_path", "unknown route": rejectcode.NoRoute,
		"foreign origin": rejectcode.CORSRefused, "declared body too large": rejectcode.TooLarge, "chunked bad size": rejectcode.BadBody,
		"sigv4 unsigned": rejectcode.MissingSigV4, "sigv4 bearer": rejectcode.NotSigV4, "sigv4 sigv4a": rejectcode.MalformedSigV4,
		"sigv4 tampered body": rejectcode.PayloadHashMismatch, "sigv4 wrong secret": rejectcode.SignatureMismatch,
		"sigv4 unknown key": rejectcode.UnknownAccessKey, "sigv4 wrong region": rejectcode.RegionMismatch,
		"sigv4 wrong service": rejectcode.ServiceMismatch, "sigv4 stale": rejectcode.ClockSkew, "sigv4 future": rejectcode.ClockSkew,
		"sigv4 unsigned amz header": rejectcode.HeaderNotSigned, "sigv4 malformed authorization": rejectcode.MalformedSigV4,
		"sigv4 unsigned payload on lambda": rejectcode.UnsignedPayload,
		"sts no proof":                     rejectcode.MissingSTSIdentity, "sts garbage": rejectcode.MalformedProof,
		"sts not-allowlisted principal": rejectcode.PrincipalNotAllowed, "sts foreign host": rejectcode.STSEndpointRefused,
		"sts tampered signature": rejectcode.STSRefused, "sts stale proof": rejectcode.ProofExpired, "sts bad k8s token": rejectcode.MalformedProof,
		"google no token": rejectcode.MissingGoogleToken, "google alg none": rejectcode.MalformedToken,
		"google foreign key": rejectcode.UnknownKeyID, "google forged with known kid": rejectcode.TokenSignatureInvalid,
		"google expired": rejectcode.TokenExpired, "google wrong audience": rejectcode.AudienceMismatch,
		"google wrong issuer": rejectcode.IssuerMismatch, "google truncated": rejectcode.MalformedToken,
		"jwt no token": rejectcode.MissingBearer, "jwt not a JWT": rejectcode.MalformedToken, "jwt alg none": rejectcode.MalformedToken,
		"jwt foreign key": rejectcode.TokenSignatureInvalid, "jwt wrong issuer": rejectcode.IssuerMismatch,
		"cf nothing": rejectcode.MissingCFAccess, "cf wrong secret": rejectcode.ServiceTokenSecret,
		"cf unknown client": rejectcode.UnknownServiceToken, "cf forged token": rejectcode.TokenSignatureInvalid,
	}
	for _, c := range cases {
		method := c.method
		if method == "" {
			method = "GET"
		}
		host := c.host
		if host == "" {
			host = addr
		}
		var req bytes.Buffer
		req.WriteString(method + " " + c.target + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n")
		for k, vs := range c.header {
			if k == "Content-Length" && !c.chunk {
				continue
			}
			for _, v := range vs {
				req.WriteString(k + ": " + v + "\r\n")
			}
		}
		switch {
		case c.chunk:
			req.WriteString("Transfer-Encoding: chunked\r\n\r\n" + c.body)
		case c.header.Get("Content-Length") != "":
			req.WriteString("Content-Length: " + c.header.Get("Content-Length") + "\r\n\r\n")
		default:
			req.WriteString("Content-Length: " + strconv.Itoa(len(c.body)) + "\r\n\r\n" + c.body)
		}
		status, body := rawStatus(t, addr, req.String())
		var m map[string]any
		_ = json.Unmarshal([]byte(body), &m)
		reason, _ := m["reason"].(string)
		code, _ := m["code"].(string)
		if want, ok := wantCode[c.name]; ok && code != string(want) {
			t.Errorf("%s: code %q, want %q (%s)", c.name, code, want, short(body))
		}
		if reason != "" && code == "" {
			t.Errorf("%s: %d refused without a code: %s", c.name, status, short(body))
		}
		switch {
		case status >= 500 || status < 400:
			t.Errorf("%s: %d %s, want a 4xx", c.name, status, short(body))
		case c.status != 0 && status != c.status:
			t.Errorf("%s: %d %s, want %d", c.name, status, short(body), c.status)
		case reason == "" && !strings.Contains(body, "<Message>"):
			t.Errorf("%s: %d without a reason: %s", c.name, status, short(body))
		case !strings.Contains(strings.ToLower(body), strings.ToLower(c.reason)):
			t.Errorf("%s: %d reason %q, want it to mention %q", c.name, status, reason, c.reason)
		}
	}
	// Nothing above reached an origin.
	for _, e := range s.Gateway.Requests() {
		if e.Decision == "allow" {
			t.Errorf("let through: %s %s", e.Method, e.Path)
		}
	}
}

func short(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}
