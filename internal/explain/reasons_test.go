package explain

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	rc "github.com/gwcurl/gwcurl/internal/rejectcode"
)

// TestGatewayReasons maps the mock gateway's refusals that the end-to-end
// tests do not provoke (code, reason and details as the verifiers, file
// named, answer them) to their findings.
func TestGatewayReasons(t *testing.T) {
	t.Parallel()
	now := mustTime(t, "2026-01-02T03:04:05Z")
	appTok := makeJWT(t, jwt.MapClaims{"iss": "https://gwcurl-demo.cloudflareaccess.com", "aud": []string{"other-app"}, "type": "app",
		"email": "a@example.com", "iat": now.Add(-2 * time.Hour).Unix(), "nbf": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()})
	tests := []struct {
		source   string
		code     rc.Code
		reason   string
		status   int
		signedAt string // local clock, when not "now"
		details  map[string]any
		kind     string
		want     string
	}{
		// internal/gateway/verify/sigv4verify
		{"sigv4", rc.UnknownAccessKey, "unknown access key AKIAEXAMPLE0000000001", 403, "", map[string]any{"access_key_id": "AKIAEXAMPLE0000000001"}, "sigv4", "unknown access key: the server does not know AKIAEXAMPLE0000000001"},
		{"sigv4", rc.SessionTokenMismatch, "access key ASIAEXAMPLE is temporary: X-Amz-Security-Token is missing", 403, "", nil, "sigv4", "session token: access key ASIAEXAMPLE is temporary"},
		{"sigv4", rc.HeaderNotSigned, "x-amz-meta-a is present but not signed", 403, "", nil, "sigv4", "signed headers: x-amz-meta-a is present but not signed"},
		{"sigv4", rc.PresignExpired, "presigned request expired at 2026-01-02T03:00:00Z (signed 2026-01-02T02:45:00Z, valid 15m)", 403, "", map[string]any{"gateway_time": "2026-01-02T03:04:05Z"}, "sigv4", "presigned URL expired"},
		{"sigv4", rc.MissingSigV4, "missing AWS SigV4 authentication: no Authorization header and no X-Amz-Signature query parameter", 401, "", nil, "none", "no SigV4 signature"},
		{"sigv4", rc.NotSigV4, `the Authorization header is not AWS SigV4 (want "AWS4-HMAC-SHA256 Credential=...", got "Bearer")`, 401, "", nil, "bearer", "wrong credential type"},
		{"sigv4", rc.PayloadHashMismatch, "payload hash mismatch: x-amz-content-sha256 is aaa but the body's SHA-256 is bbb", 403, "", nil, "sigv4", "payload hash mismatch"},
		// internal/gateway/verify/googleverify
		{"google", rc.IssuerMismatch, `claim iss: want https://accounts.google.com or accounts.google.com, got "https://evil.example"`, 403, "", map[string]any{"want": "https://accounts.google.com or accounts.google.com", "got": "https://evil.example"}, "google", `issuer: the token is from "https://evil.example"`},
		{"google", rc.UnknownKeyID, `unknown key id "k1"`, 403, "", map[string]any{"known key ids": []string{"k2"}, "kid": "k1"}, "google", `unknown signing key: the token was signed with key "k1"`},
		{"google", rc.TokenSignatureInvalid, "signature mismatch (key id k2)", 403, "", nil, "google", "token signature invalid"},
		{"google", rc.PrincipalNotAllowed, "email x@example.com is not allowed on this route", 403, "", nil, "google", "principal not allowed: email x@example.com"},
		{"google", rc.TokenNotYetValid, "token not valid before 2026-01-02T04:04:05Z (now 2026-01-02T03:04:05Z)", 403, "", map[string]any{"claim": "nbf", "at": "2026-01-02T04:04:05Z", "now": "2026-01-02T03:04:05Z"}, "google", "token not yet valid: nbf is 2026-01-02T04:04:05Z, 1h in the future"},
		// internal/gateway/verify/jwtverify
		{"jwt", rc.MissingBearer, "missing bearer token in the Authorization header", 401, "", map[string]any{"header": "Authorization"}, "cognito", "missing token: no bearer token in the Authorization header"},
		{"jwt", rc.TokenNotYetValid, "claim iat is in the future (2026-01-02T03:34:05Z): check the clocks", 401, "", map[string]any{"claim": "iat", "at": "2026-01-02T03:34:05Z"}, "cognito", "token not yet valid: iat is 2026-01-02T03:34:05Z, 30m in the future (your clock"},
		{"jwt", rc.TokenNotYetValid, "token not valid before 2026-01-02T03:14:05Z", 401, "", map[string]any{"claim": "nbf", "at": "2026-01-02T03:14:05Z"}, "magic-link", "token not yet valid: nbf is 2026-01-02T03:14:05Z, 10m in the future"},
		{"jwt", rc.AudienceMismatch, "claim client_id: want gwcurl-demo, got other", 403, "", map[string]any{"want": "gwcurl-demo", "got": "other"}, "cognito", "audience: the token is for other, the service expects gwcurl-demo"},
		{"jwt", rc.InsufficientScope, `claim scope: missing items:write (have "openid")`, 403, "", map[string]any{"want": "items:write"}, "cognito", "insufficient scope: the token lacks scope items:write"},
		{"jwt", rc.TokenSignatureInvalid, `signature: not signed by a key of http://127.0.0.1:1/_mock/cognito (kid "abc"): failed to verify`, 401, "", map[string]any{"issuer": "http://127.0.0.1:1/_mock/cognito", "kid": "abc"}, "cognito", "token signature invalid: not signed by a key of http://127.0.0.1:1/_mock/cognito"},
		{"jwt", rc.MalformedToken, "the bearer token is not a JWT", 401, "", nil, "bearer", "malformed token"},
		// internal/gateway/verify/cfverify
		{"cf", rc.TokenExpired, "invalid CF_Authorization token: token has invalid claims: token is expired", 403, "", nil, "cf-access", "token expired 1h ago"},
		{"cf", rc.AudienceMismatch, "invalid CF_Authorization token: token has invalid audience", 403, "", nil, "cf-access", "audience: the token is for other-app, the service expects this application's AUD tag"},
		{"cf", rc.IssuerMismatch, "invalid CF_Authorization token: token has invalid issuer", 403, "", nil, "cf-access", "issuer: the app token is from \"https://gwcurl-demo.cloudflareaccess.com\""},
		{"cf", rc.WrongTokenType, `invalid CF_Authorization token: claim type: want "app", got "org"`, 403, "", nil, "cf-access", "wrong Access token: an organization token"},
		{"cf", rc.UnknownServiceToken, `unknown service token client id "nope.access"`, 403, "", map[string]any{"client_id": "nope.access"}, "cf-access", `unknown CF Access service token: client id "nope.access"`},
		// internal/gateway/verify/stsverify
		{"sts", rc.MissingSTSIdentity, "missing X-Fluid-Identity header: send a signed STS GetCallerIdentity proof (gwcurl --auth sts-identity)", 401, "", map[string]any{"header": "X-Fluid-Identity"}, "none", "missing STS identity: no X-Fluid-Identity header was sent"},
		{"sts", rc.ServerIDMismatch, `the proof is bound to server id "a", this route is "b"`, 403, "", nil, "sts-identity", `server id: the proof is bound to server id "a"`},
		{"sts", rc.ClockSkew, "the proof is dated 2026-01-02T03:24:05Z, 20m0s ahead of the gateway clock (max 5m0s)", 403, "2026-01-02T03:24:05Z", map[string]any{"request_time": "2026-01-02T03:24:05Z", "gateway_time": "2026-01-02T03:04:05Z"}, "sts-identity", "clock skew: your clock is 20m ahead of the server"},
		{"sts", rc.ClockSkew, "the proof is dated 2026-01-02T03:24:05Z, 20m0s ahead of the gateway clock (max 5m0s)", 403, "", map[string]any{"request_time": "2026-01-02T03:24:05Z", "gateway_time": "2026-01-02T03:04:05Z"}, "sts-identity", "future-dated signature"},
		{"sts", rc.STSRefused, "STS refused the proof: InvalidClientTokenId: The security token included in the request is invalid. (mock STS: unknown access key AKIAX)", 403, "", map[string]any{"sts_code": "InvalidClientTokenId", "sts_message": "The security token included in the request is invalid. (mock STS: unknown access key AKIAX)"}, "sts-identity", "invalid AWS credentials"},
		{"sts", rc.STSRefused, "STS refused the proof: SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.", 403, "", map[string]any{"sts_code": "SignatureDoesNotMatch", "sts_message": "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."}, "sts-identity", "signature mismatch"},
		{"sts", rc.STSEndpointRefused, "the proof is signed for sts.amazonaws.com, which is not the STS endpoint this route trusts (http://127.0.0.1:1/_mock/sts/): the gateway never contacts a host chosen by the client", 403, "", nil, "sts-identity", "STS endpoint: the proof is signed for sts.amazonaws.com"},
		// internal/gateway (frame)
		{"frame", rc.CORSRefused, "cors: preflight without an Origin header", 403, "", nil, "none", "CORS: preflight without an Origin header"},
		{"frame", rc.KindNotImplemented, "auth kind jwt not implemented yet", 403, "", map[string]any{"kind": "jwt"}, "cognito", "cannot verify auth kind jwt"},
		{"frame", rc.UpstreamBusy, "origin is at capacity (8 requests in flight)", 503, "", nil, "none", "rate limited"},
		{"frame", rc.UpstreamTimeout, "upstream http://10.0.0.1:80 did not answer within 5s", 504, "", map[string]any{"upstream": "http://10.0.0.1:80", "timeout": "5s"}, "none", "upstream down: the gateway accepted the request but the origin http://10.0.0.1:80 did not answer within 5s"},
	}
	for _, tt := range tests {
		t.Run(tt.source+" "+tt.reason[:min(len(tt.reason), 40)], func(t *testing.T) {
			t.Parallel()
			m := map[string]any{"error": http.StatusText(tt.status), "code": tt.code, "reason": tt.reason}
			for k, v := range tt.details {
				m[k] = v
			}
			body, _ := json.Marshal(m)
			h := http.Header{}
			if tt.kind == "cf-access" {
				h.Set("Cf-Access-Token", appTok)
			}
			local := now
			if tt.signedAt != "" {
				local = mustTime(t, tt.signedAt)
			}
			s := Sent{Method: "GET", URL: "http://127.0.0.1:8080/x", AuthKind: tt.kind, Header: h, SignedAt: local}
			fs := Diagnose(s, Received{Status: tt.status, Header: http.Header{"Content-Type": {"application/json"}}, Body: body, At: local})
			if len(fs) == 0 || !strings.Contains(fs[0].Cause, tt.want) {
				t.Errorf("reason %q:\n%s\nwant first cause to contain %q", tt.reason, rendered(fs), tt.want)
			}
			assertNoSecrets(t, "render", rendered(fs), appTok)
		})
	}
}

