package gateway

import (
	"encoding/json"
	"testing"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
)

// TestAppendEchoMatchesJSON: the hand-written echo encoding is byte for byte
// what encoding/json writes, for awkward strings, maps, raw JSON bodies and
// identities (encoded or not).
func TestAppendEchoMatchesJSON(t *testing.T) {
	t.Parallel()
	id := &auth.Identity{Kind: "jwt", Principal: "a<b>&c@example.com", Claims: map[string]any{
		"email": "x\u2028y", "n": 1.5, "groups": []any{"a", "b"}, "nested": map[string]any{"z": nil, "a": true}}}
	encoded := (&auth.Identity{Kind: id.Kind, Principal: id.Principal, Claims: id.Claims}).Encode()
	awkward := "quote\" back\\ nl\n tab\t ctl\x01 html<>& uni\u2029 bad\xff end"
	cases := map[string]EchoResponse{
		"empty": {},
		"typical": {Method: "GET", Path: "/echo", Query: map[string]any{}, Host: "127.0.0.1:1",
			Headers:    map[string]string{"Accept": "*/*", "X-Gateway-Identity": `{"kind":"none"}`, "A": ""},
			BodySHA256: "e3b0", Identity: encoded, Route: "/public", RequestID: "ab-1", Status: 200},
		"awkward": {Method: awkward, Path: awkward, RawQuery: awkward, Host: awkward, Body: awkward,
			Query:   map[string]any{"b": []string{"1", awkward}, awkward: "v", "a": "x"},
			Headers: map[string]string{awkward: awkward, "Z": "1"}, BodyBase64: true, ContentLength: -1,
			Identity: id, Status: 599},
		"json body":   {Method: "POST", JSON: json.RawMessage(" {\"a\" : [1, 2,\n3], \"h\":\"<&>\"}\n"), Identity: encoded},
		"no identity": {Method: "GET", Headers: map[string]string{}, Query: map[string]any{"k": []string{}}},
	}
	for name, resp := range cases {
		want, err := json.Marshal(&resp)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendEcho(nil, &resp)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(got) != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
}
