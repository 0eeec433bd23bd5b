package cli

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"

	suggestpkg "github.com/gwcurl/gwcurl/internal/suggest"
)

// writeOutNames are the -w variables gwcurl knows, named and printed as
// curl does (curl 7.88: scheme upper case, http_version "1.1", "2").
var writeOutNames = []string{
	"auth_kind", "content_type", "errormsg", "exitcode", "header_json", "http_code", "http_version",
	"json", "method", "num_redirects", "num_retries", "redirect_url", "remote_addr", "remote_ip",
	"remote_port", "response_code", "scheme", "size_download", "size_header", "size_upload",
	"speed_download", "speed_upload", "time_appconnect", "time_connect", "time_namelookup",
	"time_starttransfer", "time_total", "url_effective",
}

// writeOutInput is what one transfer gives -w: the stats, the answer (nil
// when none came) and the outcome.
type writeOutInput struct {
	stats    *transferStats
	resp     *http.Response
	exitCode int
	errMsg   string
}

// writeOutVars are the -w variables of one transfer.
func writeOutVars(in writeOutInput) map[string]any {
	st := in.stats
	code, ct, version, scheme, redirect := 0, "", "", "", ""
	var sizeHeader int64
	headers := map[string][]string{}
	if in.resp != nil {
		code = in.resp.StatusCode
		ct = in.resp.Header.Get("Content-Type")
		version = strconv.Itoa(in.resp.ProtoMajor)
		if in.resp.ProtoMajor == 1 {
			version += "." + strconv.Itoa(in.resp.ProtoMinor)
		}
		sizeHeader = headerSize(in.resp)
		for k, v := range in.resp.Header {
			headers[strings.ToLower(k)] = v
		}
		if loc, err := in.resp.Location(); err == nil && code >= 300 && code < 400 {
			redirect = loc.String()
		}
		if in.resp.Request != nil {
			scheme = strings.ToUpper(in.resp.Request.URL.Scheme)
		}
	}
	ip, port, _ := net.SplitHostPort(st.remoteAddr)
	if port == "" {
		port = "0"
	}
	total := st.secs(st.end)
	speed := func(n int64) int64 {
		if total <= 0 {
			return 0
		}
		return int64(float64(n) / total)
	}
	return map[string]any{
		"http_code":          code,
		"response_code":      code,
		"http_version":       versionOr0(version),
		"scheme":             scheme,
		"time_total":         total,
		"time_namelookup":    st.secs(st.dnsDone),
		"time_connect":       st.secs(st.connectDone),
		"time_appconnect":    st.secs(st.tlsDone),
		"time_starttransfer": st.secs(st.firstByte),
		"size_download":      st.sizeDownload,
		"size_upload":        st.sizeUpload,
		"size_header":        sizeHeader,
		"speed_download":     speed(st.sizeDownload),
		"speed_upload":       speed(st.sizeUpload),
		"url_effective":      st.urlEffective,
		"redirect_url":       redirect,
		"method":             st.method,
		"content_type":       ct,
		"num_redirects":      st.redirects,
		"num_retries":        max(st.attempts-1, 0),
		"remote_addr":        st.remoteAddr,
		"remote_ip":          ip,
		"remote_port":        port,
		"exitcode":           in.exitCode,
		"errormsg":           in.errMsg,
		"auth_kind":          st.authKind,
		"header_json":        headerJSON(headers),
		"%header":            headers,
	}
}

func versionOr0(v string) string {
	if v == "" {
		return "0"
	}
	return v
}

// headerSize is the size of the response head as it came on the wire for
// HTTP/1 (status line, fields, CRLFs), which is what curl counts.
func headerSize(resp *http.Response) int64 {
	n := int64(len(resp.Proto) + 1 + len(resp.Status) + 2)
	for k, vs := range resp.Header {
		for _, v := range vs {
			n += int64(len(k) + 2 + len(v) + 2)
		}
	}
	return n + 2
}

