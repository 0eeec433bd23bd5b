package cli

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseItem(t *testing.T) {
	tests := []struct {
		in      string
		kind    itemKind
		key     string
		value   string
		wantErr bool
	}{
		{in: "X-Trace:abc", kind: itemHeader, key: "X-Trace", value: "abc"},
		{in: "X-Trace:", kind: itemHeader, key: "X-Trace", value: ""},
		{in: "name=widget", kind: itemField, key: "name", value: "widget"},
		{in: "count:=3", kind: itemRawJSON, key: "count", value: "3"},
		{in: "q==1", kind: itemQuery, key: "q", value: "1"},
		{in: "url==http://x/y?z=1", kind: itemQuery, key: "url", value: "http://x/y?z=1"},
		{in: "note=@file.txt", kind: itemFileField, key: "note", value: "file.txt"},
		{in: "doc:=@file.json", kind: itemRawJSONFile, key: "doc", value: "file.json"},
		{in: "up@file.bin", kind: itemUpload, key: "up", value: "file.bin"},
		{in: "q==@x", kind: itemQuery, key: "q", value: "@x"},
		{in: "a=b=c", kind: itemField, key: "a", value: "b=c"},
		{in: `a\:b=c`, kind: itemField, key: "a:b", value: "c"},
		{in: `a\=b==c`, kind: itemQuery, key: "a=b", value: "c"},
		{in: "Bad Header:x", wantErr: true},
		{in: "=value", wantErr: true},
		{in: "plainword", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			it, err := parseItem(tt.in)
			if tt.wantErr {
				var ue *UsageError
				if !errors.As(err, &ue) {
					t.Fatalf("parseItem(%q) err = %v, want a UsageError", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if it.kind != tt.kind || it.key != tt.key || it.value != tt.value {
				t.Fatalf("parseItem(%q) = %+v, want kind %d key %q value %q", tt.in, it, tt.kind, tt.key, tt.value)
			}
		})
	}
}

func TestJSONBody(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "n.txt")
	os.WriteFile(f, []byte("hi\n"), 0o600)
	j := filepath.Join(dir, "d.json")
	os.WriteFile(j, []byte("{ \"x\": [1, 2] }\n"), 0o600)
	items, err := validateItems([]string{"name=widget", "count:=3", "tags:=[ 1, 2 ]", "note=@" + f, "doc:=@" + j, "X-A:b", "q==1",
		"user[name]=ann", "user[roles][]=admin", "user[roles][]=dev", "matrix[1]=b", "matrix[0]=a", `esc\[x\]=1`})
	if err != nil {
		t.Fatal(err)
	}
	got, err := jsonBody(items)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"widget","count":3,"tags":[1,2],"note":"hi\n","doc":{"x":[1,2]},"user":{"name":"ann","roles":["admin","dev"]},"matrix":["a","b"],"esc[x]":"1"}`
	if string(got) != want {
		t.Fatalf("jsonBody = %s, want %s", got, want)
	}
	for _, bad := range [][]string{{"a:=nope"}, {"a=1", "a=2"}, {"a=@/does/not/exist"}, {"a:=@/does/not/exist"}, {"a[]=1", "a[x]=2"}, {"a=1", "a[b]=2"}, {"a[b=1"}} {
		items, _ := validateItems(bad)
		if _, err := jsonBody(items); err == nil {
			t.Errorf("jsonBody(%q) succeeded, want an error", bad)
		}
	}
}

func TestParseHeaderFlag(t *testing.T) {
	tests := []struct {
		in           string
		name, value  string
		remove, fail bool
	}{
		{in: "X-A: 1", name: "X-A", value: "1"},
		{in: "X-A:1", name: "X-A", value: "1"},
		{in: "X-A:", name: "X-A", remove: true},
		{in: "X-A:  spaced  ", name: "X-A", value: "spaced"},
		{in: "no colon", fail: true},
		{in: ": empty", fail: true},
		{in: "X-A: a\x01b", fail: true},
	}
	for _, tt := range tests {
		n, v, rm, err := parseHeaderFlag(tt.in)
		if tt.fail {
			if err == nil {
				t.Errorf("parseHeaderFlag(%q) succeeded", tt.in)
			}
			continue
		}
		if err != nil || n != tt.name || v != tt.value || rm != tt.remove {
			t.Errorf("parseHeaderFlag(%q) = %q %q %v %v", tt.in, n, v, rm, err)
		}
	}
}

func TestExpandWriteOut(t *testing.T) {
	st := &transferStats{start: time.Unix(0, 0), end: time.Unix(1, 500_000_000), sizeDownload: 42, urlEffective: "http://x/", method: "GET", authKind: "none", attempts: 1}
	vars := writeOutVars(writeOutInput{stats: st, resp: &http.Response{StatusCode: 201, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}, "X-Trace": {"a", "b"}}}})
	tests := []struct{ format, want string }{
		{`%{http_code}`, "201"},
		{`%{http_code}\n`, "201\n"},
		{`%{size_download} %{url_effective} %{method}`, "42 http://x/ GET"},
		{`%{time_total}`, "1.500000"},
		{`100%%`, "100%"},
		{`%{auth_kind}\t|`, "none\t|"},
		{`%{http_version} %header{x-trace} %header{Content-Type}`, "1.1 a, b application/json"},
		{`%{header_json}`, "{\"content-type\":[\"application/json\"],\n\"x-trace\":[\"a\",\"b\"]\n}"},
		{`%{exitcode} %{errormsg}|%{redirect_url}|%{num_retries}`, "0 ||0"},
	}
	for _, tt := range tests {
		got, err := expandWriteOut(tt.format, vars)
		if err != nil || got != tt.want {
			t.Errorf("expandWriteOut(%q) = %q, %v; want %q", tt.format, got, err, tt.want)
		}
	}
	if _, err := expandWriteOut("%{nope}", vars); err == nil {
		t.Error("unknown variable accepted")
	}
	if _, err := checkWriteOut("%{http_verison}"); err == nil || !strings.Contains(err.(*UsageError).Hint, "did you mean http_version?") {
		t.Errorf("checkWriteOut typo: %v", err)
	}
	if got, _ := expandWriteOut("%{http_code}", writeOutVars(writeOutInput{stats: st, exitCode: 7})); got != "000" {
		t.Errorf("no answer: http_code %q, want 000", got)
	}
	j, err := expandWriteOut("%{json}", vars)
	if err != nil || !contains(j, `"http_code":201`) || !contains(j, `"size_download":42`) {
		t.Errorf("%%{json} = %s, %v", j, err)
	}
}

func contains(s, sub string) bool { return len(s) >= len(sub) && (s == sub || indexOf(s, sub) >= 0) }
func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"3", 3 * time.Second, true},
		{"0", 0, true},
		{now.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"soon", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.v != "" {
			h.Set("Retry-After", tt.v)
		}
		got, ok := retryAfter(h, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("retryAfter(%q) = %v %v, want %v %v", tt.v, got, ok, tt.want, tt.ok)
		}
	}
}

func TestLooksBinary(t *testing.T) {
	if looksBinary([]byte("héllo\n")) {
		t.Error("UTF-8 text flagged as binary")
	}
	if !looksBinary([]byte{0x89, 'P', 'N', 'G', 0, 1}) {
		t.Error("binary not flagged")
	}
	cut := []byte("ab" + "é")[:3] // a UTF-8 sequence cut at the end
	if looksBinary(cut) {
		t.Error("text cut mid-rune flagged as binary")
	}
}