// TestCORS checks answers from servers other than the mock gateway.
func TestCORS(t *testing.T) {
	t.Parallel()
	const origin = "https://app.example.com"
	preflight := http.Header{"Origin": {origin}, "Access-Control-Request-Method": {"DELETE"}, "Access-Control-Request-Headers": {"authorization, x-amz-date"}}
	tests := []struct {
		name   string
		method string
		sent   http.Header
		status int
		got    http.Header
		want   string // "" = no finding
	}{
		{"2xx without allow-origin", "GET", http.Header{"Origin": {origin}}, 200, http.Header{}, "CORS: origin https://app.example.com is not allowed"},
		{"2xx allowing another origin", "GET", http.Header{"Origin": {origin}}, 200, http.Header{"Access-Control-Allow-Origin": {"https://admin.example.com"}}, "CORS: origin https://app.example.com is not allowed"},
		{"2xx allowing it", "GET", http.Header{"Origin": {origin}}, 200, http.Header{"Access-Control-Allow-Origin": {origin}}, ""},
		{"2xx allowing any", "GET", http.Header{"Origin": {origin}}, 200, http.Header{"Access-Control-Allow-Origin": {"*"}}, ""},
		{"two allow-origin headers", "GET", http.Header{"Origin": {origin}}, 200, http.Header{"Access-Control-Allow-Origin": {origin, origin}}, "browsers accept exactly one"},
		{"wildcard with credentials", "GET", http.Header{"Origin": {origin}, "Cookie": {"a=b"}}, 200, http.Header{"Access-Control-Allow-Origin": {"*"}, "Access-Control-Allow-Credentials": {"true"}}, `"*", which browsers refuse`},
		{"preflight method", "OPTIONS", preflight, 204, http.Header{"Access-Control-Allow-Origin": {origin}, "Access-Control-Allow-Methods": {"GET, POST"}, "Access-Control-Allow-Headers": {"authorization, x-amz-date"}}, "does not allow method DELETE"},
		{"preflight header", "OPTIONS", preflight, 204, http.Header{"Access-Control-Allow-Origin": {origin}, "Access-Control-Allow-Methods": {"GET, DELETE"}, "Access-Control-Allow-Headers": {"authorization"}}, "does not allow request header x-amz-date"},
		{"preflight ok", "OPTIONS", preflight, 204, http.Header{"Access-Control-Allow-Origin": {origin}, "Access-Control-Allow-Methods": {"GET, DELETE"}, "Access-Control-Allow-Headers": {"*"}}, ""},
		{"error answer without cors headers", "GET", http.Header{"Origin": {origin}}, 500, http.Header{}, "a browser hides it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fs := Diagnose(Sent{Method: tt.method, URL: "https://api.example.com/x", Header: tt.sent}, Received{Status: tt.status, Header: tt.got})
			var cors []Finding
			for _, f := range fs {
				if strings.HasPrefix(f.Cause, "CORS") {
					cors = append(cors, f)
				}
			}
			switch {
			case tt.want == "" && len(cors) > 0:
				t.Errorf("unexpected CORS finding: %+v", cors)
			case tt.want != "" && (len(cors) == 0 || !strings.Contains(cors[0].Cause, tt.want)):
				t.Errorf("want a CORS finding with %q, got:\n%s", tt.want, rendered(fs))
			}
		})
	}
}
