package sweeper

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/strata-dev/strata/internal/applystats"
	"github.com/strata-dev/strata/internal/naming"
)

// Kind of an app, as in job meta strata.kind.
const (
	KindWeb    = "web"
	KindWorker = "worker"
)

// Job is one managed Nomad job: a version of an app.
type Job struct {
	ID, Namespace string
	App, Version  string
	Kind          string
	// FirstSubmit is when the job's first version was submitted: the
	// version's age.
	FirstSubmit time.Time
	// Stopped is true for a job Nomad already stopped (not purged).
	Stopped bool
	// DeploymentFailed is true when the job's latest deployment failed (a
	// crash loop, a progress deadline missed); DeploymentDescription is
	// Nomad's reason. A job whose deployment was not read, or could not be,
	// is not taken as failed.
	DeploymentFailed      bool
	DeploymentDescription string
}

// Deployment is what the sweeper knows of a worker version's latest
// deployment.
type Deployment struct {
	// Healthy is true once the deployment succeeded.
	Healthy bool
	// Since is when it became healthy.
	Since time.Time
}

// Inventory is everything one pass of the sweeper read. Maps are keyed by app,
// then version.
type Inventory struct {
	Jobs []Job
	// Live is strata/<app>/live, when set and valid.
	Live map[string]string
	// Cohorts are the versions cohorts target, per app.
	Cohorts map[string][]string
	// Rollouts are the candidates of rollouts in progress (running or
	// paused, strata/<app>/rollout), per app.
	Rollouts map[string]string
	// Draining holds strata/<app>/draining/<version>: since when.
	Draining map[string]map[string]time.Time
	// Sessions per version, summed over every HAProxy and all its workers.
	Sessions map[string]map[string]int
	// SessionsComplete is true only if every registered lbstats instance
	// answered; otherwise no web version is provably idle.
	SessionsComplete bool
	// Nodes are the nodes where the catalog lists an HAProxy or an lbstats,
	// healthy or not, with their own checks.
	Nodes []HAProxyNode
	// HAProxyAllocs are the allocations of the HAProxy system job Nomad
	// runs, has lost, or cannot reach: where an HAProxy runs, or recently
	// ran, whatever Consul's catalog says.
	HAProxyAllocs []HAProxyAlloc
	// Deployments of worker versions, by app and version.
	Deployments map[string]map[string]Deployment
	// Failures are the sources that could not be read. Any failure stops
	// every drain and stop.
	Failures []string
}

// HAProxyNode is a node where Consul's catalog lists an HAProxy or its
// lbstats sidecar, as one pass found it.
type HAProxyNode struct {
	Name string
	// HAProxy and LBStats say which of the two the catalog lists on it.
	HAProxy, LBStats bool
	// Workers is the number of live HAProxy worker processes, current and
	// old, that the node's lbstats reported; 0 when it was not read.
	Workers int
	// Apply holds the counters of the apply step that changes the node's
	// HAProxy at run time, as its lbstats reported them (Failing: its last
	// step failed, and LastError, as the sidecar sent it, says why: print
	// it quoted); nil when the report carried none.
	Apply *applystats.Stats
	// Failing are the node's own checks (not a service's) that are not
	// passing, as "serfHealth is critical": the node's Consul agent is
	// down, or the node is in maintenance.
	Failing []string
}

// HAProxyAlloc is one allocation of the HAProxy system job, as Nomad lists
// it.
type HAProxyAlloc struct {
	// Node is the Nomad node's name.
	Node string
	// Status is the allocation's client status: running, or unknown (its
	// node disconnected) or lost (its node is down): an HAProxy that may
	// still route with what it last rendered.
	Status string
}

// Policy is how one app's versions are retired.
type Policy struct {
	// Keep is how many of the newest versions are never retired.
	Keep int
	// MinAge protects versions younger than this.
	MinAge time.Duration
	// DrainGrace is how long a version drains before it may be stopped.
	DrainGrace time.Duration
	// HandoffGrace is how long a worker's newest version must have been
	// healthy before older ones are stopped.
	HandoffGrace time.Duration
	// MaxRetirePerRun bounds the drains, and separately the stops, of one
	// app in one pass; 0 means no bound.
	MaxRetirePerRun int
	// Purge deregisters with purge, dropping the job's history.
	Purge bool
}

