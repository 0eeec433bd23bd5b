package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/spf13/cobra"

	"github.com/gwcurl/gwcurl/internal/build"
)

// NewRootCmd builds the command tree. The root command is the request
// command: `gwcurl [flags] [METHOD] URL [ITEM...]`.
func NewRootCmd(f *Factory) *cobra.Command {
	o := &RequestOptions{}
	var showVersion bool
	root := &cobra.Command{
		Use:   "gwcurl [flags] [METHOD] URL [ITEM...]",
		Short: "curl for services behind cloud authentication",
		Long: doc(`
			gwcurl sends HTTP requests signed the way the service wants: AWS SigV4,
			STS identity headers, Google ID tokens, Cloudflare Access, Cognito and
			magic-link logins, or a bearer token, from named profiles.

			Items (httpie style):  Name:Value header · Name: removes a header ·
			name=value JSON string · name:=json raw JSON · name==value query
			parameter · name=@file string from a file · name:=@file raw JSON from a
			file · name@file file upload (multipart) · nested keys a[b]=1, a[]=1.

			Help topics (gwcurl help TOPIC):
		`) + topicList() + "\n",
		Example: doc(`
			$ gwcurl https://api.example.com/health
			$ gwcurl -p dev POST /items name=widget count:=3 X-Trace:abc
			$ gwcurl --auth sigv4 https://abc.lambda-url.us-east-1.on.aws/
			$ gwcurl -f --expect-status 200 -p staging GET /health
			$ gwcurl gateway --profiles-out demo.yaml   # a local mock gateway
		`),
		Args:          cobra.ArbitraryArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			_, err := f.secretStoreMode()
			return err
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if showVersion {
				return printVersion(f, false)
			}
			if len(args) == 0 {
				return cmd.Help()
			}
			if err := checkCommandTypo(cmd, args[0]); err != nil {
				return err
			}
			o.Args = args
			o.jsonSet = cmd.Flags().Changed("json")
			err := f.runRequest(cmd.Context(), o)
			if err != nil && o.Silent && !o.ShowError {
				code, _ := classify(cmd.Context(), err)
				return &ExitError{Code: code}
			}
			return err
		},
	}
	root.PersistentFlags().StringVarP(&o.Profile, "profile", "p", "", "profile to use (env GWCURL_PROFILE; default: the config's current)")
	addRequestFlags(root, o)
	root.Flags().BoolVarP(&showVersion, "version", "V", false, "print the version and exit (see `gwcurl version`)")
	root.Flags().SortFlags = false
	root.SetFlagErrorFunc(flagError)

	root.AddCommand(
		newCmdVersion(f),
		newCmdProfiles(f, &o.Profile),
		newCmdDemo(f),
	)
	for _, c := range extraCommands(f, &o.Profile) {
		root.AddCommand(c)
	}
	root.SetHelpCommand(newCmdHelp(root))
	usageArgs(root)
	f.registerCompletions(root)
	return root
}

// usageArgs makes a wrong number of arguments a usage error (exit 2) on
// every command, as a bad flag already is.
func usageArgs(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return &UsageError{Err: err, Hint: "see `" + cmd.CommandPath() + " --help`"}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		usageArgs(sub)
	}
}

func newCmdVersion(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print gwcurl's version, commit, build date, Go version and platform",
		Long: doc(`
			Print the version (a release tag, or for a build from a git checkout the
			pseudo-version Go records), the commit (with -dirty for a modified work
			tree), the build date (the commit time when the build was not stamped),
			the Go version and the platform. --json prints one JSON object.
			` + "`gwcurl --version` and `gwcurl -V`" + ` print the same text.
		`),
		Example: doc(`
			$ gwcurl version
			$ gwcurl version --json
		`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return printVersion(f, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printVersion(f *Factory, asJSON bool) error {
	d := build.Read()
	if asJSON {
		enc := json.NewEncoder(f.IO.Out)
		return enc.Encode(d)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "gwcurl %s\n", d.Version)
	if c := d.ShortCommit(); c != "" {
		fmt.Fprintf(&b, "commit:   %s\n", c)
	}
	if d.Date != "" {
		fmt.Fprintf(&b, "date:     %s\n", d.Date)
	}
	fmt.Fprintf(&b, "go:       %s\n", d.GoVersion)
	fmt.Fprintf(&b, "platform: %s\n", d.Platform)
	_, err := fmt.Fprint(f.IO.Out, b.String())
	return err
}

// flagError is a flag parsing error, exit 2, with the closest flag name as a
// suggestion ("unknown flag: --verbos; did you mean --verbose?").
func flagError(cmd *cobra.Command, err error) error {
	hint := "see `gwcurl " + strings.TrimPrefix(cmd.CommandPath()+" ", "gwcurl ") + "--help`"
	hint = strings.Replace(hint, "gwcurl  --help", "gwcurl --help", 1)
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "unknown flag: --"); ok {
		var names []string
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if !f.Hidden {
				names = append(names, f.Name)
			}
		})
		if s := suggest(name, names); s != "" {
			return &UsageError{Err: errors.New(msg + strings.Replace(s, "did you mean ", "did you mean --", 1)), Hint: hint}
		}
	}
	return &UsageError{Err: err, Hint: hint}
}
