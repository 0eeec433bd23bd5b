package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/net/http/httpproxy"

	"github.com/gwcurl/gwcurl/internal/profiles"
	"github.com/gwcurl/gwcurl/internal/runfile"
	"github.com/gwcurl/gwcurl/internal/sign"
)

// RequestOptions are the request command's inputs after flag parsing.
type RequestOptions struct {
	Profile string

	Method   string
	Headers  []string
	Data     []string  // every -d family value, in order (dataArgs has their modes)
	dataArgs []dataArg // -d, --data-binary, --data-raw, --data-urlencode

	Get              bool
	User             string
	UserAgent        string
	Referer          string
	Range            string
	UploadFile       string
	RemoteName       bool
	RemoteHeaderName bool
	Resolve          []string
	Cookies          []string
	Form             []string
	FormItems        bool
	Offline          bool
	Print            string
	Download         bool
	ProgressBar      bool
	curlConfig       string // -K: expanded before parsing (curlconfig.go)
	CookieJar        string
	HTTP11           bool
	HTTP2            bool

	JSON       string
	jsonSet    bool
	Include    bool
	Head       bool
	Output     string
	Silent     bool
	ShowError  bool
	Fail       bool
	FailBody   bool
	Verbose    bool
	MaxTime    float64
	ConnectTO  float64
	Retry      int
	RetryAll   bool
	RetryDelay float64
	Location   bool
	MaxRedirs  int
	Compressed bool
	Insecure   bool
	CACert     string
	WriteOut   string
	Proxy      string

	Auth             string
	AWSProfile       string
	Region           string
	Service          string
	UnsignedPayload  bool
	NoSkewCorrection bool
	SigV4a           bool
	Payload          string // --payload: hash, unsigned, streaming
	Checksum         string // --checksum: crc32, sha256
	Audience         string
	Impersonate      string
	GoogleCreds      string
	CFClientID       string
	IdentityHeader   string
	IdentityFormat   string
	IdentityServer   string

	PrintCurl    bool
	ShowSecrets  bool
	Explain      bool
	ExpectStatus string
	ExpectJQ     string

	Args []string

	cfSecretFlag string // set only to refuse it
}

func addRequestFlags(cmd *cobra.Command, o *RequestOptions) {
	fl := cmd.Flags()
	fl.StringVarP(&o.Method, "request", "X", "", "HTTP method to use")
	fl.StringArrayVarP(&o.Headers, "header", "H", nil, `extra header "Name: value" ("Name:" removes it); repeatable`)
	addCurlFlags(fl, o)
	fl.StringVar(&o.JSON, "json", "", "JSON body (DATA, @FILE or @-), with JSON Content-Type and Accept")
	fl.BoolVarP(&o.Include, "include", "i", false, "include the response status and headers in the output")
	fl.BoolVarP(&o.Head, "head", "I", false, "send HEAD and print the response headers")
	fl.StringVarP(&o.Output, "output", "o", "", "write the body to FILE instead of stdout (- forces stdout)")
	fl.BoolVarP(&o.Silent, "silent", "s", false, "silent: no status line, progress or error messages")
	fl.BoolVarP(&o.ShowError, "show-error", "S", false, "with -s, still show errors")
	fl.BoolVarP(&o.Fail, "fail", "f", false, "fail (exit 22) on HTTP status >= 400, without printing the body")
	fl.BoolVar(&o.FailBody, "fail-with-body", false, "fail (exit 22) on HTTP status >= 400, printing the body")
	fl.BoolVarP(&o.Verbose, "verbose", "v", false, "trace the request, signing and response on stderr (secrets redacted)")
	fl.Float64VarP(&o.MaxTime, "max-time", "m", 0, "maximum time in seconds for the whole operation")
	fl.Float64Var(&o.ConnectTO, "connect-timeout", 0, "maximum time in seconds to connect")
	fl.IntVar(&o.Retry, "retry", 0, "retry N times on connection errors, 429, 502, 503, 504 (idempotent methods)")
	fl.BoolVar(&o.RetryAll, "retry-all", false, "with --retry, also retry non-idempotent methods")
	fl.Float64Var(&o.RetryDelay, "retry-delay", 0, "seconds between retries (default: exponential from 1s, or Retry-After)")
	fl.BoolVarP(&o.Location, "location", "L", false, "follow redirects (credentials never go to another host)")
	fl.IntVar(&o.MaxRedirs, "max-redirs", 50, "maximum redirects to follow with -L")
	fl.BoolVar(&o.Compressed, "compressed", false, "ask for a compressed answer (gzip, deflate) and decode it")
	fl.BoolVarP(&o.Insecure, "insecure", "k", false, "do not verify the server's TLS certificate")
	fl.StringVar(&o.CACert, "cacert", "", "PEM file of CA certificates to verify the server with")
	fl.StringVarP(&o.WriteOut, "write-out", "w", "", "print FORMAT after the transfer (%{http_code}, %{time_total}, %{json}, ...; @FILE)")
	fl.StringVarP(&o.Proxy, "proxy", "x", "", "use this proxy (default: the *_PROXY environment variables)")

	addAuthFlags(fl, o)

	fl.BoolVar(&o.PrintCurl, "print-curl", false, "print an equivalent, signed curl command instead of sending")
	fl.BoolVar(&o.ShowSecrets, "show-secrets", false, "with --print-curl, show secrets instead of redacting them")
	fl.BoolVar(&o.Explain, "explain", false, "when the answer is not 2xx, explain the likely cause")
	fl.StringVar(&o.ExpectStatus, "expect-status", "", "fail (exit 1) unless the status is one of CODE[,CODE]")
	fl.StringVar(&o.ExpectJQ, "expect-jq", "", "fail (exit 1) unless the jq expression is true for the JSON body")
}

