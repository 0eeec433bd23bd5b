package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
)

// curl's flags with curl's meaning (docs/coming-from-curl.md).

// Data modes of the -d family, as curl reads them.
const (
	dataASCII     = "ascii"     // -d, --data, --data-ascii: @FILE with CR and LF stripped
	dataBinary    = "binary"    // --data-binary: @FILE byte for byte
	dataRaw       = "raw"       // --data-raw: no @ meaning
	dataURLEncode = "urlencode" // --data-urlencode: [name]=content, [name]@file, URL-encoded
)

type dataArg struct {
	mode  string
	value string
}

// dataFlag appends to the ordered -d list with its mode, so -d, --data-raw
// and --data-urlencode mix as curl joins them (with &).
type dataFlag struct {
	o    *RequestOptions
	mode string
}

func (d dataFlag) String() string { return "" }
func (d dataFlag) Type() string   { return "string" }
func (d dataFlag) Set(v string) error {
	d.o.dataArgs = append(d.o.dataArgs, dataArg{d.mode, v})
	d.o.Data = append(d.o.Data, v)
	return nil
}

// addCurlFlags registers curl's transfer flags beyond the core set.
func addCurlFlags(fl *pflag.FlagSet, o *RequestOptions) {
	fl.VarP(dataFlag{o, dataASCII}, "data", "d", "request body: DATA, @FILE (CR/LF stripped, as curl) or @- for stdin")
	fl.Var(dataFlag{o, dataASCII}, "data-ascii", "same as --data")
	fl.Var(dataFlag{o, dataBinary}, "data-binary", "request body: DATA or @FILE sent byte for byte")
	fl.Var(dataFlag{o, dataRaw}, "data-raw", "request body: DATA, with no @FILE meaning")
	fl.Var(dataFlag{o, dataURLEncode}, "data-urlencode", "URL-encoded body part: content, =content, name=content, @file or name@file")
	fl.BoolVarP(&o.Get, "get", "G", false, "send the -d data as the query string of a GET")
	fl.StringVarP(&o.User, "user", "u", "", "basic auth user:password (the password is asked for on a terminal when left out)")
	fl.StringVarP(&o.UserAgent, "user-agent", "A", "", "User-Agent to send")
	fl.StringVarP(&o.Referer, "referer", "e", "", "Referer to send")
	fl.StringVarP(&o.Range, "range", "r", "", "byte range to ask for, such as 0-499")
	fl.StringVarP(&o.UploadFile, "upload-file", "T", "", "PUT this file (streamed; - for stdin); a URL ending in / gets the file name")
	fl.BoolVarP(&o.RemoteName, "remote-name", "O", false, "write the body to a file named like the URL's last path segment")
	fl.BoolVarP(&o.RemoteHeaderName, "remote-header-name", "J", false, "with -O, use the file name of Content-Disposition")
	fl.StringArrayVar(&o.Resolve, "resolve", nil, "HOST:PORT:ADDR: connect to ADDR for HOST:PORT; repeatable")
	fl.BoolVar(&o.FormItems, "form-items", false, "send name=value items as a form (URL-encoded; multipart with name@file uploads), as httpie -f")
	fl.StringArrayVarP(&o.Form, "form", "F", nil, "multipart form part: name=value, name=@file[;type=T][;filename=N] or name=<file; repeatable")
	fl.StringArrayVarP(&o.Cookies, "cookie", "b", nil, `send cookies: "name=value; n2=v2", or a cookie file (Netscape format); repeatable`)
	fl.StringVarP(&o.CookieJar, "cookie-jar", "c", "", "write every cookie to this file after the transfer (Netscape format)")
	fl.StringVarP(&o.curlConfig, "config", "K", "", "read more options from FILE in curl's config syntax (- for stdin)")
	fl.BoolVar(&o.Offline, "offline", false, "print the request that would be sent, signed, without sending it (httpie)")
	fl.StringVar(&o.Print, "print", "", "what to print: H request headers, B request body, h response headers, b response body (httpie)")
	fl.BoolVar(&o.Download, "download", false, "save the body to a file named by the server or URL, with progress and a summary (httpie)")
	fl.BoolVarP(&o.ProgressBar, "progress-bar", "#", false, "show transfer progress on stderr, even when it is not a terminal")
	fl.BoolVar(&o.HTTP11, "http1.1", false, "use HTTP/1.1 only")
	fl.BoolVar(&o.HTTP2, "http2", false, "use HTTP/2 (over TLS; the default for https where the server offers it)")
}

