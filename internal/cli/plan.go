package cli

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	nomadapi "github.com/hashicorp/nomad/api"
	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/generator"
	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/planview"
	"github.com/strata-dev/strata/internal/sweeper"
)

// exitPlanChanges is plan's exit code with --detailed-exitcode when the
// cluster would change (0: no change, 1: error), as terraform does; users of
// nomad job plan complain that its 1 means both changes and error.
const exitPlanChanges = 2

func (c *CLI) planCmd() *cobra.Command {
	var format string
	var detailed bool
	cmd := &cobra.Command{
		Use:   "plan [<app>...]",
		Short: "Show what strata.yaml would change in the cluster, with Nomad's plan API",
		Long: `Plan sends every job strata.yaml renders (or those of the apps named) to
Nomad's plan endpoint with diffs (NOMAD_ADDR, NOMAD_TOKEN), and prints what
would change in the style of nomad job plan: fields added, removed and
changed, and whether allocations would be created, replaced or updated in
place, and placement failures. It also lists the managed jobs in the cluster
that strata.yaml no longer has: the sweeper retires those once idle. Nothing
is registered.

--format markdown is ready to post as a pull-request comment or a CI job
summary. Exit codes: 0, even with changes; with --detailed-exitcode, 0 when
nothing changes, 2 when something does, 1 on an error.`,
		Example: `  strata plan
  strata plan web --format markdown --detailed-exitcode`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, apps []string) error {
			if format != "text" && format != "markdown" && format != "json" {
				return usageError{fmt.Errorf("--format %q: expected text, markdown or json", format)}
			}
			cfg, err := c.load(cmd)
			if err != nil {
				return err
			}
			for _, a := range apps {
				if cfg.App(a) == nil {
					return usageError{fmt.Errorf("%s has no app %q", cfg.File, a)}
				}
			}
			jobs := generator.Jobs(cfg)
			if len(apps) == 0 {
				own, err := generator.OwnJobs(cfg)
				if err != nil {
					return err
				}
				jobs = append(jobs, own...)
			} else {
				jobs = slices.DeleteFunc(jobs, func(j *nomadapi.Job) bool { return !slices.Contains(apps, j.Meta[naming.MetaApp]) })
			}
			src, err := c.sources(cfg)
			if err != nil {
				return err
			}
			var plans []planview.Job
			known := map[string]bool{}
			for _, j := range jobs {
				known[*j.ID] = true
				resp, _, err := src.Nomad.Jobs().PlanOpts(j, &nomadapi.PlanOptions{Diff: true},
					(&nomadapi.WriteOptions{Namespace: src.Namespace}).WithContext(cmd.Context()))
				if err != nil {
					return fmt.Errorf("planning %s: %w", *j.ID, err)
				}
				plans = append(plans, planview.Job{ID: *j.ID, Plan: resp})
			}
			stubs, _, err := src.Nomad.Jobs().List((&nomadapi.QueryOptions{Namespace: src.Namespace, Filter: sweeper.ManagedFilter,
				Params: map[string]string{"meta": "true"}}).WithContext(cmd.Context()))
			if err != nil {
				return fmt.Errorf("listing the managed jobs: %w", err)
			}
			var orphans []planview.Orphan
			for _, s := range stubs {
				app := s.Meta[naming.MetaApp]
				if known[s.ID] || s.Stop || (len(apps) > 0 && !slices.Contains(apps, app)) {
					continue
				}
				orphans = append(orphans, planview.Orphan{ID: s.ID, App: app, Version: s.Meta[naming.MetaVersion]})
			}
			// What HAProxy would serve differently: rendered against
			// Consul with the running job's templates and the planned ones.
			var routingDiff map[string][]string
			for _, j := range jobs {
				if *j.ID != generator.HAProxyJobID {
					continue
				}
				addr, _ := c.lookupEnv("CONSUL_HTTP_ADDR")
				if routingDiff, err = haproxyChange(cmd.Context(), src, addr, j); err != nil {
					return fmt.Errorf("the HAProxy configuration change: %w", err)
				}
			}
			switch format {
			case "markdown":
				fmt.Fprint(c.Stdout, planview.Markdown(plans, orphans))
				writeRoutingDiff(c, routingDiff, true)
			case "json":
				enc := json.NewEncoder(c.Stdout)
				enc.SetIndent("", "  ")
				enc.Encode(struct {
					Jobs    []planview.Job    `json:"jobs"`
					Orphans []planview.Orphan `json:"not_in_config"`
				}{plans, orphans})
			default:
				fmt.Fprint(c.Stdout, planview.Text(plans, orphans))
				writeRoutingDiff(c, routingDiff, false)
			}
			changed := len(orphans) > 0 || len(routingDiff) > 0
			for _, p := range plans {
				changed = changed || p.Changed()
			}
			if detailed && changed {
				return &exitError{code: exitPlanChanges, err: fmt.Errorf("")}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text, markdown or json")
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 0 when nothing changes, 2 when something does, 1 on an error")
	return cmd
}

// writeRoutingDiff prints the HAProxy files that would change.
func writeRoutingDiff(c *CLI, diffs map[string][]string, markdown bool) {
	for _, file := range []string{"haproxy.cfg", "versions.map"} {
		d, ok := diffs[file]
		if !ok {
			continue
		}
		if markdown {
			fmt.Fprintf(c.Stdout, "\n<details><summary>HAProxy <code>%s</code> changes</summary>\n\n```diff\n%s\n```\n</details>\n", file, strings.Join(d, "\n"))
			continue
		}
		fmt.Fprintf(c.Stdout, "\nHAProxy %s would change (rendered against Consul now):\n%s\n", file, strings.Join(d, "\n"))
	}
}
