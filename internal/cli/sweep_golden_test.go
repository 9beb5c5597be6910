package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/sweeper"
)

// TestSweepOutputGolden prints one decided pass in every output format of
// strata sweep: the table and the JSON, as a dry run, as a pass that
// applied its actions (one of them failed), and as a pass held back by a
// node in doubt. The plan comes from sweeper.Decide on an inventory that
// has a version in each state, so the goldens show what a user reads.
func TestSweepOutputGolden(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	job := func(app, version, kind string, age time.Duration) sweeper.Job {
		return sweeper.Job{ID: app + "-" + version, Namespace: "default", App: app, Version: version, Kind: kind, FirstSubmit: now.Add(-age)}
	}
	failed := job("web", "v13", sweeper.KindWeb, 2*day)
	failed.DeploymentFailed, failed.DeploymentDescription = true, "Failed due to progress deadline"
	inv := sweeper.Inventory{
		Jobs: []sweeper.Job{
			job("web", "v8", sweeper.KindWeb, 30*day),
			job("web", "v9", sweeper.KindWeb, 20*day),
			job("web", "v10", sweeper.KindWeb, 10*day),
			job("web", "v11", sweeper.KindWeb, 5*day),
			job("web", "v12", sweeper.KindWeb, 3*day),
			failed,
			job("web", "v14", sweeper.KindWeb, time.Hour),
			job("old", "v1", sweeper.KindWeb, 90*day),
		},
		Live:     map[string]string{"web": "v12"},
		Cohorts:  map[string][]string{"web": {"v11"}},
		Draining: map[string]map[string]time.Time{"web": {"v9": now.Add(-2 * time.Hour)}},
		Sessions: map[string]map[string]int{
			"web": {"v8": 0, "v9": 0, "v10": 3, "v11": 1, "v12": 40, "v13": 0, "v14": 2},
			"old": {"v1": 0},
		},
		SessionsComplete: true,
		Nodes:            []sweeper.HAProxyNode{{Name: "a", HAProxy: true, LBStats: true}, {Name: "b", HAProxy: true, LBStats: true}},
	}
	policy := sweeper.Policy{Keep: 2, MinAge: 24 * time.Hour, DrainGrace: time.Hour}
	cfg := sweeper.Config{
		Policies: map[string]sweeper.Policy{"web": policy},
		Versions: map[string][]string{"web": {"v8", "v9", "v10", "v11", "v12", "v13", "v14"}},
		Live:     map[string]string{"web": "v12"},
		Default:  policy,
	}
	plan := sweeper.Decide(inv, cfg, now)
	var results []sweeper.Result
	for i, v := range plan.Actions() {
		r := sweeper.Result{Verdict: v, Done: true, Note: "done"}
		if i == 0 {
			r = sweeper.Result{Verdict: v, Err: errors.New("Consul: check-and-set lost")}
		}
		results = append(results, r)
	}
	doubtInv := inv
	doubtInv.Nodes = []sweeper.HAProxyNode{{Name: "a", HAProxy: true, LBStats: true}, {Name: "b", HAProxy: true, LBStats: true, Failing: []string{"serfHealth is critical"}}}
	doubtPlan := sweeper.Decide(doubtInv, cfg, now)
	if len(doubtPlan.Doubts) == 0 {
		t.Fatal("a node whose agent is down raised no doubt")
	}
	calls := sweeper.Calls{Nomad: 2, Consul: 5, LBStats: 2}
	for _, tc := range []struct {
		name    string
		plan    sweeper.Plan
		results []sweeper.Result
		dry     bool
	}{
		{"dry-run", plan, nil, true},
		{"applied", plan, results, false},
		{"node-in-doubt", doubtPlan, nil, false},
	} {
		for _, format := range []string{"text", "json"} {
			var out bytes.Buffer
			c := &CLI{Stdout: &out, Stderr: &out}
			c.printSweep(format, tc.plan, tc.results, calls, tc.dry)
			golden := filepath.Join("testdata", "sweep", tc.name+"."+format+".golden")
			if *updateDiff {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != string(want) {
				t.Errorf("sweep %s -o %s differs from %s (go test -update):\n%s", tc.name, format, golden, out.String())
			}
		}
	}
}
