package explain

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestNoSecretsInAnyExplanation feeds every recorded answer, and answers
// built to echo credentials back, to every auth kind with a request that
// carries every kind of secret, and greps all explanations (Render, plain
// and coloured; Decode lines and JSON fields) for them.
func TestNoSecretsInAnyExplanation(t *testing.T) {
	t.Parallel()
	now := mustTime(t, "2026-01-02T03:04:05Z")
	idToken := makeJWT(t, jwt.MapClaims{"iss": "https://accounts.google.com", "aud": "https://other.example", "sub": "1",
		"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()})
	appToken := makeJWT(t, jwt.MapClaims{"iss": "https://team.cloudflareaccess.com", "aud": []string{"tag"}, "type": "app",
		"email": "a@example.com", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	presigned, k8s, vault := stsProofs(t, now.Add(-time.Minute), testSessionToken)
	sigHeader := "AWS4-HMAC-SHA256 Credential=ASIAIOSFODNN7EXAMPLE/20260102/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=" + testSignature
	secrets := []string{idToken, appToken, presigned, k8s, vault, testSecretKey}
	for _, p := range []string{presigned, vault} {
		if id, err := decodeIdentity(p); err == nil {
			secrets = append(secrets, id.signature)
		}
	}

	// The canonical request gwcurl signed holds the session token (the
	// CLI may pass it unredacted).
	clientCR := "GET\n/orders\n\nhost:abc.lambda-url.us-east-1.on.aws\nx-amz-content-sha256:" + testEmptySHA256 +
		"\nx-amz-date:20260102T030405Z\nx-amz-security-token:" + testSessionToken + "\n\nhost;x-amz-content-sha256;x-amz-date;x-amz-security-token\n" + testEmptySHA256
	serverCR := strings.Replace(clientCR, "host:abc.lambda-url", "host:proxy.example.com", 1)

	sents := map[string]Sent{}
	for _, kind := range []string{"none", "sigv4", "sts-identity", "google", "cf-access", "bearer", "cognito", "magic-link"} {
		h := http.Header{}
		h.Set("Authorization", sigHeader)
		h.Set("X-Amz-Date", "20260102T030405Z")
		h.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		h.Set("X-Amz-Security-Token", testSessionToken)
		h.Set("X-Fluid-Identity", presigned)
		h.Set("X-Identity-K8s", k8s)
		h.Set("X-Vault-Login", vault)
		h.Set("Cf-Access-Client-Id", "abc.access")
		h.Set("Cf-Access-Client-Secret", testCFSecret)
		h.Set("Cf-Access-Token", appToken)
		h.Set("X-Serverless-Authorization", "Bearer "+idToken)
		h.Set("Cookie", "CF_Authorization="+appToken+"; sid="+testCookieValue)
		h.Set("Origin", "https://app.example.com")
		if kind == "google" || kind == "bearer" || kind == "cognito" || kind == "magic-link" {
			h.Set("Authorization", "Bearer "+idToken)
		}
		sents[kind] = Sent{Method: "POST", URL: "https://abc.lambda-url.us-east-1.on.aws/orders?token=" + testCookieValue + "&X-Amz-Signature=" + testSignature,
			AuthKind: kind, Header: h, SignedAt: now, Origin: "https://app.example.com", CanonicalRequest: clientCR,
			StringToSign: "AWS4-HMAC-SHA256\n20260102T030405Z\n20260102/us-east-1/lambda/aws4_request\n" + testEmptySHA256,
			Region:       "us-east-1", Service: "lambda", Token: idToken}
	}

	// Answers that echo what they were sent.
	echoing := map[string]Received{
		"gateway canonical request with the token": {Status: 403, Header: http.Header{"Content-Type": {"application/json"}},
			Body: mustJSON(t, map[string]any{"error": "Forbidden", "code": "signature_mismatch", "reason": "signature mismatch", "canonical_request": serverCR, "string_to_sign": "x"})},
		"api gateway echoing the Authorization header": {Status: 403, Header: http.Header{"X-Amzn-Errortype": {"IncompleteSignatureException"}},
			Body: mustJSON(t, map[string]any{"message": "Authorization header requires 'Credential' parameter. Authorization=Bearer " + idToken})},
		"www-authenticate echoing the token": {Status: 401, Header: http.Header{"Www-Authenticate": {`Bearer error="invalid_token", error_description="token ` + idToken + ` expired"`}}},
		"html page echoing the secret": {Status: 403, Header: http.Header{"Content-Type": {"text/html"}},
			Body: []byte("<html><title>Forbidden " + testCFSecret + "</title><body>Your client does not have permission. cf-access-client-secret: " + testCFSecret + " cookie " + testCookieValue + "</body></html>")},
		"plain text echoing the signature": {Status: 403, Body: []byte("bad Signature=" + testSignature + " X-Amz-Security-Token=" + testSessionToken)},
		"s3 echoing a signature and a token": {Status: 403, Header: http.Header{"Content-Type": {"application/xml"}},
			Body: []byte("<Error><Code>SignatureDoesNotMatch</Code><Message>m</Message><SignatureProvided>" + testSignature + "</SignatureProvided><Token-0>" + testSessionToken + "</Token-0><CanonicalRequest>" + serverCR + "</CanonicalRequest></Error>")},
		"cloudflare 1020 page echoing the cookie and the secret": {Status: 403, Header: http.Header{"Content-Type": {"text/html"}, "Server": {"cloudflare"}, "Cf-Ray": {"8f0e1d2c3b4a5968-FRA"}},
			Body: []byte(`<html><head><title>Access denied | x used Cloudflare to restrict access</title></head><body><span class="cf-error-code">1020</span> Ray ID: 8f0e1d2c3b4a5968 cookie CF_Authorization=` + appToken + ` cf-access-client-secret: ` + testCFSecret + `</body></html>`)},
		"cloudflare 1010 text with the user agent": {Status: 403, Header: http.Header{"Server": {"cloudflare"}, "Cf-Ray": {"8f0e1d2c3b4a5969-AMS"}}, Body: []byte("error code: 1010")},
		"iam denial echoing a token in the resource": {Status: 403, Header: http.Header{"X-Amzn-Errortype": {"AccessDeniedException"}},
			Body: mustJSON(t, map[string]any{"Message": "User: arn:aws:sts::123456789012:assumed-role/r/s is not authorized to perform: lambda:InvokeFunctionUrl on resource: arn:aws:lambda:us-east-1:123456789012:function:orders?X-Amz-Security-Token=" + testSessionToken + "&X-Amz-Signature=" + testSignature + " because no identity-based policy allows the lambda:InvokeFunctionUrl action"})},
		"cloudfront page echoing the signature": {Status: 403, Header: http.Header{"X-Cache": {"Error from cloudfront"}, "X-Amz-Cf-Id": {"abc=="}},
			Body: []byte("<HTML><TITLE>ERROR: The request could not be satisfied</TITLE><BODY><H2>The request could not be satisfied.</H2>Request blocked. Signature=" + testSignature + " Generated by cloudfront (CloudFront)</BODY></HTML>")},
		"invalid token with the token echoed": {Status: 403, Header: http.Header{"X-Amzn-Errortype": {"UnrecognizedClientException"}},
			Body: mustJSON(t, map[string]any{"message": "The security token included in the request is invalid: " + testSessionToken})},
		"oauth error echoing a refresh token": {Status: 400, Body: mustJSON(t, map[string]any{"error": "invalid_grant", "error_description": "refresh_token=1//0gSECRETREFRESHTOKENvalue is revoked"})},
	}
	answers := map[string]Received{}
	for k, v := range echoing {
		answers[k] = v
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "*.txtar"))
	if len(files) < 20 {
		t.Fatalf("only %d recorded answers", len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.ToSlash(f), "testdata/"), ".txtar")
		answers[name] = loadRecorded(t, name)
	}
	secrets = append(secrets, "1//0gSECRETREFRESHTOKENvalue")

	n := 0
	for aname, rec := range answers {
		rec.At = now.Add(time.Second)
		for kind, s := range sents {
			fs := Diagnose(s, rec)
			for _, color := range []bool{false, true} {
				var b strings.Builder
				Render(&b, fs, color)
				assertNoSecrets(t, aname+" / "+kind+" render", b.String(), secrets...)
				n++
			}
		}
		// The whole answer pasted as curl -i prints it over HTTP/2.
		var raw strings.Builder
		fmt.Fprintf(&raw, "HTTP/2 %d\n", rec.Status)
		for k, vs := range rec.Header {
			for _, v := range vs {
				fmt.Fprintf(&raw, "%s: %s\n", strings.ToLower(k), v)
			}
		}
		raw.WriteString("\n")
		raw.Write(rec.Body)
		if rep, err := Decode(raw.String(), now); err == nil {
			js, _ := json.Marshal(rep.Fields)
			text := strings.Join(rep.Lines, "\n") + "\n" + string(js)
			for _, sec := range []string{idToken, appToken, testSignature, testSessionToken, "1//0gSECRETREFRESHTOKENvalue"} {
				if strings.Contains(text, sec) {
					t.Errorf("%s pasted as curl -i leaks %q…:\n%s", aname, sec[:12], text)
				}
			}
			n++
		} else if rec.Status != 0 {
			t.Errorf("%s pasted as curl -i: %v", aname, err)
		}
		// A pasted answer comes without the request, so Decode knows no
		// secret by value: what it must catch is every credential-shaped
		// value (JWTs, signatures, session and refresh tokens).
		if rep, err := Decode(string(rec.Body), now); err == nil {
			js, _ := json.Marshal(rep.Fields)
			text := strings.Join(rep.Lines, "\n") + "\n" + string(js)
			for _, sec := range []string{idToken, appToken, testSignature, testSessionToken, "1//0gSECRETREFRESHTOKENvalue"} {
				if strings.Contains(text, sec) {
					t.Errorf("%s decode leaks %q…:\n%s", aname, sec[:12], text)
				}
			}
		}
	}
	// Decode of each credential itself, bare and as a header line.
	for _, in := range []string{idToken, appToken, presigned, k8s, vault, sigHeader, "Authorization: " + sigHeader,
		"Cookie: CF_Authorization=" + appToken, "cf-access-token: " + appToken, "X-Fluid-Identity: " + presigned,
		base64.RawURLEncoding.EncodeToString([]byte(vault))} {
		rep, err := Decode(in, now)
		if err != nil {
			continue
		}
		js, _ := json.Marshal(rep.Fields)
		assertNoSecrets(t, "decode "+in[:min(len(in), 24)], strings.Join(rep.Lines, "\n")+"\n"+string(js), secrets...)
	}
	t.Logf("%d explanations checked", n)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzDiagnose: no input makes Diagnose, Render or Decode panic, and the
// request's token never appears, even when the answer echoes it.
func FuzzDiagnose(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "*.txtar"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err == nil {
			_, body, _ := strings.Cut(string(b), "\n\n")
			f.Add(403, body)
		}
	}
	f.Add(401, `{"error":"Unauthorized","reason":"token expired at 2026-01-02T03:04:05Z (now x)"}`)
	f.Add(401, `{"error":"Unauthorized","code":"token_expired","reason":"token expired at 2026-01-02T03:04:05Z (now x)","at":"2026-01-02T03:04:05Z","now":"x"}`)
	f.Add(403, `{"message":"Signature expired: 20150830T123600Z is now earlier than 20150830T124600Z (20150830T125100Z - 5 min.)"}`)
	const tok = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2VjcmV0c2lnbmF0dXJlMDEyMzQ1"
	f.Fuzz(func(t *testing.T, status int, body string) {
		s := Sent{Method: "GET", URL: "https://x.example/", AuthKind: "bearer", Token: tok,
			Header: http.Header{"Authorization": {"Bearer " + tok}}, CanonicalRequest: body, SignedAt: time.Unix(1700000000, 0)}
		r := Received{Status: status, Body: []byte(body), Header: http.Header{"Www-Authenticate": {body}, "Date": {body}}, At: time.Unix(1700000001, 0)}
		var b strings.Builder
		Render(&b, Diagnose(s, r), false)
		if strings.Contains(b.String(), "c2VjcmV0c2lnbmF0dXJlMDEyMzQ1") {
			t.Fatalf("the token's signature appeared: %s", b.String())
		}
		_, _ = Decode(body, time.Unix(1700000000, 0))
	})
}
