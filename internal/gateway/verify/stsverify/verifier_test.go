package stsverify_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestAccepted: hand-made proofs (aws-sdk-go-v2's signer, not
// internal/sign) in every format, including role sessions, which are
// compared as their role.
func TestAccepted(t *testing.T) {
	t.Parallel()
	srv := startTest(t)
	mock := srv.URL + "/_mock/sts/"
	now := time.Now()
	cases := []struct {
		name, path, header, value, principal, format string
	}{
		{"url", "/sts/x", "X-Fluid-Identity", presignedURL(t, demoK, mock, gciQuery, nil, "us-east-1", now, 900), demoARN, "url"},
		{"url other region, X-Amz-Expires 60, 10 minutes old", "/sts/x", "X-Fluid-Identity",
			presignedURL(t, demoK, mock, gciQuery, nil, "eu-west-1", now.Add(-10*time.Minute), 60), demoARN, "url"},
		{"k8s", "/sts/x", "X-Fluid-Identity", k8sToken(presignedURL(t, demoK, mock, gciQuery, nil, "us-east-1", now, 60)), demoARN, "k8s"},
		{"vault", "/sts/x", "X-Fluid-Identity", vaultProof(t, demoK, mock, gciQuery, nil, "us-east-1", now, nil), demoARN, "vault"},
		{"vault with a role field, Version first", "/sts/x", "X-Fluid-Identity",
			vaultProof(t, demoK, mock, "Version=2011-06-15&Action=GetCallerIdentity", nil, "us-east-1", now, func(_ map[string][]string, l map[string]string) { l["role"] = "dev" }), demoARN, "vault"},
		{"assumed role session → role", "/sts/x", "X-Fluid-Identity", presignedURL(t, oncallK, mock, gciQuery, nil, "us-east-1", now, 900),
			"arn:aws:iam::123456789012:role/oncall", "url"},
		{"assumed role, vault, token signed", "/sts/x", "X-Fluid-Identity", vaultProof(t, oncallK, mock, gciQuery, nil, "us-east-1", now, nil),
			"arn:aws:iam::123456789012:role/oncall", "vault"},
		{"wildcard allowlist", "/roles/x", "X-Proof", presignedURL(t, devK, mock, gciQuery, nil, "us-east-1", now, 900),
			"arn:aws:iam::123456789012:role/dev", "url"},
		{"server id signed (url)", "/bound/x", "X-Fluid-Identity",
			presignedURL(t, demoK, mock, gciQuery, http.Header{"X-Gwcurl-Server-Id": {"api-1.example.com"}}, "us-east-1", now, 900), demoARN, "url"},
		{"server id signed (k8s)", "/bound/x", "X-Fluid-Identity",
			k8sToken(presignedURL(t, demoK, mock, gciQuery, http.Header{"X-K8s-Aws-Id": {"api-1.example.com"}}, "us-east-1", now, 60)), demoARN, "k8s"},
		{"server id signed (vault)", "/bound/x", "X-Fluid-Identity",
			vaultProof(t, demoK, mock, gciQuery, http.Header{"X-Vault-Aws-Iam-Server-Id": {"api-1.example.com"}}, "us-east-1", now, nil), demoARN, "vault"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := call(t, srv, c.path, map[string]string{c.header: c.value})
			if status != 200 {
				t.Fatalf("%d %v", status, body["reason"])
			}
			id, _ := body["identity"].(map[string]any)
			claims, _ := id["claims"].(map[string]any)
			if id["kind"] != "sts_identity" || id["principal"] != c.principal || claims["format"] != c.format {
				t.Fatalf("identity %v", id)
			}
			if strings.Contains(c.principal, "role/") {
				if !strings.Contains(claims["arn"].(string), ":assumed-role/") || claims["session_name"] == nil ||
					!strings.HasPrefix(claims["user_id"].(string), "AROA") {
					t.Errorf("role session claims: %v", claims)
				}
			}
			hdrs, _ := body["headers"].(map[string]any)
			for h := range hdrs {
				if strings.EqualFold(h, c.header) {
					t.Error("the proof reached the origin")
				}
			}
		})
	}
}

