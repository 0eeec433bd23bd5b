package gateway

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"

	"github.com/gwcurl/gwcurl/internal/gateway/auth"
)

// appendEcho appends resp as encoding/json would encode it (same fields,
// order, escaping and sorted map keys; TestAppendEchoMatchesJSON checks
// it). Hand-written because builtin:echo answers every benchmark and
// smoke request, and reflection over its two maps was the largest cost of
// a /public request after the network; the identity is taken as the
// verifier encoded it once (auth.Identity.Encoded) when it did.
func appendEcho(b []byte, resp *EchoResponse) ([]byte, error) {
	b = append(b, `{"method":`...)
	b = appendJSONString(b, resp.Method)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, resp.Path)
	b = append(b, `,"raw_query":`...)
	b = appendJSONString(b, resp.RawQuery)
	b = append(b, `,"query":`...)
	b, err := appendQuery(b, resp.Query)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"host":`...)
	b = appendJSONString(b, resp.Host)
	b = append(b, `,"headers":`...)
	b = appendHeaders(b, resp.Headers)
	b = append(b, `,"body":`...)
	b = appendJSONString(b, resp.Body)
	b = append(b, `,"body_base64":`...)
	b = strconv.AppendBool(b, resp.BodyBase64)
	b = append(b, `,"body_sha256":`...)
	b = appendJSONString(b, resp.BodySHA256)
	b = append(b, `,"content_length":`...)
	b = strconv.AppendInt(b, resp.ContentLength, 10)
	if len(resp.JSON) > 0 {
		// As encoding/json writes a RawMessage: compacted, HTML-escaped.
		var c bytes.Buffer
		if err := json.Compact(&c, resp.JSON); err != nil {
			return nil, err
		}
		b = append(b, `,"json":`...)
		var e bytes.Buffer
		json.HTMLEscape(&e, c.Bytes())
		b = append(b, e.Bytes()...)
	}
	b = append(b, `,"identity":`...)
	if b, err = appendIdentity(b, resp.Identity); err != nil {
		return nil, err
	}
	if resp.Route != "" {
		b = append(b, `,"route":`...)
		b = appendJSONString(b, resp.Route)
	}
	if resp.RequestID != "" {
		b = append(b, `,"request_id":`...)
		b = appendJSONString(b, resp.RequestID)
	}
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(resp.Status), 10)
	return append(b, '}'), nil
}

// appendQuery appends the echoed query: each parameter's value as a string,
// or a list when repeated.
func appendQuery(b []byte, query map[string]any) ([]byte, error) {
	if query == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '{')
	for i, k := range sortedKeys(query) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		switch v := query[k].(type) {
		case string:
			b = appendJSONString(b, v)
		case []string:
			b = append(b, '[')
			for j, s := range v {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, s)
			}
			b = append(b, ']')
		default:
			js, err := json.Marshal(v)
			if err != nil {
				return nil, err
			}
			b = append(b, js...)
		}
	}
	b = append(b, '}')
	return b, nil
}

// appendHeaders appends the echoed headers, repeated ones joined.
func appendHeaders(b []byte, headers map[string]string) []byte {
	if headers == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	for i, k := range sortedKeys(headers) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, headers[k])
	}
	b = append(b, '}')
	return b
}

// appendIdentity appends the verified identity, as encoded when the
// verifier pre-encoded it.
func appendIdentity(b []byte, id *auth.Identity) ([]byte, error) {
	switch {
	case id == nil:
		return append(b, "null"...), nil
	case id.Encoded != "":
		return append(b, id.Encoded...), nil
	}
	js, err := json.Marshal(id)
	if err != nil {
		return nil, err
	}
	return append(b, js...), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
