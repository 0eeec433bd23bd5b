// Package iostreams owns every terminal and colour decision.
//
// # Rules
//
//   - stdout is data: never styled unless it is a colour terminal.
//   - stderr is conversation: styled only when it is a colour terminal.
//   - NO_COLOR (any value), CLICOLOR=0 and TERM=dumb turn all styling off;
//     CLICOLOR_FORCE=1 turns it on even when piped; GWCURL_FORCE_TTY=1 makes
//     both streams act as terminals (for screenshots and tests).
package iostreams

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"golang.org/x/term"
)

// IOStreams are the process's standard streams plus what is known about them.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY, stdoutTTY, stderrTTY bool
	colorOut, colorErr             bool
	width                          int
}

// FromEnv builds IOStreams from real files and an environment lookup.
func FromEnv(in *os.File, out, errOut *os.File, getenv func(string) string) *IOStreams {
	s := &IOStreams{In: in, Out: out, ErrOut: errOut}
	s.stdinTTY = isTerminal(in)
	s.stdoutTTY = isTerminal(out)
	s.stderrTTY = isTerminal(errOut)
	if getenv("GWCURL_FORCE_TTY") != "" && getenv("GWCURL_FORCE_TTY") != "0" {
		s.stdoutTTY, s.stderrTTY = true, true
	}
	s.colorOut = ColorAllowed(s.stdoutTTY, getenv)
	s.colorErr = ColorAllowed(s.stderrTTY, getenv)
	if s.stderrTTY {
		if w, _, err := term.GetSize(int(errOut.Fd())); err == nil {
			s.width = w
		}
	}
	if s.width == 0 {
		if n, err := strconv.Atoi(getenv("COLUMNS")); err == nil && n > 0 {
			s.width = n
		}
	}
	return s
}

func isTerminal(f *os.File) bool { return f != nil && term.IsTerminal(int(f.Fd())) }

// ColorAllowed applies the colour environment variables to a stream.
func ColorAllowed(isTTY bool, getenv func(string) string) bool {
	if _, set := lookup(getenv, "NO_COLOR"); set {
		return false
	}
	if getenv("TERM") == "dumb" {
		return false
	}
	if v := getenv("CLICOLOR_FORCE"); v != "" && v != "0" {
		return true
	}
	if getenv("CLICOLOR") == "0" {
		return false
	}
	return isTTY
}

// lookup distinguishes "set to empty" only when getenv can; NO_COLOR is
// specified as "present and not empty".
func lookup(getenv func(string) string, k string) (string, bool) {
	v := getenv(k)
	return v, v != ""
}

// Test returns IOStreams over buffers: no TTY, no colour.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

// SetTTY overrides terminal detection (tests).
func (s *IOStreams) SetTTY(stdin, stdout, stderr bool) {
	s.stdinTTY, s.stdoutTTY, s.stderrTTY = stdin, stdout, stderr
}

// SetColor overrides the colour decision (tests).
func (s *IOStreams) SetColor(out, err bool) { s.colorOut, s.colorErr = out, err }

func (s *IOStreams) IsStdinTTY() bool  { return s.stdinTTY }
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// ColorOut reports whether stdout may carry ANSI styling.
func (s *IOStreams) ColorOut() bool { return s.colorOut }

// ColorErr reports whether stderr may carry ANSI styling.
func (s *IOStreams) ColorErr() bool { return s.colorErr }

// CanPrompt reports whether a person can answer a prompt.
func (s *IOStreams) CanPrompt() bool { return s.stdinTTY && s.stderrTTY }

// TerminalWidth is the width of stderr's terminal, or 80.
func (s *IOStreams) TerminalWidth() int {
	if s.width > 0 {
		return s.width
	}
	return 80
}

// Styles are the lipgloss styles for stderr conversation. They render plain
// text when colour is off.
type Styles struct {
	OK, Warn, Err, Dim, Bold, Key, Accent lipgloss.Style
	renderer                              *lipgloss.Renderer
}

// ErrStyles returns styles for stderr.
func (s *IOStreams) ErrStyles() *Styles { return newStyles(s.ErrOut, s.colorErr) }

// OutStyles returns styles for stdout (JSON colouring on a terminal).
func (s *IOStreams) OutStyles() *Styles { return newStyles(s.Out, s.colorOut) }

func newStyles(w io.Writer, color bool) *Styles {
	r := lipgloss.NewRenderer(w)
	if color {
		r.SetColorProfile(termenv.ANSI256)
	} else {
		r.SetColorProfile(termenv.Ascii)
	}
	st := &Styles{renderer: r}
	st.OK = r.NewStyle().Foreground(lipgloss.Color("2")).Bold(true)
	st.Warn = r.NewStyle().Foreground(lipgloss.Color("3")).Bold(true)
	st.Err = r.NewStyle().Foreground(lipgloss.Color("1")).Bold(true)
	st.Dim = r.NewStyle().Foreground(lipgloss.Color("8"))
	st.Bold = r.NewStyle().Bold(true)
	st.Key = r.NewStyle().Foreground(lipgloss.Color("4")).Bold(true)
	st.Accent = r.NewStyle().Foreground(lipgloss.Color("6"))
	return st
}

// Renderer exposes the lipgloss renderer (for tables).
func (st *Styles) Renderer() *lipgloss.Renderer { return st.renderer }

// ReadPassword asks on stderr and reads one line from stdin without echo
// when stdin is a terminal (a line as typed otherwise).
func (s *IOStreams) ReadPassword(prompt string) (string, error) {
	io.WriteString(s.ErrOut, prompt)     //nolint:errcheck
	defer io.WriteString(s.ErrOut, "\n") //nolint:errcheck
	if f, ok := s.In.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		b, err := term.ReadPassword(int(f.Fd()))
		return string(b), err
	}
	var line []byte
	buf := make([]byte, 1)
	for {
		n, err := s.In.Read(buf)
		if n == 1 && buf[0] != '\n' {
			line = append(line, buf[0])
			continue
		}
		if n == 1 || err != nil {
			return strings.TrimSuffix(string(line), "\r"), nil
		}
	}
}
