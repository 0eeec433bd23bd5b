package profiles

import (
	"strings"
	"testing"
)

// The seeds run in every `go test`; fuzz with
//
//	go test -run '^$' -fuzz '^FuzzParseConfig$' -fuzztime 1m -parallel 1 ./internal/profiles/

// FuzzParseConfig: any gwcurl config text is a config or an error naming
// the file, never a panic.
func FuzzParseConfig(f *testing.F) {
	f.Add("current: a\nprofiles:\n  a: {base_url: https://x.example, auth: {kind: sigv4, region: us-east-1, service: lambda}}\n")
	f.Add("profiles:\n  b: {base_url: http://127.0.0.1:1/public, auth: {kind: none}}\n")
	f.Add("profiles: {c: {auth: {kind: bearer, token: env:T}}}\n")
	f.Add("profiles: [1]\n")
	f.Add("current: missing\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, text string) {
		_, err := Parse("fuzz.yaml", []byte(text))
		if err != nil && !strings.Contains(err.Error(), "fuzz.yaml") {
			t.Fatalf("%q: error %q does not name the file", text, err)
		}
	})
}
