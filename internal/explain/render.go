package explain

import (
	"fmt"
	"io"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// maxRendered bounds how many findings Render prints: the first is the
// likely cause; the others are alternatives worth a glance.
const maxRendered = 4

// Render prints findings on w (stderr) in a few lines:
//
//	gwcurl: cause: clock skew: your clock is 10m behind the server
//	gwcurl: fix: sync this machine's clock with NTP ...
//	    server time ... (detail lines, e.g. a canonical request diff)
//	gwcurl: maybe: ...
//
// With color, labels and diff lines are styled with lipgloss; without,
// the output is plain text. Lines are scrubbed again (credential-shaped
// text, control characters), so findings built elsewhere are safe too.
func Render(w io.Writer, fs []Finding, color bool) {
	r := lipgloss.NewRenderer(w)
	if color {
		r.SetColorProfile(termenv.ANSI256)
	} else {
		r.SetColorProfile(termenv.Ascii)
	}
	var (
		causeStyle = r.NewStyle().Foreground(lipgloss.Color("1")).Bold(true)
		maybeStyle = r.NewStyle().Foreground(lipgloss.Color("3")).Bold(true)
		fixStyle   = r.NewStyle().Foreground(lipgloss.Color("2")).Bold(true)
		dimStyle   = r.NewStyle().Foreground(lipgloss.Color("8"))
		delStyle   = r.NewStyle().Foreground(lipgloss.Color("1"))
		addStyle   = r.NewStyle().Foreground(lipgloss.Color("2"))
	)
	sc := &scrubber{}
	if len(fs) == 0 {
		fmt.Fprintf(w, "gwcurl: %s no known cause in the answer; rerun with -v to see what was sent and received\n", maybeStyle.Render("explain:"))
		return
	}
	for i, f := range fs {
		if i == maxRendered {
			fmt.Fprintf(w, "gwcurl: %s\n", dimStyle.Render(fmt.Sprintf("(%d more %s not shown)", len(fs)-i, plural(len(fs)-i, "possibility", "possibilities"))))
			break
		}
		f = sc.finding(f)
		label := causeStyle.Render("cause:")
		if i > 0 {
			label = maybeStyle.Render("maybe:")
		}
		fmt.Fprintf(w, "gwcurl: %s %s\n", label, f.Cause)
		if f.Fix != "" {
			fmt.Fprintf(w, "gwcurl: %s %s\n", fixStyle.Render("fix:"), f.Fix)
		}
		details := f.Detail
		if i > 0 && len(details) > 3 {
			details = append(details[:3:3], "…")
		}
		for _, l := range details {
			switch {
			case strings.HasPrefix(l, "- "):
				l = delStyle.Render(l)
			case strings.HasPrefix(l, "+ "):
				l = addStyle.Render(l)
			default:
				l = dimStyle.Render(l)
			}
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
}
