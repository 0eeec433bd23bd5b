package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/lipgloss/table"

	"github.com/gwcurl/gwcurl/internal/iostreams"
)

// ttyBodyLimit bounds what gwcurl buffers to pretty-print on a terminal;
// larger bodies are streamed as they are.
const ttyBodyLimit = 8 << 20

func isJSONType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// looksBinary reports whether data should not be dumped to a terminal.
func looksBinary(b []byte) bool {
	if len(b) > 4096 {
		b = b[:4096]
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return true
	}
	if utf8.Valid(b) {
		return false
	}
	// A peek may cut the last rune: allow an incomplete sequence of up to 3
	// bytes that starts with a lead byte.
	for i := 1; i <= 3 && i < len(b); i++ {
		if tail := b[len(b)-i]; tail >= 0xC0 && utf8.Valid(b[:len(b)-i]) {
			return false
		}
	}
	return true
}

// writeTTYBody prints a body for a person: JSON pretty-printed and coloured,
// text with control characters made visible, binary refused.
func writeTTYBody(w io.Writer, st *iostreams.Styles, resp *http.Response, body io.Reader) (int64, error) {
	br := bufio.NewReaderSize(body, 64<<10)
	head, _ := br.Peek(4096)
	if looksBinary(head) {
		n, _ := io.Copy(io.Discard, br)
		return n, &binaryRefused{n: n}
	}
	if isJSONType(resp.Header.Get("Content-Type")) || (len(bytes.TrimSpace(head)) > 0 && (bytes.TrimSpace(head)[0] == '{' || bytes.TrimSpace(head)[0] == '[')) {
		data, err := io.ReadAll(io.LimitReader(br, ttyBodyLimit+1))
		if err != nil {
			return int64(len(data)), err
		}
		if len(data) <= ttyBodyLimit && json.Valid(data) {
			var out bytes.Buffer
			colorJSON(&out, data, st)
			out.WriteByte('\n')
			_, err := w.Write(out.Bytes())
			return int64(len(data)), err
		}
		n, err := w.Write(sanitizeTTY(data))
		m, err2 := copySanitized(w, br)
		if err == nil {
			err = err2
		}
		return int64(n) + m, err
	}
	n, err := copySanitized(w, br)
	return n, err
}

type binaryRefused struct{ n int64 }

func (b *binaryRefused) Error() string {
	return fmt.Sprintf("binary output (%d bytes) not shown on a terminal", b.n)
}

// copySanitized streams text, replacing terminal control sequences.
func copySanitized(w io.Writer, r io.Reader) (int64, error) {
	buf := make([]byte, 32<<10)
	var total int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			total += int64(n)
			if _, werr := w.Write(sanitizeTTY(buf[:n])); werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// sanitizeTTY neutralises control characters (ESC and friends) from
// server-supplied text so a response cannot drive the user's terminal.
func sanitizeTTY(b []byte) []byte {
	clean := true
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\t' && c != '\r' || c == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\t' && c != '\r' || c == 0x7f {
			out = append(out, '^', c^0x40)
			continue
		}
		out = append(out, c)
	}
	return out
}

// colorJSON pretty-prints valid JSON with styles: keys, strings, numbers,
// literals. Hand-written because the JSON colourisers available either drop
// number precision or pull in large dependencies; this walks the bytes once.
func colorJSON(out *bytes.Buffer, data []byte, st *iostreams.Styles) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		obj   bool
		count int
	}
	var stack []frame
	indent := func() {
		out.WriteByte('\n')
		out.WriteString(strings.Repeat("  ", len(stack)))
	}
	expectKey := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if top.count > 0 {
				indent()
			}
			out.WriteString(st.Dim.Render(string(d)))
			expectKey = len(stack) > 0 && stack[len(stack)-1].obj
			continue
		}
		if len(stack) > 0 {
			top := &stack[len(stack)-1]
			if !top.obj || expectKey {
				if top.count > 0 {
					out.WriteString(st.Dim.Render(","))
				}
				indent()
				top.count++
			}
		}
		if expectKey {
			k, _ := json.Marshal(tok.(string))
			out.WriteString(st.Key.Render(string(k)))
			out.WriteString(st.Dim.Render(":") + " ")
			expectKey = false
			continue
		}
		switch v := tok.(type) {
		case json.Delim:
			out.WriteString(st.Dim.Render(string(v)))
			stack = append(stack, frame{obj: v == '{'})
			expectKey = v == '{'
			continue
		case string:
			s, _ := json.Marshal(v)
			out.WriteString(st.OK.UnsetBold().Render(string(s)))
		case json.Number:
			out.WriteString(st.Accent.Render(v.String()))
		case bool:
			out.WriteString(st.Warn.UnsetBold().Render(fmt.Sprint(v)))
		case nil:
			out.WriteString(st.Dim.Render("null"))
		}
		expectKey = len(stack) > 0 && stack[len(stack)-1].obj
	}
}

// writeHeaders writes the status line and headers as curl -i does.
func writeHeaders(w io.Writer, resp *http.Response) {
	fmt.Fprintf(w, "%s\r\n", statusText(resp))
	for _, k := range sortedKeys(resp.Header) {
		for _, v := range resp.Header[k] {
			fmt.Fprintf(w, "%s: %s\r\n", k, v)
		}
	}
	fmt.Fprint(w, "\r\n")
}

// statusText is the status line as curl prints it: "HTTP/1.1 200 OK", and
// for HTTP/2 and 3 "HTTP/2 200" (those versions carry no reason phrase).
func statusText(resp *http.Response) string {
	if resp.ProtoMajor >= 2 {
		return fmt.Sprintf("HTTP/%d %d", resp.ProtoMajor, resp.StatusCode)
	}
	return resp.Proto + " " + resp.Status
}

// writeTable is gwcurl's one table style on a terminal (demo, profiles
// list, run): rounded dim borders, bold headers, fitted to the terminal's
// width. Callers print plain tab-separated lines when stdout is piped.
func (f *Factory) writeTable(headers []string, rows [][]string) {
	st := f.IO.OutStyles()
	t := table.New().
		Border(lipgloss.RoundedBorder()).
		BorderStyle(st.Dim).
		StyleFunc(func(row, _ int) lipgloss.Style {
			if row == table.HeaderRow {
				return st.Bold.Padding(0, 1)
			}
			return lipgloss.NewStyle().Padding(0, 1)
		}).
		Headers(headers...).
		Rows(rows...)
	out := t.Render()
	if w := f.IO.TerminalWidth(); w > 20 && lipgloss.Width(strings.SplitN(out, "\n", 2)[0]) > w {
		out = t.Width(w).Render() // shrink (and wrap) to the terminal, never stretch
	}
	fmt.Fprintln(f.IO.Out, out)
}
