package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/release"
	"github.com/strata-dev/strata/internal/routing/grammar"
	"github.com/strata-dev/strata/internal/sweeper"
)

// versionStatus is one row of strata status.
type versionStatus struct {
	App       string `json:"app"`
	Version   string `json:"version"`
	Healthy   int    `json:"healthy"`
	Instances int    `json:"instances"`
	// Servers are the passing instances HAProxy routes: those with an IP
	// address and a port (grammar.Server). A version without one is not
	// routed: its cookies go to the live version, and it never takes new
	// sessions, even as the live version.
	Servers int  `json:"servers"`
	Live    bool `json:"live"`
	// Cohorts are the names of the cohorts HAProxy routes to the version.
	Cohorts []string `json:"cohorts"`
	// IgnoredCohorts are the cohorts naming the version that HAProxy
	// ignores, each with the reason.
	IgnoredCohorts []ignoredCohort `json:"ignored_cohorts,omitempty"`
	Sessions       int             `json:"sessions"` // -1 when not every HAProxy answered
	Age            string          `json:"age"`
	Draining       string          `json:"draining_since,omitempty"`
	Sweeper        string          `json:"sweeper"`
}

// haproxyStatus is one node's HAProxy in strata status.
type haproxyStatus struct {
	Node string `json:"node"`
	// Workers is the number of live HAProxy worker processes, current and
	// old, that the node's lbstats reported: more than one means old
	// workers still hold connections from before a reload. -1 when the
	// node's lbstats was not read.
	Workers int `json:"workers"`
	// Apply says whether the apply step that changes the node's HAProxy at
	// run time last succeeded: "ok", or "failing" (HAProxy may then not
	// route as Consul asks), and ApplyError why; empty when the node's
	// lbstats did not say.
	Apply      string `json:"apply,omitempty"`
	ApplyError string `json:"apply_error,omitempty"`
}

// haproxies lists the nodes that run an lbstats, with their worker counts.
func haproxies(nodes []sweeper.HAProxyNode) []haproxyStatus {
	out := []haproxyStatus{}
	for _, n := range nodes {
		if !n.LBStats {
			continue
		}
		h := haproxyStatus{Node: n.Name, Workers: n.Workers}
		switch {
		case n.Apply == nil:
		case n.Apply.Failing:
			h.Apply, h.ApplyError = "failing", n.Apply.LastError
		default:
			h.Apply = "ok"
		}
		if h.Workers == 0 {
			h.Workers = -1
		}
		out = append(out, h)
	}
	return out
}

// ignoredCohort is a cohort HAProxy does not route, and why.
type ignoredCohort struct {
	Name    string `json:"name"`
	Problem string `json:"problem"`
}

