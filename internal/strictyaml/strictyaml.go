// Package strictyaml is the one unknown-key check of every YAML config the
// tree reads (the gateway's config and its auth kinds, the mock providers,
// the profiles file, `gwcurl run` files): yaml.v3 refuses unknown keys only
// when decoding from a stream (Decoder.KnownFields), and then names neither
// the key's path nor a likely fix, so the checks walk the yaml.Node instead.
package strictyaml

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gwcurl/gwcurl/internal/suggest"
)

// Error is an unknown key of a mapping.
type Error struct {
	Line  int      // the key's line
	Key   string   // the key as written
	Where string   // the mapping's path ("auth", "mocks.cognito"); may be empty
	Known []string // the keys the mapping accepts
}

func (e *Error) Error() string {
	where := ""
	if e.Where != "" {
		where = " in " + e.Where
	}
	return fmt.Sprintf("line %d: unknown key %q%s (%s)", e.Line, e.Key, where, Hint(e.Key, e.Known))
}

// UnknownKey returns the *Error for key node k of the mapping at where.
func UnknownKey(k *yaml.Node, where string, known []string) error {
	return &Error{Line: k.Line, Key: k.Value, Where: where, Known: known}
}

// Unknown returns the first key of mapping m that is not in known, or nil.
func Unknown(m *yaml.Node, known []string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; !slices.Contains(known, k.Value) {
			return k
		}
	}
	return nil
}

// Check returns an *Error for the first key of mapping m that is not in
// known, or nil. A nil or non-mapping m has no unknown key.
func Check(m *yaml.Node, where string, known ...string) error {
	if k := Unknown(m, known); k != nil {
		return UnknownKey(k, where, known)
	}
	return nil
}

// Hint is the advice for an unknown key: "did you mean X?" when a known key
// is close to it, else "known: a, b, c".
func Hint(key string, known []string) string {
	if s := Closest(key, known); s != "" {
		return "did you mean " + s + "?"
	}
	return "known: " + strings.Join(known, ", ")
}

// Closest returns the known key that key begins (three letters at least:
// strip → strip_prefix) or the one within edit distance 2 of it, or "".
func Closest(key string, known []string) string {
	for _, k := range known {
		if len(key) >= 3 && strings.HasPrefix(k, key) {
			return k
		}
	}
	return suggest.Closest(key, known)
}
