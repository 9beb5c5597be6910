package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Version is strata's version, set at build time with
// -ldflags "-X github.com/strata-dev/strata/internal/cli.Version=v1.2.3";
// otherwise the module version from the build information, or "dev".
var Version = ""

// describeVersion is what strata version prints after "strata ": the
// version, then the commit it was built from (vcs.revision, shortened),
// "+modified" when the working tree had uncommitted changes
// (vcs.modified), the commit time, and the Go version and platform.
func describeVersion(bi *debug.BuildInfo, ok bool) string {
	v := Version
	if v == "" && ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	if v == "" {
		v = "dev"
	}
	var details []string
	if ok {
		settings := map[string]string{}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
		if rev := settings["vcs.revision"]; rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if settings["vcs.modified"] == "true" {
				rev += "+modified"
			}
			commit := "commit " + rev
			if at := settings["vcs.time"]; at != "" {
				commit += " " + at
			}
			details = append(details, commit)
		} else {
			details = append(details, "commit unknown")
		}
	}
	details = append(details, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
	return fmt.Sprintf("%s (%s)", v, strings.Join(details, ", "))
}

func (c *CLI) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print strata's version and the commit it was built from",
		Long: `Version prints strata's version, the git commit it was built from (with
"+modified" when the tree had uncommitted changes) and its commit time, as
the Go toolchain recorded them in the binary, then the Go version and
platform. A binary built without version control information (go test, or
-buildvcs=false) says "commit unknown".`,
		RunE: func(*cobra.Command, []string) error {
			read := c.readBuildInfo
			if read == nil {
				read = debug.ReadBuildInfo
			}
			fmt.Fprintf(c.Stdout, "strata %s\n", describeVersion(read()))
			return nil
		},
	}
}
