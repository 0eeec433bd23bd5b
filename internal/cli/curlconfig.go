package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// -K/--config FILE reads more options from FILE in curl's config syntax
// (curl(1), "-K, --config"): one option per line, its leading dashes
// optional for long names; the value after whitespace, '=' or ':', in
// double quotes with \\ \" \t \n \r \v escapes when it has spaces; "#"
// starts a comment line; `url = URL` gives the URL. "-" reads stdin. The
// options take the place of -K FILE on the command line, in order.
// Hand-written: no Go library reads curl's config format.

// expandCurlConfig replaces each -K FILE / --config FILE / --config=FILE in
// args with the options FILE holds. fs knows which options take a value.
func expandCurlConfig(args []string, fs *pflag.FlagSet, stdin io.Reader) ([]string, error) {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...), nil
		}
		var file string
		switch {
		case a == "-K" || a == "--config":
			if i+1 >= len(args) {
				return nil, usagef("-K takes a file in curl's config syntax", "-K needs a file name")
			}
			file, i = args[i+1], i+1
		case strings.HasPrefix(a, "--config="):
			file = strings.TrimPrefix(a, "--config=")
		case strings.HasPrefix(a, "-K") && len(a) > 2:
			file = a[2:]
		default:
			out = append(out, a)
			continue
		}
		more, err := readCurlConfig(file, fs, stdin)
		if err != nil {
			return nil, err
		}
		out = append(out, more...)
	}
	return out, nil
}

func readCurlConfig(name string, fs *pflag.FlagSet, stdin io.Reader) ([]string, error) {
	var r io.Reader
	if name == "-" {
		if stdin == nil {
			return nil, usagef("", "-K -: no stdin")
		}
		r = stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, usagef("-K takes a file in curl's config syntax", "cannot read config %s: %s", name, shortPathErr(err))
		}
		defer f.Close()
		r = f
	}
	var args []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		opt, rest := line, ""
		if i := strings.IndexAny(line, " \t=:"); i >= 0 {
			opt, rest = line[:i], strings.TrimLeft(line[i:], " \t")
			if rest != "" && (rest[0] == '=' || rest[0] == ':') {
				rest = strings.TrimLeft(rest[1:], " \t")
			}
		}
		val, err := curlConfigValue(rest)
		if err != nil {
			return nil, usagef("values with spaces go in double quotes", "%s:%d: %v", name, n, err)
		}
		name := strings.TrimLeft(opt, "-")
		if name == "url" {
			args = append(args, val)
			continue
		}
		var fl *pflag.Flag
		if strings.HasPrefix(opt, "-") && !strings.HasPrefix(opt, "--") && len(name) == 1 {
			fl = fs.ShorthandLookup(name)
		} else {
			fl = fs.Lookup(name)
		}
		if fl == nil {
			return nil, usagef("see `gwcurl --help` for the options", "%s:%d: unknown option %q", name, n, opt)
		}
		if fl.Value.Type() == "bool" {
			args = append(args, "--"+fl.Name)
			continue
		}
		args = append(args, "--"+fl.Name, val)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read config %s: %w", name, err)
	}
	return args, nil
}

// curlConfigValue reads a value: bare up to the first whitespace, or
// double-quoted with escapes.
func curlConfigValue(s string) (string, error) {
	if s == "" || s[0] != '"' {
		if i := strings.IndexAny(s, " \t"); i >= 0 {
			s = s[:i]
		}
		return s, nil
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			return b.String(), nil
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 't':
				b.WriteByte('\t')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 'v':
				b.WriteByte('\v')
			default:
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", fmt.Errorf("unterminated quoted value")
}