// curlHeaders applies -A, -e, -r and -u to the request's headers, where the
// user did not set the header otherwise.
func (f *Factory) curlHeaders(o *RequestOptions, rr *resolvedRequest) error {
	set := func(name, v string) {
		if v != "" && rr.header.Get(name) == "" {
			rr.header.Set(name, v)
		}
	}
	var pairs []string
	for _, c := range o.Cookies {
		if h, _ := cookieArg(c); h != "" {
			pairs = append(pairs, h)
		}
	}
	set("Cookie", strings.Join(pairs, "; "))
	set("User-Agent", o.UserAgent)
	set("Referer", o.Referer)
	if o.Range != "" {
		set("Range", "bytes="+o.Range)
	}
	if o.User != "" {
		user, pass, ok := strings.Cut(o.User, ":")
		if !ok {
			if !f.IO.CanPrompt() {
				return usagef("pass -u USER:PASSWORD (or run it on a terminal to be asked)", "-u %s has no password and there is no terminal to ask on", user)
			}
			p, err := f.IO.ReadPassword(fmt.Sprintf("Enter host password for user '%s': ", user))
			if err != nil {
				return err
			}
			pass = p
		}
		r := &http.Request{Header: http.Header{}}
		r.SetBasicAuth(user, pass)
		set("Authorization", r.Header.Get("Authorization"))
	}
	return nil
}

// curlData builds the body of the -d family: each part read as its mode
// says, joined with & as curl does.
func curlData(args []dataArg, stdin io.Reader) (*bodySource, error) {
	if len(args) == 1 && args[0].mode == dataBinary {
		return dataBody(args[0].value, stdin) // streamed, never read whole
	}
	var buf bytes.Buffer
	for i, a := range args {
		if i > 0 {
			buf.WriteByte('&')
		}
		switch a.mode {
		case dataRaw:
			buf.WriteString(a.value)
		case dataURLEncode:
			part, err := urlencodePart(a.value, stdin)
			if err != nil {
				return nil, err
			}
			buf.WriteString(part)
		default:
			b, err := readDataArg(a.value, stdin)
			if err != nil {
				return nil, err
			}
			if a.mode == dataASCII && strings.HasPrefix(a.value, "@") {
				b = curlTextFile(b)
			}
			buf.Write(b)
		}
	}
	return bytesBody(buf.Bytes()), nil
}

// curlTextFile is what curl makes of a -d @FILE: it reads the file as
// text lines, each cut at its first CR (so CRLF and LF both go) and at a
// NUL byte, and joins them without newlines. For binary data, use
// --data-binary (or -T), which send the file byte for byte.
func curlTextFile(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if i := bytes.IndexByte(line, '\r'); i >= 0 {
			line = line[:i]
		}
		if i := bytes.IndexByte(line, 0); i >= 0 {
			line = line[:i]
		}
		out = append(out, line...)
	}
	return out
}

// readDataArg returns a -d value: literal data, or the contents of @FILE
// (@- is stdin).
func readDataArg(v string, stdin io.Reader) ([]byte, error) {
	name, ok := strings.CutPrefix(v, "@")
	if !ok {
		return []byte(v), nil
	}
	if name == "-" {
		if stdin == nil {
			return nil, nil
		}
		return io.ReadAll(stdin)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, usagef("-d @FILE reads the request body from FILE; use -d @- for stdin", "cannot read %s: %s", name, shortPathErr(err))
	}
	return b, nil
}

