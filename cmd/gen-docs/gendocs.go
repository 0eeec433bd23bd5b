package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/gwcurl/gwcurl/internal/cli"
	"github.com/gwcurl/gwcurl/internal/iostreams"
)

// genDocs writes the command reference generated from the cobra tree: one
// markdown page per command into mdDir and one man page per command into
// manDir. The output depends only on the command tree (no dates, no
// environment), so a test can regenerate it and compare with the committed
// copy. It lives here, not in internal/cli, so that the gwcurl binary does
// not link cobra/doc and its markdown and YAML packages, whose package init
// every gwcurl start would pay (docs/performance.md, "Start-up").
func genDocs(mdDir, manDir string) error {
	ios, _, _, _ := iostreams.Test()
	f := &cli.Factory{IO: ios, Getenv: func(string) string { return "" }, Now: time.Now, Context: context.Background()}
	root := cli.NewRootCmd(f)
	root.DisableAutoGenTag = true
	root.InitDefaultCompletionCmd()
	for _, d := range []string{mdDir, manDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := doc.GenMarkdownTree(root, mdDir); err != nil {
		return err
	}
	return genMan(root, manDir)
}

// genMan writes gwcurl.1, gwcurl-profiles-add.1, ... The header's date is left
// empty so that regenerating the pages changes nothing.
func genMan(c *cobra.Command, dir string) error {
	for _, sub := range c.Commands() {
		if !sub.IsAvailableCommand() || sub.IsAdditionalHelpTopicCommand() {
			continue
		}
		if err := genMan(sub, dir); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	zero := time.Time{}
	hdr := &doc.GenManHeader{Section: "1", Date: &zero, Source: "gwcurl", Manual: "gwcurl manual"}
	if err := doc.GenMan(c, hdr, &buf); err != nil {
		return err
	}
	out := bytes.Replace(buf.Bytes(), []byte(`"`+zero.Format("Jan 2006")+`"`), []byte(`""`), 1)
	name := strings.ReplaceAll(c.CommandPath(), " ", "-") + ".1"
	if err := os.WriteFile(filepath.Join(dir, name), out, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
