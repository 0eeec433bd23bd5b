package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The seeds run in every `go test`; fuzz with
//
//	go test -run '^$' -fuzz '^FuzzParseItem$' -fuzztime 1m -parallel 1 ./internal/cli/

// FuzzParseItem: request items (httpie syntax) parse or fail with a
// message, never panic.
func FuzzParseItem(f *testing.F) {
	for _, s := range []string{"a=b", "a:=1", "a:=[1,{\"x\":2}]", "H:v", "q==1", "f@file", `a\=b=c`, `\\`, "=", ":", "a:=", "@", "a==", "x-h:", "a=@f", "a:=@f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		if _, err := parseItem(arg); err != nil && err.Error() == "" {
			t.Fatalf("%q: empty error", arg)
		}
	})
}

// FuzzParseRunFile: any run file is steps or an error naming the file.
func FuzzParseRunFile(f *testing.F) {
	f.Add("- {name: health, url: /health, expect: {status: 200}}\n")
	f.Add("- name: a\n  method: POST\n  url: /items\n  items: [name=x]\n  expect: {status: 201, json: {.name: x}}\n")
	f.Add("{}")
	f.Add("- [1, 2]\n- {name: a}\n- {name: a, url: /x}\n")
	f.Add("- &a {name: x, url: /y}\n- *a\n")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, text string) {
		path := filepath.Join(dir, "run.yaml")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		steps, err := parseRunFile(path)
		if err != nil && !strings.Contains(err.Error(), "run.yaml") && !strings.Contains(err.Error(), "list") {
			t.Fatalf("%q: error %q names neither the file nor the format", text, err)
		}
		for _, s := range steps {
			if s == nil {
				t.Fatalf("%q: a nil step", text)
			}
		}
	})
}
