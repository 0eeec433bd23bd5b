package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/gwcurl/gwcurl/internal/profiles"
	"github.com/gwcurl/gwcurl/internal/runfile"
)

// itemKind is what an httpie-style request item means.
type itemKind int

// The forms follow httpie exactly (httpie.io/docs/cli/request-items).
const (
	itemHeader      itemKind = iota // Name:Value, or Name: to remove
	itemQuery                       // name==value
	itemField                       // name=value (JSON string, or a form field)
	itemRawJSON                     // name:=json
	itemFileField                   // name=@file (a string field read from the file)
	itemRawJSONFile                 // name:=@file.json (raw JSON read from the file)
	itemUpload                      // name@file (a file upload: the body becomes multipart)
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
	{":=@", itemRawJSONFile},
	{":=", itemRawJSON},
	{"==", itemQuery},
	{"=@", itemFileField},
	{"=", itemField},
	{":", itemHeader},
	{"@", itemUpload},
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

// jsonBody builds the JSON document of the field items, in the order
// given, with httpie's nested keys: a[b]=1 is {"a":{"b":"1"}}, a[]=1
// appends to the array a, a[0]=1 sets its first element.
func jsonBody(items []item) ([]byte, error) {
	root := &jnode{}
	for _, it := range items {
		var raw []byte
		switch it.kind {
		case itemField:
			raw, _ = json.Marshal(it.value)
		case itemRawJSON, itemRawJSONFile:
			v := []byte(it.value)
			if it.kind == itemRawJSONFile {
				b, err := os.ReadFile(it.value)
				if err != nil {
					return nil, usagef("the file after :=@ must exist and be readable", "item %s:=@%s: %v", it.key, it.value, shortPathErr(err))
				}
				v = b
			}
			if !json.Valid(v) {
				return nil, usagef(`raw JSON items look like count:=3, ok:=true or tags:='["a","b"]'`, "item %s:= is not valid JSON: %q", it.key, truncate(string(v), 60))
			}
			var c bytes.Buffer
			json.Compact(&c, v) //nolint:errcheck // validated above
			raw = c.Bytes()
		case itemFileField:
			b, err := os.ReadFile(it.value)
			if err != nil {
				return nil, usagef("the file after =@ must exist and be readable", "item %s=@%s: %v", it.key, it.value, shortPathErr(err))
			}
			raw, _ = json.Marshal(string(b))
		default:
			continue
		}
		path, err := parseKeyPath(it.key)
		if err != nil {
			return nil, err
		}
		if err := root.set(path, raw, it.key); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	if root.kind == 0 {
		root.kind = jObject
	}
	root.write(&buf)
	return buf.Bytes(), nil
}

// keySeg is one step of a nested key: an object key, an array index, or
// an append ([]).
type keySeg struct {
	key    string
	index  int // -1: append
	isElem bool
}

// parseKeyPath reads httpie's nested key syntax: name, name[key],
// name[0], name[], chained. A backslash escapes [ and ].
func parseKeyPath(k string) ([]keySeg, error) {
	bad := func() ([]keySeg, error) {
		return nil, usagef("nested keys look like a[b]=1, a[]=1 or a[0]=1", "malformed key %q", k)
	}
	var segs []keySeg
	var cur strings.Builder
	i := 0
	for ; i < len(k) && k[i] != '['; i++ {
		if k[i] == '\\' && i+1 < len(k) && (k[i+1] == '[' || k[i+1] == ']') {
			i++
		}
		cur.WriteByte(k[i])
	}
	segs = append(segs, keySeg{key: cur.String()})
	for i < len(k) {
		if k[i] != '[' {
			return bad()
		}
		end := strings.IndexByte(k[i:], ']')
		if end < 0 {
			return bad()
		}
		inner := k[i+1 : i+end]
		i += end + 1
		switch {
		case inner == "":
			segs = append(segs, keySeg{isElem: true, index: -1})
		case isDigits(inner):
			n, _ := strconv.Atoi(inner)
			if n > 10000 {
				return bad()
			}
			segs = append(segs, keySeg{isElem: true, index: n})
		default:
			segs = append(segs, keySeg{key: inner})
		}
	}
	return segs, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// jnode is an ordered JSON value under construction.
type jnode struct {
	kind  int // 0 unset, jObject, jArray, jLeaf
	keys  []string
	obj   map[string]*jnode
	elems []*jnode
	raw   []byte
}

const (
	jObject = 1 + iota
	jArray
	jLeaf
)

func (n *jnode) set(path []keySeg, raw []byte, full string) error {
	if len(path) == 0 {
		if n.kind != 0 {
			return usagef("give each JSON field once (a[]=x appends to an array)", "JSON field %q given twice", full)
		}
		n.kind, n.raw = jLeaf, raw
		return nil
	}
	seg := path[0]
	if seg.isElem {
		if n.kind == 0 {
			n.kind = jArray
		}
		if n.kind != jArray {
			return usagef("a key is either an object or an array", "JSON field %q mixes an array with another value", full)
		}
		idx := seg.index
		if idx < 0 {
			idx = len(n.elems)
		}
		for len(n.elems) <= idx {
			n.elems = append(n.elems, &jnode{})
		}
		return n.elems[idx].set(path[1:], raw, full)
	}
	if n.kind == 0 {
		n.kind, n.obj = jObject, map[string]*jnode{}
	}
	if n.kind != jObject {
		return usagef("a key is either an object or an array", "JSON field %q mixes an object with another value", full)
	}
	c, ok := n.obj[seg.key]
	if !ok {
		c = &jnode{}
		n.obj[seg.key] = c
		n.keys = append(n.keys, seg.key)
	}
	return c.set(path[1:], raw, full)
}

func (n *jnode) write(b *bytes.Buffer) {
	switch n.kind {
	case jLeaf:
		b.Write(n.raw)
	case jArray:
		b.WriteByte('[')
		for i, e := range n.elems {
			if i > 0 {
				b.WriteByte(',')
			}
			e.write(b)
		}
		b.WriteByte(']')
	case jObject:
		b.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteByte(':')
			n.obj[k].write(b)
		}
		b.WriteByte('}')
	default:
		b.WriteString("null")
	}
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
	if runfile.IsMethod(s) {
		return s, true
	}
	for _, m := range standardMethods {
		if s == strings.ToLower(m) {
			return m, true
		}
	}
	return "", false
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
		switch it.kind {
		case itemField, itemRawJSON, itemFileField, itemRawJSONFile, itemUpload:
			n++
		}
	}
	return n
}

func hasUpload(items []item) bool {
	for _, it := range items {
		if it.kind == itemUpload {
			return true
		}
	}
	return false
}

var _ = fmt.Sprintf
