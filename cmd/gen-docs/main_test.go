package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestReferenceUpToDate regenerates the reference into a temporary directory
// and compares it, file by file, with the committed docs/reference and
// man/man1.
func TestReferenceUpToDate(t *testing.T) {
	tmp := t.TempDir()
	md, man := filepath.Join(tmp, "md"), filepath.Join(tmp, "man")
	if err := run(md, man); err != nil {
		t.Fatal(err)
	}
	stale := false
	for _, pair := range [][3]string{{md, "../../docs/reference", "gwcurl*.md"}, {man, "../../man/man1", "gwcurl*.1"}} {
		fresh, committed := list(t, pair[0], pair[2]), list(t, pair[1], pair[2])
		if len(fresh) == 0 {
			t.Fatalf("nothing generated in %s", pair[0])
		}
		for name, data := range fresh {
			old, ok := committed[name]
			switch {
			case !ok:
				t.Errorf("%s/%s is missing", pair[1], name)
				stale = true
			case old != data:
				t.Errorf("%s/%s is stale", pair[1], name)
				stale = true
			}
		}
		for name := range committed {
			if _, ok := fresh[name]; !ok {
				t.Errorf("%s/%s documents a command that no longer exists", pair[1], name)
				stale = true
			}
		}
	}
	if stale {
		t.Log("run `go run ./cmd/gen-docs` from the repository root and commit the result")
	}
}

func list(t *testing.T, dir, glob string) map[string]string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, glob))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		m[filepath.Base(n)] = string(data)
	}
	return m
}
