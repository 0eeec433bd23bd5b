// Package archtest holds tests of the tree's architecture: which package may
// depend on which (docs/testing.md, "Architecture"). It has no code of its own.
package archtest

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/gwcurl/gwcurl"

// rule forbids every package matched by from (a `go list` pattern) to depend,
// directly or not, on any package under one of the prefixes in deny. Only
// production code counts: tests of client packages may start the gateway to
// check what they sign with real cryptography.
type rule struct {
	from string
	deny []string
	why  string
}

var rules = []rule{
	{"./internal/sign/...", []string{module + "/internal/gateway"}, "client packages never import the gateway"},
	{"./internal/login/...", []string{module + "/internal/gateway"}, "client packages never import the gateway"},
	{"./internal/profiles/...", []string{module + "/internal/gateway"}, "client packages never import the gateway"},
	{"./internal/explain/...", []string{module + "/internal/gateway"}, "client packages never import the gateway"},
	{"./internal/redact/...", []string{module + "/internal/gateway"}, "client packages never import the gateway"},
	{"./internal/gateway/...", []string{module + "/internal/profiles", module + "/internal/cli"}, "the gateway is a library that knows neither the client's profiles nor its CLI"},
	{"./internal/explain/...", []string{module + "/internal/sign", "github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go"},
		"explain diagnoses from what was sent and received; shared SigV4 pieces live in internal/awsv4"},
	{"./internal/gateway/...", []string{module + "/internal/demoflow"}, "demo-only client code lives in internal/demoflow, used by cli"},
	{"./internal/login/...", []string{module + "/internal/demoflow", module + "/internal/demo"}, "the scripted demo browser and mailbox reader live in internal/demoflow"},
	{"./internal/sign/...", []string{module + "/internal/demoflow", module + "/internal/demo"}, "demo-only client code lives in internal/demoflow, used by cli"},
	{"./internal/demo", []string{module + "/internal"}, "the demo's published credentials are a leaf package"},
	{"./internal/runfile/...", []string{module + "/internal/cli", module + "/internal/gateway"},
		"the run-file engine is a library: the CLI injects clients and reports; it never reaches the gateway"},
	{"./internal/expect/...", []string{module + "/internal/cli", module + "/internal/gateway"}, "expectations are a library shared by the CLI and the run-file engine"},
}

// knownExceptions are import edges ("importer -> imported") that break a rule
// today and are left for a larger move. Each names its issue. An exception
// that no longer occurs fails the test, so the list cannot outlive its cause.
var knownExceptions = map[string]string{}

func TestImportDirection(t *testing.T) {
	goBin, root := goCommand(t)
	seen := map[string]bool{}
	for _, r := range rules {
		g := listDeps(t, goBin, root, r.from)
		if len(g.roots) == 0 {
			t.Fatalf("%s matches no package", r.from)
		}
		for _, v := range g.violations(r.deny) {
			if _, ok := knownExceptions[v.edge]; ok {
				seen[v.edge] = true
				continue
			}
			t.Errorf("%s must not depend on %s (%s): %s", r.from, strings.Join(r.deny, ", "), r.why, v.path)
		}
	}
	for edge, why := range knownExceptions {
		if !seen[edge] {
			t.Errorf("known exception %q (%s) no longer occurs: remove it from knownExceptions", edge, why)
		}
	}
}

// TestViolationsFindsIndirectEdges checks the checker on a made-up graph: a
// forbidden package reached through an allowed one is reported with the
// edge that enters the forbidden prefix and the whole path.
func TestViolationsFindsIndirectEdges(t *testing.T) {
	g := graph{
		roots: []string{"m/client"},
		imports: map[string][]string{
			"m/client":           {"fmt", "m/helper"},
			"m/helper":           {"m/gateway/demo"},
			"m/gateway/demo":     {"m/gateway/demo/sub"},
			"m/gateway/demo/sub": nil,
			"m/gatewayish":       nil,
		},
	}
	got := g.violations([]string{"m/gateway"})
	if len(got) != 1 || got[0].edge != "m/helper -> m/gateway/demo" || got[0].path != "m/client -> m/helper -> m/gateway/demo" {
		t.Fatalf("violations = %+v", got)
	}
	g.imports["m/client"] = append(g.imports["m/client"], "m/gatewayish")
	if got := g.violations([]string{"m/gateway"}); len(got) != 1 {
		t.Fatalf("a package that only shares a name prefix was reported: %+v", got)
	}
	if got := (graph{roots: []string{"m/client"}, imports: map[string][]string{"m/client": {"fmt"}}}).violations([]string{"m/gateway"}); len(got) != 0 {
		t.Fatalf("clean graph: %+v", got)
	}
}

