package cli

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gwcurl/gwcurl/internal/redact"
)

// shellQuote quotes s for POSIX shells.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// printCurl writes a runnable curl command equivalent to the signed request.
// Secrets are redacted unless --show-secrets.
func printCurl(w io.Writer, req *http.Request, rr *resolvedRequest, o *RequestOptions) error {
	var b strings.Builder
	b.WriteString("curl")
	if req.Method != http.MethodGet || rr.body != nil && req.Method != http.MethodPost {
		b.WriteString(" -X " + shellQuote(req.Method))
	}
	u := req.URL.String()
	if !o.ShowSecrets {
		u = redact.URL(u)
	}
	b.WriteString(" " + shellQuote(u))
	if req.Host != "" && req.Host != req.URL.Host {
		b.WriteString(" -H " + shellQuote("Host: "+req.Host))
	}
	for _, k := range sortedKeys(req.Header) {
		for _, v := range req.Header[k] {
			if !o.ShowSecrets {
				v = redact.HeaderValue(k, v, rr.extraRed...)
			}
			b.WriteString(" \\\n  -H " + shellQuote(k+": "+v))
		}
	}
	if rr.body != nil {
		switch {
		case rr.body.path != "" && rr.body.label != "@-":
			b.WriteString(" \\\n  --data-binary " + shellQuote("@"+rr.body.path))
		case rr.body.inline != nil && isPrintable(rr.body.inline):
			b.WriteString(" \\\n  --data-binary " + shellQuote(string(rr.body.inline)))
		default:
			b.WriteString(" \\\n  --data-binary @- # body from stdin; it was spooled and is not shown")
		}
	}
	if o.Include {
		b.WriteString(" -i")
	}
	if o.Location {
		b.WriteString(" -L")
	}
	if o.Insecure {
		b.WriteString(" -k")
	}
	_, err := fmt.Fprintln(w, b.String())
	return err
}

func isPrintable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// writeRequest prints a signed request as it goes on the wire (HTTP/1.1
// form), for --offline and --print=HB: secrets redacted unless
// --show-secrets.
func writeRequest(w io.Writer, req *http.Request, rr *resolvedRequest, o *RequestOptions, headers, body bool) {
	if headers {
		u := req.URL.RequestURI()
		if !o.ShowSecrets {
			u = redact.URL(u)
		}
		fmt.Fprintf(w, "%s %s HTTP/1.1\r\n", req.Method, u)
		host := req.Host
		if host == "" {
			host = req.URL.Host
		}
		fmt.Fprintf(w, "Host: %s\r\n", host)
		for _, k := range sortedKeys(req.Header) {
			for _, v := range req.Header[k] {
				if !o.ShowSecrets {
					v = redact.HeaderValue(k, v, rr.extraRed...)
				}
				fmt.Fprintf(w, "%s: %s\r\n", k, v)
			}
		}
		if req.ContentLength > 0 && req.Header.Get("Content-Length") == "" {
			fmt.Fprintf(w, "Content-Length: %d\r\n", req.ContentLength)
		}
		fmt.Fprint(w, "\r\n")
	}
	if body && rr.body != nil {
		switch {
		case rr.body.inline != nil && isPrintable(rr.body.inline):
			w.Write(rr.body.inline) //nolint:errcheck
			fmt.Fprintln(w)
		case rr.body.path != "":
			fmt.Fprintf(w, "[%d bytes from %s]\n", rr.body.length, rr.body.path)
		default:
			fmt.Fprintf(w, "[%d bytes of binary data]\n", rr.body.length)
		}
	}
}
