package awsv4

import (
	"os"
	"strings"
	"testing"
)

// TestDocsInferenceTable keeps the host table of docs/auth/sigv4.md true:
// every example host infers the service and region the row names, and the
// service has the payload rule the row names.
func TestDocsInferenceTable(t *testing.T) {
	b, err := os.ReadFile("../../docs/auth/sigv4.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(b), "<!-- inference table:")
	if !ok {
		t.Fatal("docs/auth/sigv4.md: the inference table marker is missing")
	}
	rows := 0
	for _, line := range strings.Split(table, "\n")[3:] {
		if !strings.HasPrefix(line, "|") {
			break
		}
		line = strings.ReplaceAll(line, `\|`, "/")
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 5 {
			t.Fatalf("row %q: want 5 cells, got %d", line, len(cells))
		}
		for i := range cells {
			cells[i] = strings.Trim(strings.TrimSpace(cells[i]), "`")
		}
		host, service, region, payload := cells[0], cells[2], cells[3], cells[4]
		s, r := InferServiceRegion(host)
		if s != service || r != region {
			t.Errorf("%s: infers %q %q, the docs say %q %q", host, s, r, service, region)
		}
		if got := PayloadRuleFor(s).String(); got != payload {
			t.Errorf("%s: payload rule %q, the docs say %q", host, got, payload)
		}
		rows++
	}
	if rows < 10 {
		t.Fatalf("read only %d rows of the inference table", rows)
	}
}