// addAuthFlags adds the per-kind auth flags that a request, ws, token and
// whoami accept alike.
func addAuthFlags(fl *pflag.FlagSet, o *RequestOptions) {
	fl.StringVar(&o.Auth, "auth", "", "auth kind, overriding the profile's: "+strings.Join(profiles.Kinds, ", "))
	fl.StringVar(&o.AWSProfile, "aws-profile", "", "AWS shared-config profile (sigv4, sts-identity)")
	fl.StringVar(&o.Region, "region", "", "AWS region to sign for (default: inferred from the host)")
	fl.StringVar(&o.Service, "service", "", "AWS service to sign for (default: inferred from the host)")
	fl.BoolVar(&o.UnsignedPayload, "unsigned-payload", false, "sign with UNSIGNED-PAYLOAD (only where the service allows it)")
	fl.StringVar(&o.Payload, "payload", "", "SigV4 payload signing: hash, unsigned or streaming (default: streaming for S3 uploads over 8 MiB, else hash)")
	fl.StringVar(&o.Checksum, "checksum", "", "S3 upload with an x-amz-checksum-ALG trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER): crc32 or sha256")
	fl.BoolVar(&o.SigV4a, "sigv4a", false, "sign with SigV4a (ECDSA, multi-region): --region is a region set, '*' or a list")
	fl.BoolVar(&o.NoSkewCorrection, "no-skew-correction", false, "do not re-sign with the server's clock when a SigV4 request is refused for its time")
	fl.StringVar(&o.Audience, "audience", "", "Google ID token audience (default: the URL's origin)")
	fl.StringVar(&o.Impersonate, "impersonate-service-account", "", "mint the Google ID token as this service account")
	fl.StringVar(&o.GoogleCreds, "google-credentials", "", "Google credentials JSON file")
	fl.StringVar(&o.CFClientID, "cf-client-id", "", "Cloudflare Access service token client id (secret from CF_ACCESS_CLIENT_SECRET or the profile)")
	fl.StringVar(&o.cfSecretFlag, "cf-client-secret", "", "refused: a secret never goes on the command line")
	fl.MarkHidden("cf-client-secret") //nolint:errcheck // the flag exists
	fl.StringVar(&o.IdentityHeader, "identity-header", "", "STS identity header name (default X-Fluid-Identity)")
	fl.StringVar(&o.IdentityFormat, "identity-format", "", "STS identity format: url, vault or k8s")
	fl.StringVar(&o.IdentityServer, "identity-server-id", "", "server id signed into the STS identity proof")
}