// Config is what strata.yaml says: a policy and the versions of each app, and
// the default policy for apps it no longer has.
type Config struct {
	Policies map[string]Policy
	// Versions and Live are the configured versions and live version, per
	// app.
	Versions map[string][]string
	Live     map[string]string
	// Default applies to managed jobs of apps strata.yaml no longer has.
	Default Policy
}

// State is a version's standing after a pass.
type State string

// States, as the sweep's table prints them.
const (
	StateLive       State = "live"
	StateCohort     State = "cohort"
	StateRollout    State = "rollout candidate"
	StateNewestKept State = "newest-kept"
	StateTooYoung   State = "too young"
	StateBusy       State = "busy"
	StateDraining   State = "draining"
	StateIdle       State = "idle"
	StateRetiring   State = "retiring"
	StateStopped    State = "stopped"
	StateWaiting    State = "waiting"
	StateUnknown    State = "unknown"
)

// Action is what the sweeper does to a version.
type Action string

// Actions.
const (
	ActionNone       Action = ""
	ActionDrain      Action = "drain"
	ActionAbortDrain Action = "abort-drain"
	ActionStop       Action = "stop"
)

// Verdict is the decision about one version.
type Verdict struct {
	App, Version, JobID, Namespace string
	Kind                           string
	State                          State
	// Reason says why, for a person reading the table.
	Reason string
	// Sessions is the session count, -1 when it is not known.
	Sessions int
	// DrainingSince is set for a draining version.
	DrainingSince time.Time
	Action        Action
	// Purge is set on a stop when the policy purges.
	Purge bool
	// Orphan is true for a version strata.yaml no longer lists.
	Orphan bool
}

// Plan is a pass's verdicts, apps by name and versions oldest first.
type Plan struct {
	Verdicts []Verdict
	// Doubts say why no web version is provably idle although every source
	// answered: an HAProxy's node that is not provably healthy and
	// reporting. While there is one, no web version is drained or stopped.
	Doubts []string
}

// Actions returns the verdicts that do something.
func (p Plan) Actions() []Verdict {
	var out []Verdict
	for _, v := range p.Verdicts {
		if v.Action != ActionNone {
			out = append(out, v)
		}
	}
	return out
}

// Decide decides, for every managed job in inv, what this pass does.
func Decide(inv Inventory, cfg Config, now time.Time) Plan {
	byApp := map[string][]Job{}
	for _, j := range inv.Jobs {
		byApp[j.App] = append(byApp[j.App], j)
	}
	apps := make([]string, 0, len(byApp))
	for a := range byApp {
		apps = append(apps, a)
	}
	slices.Sort(apps)

	plan := Plan{Doubts: NodeDoubts(inv.Nodes, inv.HAProxyAllocs)}
	for _, app := range apps {
		jobs := byApp[app]
		slices.SortFunc(jobs, func(a, b Job) int { return naming.CompareVersions(a.Version, b.Version) })
		policy, known := cfg.Policies[app]
		if !known {
			policy = cfg.Default
		}
		plan.Verdicts = append(plan.Verdicts, decideApp(app, jobs, inv, cfg, policy, known, plan.Doubts, now)...)
	}
	return plan
}

