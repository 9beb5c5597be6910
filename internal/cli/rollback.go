package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/release"
)

func (c *CLI) rollbackCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rollback <app>",
		Short: "Give new sessions the previous live version again",
		Long: `Rollback sets strata/<app>/live back to the newest version in
strata/<app>/history that still has a passing instance in Consul's catalog and
is not draining, and removes it (and the newer entries it skipped) from the
history, in one check-and-set transaction. It says which entries it skipped
and why. Sessions already pinned to a version stay on it.

It fails when the history holds nothing to go back to.`,
		Example: `  strata rollback web`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			app := args[0]
			_, client, err := c.releaseTarget(cmd, app)
			if err != nil {
				return err
			}
			from, to, skipped, err := release.Rollback(cmd.Context(), client.KV(), client.Health(), app)
			// Versions from KV's history and live key are shown through
			// release.Quote: they could hold escape sequences.
			for _, s := range skipped {
				fmt.Fprintf(c.Stderr, "strata: %s: skipped %s: %s\n", app, release.Quote(s.Version), s.Reason)
			}
			if err != nil {
				return releaseError(err)
			}
			from = release.Quote(from)
			if from == "" {
				from = "(not set)"
			}
			fmt.Fprintf(c.Stdout, "%s: rolled back from %s to %s\n", app, from, to)
			return nil
		},
	}
}
