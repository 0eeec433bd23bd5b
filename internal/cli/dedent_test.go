package cli

import (
	"testing"

	"github.com/MakeNowJust/heredoc"
)

var dedentCases = []string{
	"",
	"\n",
	"no newline first\n\t\tsecond\n",
	"\n\t\tGet a thing.\n\n\t\t  indented more\n\t\tback\n\t",
	"\n    spaces\n      more\n    ",
	"\n\t\tlast line has text",
	"\n\t\t\n\t\t\n",
	"\n\u00a0\u00a0nbsp indented\n\u00a0\u00a0again\n",
	"\n\u3000ideographic space\n\t\ttab\n",
	"\n\t\t\xffinvalid utf-8\n\t\tok\n",
	"\n\t\tshort\n\t\n\t\t\tdeeper\n  \t",
}

// TestDocMatchesHeredoc: doc is heredoc.Doc without its rune conversion;
// every help text of the command tree and the cases above give the same
// bytes.
func TestDocMatchesHeredoc(t *testing.T) {
	for _, in := range dedentCases {
		if got, want := doc(in), heredoc.Doc(in); got != want {
			t.Errorf("doc(%q) = %q, heredoc.Doc gives %q", in, got, want)
		}
	}
}

func FuzzDocMatchesHeredoc(f *testing.F) {
	for _, in := range dedentCases {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if got, want := doc(in), heredoc.Doc(in); got != want {
			t.Errorf("doc(%q) = %q, heredoc.Doc gives %q", in, got, want)
		}
	})
}
