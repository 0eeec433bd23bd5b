package cli

import (
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gwcurl/gwcurl/internal/profiles"
)

// Shell completion (bash, zsh, fish, PowerShell; `gwcurl completion SHELL`)
// is cobra's, which needs no bash-completion package. These functions
// give it the values only gwcurl knows: profile names, auth kinds and -w
// variables.

// completeProfiles completes profile names from the config file.
func (f *Factory) completeProfiles(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	file, err := f.configFile()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, n := range file.Config.Names() {
		if strings.HasPrefix(n, toComplete) {
			out = append(out, n)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeProfileArg completes the one NAME argument of profiles use/show/rm.
func (f *Factory) completeProfileArg(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return f.completeProfiles(cmd, args, toComplete)
}

func completeAuthKinds(_ *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	return profiles.Kinds, cobra.ShellCompDirectiveNoFileComp
}

func completeWriteOut(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	var out []string
	for _, n := range writeOutNames {
		out = append(out, toComplete+"%{"+n+"}")
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

// bashFallback defines _get_comp_words_by_ref, the one bash-completion
// function cobra's bash script calls, when that package is not installed
// (minimal containers, macOS's stock bash): the words as bash split them.
const bashFallback = `# gwcurl: works without the bash-completion package.
if ! declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
_get_comp_words_by_ref() {
    while [ "$#" -gt 0 ]; do
        case "$1" in
        -n) shift 2 ;;
        cur) cur=${COMP_WORDS[COMP_CWORD]}; shift ;;
        prev) prev=${COMP_WORDS[COMP_CWORD-1]}; shift ;;
        words) words=("${COMP_WORDS[@]}"); shift ;;
        cword) cword=$COMP_CWORD; shift ;;
        *) shift ;;
        esac
    done
}
fi
`

// profileCommands are the commands where -p/--profile means something;
// other commands' help does not show it.
var profileCommands = map[string]bool{"gwcurl": true, "login": true, "logout": true, "token": true, "whoami": true, "presign": true,
	"run": true, "ws": true, "show": true}

// registerCompletions wires the completion functions into the command tree,
// and hides -p from the help of commands it does not apply to.
func (f *Factory) registerCompletions(root *cobra.Command) {
	defaultHelp := root.HelpFunc()
	root.SetHelpFunc(func(cmd *cobra.Command, args []string) {
		if p := root.PersistentFlags().Lookup("profile"); p != nil && !profileCommands[cmd.Name()] {
			p.Hidden = true
			defer func() { p.Hidden = false }()
		}
		defaultHelp(cmd, args)
	})
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		c.Example = "  $ gwcurl completion bash > ~/.local/share/bash-completion/completions/gwcurl\n  $ gwcurl completion zsh > \"${fpath[1]}/_gwcurl\"\n  $ gwcurl completion fish > ~/.config/fish/completions/gwcurl.fish"
		for _, sh := range c.Commands() {
			if sh.Name() == "bash" {
				sh.Long = strings.Replace(sh.Long, "This script depends on the 'bash-completion' package.\nIf it is not installed already, you can install it via your OS's package manager.",
					"The script works with or without the 'bash-completion' package.", 1)
				sh.RunE = func(cmd *cobra.Command, _ []string) error {
					noDesc, _ := cmd.Flags().GetBool("no-descriptions")
					if _, err := io.WriteString(cmd.OutOrStdout(), bashFallback); err != nil {
						return err
					}
					return cmd.Root().GenBashCompletionV2(cmd.OutOrStdout(), !noDesc)
				}
			}
		}
	}
	root.RegisterFlagCompletionFunc("profile", f.completeProfiles) //nolint:errcheck // the flag exists
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Flags().Lookup("auth") != nil {
			c.RegisterFlagCompletionFunc("auth", completeAuthKinds) //nolint:errcheck
		}
		if c.Flags().Lookup("write-out") != nil {
			c.RegisterFlagCompletionFunc("write-out", completeWriteOut) //nolint:errcheck
		}
		if c.Parent() != nil && c.Parent().Name() == "profiles" {
			switch c.Name() {
			case "use", "show", "rm":
				c.ValidArgsFunction = f.completeProfileArg
			}
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
}
