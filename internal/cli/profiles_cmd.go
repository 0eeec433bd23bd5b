package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/gwcurl/gwcurl/internal/profiles"
)

func newCmdProfiles(f *Factory, profileFlag *string) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "profiles",
		Aliases: []string{"profile"},
		Short:   "List, show, add, select and remove named profiles",
		Args:    cobra.NoArgs,
		Example: doc(`
			$ gwcurl profiles add dev --base-url https://api.dev.example.com --auth bearer --token env:DEV_TOKEN --use
			$ gwcurl profiles add lambda --base-url https://abc.lambda-url.eu-west-1.on.aws --auth sigv4 --aws-profile dev
			$ gwcurl profiles list
			$ gwcurl profiles use dev
		`),
	}
	cmd.AddCommand(newCmdProfilesList(f), newCmdProfilesShow(f, profileFlag), newCmdProfilesAdd(f),
		newCmdProfilesUse(f), newCmdProfilesRm(f))
	return cmd
}

func newCmdProfilesList(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List profiles",
		Example: doc(`
			$ gwcurl profiles list
		`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			file, err := f.configFile()
			if err != nil {
				return err
			}
			names := file.Config.Names()
			if asJSON {
				type row struct {
					Name    string `json:"name"`
					Current bool   `json:"current"`
					BaseURL string `json:"base_url,omitempty"`
					Auth    string `json:"auth"`
				}
				rows := []row{}
				for _, n := range names {
					p := file.Config.Profiles[n]
					rows = append(rows, row{n, n == file.Config.Current, p.BaseURL, kindOrNone(p.Auth.Kind)})
				}
				enc := json.NewEncoder(f.IO.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			if len(names) == 0 {
				fmt.Fprintf(f.IO.ErrOut, "no profiles in %s; add one with `gwcurl profiles add NAME --base-url URL`\n", file.Path)
				return nil
			}
			if f.IO.IsStdoutTTY() {
				var rows [][]string
				for _, n := range names {
					p := file.Config.Profiles[n]
					mark := " "
					if n == file.Config.Current {
						mark = "*"
					}
					rows = append(rows, []string{mark, n, kindOrNone(p.Auth.Kind), p.BaseURL})
				}
				f.writeTable([]string{"", "NAME", "AUTH", "BASE URL"}, rows)
				return nil
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
			for _, n := range names {
				p := file.Config.Profiles[n]
				mark := "  "
				if n == file.Config.Current {
					mark = "* "
				}
				fmt.Fprintf(tw, "%s%s\t%s\t%s\n", mark, n, kindOrNone(p.Auth.Kind), p.BaseURL)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newCmdProfilesShow(f *Factory, profileFlag *string) *cobra.Command {
	return &cobra.Command{
		Use:   "show [NAME]",
		Short: "Show a profile (secrets are references, never values)",
		Example: doc(`
			$ gwcurl profiles show dev
		`),
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file, err := f.configFile()
			if err != nil {
				return err
			}
			name := firstNonEmpty(argOr(args, 0), *profileFlag, f.Getenv("GWCURL_PROFILE"), file.Config.Current)
			if name == "" {
				return usagef("name a profile, or select one with `gwcurl profiles use NAME`", "no profile selected")
			}
			p, err := file.Config.Get(name)
			if err != nil {
				return err
			}
			out, err := yaml.Marshal(map[string]*profiles.Profile{name: p})
			if err != nil {
				return err
			}
			_, err = f.IO.Out.Write(out)
			return err
		},
	}
}

func argOr(args []string, i int) string {
	if i < len(args) {
		return args[i]
	}
	return ""
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

type addOptions struct {
	baseURL  string
	headers  []string
	auth     profiles.Auth
	use      bool
	force    bool
	insecure bool
	secrets  map[string]*string // flag name -> value (a reference or "-")
}

func newCmdProfilesAdd(f *Factory) *cobra.Command {
	o := &addOptions{secrets: map[string]*string{}}
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Add or replace a profile",
		Long: doc(`
			Add a profile. Secret fields (--token, --client-secret,
			--secret-access-key, --session-token) take a reference, never the
			secret itself: env:NAME, cmd:COMMAND, file:PATH, or "-" to read the
			secret from stdin and keep it in the secret store (the OS keyring
			when one answers, else a 0600 file; --insecure-storage forces the file).
		`),
		Example: doc(`
			$ gwcurl profiles add dev --base-url https://api.dev.example.com --auth bearer --token env:DEV_TOKEN
			$ printf %s "$TOKEN" | gwcurl profiles add ci --base-url https://api.example.com --auth bearer --token -
			$ gwcurl profiles add run --base-url https://svc-abc.a.run.app --auth google
		`),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.profilesAdd(cmd.Context(), args[0], o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.baseURL, "base-url", "", "base URL that /paths are joined to")
	fl.StringArrayVarP(&o.headers, "header", "H", nil, `header "Name: value" sent with every request; repeatable`)
	a := &o.auth
	fl.StringVar(&a.Kind, "auth", "", "auth kind: none, sigv4, sts-identity, google, cf-access, bearer, cognito, magic-link")
	fl.StringVar(&a.Region, "region", "", "AWS region")
	fl.StringVar(&a.Service, "service", "", "AWS service")
	fl.StringVar(&a.AWSProfile, "aws-profile", "", "AWS shared-config profile")
	fl.BoolVar(&a.UnsignedPayload, "unsigned-payload", false, "sign with UNSIGNED-PAYLOAD")
	fl.StringVar(&a.AccessKeyID, "access-key-id", "", "static AWS access key id (pair with --secret-access-key)")
	fl.StringVar(&a.Header, "header-name", "", "header that carries the credential (sts-identity, google)")
	fl.StringVar(&a.Format, "identity-format", "", "sts-identity format: url, vault or k8s")
	fl.StringVar(&a.ServerID, "identity-server-id", "", "sts-identity server id")
	fl.StringVar(&a.STSEndpoint, "sts-endpoint", "", "STS endpoint URL")
	fl.StringVar(&a.Audience, "audience", "", "Google ID token audience")
	fl.StringVar(&a.Credentials, "google-credentials", "", "Google credentials JSON file")
	fl.StringVar(&a.Impersonate, "impersonate-service-account", "", "Google service account to impersonate")
	fl.StringVar(&a.ClientID, "client-id", "", "client id (cf-access, cognito)")
	fl.StringVar(&a.Issuer, "issuer", "", "OIDC issuer URL (cognito kind)")
	fl.StringVar(&a.Domain, "domain", "", "Cognito hosted-UI domain")
	fl.StringSliceVar(&a.Scopes, "scopes", nil, "OAuth scopes")
	fl.IntVar(&a.RedirectPort, "redirect-port", 0, "fixed loopback port for the login callback")
	fl.StringVar(&a.UseToken, "use-token", "", "token to send: id or access")
	fl.StringVar(&a.StartURL, "start-url", "", "magic-link start endpoint")
	fl.StringVar(&a.TokenURL, "token-url", "", "magic-link token endpoint")
	fl.StringVar(&a.Email, "email", "", "magic-link e-mail address")
	for _, name := range []string{"token", "client-secret", "secret-access-key", "session-token"} {
		o.secrets[name] = new(string)
		fl.StringVar(o.secrets[name], name, "", "secret reference (env:NAME, cmd:COMMAND, file:PATH) or - to read it from stdin into the keyring")
	}
	fl.BoolVar(&o.use, "use", false, "make it the current profile")
	fl.BoolVar(&o.force, "force", false, "replace an existing profile")
	fl.BoolVar(&o.insecure, "insecure-storage", false, "keep secrets read with - in a 0600 file, not the OS keyring (as GWCURL_SECRET_STORE=file)")
	return cmd
}

var secretFields = map[string]func(a *profiles.Auth) *string{
	"token":             func(a *profiles.Auth) *string { return &a.Token },
	"client-secret":     func(a *profiles.Auth) *string { return &a.ClientSecret },
	"secret-access-key": func(a *profiles.Auth) *string { return &a.SecretAccessKey },
	"session-token":     func(a *profiles.Auth) *string { return &a.SessionToken },
}

func (f *Factory) profilesAdd(ctx context.Context, name string, o *addOptions) error {
	if !validProfileName(name) {
		return usagef("profile names use letters, digits, '-', '_' and '.'", "invalid profile name %q", name)
	}
	file, err := f.configFile()
	if err != nil {
		return err
	}
	if _, exists := file.Config.Profiles[name]; exists && !o.force {
		return usagef("pass --force to replace it, or `gwcurl profiles rm "+name+"` first", "profile %q already exists", name)
	}
	p := &profiles.Profile{Name: name, BaseURL: o.baseURL, Auth: o.auth}
	for _, h := range o.headers {
		n, v, rm, err := parseHeaderFlag(h)
		if err != nil {
			return err
		}
		if rm {
			continue
		}
		if p.Headers == nil {
			p.Headers = map[string]string{}
		}
		p.Headers[n] = v
	}
	// Secrets: references are kept; "-" reads the value and stores it.
	var stored []string
	for flagName, ref := range o.secrets {
		v := *ref
		if v == "" {
			continue
		}
		field := secretFields[flagName](&p.Auth)
		if v != "-" {
			if !profiles.IsRef(v) {
				return usagef(fmt.Sprintf("pass a reference such as env:NAME, or --%s - to read it from stdin", flagName),
					"--%s takes a secret reference, not the secret itself", flagName)
			}
			*field = v
			continue
		}
		secret, err := readSecret(f.IO.In)
		if err != nil {
			return err
		}
		key := strings.ReplaceAll(flagName, "-", "_")
		store := f.Secrets()
		if o.insecure {
			store = f.fileSecrets()
		}
		if err := store.Set(ctx, name, key, secret); err != nil {
			return &HintedError{Err: fmt.Errorf("cannot store the secret: %v", err),
				Hint: "set GWCURL_SECRET_STORE=file (0600 files) or use env:NAME"}
		}
		*field = "keyring:" + key
		stored = append(stored, "--"+flagName)
	}
	if err := p.Validate(); err != nil {
		return &UsageError{Err: err, Hint: "see docs/configuration.md"}
	}
	if file.Config.Profiles == nil {
		file.Config.Profiles = map[string]*profiles.Profile{}
	}
	file.Config.Profiles[name] = p
	if o.use || file.Config.Current == "" {
		file.Config.Current = name
	}
	if err := file.Save(); err != nil {
		return err
	}
	st := f.IO.ErrStyles()
	msg := fmt.Sprintf("saved profile %s in %s", name, file.Path)
	if len(stored) > 0 {
		where := "the secret store"
		if o.insecure {
			where = "a 0600 file"
		}
		msg += fmt.Sprintf(" (%s kept in %s)", strings.Join(stored, ", "), where)
	}
	fmt.Fprintln(f.IO.ErrOut, st.OK.Render("✓")+" "+msg)
	return nil
}

func readSecret(r io.Reader) (string, error) {
	if r == nil {
		return "", usagef("pipe the secret on stdin", "no stdin to read the secret from")
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", usagef("pipe the secret on stdin, e.g. printf %s \"$TOKEN\" | gwcurl profiles add ...", "empty secret on stdin")
	}
	return line, nil
}

func validProfileName(s string) bool {
	if s == "" || len(s) > 64 || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

func newCmdProfilesUse(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "use NAME",
		Short: "Make a profile the current one",
		Example: doc(`
			$ gwcurl profiles use staging
		`),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file, err := f.configFile()
			if err != nil {
				return err
			}
			if _, err := file.Config.Get(args[0]); err != nil {
				return err
			}
			file.Config.Current = args[0]
			if err := file.Save(); err != nil {
				return err
			}
			fmt.Fprintf(f.IO.ErrOut, "%s current profile is %s\n", f.IO.ErrStyles().OK.Render("✓"), args[0])
			return nil
		},
	}
}

func newCmdProfilesRm(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME",
		Aliases: []string{"remove", "delete"},
		Short:   "Remove a profile and the secrets gwcurl stored for it",
		Example: doc(`
			$ gwcurl profiles rm old-dev
		`),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file, err := f.configFile()
			if err != nil {
				return err
			}
			p, err := file.Config.Get(args[0])
			if err != nil {
				return err
			}
			for _, get := range secretFields {
				ref := *get(&p.Auth)
				switch {
				case strings.HasPrefix(ref, "keyring:"):
					_ = f.Secrets().Delete(cmd.Context(), args[0], strings.TrimPrefix(ref, "keyring:")) // best effort: the profile goes either way
				case strings.HasPrefix(ref, "file:secrets/"+args[0]+"/"):
					_ = os.Remove(filepath.Join(filepath.Dir(file.Path), strings.TrimPrefix(ref, "file:")))
				}
			}
			delete(file.Config.Profiles, args[0])
			if file.Config.Current == args[0] {
				file.Config.Current = ""
			}
			if err := file.Save(); err != nil {
				return err
			}
			fmt.Fprintf(f.IO.ErrOut, "%s removed profile %s\n", f.IO.ErrStyles().OK.Render("✓"), args[0])
			return nil
		},
	}
}
