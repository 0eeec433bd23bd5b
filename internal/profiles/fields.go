package profiles

import (
	"reflect"
	"strings"
)

// yamlFieldNames lists the yaml keys of a struct value.
func yamlFieldNames(v any) []string {
	t := reflect.TypeOf(v)
	var out []string
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("yaml")
		name, _, _ := strings.Cut(tag, ",")
		if name == "" || name == "-" {
			continue
		}
		out = append(out, name)
	}
	return out
}

// AuthFieldNames lists the auth block's keys (for the JSON Schema and docs).
func AuthFieldNames() []string { return yamlFieldNames(Auth{}) }
