package auth_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryRejectionHasACode walks the gateway's sources: every call of
// auth.Reject and auth.Unauthorized passes a code (a rejectcode constant or
// a variable holding one, never a string literal, which would compile as a
// Code and shift the format into the code), and every auth.Rejection literal
// sets Code. The verifiers' tests check which code each refusal carries.
func TestEveryRejectionHasACode(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..")
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.CallExpr:
				if name := authName(x.Fun, f.Name.Name); name == "Reject" || name == "Unauthorized" {
					checked++
					if len(x.Args) == 0 {
						break
					}
					if _, lit := x.Args[0].(*ast.BasicLit); lit {
						t.Errorf("%s: auth.%s with a string literal where the code goes", fset.Position(x.Pos()), name)
					}
				}
			case *ast.CompositeLit:
				if authName(x.Type, f.Name.Name) != "Rejection" {
					break
				}
				checked++
				hasCode := false
				for _, e := range x.Elts {
					if kv, ok := e.(*ast.KeyValueExpr); ok {
						if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Code" {
							hasCode = true
						}
					}
				}
				if !hasCode {
					t.Errorf("%s: auth.Rejection literal without a Code", fset.Position(x.Pos()))
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Errorf("checked %d rejection sites, want the gateway's 100 or more (did the walk miss the verifiers?)", checked)
	}
}

// authName is the name e refers to in package auth (auth.X from other
// packages, X inside package auth), or "".
func authName(e ast.Expr, pkg string) string {
	switch x := e.(type) {
	case *ast.SelectorExpr:
		if id, ok := x.X.(*ast.Ident); ok && id.Name == "auth" {
			return x.Sel.Name
		}
	case *ast.Ident:
		if pkg == "auth" {
			return x.Name
		}
	}
	return ""
}
