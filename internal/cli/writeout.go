package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// writeOutVars are the -w variables, named as curl names them.
func writeOutVars(st *transferStats, code int, contentType string, exitCode int) map[string]any {
	return map[string]any{
		"http_code":          code,
		"response_code":      code,
		"time_total":         st.secs(st.end),
		"time_namelookup":    st.secs(st.dnsDone),
		"time_connect":       st.secs(st.connectDone),
		"time_appconnect":    st.secs(st.tlsDone),
		"time_starttransfer": st.secs(st.firstByte),
		"size_download":      st.sizeDownload,
		"size_upload":        st.sizeUpload,
		"url_effective":      st.urlEffective,
		"method":             st.method,
		"content_type":       contentType,
		"num_redirects":      st.redirects,
		"num_retries":        st.attempts - 1,
		"remote_addr":        st.remoteAddr,
		"exitcode":           exitCode,
		"auth_kind":          st.authKind,
	}
}

// expandWriteOut renders a -w format: %{var}, %{json}, %%, \n \t \r \\.
func expandWriteOut(format string, vars map[string]any) (string, error) {
	if strings.HasPrefix(format, "@") {
		b, err := os.ReadFile(format[1:])
		if err != nil {
			return "", usagef("-w @FILE reads the format from FILE", "cannot read %s: %s", format[1:], shortPathErr(err))
		}
		format = string(b)
	}
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
		case c == '%' && strings.HasPrefix(format[i:], "%{"):
			end := strings.IndexByte(format[i:], '}')
			if end < 0 {
				b.WriteString(format[i:])
				i = len(format)
				continue
			}
			name := format[i+2 : i+end]
			i += end
			if name == "json" {
				j, _ := json.Marshal(vars)
				b.Write(j)
				continue
			}
			v, ok := vars[name]
			if !ok {
				return "", usagef("known variables: http_code, time_total, time_connect, size_download, url_effective, method, auth_kind, json, ...", "unknown -w variable %%{%s}", name)
			}
			switch x := v.(type) {
			case float64:
				b.WriteString(strconv.FormatFloat(x, 'f', 6, 64))
			default:
				fmt.Fprint(&b, x)
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}