// authOverrides applies the per-kind flags (highest precedence) to a.
func (o *RequestOptions) authOverrides(a *profiles.Auth) error {
	if o.cfSecretFlag != "" {
		return &UsageError{Err: errors.New("--cf-client-secret is not accepted: a secret on the command line ends up in shell history and process lists"),
			Hint: "set CF_ACCESS_CLIENT_SECRET, or give the profile client_secret: env:NAME (or store it with `gwcurl profiles add NAME --client-secret -`)"}
	}
	if o.Auth != "" {
		if o.Auth != a.Kind {
			// A different kind: start from an empty block so the profile's
			// fields for another kind do not leak in.
			*a = profiles.Auth{Kind: o.Auth}
		}
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&a.AWSProfile, o.AWSProfile)
	set(&a.Region, o.Region)
	set(&a.Service, o.Service)
	if o.UnsignedPayload {
		a.UnsignedPayload = true
	}
	if o.SigV4a {
		a.Algorithm = "sigv4a"
	}
	if o.Payload != "" {
		if !slices.Contains(sign.PayloadModes, o.Payload) {
			return &UsageError{Err: fmt.Errorf("--payload %q is not a payload mode", o.Payload),
				Hint: "use --payload hash, unsigned or streaming"}
		}
		if o.UnsignedPayload && o.Payload != sign.PayloadUnsigned {
			return &UsageError{Err: fmt.Errorf("--payload %s contradicts --unsigned-payload", o.Payload), Hint: "keep one of them"}
		}
		a.Payload = o.Payload
		if o.Payload == sign.PayloadUnsigned {
			a.UnsignedPayload = true
		}
	}
	if o.Checksum != "" {
		if !slices.Contains(sign.ChecksumAlgorithms, o.Checksum) {
			return &UsageError{Err: fmt.Errorf("--checksum %q is not a checksum algorithm", o.Checksum), Hint: "use --checksum crc32 or sha256"}
		}
		if o.Payload != "" || o.UnsignedPayload {
			return &UsageError{Err: errors.New("--checksum chooses the payload signing itself (STREAMING-UNSIGNED-PAYLOAD-TRAILER)"), Hint: "drop --payload / --unsigned-payload"}
		}
		a.Checksum = o.Checksum
	}
	set(&a.Audience, o.Audience)
	set(&a.Impersonate, o.Impersonate)
	set(&a.Credentials, o.GoogleCreds)
	if o.CFClientID != "" {
		a.ClientID = o.CFClientID
	}
	if o.IdentityHeader != "" {
		a.Header = o.IdentityHeader
	}
	set(&a.Format, o.IdentityFormat)
	set(&a.ServerID, o.IdentityServer)
	return a.Validate()
}

// buildTransport makes the base HTTP transport for one command: proxy from
// --proxy or the environment, TLS options, connect timeout. Compression is
// off so stdout is the body exactly as the server sent it, as with curl.
func (f *Factory) buildTransport(o *RequestOptions) (*http.Transport, error) {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if o.ConnectTO > 0 {
		dialer.Timeout = time.Duration(o.ConnectTO * float64(time.Second))
	}
	if o.HTTP11 && o.HTTP2 {
		return nil, usagef("pick one", "--http1.1 and --http2 are mutually exclusive")
	}
	dial := dialer.DialContext
	if len(o.Resolve) > 0 {
		var err error
		if dial, err = resolveDialer(o.Resolve, dial); err != nil {
			return nil, err
		}
	}
	t := &http.Transport{
		DialContext:           bulkDial(dial),
		ForceAttemptHTTP2:     !o.HTTP11,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
		DisableCompression:    true,
		// Large uploads: the default 4 KiB write buffer costs a syscall per
		// 4 KiB; 256 KiB lets --data-binary @file and -T stream at disk speed.
		WriteBufferSize: 256 << 10,
		ReadBufferSize:  64 << 10,
	}
	if o.Proxy != "" {
		pu, err := url.Parse(o.Proxy)
		if err != nil || pu.Host == "" {
			if pu2, err2 := url.Parse("http://" + o.Proxy); err2 == nil && pu2.Host != "" {
				pu = pu2
			} else {
				return nil, usagef("--proxy takes a URL such as http://proxy:3128", "invalid proxy %q", o.Proxy)
			}
		}
		t.Proxy = http.ProxyURL(pu)
	} else {
		cfg := httpproxy.Config{
			HTTPProxy:  firstEnv(f.Getenv, "HTTP_PROXY", "http_proxy"),
			HTTPSProxy: firstEnv(f.Getenv, "HTTPS_PROXY", "https_proxy"),
			NoProxy:    firstEnv(f.Getenv, "NO_PROXY", "no_proxy"),
		}
		if cfg.HTTPProxy != "" || cfg.HTTPSProxy != "" {
			pf := cfg.ProxyFunc()
			t.Proxy = func(r *http.Request) (*url.URL, error) { return pf(r.URL) }
		}
	}
	if o.Insecure || o.CACert != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if o.Insecure {
			tc.InsecureSkipVerify = true //nolint:gosec // the user asked with -k
		}
		if o.CACert != "" {
			pem, err := os.ReadFile(o.CACert)
			if err != nil {
				return nil, &ExitError{Code: ExitCAFile, Err: fmt.Errorf("cannot read CA file %s: %s", o.CACert, shortPathErr(err)), Hint: "--cacert takes a PEM file"}
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, &ExitError{Code: ExitCAFile, Err: fmt.Errorf("no certificates found in %s", o.CACert), Hint: "--cacert takes a PEM file"}
			}
			tc.RootCAs = pool
		}
		t.TLSClientConfig = tc
	}
	if o.HTTP11 {
		t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{} // no h2 in ALPN
	}
	return t, nil
}

