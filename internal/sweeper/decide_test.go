package sweeper

import (
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/applystats"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func web(v string, age time.Duration) Job {
	return Job{ID: "web-" + v, Namespace: "default", App: "web", Version: v, Kind: KindWeb, FirstSubmit: t0.Add(-age)}
}

func worker(v string, age time.Duration) Job {
	return Job{ID: "q-" + v, Namespace: "default", App: "q", Version: v, Kind: KindWorker, FirstSubmit: t0.Add(-age)}
}

var policy = Policy{Keep: 1, MinAge: time.Hour, DrainGrace: 10 * time.Minute, HandoffGrace: 5 * time.Minute}

func config() Config {
	return Config{
		Policies: map[string]Policy{"web": policy, "q": policy},
		Versions: map[string][]string{"web": {"v1", "v2", "v3"}, "q": {"v1", "v2"}},
		Live:     map[string]string{"web": "v3"},
		Default:  policy,
	}
}

// idle is an inventory where v1 and v2 of web are old and idle, v3 live.
func idle() Inventory {
	return Inventory{
		Jobs:             []Job{web("v1", 48*time.Hour), web("v2", 24*time.Hour), web("v3", 2*time.Hour)},
		Live:             map[string]string{"web": "v3"},
		Sessions:         map[string]map[string]int{"web": {"v3": 12}},
		SessionsComplete: true,
	}
}

// failedNewest is idle with v1 live and v3, the newest, a version whose
// latest deployment failed, submitted age ago.
func failedNewest(age time.Duration) Inventory {
	inv := idle()
	inv.Live = map[string]string{"web": "v1"}
	inv.Sessions = map[string]map[string]int{"web": {"v1": 12}}
	inv.Jobs[2] = web("v3", age)
	inv.Jobs[2].DeploymentFailed, inv.Jobs[2].DeploymentDescription = true, "Failed due to progress deadline"
	return inv
}

func liveV1() Config {
	c := config()
	c.Live = map[string]string{"web": "v1"}
	return c
}

func verdict(t *testing.T, p Plan, app, version string) Verdict {
	t.Helper()
	for _, v := range p.Verdicts {
		if v.App == app && v.Version == version {
			return v
		}
	}
	t.Fatalf("no verdict for %s %s in %+v", app, version, p.Verdicts)
	return Verdict{}
}

