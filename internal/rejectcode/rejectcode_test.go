package rejectcode_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestCodesAreDocumented: every code is snake_case, unique, and in the
// table of docs/gateway.md ("Rejection codes"), which clients rely on.
func TestCodesAreDocumented(t *testing.T) {
	t.Parallel()
	f, err := parser.ParseFile(token.NewFileSet(), "rejectcode.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := os.ReadFile("../../docs/gateway.md")
	if err != nil {
		t.Fatal(err)
	}
	snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	seen := map[string]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok {
					t.Fatalf("%s: not a string literal", name.Name)
				}
				code, _ := strconv.Unquote(lit.Value)
				if !snake.MatchString(code) {
					t.Errorf("%s = %q: want snake_case", name.Name, code)
				}
				if other, dup := seen[code]; dup {
					t.Errorf("%s and %s are both %q", name.Name, other, code)
				}
				seen[code] = name.Name
				if !strings.Contains(string(docs), "`"+code+"`") {
					t.Errorf("code %q (%s) is not documented in docs/gateway.md", code, name.Name)
				}
			}
		}
	}
	if len(seen) < 30 {
		t.Errorf("found %d codes, want the 30 or more of rejectcode.go", len(seen))
	}
}
