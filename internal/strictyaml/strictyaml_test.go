package strictyaml

import (
	"errors"
	"testing"

	"gopkg.in/yaml.v3"
)

func node(t *testing.T, s string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(s), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

func TestCheck(t *testing.T) {
	t.Parallel()
	known := []string{"issuer", "client_id", "strip_prefix"}
	for in, want := range map[string]string{
		"issuer: x\nclient_id: y\n":  "",
		"issuer: x\nissuerr: y\n":    `line 2: unknown key "issuerr" in auth (did you mean issuer?)`,
		"strip: /x\n":                `line 1: unknown key "strip" in auth (did you mean strip_prefix?)`,
		"issuer: x\n\nzzz: 1\n":      `line 3: unknown key "zzz" in auth (known: issuer, client_id, strip_prefix)`,
		"[a, b]\n":                   "",
		"issuer: {nope: 1}\n":        "",
		"client_id: a\nClient_ID: b": `line 2: unknown key "Client_ID" in auth (known: issuer, client_id, strip_prefix)`,
	} {
		err := Check(node(t, in), "auth", known...)
		got := ""
		if err != nil {
			got = err.Error()
			var e *Error
			if !errors.As(err, &e) || e.Where != "auth" {
				t.Errorf("%q: %T %+v", in, err, e)
			}
		}
		if got != want {
			t.Errorf("Check(%q) = %q, want %q", in, got, want)
		}
	}
	if err := Check(nil, "x", "a"); err != nil {
		t.Errorf("nil node: %v", err)
	}
	if got := (&Error{Line: 4, Key: "zzz", Known: []string{"a"}}).Error(); got != `line 4: unknown key "zzz" (known: a)` {
		t.Errorf("no where: %q", got)
	}
}