type graph struct {
	roots   []string            // the packages the rule is about
	imports map[string][]string // every package of the closure -> its imports
}

type violation struct {
	edge string // "importer -> imported", the edge entering the denied prefix
	path string // from a root to the denied package
}

func under(pkg string, prefixes []string) bool {
	for _, p := range prefixes {
		if pkg == p || strings.HasPrefix(pkg, p+"/") {
			return true
		}
	}
	return false
}

// violations walks the graph breadth-first from the roots, never through a
// denied package, and reports each edge that enters one.
func (g graph) violations(deny []string) []violation {
	parent := map[string]string{}
	var queue []string
	for _, r := range g.roots {
		if _, ok := parent[r]; !ok {
			parent[r] = ""
			queue = append(queue, r)
		}
	}
	var out []violation
	reported := map[string]bool{}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, imp := range g.imports[p] {
			if under(imp, deny) {
				edge := p + " -> " + imp
				if !reported[edge] {
					reported[edge] = true
					chain := []string{imp}
					for q := p; q != ""; q = parent[q] {
						chain = append(chain, q)
					}
					for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
						chain[i], chain[j] = chain[j], chain[i]
					}
					out = append(out, violation{edge: edge, path: strings.Join(chain, " -> ")})
				}
				continue
			}
			if _, ok := parent[imp]; !ok {
				parent[imp] = p
				queue = append(queue, imp)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].edge < out[j].edge })
	return out
}

// listDeps runs `go list -deps` on pattern (production code only) and
// returns the import graph of its closure.
func listDeps(t *testing.T, goBin, root, pattern string) graph {
	t.Helper()
	g := graph{imports: map[string][]string{}}
	out := goList(t, goBin, root, "-deps", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", pattern)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 {
			g.imports[f[0]] = f[1:]
		}
	}
	g.roots = strings.Fields(goList(t, goBin, root, pattern))
	return g
}

// goCommand returns the go command and the module's directory.
func goCommand(t *testing.T) (goBin, root string) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list packages: %v", err)
	}
	return goBin, repoRoot(t, goBin)
}

func repoRoot(t *testing.T, goBin string) string {
	t.Helper()
	mod := strings.TrimSpace(goList(t, goBin, ".", "-m", "-f", "{{.Dir}}"))
	if mod == "" || !filepath.IsAbs(mod) {
		t.Fatalf("module directory %q", mod)
	}
	return mod
}

func goList(t *testing.T, goBin, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(goBin, append([]string{"list"}, args...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// knownNameMismatches are packages whose name is not their directory's
// name. None remain; an entry here fails the test once its cause is gone.
var knownNameMismatches = map[string]string{}

// TestPackageNamesMatchDirectories: a package is named after its directory
// (main packages aside).
func TestPackageNamesMatchDirectories(t *testing.T) {
	goBin, root := goCommand(t)
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(goList(t, goBin, root, "-f", "{{.Name}} {{.ImportPath}}", "./...")), "\n") {
		name, path, _ := strings.Cut(line, " ")
		rel := strings.TrimPrefix(strings.TrimPrefix(path, module), "/")
		if name == "main" || name == filepath.Base(path) {
			continue
		}
		if knownNameMismatches[rel] == name {
			seen[rel] = true
			continue
		}
		t.Errorf("package %s is named %q, not %q", path, name, filepath.Base(path))
	}
	for rel := range knownNameMismatches {
		if !seen[rel] {
			t.Errorf("known name mismatch %s no longer occurs: remove it from knownNameMismatches", rel)
		}
	}
}