// urlencodePart is one --data-urlencode value, as curl reads it.
func urlencodePart(v string, stdin io.Reader) (string, error) {
	if i := strings.IndexAny(v, "=@"); i >= 0 {
		name := v[:i]
		if v[i] == '@' {
			b, err := readDataArg(v[i:], stdin)
			if err != nil {
				return "", err
			}
			return withName(name, url.QueryEscape(string(b))), nil
		}
		return withName(name, url.QueryEscape(v[i+1:])), nil
	}
	return url.QueryEscape(v), nil // curl 7.88 writes a space as +, as forms do
}

func withName(name, value string) string {
	if name == "" {
		return value
	}
	return name + "=" + value
}

// uploadBody is -T FILE: the file streamed (stdin spooled), PUT unless -X
// says otherwise, and the URL completed with the file name when it ends in /.
func uploadBody(o *RequestOptions, stdin io.Reader, u string) (*bodySource, string, error) {
	b, err := dataBody("@"+o.UploadFile, stdin)
	if err != nil {
		return nil, "", err
	}
	if strings.HasSuffix(u, "/") && o.UploadFile != "-" {
		u += pathEscapeSegment(filepath.Base(o.UploadFile))
	}
	return b, u, nil
}

func pathEscapeSegment(s string) string { return url.PathEscape(s) }

// remoteName is -O's file name: the URL's last path segment, or with -J
// the Content-Disposition filename (its base name only, never a path).
func remoteName(o *RequestOptions, reqURL string, resp *http.Response) (string, error) {
	if o.RemoteHeaderName && resp != nil {
		if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
			if n := safeBase(params["filename"]); n != "" {
				return n, nil
			}
		}
	}
	p := reqURL
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if i := strings.Index(p, "://"); i >= 0 {
		p = p[i+3:]
		if j := strings.IndexByte(p, '/'); j >= 0 {
			p = p[j:]
		} else {
			p = ""
		}
	}
	n := safeBase(path.Base(p))
	if n == "" || n == "/" || n == "." {
		return "", usagef("give -o FILE, or a URL that ends in a file name", "-O: the URL has no file name to use")
	}
	return n, nil
}

// safeBase keeps a server-chosen name inside the current directory.
func safeBase(n string) string {
	n = filepath.Base(strings.ReplaceAll(n, `\`, "/"))
	if n == "." || n == ".." || n == "/" || strings.HasPrefix(n, ".") && strings.Trim(n, ".") == "" {
		return ""
	}
	return n
}

// resolveDialer wraps a dial function with --resolve HOST:PORT:ADDR.
func resolveDialer(entries []string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) (func(ctx context.Context, network, addr string) (net.Conn, error), error) {
	m := map[string]string{}
	for _, e := range entries {
		host, rest, ok1 := strings.Cut(e, ":")
		port, addr, ok2 := strings.Cut(rest, ":")
		addr = strings.Trim(addr, "[]")
		if !ok1 || !ok2 || host == "" || port == "" || net.ParseIP(addr) == nil {
			return nil, usagef("--resolve takes HOST:PORT:ADDR, such as example.com:443:127.0.0.1", "invalid --resolve %q", e)
		}
		m[strings.ToLower(host)+":"+port] = net.JoinHostPort(addr, port)
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if to, ok := m[strings.ToLower(addr)]; ok {
			addr = to
		}
		return dial(ctx, network, addr)
	}, nil
}

// formPart is one part of a multipart form: a field, or a file.
type formPart struct {
	name, value string
	file        string // read the part from this file (- is stdin)
	upload      bool   // a file part (filename and type); else a text field
	ctype       string
	fname       string
}

// formBody is -F/--form: a multipart/form-data body, as curl builds it.
// Each value is name=value, name=@file (a file part), or name=<file (a text
// field read from a file), with ;type= and ;filename= options.
func formBody(forms []string, stdin io.Reader) (*bodySource, string, error) {
	var parts []formPart
	for _, f := range forms {
		name, val, ok := strings.Cut(f, "=")
		if !ok || name == "" {
			return nil, "", usagef("-F takes name=value, name=@file or name=<file", "invalid -F %q", f)
		}
		p := formPart{name: name, value: val}
		if strings.HasPrefix(val, "@") || strings.HasPrefix(val, "<") {
			opts := strings.Split(val, ";")
			p.file, p.upload = opts[0][1:], val[0] == '@'
			for _, o := range opts[1:] {
				k, v, _ := strings.Cut(strings.TrimSpace(o), "=")
				switch strings.ToLower(k) {
				case "type":
					p.ctype = v
				case "filename":
					p.fname = strings.Trim(v, `"`)
				default:
					return nil, "", usagef("-F options are ;type=TYPE and ;filename=NAME", "unknown -F option %q", o)
				}
			}
		}
		parts = append(parts, p)
	}
	return multipartBody(parts, stdin)
}

