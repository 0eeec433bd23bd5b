package explain

import (
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/rogpeppe/go-internal/txtar"
)

// s3CR is the canonical request of the S3 SigV4 example "GET Object"
// (examplebucket, /test.txt, Range bytes=0-9), with path substituted.
func s3CR(path string) string {
	return "GET\n" + path + "\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\nx-amz-content-sha256:" + testEmptySHA256 +
		"\nx-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n" + testEmptySHA256
}

func sigv4Header(akid, date, region, service, signed string) http.Header {
	h := http.Header{}
	h.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+akid+"/"+date[:8]+"/"+region+"/"+service+"/aws4_request, SignedHeaders="+signed+", Signature="+testSignature)
	h.Set("X-Amz-Date", date)
	h.Set("X-Amz-Content-Sha256", testEmptySHA256)
	return h
}

func withHeader(h http.Header, kv ...string) http.Header {
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// TestRecordedBodies runs the diagnosis on recorded error answers in the
// documented formats (testdata/*/*.txtar, each naming its source).
func TestRecordedBodies(t *testing.T) {
	t.Parallel()
	s3Time := mustTime(t, "2013-05-24T00:00:00Z")
	apiTime := mustTime(t, "2015-08-30T12:36:00Z")
	runTime := mustTime(t, "2026-01-02T03:04:04Z")

	runURL := "https://orders-abc123-uc.a.run.app/orders"
	tokWrongAud := makeJWT(t, jwt.MapClaims{"iss": "https://accounts.google.com", "aud": "https://billing-abc123-uc.a.run.app",
		"sub": "1001", "email": "ci@proj.iam.gserviceaccount.com", "email_verified": true,
		"iat": runTime.Add(-10 * time.Minute).Unix(), "exp": runTime.Add(50 * time.Minute).Unix()})
	tokExpired := makeJWT(t, jwt.MapClaims{"iss": "https://accounts.google.com", "aud": "https://orders-abc123-uc.a.run.app",
		"sub": "1001", "iat": runTime.Add(-2 * time.Hour).Unix(), "exp": runTime.Add(-time.Hour).Unix()})
	tokGood := makeJWT(t, jwt.MapClaims{"iss": "https://accounts.google.com", "aud": "https://orders-abc123-uc.a.run.app",
		"sub": "1001", "email": "ci@proj.iam.gserviceaccount.com", "email_verified": true,
		"iat": runTime.Add(-time.Minute).Unix(), "exp": runTime.Add(59 * time.Minute).Unix()})
	tokCognito := makeJWT(t, jwt.MapClaims{"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE", "aud": "other-client",
		"token_use": "id", "iat": runTime.Unix(), "exp": runTime.Add(time.Hour).Unix()})
	tokPathAud := makeJWT(t, jwt.MapClaims{"iss": "https://accounts.google.com", "aud": "https://orders-abc123-uc.a.run.app/orders",
		"sub": "1001", "email": "ci@proj.iam.gserviceaccount.com", "iat": runTime.Add(-time.Minute).Unix(), "exp": runTime.Add(59 * time.Minute).Unix()})
	tokCustomAud := makeJWT(t, jwt.MapClaims{"iss": "https://accounts.google.com", "aud": "https://api.example.com",
		"sub": "1001", "email": "ci@proj.iam.gserviceaccount.com", "iat": runTime.Add(-time.Minute).Unix(), "exp": runTime.Add(59 * time.Minute).Unix()})
	tokens := []string{tokWrongAud, tokExpired, tokGood, tokCognito, tokPathAud, tokCustomAud}

	s3Sig := sigv4Header("AKIAIOSFODNN7EXAMPLE", "20130524T000000Z", "us-east-1", "s3", "host;range;x-amz-content-sha256;x-amz-date")
	apiSig := func(region, service string) http.Header {
		return sigv4Header("AKIAIOSFODNN7EXAMPLE", "20150830T123600Z", region, service, "host;x-amz-content-sha256;x-amz-date")
	}

	tests := []struct {
		name string
		file string
		sent Sent
		at   time.Time
		want []string // in the first finding's cause
		fix  string   // in the first finding's fix
		any  string   // somewhere in the rendered output
	}{
		{name: "s3 wrong secret", file: "aws/s3-signature-wrong-secret",
			sent: Sent{Method: "GET", URL: "https://examplebucket.s3.amazonaws.com/test.txt", AuthKind: "sigv4", Header: s3Sig, SignedAt: s3Time,
				CanonicalRequest: s3CR("/test.txt"), Region: "us-east-1", Service: "s3"},
			want: []string{"wrong secret key", "AKIAIOSFODNN7EXAMPLE"}, fix: "secret access key"},
		{name: "s3 canonical path mismatch", file: "aws/s3-signature-path-mismatch",
			sent: Sent{Method: "GET", URL: "https://examplebucket.s3.amazonaws.com/my%20photo.jpg", AuthKind: "sigv4", Header: s3Sig, SignedAt: s3Time,
				CanonicalRequest: s3CR("/my%2520photo.jpg"), Region: "us-east-1", Service: "s3"},
			want: []string{"canonical request mismatch", "the path differs", "/my%2520photo.jpg", "/my%20photo.jpg"},
			any:  "- /my%2520photo.jpg\n    + /my%20photo.jpg"},
		{name: "s3 request time too skewed", file: "aws/s3-request-time-too-skewed",
			sent: Sent{Method: "GET", URL: "https://examplebucket.s3.amazonaws.com/test.txt", AuthKind: "sigv4", Header: s3Sig, SignedAt: s3Time},
			at:   s3Time.Add(time.Second),
			want: []string{"clock skew", "your clock is 20m11s behind the server"}, fix: "NTP"},
		{name: "s3 region", file: "aws/s3-authorization-header-malformed",
			sent: Sent{Method: "GET", URL: "https://examplebucket.s3.amazonaws.com/test.txt", AuthKind: "sigv4", Header: s3Sig, SignedAt: s3Time},
			want: []string{"region: signed for us-east-1, endpoint expects eu-west-1"}, fix: "--region eu-west-1"},
		{name: "s3 unknown access key", file: "aws/s3-invalid-access-key-id",
			sent: Sent{Method: "GET", URL: "https://examplebucket.s3.amazonaws.com/test.txt", AuthKind: "sigv4", Header: s3Sig, SignedAt: s3Time},
			want: []string{"unknown access key", "AKIAI44QH8DHBEXAMPLE"}},
		{name: "s3 expired session token", file: "aws/s3-expired-token",
			sent: Sent{Method: "GET", URL: "https://examplebucket.s3.amazonaws.com/test.txt", AuthKind: "sigv4",
				Header: withHeader(s3Sig.Clone(), "X-Amz-Security-Token", testSessionToken), SignedAt: s3Time},
			want: []string{"expired AWS session"}, fix: "aws sso login"},
		{name: "s3 payload hash mismatch", file: "aws/s3-content-sha256-mismatch",
			sent: Sent{Method: "PUT", URL: "https://examplebucket.s3.amazonaws.com/test.txt", AuthKind: "sigv4", Header: s3Sig, SignedAt: s3Time},
			want: []string{"payload hash mismatch"}},
		{name: "api gateway canonical mismatch (stage)", file: "aws/apigw-signature-mismatch",
			sent: Sent{Method: "GET", URL: "https://api.example.com/items", AuthKind: "sigv4", Header: apiSig("us-east-1", "execute-api"), SignedAt: apiTime,
				CanonicalRequest: "GET\n/items\n\nhost:abc123defg.execute-api.us-east-1.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" + testEmptySHA256},
			want: []string{"canonical request mismatch", "the path differs (you signed /items, the server saw /prod/items)"}, any: "API Gateway"},
		{name: "api gateway signature expired", file: "aws/apigw-signature-expired",
			sent: Sent{Method: "GET", URL: "https://abc123defg.execute-api.us-east-1.amazonaws.com/prod/items", AuthKind: "sigv4", Header: apiSig("us-east-1", "execute-api"), SignedAt: apiTime},
			at:   apiTime.Add(time.Second),
			want: []string{"clock skew", "your clock is 14m59s behind the server"}, any: "Signature expired"},
		{name: "lambda url wrong region", file: "aws/lambda-url-region",
			sent: Sent{Method: "GET", URL: "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws/", AuthKind: "sigv4", Header: apiSig("eu-west-1", "lambda"), SignedAt: apiTime},
			want: []string{"region: signed for eu-west-1, endpoint expects us-east-1"}, fix: "--region us-east-1"},
		{name: "lambda url wrong service", file: "aws/lambda-url-service",
			sent: Sent{Method: "GET", URL: "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws/", AuthKind: "sigv4", Header: apiSig("us-east-1", "execute-api"), SignedAt: apiTime},
			want: []string{"service: signed for execute-api, endpoint expects lambda"}, fix: "--service lambda"},
		{name: "lambda url arn not allowed", file: "aws/lambda-url-not-authorized",
			sent: Sent{Method: "GET", URL: "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws/", AuthKind: "sigv4", Header: apiSig("us-east-1", "lambda"), SignedAt: apiTime},
			want: []string{"not allowed", "arn:aws:iam::123456789012:user/intruder", "lambda:InvokeFunctionUrl", "on arn:aws:lambda:us-east-1:123456789012:function:orders", "no resource-based policy"},
			fix:  "aws lambda add-permission --function-name orders --statement-id gwcurl-invoke --action lambda:InvokeFunctionUrl --principal arn:aws:iam::123456789012:user/intruder --function-url-auth-type AWS_IAM"},
		{name: "lambda url role lacks the permission", file: "aws/lambda-url-not-authorized-identity",
			sent: Sent{Method: "GET", URL: "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws/", AuthKind: "sigv4", Header: apiSig("us-east-1", "lambda"), SignedAt: apiTime},
			want: []string{"arn:aws:sts::123456789012:assumed-role/ci-deployer/gh-actions may not perform lambda:InvokeFunctionUrl on arn:aws:lambda:us-east-1:123456789012:function:orders"},
			fix:  "identity policy of role ci-deployer", any: "\"lambda:FunctionUrlAuthType\": \"AWS_IAM\""},
		{name: "api gateway explicit deny", file: "aws/apigw-explicit-deny",
			sent: Sent{Method: "GET", URL: "https://abc123defg.execute-api.us-east-1.amazonaws.com/prod/items", AuthKind: "sigv4", Header: apiSig("us-east-1", "execute-api"), SignedAt: apiTime},
			want: []string{"user/intruder may not perform execute-api:Invoke", "with an explicit deny"}, fix: "adding an Allow will not help"},
		{name: "api gateway resource policy, unsigned", file: "aws/apigw-anonymous",
			sent: Sent{Method: "GET", URL: "https://abc123defg.execute-api.us-east-1.amazonaws.com/prod/items", AuthKind: "none", Header: http.Header{}},
			want: []string{"not signed", "anonymous"}, fix: "--auth sigv4 --service execute-api"},
		{name: "sts invalid token: temporary key without its token", file: "aws/sts-invalid-client-token-id",
			sent: Sent{Method: "POST", URL: "https://sts.us-east-1.amazonaws.com/", AuthKind: "sigv4",
				Header: sigv4Header("ASIAIOSFODNN7EXAMPLE", "20150830T123600Z", "us-east-1", "sts", "host;x-amz-date"), SignedAt: apiTime},
			want: []string{"session token missing: ASIAIOSFODNN7EXAMPLE"}, fix: "AWS_SESSION_TOKEN"},
		{name: "sts invalid token: a token with a long-term key", file: "aws/sts-invalid-client-token-id",
			sent: Sent{Method: "POST", URL: "https://sts.us-east-1.amazonaws.com/", AuthKind: "sigv4",
				Header: withHeader(sigv4Header("AKIAIOSFODNN7EXAMPLE", "20150830T123600Z", "us-east-1", "sts", "host;x-amz-date;x-amz-security-token"), "X-Amz-Security-Token", testSessionToken), SignedAt: apiTime},
			want: []string{"session token with a long-term key"}, fix: "unset AWS_SESSION_TOKEN"},
		{name: "sts invalid token: session token not signed", file: "aws/sts-invalid-client-token-id",
			sent: Sent{Method: "POST", URL: "https://sts.us-east-1.amazonaws.com/", AuthKind: "sigv4",
				Header: withHeader(sigv4Header("ASIAIOSFODNN7EXAMPLE", "20150830T123600Z", "us-east-1", "sts", "host;x-amz-date"), "X-Amz-Security-Token", testSessionToken), SignedAt: apiTime},
			want: []string{"unsigned session token"}, fix: "never with -H"},
		{name: "lambda url invalid token in an opt-in region", file: "aws/lambda-url-unrecognized-client",
			sent: Sent{Method: "GET", URL: "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.me-central-1.on.aws/", AuthKind: "sigv4",
				Header: withHeader(sigv4Header("ASIAIOSFODNN7EXAMPLE", "20150830T123600Z", "me-central-1", "lambda", "host;x-amz-date;x-amz-security-token"), "X-Amz-Security-Token", testSessionToken), SignedAt: apiTime},
			want: []string{"session token not valid in me-central-1"}, fix: "regional STS endpoint"},
		{name: "lambda url invalid token, temporary key without its token", file: "aws/lambda-url-unrecognized-client",
			sent: Sent{Method: "GET", URL: "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws/", AuthKind: "sigv4",
				Header: sigv4Header("ASIAIOSFODNN7EXAMPLE", "20150830T123600Z", "us-east-1", "lambda", "host;x-amz-date"), SignedAt: apiTime},
			want: []string{"session token missing"}},
		{name: "lambda url unsigned request", file: "aws/lambda-url-forbidden",
			sent: Sent{Method: "GET", URL: "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws/", AuthKind: "none", Header: http.Header{}},
			want: []string{"not SigV4-signed"}, fix: "--auth sigv4"},
		{name: "lambda url unsigned payload", file: "aws/lambda-url-signature-mismatch",
			sent: Sent{Method: "POST", URL: "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws/orders", AuthKind: "sigv4",
				Header: withHeader(apiSig("us-east-1", "lambda"), "X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD"), SignedAt: apiTime, Service: "lambda"},
			want: []string{"unsigned payload", "Lambda"}, fix: "--unsigned-payload", any: "signature mismatch"},
		{name: "lambda url signature mismatch without canonical request", file: "aws/lambda-url-signature-mismatch",
			sent: Sent{Method: "GET", URL: "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws/", AuthKind: "sigv4", Header: apiSig("us-east-1", "lambda"), SignedAt: apiTime},
			want: []string{"signature mismatch"}, fix: "secret key"},
		{name: "cloudfront oac missing payload hash", file: "aws/cloudfront-oac-missing-payload-hash",
			sent: Sent{Method: "POST", URL: "https://d111111abcdef8.cloudfront.net/orders", AuthKind: "none", Header: http.Header{"Content-Type": {"application/json"}}},
			want: []string{"missing payload hash", "x-amz-content-sha256"}, fix: "unless --unsigned-payload",
			any: "x-amz-cf-id: EXAMPLE_cf_id_xJ5gXvJ8bQ5a1kO9EXAMPLE=="},
		{name: "cloudfront allows only GET and HEAD", file: "aws/cloudfront-method-not-allowed",
			sent: Sent{Method: "POST", URL: "https://d111111abcdef8.cloudfront.net/orders", AuthKind: "none", Header: http.Header{"X-Amz-Content-Sha256": {testEmptySHA256}}},
			want: []string{"CloudFront does not allow POST", "never reached the origin"}, fix: "allowed HTTP methods", any: "x-cache: Error from cloudfront"},
		{name: "cloudfront waf", file: "aws/cloudfront-request-blocked",
			sent: Sent{Method: "GET", URL: "https://d111111abcdef8.cloudfront.net/orders", AuthKind: "none", Header: http.Header{}},
			want: []string{"CloudFront blocked the request", "AWS WAF"}, fix: "X-Amz-Cf-Id", any: "x-amz-cf-id: EXAMPLEcfid_QGJDmdNqJJ6_zS3ALUczF-8NrM=="},
		{name: "api gateway no signature", file: "aws/apigw-missing-authentication-token",
			sent: Sent{Method: "GET", URL: "https://abc123defg.execute-api.us-east-1.amazonaws.com/prod/items", AuthKind: "none", Header: http.Header{}},
			want: []string{"no SigV4 signature"}},
		{name: "api gateway unknown path", file: "aws/apigw-missing-authentication-token",
			sent: Sent{Method: "GET", URL: "https://abc123defg.execute-api.us-east-1.amazonaws.com/prod/nope", AuthKind: "sigv4", Header: apiSig("us-east-1", "execute-api"), SignedAt: apiTime},
			want: []string{"no such resource", "the request was signed", "GET /nope in stage prod"}, fix: "/STAGE/PATH"},
		{name: "api gateway http api, no route", file: "aws/apigw-http-api-not-found",
			sent: Sent{Method: "POST", URL: "https://abc123defg.execute-api.us-east-1.amazonaws.com/prod/orderz", AuthKind: "sigv4", Header: apiSig("us-east-1", "execute-api"), SignedAt: apiTime},
			want: []string{"no route for this method and path (POST /orderz in stage prod)"}},
		{name: "api gateway expired session", file: "aws/apigw-token-expired",
			sent: Sent{Method: "GET", URL: "https://abc123defg.execute-api.us-east-1.amazonaws.com/prod/items", AuthKind: "sigv4",
				Header: withHeader(sigv4Header("ASIAIOSFODNN7EXAMPLE", "20150830T123600Z", "us-east-1", "execute-api", "host;x-amz-date;x-amz-security-token"), "X-Amz-Security-Token", testSessionToken), SignedAt: apiTime},
			want: []string{"expired AWS session"}},
		{name: "api gateway bearer token on an IAM route", file: "aws/apigw-not-sigv4",
			sent: Sent{Method: "GET", URL: "https://abc123defg.execute-api.us-east-1.amazonaws.com/prod/items", AuthKind: "bearer",
				Header: http.Header{"Authorization": {"Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzZWNyZXQtdXNlciJ9.c2lnbmF0dXJlLXNlY3JldC12YWx1ZQ"}},
				Token:  "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzZWNyZXQtdXNlciJ9.c2lnbmF0dXJlLXNlY3JldC12YWx1ZQ"},
			want: []string{"not SigV4"}},
		{name: "sts identity proof expired", file: "aws/sts-signature-expired",
			sent: Sent{Method: "GET", URL: "https://gw.example.com/sts/items", AuthKind: "sts-identity",
				Header:   http.Header{"X-Fluid-Identity": {"https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20240101%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20240101T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=" + testSignature}},
				SignedAt: mustTime(t, "2024-01-01T00:00:00Z")},
			at:   mustTime(t, "2024-01-01T00:00:01Z"),
			want: []string{"clock skew", "29m59s behind"}},
		{name: "cloud run wrong audience", file: "google/cloudrun-401-invalid-token",
			sent: Sent{Method: "GET", URL: runURL, AuthKind: "google", Header: http.Header{"Authorization": {"Bearer " + tokWrongAud}}, Token: tokWrongAud, SignedAt: runTime},
			want: []string{"audience: the token is for https://billing-abc123-uc.a.run.app, the service expects https://orders-abc123-uc.a.run.app"}, fix: "--audience https://orders-abc123-uc.a.run.app"},
		{name: "cloud run expired token", file: "google/cloudrun-401-invalid-token",
			sent: Sent{Method: "GET", URL: runURL, AuthKind: "google", Header: http.Header{"Authorization": {"Bearer " + tokExpired}}, Token: tokExpired, SignedAt: runTime},
			want: []string{"token expired 1h ago"}},
		{name: "cloud run missing invoker role", file: "google/cloudrun-403-forbidden",
			sent: Sent{Method: "GET", URL: runURL, AuthKind: "google", Header: http.Header{"Authorization": {"Bearer " + tokGood}}, Token: tokGood, SignedAt: runTime},
			want: []string{"ci@proj.iam.gserviceaccount.com may not invoke"},
			fix:  "`gcloud run services add-iam-policy-binding orders --member serviceAccount:ci@proj.iam.gserviceaccount.com --role roles/run.invoker`"},
		{name: "cloud run audience with a path", file: "google/cloudrun-401-invalid-token",
			sent: Sent{Method: "GET", URL: runURL, AuthKind: "google", Header: http.Header{"Authorization": {"Bearer " + tokPathAud}}, Token: tokPathAud, SignedAt: runTime},
			want: []string{"audience has a path", "https://orders-abc123-uc.a.run.app/orders"}, fix: "--audience https://orders-abc123-uc.a.run.app "},
		{name: "cloud run custom domain as audience", file: "google/cloudrun-401-invalid-token",
			sent: Sent{Method: "GET", URL: "https://api.example.com/orders", AuthKind: "google", Header: http.Header{"Authorization": {"Bearer " + tokCustomAud}}, Token: tokCustomAud, SignedAt: runTime},
			want: []string{"custom domain as audience", "https://api.example.com"}, fix: "--add-custom-audiences=https://api.example.com"},
		{name: "cloud run behind a custom domain, run.app audience, no invoker role", file: "google/cloudrun-403-forbidden",
			sent: Sent{Method: "GET", URL: "https://api.example.com/orders", AuthKind: "google", Header: http.Header{"Authorization": {"Bearer " + tokGood}}, Token: tokGood, SignedAt: runTime},
			want: []string{"may not invoke"}, fix: "roles/run.invoker"},
		{name: "cloud run no token", file: "google/cloudrun-403-forbidden",
			sent: Sent{Method: "GET", URL: runURL, AuthKind: "none", Header: http.Header{}},
			want: []string{"no ID token"}, fix: "--auth google"},
		{name: "cf access login redirect, secret missing", file: "cloudflare/access-login-redirect",
			sent: Sent{Method: "GET", URL: "https://app.example.com/orders", AuthKind: "cf-access", Header: http.Header{"Cf-Access-Client-Id": {"abc123.access"}}},
			want: []string{"missing CF Access token", "CF-Access-Client-Secret was not sent"}, fix: "CF_ACCESS_CLIENT_SECRET",
			any: "Access team gwcurl-demo (gwcurl-demo.cloudflareaccess.com), application app.example.com"},
		{name: "cf access login redirect, nothing sent", file: "cloudflare/access-login-redirect",
			sent: Sent{Method: "GET", URL: "https://app.example.com/orders", AuthKind: "none", Header: http.Header{}},
			want: []string{"missing CF Access token"}, fix: "gwcurl login"},
		{name: "cf access refuses service token", file: "cloudflare/access-forbidden",
			sent: Sent{Method: "GET", URL: "https://app.example.com/orders", AuthKind: "cf-access",
				Header: http.Header{"Cf-Access-Client-Id": {"abc123.access"}, "Cf-Access-Client-Secret": {testCFSecret}, "Cookie": {"theme=dark; session=" + testCookieValue}}},
			want: []string{"refused the service token"}},
		{name: "cloudflare waf rule (1020, html page, http/2)", file: "cloudflare/waf-1020-access-denied",
			sent: Sent{Method: "GET", URL: "https://api.example.com/orders", AuthKind: "cf-access",
				Header: http.Header{"Cf-Access-Client-Id": {"abc123.access"}, "Cf-Access-Client-Secret": {testCFSecret}}},
			want: []string{"Cloudflare WAF blocked the request (error 1020", "never reached Cloudflare Access"}, fix: "Security → Events",
			any: "Cloudflare Ray ID 8f0e1d2c3b4a5968-FRA"},
		{name: "cloudflare browser signature (1010, plain text)", file: "cloudflare/waf-1010-browser-signature",
			sent: Sent{Method: "GET", URL: "https://api.example.com/orders", AuthKind: "none", Header: http.Header{"User-Agent": {"python-urllib/3.12"}}},
			want: []string{"browser signature (error 1010"}, fix: "User-Agent", any: "User-Agent sent: python-urllib/3.12"},
		{name: "cloudflare rate limit (1015)", file: "cloudflare/waf-1015-rate-limited",
			sent: Sent{Method: "GET", URL: "https://api.example.com/orders", AuthKind: "cf-access", Header: http.Header{"Cf-Access-Client-Id": {"abc123.access"}}},
			want: []string{"rate limited by Cloudflare (error 1015)", "Retry-After: 60s"}, fix: "--retry", any: "8f0e1d2c3b4a5970-LHR"},
		{name: "gateway jwt expired", file: "gateway/jwt-expired",
			sent: Sent{Method: "GET", URL: "http://127.0.0.1:8080/app/items", AuthKind: "cognito", Header: http.Header{"Authorization": {"Bearer " + tokCognito}}, Token: tokCognito},
			want: []string{"token expired 5m ago"}, fix: "gwcurl login"},
		{name: "gateway jwt audience", file: "gateway/jwt-audience",
			sent: Sent{Method: "GET", URL: "http://127.0.0.1:8080/app/items", AuthKind: "cognito", Header: http.Header{"Authorization": {"Bearer " + tokCognito}}, Token: tokCognito},
			want: []string{"audience: the token is for other-client, the service expects gwcurl-demo"}},
		{name: "gateway jwt token use", file: "gateway/jwt-token-use",
			sent: Sent{Method: "GET", URL: "http://127.0.0.1:8080/app/items", AuthKind: "cognito", Token: tokCognito},
			want: []string{"wrong token type"}, fix: "use_token: id"},
		{name: "gateway sts arn not on the allowlist", file: "gateway/sts-allowlist",
			sent: Sent{Method: "GET", URL: "http://127.0.0.1:8080/sts/items", AuthKind: "sts-identity", Header: http.Header{}},
			want: []string{"not allowed", "arn:aws:iam::123456789012:user/intruder", "allowlist"}},
		{name: "gateway sts relayed signature expired", file: "gateway/sts-relayed-expired",
			sent: Sent{Method: "GET", URL: "http://127.0.0.1:8080/sts/items", AuthKind: "sts-identity", Header: http.Header{}, SignedAt: mustTime(t, "2026-01-02T02:40:00Z")},
			at:   mustTime(t, "2026-01-02T02:40:01Z"),
			want: []string{"clock skew", "24m4s behind"}},
		{name: "gateway quiet", file: "gateway/quiet",
			sent: Sent{Method: "GET", URL: "http://127.0.0.1:8080/aws/items", AuthKind: "sigv4", Header: apiSig("us-east-1", "lambda")},
			want: []string{"without a reason"}, fix: "explain: true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := loadRecorded(t, tt.file)
			rec.At = tt.at
			fs := Diagnose(tt.sent, rec)
			out := rendered(fs)
			t.Log("\n" + out)
			assertNoSecrets(t, "render", out, tokens...)
			if len(fs) == 0 {
				t.Fatalf("no finding")
			}
			for _, w := range tt.want {
				if !strings.Contains(fs[0].Cause, w) {
					t.Errorf("first cause %q lacks %q\n%s", fs[0].Cause, w, out)
				}
			}
			if tt.fix != "" && !strings.Contains(fs[0].Fix, tt.fix) {
				t.Errorf("first fix %q lacks %q", fs[0].Fix, tt.fix)
			}
			if tt.any != "" && !strings.Contains(out, tt.any) {
				t.Errorf("output lacks %q:\n%s", tt.any, out)
			}
			// Decode explains the same body offline.
			rep, err := Decode(string(rec.Body), rec.At)
			if err == nil {
				assertNoSecrets(t, "decode", strings.Join(rep.Lines, "\n"), tokens...)
			}
		})
	}
}