func TestDecide(t *testing.T) {
	cases := []struct {
		name    string
		inv     func() Inventory
		cfg     func() Config
		version string
		state   State
		action  Action
		reason  string
	}{
		{"an old idle version is drained", idle, config, "v1", StateDraining, ActionDrain, "no sessions"},
		{"the live version in KV is never touched", idle, config, "v3", StateLive, ActionNone, "strata/web/live"},
		{"the live version of strata.yaml is kept while KV names another", func() Inventory {
			inv := idle()
			inv.Live = map[string]string{"web": "v2"}
			inv.Jobs = append(inv.Jobs, web("v4", 3*time.Hour))
			return inv
		}, config, "v3", StateLive, ActionNone, "live in strata.yaml"},
		{"a cohort's target is kept", func() Inventory {
			inv := idle()
			inv.Cohorts = map[string][]string{"web": {"v1"}}
			return inv
		}, config, "v1", StateCohort, ActionNone, "cohort"},
		{"the candidate of a rollout in progress is kept, and its drain aborted", func() Inventory {
			inv := idle()
			inv.Rollouts = map[string]string{"web": "v1"}
			inv.Draining = map[string]map[string]time.Time{"web": {"v1": t0.Add(-time.Minute)}}
			return inv
		}, config, "v1", StateRollout, ActionAbortDrain, "the candidate of a rollout in progress"},
		{"the newest keep versions are kept", func() Inventory {
			inv := idle()
			inv.Live = map[string]string{"web": "v1"}
			return inv
		}, func() Config { c := config(); c.Live = map[string]string{"web": "v1"}; return c }, "v3", StateNewestKept, ActionNone, "newest 1"},
		{"a version whose latest deployment failed does not take a keep place from the version before it", func() Inventory {
			return failedNewest(3 * time.Hour)
		}, liveV1, "v2", StateNewestKept, ActionNone, "newest 1"},
		{"a version whose latest deployment failed is drained once idle and old enough", func() Inventory {
			return failedNewest(3 * time.Hour)
		}, liveV1, "v3", StateDraining, ActionDrain, "latest deployment failed (Failed due to progress deadline): it takes no keep place"},
		{"a version whose latest deployment failed is still protected by min_age", func() Inventory {
			return failedNewest(10 * time.Minute)
		}, liveV1, "v3", StateTooYoung, ActionNone, "min_age is 1h"},
		{"a version whose latest deployment failed is still kept while it is live", func() Inventory {
			inv := failedNewest(3 * time.Hour)
			inv.Live = map[string]string{"web": "v3"}
			return inv
		}, liveV1, "v3", StateLive, ActionNone, "strata/web/live"},
		{"a version whose deployment status was not read is not taken as failed", func() Inventory {
			inv := failedNewest(3 * time.Hour)
			inv.Jobs[2].DeploymentFailed, inv.Jobs[2].DeploymentDescription = false, ""
			return inv
		}, liveV1, "v3", StateNewestKept, ActionNone, "newest 1"},
		{"a version younger than min_age is kept", func() Inventory {
			inv := idle()
			inv.Jobs[1] = web("v2", 30*time.Minute)
			return inv
		}, config, "v2", StateTooYoung, ActionNone, "min_age is 1h"},
		{"a version with a session on some HAProxy is busy", func() Inventory {
			inv := idle()
			inv.Sessions["web"]["v1"] = 1
			return inv
		}, config, "v1", StateBusy, ActionNone, "1 sessions"},
		{"a session seen while draining aborts the drain", func() Inventory {
			inv := idle()
			inv.Sessions["web"]["v1"] = 2
			inv.Draining = map[string]map[string]time.Time{"web": {"v1": t0.Add(-time.Minute)}}
			return inv
		}, config, "v1", StateBusy, ActionAbortDrain, "drain aborted"},
		{"sessions that could not be read from every HAProxy stop everything", func() Inventory {
			inv := idle()
			inv.SessionsComplete = false
			return inv
		}, config, "v1", StateUnknown, ActionNone, "not every HAProxy"},
		{"a source that failed stops everything", func() Inventory {
			inv := idle()
			inv.Failures = []string{"Consul KV"}
			return inv
		}, config, "v1", StateUnknown, ActionNone, "could not read Consul KV"},
		{"nothing is drained while an HAProxy's node has its Consul agent down", func() Inventory {
			inv := idle()
			inv.Nodes = []HAProxyNode{{Name: "a", HAProxy: true, LBStats: true},
				{Name: "c", HAProxy: true, LBStats: true, Failing: []string{"serfHealth is critical"}}}
			return inv
		}, config, "v1", StateUnknown, ActionNone, "node c: serfHealth is critical"},
		{"nothing is stopped while an HAProxy's node has its Consul agent down", func() Inventory {
			inv := idle()
			inv.Nodes = []HAProxyNode{{Name: "c", HAProxy: true, LBStats: true, Failing: []string{"serfHealth is critical"}}}
			inv.Draining = map[string]map[string]time.Time{"web": {"v1": t0.Add(-11 * time.Minute)}}
			return inv
		}, config, "v1", StateUnknown, ActionNone, "nothing is retired on doubt"},
		{"a node in maintenance is doubted like a dead one", func() Inventory {
			inv := idle()
			inv.Nodes = []HAProxyNode{{Name: "b", HAProxy: true, LBStats: true, Failing: []string{"_node_maintenance is critical"}}}
			return inv
		}, config, "v1", StateUnknown, ActionNone, "node b: _node_maintenance is critical"},
		{"a failing node with only an lbstats left is doubted too", func() Inventory {
			inv := idle()
			inv.Nodes = []HAProxyNode{{Name: "c", LBStats: true, Failing: []string{"serfHealth is critical"}}}
			return inv
		}, config, "v1", StateUnknown, ActionNone, "its lbstats may not see a drain"},
		{"an HAProxy whose apply step fails stops every drain", func() Inventory {
			inv := idle()
			inv.Nodes = []HAProxyNode{{Name: "b", HAProxy: true, LBStats: true, Apply: &applystats.Stats{Failures: 1, Failing: true, LastError: "apply: connection refused"}}}
			inv.Draining = map[string]map[string]time.Time{"web": {"v1": t0.Add(-11 * time.Minute)}}
			return inv
		}, config, "v1", StateUnknown, ActionNone, "node b: its HAProxy's apply step is failing"},
		{"an HAProxy without its lbstats stops every drain", func() Inventory {
			inv := idle()
			inv.Nodes = []HAProxyNode{{Name: "b", HAProxy: true}}
			return inv
		}, config, "v1", StateUnknown, ActionNone, "node b: an HAProxy without its lbstats"},
		{"a busy version is still busy while a node is doubted, and its drain is aborted", func() Inventory {
			inv := idle()
			inv.Nodes = []HAProxyNode{{Name: "c", HAProxy: true, LBStats: true, Failing: []string{"serfHealth is critical"}}}
			inv.Sessions["web"]["v1"] = 3
			inv.Draining = map[string]map[string]time.Time{"web": {"v1": t0.Add(-time.Minute)}}
			return inv
		}, config, "v1", StateBusy, ActionAbortDrain, "drain aborted"},
		{"the live version stays live while a node is doubted", func() Inventory {
			inv := idle()
			inv.Nodes = []HAProxyNode{{Name: "c", HAProxy: true, LBStats: true, Failing: []string{"serfHealth is critical"}}}
			return inv
		}, config, "v3", StateLive, ActionNone, "strata/web/live"},
		{"healthy nodes each with an HAProxy and its lbstats leave an idle version to drain", func() Inventory {
			inv := idle()
			inv.Nodes = []HAProxyNode{{Name: "a", HAProxy: true, LBStats: true}, {Name: "b", HAProxy: true, LBStats: true}}
			return inv
		}, config, "v1", StateDraining, ActionDrain, "no sessions"},
		{"nothing is drained while Nomad runs an HAProxy on a node Consul's catalog no longer lists", func() Inventory {
			inv := idle()
			inv.Nodes = []HAProxyNode{{Name: "a", HAProxy: true, LBStats: true}, {Name: "b", HAProxy: true, LBStats: true}}
			inv.HAProxyAllocs = []HAProxyAlloc{{"a", "running"}, {"b", "running"}, {"c", "running"}}
			return inv
		}, config, "v1", StateUnknown, ActionNone, "Nomad runs the HAProxy job on 3 nodes, Consul's catalog lists an HAProxy with its lbstats on 2 (not on c)"},
		{"nodes named differently in Nomad and Consul are still counted", func() Inventory {
			inv := idle()
			inv.Nodes = []HAProxyNode{{Name: "a.consul", HAProxy: true, LBStats: true}}
			inv.HAProxyAllocs = []HAProxyAlloc{{"a", "running"}, {"b", "running"}}
			return inv
		}, config, "v1", StateUnknown, ActionNone, "on 1 (not on a, b)"},
		{"nothing is drained while Nomad has lost an HAProxy's allocation", func() Inventory {
			inv := idle()
			inv.Nodes = []HAProxyNode{{Name: "a", HAProxy: true, LBStats: true}}
			inv.HAProxyAllocs = []HAProxyAlloc{{"a", "running"}, {"c", "lost"}}
			return inv
		}, config, "v1", StateUnknown, ActionNone, "node c: Nomad reports its HAProxy allocation lost"},
		{"nothing is drained while an HAProxy's node is disconnected from Nomad", func() Inventory {
			inv := idle()
			inv.Nodes = []HAProxyNode{{Name: "a", HAProxy: true, LBStats: true}, {Name: "c", HAProxy: true, LBStats: true}}
			inv.HAProxyAllocs = []HAProxyAlloc{{"a", "running"}, {"c", "unknown"}}
			return inv
		}, config, "v1", StateUnknown, ActionNone, "node c: Nomad reports its HAProxy allocation unknown"},
		{"as many HAProxies in Consul as Nomad runs leave an idle version to drain", func() Inventory {
			inv := idle()
			inv.Nodes = []HAProxyNode{{Name: "a", HAProxy: true, LBStats: true}, {Name: "b", HAProxy: true, LBStats: true}}
			inv.HAProxyAllocs = []HAProxyAlloc{{"a", "running"}, {"b", "running"}, {"b", "complete"}}
			return inv
		}, config, "v1", StateDraining, ActionDrain, "no sessions"},
		{"a version draining for less than drain_grace waits", func() Inventory {
			inv := idle()
			inv.Draining = map[string]map[string]time.Time{"web": {"v1": t0.Add(-5 * time.Minute)}}
			return inv
		}, config, "v1", StateDraining, ActionNone, "drain_grace is 10m"},
		{"a version drained past drain_grace with no sessions is stopped", func() Inventory {
			inv := idle()
			inv.Draining = map[string]map[string]time.Time{"web": {"v1": t0.Add(-11 * time.Minute)}}
			return inv
		}, config, "v1", StateRetiring, ActionStop, "drained"},
		{"a draining version that became live gets its drain aborted", func() Inventory {
			inv := idle()
			inv.Live = map[string]string{"web": "v1"}
			inv.Draining = map[string]map[string]time.Time{"web": {"v1": t0.Add(-11 * time.Minute)}}
			return inv
		}, config, "v1", StateLive, ActionAbortDrain, "drain aborted"},
		{"an orphan version no longer in strata.yaml follows the same rules", func() Inventory {
			inv := idle()
			inv.Jobs = append(inv.Jobs, web("v0", 72*time.Hour))
			return inv
		}, config, "v0", StateDraining, ActionDrain, "no sessions"},
		{"an orphan app uses the default policy", func() Inventory {
			inv := idle()
			inv.Jobs = append(inv.Jobs, Job{ID: "old-v1", App: "old", Version: "v1", Kind: KindWeb, FirstSubmit: t0.Add(-72 * time.Hour)},
				Job{ID: "old-v2", App: "old", Version: "v2", Kind: KindWeb, FirstSubmit: t0.Add(-72 * time.Hour)})
			return inv
		}, config, "v1", StateDraining, ActionDrain, "no sessions"},
		{"a stopped job is left alone", func() Inventory {
			inv := idle()
			inv.Jobs[0].Stopped = true
			return inv
		}, config, "v1", StateStopped, ActionNone, "stopped"},
		{"max_retire_per_run bounds the drains", func() Inventory {
			inv := idle()
			inv.Jobs = append(inv.Jobs, web("v0", 72*time.Hour))
			return inv
		}, func() Config {
			c := config()
			p := policy
			p.MaxRetirePerRun = 1
			c.Policies["web"] = p
			return c
		}, "v1", StateIdle, ActionNone, "max_retire_per_run (1) reached"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := verdict(t, Decide(tc.inv(), tc.cfg(), t0), "web", tc.version)
			if tc.name == "an orphan app uses the default policy" {
				v = verdict(t, Decide(tc.inv(), tc.cfg(), t0), "old", tc.version)
				if !v.Orphan {
					t.Error("not marked orphan")
				}
			}
			if v.State != tc.state || v.Action != tc.action || !strings.Contains(v.Reason, tc.reason) {
				t.Errorf("got %s / %q / %q, want %s / %q / reason containing %q", v.State, v.Action, v.Reason, tc.state, tc.action, tc.reason)
			}
		})
	}
}