// TestRefused: every bypass of docs/auth/sts-identity.md, and the other rules, are
// refused with 403 (401 without a header) and a reason; never a 5xx.
func TestRefused(t *testing.T) {
	t.Parallel()
	srv := startTest(t)
	mock := srv.URL + "/_mock/sts/"
	now := time.Now()

	// An "attacker STS" on loopback: a proof pointing at it must never make
	// the gateway call it (SSRF).
	var hits atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "text/xml")
		w.Write([]byte(`<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/demo</Arn></GetCallerIdentityResult></GetCallerIdentityResponse>`))
	}))
	t.Cleanup(evil.Close)

	valid := presignedURL(t, demoK, mock, gciQuery, nil, "us-east-1", now, 900)
	// §2.4 #3: the same URL with a case-folded second credential for
	// another key: a verifier reading one copy and STS the other disagree.
	dupCred := valid + "&x-amz-credential=" + intruderKey + "%2F" + now.UTC().Format("20060102") + "%2Fus-east-1%2Fsts%2Faws4_request"
	dupDate := valid + "&x-amz-date=" + now.Add(time.Hour).UTC().Format("20060102T150405Z")
	dupSigned := valid + "&X-AMZ-SIGNEDHEADERS=host%3Bx-k8s-aws-id"
	b64 := base64.StdEncoding.EncodeToString

	cases := []struct {
		name, path, value string
		status            int
		reason            string // substring
	}{
		// §2.4 #1, #5: forged host / SSRF.
		{"forged host: attacker STS on loopback", "/sts/x", presignedURL(t, demoK, evil.URL+"/_mock/sts/", gciQuery, nil, "us-east-1", now, 900), 403,
			"never contacts a host chosen by the client"},
		{"forged host: real STS while the route uses the mock", "/sts/x", presignedURL(t, demoK, "https://sts.amazonaws.com/", gciQuery, nil, "us-east-1", now, 900), 403,
			"signed for the real STS host sts.amazonaws.com"},
		{"forged host: lookalike STS host", "/sts/x", presignedURL(t, demoK, "https://sts.amazonaws.com.evil.example/", gciQuery, nil, "us-east-1", now, 900), 403,
			"not the STS endpoint this route trusts"},
		{"forged path on the gateway", "/sts/x", presignedURL(t, demoK, srv.URL+"/sts/echo", gciQuery, nil, "us-east-1", now, 900), 403,
			"not the STS endpoint this route trusts"},
		{"forged host (k8s)", "/sts/x", k8sToken(presignedURL(t, demoK, evil.URL+"/_mock/sts/", gciQuery, nil, "us-east-1", now, 60)), 403,
			"never contacts a host chosen by the client"},
		{"forged host (vault)", "/sts/x", vaultProof(t, demoK, evil.URL+"/_mock/sts/", gciQuery, nil, "us-east-1", now, nil), 403,
			"never contacts a host chosen by the client"},
		// §2.4 #3, #4: duplicated parameters in another case.
		{"duplicated X-Amz-Credential in another case", "/sts/x", dupCred, 403, "x-amz-credential appears more than once"},
		{"duplicated X-Amz-Credential (k8s)", "/sts/x", k8sToken(dupCred), 403, "appears more than once"},
		{"duplicated x-amz-date", "/sts/x", dupDate, 403, "appears more than once"},
		{"duplicated signed headers", "/sts/x", dupSigned, 403, "appears more than once"},
		{"duplicated Action", "/sts/x", presignedURL(t, demoK, mock, gciQuery+"&action=AssumeRole", nil, "us-east-1", now, 900), 403, "appears more than once"},
		// Another action.
		{"another action (url)", "/sts/x", presignedURL(t, demoK, mock, "Action=AssumeRole&Version=2011-06-15", nil, "us-east-1", now, 900), 403,
			`action is "AssumeRole", not GetCallerIdentity`},
		{"another action (vault)", "/sts/x", vaultProof(t, demoK, mock, "Action=GetSessionToken&Version=2011-06-15", nil, "us-east-1", now, nil), 403,
			`action is "GetSessionToken"`},
		{"another version", "/sts/x", presignedURL(t, demoK, mock, "Action=GetCallerIdentity&Version=2099-01-01", nil, "us-east-1", now, 900), 403, "Version"},
		{"extra body parameter (vault)", "/sts/x", vaultProof(t, demoK, mock, gciQuery+"&RoleArn=x", nil, "us-east-1", now, nil), 403, `parameter "RoleArn" is not allowed`},
		{"extra query parameter", "/sts/x", presignedURL(t, demoK, mock, gciQuery+"&Foo=bar", nil, "us-east-1", now, 900), 403, `"Foo" is not allowed`},
		// Expired, or too far in the future.
		{"expired (url)", "/sts/x", presignedURL(t, demoK, mock, gciQuery, nil, "us-east-1", now.Add(-16*time.Minute), 900), 403, "the proof expired at"},
		{"expired (vault)", "/sts/x", vaultProof(t, demoK, mock, gciQuery, nil, "us-east-1", now.Add(-16*time.Minute), nil), 403, "the proof expired at"},
		{"expired (k8s)", "/sts/x", k8sToken(presignedURL(t, demoK, mock, gciQuery, nil, "us-east-1", now.Add(-20*time.Minute), 60)), 403, "expired"},
		{"dated in the future", "/sts/x", presignedURL(t, demoK, mock, gciQuery, nil, "us-east-1", now.Add(10*time.Minute), 900), 403, "ahead of the gateway clock"},
		{"X-Amz-Expires over 900", "/sts/x", presignedURL(t, demoK, mock, gciQuery, nil, "us-east-1", now, 3600), 403, "X-Amz-Expires"},
		// Server id.
		{"unsigned server id (url)", "/bound/x", presignedURL(t, demoK, mock, gciQuery, nil, "us-east-1", now, 900), 403,
			"server id header x-gwcurl-server-id is not signed"},
		{"unsigned server id (k8s)", "/bound/x", k8sToken(presignedURL(t, demoK, mock, gciQuery, nil, "us-east-1", now, 60)), 403,
			"x-k8s-aws-id is not signed"},
		{"unsigned server id (vault, header present but not signed)", "/bound/x",
			vaultProof(t, demoK, mock, gciQuery, nil, "us-east-1", now, func(h map[string][]string, _ map[string]string) {
				h["X-Vault-Aws-Iam-Server-Id"] = []string{"api-1.example.com"}
			}), 403, "x-vault-aws-iam-server-id is not signed"},
		{"server id of another server (url)", "/bound/x",
			presignedURL(t, demoK, mock, gciQuery, http.Header{"X-Gwcurl-Server-Id": {"api-2.example.com"}}, "us-east-1", now, 900), 403, "SignatureDoesNotMatch"},
		{"server id of another server (vault)", "/bound/x",
			vaultProof(t, demoK, mock, gciQuery, http.Header{"X-Vault-Aws-Iam-Server-Id": {"api-2.example.com"}}, "us-east-1", now, nil), 403,
			`bound to server id "api-2.example.com"`},
		{"server id on a route without one", "/sts/x",
			presignedURL(t, demoK, mock, gciQuery, http.Header{"X-Gwcurl-Server-Id": {"api-1.example.com"}}, "us-east-1", now, 900), 403, "this route has none"},
		{"server id name of another format (k8s header in a url proof)", "/bound/x",
			presignedURL(t, demoK, mock, gciQuery, http.Header{"X-K8s-Aws-Id": {"api-1.example.com"}}, "us-east-1", now, 900), 403, "signed header x-k8s-aws-id is not allowed"},
		// Not allowlisted principals.
		{"not allowlisted principal", "/sts/x", presignedURL(t, intruderK, mock, gciQuery, nil, "us-east-1", now, 900), 403,
			"principal arn:aws:iam::123456789012:user/intruder is not allowed on this route"},
		{"not allowlisted role session", "/sts/x", presignedURL(t, devK, mock, gciQuery, nil, "us-east-1", now, 900), 403,
			"principal arn:aws:iam::123456789012:role/dev is not allowed"},
		{"user on a role wildcard", "/roles/x", presignedURL(t, demoK, mock, gciQuery, nil, "us-east-1", now, 900), 403, "is not allowed"},
		// Garbage.
		{"garbage", "/sts/x", "hello world", 403, "not an STS identity proof"},
		{"garbage base64", "/sts/x", b64([]byte("not json")), 403, "not an STS identity proof"},
		{"garbage k8s", "/sts/x", "k8s-aws-v1.!!!", 403, "not unpadded base64url"},
		{"padded k8s", "/sts/x", k8sToken(valid) + "==", 403, "not unpadded base64url"},
		{"garbage url", "/sts/x", "https://%zz", 403, "not an absolute URL"},
		{"garbage vault JSON", "/sts/x", b64([]byte(`{"iam_http_request_method":"POST","x":1}`)), 403, "login fields are not valid"},
		{"vault GET", "/sts/x", vaultProof(t, demoK, mock, gciQuery, nil, "us-east-1", now, func(_ map[string][]string, l map[string]string) {
			l["iam_http_request_method"] = "GET"
		}), 403, "must be POST"},
		{"vault smuggled X-Amz header", "/sts/x", vaultProof(t, demoK, mock, gciQuery, nil, "us-east-1", now, func(h map[string][]string, _ map[string]string) {
			h["X-Amz-Target"] = []string{"AWSSecurityTokenServiceV20110615.AssumeRole"}
		}), 403, "X-Amz-Target is not allowed"},
		{"vault header in two cases", "/sts/x", vaultProof(t, demoK, mock, gciQuery, nil, "us-east-1", now, func(h map[string][]string, _ map[string]string) {
			h["x-amz-date"] = h["X-Amz-Date"]
		}), 403, "appears more than once"},
		{"vault query in the URL", "/sts/x", vaultProof(t, demoK, mock, gciQuery, nil, "us-east-1", now, func(_ map[string][]string, l map[string]string) {
			l["iam_request_url"] = b64([]byte(mock + "?Action=AssumeRole"))
		}), 403, "without user info, query or fragment"},
		// Signatures.
		{"wrong secret", "/sts/x", presignedURL(t, key{demoKey, "wrong-secret", ""}, mock, gciQuery, nil, "us-east-1", now, 900), 403, "SignatureDoesNotMatch"},
		{"unknown key", "/sts/x", presignedURL(t, key{"AKIAUNKNOWN000000000", "x", ""}, mock, gciQuery, nil, "us-east-1", now, 900), 403, "InvalidClientTokenId"},
		{"tampered signature", "/sts/x", valid[:len(valid)-4] + "0000", 403, "SignatureDoesNotMatch"},
		{"another service", "/sts/x", strings.Replace(valid, "%2Fsts%2F", "%2Fs3%2F", 1), 403, "scoped to service \"s3\""},
		{"temporary key without its token", "/sts/x", presignedURL(t, key{oncallKey, oncallSecret, ""}, mock, gciQuery, nil, "us-east-1", now, 900), 403, "InvalidClientTokenId"},
		// Format not accepted on the route.
		{"vault on a url-only route", "/roles/x", vaultProof(t, devK, mock, gciQuery, nil, "us-east-1", now, nil), 403, "format vault is not accepted"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			header := "X-Fluid-Identity"
			if strings.HasPrefix(c.path, "/roles") {
				header = "X-Proof"
			}
			status, body := call(t, srv, c.path, map[string]string{header: c.value})
			reason, _ := body["reason"].(string)
			if status != c.status || !strings.Contains(reason, c.reason) {
				t.Fatalf("got %d %q, want %d with %q", status, reason, c.status, c.reason)
			}
			if strings.Contains(reason, demoSecret) || (len(c.value) > 40 && strings.Contains(reason, c.value)) {
				t.Errorf("the reason echoes a secret or the proof: %q", reason)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the attacker STS was contacted %d times", n)
	}

	// No header: 401. Twice: 403.
	if status, body := call(t, srv, "/sts/x", nil); status != 401 || !contains(body["reason"], "missing X-Fluid-Identity header") {
		t.Errorf("no header: %d %v", status, body)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/sts/x", nil)
	req.Header.Add("X-Fluid-Identity", valid)
	req.Header.Add("X-Fluid-Identity", valid)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("header twice: %d", resp.StatusCode)
	}
}
