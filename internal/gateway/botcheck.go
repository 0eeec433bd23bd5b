package gateway

// bot_check: a route verifies a Cloudflare Turnstile token with a
// siteverify call before its verifier runs, as a Worker in front of an
// origin does (docs/gateway.md, "Bot protection").

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gwcurl/gwcurl/internal/gateway/verify/turnstile"
)

// BotCheck is a route's bot protection.
type BotCheck struct {
	Kind string `yaml:"kind"` // turnstile
	// Secret is the widget's secret key: a reference (env:NAME, file:PATH)
	// or one of Cloudflare's published test secrets.
	Secret string `yaml:"secret"`
	// VerifyURL is the siteverify endpoint (default: the gateway's mock,
	// ${base_url}/_mock/turnstile/siteverify; Cloudflare's is
	// https://challenges.cloudflare.com/turnstile/v0/siteverify).
	VerifyURL string `yaml:"verify_url"`
}

const turnstileHeader = "Cf-Turnstile-Response"

var turnstileTestSecrets = map[string]bool{turnstile.SecretPass: true, turnstile.SecretFail: true, turnstile.SecretSpent: true}

// botCheck builds the middleware; errors name the route.
func (g *Gateway) botCheck(rc *Route, key string, x *expander) (Middleware, error) {
	bc := rc.BotCheck
	if bc == nil {
		return nil, nil
	}
	fail := func(sub, format string, args ...any) error {
		return &ConfigError{File: g.cfg.Source, Line: rc.line, Key: key + ".bot_check" + sub, Problem: "route " + rc.Prefix + ": " + fmt.Sprintf(format, args...)}
	}
	if bc.Kind != "turnstile" {
		return nil, fail(".kind", "unknown bot check %q (known: turnstile)", bc.Kind)
	}
	secret := bc.Secret
	switch {
	case secret == "":
		return nil, fail(".secret", "required (env:NAME, file:PATH, or a Turnstile test secret)")
	case turnstileTestSecrets[secret]:
	case strings.HasPrefix(secret, "env:"):
		if secret = g.getenv(strings.TrimPrefix(secret, "env:")); secret == "" {
			return nil, fail(".secret", "environment variable %s is not set", strings.TrimPrefix(bc.Secret, "env:"))
		}
	case strings.HasPrefix(secret, "file:"):
		p := strings.TrimPrefix(secret, "file:")
		if !filepath.IsAbs(p) && g.cfg.Source != demoSource {
			p = filepath.Join(filepath.Dir(g.cfg.Source), p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fail(".secret", "cannot read %s: %v", p, err)
		}
		if secret = strings.TrimSpace(string(b)); secret == "" {
			return nil, fail(".secret", "%s is empty", p)
		}
	default:
		return nil, fail(".secret", "must be a reference (env:NAME, file:PATH) or a Turnstile test secret, not the secret itself")
	}
	verifyURL := bc.VerifyURL
	if verifyURL == "" {
		if g.baseURL == "" {
			return nil, fail(".verify_url", "required when the gateway's base URL is unknown")
		}
		verifyURL = g.baseURL + turnstile.Prefix + "siteverify"
	}
	verifyURL, err := x.str(verifyURL, rc.line, key+".bot_check.verify_url")
	if err != nil {
		return nil, err
	}
	if u, err := url.Parse(verifyURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fail(".verify_url", "%q is not an http(s) URL", verifyURL)
	}
	client := &http.Client{Transport: g.newTransport(10 * time.Second), Timeout: 10 * time.Second}
	return func(next Handler) Handler {
		return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			tok, err := turnstileToken(r)
			if err != nil {
				return err
			}
			if tok == "" {
				return &HTTPError{Status: http.StatusForbidden, Decision: "bot_check",
					Reason: "turnstile: no token (send the widget's token in the cf-turnstile-response header or form field)"}
			}
			form := url.Values{"secret": {secret}, "response": {tok}}
			if st := stateOf(w); st != nil {
				form.Set("remoteip", st.client)
			}
			res, err := siteverify(r, client, verifyURL, form)
			if err != nil {
				return &HTTPError{Status: http.StatusServiceUnavailable, Decision: "bot_check_unavailable", Internal: true, Err: err,
					Reason: "turnstile: siteverify failed: " + err.Error()}
			}
			if !res.Success {
				return &HTTPError{Status: http.StatusForbidden, Decision: "bot_check",
					Reason: "turnstile: token refused (" + strings.Join(res.ErrorCodes, ", ") + ")"}
			}
			r.Header.Del(turnstileHeader)
			return next.ServeHTTP(w, r)
		})
	}, nil
}

// turnstileToken reads the token from the header or, for a form post,
// the cf-turnstile-response field (the body is put back for the origin).
func turnstileToken(r *http.Request) (string, error) {
	if v := r.Header.Get(turnstileHeader); v != "" {
		return v, nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if r.Method != http.MethodPost || mt != "application/x-www-form-urlencoded" || r.Body == nil {
		return "", nil
	}
	b, err := io.ReadAll(r.Body) // bounded by the route's body_limit
	if err != nil {
		return "", err
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	q, err := url.ParseQuery(string(b))
	if err != nil {
		return "", nil
	}
	return q.Get("cf-turnstile-response"), nil
}

func siteverify(r *http.Request, c *http.Client, endpoint string, form url.Values) (*turnstile.Result, error) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s", strings.ReplaceAll(err.Error(), form.Get("secret"), "[secret]"))
	}
	defer resp.Body.Close()
	var res turnstile.Result
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&res); err != nil {
		return nil, fmt.Errorf("answer %d is not siteverify JSON", resp.StatusCode)
	}
	return &res, nil
}
