package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	nomadapi "github.com/hashicorp/nomad/api"
	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/generator"
	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/planview"
	"github.com/strata-dev/strata/internal/sweeper"
)

func (c *CLI) planCmd() *cobra.Command {
	var format string
	var detailed, failOnRestart bool
	cmd := &cobra.Command{
		Use:   "plan [<app>...]",
		Short: "Show what strata.yaml would change in the cluster, with Nomad's plan API",
		Long: `Plan sends every job strata.yaml renders (or those of the apps named) to
Nomad's plan endpoint with diffs (NOMAD_ADDR, NOMAD_TOKEN), and prints what
would change exactly as nomad job plan prints it: fields added, removed and
changed, each task group's allocation changes ("1 create/destroy update, 1
ignore"), placement failures and Nomad's warnings. A version the sweeper
stopped or purged that the plan would start again is called so. Every job is
planned even when Nomad refuses one: the refusal is printed with Nomad's
error, and plan exits 1 once everything is printed. It also lists the
managed jobs in the cluster that strata.yaml no longer has: the sweeper
retires those once idle. Nothing is registered.

Each change that replaces running allocations is said plainly: which
versions of which app restart, and that their sessions are cut.

--output (-o) markdown is ready to post as a pull-request comment or a CI job
summary: it fits in a GitHub comment (65,536 characters), keeping the table
and every destructive change's diff first and summarizing the rest.

Exit codes: 0, even with changes; with --detailed-exitcode, 0 when nothing
changes, 2 when something does (and only then), 1 on an error; 64 when the
command line is wrong. With --fail-on-restart: 3 when a change restarts
running versions of an app or strata's HAProxy job (before 2; an error is
still 1).`,
		Example: `  strata plan
  strata plan web -o markdown --detailed-exitcode
  strata plan --fail-on-restart`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, apps []string) error {
			format, err := checkOutputOf(cmd, format, "text", "markdown", "json")
			if err != nil {
				return err
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
			// Every job is planned, whatever happens to the others: a job
			// Nomad refuses is reported with Nomad's error, and the command
			// fails only once everything is printed.
			var plans []planview.Job
			known := map[string]bool{}
			for _, j := range jobs {
				known[*j.ID] = true
				pj := planview.Job{ID: *j.ID, App: j.Meta[naming.MetaApp], Version: j.Meta[naming.MetaVersion], Kind: j.Meta[naming.MetaKind]}
				resp, _, err := src.Nomad.Jobs().PlanOpts(j, &nomadapi.PlanOptions{Diff: true},
					(&nomadapi.WriteOptions{Namespace: src.Namespace}).WithContext(cmd.Context()))
				if err != nil {
					pj.Error = planview.NomadError(err)
				} else {
					pj.Plan = resp
				}
				plans = append(plans, pj)
			}
			var failures []string
			var orphans []planview.Orphan
			stubs, _, err := src.Nomad.Jobs().List((&nomadapi.QueryOptions{Namespace: src.Namespace, Filter: sweeper.ManagedFilter,
				Params: map[string]string{"meta": "true"}}).WithContext(cmd.Context()))
			if err != nil {
				failures = append(failures, "listing the managed jobs: "+planview.NomadError(err))
			}
			var cluster []planview.Seen
			for _, s := range stubs {
				app := s.Meta[naming.MetaApp]
				cluster = append(cluster, planview.Seen{ID: s.ID, App: app, Version: s.Meta[naming.MetaVersion], Stopped: s.Stop})
				if known[s.ID] || s.Stop || (len(apps) > 0 && !slices.Contains(apps, app)) {
					continue
				}
				orphans = append(orphans, planview.Orphan{ID: s.ID, App: app, Version: s.Meta[naming.MetaVersion]})
			}
			live := map[string]string{}
			for _, a := range cfg.Apps {
				live[a.Name] = a.Live
			}
			planview.MarkReturns(plans, cluster, live, naming.CompareVersions)
			// What HAProxy would serve differently: rendered against
			// Consul with the running job's templates and the planned ones.
			var routingDiff map[string][]string
			for _, j := range jobs {
				if *j.ID != generator.HAProxyJobID {
					continue
				}
				addr, _ := c.lookupEnv("CONSUL_HTTP_ADDR")
				if routingDiff, err = haproxyChange(cmd.Context(), src, addr, j); err != nil {
					failures = append(failures, "the HAProxy configuration change: "+err.Error())
				}
			}
			switch format {
			case "markdown":
				fmt.Fprint(c.Stdout, planview.Markdown(plans, orphans, routingSections(routingDiff)...))
			case "json":
				enc := json.NewEncoder(c.Stdout)
				enc.SetIndent("", "  ")
				enc.Encode(struct {
					Jobs     []planview.Job    `json:"jobs"`
					Orphans  []planview.Orphan `json:"not_in_config"`
					Failures []string          `json:"failures,omitempty"`
				}{plans, orphans, failures})
			default:
				fmt.Fprint(c.Stdout, planview.Text(plans, orphans))
				writeRoutingDiff(c, routingDiff)
			}
			for _, p := range plans {
				if p.Error != "" {
					failures = append(failures, p.ID+" could not be planned")
				}
			}
			if len(failures) > 0 {
				return errors.New(strings.Join(failures, "; "))
			}
			changed := len(orphans) > 0 || len(routingDiff) > 0
			for _, p := range plans {
				changed = changed || p.Changed()
			}
			if cuts := planview.SessionCuts(plans); failOnRestart && len(cuts) > 0 {
				return restartsError{cuts}
			}
			if detailed && changed {
				return changesError{}
			}
			return nil
		},
	}
	outputFlag(cmd, &format, "text", "markdown", "json")
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 0 when nothing changes, 2 when something does, 1 on an error (64: a wrong command line)")
	cmd.Flags().BoolVar(&failOnRestart, "fail-on-restart", false, "exit 3 when a change replaces running allocations of an app's versions or of the HAProxy job (their sessions are cut)")
	return cmd
}

// routingFiles are the HAProxy files a plan compares, in the order shown:
// today's templates render haproxy.cfg and routing.intent; a job rendered
// before hitless routing had versions.map.
var routingFiles = []string{"haproxy.cfg", "routing.intent", "versions.map"}

// writeRoutingDiff prints the HAProxy files that would change.
func writeRoutingDiff(c *CLI, diffs map[string][]string) {
	for _, file := range routingFiles {
		if d, ok := diffs[file]; ok {
			fmt.Fprintf(c.Stdout, "\nHAProxy %s would change (rendered against Consul now):\n%s\n", file, strings.Join(d, "\n"))
		}
	}
}

// routingSections are the HAProxy files that would change, as sections of
// the Markdown report, which its size guard may summarize.
func routingSections(diffs map[string][]string) []planview.Section {
	var out []planview.Section
	for _, file := range routingFiles {
		d, ok := diffs[file]
		if !ok {
			continue
		}
		out = append(out, planview.Section{
			Body:    fmt.Sprintf("\n<details><summary>HAProxy <code>%s</code> changes</summary>\n\n```diff\n%s\n```\n</details>\n", file, strings.Join(d, "\n")),
			Summary: fmt.Sprintf("HAProxy `%s`: %d lines of diff left out", file, len(d)),
		})
	}
	return out
}