// TestCanonicalDiff checks the first-differing-component naming and the
// diff layout.
func TestCanonicalDiff(t *testing.T) {
	t.Parallel()
	base := "POST\n/items\na=1&b=2\ncontent-type:application/json\nhost:api.example.com\nx-amz-date:20260102T030405Z\n\ncontent-type;host;x-amz-date\n" + testEmptySHA256
	tests := []struct {
		name, server, want string
		client             string // base when empty
	}{
		{"method", strings.Replace(base, "POST", "GET", 1), "the method differs (you signed POST, the server saw GET)", ""},
		{"path", strings.Replace(base, "/items", "/v1/items", 1), "the path differs (you signed /items, the server saw /v1/items)", ""},
		{"path normalised", strings.Replace(base, "/items", "/v1/items", 1), "the path differs (you signed /v1//items, the server saw /v1/items): a proxy normalised it (collapsed '//')", strings.Replace(base, "/items", "/v1//items", 1)},
		{"path dot segments", strings.Replace(base, "/items", "/v1/items", 1), "the path differs (you signed /v1/./items, the server saw /v1/items): a proxy normalised it (resolved '.' or '..' segments)", strings.Replace(base, "/items", "/v1/./items", 1)},
		{"path encoding", strings.Replace(base, "/items", "/a%20b", 1), "the path differs (you signed /a%2520b, the server saw /a%20b): its percent-encoding changed", strings.Replace(base, "/items", "/a%2520b", 1)},
		{"path prefix stripped", base, "the prefix /api was removed", strings.Replace(base, "/items", "/api/items", 1)},
		{"query", strings.Replace(base, "a=1&b=2", "a=1&b=2&c=3", 1), "the query string differs", ""},
		{"host", strings.Replace(base, "host:api.example.com", "host:origin.internal", 1), "the host differs (you signed api.example.com, the server saw origin.internal)", ""},
		{"header value", strings.Replace(base, "content-type:application/json", "content-type:application/json; charset=utf-8", 1), "the header content-type differs", ""},
		{"payload", strings.Replace(base, testEmptySHA256, strings.Repeat("a", 64), 1)[:len(base)-64] + strings.Repeat("b", 64), "the payload hash differs", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client := orDefault(tt.client, base)
			cause, fix := canonDiffName(client, tt.server)
			if !strings.Contains(cause, tt.want) || fix == "" {
				t.Errorf("canonDiffName = %q, %q; want %q", cause, fix, tt.want)
			}
			diff := lineDiff("canonical request", strings.Split(client, "\n"), strings.Split(tt.server, "\n"))
			var minus, plus int
			for _, l := range diff[1:] {
				switch l[:2] {
				case "- ":
					minus++
				case "+ ":
					plus++
				}
			}
			if minus != 1 || plus != 1 {
				t.Errorf("diff marks %d/%d lines, want one each:\n%s", minus, plus, strings.Join(diff, "\n"))
			}
		})
	}
	// A session token redacted in gwcurl's -v trace equals the full one.
	withTok := strings.Replace(base, "x-amz-date:", "x-amz-security-token:"+testSessionToken+"\nx-amz-date:", 1)
	redacted := strings.Replace(base, "x-amz-date:", "x-amz-security-token:FwoGZX…\nx-amz-date:", 1)
	if !canonEqual(redacted, withTok) {
		t.Error("a redacted session token in the client's canonical request does not match the server's")
	}
}

