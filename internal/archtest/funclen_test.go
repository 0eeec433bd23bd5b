package archtest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// maxFuncLines is the longest a production function may be, counted from
// its func line to its closing brace (issue #14: "no function over 100 lines
// outside tests and tables"). Longer ones are split along their own seams.
const maxFuncLines = 100

// longFuncAllowed lists functions ("dir/file.go:Name", Name as
// "Recv.Method" for methods) that may exceed maxFuncLines. Only table-like
// functions whose body is one data literal belong here for good; an entry
// that no longer exceeds the limit fails the test, so the list cannot
// outlive its cause.
var longFuncAllowed = map[string]string{
	// None today: every function that was longer has been split (issue #14).
}

func TestNoLongFunctions(t *testing.T) {
	_, root := goCommand(t)
	long, err := longFuncs(root, maxFuncLines)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range long {
		if _, ok := longFuncAllowed[f.name]; ok {
			seen[f.name] = true
			continue
		}
		t.Errorf("%s is %d lines (limit %d): split it along its own seams", f.name, f.lines, maxFuncLines)
	}
	for name, why := range longFuncAllowed {
		if !seen[name] {
			t.Errorf("%s (%s) is no longer over %d lines: remove it from longFuncAllowed", name, why, maxFuncLines)
		}
	}
}

// TestLongFuncsCountsFuncLineToBrace checks the checker on a made-up tree:
// a function of exactly the limit passes, one line more is reported, methods
// are named with their receiver, and test files and testdata are skipped.
func TestLongFuncsCountsFuncLineToBrace(t *testing.T) {
	dir := t.TempDir()
	body := func(name string, lines int) string { // lines counts func line and brace
		return "func " + name + " {\n" + strings.Repeat("\t_ = 0\n", lines-2) + "}\n"
	}
	files := map[string]string{
		"a/a.go":            "package a\n\ntype T struct{}\n\n" + body("ok()", 10) + body("(t *T) Long()", 11) + body("(T) Fine()", 3),
		"a/a_test.go":       "package a\n\n" + body("inTest()", 50),
		"a/testdata/x/x.go": "package x\n\n" + body("inTestdata()", 50),
		"b/b.go":            "package b\n\n" + body("Long[K comparable](k K)", 12),
	}
	for name, src := range files {
		writeFile(t, filepath.Join(dir, name), src)
	}
	got, err := longFuncs(dir, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []longFunc{{"a/a.go:T.Long", 11}, {"b/b.go:Long", 12}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("longFuncs = %v, want %v", got, want)
	}
}

type longFunc struct {
	name  string // "dir/file.go:Name" or "dir/file.go:Recv.Method", slash-separated
	lines int
}

// longFuncs parses every non-test Go file under root (skipping testdata,
// vendor and hidden directories) and returns the function declarations
// longer than limit lines, sorted by name.
func longFuncs(root string, limit int) ([]longFunc, error) {
	fset := token.NewFileSet()
	var out []longFunc
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			n := d.Name()
			if path != root && (n == "testdata" || n == "vendor" || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1
			if n > limit {
				out = append(out, longFunc{filepath.ToSlash(rel) + ":" + funcName(fd), n})
			}
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, err
}

// funcName is Name for functions and Recv.Name for methods.
func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	typ := fd.Recv.List[0].Type
	if s, ok := typ.(*ast.StarExpr); ok {
		typ = s.X
	}
	switch x := typ.(type) {
	case *ast.IndexExpr:
		typ = x.X
	case *ast.IndexListExpr:
		typ = x.X
	}
	if id, ok := typ.(*ast.Ident); ok {
		return id.Name + "." + fd.Name.Name
	}
	return fd.Name.Name
}

func writeFile(t *testing.T, path, src string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}
