package gateway

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
)

// indexCSP allows the index page's inline style and nothing else.
var indexCSP = []string{"default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"}[:1:1]

var indexHTMLType = []string{"text/html; charset=utf-8"}[:1:1]

const indexTemplate = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>gwcurl mock gateway</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse}
th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}
code{font-family:ui-monospace,monospace}
</style>
</head>
<body>
<h1>gwcurl mock gateway</h1>
<p>Local and offline: every credential is verified with real cryptography against the mock providers below. Deny by default.{{if .Env}} Environment: <code>{{.Env}}</code>.{{end}}</p>
<h2>Routes</h2>
<table>
<tr><th>prefix</th><th>auth</th><th>origin</th><th>methods</th><th>limits</th></tr>
{{range .Routes}}<tr>
<td><code>{{.Prefix}}</code>{{if .StripPrefix}}<br><small>strips <code>{{.StripPrefix}}</code></small>{{end}}</td>
<td><code>{{.Auth}}</code></td>
<td>{{range $p, $u := .Paths}}<code>{{$p}}</code> → <code>{{$u}}</code><br>{{end}}{{if .Paths}}else {{end}}<code>{{.Upstream}}</code></td>
<td>{{if .Methods}}{{range .Methods}}<code>{{.}}</code> {{end}}{{else}}any{{end}}</td>
<td>{{with .RateLimit}}{{.RPS}} req/s per client, burst {{.Burst}}{{end}}</td>
</tr>
{{end}}</table>
<h2>Mock providers</h2>
<ul>
{{range .Mocks}}<li><code>{{.}}</code></li>
{{else}}<li>none</li>
{{end}}</ul>
<h2>Gateway endpoints</h2>
<ul>
<li><code>/_mock/requests</code>: the recent request log as JSON (<code>?limit=N</code>, <code>?route=PREFIX</code>, <code>?decision=D</code>; DELETE clears it)</li>
</ul>
<p>Body limit {{.BodyLimit}}. CORS origins: {{range .Origins}}<code>{{.}}</code> {{else}}none{{end}}</p>
</body>
</html>
`

// renderIndex renders the index page once: routes do not change after New.
func renderIndex(g *Gateway) ([]byte, error) {
	t, err := template.New("index").Parse(indexTemplate)
	if err != nil {
		return nil, fmt.Errorf("gateway: index template: %w", err)
	}
	data := struct {
		Env       string
		Routes    []RouteInfo
		Mocks     []string
		BodyLimit string
		Origins   []string
	}{g.cfg.Env, g.Routes(), g.MockPrefixes(), formatSize(g.bodyLimit(nil)), g.cfg.CORS.AllowOrigins}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("gateway: index template: %w", err)
	}
	return b.Bytes(), nil
}

func (g *Gateway) serveIndex(st *reqState, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return &HTTPError{Status: http.StatusMethodNotAllowed, Decision: "method_not_allowed", Reason: "the index page answers GET",
			Header: http.Header{"Allow": {"GET, HEAD"}}}
	}
	st.decision = "index"
	h := st.Header()
	h["Content-Type"] = indexHTMLType
	h["Content-Security-Policy"] = indexCSP
	h["Content-Length"] = []string{strconv.Itoa(len(g.index))}
	st.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = st.Write(g.index)
	}
	return nil
}
