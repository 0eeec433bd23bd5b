package cli

import "github.com/spf13/cobra"

// extraCommands lists the commands beyond the request, profiles, version and
// demo commands, in help order.
func extraCommands(f *Factory, profile *string) []*cobra.Command {
	return []*cobra.Command{
		newCmdLogin(f, profile),
		newCmdLogout(f, profile),
		newCmdToken(f, profile),
		newCmdWhoami(f, profile),
		newCmdPresign(f, profile),
		newCmdRun(f, profile),
		newCmdWS(f, profile),
		newCmdExplain(f),
		newCmdGateway(f),
	}
}