// headerJSON is curl's %{header_json}: lower-case names, each with the list
// of its values.
func headerJSON(h map[string][]string) string {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("{")
	for i, k := range names {
		if i > 0 {
			b.WriteString(",\n")
		}
		kj, _ := json.Marshal(k)
		vj, _ := json.Marshal(h[k])
		b.Write(kj)
		b.WriteByte(':')
		b.Write(vj)
	}
	b.WriteString("\n}")
	return b.String()
}

// readWriteOut returns the -w format, reading @FILE.
func readWriteOut(format string) (string, error) {
	if !strings.HasPrefix(format, "@") {
		return format, nil
	}
	b, err := os.ReadFile(format[1:])
	if err != nil {
		return "", usagef("-w @FILE reads the format from FILE", "cannot read %s: %s", format[1:], shortPathErr(err))
	}
	return string(b), nil
}

// checkWriteOut validates a -w format before anything is sent, so a typo
// never costs a request (which a script would then retry).
func checkWriteOut(format string) (string, error) {
	format, err := readWriteOut(format)
	if err != nil {
		return "", err
	}
	known := map[string]bool{}
	for _, n := range writeOutNames {
		known[n] = true
	}
	_, err = renderWriteOut(format, func(name, arg string) (string, bool) {
		return "", name == "%header" || known[name]
	})
	return format, err
}

// expandWriteOut renders a -w format: %{var}, %header{name}, %{json}, %%,
// \n \t \r \\.
func expandWriteOut(format string, vars map[string]any) (string, error) {
	format, err := readWriteOut(format)
	if err != nil {
		return "", err
	}
	return renderWriteOut(format, func(name, arg string) (string, bool) {
		if name == "%header" {
			h, _ := vars["%header"].(map[string][]string)
			return strings.Join(h[strings.ToLower(arg)], ", "), true
		}
		if name == "json" {
			m := make(map[string]any, len(vars))
			for k, v := range vars {
				if k != "%header" && k != "header_json" {
					m[k] = v
				}
			}
			j, _ := json.Marshal(m)
			return string(j), true
		}
		v, ok := vars[name]
		if !ok {
			return "", false
		}
		if name == "http_code" || name == "response_code" {
			return fmt.Sprintf("%03d", v), true // 000 when no answer came, as curl prints it
		}
		switch x := v.(type) {
		case float64:
			return strconv.FormatFloat(x, 'f', 6, 64), true
		default:
			return fmt.Sprint(x), true
		}
	})
}

// renderWriteOut walks a format, asking value for each variable.
func renderWriteOut(format string, value func(name, arg string) (string, bool)) (string, error) {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		switch {
		case c == '\\' && i+1 < len(format):
			switch format[i+1] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '\\':
				b.WriteByte('\\')
			default:
				b.WriteByte(c)
				continue
			}
			i++
		case c == '%' && strings.HasPrefix(format[i:], "%%"):
			b.WriteByte('%')
			i++
		case c == '%' && (strings.HasPrefix(format[i:], "%{") || strings.HasPrefix(format[i:], "%header{")):
			open := strings.IndexByte(format[i:], '{')
			end := strings.IndexByte(format[i:], '}')
			if end < 0 {
				b.WriteString(format[i:])
				i = len(format)
				continue
			}
			name, arg := format[i+open+1:i+end], ""
			if open > 1 {
				name, arg = "%header", name
			}
			i += end
			v, ok := value(name, arg)
			if !ok {
				return "", usagef("known variables: "+strings.Join(writeOutNames, ", ")+", %header{NAME}"+suggest(name, writeOutNames),
					"unknown -w variable %%{%s}", name)
			}
			b.WriteString(v)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// suggest returns "; did you mean X?" for the closest of names, or "".
func suggest(s string, names []string) string {
	if best := suggestpkg.Closest(s, names); best != "" {
		return "; did you mean " + best + "?"
	}
	return ""
}
