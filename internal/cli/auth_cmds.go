package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gwcurl/gwcurl/internal/login"
	"github.com/gwcurl/gwcurl/internal/profiles"
	"github.com/gwcurl/gwcurl/internal/sign"
)

// profileCtx is a selected profile with everything a credential command needs.
type profileCtx struct {
	name    string
	profile *profiles.Profile
	auth    profiles.Auth
	cfgPath string
	target  string // the profile's base_url (or --url)
	deps    sign.Deps
	client  *http.Client // unsigned, for token endpoints
}

// selectProfile resolves -p > GWCURL_PROFILE > current for the credential
// commands (login, logout, token, whoami, presign).
func (f *Factory) selectProfile(name, target string, o *RequestOptions) (*profileCtx, error) {
	if name == "" {
		name = f.Getenv("GWCURL_PROFILE")
	}
	file, err := f.configFile()
	if err != nil {
		return nil, err
	}
	if name == "" {
		name = file.Config.Current
	}
	var p *profiles.Profile
	switch {
	case name != "":
		if p, err = file.Config.Get(name); err != nil {
			return nil, err
		}
	case o != nil && o.Auth != "":
		p = &profiles.Profile{} // --auth alone: the kind's own sources (environment, AWS config)
	default:
		return nil, usagef("pass -p NAME (or --auth KIND), set GWCURL_PROFILE, or `gwcurl profiles use NAME`", "no profile selected")
	}
	pc := &profileCtx{name: name, profile: p, auth: p.Auth, cfgPath: file.Path, target: target}
	if pc.target == "" {
		pc.target = p.BaseURL
	}
	if o != nil {
		if err := o.authOverrides(&pc.auth); err != nil {
			return nil, &UsageError{Err: err}
		}
	}
	f.envOverrides(&pc.auth)
	rt, err := f.baseTransport(&RequestOptions{})
	if err != nil {
		return nil, err
	}
	pc.client = &http.Client{Transport: rt, Timeout: 60 * time.Second}
	rr := &resolvedRequest{profile: p, cfgPath: file.Path}
	pc.deps = f.signDeps(rr, pc.client, nil)
	return pc, nil
}

// envOverrides applies the environment between flags and the profile
// (flag > environment > profile) for settings that the kinds' own libraries
// do not already read from the environment.
func (f *Factory) envOverrides(a *profiles.Auth) {
	if a.Kind == "cf-access" {
		if v := f.Getenv("CF_ACCESS_CLIENT_ID"); v != "" && a.ClientID == "" {
			a.ClientID = v
		}
	}
}

func (pc *profileCtx) needTarget(what string) error {
	if pc.target == "" {
		return usagef(fmt.Sprintf("set base_url for profile %q", pc.name), "%s needs the profile's base_url", what)
	}
	return nil
}

type loginOptions struct {
	noBrowser bool
	timeout   time.Duration
	email     string
	insecure  bool
}

func newCmdLogin(f *Factory, profile *string) *cobra.Command {
	o := &loginOptions{}
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in with the profile's browser flow and cache the tokens",
		Long: doc(`
			Run the profile's browser login: Cognito Hosted UI or any OIDC provider
			(authorization code + PKCE), a magic link, or Cloudflare Access's CLI login.
			The login URL is always printed on stderr and opened with $GWCURL_BROWSER,
			$BROWSER or the system browser; --no-browser only prints it.
		`),
		Example: doc(`
			$ gwcurl login -p app
			$ gwcurl login -p magic --email me@example.com
			$ gwcurl login -p admin --no-browser     # open the URL on another device
		`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.runLogin(cmd.Context(), *profile, o)
		},
	}
	cmd.Flags().BoolVar(&o.noBrowser, "no-browser", false, "print the login URL instead of opening a browser")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 2*time.Minute, "give up waiting for the browser after this long (exit 28)")
	cmd.Flags().StringVar(&o.email, "email", "", "e-mail address for a magic-link login")
	cmd.Flags().BoolVar(&o.insecure, "insecure-storage", false, "keep the tokens in a 0600 file, not the OS keyring (as GWCURL_SECRET_STORE=file)")
	return cmd
}

// browserFor returns the browser opener, or nil when gwcurl must only print
// the URL.
func (f *Factory) browserFor(noBrowser bool) func(string) error {
	if noBrowser {
		return nil
	}
	return f.Browser
}

// canWaitForBrowser reports whether a login may wait for a person: never in
// CI or without a terminal, unless a browser command is configured (a
// scripted browser).
func (f *Factory) canWaitForBrowser() bool {
	if f.Getenv("GWCURL_BROWSER") != "" || f.Getenv("BROWSER") != "" {
		return true
	}
	return f.Getenv("CI") == "" && f.IO.IsStderrTTY()
}

