package gateway

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/quick"
)

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	cases := []string{"", "plain", `q"b\s`, "ctl\x00\x01\x1f\t\n\r\b\f", "<a&b>", "é 日本 🎉", "bad\xffutf8\xc3", "line\u2028sep\u2029", strings.Repeat("x", 300)}
	check := func(s string) bool {
		want, _ := json.Marshal(s)
		return string(appendJSONString(nil, s)) == string(want)
	}
	for _, s := range cases {
		if !check(s) {
			want, _ := json.Marshal(s)
			t.Errorf("%q: got %s, want %s", s, appendJSONString(nil, s), want)
		}
	}
	if err := quick.Check(check, &quick.Config{MaxCount: 2000}); err != nil {
		t.Error(err)
	}
}

func TestParseByteSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"1": 1, "10MiB": 10 << 20, "512KiB": 512 << 10, "1MB": 1e6, "2 GiB": 2 << 30, "3K": 3 << 10} {
		if got, err := parseByteSize(in); err != nil || got != want {
			t.Errorf("%q = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "MiB", "1.5MiB", "10XB", "99999999999999999GiB"} {
		if _, err := parseByteSize(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestClassifyHeader(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]headerClass{
		"X-Forwarded-For": headerInternal, "x_forwarded_for": headerInternal, "X-FORWARDED-HOST": headerInternal,
		"Forwarded": headerInternal, "Cf-Access-Jwt-Assertion": headerInternal, "Cf-Access-Authenticated-User-Email": headerInternal,
		"Cf-Access-Client-Id": headerCredential, "Cf-Access-Client-Secret": headerCredential, "Cf-Access-Token": headerCredential,
		"X-Serverless-Authorization": headerCredential, "X-Gateway-Identity": headerInternal, "True-Client-Ip": headerInternal,
		"Authorization": headerPass, "X-Fluid-Identity": headerPass, "X-Amz-Date": headerPass, "Content-Type": headerPass,
		"X-Forwarded": headerPass, "Cf-Access-": headerPass, "X-Gateway": headerPass,
	} {
		if got := classifyHeader(name); got != want {
			t.Errorf("%s: %d, want %d", name, got, want)
		}
	}
}
