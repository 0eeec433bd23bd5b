package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/gwcurl/gwcurl/internal/profiles"
)

// itemKind is what an httpie-style request item means.
type itemKind int

const (
	itemHeader    itemKind = iota // Name:Value, or Name: to remove
	itemQuery                     // name==value
	itemField                     // name=value (JSON string)
	itemRawJSON                   // name:=json
	itemFileField                 // name@file (JSON string read from file)
)

type item struct {
	kind  itemKind
	key   string
	value string
}

// separators in precedence order at the same position: longer first.
var separators = []struct {
	sep  string
	kind itemKind
}{
	{":=", itemRawJSON},
	{"==", itemQuery},
	{"=", itemField},
	{":", itemHeader},
	{"@", itemFileField},
}

// parseItem splits an httpie-style item at its earliest separator. A
// backslash escapes a separator character inside the key.
func parseItem(arg string) (item, error) {
	var key strings.Builder
	for i := 0; i < len(arg); i++ {
		c := arg[i]
		if c == '\\' && i+1 < len(arg) && strings.IndexByte(":=@\\", arg[i+1]) >= 0 {
			key.WriteByte(arg[i+1])
			i++
			continue
		}
		for _, s := range separators {
			if strings.HasPrefix(arg[i:], s.sep) {
				it := item{kind: s.kind, key: key.String(), value: arg[i+len(s.sep):]}
				if it.key == "" {
					return item{}, usagef("items look like Name:Value, name=value, name:=json, name==value or name@file",
						"request item %q has an empty name", arg)
				}
				if it.kind == itemHeader && !profiles.ValidHeaderName(it.key) {
					return item{}, usagef("header names are tokens such as X-Trace; quote the whole item", "malformed header %q", arg)
				}
				if it.kind == itemHeader && !validHeaderValue(it.value) {
					return item{}, usagef("header values are one line of printable text", "header %q has a control character in its value", it.key)
				}
				return it, nil
			}
		}
		key.WriteByte(c)
	}
	return item{}, usagef("items look like Name:Value, name=value, name:=json, name==value or name@file; URLs start with http://, https:// or /",
		"cannot understand argument %q", arg)
}

// jsonBody builds the JSON object of the field items, in the order given.
func jsonBody(items []item) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	seen := map[string]bool{}
	first := true
	for _, it := range items {
		var raw []byte
		switch it.kind {
		case itemField:
			raw, _ = json.Marshal(it.value)
		case itemRawJSON:
			if !json.Valid([]byte(it.value)) {
				return nil, usagef(`raw JSON items look like count:=3, ok:=true or tags:='["a","b"]'`, "item %s:= is not valid JSON: %q", it.key, it.value)
			}
			var c bytes.Buffer
			json.Compact(&c, []byte(it.value)) //nolint:errcheck // validated above
			raw = c.Bytes()
		case itemFileField:
			b, err := os.ReadFile(it.value)
			if err != nil {
				return nil, usagef("the file after @ must exist and be readable", "item %s@%s: %v", it.key, it.value, shortPathErr(err))
			}
			raw, _ = json.Marshal(string(b))
		default:
			continue
		}
		if seen[it.key] {
			return nil, usagef("give each JSON field once", "JSON field %q given twice", it.key)
		}
		seen[it.key] = true
		if !first {
			buf.WriteByte(',')
		}
		first = false
		k, _ := json.Marshal(it.key)
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(raw)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func shortPathErr(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}

// parseHeaderFlag parses a -H value: "Name: value", or "Name:" to remove.
func parseHeaderFlag(h string) (name, value string, remove bool, err error) {
	name, value, ok := strings.Cut(h, ":")
	name = strings.TrimSpace(name)
	if !ok || !profiles.ValidHeaderName(name) {
		return "", "", false, usagef(`headers look like -H "Name: value" (or -H "Name:" to remove one)`, "malformed header %q", h)
	}
	value = strings.TrimSpace(value)
	if !validHeaderValue(value) {
		return "", "", false, usagef("header values are one line of printable text", "header %q has a control character in its value", name)
	}
	return name, value, value == "", nil
}

func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// isMethod reports whether s looks like an HTTP method: an upper-case
// token such as GET or PURGE.
// isURLArg reports whether an argument is an absolute URL (scheme://...),
// as opposed to an item such as Referer:https://x.
func isURLArg(a string) bool {
	i := strings.Index(a, "://")
	if i < 1 {
		return false
	}
	for j := 0; j < i; j++ {
		c := a[j]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || j > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// standardMethods may be given in lower case (get, post, ...), as httpie
// and xh accept them.
var standardMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}

// methodArg returns the method an argument names, upper-cased when it is
// a standard method in lower case.
func methodArg(s string) (string, bool) {
	if isMethod(s) {
		return s, true
	}
	for _, m := range standardMethods {
		if s == strings.ToLower(m) {
			return m, true
		}
	}
	return "", false
}

func isMethod(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// applyHeader sets or removes a header, keeping Host special.
func applyHeader(h http.Header, name, value string, remove bool) {
	if remove {
		h.Del(name)
		return
	}
	h.Set(name, value)
}

// validateItems returns an error for malformed item arguments early.
func validateItems(args []string) ([]item, error) {
	items := make([]item, 0, len(args))
	for _, a := range args {
		if isURLArg(a) {
			return nil, usagef("gwcurl sends one request per command: run it once per URL, or list the requests in a file for `gwcurl run`",
				"a second URL %q (items come after the one URL)", a)
		}
		it, err := parseItem(a)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return items, nil
}

func countJSON(items []item) int {
	n := 0
	for _, it := range items {
		if it.kind == itemField || it.kind == itemRawJSON || it.kind == itemFileField {
			n++
		}
	}
	return n
}

var _ = fmt.Sprintf
