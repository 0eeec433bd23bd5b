package idp

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"sync"
	"time"

	"github.com/gwcurl/gwcurl/internal/strictyaml"
	"gopkg.in/yaml.v3"
)

// pageTemplate is the mock providers' HTML: small, no external assets, no
// script (the login form works with any browser, a scripted client
// included).
var pageTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;padding:3rem 1rem;color:#1d1f23}
main{max-width:26rem;margin:auto;background:#fff;border-radius:8px;padding:2rem;box-shadow:0 1px 4px #0002}
h1{font-size:1.3rem;margin-top:0}
label{display:block;margin:.8rem 0 .3rem;font-weight:600}
input[type=text],input[type=email],input[type=password]{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem}
button{margin-top:1.2rem;width:100%;padding:.6rem;font-size:1rem;background:#2563eb;color:#fff;border:0;border-radius:4px}
.error{color:#b91c1c;background:#fee2e2;padding:.5rem;border-radius:4px}
.note{color:#555;font-size:.85rem}
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
{{if .Error}}<p class="error" id="error">{{.Error}}</p>{{end}}
{{if .Message}}<p id="message">{{.Message}}</p>{{end}}
{{if .Form}}<form method="post" action="{{.Action}}" id="login">
<label for="username">Username</label>
<input type="text" id="username" name="username" value="{{.Username}}" autocomplete="username" autocapitalize="none" required autofocus>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit" name="signInSubmitButton" id="signin">Sign in</button>
</form>{{end}}
{{if .Note}}<p class="note">{{.Note}}</p>{{end}}
</main>
</body>
</html>
`))
})

// Page is what an HTML page of a mock provider shows.
type Page struct {
	Title    string
	Error    string
	Message  string
	Note     string
	Form     bool   // the username/password form
	Action   string // the form's action URL
	Username string // pre-filled after a failed attempt
}

// WritePage answers an HTML page. Pages are never cached and never framed.
func WritePage(w http.ResponseWriter, status int, p Page) {
	var b bytes.Buffer
	if err := pageTemplate().Execute(&b, p); err != nil {
		http.Error(w, "cannot render page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	// With the gateway's no-referrer policy a browser sends "Origin: null"
	// on the form's POST; same-origin lets it send the page's origin.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http://127.0.0.1:* http://localhost:* http://[::1]:* https:; frame-ancestors 'none'")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// Duration reads an optional duration setting of a mock's config.
func Duration(s, key string, def, lo, hi time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < lo || d > hi {
		return 0, fmt.Errorf("%s: %q: want a duration between %s and %s", key, s, lo, hi)
	}
	return d, nil
}

// KnownKeys rejects keys of a mapping node that are not listed.
func KnownKeys(m *yaml.Node, where string, keys ...string) error {
	if m == nil {
		return nil
	}
	if m.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: %s: want a mapping", m.Line, where)
	}
	return strictyaml.Check(m, where, keys...)
}