func (c *CLI) statusCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status [<app>]",
		Short: "Show every version: instances, live, cohorts, sessions, age, draining, what the sweeper would do",
		Long: `Status reads Nomad, Consul and every HAProxy's lbstats, like a dry run of the
sweeper, and prints a table per app: each running version's healthy and total
instances (Consul health checks), its servers (the passing instances HAProxy
routes: an IP address and a port; a version without one is not routed, and
is listed below the table), whether it is live, the cohorts HAProxy
routes to it (a cohort HAProxy ignores is listed below the table, with the
reason), its sessions on all HAProxies, its age, since when it drains, and
what the next sweep would do with it. Below the tables, every node's HAProxy
with its live worker processes, current and old: an old worker lives on while
it holds connections from before a reload.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			p, err := c.sweepPass(cmd)
			if err != nil {
				return err
			}
			src, inv, plan, now := p.src, p.inv, p.plan, p.now
			health := map[string]map[string]instances{}
			cohorts := map[string][]release.Cohort{}
			rows := []versionStatus{}
			for _, v := range plan.Verdicts {
				if len(args) == 1 && v.App != args[0] {
					continue
				}
				if _, ok := health[v.App]; !ok {
					health[v.App], err = instanceHealth(src.Consul, v.App)
					if err != nil {
						inv.Failures = append(inv.Failures, "Consul health of "+v.App+" ("+err.Error()+")")
					}
				}
				if _, ok := cohorts[v.App]; !ok {
					// The cohorts as HAProxy judges them, by the template's
					// rules: only those it routes count.
					cohorts[v.App], err = release.ListCohorts(cmd.Context(), src.Consul.KV(), src.Consul.Health(), v.App)
					if err != nil {
						inv.Failures = append(inv.Failures, "Consul cohorts of "+v.App+" ("+err.Error()+")")
					}
				}
				h := health[v.App][v.Version]
				row := versionStatus{App: v.App, Version: v.Version, Healthy: h.healthy, Instances: h.total, Servers: h.servers,
					Live: v.State == sweeper.StateLive, Sessions: v.Sessions, Sweeper: describeVerdict(v)}
				for _, j := range inv.Jobs {
					if j.ID == v.JobID {
						row.Age = now.Sub(j.FirstSubmit).Round(time.Minute).String()
					}
				}
				row.Cohorts = []string{}
				for _, co := range cohorts[v.App] {
					switch {
					case co.Version != v.Version:
					case co.Routed:
						row.Cohorts = append(row.Cohorts, co.Name)
					default:
						row.IgnoredCohorts = append(row.IgnoredCohorts, ignoredCohort{Name: co.Name, Problem: co.Problem})
					}
				}
				if !v.DrainingSince.IsZero() {
					row.Draining = v.DrainingSince.UTC().Format(time.RFC3339)
				}
				rows = append(rows, row)
			}
			rollouts := activeRollouts(cmd.Context(), src.Consul.KV(), rows, &inv.Failures)
			if output == "json" {
				enc := json.NewEncoder(c.Stdout)
				enc.SetIndent("", "  ")
				enc.Encode(struct {
					Versions  []versionStatus `json:"versions"`
					HAProxies []haproxyStatus `json:"haproxies"`
					Rollouts  []rolloutLine   `json:"rollouts,omitempty"`
					Failures  []string        `json:"failures,omitempty"`
				}{rows, haproxies(inv.Nodes), rollouts, inv.Failures})
			} else {
				c.printStatus(rows)
				c.printHAProxies(haproxies(inv.Nodes))
				printRolloutLines(c.Stdout, rollouts)
			}
			if len(inv.Failures) > 0 {
				return fmt.Errorf("could not read %s", strings.Join(inv.Failures, "; "))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	return cmd
}

// instances counts a version's instances in Consul.
type instances struct {
	healthy, total int
	// servers are the passing instances HAProxy's template makes servers
	// of: an IP address and a port (grammar.Server), the service's address
	// or else its node's, as the template reads it.
	servers int
}

// instanceHealth counts, per version, the passing, all, and the routed
// instances of an app's service: one request per app.
func instanceHealth(consul *consulapi.Client, app string) (map[string]instances, error) {
	entries, _, err := consul.Health().Service(app, naming.TagManaged, false, nil)
	if err != nil {
		return nil, err
	}
	out := map[string]instances{}
	for _, e := range entries {
		addr := e.Service.Address
		if addr == "" && e.Node != nil {
			addr = e.Node.Address
		}
		for _, tag := range e.Service.Tags {
			v, ok := strings.CutPrefix(tag, naming.VersionTagPrefix)
			if !ok {
				continue
			}
			h := out[v]
			h.total++
			if e.Checks.AggregatedStatus() == consulapi.HealthPassing {
				h.healthy++
				if grammar.Server(addr, e.Service.Port) {
					h.servers++
				}
			}
			out[v] = h
		}
	}
	return out, nil
}

func describeVerdict(v sweeper.Verdict) string {
	s := string(v.State)
	if v.Action != sweeper.ActionNone {
		s += ": would " + string(v.Action)
	}
	return s + " (" + v.Reason + ")"
}

func (c *CLI) printStatus(rows []versionStatus) {
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	app := ""
	for _, r := range rows {
		if r.App != app {
			if app != "" {
				fmt.Fprintln(tw)
			}
			app = r.App
			fmt.Fprintf(tw, "%s\nVERSION\tINSTANCES\tSERVERS\tLIVE\tCOHORTS\tSESSIONS\tAGE\tDRAINING SINCE\tSWEEPER\n", app)
		}
		live, sessions, draining := "", "?", r.Draining
		if r.Live {
			live = "live"
			if r.Servers == 0 {
				live = "live, not routed"
			}
		}
		if r.Sessions >= 0 {
			sessions = fmt.Sprint(r.Sessions)
		}
		if draining == "" {
			draining = "-"
		}
		fmt.Fprintf(tw, "%s\t%d/%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Version, r.Healthy, r.Instances, r.Servers, live, strings.Join(r.Cohorts, ","), sessions, r.Age, draining, r.Sweeper)
	}
	tw.Flush()
	for _, r := range rows {
		if r.Healthy > 0 && r.Servers == 0 {
			why := "its one passing instance has no IP address and port"
			if r.Healthy > 1 {
				why = fmt.Sprintf("none of its %d passing instances has an IP address and a port", r.Healthy)
			}
			goes := "its cookies go to the live version"
			if r.Live {
				goes = "new sessions, and its cookies, go to the newest version that has one"
			}
			fmt.Fprintf(c.Stdout, "%s: %s is not routed by HAProxy: %s, so it has no server: %s\n", r.App, r.Version, why, goes)
		}
		for _, ic := range r.IgnoredCohorts {
			fmt.Fprintf(c.Stdout, "%s: cohort %s (%s) is not routed by HAProxy: %s\n", r.App, release.Quote(ic.Name), r.Version, strings.TrimPrefix(ic.Problem, "ignored: "))
		}
	}
}

// printHAProxies prints the table of HAProxies and their workers, after a
// blank line; nothing when no node runs an lbstats.
func (c *CLI) printHAProxies(hs []haproxyStatus) {
	if len(hs) == 0 {
		return
	}
	fmt.Fprintln(c.Stdout)
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HAPROXY\tWORKERS\tAPPLY")
	for _, h := range hs {
		workers, apply := "?", "?"
		if h.Workers >= 0 {
			workers = fmt.Sprint(h.Workers)
		}
		switch h.Apply {
		case "":
		case "failing":
			apply = "failing: " + release.Quote(h.ApplyError)
		default:
			apply = h.Apply
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", h.Node, workers, apply)
	}
	tw.Flush()
}
