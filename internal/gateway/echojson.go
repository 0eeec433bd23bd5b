package gateway

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
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
	if resp.Query == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '{')
		for i, k := range sortedKeys(resp.Query) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			switch v := resp.Query[k].(type) {
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
	}
	b = append(b, `,"host":`...)
	b = appendJSONString(b, resp.Host)
	b = append(b, `,"headers":`...)
	if resp.Headers == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '{')
		for i, k := range sortedKeys(resp.Headers) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, resp.Headers[k])
		}
		b = append(b, '}')
	}
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
	switch id := resp.Identity; {
	case id == nil:
		b = append(b, "null"...)
	case id.Encoded != "":
		b = append(b, id.Encoded...)
	default:
		js, err := json.Marshal(id)
		if err != nil {
			return nil, err
		}
		b = append(b, js...)
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

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
