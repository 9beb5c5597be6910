package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/release"
)

func (c *CLI) cohortCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cohort",
		Short: "Let users opt in to a version: set, remove and list cohorts",
		Long: `A cohort is strata/<app>/cohorts/<name> in Consul KV (CONSUL_HTTP_ADDR,
CONSUL_HTTP_TOKEN): a GET on its opt-in path pins the session to the cohort's
version (a redirect to / with the version cookie set), a GET on its opt-out
path unpins it. HAProxy picks changes up without a redeploy.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(c.cohortSetCmd(), c.cohortRmCmd(), c.cohortLsCmd())
	for _, sub := range cmd.Commands() {
		sub.Args = wrapArgs(sub.Args)
	}
	return cmd
}

func (c *CLI) cohortSetCmd() *cobra.Command {
	var optIn, optOut string
	cmd := &cobra.Command{
		Use:   "set <app> <name> <version> --opt-in /path [--opt-out /path]",
		Short: "Create or replace a cohort",
		Long: `Set creates or replaces a cohort. The name is lowercase letters, digits
and '-' (at most 64); paths start with '/' and hold letters, digits, '.', '_',
'~', '/' and '-' (the grammar HAProxy's template accepts), and neither may be
"/" or another cohort's path. The version must have a passing instance in
Consul's catalog and must not be draining.`,
		Example: `  strata cohort set web pro v11 --opt-in /trypro --opt-out /leavepro`,
		Args:    cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			app, name, version := args[0], args[1], args[2]
			_, client, err := c.releaseTarget(cmd, app)
			if err != nil {
				return err
			}
			if err := release.SetCohort(cmd.Context(), client.KV(), client.Health(), app, name, version, optIn, optOut); err != nil {
				return releaseError(err)
			}
			fmt.Fprintf(c.Stdout, "%s: cohort %s: GET %s pins sessions to %s", app, name, optIn, version)
			if optOut != "" {
				fmt.Fprintf(c.Stdout, ", GET %s unpins them", optOut)
			}
			fmt.Fprintln(c.Stdout)
			return nil
		},
	}
	cmd.Flags().StringVar(&optIn, "opt-in", "", "path whose GET pins a session to the version (required)")
	cmd.Flags().StringVar(&optOut, "opt-out", "", "path whose GET unpins a session")
	return cmd
}

func (c *CLI) cohortRmCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "rm <app> <name>",
		Short:   "Remove a cohort (sessions already pinned stay where they are)",
		Example: `  strata cohort rm web pro`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			app, name := args[0], args[1]
			_, client, err := c.releaseTarget(cmd, app)
			if err != nil {
				return err
			}
			if err := release.RemoveCohort(cmd.Context(), client.KV(), app, name); err != nil {
				return releaseError(err)
			}
			fmt.Fprintf(c.Stdout, "%s: cohort %s removed\n", app, name)
			return nil
		},
	}
}

func (c *CLI) cohortLsCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "ls [<app>]",
		Short: "List cohorts, of one app or of every web app",
		Long: `Ls lists cohorts sorted by app and name. A cohort HAProxy ignores (a bad
name, value, version or path, or a version without a passing instance or
draining) is listed with the reason, never hidden.`,
		Example: `  strata cohort ls
  strata cohort ls web --output json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			cfg, err := c.load(cmd)
			if err != nil {
				return err
			}
			var apps []*config.App
			if len(args) == 1 {
				a, err := releaseApp(cfg, args[0])
				if err != nil {
					return err
				}
				apps = append(apps, a)
			} else {
				for _, a := range cfg.Apps {
					if a.Kind == config.KindWeb {
						apps = append(apps, a)
					}
				}
			}
			client, err := c.consulClient()
			if err != nil {
				return err
			}
			cohorts := []release.Cohort{}
			for _, a := range apps {
				cs, err := release.ListCohorts(cmd.Context(), client.KV(), client.Health(), a.Name)
				if err != nil {
					return releaseError(err)
				}
				cohorts = append(cohorts, cs...)
			}
			if output == "json" {
				enc := json.NewEncoder(c.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(cohorts)
			}
			tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "APP\tNAME\tVERSION\tOPT-IN\tOPT-OUT\tSTATUS")
			for _, co := range cohorts {
				// Every value but the app comes from Consul KV: Quote
				// escapes what could steer the terminal or break the table.
				status := co.Problem
				switch {
				case co.Routed && co.Problem == "":
					status = "routed"
				case co.Routed:
					status = "routed; " + co.Problem
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", co.App, shown(co.Name), shown(co.Version), shown(co.OptIn), shown(co.OptOut), status)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	return cmd
}

// shown is a value read from Consul as a table cell: "-" when empty,
// otherwise release.Quote's safe form.
func shown(s string) string {
	if s == "" {
		return "-"
	}
	return release.Quote(s)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
