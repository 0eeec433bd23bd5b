package cli

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// doc un-indents a help text written as an indented raw string, exactly as
// heredoc.Doc does (a leading newline dropped, the smallest indentation of
// the non-blank lines removed from every line, a blank last line emptied).
// Hand-written because every start of gwcurl builds the whole command tree,
// help texts included, and heredoc.Doc converts each line to []rune to
// measure its indentation: 2.5 % of the CPU of a `gwcurl GET` before this
// (docs/performance.md, "Start-up"). This scans bytes and decodes a rune
// only where a line starts with a non-ASCII byte. TestDocMatchesHeredoc
// keeps it equal to heredoc.Doc.
func doc(raw string) string {
	skipFirst := false
	if raw != "" && raw[0] == '\n' {
		raw = raw[1:]
	} else {
		skipFirst = true
	}
	lines := strings.Split(raw, "\n")
	minIndent := int(^uint(0) >> 1)
	for i, line := range lines {
		if i == 0 && skipFirst {
			continue
		}
		runes := leadingSpace(line)
		if runes == len(line) { // runes against bytes, as heredoc.Doc compares them
			if i == len(lines)-1 && runes < minIndent {
				lines[i] = ""
			}
		} else if runes < minIndent {
			minIndent = runes
		}
	}
	for i, line := range lines {
		if i == 0 && skipFirst {
			continue
		}
		// heredoc.Doc counts the indentation in runes and cuts that many
		// bytes; the same here, so the two agree byte for byte.
		if len(line) >= minIndent {
			lines[i] = line[minIndent:]
		}
	}
	return strings.Join(lines, "\n")
}

// leadingSpace returns the number of runes of line's leading white space
// (unicode.IsSpace).
func leadingSpace(line string) int {
	runes := 0
	for i := 0; i < len(line); {
		c := line[i]
		if c < utf8.RuneSelf {
			if c != ' ' && c != '\t' && c != '\n' && c != '\v' && c != '\f' && c != '\r' {
				return runes
			}
			runes++
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(line[i:])
		if !unicode.IsSpace(r) {
			return runes
		}
		runes++
		i += size
	}
	return runes
}