func firstEnv(getenv func(string) string, keys ...string) string {
	for _, k := range keys {
		if v := getenv(k); v != "" {
			return v
		}
	}
	return ""
}

// resolvedRequest is everything decided before sending.
type resolvedRequest struct {
	method   string
	url      *url.URL
	header   http.Header
	body     *bodySource
	profile  *profiles.Profile // nil for an ad-hoc request
	auth     profiles.Auth
	cfgPath  string
	extraRed []string // extra header names to redact (identity header)
	noSkew   bool     // --no-skew-correction
}

// mentionsHeader reports whether the profile, -H or an item sets or
// removes the header name.
func mentionsHeader(flags []string, items []item, p *profiles.Profile, name string) bool {
	if p != nil {
		for k := range p.Headers {
			if strings.EqualFold(k, name) {
				return true
			}
		}
	}
	for _, h := range flags {
		if n, _, _, err := parseHeaderFlag(h); err == nil && strings.EqualFold(n, name) {
			return true
		}
	}
	for _, it := range items {
		if it.kind == itemHeader && strings.EqualFold(it.key, name) {
			return true
		}
	}
	return false
}

func firstOr(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// checkCommandTypo refuses a first argument that looks like a mistyped
// subcommand (`gwcurl whomai`) instead of requesting http://whomai/: a
// bare word, no dot, colon or slash, close to a command's name.
func checkCommandTypo(root *cobra.Command, word string) error {
	if word == "" || word == "localhost" || strings.ContainsAny(word, ".:/[@") {
		return nil
	}
	if _, ok := methodArg(word); ok {
		return nil
	}
	var names []string
	for _, c := range root.Commands() {
		if c.IsAvailableCommand() || c.Name() == "help" {
			names = append(names, c.Name())
			names = append(names, c.Aliases...)
		}
	}
	if s := suggest(word, names); s != "" {
		return usagef("run `gwcurl --help` for the commands; to request the host, write http://"+word+"/",
			"unknown command %q%s", word, s)
	}
	return nil
}

// resolve turns arguments, flags and the profile into a request.
func (f *Factory) resolve(ctx context.Context, o *RequestOptions) (*resolvedRequest, error) {
	method, rawURL, items, err := parseRequestArgs(o.Args)
	if err != nil {
		return nil, err
	}
	rr := &resolvedRequest{header: http.Header{}}
	if err := f.requestProfile(rr, o, strings.HasPrefix(rawURL, "/")); err != nil {
		return nil, err
	}
	if rr.url, err = requestURL(rawURL, rr.profile, items); err != nil {
		return nil, err
	}
	if err := requestHeaders(rr, o, items); err != nil {
		return nil, err
	}
	if err := f.requestBody(rr, o, items); err != nil {
		return nil, err
	}
	if err := f.curlHeaders(o, rr); err != nil {
		rr.body.Close()
		return nil, err
	}
	// Accept: */* as curl sends, unless JSON was asked for or the user
	// set or removed it; --compressed asks for gzip and deflate.
	if rr.header.Get("Accept") == "" && !mentionsHeader(o.Headers, items, rr.profile, "Accept") {
		rr.header.Set("Accept", "*/*")
	}
	if o.Compressed && rr.header.Get("Accept-Encoding") == "" && !mentionsHeader(o.Headers, items, rr.profile, "Accept-Encoding") {
		rr.header.Set("Accept-Encoding", "gzip, deflate")
	}
	rr.method = requestMethod(o, method, rr.body != nil)
	if err := f.requestAuth(rr, o); err != nil {
		rr.body.Close()
		return nil, err
	}
	return rr, nil
}

// parseRequestArgs splits [METHOD] URL [ITEM...] and checks every item.
func parseRequestArgs(args []string) (method, rawURL string, items []item, err error) {
	if m, ok := methodArg(firstOr(args)); ok && len(args) > 1 {
		method, args = m, args[1:]
	} else if ok && runfile.IsMethod(args[0]) {
		return "", "", nil, usagef("usage: gwcurl [flags] [METHOD] URL [ITEM...]", "missing URL after method %s", args[0])
	}
	if len(args) == 0 {
		return "", "", nil, usagef("usage: gwcurl [flags] [METHOD] URL [ITEM...]; see gwcurl --help", "no URL given")
	}
	items, err = validateItems(args[1:])
	return method, args[0], items, err
}

// requestProfile selects the profile: -p > GWCURL_PROFILE > the config's
// current (only for paths, or absolute URLs under the current profile's
// base_url).
func (f *Factory) requestProfile(rr *resolvedRequest, o *RequestOptions, isPath bool) error {
	name := o.Profile
	if name == "" {
		name = f.Getenv("GWCURL_PROFILE")
	}
	explicit := name != ""
	if !explicit && !isPath {
		return nil
	}
	file, err := f.configFile()
	if err != nil {
		return err
	}
	rr.cfgPath = file.Path
	if !explicit {
		name = file.Config.Current
	}
	if name != "" {
		if rr.profile, err = file.Config.Get(name); err != nil {
			return err
		}
	}
	return nil
}

// requestURL is the URL to send to: a /path joined to the profile's
// base_url or an absolute URL (http:// when no scheme is given, as curl
// does), with the query items appended.
func requestURL(rawURL string, p *profiles.Profile, items []item) (*url.URL, error) {
	var u *url.URL
	var err error
	if strings.HasPrefix(rawURL, "/") {
		if p == nil || p.BaseURL == "" {
			hint := "give an absolute URL, or select a profile with a base_url (-p NAME, GWCURL_PROFILE, or `gwcurl profiles use NAME`)"
			if p != nil {
				hint = fmt.Sprintf("set base_url for profile %q, or give an absolute URL", p.Name)
				return nil, usagef(hint, "path %s needs a base_url, and profile %q has none", rawURL, p.Name)
			}
			return nil, usagef(hint, "path %s needs a base_url, and no profile is selected", rawURL)
		}
		u, err = url.Parse(strings.TrimRight(p.BaseURL, "/") + rawURL)
	} else {
		if !strings.Contains(rawURL, "://") {
			rawURL = "http://" + rawURL
		}
		u, err = url.Parse(rawURL)
	}
	if err != nil || u.Host == "" {
		return nil, &ExitError{Code: ExitURL, Err: fmt.Errorf("malformed URL %q", rawURL), Hint: "URLs look like https://host/path, or /path with a profile's base_url"}
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, usagef("gwcurl speaks http and https", "unsupported URL scheme %q", u.Scheme)
	}
	var qs []string
	for _, it := range items {
		if it.kind == itemQuery {
			qs = append(qs, runfile.QueryEscape(it.key)+"="+runfile.QueryEscape(it.value))
		}
	}
	appendQuery(u, strings.Join(qs, "&"))
	return u, nil
}

func appendQuery(u *url.URL, q string) {
	if q == "" {
		return
	}
	if u.RawQuery != "" {
		u.RawQuery += "&"
	}
	u.RawQuery += q
}

// requestHeaders applies the headers: profile < -H < header items.
func requestHeaders(rr *resolvedRequest, o *RequestOptions, items []item) error {
	if rr.profile != nil {
		for k, v := range rr.profile.Headers {
			rr.header.Set(k, v)
		}
	}
	for _, h := range o.Headers {
		n, v, rm, err := parseHeaderFlag(h)
		if err != nil {
			return err
		}
		applyHeader(rr.header, n, v, rm)
	}
	for _, it := range items {
		if it.kind == itemHeader {
			applyHeader(rr.header, it.key, strings.TrimSpace(it.value), it.value == "")
		}
	}
	return nil
}

// setDefault sets a header the user did not set.
func setDefault(h http.Header, name, value string) {
	if h.Get(name) == "" {
		h.Set(name, value)
	}
}

// requestBody builds the body from the one source given: -d (or -G's
// query), -F, -T, --json, or the items (JSON, or a form).
func (f *Factory) requestBody(rr *resolvedRequest, o *RequestOptions, items []item) error {
	nJSON := countJSON(items)
	sources := 0
	for _, n := range []bool{len(o.Data) > 0 && !o.Get, o.jsonSet, nJSON > 0, o.UploadFile != "", len(o.Form) > 0} {
		if n {
			sources++
		}
	}
	if sources > 1 {
		return usagef("use one of -d, -F, -T, --json or JSON items (name=value)", "more than one request body given")
	}
	var err error
	var ctype string
	switch {
	case len(o.dataArgs) > 0 && o.Get:
		// -G: the data becomes the query string of a GET, as curl does.
		b, err := curlData(o.dataArgs, f.IO.In)
		if err != nil {
			return err
		}
		appendQuery(rr.url, string(b.inline))
	case len(o.dataArgs) > 0:
		if rr.body, err = curlData(o.dataArgs, f.IO.In); err != nil {
			return err
		}
		setDefault(rr.header, "Content-Type", "application/x-www-form-urlencoded")
	case len(o.Form) > 0:
		if rr.body, ctype, err = formBody(o.Form, f.IO.In); err != nil {
			return err
		}
		setDefault(rr.header, "Content-Type", ctype)
	case o.UploadFile != "":
		var target string
		if rr.body, target, err = uploadBody(o, f.IO.In, rr.url.String()); err != nil {
			return err
		}
		if target != rr.url.String() {
			if rr.url, err = url.Parse(target); err != nil {
				return usagef("", "invalid URL %q", target)
			}
		}
	case o.jsonSet:
		if rr.body, err = dataBody(o.JSON, f.IO.In); err != nil {
			return err
		}
		setDefault(rr.header, "Content-Type", "application/json")
		setDefault(rr.header, "Accept", "application/json")
	case nJSON > 0 && (o.FormItems || hasUpload(items)):
		if rr.body, ctype, err = itemsForm(items, f.IO.In); err != nil {
			return err
		}
		setDefault(rr.header, "Content-Type", ctype)
	case nJSON > 0:
		b, err := jsonBody(items)
		if err != nil {
			return err
		}
		rr.body = bytesBody(b)
		setDefault(rr.header, "Content-Type", "application/json")
		setDefault(rr.header, "Accept", "application/json, */*;q=0.5")
	}
	return nil
}

// requestMethod: -X > positional > HEAD for -I > PUT for -T > POST with a
// body > GET.
func requestMethod(o *RequestOptions, positional string, hasBody bool) string {
	switch {
	case o.Method != "":
		return o.Method
	case positional != "":
		return positional
	case o.Head:
		return http.MethodHead
	case o.UploadFile != "":
		return http.MethodPut
	case hasBody:
		return http.MethodPost
	}
	return http.MethodGet
}

// requestAuth decides the auth: flags > environment (read by each kind) >
// profile > none.
func (f *Factory) requestAuth(rr *resolvedRequest, o *RequestOptions) error {
	if rr.profile != nil {
		rr.auth = rr.profile.Auth
	}
	rr.noSkew = o.NoSkewCorrection
	if err := o.authOverrides(&rr.auth); err != nil {
		var ue *UsageError
		if errors.As(err, &ue) {
			return err
		}
		return &UsageError{Err: err, Hint: "see `gwcurl help environment` and docs/configuration.md"}
	}
	f.envOverrides(&rr.auth)
	if rr.auth.Kind == "sts-identity" {
		h := rr.auth.Header
		if h == "" {
			h = "X-Fluid-Identity"
		}
		rr.extraRed = append(rr.extraRed, h)
	}
	return nil
}

// signDeps builds the signer dependencies for a resolved request.
func (f *Factory) signDeps(rr *resolvedRequest, client *http.Client, trace func(string, ...any)) sign.Deps {
	name := ""
	if rr.profile != nil {
		name = rr.profile.Name
	}
	var skew *sign.ClockSkew
	if !rr.noSkew {
		skew = f.ClockSkew()
	}
	errSt := f.IO.ErrStyles()
	return sign.Deps{
		ClockSkew: skew,
		Warn: func(msg string) {
			fmt.Fprintf(f.IO.ErrOut, "%s %s\n", errSt.Warn.Render("gwcurl: warning:"), msg)
		},
		Profile:     name,
		HTTPClient:  client,
		Now:         f.Now,
		Getenv:      f.Getenv,
		Secrets:     f.resolver(rr.cfgPath),
		CacheDir:    profiles.CacheDir(f.Getenv),
		Trace:       trace,
		Stderr:      f.IO.ErrOut,
		Interactive: f.IO.CanPrompt() && f.Getenv("CI") == "",
	}
}

var _ io.Reader = (*os.File)(nil)
