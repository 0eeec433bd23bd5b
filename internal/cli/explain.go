package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/gwcurl/gwcurl/internal/explain"
	"github.com/gwcurl/gwcurl/internal/sign"
)

// explainRecorder remembers what the last attempt sent, for --explain.
type explainRecorder struct {
	mu     sync.Mutex
	header http.Header
	at     time.Time
	sigv4  *sign.SigV4Info
}

func (e *explainRecorder) sent(r *http.Request) {
	e.mu.Lock()
	e.header, e.at = r.Header.Clone(), time.Now()
	e.mu.Unlock()
}

func (e *explainRecorder) onSigV4(info sign.SigV4Info) {
	e.mu.Lock()
	e.sigv4 = &info
	e.mu.Unlock()
}

// diagnose prints the likely cause of a non-2xx answer on stderr.
func (f *Factory) diagnose(rec *explainRecorder, rr *resolvedRequest, resp *http.Response, body []byte) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	s := explain.Sent{
		Method:   rr.method,
		URL:      resp.Request.URL.String(),
		AuthKind: kindOrNone(rr.auth.Kind),
		Header:   rec.header,
		SignedAt: rec.at,
		Origin:   rr.header.Get("Origin"),
	}
	if rec.sigv4 != nil {
		s.CanonicalRequest, s.StringToSign = rec.sigv4.CanonicalRequest, rec.sigv4.StringToSign
		s.Region, s.Service = rec.sigv4.Region, rec.sigv4.Service
		if !rec.sigv4.Time.IsZero() {
			s.SignedAt = rec.sigv4.Time
		}
	}
	if rec.header != nil {
		for _, h := range []string{"Authorization", "X-Serverless-Authorization", "Cf-Access-Token"} {
			if v := rec.header.Get(h); v != "" && !strings.HasPrefix(v, "AWS4-") {
				s.Token = strings.TrimPrefix(v, "Bearer ")
				break
			}
		}
	}
	fs := explain.Diagnose(s, explain.Received{Status: resp.StatusCode, Header: resp.Header, Body: body, At: time.Now()})
	if len(fs) == 0 {
		fmt.Fprintf(f.IO.ErrOut, "gwcurl: explain: HTTP %s, and nothing in the answer names a cause; try -v\n", resp.Status)
		return
	}
	explain.Render(f.IO.ErrOut, fs, f.IO.ColorErr())
}

func newCmdExplain(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "explain [TOKEN|-]",
		Short: "Decode a JWT, an STS identity header or an AWS error body, offline",
		Long: doc(`
			Say what a pasted credential or error means, without the network: a JWT
			(header, claims, expiry in words, issuer hints), an STS identity header
			(format, access key, region, expiry, action), a SigV4 Authorization header
			or pre-signed URL, an AWS / gateway error body, or a whole answer as
			` + "`curl -i`" + ` prints it (HTTP/1.1, HTTP/2 or HTTP/3: status line, headers
			and body), which is explained as --explain would. "-" (or no argument)
			reads stdin. Secrets in the input are never printed back.
		`),
		Example: doc(`
			$ gwcurl explain eyJhbGciOiJSUzI1NiIs...
			$ gwcurl token -p run | gwcurl explain
			$ pbpaste | gwcurl explain -        # an AWS error body from a log
			$ curl -si https://api.example.com/orders | gwcurl explain -
		`),
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			input := ""
			if len(args) == 1 && args[0] != "-" {
				input = args[0]
			} else {
				b, err := io.ReadAll(io.LimitReader(f.IO.In, 1<<20))
				if err != nil {
					return err
				}
				input = string(b)
			}
			if strings.TrimSpace(input) == "" {
				return usagef("pass a token or error body, or pipe one in: gwcurl token -p P | gwcurl explain", "nothing to explain")
			}
			rep, err := explain.Decode(strings.TrimSpace(input), f.Now())
			if err != nil {
				return &UsageError{Err: err, Hint: "gwcurl explain understands JWTs, STS identity headers, SigV4 headers and URLs, AWS or gateway error bodies, and curl -i output"}
			}
			if asJSON {
				enc := json.NewEncoder(f.IO.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"kind": rep.Kind, "fields": rep.Fields})
			}
			st := f.IO.OutStyles()
			fmt.Fprintln(f.IO.Out, st.Bold.Render(rep.Kind))
			for _, l := range rep.Lines {
				fmt.Fprintln(f.IO.Out, l)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
