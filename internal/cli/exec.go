package cli

import (
	"os/exec"
	"strings"
)

// startCommand runs a browser command line with the URL as its last
// argument, without waiting for it (a browser may live on).
func startCommand(cmdline, arg string) error {
	fields := strings.Fields(cmdline)
	if len(fields) == 0 {
		return nil
	}
	cmd := exec.Command(fields[0], append(fields[1:], arg)...)
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait() //nolint:errcheck // reap the child; its exit status is not ours to report
	return nil
}