// NodeDoubts says, per node, why its HAProxy cannot be trusted to have
// dropped a draining version or to have reported every session of it:
//   - a node whose own checks do not pass in Consul's catalog (serfHealth
//     critical: its Consul agent is down, so its HAProxy never sees
//     strata/<app>/draining/<version> and keeps sending the version's cookies
//     to it, and its lbstats may report sessions of a stale configuration);
//   - an HAProxy without its lbstats, whose sessions nobody counts;
//   - an HAProxy whose apply step is failing (its lbstats says so): it may
//     still send a draining version's cookies to it;
//   - an HAProxy allocation Nomad reports unknown or lost: the node may still
//     route, unseen;
//   - fewer nodes with an HAProxy and an lbstats in Consul's catalog than
//     nodes where Nomad runs the HAProxy job: a node Consul removed (a dead
//     server that autopilot cleaned up, a node that force-left) is out of the
//     catalog's sight, but not out of Nomad's.
func NodeDoubts(nodes []HAProxyNode, allocs []HAProxyAlloc) []string {
	var out []string
	listed := map[string]bool{}
	for _, n := range nodes {
		switch {
		case len(n.Failing) > 0:
			what := "its HAProxy"
			if !n.HAProxy {
				what = "its lbstats"
			}
			out = append(out, fmt.Sprintf("node %s: %s (its Consul agent is down or it is in maintenance: %s may not see a drain)",
				n.Name, strings.Join(n.Failing, ", "), what))
		case n.HAProxy && !n.LBStats:
			out = append(out, "node "+n.Name+": an HAProxy without its lbstats (nobody counts its sessions)")
		case n.Apply != nil && n.Apply.Failing:
			out = append(out, "node "+n.Name+": its HAProxy's apply step is failing (it may still route a draining version; strata status says why)")
		}
		if n.HAProxy && n.LBStats {
			listed[n.Name] = true
		}
	}
	running := map[string]bool{}
	for _, a := range allocs {
		switch a.Status {
		case "running":
			running[a.Node] = true
		case "unknown", "lost":
			out = append(out, fmt.Sprintf("node %s: Nomad reports its HAProxy allocation %s (it may still route, unseen)", a.Node, a.Status))
		}
	}
	if len(listed) < len(running) {
		var missing []string
		for n := range running {
			if !listed[n] {
				missing = append(missing, n)
			}
		}
		slices.Sort(missing)
		msg := fmt.Sprintf("Nomad runs the HAProxy job on %d nodes, Consul's catalog lists an HAProxy with its lbstats on %d", len(running), len(listed))
		if len(missing) > 0 {
			msg += " (not on " + strings.Join(missing, ", ") + ")"
		}
		out = append(out, msg)
	}
	return out
}

