package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/sweeper"
)

func (c *CLI) sweepCmd() *cobra.Command {
	var dryRun bool
	var output string
	cmd := &cobra.Command{
		Use:   "sweep",
		Short: "Retire versions nobody uses any more: one pass, in two phases",
		Long: `Sweep makes one pass of the sweeper against Nomad (NOMAD_ADDR, NOMAD_TOKEN;
the namespace of strata.yaml, else NOMAD_NAMESPACE, else default), Consul
(CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN) and the lbstats sidecar of every
HAProxy. A web version that is not live, not a cohort's target, not among the
newest 'keep', older than 'min_age' and without a session on any HAProxy is
first drained (strata/<app>/draining/<version>: its cookies go to the live
version); 'drain_grace' later, if every HAProxy still reports 0 sessions, its
Nomad job is deregistered. Anything that cannot be read means nothing is
retired, and so does an HAProxy's node whose Consul agent is down (its
HAProxy would not see a drain) or where Nomad runs the strata-haproxy job
but Consul's catalog lists no HAProxy. It prints, per version, its state,
the reason and what it did.

It exits 0 when the pass ran, 1 when a source could not be read, an
HAProxy's node is in doubt or an action failed (nothing half-done is left: a
failed stop leaves the version draining for the next pass), 64 when the
command line is wrong.`,
		Example: `  strata sweep --dry-run
  strata sweep --output json`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			p, err := c.sweepPass(cmd)
			if err != nil {
				return err
			}
			src, inv, idx, calls, plan, now := p.src, p.inv, p.idx, p.calls, p.plan, p.now
			var results []sweeper.Result
			if !dryRun {
				results = sweeper.Apply(cmd.Context(), src, plan, idx, now)
			}
			c.printSweep(output, plan, results, calls, dryRun)
			var failed []string
			failed = append(failed, inv.Failures...)
			failed = append(failed, plan.Doubts...)
			for _, r := range results {
				if r.Err != nil {
					failed = append(failed, r.Err.Error())
				}
			}
			if len(failed) > 0 {
				return errors.New(strings.Join(failed, "; "))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "decide and print, change nothing")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text (a table) or json")
	return cmd
}

// pass is one gathered and decided pass of the sweeper.
type pass struct {
	src   sweeper.Sources
	inv   sweeper.Inventory
	idx   sweeper.Indexes
	calls sweeper.Calls
	plan  sweeper.Plan
	now   time.Time
}

// sweepPass loads strata.yaml, gathers an inventory and decides: what sweep
// applies and status shows.
func (c *CLI) sweepPass(cmd *cobra.Command) (pass, error) {
	cfg, err := c.load(cmd)
	if err != nil {
		return pass{}, err
	}
	src, err := c.sources(cfg)
	if err != nil {
		return pass{}, err
	}
	p := pass{src: src, now: time.Now()}
	p.inv, p.idx, p.calls = sweeper.Gather(cmd.Context(), src, p.now)
	p.plan = sweeper.Decide(p.inv, SweeperConfig(cfg), p.now)
	return p, nil
}

// SweeperConfig turns strata.yaml into the sweeper's policies: each app's
// finalized retirement policy, and config.DefaultRetire for apps strata.yaml
// no longer has. Their kind is not known, so they get a web app's defaults,
// which keep more versions than a worker's.
func SweeperConfig(cfg *config.Config) sweeper.Config {
	sc := sweeper.Config{Policies: map[string]sweeper.Policy{}, Versions: map[string][]string{}, Live: map[string]string{},
		Default: config.DefaultRetire(config.KindWeb)}
	for _, a := range cfg.Apps {
		sc.Policies[a.Name] = a.Retire
		sc.Versions[a.Name] = a.Versions
		if a.Live != "" {
			sc.Live[a.Name] = a.Live
		}
	}
	return sc
}

func (c *CLI) printSweep(output string, plan sweeper.Plan, results []sweeper.Result, calls sweeper.Calls, dry bool) {
	done := map[string]sweeper.Result{}
	for _, r := range results {
		done[r.Verdict.JobID] = r
	}
	if output == "json" {
		rows := []sweepRow{}
		for _, v := range plan.Verdicts {
			r := sweepRow{App: v.App, Version: v.Version, JobID: v.JobID, Namespace: v.Namespace, Kind: v.Kind,
				State: string(v.State), Reason: v.Reason, Sessions: v.Sessions, Action: string(v.Action), Purge: v.Purge, Orphan: v.Orphan}
			if !v.DrainingSince.IsZero() {
				r.DrainingSince = v.DrainingSince.UTC().Format(time.RFC3339)
			}
			if res, ok := done[v.JobID]; ok {
				r.Result = res.Note
				if res.Err != nil {
					r.Error = res.Err.Error()
				}
			}
			rows = append(rows, r)
		}
		enc := json.NewEncoder(c.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(struct {
			DryRun   bool       `json:"dry_run"`
			Versions []sweepRow `json:"versions"`
			// Doubts say why no web version was retired although every
			// source answered (sweeper.Plan.Doubts).
			Doubts []string   `json:"doubts,omitempty"`
			Calls  sweepCalls `json:"api_calls"`
		}{dry, rows, plan.Doubts, sweepCalls{Nomad: calls.Nomad, Consul: calls.Consul, LBStats: calls.LBStats, Total: calls.Total()}})
		return
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tVERSION\tSTATE\tSESSIONS\tACTION\tREASON")
	for _, v := range plan.Verdicts {
		sessions := "-"
		if v.Sessions >= 0 {
			sessions = fmt.Sprint(v.Sessions)
		}
		action := string(v.Action)
		if action == "" {
			action = "-"
		} else if dry {
			action += " (dry run)"
		} else if r, ok := done[v.JobID]; ok {
			if r.Err != nil {
				action += ": failed: " + r.Err.Error()
			} else {
				action += ": " + r.Note
			}
		}
		state := string(v.State)
		if v.State == sweeper.StateDraining && !v.DrainingSince.IsZero() {
			state += " since " + v.DrainingSince.UTC().Format(time.RFC3339)
		}
		if v.Orphan {
			state += " (not in strata.yaml)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.App, v.Version, state, sessions, action, v.Reason)
	}
	tw.Flush()
	fmt.Fprintf(c.Stdout, "%d API calls (Nomad %d, Consul %d, lbstats %d)\n", calls.Total(), calls.Nomad, calls.Consul, calls.LBStats)
}

// sweepRow is one version in sweep --output json. Its keys are snake_case,
// like every key of strata's JSON output.
type sweepRow struct {
	App       string `json:"app"`
	Version   string `json:"version"`
	JobID     string `json:"job_id"`
	Namespace string `json:"namespace"`
	Kind      string `json:"kind"`
	State     string `json:"state"`
	Reason    string `json:"reason"`
	// Sessions is -1 when not every HAProxy answered.
	Sessions      int    `json:"sessions"`
	DrainingSince string `json:"draining_since,omitempty"`
	Action        string `json:"action,omitempty"`
	Purge         bool   `json:"purge,omitempty"`
	// Orphan is set for a version strata.yaml no longer lists.
	Orphan bool   `json:"orphan,omitempty"`
	Result string `json:"result,omitempty"`
	Error  string `json:"error,omitempty"`
}

// sweepCalls counts a pass's requests in sweep --output json.
type sweepCalls struct {
	Nomad   int `json:"nomad"`
	Consul  int `json:"consul"`
	LBStats int `json:"lbstats"`
	Total   int `json:"total"`
}
