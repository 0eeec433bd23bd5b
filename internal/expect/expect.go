// Package expect checks an HTTP answer against expectations: a set of
// accepted status codes and a jq expression that must be true of the JSON
// body. It serves --expect-status/--expect-jq and the expect: block of
// `gwcurl run` files (docs/reference/gwcurl_run.md).
package expect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/itchyny/gojq"
)

// BodyLimit bounds the body kept in memory for the jq expectation.
const BodyLimit = 32 << 20

// Error is an invalid expectation: Msg says what is wrong, Hint how to
// write it.
type Error struct {
	Msg  string
	Hint string
}

func (e *Error) Error() string { return e.Msg }

// Expectations are accepted statuses and a compiled jq expression.
type Expectations struct {
	Statuses []int // empty: any status
	jq       *gojq.Code
	jqSrc    string
}

// Parse reads statuses ("200" or "200,204") and a jq expression; either
// may be empty. Errors are *Error.
func Parse(statuses, jq string) (*Expectations, error) {
	e := &Expectations{}
	if statuses != "" {
		for _, s := range strings.Split(statuses, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 100 || n > 599 {
				return nil, &Error{Msg: fmt.Sprintf("invalid status %q in --expect-status", s), Hint: "--expect-status takes codes such as 200 or 200,204"}
			}
			e.Statuses = append(e.Statuses, n)
		}
	}
	if jq != "" {
		q, err := gojq.Parse(jq)
		if err == nil {
			e.jq, err = gojq.Compile(q)
		}
		if err != nil {
			return nil, &Error{Msg: fmt.Sprintf("invalid --expect-jq expression: %v", err), Hint: `--expect-jq takes a jq expression such as '.ok == true'`}
		}
		e.jqSrc = jq
	}
	return e, nil
}

// NeedsBody reports whether Check reads the body (a jq expectation).
func (e *Expectations) NeedsBody() bool { return e.jq != nil }

// Check returns an error naming the first expectation the answer fails.
func (e *Expectations) Check(status int, body []byte) error {
	if len(e.Statuses) > 0 {
		ok := false
		for _, s := range e.Statuses {
			ok = ok || s == status
		}
		if !ok {
			want := make([]string, len(e.Statuses))
			for i, s := range e.Statuses {
				want[i] = strconv.Itoa(s)
			}
			return fmt.Errorf("expected status %s, got %d", strings.Join(want, " or "), status)
		}
	}
	if e.jq == nil {
		return nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("--expect-jq %s: the body is not JSON", e.jqSrc)
	}
	iter := e.jq.Run(normalizeNumbers(v))
	res, ok := iter.Next()
	if !ok {
		return fmt.Errorf("--expect-jq %s produced no value", e.jqSrc)
	}
	if err, isErr := res.(error); isErr {
		return fmt.Errorf("--expect-jq %s: %v", e.jqSrc, err)
	}
	if res != true {
		got, _ := json.Marshal(res)
		return fmt.Errorf("--expect-jq %s was %s, want true", e.jqSrc, truncate(string(got), 80))
	}
	return nil
}

// normalizeNumbers turns json.Number into the int/float64 values gojq uses.
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil && i >= -1<<53 && i <= 1<<53 {
			return int(i)
		}
		fl, _ := x.Float64()
		return fl
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalizeNumbers(e)
		}
	}
	return v
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