func decideApp(app string, jobs []Job, inv Inventory, cfg Config, p Policy, known bool, doubts []string, now time.Time) []Verdict {
	// The newest Keep versions still running are kept; a version whose
	// latest deployment failed never takes one of those places (it is
	// retired like any other idle version, once old enough).
	var running, deployed []string
	for _, j := range jobs {
		if !j.Stopped {
			running = append(running, j.Version)
			if !j.DeploymentFailed {
				deployed = append(deployed, j.Version)
			}
		}
	}
	kept := map[string]bool{}
	for i := len(deployed) - 1; i >= 0 && len(deployed)-i <= p.Keep; i-- {
		kept[deployed[i]] = true
	}
	cohort := map[string]bool{}
	for _, v := range inv.Cohorts[app] {
		cohort[v] = true
	}
	newest := ""
	if len(running) > 0 {
		newest = running[len(running)-1]
	}

	var out []Verdict
	drains, stops := 0, 0
	for _, j := range jobs {
		v := Verdict{App: app, Version: j.Version, JobID: j.ID, Namespace: j.Namespace, Kind: j.Kind, Sessions: -1,
			Orphan: !known || !slices.Contains(cfg.Versions[app], j.Version)}
		since, draining := inv.Draining[app][j.Version]
		if draining {
			v.DrainingSince = since
		}
		if j.Kind == KindWeb && inv.SessionsComplete {
			v.Sessions = inv.Sessions[app][j.Version]
		}
		switch {
		case j.Stopped:
			v.State, v.Reason = StateStopped, "Nomad has stopped it"
		case len(inv.Failures) > 0:
			v.State, v.Reason = StateUnknown, "could not read "+strings.Join(inv.Failures, ", ")+": nothing is retired on doubt"
		case j.Version == inv.Live[app]:
			v.State, v.Reason = StateLive, "strata/"+app+"/live"
		case j.Version == cfg.Live[app]:
			v.State, v.Reason = StateLive, "live in strata.yaml"
		case cohort[j.Version]:
			v.State, v.Reason = StateCohort, "a cohort's target"
		case j.Version == inv.Rollouts[app]:
			v.State, v.Reason = StateRollout, "the candidate of a rollout in progress (strata/"+app+"/rollout)"
		case kept[j.Version]:
			v.State, v.Reason = StateNewestKept, fmt.Sprintf("among the newest %d", p.Keep)
		case now.Sub(j.FirstSubmit) < p.MinAge:
			v.State, v.Reason = StateTooYoung, fmt.Sprintf("submitted %s ago, min_age is %s", now.Sub(j.FirstSubmit).Round(time.Second), p.MinAge)
		case j.Kind == KindWorker:
			d := inv.Deployments[app][newest]
			switch {
			case !d.Healthy:
				v.State, v.Reason = StateWaiting, "the newest version, "+newest+", is not healthy yet"
			case now.Sub(d.Since) < p.HandoffGrace:
				v.State, v.Reason = StateWaiting, fmt.Sprintf("%s healthy for %s, handoff_grace is %s", newest, now.Sub(d.Since).Round(time.Second), p.HandoffGrace)
			case p.MaxRetirePerRun > 0 && stops >= p.MaxRetirePerRun:
				v.State, v.Reason = StateIdle, fmt.Sprintf("max_retire_per_run (%d) reached", p.MaxRetirePerRun)
			default:
				v.State, v.Reason, v.Action, v.Purge = StateRetiring, newest+" took over", ActionStop, p.Purge
				stops++
			}
		case !inv.SessionsComplete:
			v.State, v.Reason = StateUnknown, "not every HAProxy reported its sessions"
		case v.Sessions > 0:
			v.State, v.Reason = StateBusy, fmt.Sprintf("%d sessions", v.Sessions)
			if draining {
				v.Action, v.Reason = ActionAbortDrain, fmt.Sprintf("%d sessions while draining: drain aborted", v.Sessions)
			}
		case len(doubts) > 0:
			// Sessions seen are still a floor: a busy version is busy.
			v.State, v.Reason = StateUnknown, strings.Join(doubts, "; ")+": nothing is retired on doubt"
		case !draining:
			if p.MaxRetirePerRun > 0 && drains >= p.MaxRetirePerRun {
				v.State, v.Reason = StateIdle, fmt.Sprintf("no sessions; max_retire_per_run (%d) reached", p.MaxRetirePerRun)
				break
			}
			v.State, v.Reason, v.Action = StateDraining, "no sessions on any HAProxy", ActionDrain
			drains++
		case now.Sub(since) < p.DrainGrace:
			v.State, v.Reason = StateDraining, fmt.Sprintf("draining for %s, drain_grace is %s", now.Sub(since).Round(time.Second), p.DrainGrace)
		case p.MaxRetirePerRun > 0 && stops >= p.MaxRetirePerRun:
			v.State, v.Reason = StateDraining, fmt.Sprintf("drained; max_retire_per_run (%d) reached", p.MaxRetirePerRun)
		default:
			v.State, v.Reason, v.Action, v.Purge = StateRetiring, "drained with no sessions on any HAProxy", ActionStop, p.Purge
			stops++
		}
		if j.DeploymentFailed && !j.Stopped && len(inv.Failures) == 0 {
			v.Reason += "; its latest deployment failed"
			if j.DeploymentDescription != "" {
				v.Reason += " (" + j.DeploymentDescription + ")"
			}
			v.Reason += ": it takes no keep place"
		}
		// A protected version must not stay out of the allow-list.
		protected := v.State == StateLive || v.State == StateCohort || v.State == StateRollout || v.State == StateNewestKept || v.State == StateTooYoung
		if protected && draining {
			v.Action = ActionAbortDrain
			v.Reason += "; it was draining: drain aborted"
		}
		out = append(out, v)
	}
	return out
}
