package expect

import (
	"errors"
	"strings"
	"testing"
)

func TestParseErrorsCarryHints(t *testing.T) {
	for _, tt := range []struct{ status, jq, want, hint string }{
		{"abc", "", `invalid status "abc" in --expect-status`, "200,204"},
		{"200,99", "", `invalid status "99"`, "200,204"},
		{"", ".nope |", "invalid --expect-jq expression", ".ok == true"},
		{"", "$undefined", "invalid --expect-jq expression", ".ok == true"},
	} {
		_, err := Parse(tt.status, tt.jq)
		var e *Error
		if !errors.As(err, &e) || !strings.Contains(e.Msg, tt.want) || !strings.Contains(e.Hint, tt.hint) {
			t.Errorf("Parse(%q, %q) = %v; want %q with hint %q", tt.status, tt.jq, err, tt.want, tt.hint)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, tt := range []struct {
		status, jq string
		code       int
		body, want string // want "" passes
	}{
		{"", "", 500, "", ""},
		{"200, 204", "", 204, "", ""},
		{"200,204", "", 201, "", "expected status 200 or 204, got 201"},
		{"", ".n == 9007199254740993", 200, `{"n": 9007199254740993}`, ""},
		{"", ".n == 3", 200, `{"n": 3.0}`, ""},
		{"", ".ok", 200, "not json", "--expect-jq .ok: the body is not JSON"},
		{"", "empty", 200, `{}`, "--expect-jq empty produced no value"},
		{"", ".a.b", 200, `{"a": 1}`, "--expect-jq .a.b: "},
		{"", ".name", 200, `{"name": "` + strings.Repeat("x", 100) + `"}`, "was \"" + strings.Repeat("x", 79) + "…, want true"},
	} {
		e, err := Parse(tt.status, tt.jq)
		if err != nil {
			t.Fatal(err)
		}
		if e.NeedsBody() != (tt.jq != "") {
			t.Errorf("%q: NeedsBody = %v", tt.jq, e.NeedsBody())
		}
		err = e.Check(tt.code, []byte(tt.body))
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("status %q jq %q on %d %q: %v, want %q", tt.status, tt.jq, tt.code, tt.body, err, tt.want)
		}
	}
}
