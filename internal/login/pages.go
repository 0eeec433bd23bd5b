package login

import (
	"bytes"
	"html/template"
	"net/http"
	"sync"
)

// resultPage is what the browser shows after the redirect to the loopback
// listener: small, embedded, no external assets and no script. Parsed on
// first use, not at every gwcurl start.
var resultPage = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("result").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gwcurl login {{if .OK}}complete{{else}}failed{{end}}</title>
<style>
body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;padding:3rem 1rem;color:#1d1f23}
main{max-width:30rem;margin:auto;background:#fff;border-radius:8px;padding:2rem;box-shadow:0 1px 4px #0002}
h1{font-size:1.3rem;margin-top:0;color:{{if .OK}}#15803d{{else}}#b91c1c{{end}}}
</style>
</head>
<body>
<main>
<h1 id="result">{{if .OK}}gwcurl: login complete{{else}}gwcurl: login failed{{end}}</h1>
<p id="message">{{.Message}}</p>
</main>
</body>
</html>
`))
})

func writeResultPage(w http.ResponseWriter, status int, ok bool, msg string) {
	var b bytes.Buffer
	if err := resultPage().Execute(&b, struct {
		OK      bool
		Message string
	}{ok, msg}); err != nil {
		http.Error(w, msg, status)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}