func (f *Factory) runLogin(ctx context.Context, name string, o *loginOptions) error {
	pc, err := f.selectProfile(name, "", nil)
	if err != nil {
		return err
	}
	if !f.canWaitForBrowser() {
		return sign.Credentialf(pc.auth.Kind, "run `gwcurl login -p "+pc.name+"` on a machine with a browser, or set GWCURL_BROWSER",
			"login needs a browser or a person, and this is CI or not a terminal")
	}
	switch pc.auth.Kind {
	case "cf-access":
		if err := pc.needTarget("cf-access login"); err != nil {
			return err
		}
		tok, err := login.CFAccessLogin(ctx, login.CFLoginOptions{
			AppURL: pc.target, HTTPClient: pc.client, Browser: f.browserFor(o.noBrowser),
			Stderr: f.IO.ErrOut, Now: f.Now, Timeout: o.timeout,
		})
		if err != nil {
			return loginErr(err, pc.name)
		}
		key, err := sign.CFAccessCacheKey(pc.name, pc.target)
		if err != nil {
			return err
		}
		if err := (&profiles.TokenCache{Dir: pc.deps.CacheDir, Now: f.Now}).Put(key, tok); err != nil {
			return err
		}
		who := ""
		if claims, ok := jwtClaims(tok.AccessToken); ok {
			who = str(claims["email"])
		}
		f.loggedIn(pc.name, who, tok.Expiry)
		return nil
	case "cognito", "magic-link":
		return f.browserLogin(ctx, pc, o)
	case "sigv4", "sts-identity":
		return usagef("AWS credentials come from the AWS credential chain: try `aws sso login` or set AWS_PROFILE", "profile %q (%s) has no gwcurl login", pc.name, pc.auth.Kind)
	case "google":
		return usagef("Google credentials come from ADC: try `gcloud auth application-default login`", "profile %q (google) has no gwcurl login", pc.name)
	default:
		return usagef("login is for cognito, magic-link and cf-access profiles", "profile %q (%s) has no browser login", pc.name, kindOrNone(pc.auth.Kind))
	}
}

// loginErr turns a login timeout into exit 28 with a hint.
func loginErr(err error, profile string) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &ExitError{Code: ExitTimeout, Err: fmt.Errorf("login timed out: %s", strings.TrimSuffix(err.Error(), ": "+context.DeadlineExceeded.Error())),
			Hint: "run `gwcurl login -p " + profile + " --timeout 5m` to wait longer"}
	}
	return err
}

// loggedIn is the one success line of every login kind.
func (f *Factory) loggedIn(profile, who string, expiry time.Time) {
	if who != "" {
		who = " as " + who
	}
	until := ""
	if !expiry.IsZero() {
		until = ", token valid until " + expiry.Local().Format("Mon 2 Jan 2006 15:04 MST")
	}
	fmt.Fprintf(f.IO.ErrOut, "%s logged in%s (profile %s%s)\n", f.IO.ErrStyles().OK.Render("✓"), who, profile, until)
}

func newCmdLogout(f *Factory, profile *string) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Forget the profile's cached tokens (and revoke them where the provider can)",
		Example: doc(`
			$ gwcurl logout -p app
		`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pc, err := f.selectProfile(*profile, "", nil)
			if err != nil {
				return err
			}
			switch pc.auth.Kind {
			case "cf-access":
				key, err := sign.CFAccessCacheKey(pc.name, pc.target)
				if err != nil {
					return err
				}
				if err := (&profiles.TokenCache{Dir: pc.deps.CacheDir, Now: f.Now}).Delete(key); err != nil {
					return err
				}
			case "cognito", "magic-link":
				if err := f.browserLogout(cmd.Context(), pc); err != nil {
					return err
				}
			default:
				return usagef("logout is for cognito, magic-link and cf-access profiles", "profile %q (%s) keeps no login", pc.name, kindOrNone(pc.auth.Kind))
			}
			fmt.Fprintf(f.IO.ErrOut, "%s logged out of profile %s\n", f.IO.ErrStyles().OK.Render("✓"), pc.name)
			return nil
		},
	}
}

