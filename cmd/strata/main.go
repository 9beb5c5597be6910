// Command strata packages applications for Nomad, Consul and HAProxy so that
// many versions of one application run side by side. See the README.
package main

import (
	"os"

	"github.com/strata-dev/strata/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