func TestFmtDur(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		45 * time.Second:                  "45s",
		10 * time.Minute:                  "10m",
		10*time.Minute + 2*time.Second:    "10m2s",
		3*time.Hour + 5*time.Minute:       "3h5m",
		50 * time.Hour:                    "2d2h",
		-(10*time.Minute + 2*time.Second): "10m2s",
	} {
		if got := fmtDur(d); got != want {
			t.Errorf("fmtDur(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestParseChallenges(t *testing.T) {
	t.Parallel()
	cs := parseChallenges([]string{`Bearer realm="gwcurl", error="invalid_token", error_description="token expired at 2026-01-02T03:04:05Z (5m0s ago)", Basic realm="x"`})
	if len(cs) != 2 || cs[0].Scheme != "Bearer" || cs[0].Params["error"] != "invalid_token" ||
		cs[0].Params["error_description"] != "token expired at 2026-01-02T03:04:05Z (5m0s ago)" || cs[1].Scheme != "Basic" || cs[1].Params["realm"] != "x" {
		t.Errorf("parseChallenges = %+v", cs)
	}
}

// TestRenderColor checks that colour is used only when asked.
func TestRenderColor(t *testing.T) {
	t.Parallel()
	fs := []Finding{{Cause: "clock skew: your clock is 10m behind the server", Fix: "sync", Detail: []string{"- a", "+ b"}}, {Cause: "second", Fix: "f2"}}
	plain := rendered(fs)
	if regexp.MustCompile("\x1b\\[").MatchString(plain) {
		t.Errorf("plain output has escape codes: %q", plain)
	}
	want := "gwcurl: cause: clock skew: your clock is 10m behind the server\ngwcurl: fix: sync\n    - a\n    + b\ngwcurl: maybe: second\ngwcurl: fix: f2\n"
	if plain != want {
		t.Errorf("plain =\n%s\nwant\n%s", plain, want)
	}
	var b strings.Builder
	Render(&b, fs, true)
	if !strings.Contains(b.String(), "\x1b[") {
		t.Errorf("colour output has no escape codes: %q", b.String())
	}
	if rendered(nil) == "" {
		t.Error("Render(nil) says nothing")
	}
}

// TestPastedRecorded: every recorded answer, pasted whole as curl -i prints
// it, is read by Decode (`gwcurl explain -`) and explained.
func TestPastedRecorded(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "*.txtar"))
	for _, f := range files {
		a, err := txtar.ParseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, af := range a.Files {
			if af.Name != "response" {
				continue
			}
			rep, err := Decode(string(af.Data), time.Time{})
			if err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			text := strings.Join(rep.Lines, "\n")
			if rep.Kind != "http-response" || !strings.Contains(text, "cause:") {
				t.Errorf("%s: kind %s, no cause:\n%s", f, rep.Kind, text)
			}
		}
	}
}

func TestRunService(t *testing.T) {
	t.Parallel()
	for host, want := range map[string][2]string{
		"orders-123456789012.us-central1.run.app": {"orders", "us-central1"},
		"orders-abc123-uc.a.run.app":              {"orders", ""},
		"billing-api-abc123-ew.a.run.app":         {"billing-api", ""},
		"api.example.com":                         {"", ""},
	} {
		if s, r := runService(host); s != want[0] || r != want[1] {
			t.Errorf("runService(%q) = %q, %q; want %q", host, s, r, want)
		}
	}
}