func TestWorkers(t *testing.T) {
	base := func() Inventory {
		return Inventory{Jobs: []Job{worker("v1", 48*time.Hour), worker("v2", 2*time.Hour)}, SessionsComplete: false}
	}
	for _, tc := range []struct {
		name   string
		dep    Deployment
		state  State
		action Action
	}{
		{"an older worker waits while the newest is not healthy", Deployment{}, StateWaiting, ActionNone},
		{"an older worker waits for the hand-off grace", Deployment{Healthy: true, Since: t0.Add(-time.Minute)}, StateWaiting, ActionNone},
		{"an older worker is stopped once the newest has been healthy for the grace", Deployment{Healthy: true, Since: t0.Add(-6 * time.Minute)}, StateRetiring, ActionStop},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv := base()
			inv.Deployments = map[string]map[string]Deployment{"q": {"v2": tc.dep}}
			v := verdict(t, Decide(inv, config(), t0), "q", "v1")
			if v.State != tc.state || v.Action != tc.action {
				t.Errorf("got %s / %q (%s), want %s / %q", v.State, v.Action, v.Reason, tc.state, tc.action)
			}
			if n := verdict(t, Decide(inv, config(), t0), "q", "v2"); n.Action != ActionNone {
				t.Errorf("the newest worker version got %q", n.Action)
			}
		})
	}
}