func newCmdToken(f *Factory, profile *string) *cobra.Command {
	var asHeader bool
	var target string
	ro := &RequestOptions{}
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print the credential a request would carry, for use with other tools",
		Long: doc(`
			Print the credential a request with this profile would carry: the bearer or
			ID token, the STS identity header value, or the Cloudflare Access headers.
			--header prints ready "Name: value" lines. The output is a secret: it goes
			to stdout only, never into logs.
		`),
		Example: doc(`
			$ curl -H "Authorization: Bearer $(gwcurl token -p run)" https://svc-abc.a.run.app/
			$ gwcurl token -p admin --header
		`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pc, err := f.selectProfile(*profile, target, ro)
			if err != nil {
				return err
			}
			h, err := f.credentialHeaders(cmd.Context(), pc)
			if err != nil {
				return err
			}
			names := make([]string, 0, len(h))
			for k := range h {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				v := h.Get(k)
				switch {
				case asHeader:
					fmt.Fprintf(f.IO.Out, "%s: %s\n", k, v)
				case len(names) == 1:
					fmt.Fprintln(f.IO.Out, strings.TrimPrefix(v, "Bearer "))
				default:
					fmt.Fprintf(f.IO.Out, "%s: %s\n", k, v)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asHeader, "header", false, `print "Name: value" lines`)
	cmd.Flags().StringVar(&target, "url", "", "the URL the credential is for (default: the profile's base_url)")
	addAuthFlags(cmd.Flags(), ro)
	return cmd
}

// credentialHeaders signs a probe request to the profile's target and returns
// the headers the signer added: exactly what a request would carry.
func (f *Factory) credentialHeaders(ctx context.Context, pc *profileCtx) (http.Header, error) {
	switch pc.auth.Kind {
	case "", "none":
		return nil, usagef("this profile sends no credential", "profile %q uses auth kind none", pc.name)
	case "sigv4":
		return nil, usagef("SigV4 signs each request; use `gwcurl presign URL` for a shareable pre-signed URL", "sigv4 has no reusable token")
	}
	if err := pc.needTarget("token"); err != nil {
		return nil, err
	}
	signer, err := sign.New(ctx, pc.auth, pc.target, pc.deps)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, pc.target, nil)
	if err != nil {
		return nil, usagef("", "invalid base_url: %v", err)
	}
	before := req.Header.Clone()
	if err := signer.Sign(ctx, req); err != nil {
		return nil, err
	}
	added := http.Header{}
	for k, v := range req.Header {
		if strings.Join(before[k], ",") != strings.Join(v, ",") {
			added[k] = v
		}
	}
	if len(added) == 0 {
		return nil, fmt.Errorf("the %s signer added no credential", pc.auth.Kind)
	}
	return added, nil
}

// identity is what whoami prints.
type identity struct {
	Profile   string            `json:"profile"`
	Kind      string            `json:"kind"`
	Principal string            `json:"principal"`
	Expires   *time.Time        `json:"expires,omitempty"`
	Details   map[string]string `json:"details,omitempty"`
}

func newCmdWhoami(f *Factory, profile *string) *cobra.Command {
	var asJSON bool
	var target string
	ro := &RequestOptions{}
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show who the profile's credentials say you are, and until when",
		Example: doc(`
			$ gwcurl whoami -p dev
			$ gwcurl whoami --auth sigv4 --aws-profile prod --json
			$ AWS_ENDPOINT_URL_STS=http://127.0.0.1:4566 gwcurl whoami --auth sigv4
		`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pc, err := f.selectProfile(*profile, target, ro)
			if err != nil {
				return err
			}
			id, err := f.whoami(cmd.Context(), pc)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(f.IO.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(id)
			}
			st := f.IO.OutStyles()
			fmt.Fprintf(f.IO.Out, "%s (%s)\n", st.Bold.Render(id.Principal), id.Kind)
			if id.Expires != nil {
				fmt.Fprintf(f.IO.Out, "valid until %s (%s)\n", id.Expires.Local().Format(time.RFC1123), inWords(id.Expires.Sub(f.Now())))
			}
			keys := make([]string, 0, len(id.Details))
			for k := range id.Details {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(f.IO.Out, "%s: %s\n", k, id.Details[k])
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&target, "url", "", "the URL the credential is for (default: the profile's base_url)")
	addAuthFlags(cmd.Flags(), ro)
	return cmd
}

func (f *Factory) whoami(ctx context.Context, pc *profileCtx) (*identity, error) {
	id := &identity{Profile: pc.name, Kind: kindOrNone(pc.auth.Kind), Details: map[string]string{}}
	switch pc.auth.Kind {
	case "", "none":
		id.Principal = "anonymous (auth kind none)"
	case "sigv4":
		arn, account, userID, err := sign.AWSCallerIdentity(ctx, pc.auth, pc.deps, pc.target)
		if err != nil {
			return nil, err
		}
		id.Principal = arn
		id.Details["account"], id.Details["user_id"] = account, userID
	case "google":
		if err := pc.needTarget("whoami"); err != nil {
			return nil, err
		}
		tok, err := sign.GoogleIDToken(ctx, pc.auth, pc.target, pc.deps)
		if err != nil {
			return nil, err
		}
		c, err := sign.DecodeGoogleIDToken(tok.AccessToken)
		if err != nil {
			return nil, err
		}
		id.Principal = firstNonEmpty(c.Email, c.Subject)
		id.Expires = timePtr(c.Expiry)
		id.Details["audience"] = c.Audience
	case "cf-access":
		if err := pc.needTarget("whoami"); err != nil {
			return nil, err
		}
		who, err := sign.CFAccessIdentity(ctx, pc.auth, pc.target, pc.deps)
		if err != nil {
			return nil, err
		}
		id.Principal = who
	case "cognito", "magic-link":
		return f.browserWhoami(ctx, pc, id)
	case "bearer":
		h, err := f.credentialHeaders(ctx, pc)
		if err != nil {
			return nil, err
		}
		id.Principal = "static bearer token"
		if claims, ok := jwtClaims(strings.TrimPrefix(h.Get(firstNonEmpty(pc.auth.Header, "Authorization")), "Bearer ")); ok {
			id.Principal = firstNonEmpty(str(claims["email"]), str(claims["sub"]), id.Principal)
			if exp, ok := claims["exp"].(float64); ok {
				id.Expires = timePtr(time.Unix(int64(exp), 0))
			}
		}
	default:
		if err := f.stsWhoami(ctx, pc, id); err != nil {
			return nil, err
		}
	}
	return id, nil
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// inWords says a duration the way people do: "in 59 minutes", "3 hours ago".
func inWords(d time.Duration) string {
	past := d < 0
	if past {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		s = fmt.Sprintf("%d seconds", int(d.Seconds()))
	case d < 2*time.Hour:
		s = fmt.Sprintf("%d minutes", int(d.Minutes()))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%d hours", int(d.Hours()))
	default:
		s = fmt.Sprintf("%d days", int(d.Hours()/24))
	}
	if past {
		return s + " ago"
	}
	return "in " + s
}

func newCmdPresign(f *Factory, profile *string) *cobra.Command {
	var expires time.Duration
	ro := &RequestOptions{}
	cmd := &cobra.Command{
		Use:   "presign [METHOD] URL",
		Short: "Print a SigV4 pre-signed URL (query auth) made with the profile's AWS credentials",
		Example: doc(`
			$ gwcurl presign --expires 1h https://my-bucket.s3.eu-west-1.amazonaws.com/report.csv
			$ gwcurl presign -p lambda GET /items
		`),
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			method := http.MethodGet
			if len(args) == 2 {
				method, args = args[0], args[1:]
			}
			if expires < time.Second || expires > 7*24*time.Hour {
				return usagef("SigV4 pre-signed URLs last between 1s and 7 days (604800s)", "--expires %s is out of range", expires)
			}
			raw := args[0]
			a := profiles.Auth{Kind: "sigv4"}
			deps := f.signDeps(&resolvedRequest{}, &http.Client{Timeout: 30 * time.Second}, nil)
			if *profile != "" || f.Getenv("GWCURL_PROFILE") != "" || strings.HasPrefix(raw, "/") {
				pc, err := f.selectProfile(*profile, "", ro)
				if err != nil {
					return err
				}
				a, deps = pc.auth, pc.deps
				if a.Kind == "" || a.Kind == "none" {
					a.Kind = "sigv4"
				}
				if strings.HasPrefix(raw, "/") {
					if err := pc.needTarget("a /path"); err != nil {
						return err
					}
					raw = strings.TrimRight(pc.target, "/") + raw
				}
			} else if err := ro.authOverrides(&a); err != nil {
				return &UsageError{Err: err}
			}
			if u, err := url.Parse(raw); err != nil || u.Host == "" {
				return usagef("presign takes an absolute URL, or /path with a profile", "invalid URL %q", raw)
			}
			out, err := sign.PresignSigV4(cmd.Context(), a, deps, method, raw, expires)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(f.IO.Out, out)
			return err
		},
	}
	cmd.Flags().DurationVar(&expires, "expires", 15*time.Minute, "how long the URL stays valid (max 168h)")
	cmd.Flags().StringVar(&ro.Region, "region", "", "AWS region (default: inferred from the host)")
	cmd.Flags().StringVar(&ro.Service, "service", "", "AWS service (default: inferred from the host)")
	cmd.Flags().StringVar(&ro.AWSProfile, "aws-profile", "", "AWS shared-config profile")
	cmd.Flags().BoolVar(&ro.SigV4a, "sigv4a", false, "presign with SigV4a (ECDSA, multi-region): --region is a region set, '*' or a list")
	return cmd
}
