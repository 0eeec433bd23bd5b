package explain

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/gwcurl/gwcurl/internal/awsv4"
)

// stsProofs makes real identity proofs with the AWS SDK's signer: a
// presigned GetCallerIdentity URL (with x-k8s-aws-id signed), its k8s
// token, and Vault's login payload for a signed POST.
func stsProofs(t *testing.T, signedAt time.Time, sessionToken string) (presigned, k8s, vault string) {
	t.Helper()
	ctx := context.Background()
	creds := aws.Credentials{AccessKeyID: "ASIAIOSFODNN7EXAMPLE", SecretAccessKey: testSecretKey, SessionToken: sessionToken}
	if sessionToken == "" {
		creds.AccessKeyID = "AKIAIOSFODNN7EXAMPLE"
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://sts.us-east-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Expires=60", nil)
	req.Header.Set("x-k8s-aws-id", "prod-cluster")
	u, _, err := v4.NewSigner().PresignHTTP(ctx, creds, req, testEmptySHA256, "sts", "us-east-1", signedAt)
	if err != nil {
		t.Fatal(err)
	}
	body := "Action=GetCallerIdentity&Version=2011-06-15"
	post, _ := http.NewRequestWithContext(ctx, "POST", "https://sts.amazonaws.com/", strings.NewReader(body))
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	post.Header.Set("X-Vault-AWS-IAM-Server-ID", "vault.example.com")
	if err := v4.NewSigner().SignHTTP(ctx, creds, post, awsv4.HashHex([]byte(body)), "sts", "us-east-1", signedAt); err != nil {
		t.Fatal(err)
	}
	hdrs, _ := json.Marshal(post.Header)
	login, _ := json.Marshal(map[string]string{
		"role":                    "oncall",
		"iam_http_request_method": "POST",
		"iam_request_url":         base64.StdEncoding.EncodeToString([]byte(post.URL.String())),
		"iam_request_body":        base64.StdEncoding.EncodeToString([]byte(body)),
		"iam_request_headers":     base64.StdEncoding.EncodeToString(hdrs),
	})
	return u, "k8s-aws-v1." + base64.RawURLEncoding.EncodeToString([]byte(u)), base64.StdEncoding.EncodeToString(login)
}

func TestDecode(t *testing.T) {
	t.Parallel()
	now := mustTime(t, "2026-01-02T03:04:05Z")
	google := makeJWT(t, jwt.MapClaims{"iss": "https://accounts.google.com", "aud": "https://orders-abc123-uc.a.run.app", "azp": "1000",
		"sub": "1000", "email": "ci@proj.iam.gserviceaccount.com", "email_verified": true, "iat": now.Add(-5 * time.Minute).Unix(), "exp": now.Add(55 * time.Minute).Unix()})
	gcloud := makeJWT(t, jwt.MapClaims{"iss": "https://accounts.google.com", "aud": "32555940559.apps.googleusercontent.com",
		"sub": "1", "email": "alice@example.com", "iat": now.Add(-3 * time.Hour).Unix(), "exp": now.Add(-2 * time.Hour).Unix()})
	cf := makeJWT(t, jwt.MapClaims{"iss": "https://gwcurl-demo.cloudflareaccess.com", "aud": []string{"e1f9f45012bf2c68"}, "type": "app",
		"email": "alice@example.com", "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(24 * time.Hour).Unix(), "identity_nonce": "abc"})
	cognito := makeJWT(t, jwt.MapClaims{"iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf", "aud": "gwcurl-demo",
		"token_use": "id", "cognito:username": "alice", "iat": now.Unix(), "nbf": now.Add(time.Hour).Unix(), "exp": now.Add(2 * time.Hour).Unix()})
	presigned, k8s, vault := stsProofs(t, now.Add(-20*time.Minute), testSessionToken)
	fresh, _, _ := stsProofs(t, now.Add(-2*time.Minute), "")
	s3 := string(loadRecorded(t, "aws/s3-signature-path-mismatch").Body)
	expiredToken := string(loadRecorded(t, "aws/s3-expired-token").Body)
	gw := `{"canonical_request":"GET\n/aws/echo\n\nhost:localhost:8080\nx-amz-date:20260102T030405Z\n\nhost;x-amz-date\n` + testEmptySHA256 + `","code":"signature_mismatch","error":"Forbidden","reason":"signature mismatch","string_to_sign":"AWS4-HMAC-SHA256\n20260102T030405Z\n20260102/us-east-1/lambda/aws4_request\nabc"}`
	dump := "HTTP/1.1 403 Forbidden\nContent-Type: application/json\nDate: Fri, 02 Jan 2026 03:14:05 GMT\nSet-Cookie: CF_Authorization=" + cf + "; Path=/\n\n" +
		`{"code":"clock_skew","error":"Forbidden","gateway_time":"2026-01-02T03:14:05Z","reason":"request time 2026-01-02T03:04:05Z is 10m0s off the gateway clock (max 5m)","request_time":"2026-01-02T03:04:05Z"}`

	tests := []struct {
		name, in, kind string
		want           []string
		secrets        []string
	}{
		{"google service account", google, "jwt", []string{"alg HS256, key id test-key-1", "Google ID token of a service account",
			"audience:        https://orders-abc123-uc.a.run.app", "expires:         2026-01-02T03:59:05Z (in 55m), lifetime 1h", "party (azp):     1000"}, []string{google}},
		{"gcloud user token, expired, as a header line", "Authorization: Bearer " + gcloud, "jwt", []string{"sent as:         Authorization header",
			"its audience is the OAuth client", "EXPIRED 2h ago"}, []string{gcloud}},
		{"cloudflare cookie header line", "Cookie: theme=dark; CF_Authorization=" + cf, "jwt", []string{"sent as:         Cookie header", "Cloudflare Access application token"}, []string{cf}},
		{"cloudflare app token", cf, "jwt", []string{"Cloudflare Access application token", "type:            app", "in 24h"}, []string{cf}},
		{"cognito id token not yet valid", cognito, "jwt", []string{"Amazon Cognito user pool token (ID token)", "username:        alice", "NOT YET VALID"}, []string{cognito}},
		{"sts url proof, expired", presigned, "sts-identity", []string{"url format", "access key:      ASIAIOSFODNN7EXAMPLE (temporary STS credentials)",
			"region:          us-east-1", "action:          GetCallerIdentity", "EXPIRED 5m ago", "server id:       x-k8s-aws-id (signed", "session token:   present"}, nil},
		{"sts url proof, fresh", fresh, "sts-identity", []string{"(long-term IAM user key)", "expires:         2026-01-02T03:17:05Z (in 13m; STS honours"}, nil},
		{"k8s token", k8s, "sts-identity", []string{"k8s format", "ASIAIOSFODNN7EXAMPLE", "request:         GET https://sts.us-east-1.amazonaws.com/ (STS, us-east-1)"}, []string{k8s}},
		{"vault login as a header line", "X-Fluid-Identity: " + vault, "sts-identity", []string{"vault format", "request:         POST https://sts.amazonaws.com/ (global STS endpoint",
			"server id:       x-vault-aws-iam-server-id: vault.example.com (signed", "GetCallerIdentity"}, []string{vault}},
		{"sigv4 authorization header", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=" + testSignature,
			"sigv4-authorization", []string{"region:          us-east-1", "service:         s3", "signature:       5fa00f…"}, nil},
		{"s3 error", s3, "aws-error", []string{"AWS error (S3 XML): SignatureDoesNotMatch", "AWSAccessKeyId:  AKIAIOSFODNN7EXAMPLE",
			"canonical request computed by S3"}, []string{"f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"}},
		{"s3 expired token echoes the token", expiredToken, "aws-error", []string{"ExpiredToken", "cause:  expired AWS session"}, nil},
		{"gateway refusal", gw, "gateway-rejection", []string{"mock gateway refusal: Forbidden", "reason:          signature mismatch", "canonical request computed by the gateway"}, nil},
		{"http response", dump, "http-response", []string{"HTTP 403 Forbidden", "cause:  clock skew: the request was signed 10m before the server's time"}, []string{cf}},
		{"oauth error", `{"error":"invalid_grant","error_description":"Bad Request"}`, "oauth-error", []string{"OAuth error: invalid_grant", "server says: invalid_grant: Bad Request"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rep, err := Decode(tt.in, now)
			if err != nil {
				t.Fatal(err)
			}
			text := strings.Join(rep.Lines, "\n")
			t.Log("\n" + text)
			if rep.Kind != tt.kind {
				t.Errorf("kind %q, want %q", rep.Kind, tt.kind)
			}
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("lines lack %q", w)
				}
			}
			js, err := json.Marshal(rep.Fields)
			if err != nil {
				t.Fatalf("fields do not marshal: %v", err)
			}
			if rep.Fields["kind"] != tt.kind {
				t.Errorf("fields kind %v", rep.Fields["kind"])
			}
			for _, where := range []string{text, string(js)} {
				assertNoSecrets(t, "decode", where, tt.secrets...)
				// A presigned URL's signature never appears.
				if q, err := url.ParseQuery(tt.in); err == nil {
					for k, v := range q {
						if strings.EqualFold(k, "X-Amz-Signature") && strings.Contains(where, v[0]) {
							t.Errorf("signature leaked")
						}
					}
				}
			}
			for _, p := range []string{presigned, vault} {
				if id, err := decodeIdentity(p); err == nil && strings.Contains(text+string(js), id.signature) {
					t.Errorf("an identity proof's signature leaked")
				}
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "   ", "hello world", "a.b.c", `{"foo":1}`, "<xml>not an error</xml>", "HTTP/1.1 nope"} {
		if rep, err := Decode(in, time.Now()); err == nil {
			t.Errorf("Decode(%q) = %+v, want an error", in, rep)
		} else if strings.HasSuffix(err.Error(), ".") || strings.ToLower(err.Error()[:1]) != err.Error()[:1] {
			t.Errorf("error %q is not a lower-case line without a period", err)
		}
	}
}

func TestSigningTrace(t *testing.T) {
	t.Parallel()
	var forwarded []string
	st := &SigningTrace{Next: func(f string, a ...any) { forwarded = append(forwarded, f) }}
	st.Trace("sigv4: signing for service %s, region %s", "lambda", "us-east-1")
	st.Trace("sigv4: canonical request:\n%s", "    GET\n    /x\n    \n    host:h\n    \n    host\n    "+testEmptySHA256)
	st.Trace("sigv4: string to sign:\n%s", "    AWS4-HMAC-SHA256\n    20260102T030405Z")
	cr, sts := st.Signed()
	if cr != "GET\n/x\n\nhost:h\n\nhost\n"+testEmptySHA256 || sts != "AWS4-HMAC-SHA256\n20260102T030405Z" || len(forwarded) != 3 {
		t.Errorf("Signed() = %q, %q; forwarded %d", cr, sts, len(forwarded))
	}
}

// TestParseHTTPResponse reads curl -i output in its forms: HTTP/1.1 with a
// reason phrase, HTTP/2 and HTTP/3 without one, CRLF or LF line ends, and
// several header blocks (100 Continue, a proxy's CONNECT answer, -L).
func TestParseHTTPResponse(t *testing.T) {
	t.Parallel()
	const body = `{"message":"Missing Authentication Token"}`
	tests := []struct {
		name, in, proto string
		status          int
		header          string // a header the answer must have
	}{
		{"http/1.1", "HTTP/1.1 403 Forbidden\nx-amzn-ErrorType: MissingAuthenticationTokenException\n\n" + body, "HTTP/1.1", 403, "X-Amzn-Errortype"},
		{"http/2 lower-case headers", "HTTP/2 403 \r\ncontent-type: application/json\r\nx-amzn-errortype: MissingAuthenticationTokenException\r\n\r\n" + body, "HTTP/2", 403, "X-Amzn-Errortype"},
		{"http/2.0", "HTTP/2.0 403\nx-amzn-errortype: X\n\n" + body, "HTTP/2", 403, "X-Amzn-Errortype"},
		{"http/3", "HTTP/3 403\nx-amzn-errortype: X\n\n" + body, "HTTP/3", 403, "X-Amzn-Errortype"},
		{"100 continue first", "HTTP/1.1 100 Continue\n\nHTTP/1.1 403 Forbidden\nx-amzn-ErrorType: X\n\n" + body, "HTTP/1.1", 403, "X-Amzn-Errortype"},
		{"proxy connect first", "HTTP/1.1 200 Connection established\n\nHTTP/2 403\nx-amzn-errortype: X\n\n" + body, "HTTP/2", 403, "X-Amzn-Errortype"},
		{"redirect followed (-L)", "HTTP/2 302\nlocation: /b\n\nHTTP/2 403\nx-amzn-errortype: X\n\n" + body, "HTTP/2", 403, "X-Amzn-Errortype"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec, proto, err := parseHTTPResponse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if proto != tt.proto || rec.Status != tt.status || rec.Header.Get(tt.header) == "" || string(rec.Body) != body {
				t.Errorf("got %s %d %v %q", proto, rec.Status, rec.Header, rec.Body)
			}
			rep, err := Decode(tt.in, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Kind != "http-response" || !strings.Contains(strings.Join(rep.Lines, "\n"), "Missing Authentication Token") {
				t.Errorf("Decode: %s %q", rep.Kind, rep.Lines)
			}
		})
	}
	for _, bad := range []string{"HTTP/2", "HTTP/1.1 nope", "HTTP/x 403"} {
		if _, _, err := parseHTTPResponse(bad); err == nil {
			t.Errorf("parseHTTPResponse(%q) accepted it", bad)
		}
	}
}

// TestPastedMissingAuthenticationToken: pasted without the request, API
// Gateway's "Missing Authentication Token" reads first as a wrong URL.
func TestPastedMissingAuthenticationToken(t *testing.T) {
	t.Parallel()
	in := "HTTP/2 403\ncontent-type: application/json\nx-amzn-errortype: MissingAuthenticationTokenException\nx-amz-apigw-id: EXAMPLE=\n\n{\"message\":\"Missing Authentication Token\"}"
	rep, err := Decode(in, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(rep.Lines, "\n")
	if !strings.Contains(text, "cause:  API Gateway has no such resource") || !strings.Contains(text, "maybe:  API Gateway got no SigV4 signature") {
		t.Errorf("pasted Missing Authentication Token:\n%s", text)
	}
}
