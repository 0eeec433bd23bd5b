package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

// helpTopics are `gwcurl help TOPIC` pages that are not commands (built
// when asked for, not at start-up).
func helpTopics() map[string]struct{ short, body string } {
	return map[string]struct{ short, body string }{
		"exit-codes": {"Exit codes and what they mean", doc(`
		gwcurl exits with curl's codes where curl has one, so scripts keep working:

		  0    success (an HTTP error status without -f is still 0, as in curl)
		  1    error, including a failed --expect-status / --expect-jq, and a
		       WebSocket closed abnormally (gwcurl ws)
		  2    usage error: bad flag, malformed header or item, missing @file,
		       a path with no base_url, unknown profile, bad config file
		  3    malformed URL
		  4    credentials missing, invalid or expired, or a login is required
		  6    could not resolve the host
		  7    could not connect (refused, unreachable)
		  22   HTTP status >= 400 with -f/--fail or --fail-with-body, or a
		       refused WebSocket handshake (gwcurl ws)
		  23   cannot write the output (-o into a missing or unwritable directory)
		  28   timeout (-m/--max-time, --connect-timeout, login --timeout)
		  35   TLS handshake failed (https to a plain-http port)
		  47   too many redirects (-L beyond --max-redirs)
		  52   the server closed the connection without answering
		  55   failure sending the request
		  56   failure receiving the answer (connection reset)
		  60   the server's certificate is not trusted (--cacert FILE, or -k)
		  77   the --cacert file cannot be read or holds no certificate
		  130  interrupted (Ctrl-C, SIGTERM)
	`)},
		"environment": {"Environment variables gwcurl reads", doc(`
		GWCURL_PROFILE        profile to use when -p is not given
		GWCURL_CONFIG         config file (default $XDG_CONFIG_HOME/gwcurl/config.yaml)
		GWCURL_CONFIG_DIR     directory holding config.yaml
		XDG_CONFIG_HOME       base of the default config directory
		XDG_CACHE_HOME        base of the token cache ($XDG_CACHE_HOME/gwcurl)
		GWCURL_SECRET_STORE   keyring, file or auto (default: the OS keyring when one
		                      answers, else 0600 files under $XDG_STATE_HOME/gwcurl/secrets)
		GWCURL_SECRETS_DIR    keep secrets as 0600 files here, never in the keyring (tests)
		AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_STS  where gwcurl's own AWS calls go (STS)
		GWCURL_BROWSER, BROWSER  command that opens login URLs (the URL is its argument)
		GWCURL_DEBUG          print the wrapped error chain on failure
		GWCURL_FORCE_TTY      treat stdout and stderr as terminals
		NO_COLOR, CLICOLOR=0, TERM=dumb   turn all styling off; CLICOLOR_FORCE=1 forces it
		HTTP_PROXY, HTTPS_PROXY, NO_PROXY (and lower case)   proxies, unless --proxy
		CI                    set: never prompt or open a browser; fail with exit 4 instead

		AWS (sigv4, sts-identity): AWS_PROFILE, AWS_REGION, AWS_ACCESS_KEY_ID,
		AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_CONFIG_FILE,
		AWS_SHARED_CREDENTIALS_FILE and the rest of the SDK's credential chain.
		Google: GOOGLE_APPLICATION_CREDENTIALS, GCE_METADATA_HOST.
		Cloudflare Access: CF_ACCESS_CLIENT_ID, CF_ACCESS_CLIENT_SECRET.

		Precedence: flag > environment > profile > default.
	`)},
	}
}

// topicList is the help topics, one "  name  summary" line each, sorted.
func topicList() string {
	var topics []string
	for k, v := range helpTopics() {
		topics = append(topics, fmt.Sprintf("  %-12s %s", k, v.short))
	}
	sort.Strings(topics)
	return strings.Join(topics, "\n")
}

// newCmdHelp serves help topics and falls back to command help.
func newCmdHelp(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "help [command|topic]",
		Short: "Help about any command or topic (exit-codes, environment)",
		Long:  "Help about any command, or one of these topics:\n" + topicList(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if t, ok := helpTopics()[args[0]]; ok {
					_, err := fmt.Fprint(cmd.OutOrStdout(), t.body)
					return err
				}
			}
			c, _, err := root.Find(args)
			if err != nil || c == nil || (c == root && len(args) > 0) {
				return usagef("topics: exit-codes, environment; commands: see gwcurl --help", "unknown help topic %q", strings.Join(args, " "))
			}
			return c.Help()
		},
	}
}
