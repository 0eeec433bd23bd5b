// Command gwcurl is curl for services behind cloud authentication.
package main

import (
	"os"

	"github.com/gwcurl/gwcurl/internal/cli"
)

func main() { os.Exit(cli.Main()) }
