// Package runfile is the engine of `gwcurl run` (docs/reference/gwcurl_run.md):
// it parses a YAML run file, sends its requests on parallel workers through
// clients it is given, checks each answer's expectations and returns the
// results. It prints nothing and knows neither the CLI nor the gateway: the
// caller injects one Target (a signing client and its profile's base URL and
// headers) per profile, the clock, and reports the results.
package runfile

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gwcurl/gwcurl/internal/expect"
	"github.com/gwcurl/gwcurl/internal/strictyaml"
)

// Step is one request of a run file.
type Step struct {
	Name    string            `yaml:"name"`
	Profile string            `yaml:"profile"`
	Method  string            `yaml:"method"`
	URL     string            `yaml:"url"`
	Headers map[string]string `yaml:"headers"`
	Query   map[string]string `yaml:"query"`
	Body    yaml.Node         `yaml:"body"` // a string (sent as is) or a mapping/sequence (sent as JSON)
	Expect  StepExpect        `yaml:"expect"`

	Line int `yaml:"-"` // the step's line in the file

	body []byte
	ct   string
	exp  *expect.Expectations
}

// StepExpect is a step's expect: block.
type StepExpect struct {
	Status yaml.Node `yaml:"status"` // 200 or [200, 204]
	JQ     string    `yaml:"jq"`
}

// Error is a run file that cannot be run: Err names file and line, Hint
// (possibly empty) says how to fix it.
type Error struct {
	Err  error
	Hint string
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func errorf(hint, format string, args ...any) error {
	return &Error{Err: fmt.Errorf(format, args...), Hint: hint}
}

// Parse reads and validates the run file at path (its content is data);
// errors are *Error and name file and line.
func Parse(path string, data []byte) ([]*Step, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &Error{Err: yamlErr(path, err), Hint: "the file is a YAML list of requests; see gwcurl run --help"}
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.SequenceNode {
		return nil, errorf("the file is a YAML list: - {name: health, url: /health, expect: {status: 200}}", "%s: not a list of requests", path)
	}
	var steps []*Step
	names := map[string]int{}
	for i, n := range root.Content[0].Content {
		s := &Step{Line: n.Line}
		if err := checkKeys(n); err != nil {
			return nil, &Error{Err: fmt.Errorf("%s:%d: %v", path, err.line, err.msg), Hint: "keys: name, profile, method, url, headers, query, body, expect {status, jq}"}
		}
		if err := n.Decode(s); err != nil {
			return nil, &Error{Err: yamlErr(path, err), Hint: "see gwcurl run --help"}
		}
		if s.Name == "" {
			s.Name = fmt.Sprintf("request %d", i+1)
		}
		if prev, dup := names[s.Name]; dup {
			return nil, errorf("give each request its own name", "%s:%d: name %q already used on line %d", path, n.Line, s.Name, prev)
		}
		names[s.Name] = n.Line
		if s.URL == "" {
			return nil, errorf("each request needs url: (absolute, or /path on its profile's base_url)", "%s:%d: %s: no url", path, n.Line, s.Name)
		}
		if err := s.prepare(); err != nil {
			return nil, &Error{Err: fmt.Errorf("%s:%d: %s: %v", path, n.Line, s.Name, err)}
		}
		steps = append(steps, s)
	}
	if len(steps) == 0 {
		return nil, errorf("add at least one request", "%s: no requests", path)
	}
	return steps, nil
}

type lineErr struct {
	line int
	msg  string
}

var (
	runKeys    = []string{"name", "profile", "method", "url", "headers", "query", "body", "expect"}
	expectKeys = []string{"status", "jq"}
)

func checkKeys(n *yaml.Node) *lineErr {
	if n.Kind != yaml.MappingNode {
		return &lineErr{n.Line, "each request is a mapping"}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !slices.Contains(runKeys, k.Value) {
			return &lineErr{k.Line, fmt.Sprintf("unknown key %q (%s)", k.Value, strictyaml.Hint(k.Value, runKeys))}
		}
		if k.Value == "expect" && v.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(v.Content); j += 2 {
				if ek := v.Content[j]; !slices.Contains(expectKeys, ek.Value) {
					return &lineErr{ek.Line, fmt.Sprintf("unknown key expect.%s (%s)", ek.Value, strictyaml.Hint(ek.Value, expectKeys))}
				}
			}
		}
	}
	return nil
}

func yamlErr(path string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n  ")
	if strings.HasPrefix(msg, "line ") {
		return fmt.Errorf("%s:%s", path, strings.TrimPrefix(msg, "line "))
	}
	return fmt.Errorf("%s: %s", path, msg)
}

// prepare turns the step's YAML into a body and expectations.
func (s *Step) prepare() error {
	switch s.Body.Kind {
	case 0:
	case yaml.ScalarNode:
		s.body = []byte(s.Body.Value)
	default:
		var v any
		if err := s.Body.Decode(&v); err != nil {
			return err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("body: %v", err)
		}
		s.body, s.ct = b, "application/json"
	}
	if s.Method == "" {
		s.Method = http.MethodGet
		if s.body != nil {
			s.Method = http.MethodPost
		}
	}
	if !IsMethod(s.Method) {
		return fmt.Errorf("method %q is not an upper-case token", s.Method)
	}
	status := ""
	switch s.Expect.Status.Kind {
	case 0:
	case yaml.ScalarNode:
		status = s.Expect.Status.Value
	case yaml.SequenceNode:
		var codes []string
		for _, c := range s.Expect.Status.Content {
			codes = append(codes, c.Value)
		}
		status = strings.Join(codes, ",")
	}
	exp, err := expect.Parse(status, s.Expect.JQ)
	if err != nil {
		return err
	}
	s.exp = exp
	return nil
}

// IsMethod is the rule for a method token, shared by run files and the
// request command (a bare upper-case word: GET, POST, PURGE, ...).
func IsMethod(s string) bool {
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

// QueryEscape escapes a query component (run files and the request
// command's key==value items) with %20 for spaces (not '+'), so
// what is signed and what is sent agree (docs/auth/sigv4.md, "What gets signed, and how").
func QueryEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}
