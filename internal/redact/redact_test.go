package redact

import (
	"strings"
	"testing"
)

func TestHeaderValue(t *testing.T) {
	sig := "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
	tests := []struct {
		name, value, want string
		leak              string
	}{
		{"Authorization", "Bearer eyJhbGciOiJSUzI1NiJ9.payload.sig", "Bearer eyJhbG…", "payload"},
		{"Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + sig,
			"AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00f…", sig},
		{"X-Amz-Security-Token", "FwoGZXIvYXdzEBYaDHqa0AP1/token", "FwoGZX…", "token"},
		{"CF-Access-Client-Secret", "demo-cf-secret", "demo-c…", "cf-secret"},
		{"Cookie", "CF_Authorization=eyJhbGciOiJSUzI1NiJ9.x.y; theme=dark", "CF_Authorization=eyJhbG…; theme=****", "x.y"},
		{"X-Fluid-Identity", "https://sts.amazonaws.com/?X-Amz-Signature=abcdef0123456789", "https:…", "abcdef0123"},
		{"Content-Type", "application/json", "application/json", ""},
	}
	for _, tt := range tests {
		got := HeaderValue(tt.name, tt.value)
		if got != tt.want {
			t.Errorf("HeaderValue(%s) = %q, want %q", tt.name, got, tt.want)
		}
		if tt.leak != "" && strings.Contains(got, tt.leak) {
			t.Errorf("HeaderValue(%s) leaks %q", tt.name, tt.leak)
		}
	}
	if got := HeaderValue("X-Custom", "secretvalue123456", "x-custom"); got != "secret…" {
		t.Errorf("extra sensitive header not redacted: %q", got)
	}
}

func TestURL(t *testing.T) {
	in := "https://sts.amazonaws.com/?Action=GetCallerIdentity&X-Amz-Credential=AKID%2F20150830&X-Amz-Signature=0123456789abcdef0123&X-Amz-Security-Token=tokentokentokentoken#frag"
	got := URL(in)
	for _, leak := range []string{"0123456789abcdef0123", "tokentokentokentoken"} {
		if strings.Contains(got, leak) {
			t.Errorf("URL leaks %q: %s", leak, got)
		}
	}
	if !strings.Contains(got, "Action=GetCallerIdentity") || !strings.Contains(got, "X-Amz-Credential=AKID%2F20150830") || !strings.HasSuffix(got, "#frag") {
		t.Errorf("URL lost non-secret parts: %s", got)
	}
	if URL("http://x/path") != "http://x/path" {
		t.Error("URL changed a URL without a query")
	}
}

func TestIsSensitiveQuery(t *testing.T) {
	for name, want := range map[string]bool{
		"X-Amz-Signature": true, "x-amz-security-token": true, "access_token": true, "Code": true,
		"header": true, "X-Amz-Credential": false, "X-Amz-Date": false, "page": false, "": false,
	} {
		if got := IsSensitiveQuery(name); got != want {
			t.Errorf("IsSensitiveQuery(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestPrintable(t *testing.T) {
	if got := Printable("bad\x1b[31m request\r\n\x7f"); got != "bad[31m request" {
		t.Errorf("Printable = %q", got)
	}
	if got := Printable(strings.Repeat("é", 150)); len(got) != 200+len("…") {
		t.Errorf("Printable of 300 bytes: %d bytes", len(got))
	}
}
