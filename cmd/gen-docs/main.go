// Command gen-docs regenerates gwcurl's command reference from the cobra
// tree: docs/reference/*.md and man/man1/*.1. Run it from the repository
// root after changing a command or flag:
//
//	go run ./cmd/gen-docs
//
// TestReferenceUpToDate fails while the committed copy is stale.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	md := flag.String("md", "docs/reference", "directory for the markdown pages")
	man := flag.String("man", "man/man1", "directory for the man pages")
	flag.Parse()
	if err := run(*md, *man); err != nil {
		fmt.Fprintln(os.Stderr, "gen-docs:", err)
		os.Exit(1)
	}
}

// run replaces the generated files in both directories, so a removed
// command's page goes too.
func run(md, man string) error {
	for _, glob := range []string{filepath.Join(md, "gwcurl*.md"), filepath.Join(man, "gwcurl*.1")} {
		old, err := filepath.Glob(glob)
		if err != nil {
			return err
		}
		for _, f := range old {
			if err := os.Remove(f); err != nil {
				return err
			}
		}
	}
	return genDocs(md, man)
}