func TestWorkersAreRetiredWhileAnHAProxyNodeIsDoubted(t *testing.T) {
	inv := Inventory{Jobs: []Job{worker("v1", 48*time.Hour), worker("v2", 2*time.Hour)},
		Deployments: map[string]map[string]Deployment{"q": {"v2": {Healthy: true, Since: t0.Add(-time.Hour)}}},
		Nodes:       []HAProxyNode{{Name: "c", HAProxy: true, LBStats: true, Failing: []string{"serfHealth is critical"}}}}
	p := Decide(inv, config(), t0)
	if v := verdict(t, p, "q", "v1"); v.Action != ActionStop {
		t.Errorf("a worker, which HAProxy never routes, got %s / %q (%s)", v.State, v.Action, v.Reason)
	}
	if len(p.Doubts) != 1 || !strings.Contains(p.Doubts[0], "node c") {
		t.Errorf("doubts %q, want node c's", p.Doubts)
	}
}

func TestVersionsAreDecidedInNaturalOrder(t *testing.T) {
	inv := idle()
	inv.Jobs = []Job{web("v10", 48*time.Hour), web("v9", 48*time.Hour), web("v3", 2*time.Hour)}
	p := Decide(inv, config(), t0)
	var got []string
	for _, v := range p.Verdicts {
		got = append(got, v.Version)
	}
	if strings.Join(got, ",") != "v3,v9,v10" {
		t.Errorf("order %v", got)
	}
	// keep 1 keeps v10, the newest, not v9.
	if v := verdict(t, p, "web", "v10"); v.State != StateNewestKept {
		t.Errorf("v10 is %s", v.State)
	}
}