// multipartBody builds a multipart/form-data body in memory (as curl's own
// -F reads its files), so signers and retries can re-read it; large
// uploads go with -T or --data-binary.
func multipartBody(parts []formPart, stdin io.Reader) (*bodySource, string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		val := []byte(p.value)
		if p.file != "" {
			b, err := readDataArg("@"+p.file, stdin)
			if err != nil {
				return nil, "", err
			}
			val = b
		}
		h := textproto.MIMEHeader{}
		if p.upload {
			fname := p.fname
			if fname == "" {
				fname = filepath.Base(p.file)
			}
			ctype := p.ctype
			if ctype == "" {
				ctype = curlContentType(fname)
			}
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`, formEscape(p.name), formEscape(fname)))
			h.Set("Content-Type", ctype)
		} else {
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"`, formEscape(p.name)))
			if p.ctype != "" {
				h.Set("Content-Type", p.ctype)
			}
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			return nil, "", err
		}
		w.Write(val) //nolint:errcheck // a bytes.Buffer
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return bytesBody(buf.Bytes()), mw.FormDataContentType(), nil
}

// itemsForm is the body of httpie's form mode (--form-items, or any
// name@file upload item): URL-encoded fields, or multipart with uploads.
func itemsForm(items []item, stdin io.Reader) (*bodySource, string, error) {
	var parts []formPart
	for _, it := range items {
		switch it.kind {
		case itemField:
			parts = append(parts, formPart{name: it.key, value: it.value})
		case itemFileField:
			parts = append(parts, formPart{name: it.key, file: it.value})
		case itemUpload:
			parts = append(parts, formPart{name: it.key, file: it.value, upload: true})
		case itemRawJSON, itemRawJSONFile:
			return nil, "", usagef("raw JSON items (name:=json) need a JSON body: drop --form-items and file uploads", "item %s:= in a form", it.key)
		}
	}
	if hasUpload(items) {
		return multipartBody(parts, stdin)
	}
	var b strings.Builder
	for i, p := range parts {
		v := []byte(p.value)
		if p.file != "" {
			var err error
			if v, err = readDataArg("@"+p.file, stdin); err != nil {
				return nil, "", err
			}
		}
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(p.name) + "=" + url.QueryEscape(string(v)))
	}
	return bytesBody([]byte(b.String())), "application/x-www-form-urlencoded", nil
}

func formEscape(s string) string {
	return strings.NewReplacer(`"`, `\"`, "\r", "", "\n", "").Replace(s)
}

// curlContentType is the type curl gives a file part by its extension.
func curlContentType(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".gif":
		return "image/gif"
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".png":
		return "image/png"
	case ".svg":
		return "image/svg+xml"
	case ".txt":
		return "text/plain"
	case ".htm", ".html":
		return "text/html"
	case ".pdf":
		return "application/pdf"
	case ".xml":
		return "application/xml"
	}
	return "application/octet-stream"
}

func (o *RequestOptions) printResponseHeaders() bool { return strings.Contains(o.Print, "h") }
func (o *RequestOptions) printResponseBody() bool {
	return o.Print == "" || strings.Contains(o.Print, "b")
}

// checkPrint validates --print before anything is sent.
func checkPrint(p string) error {
	if strings.Trim(p, "HBhb") != "" {
		return usagef("--print takes the letters H, B, h and b (request headers and body, response headers and body)", "invalid --print %q", p)
	}
	return nil
}
