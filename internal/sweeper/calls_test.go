package sweeper_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/lbstats"
	"github.com/strata-dev/strata/internal/nomadfake"
	"github.com/strata-dev/strata/internal/sweeper"
	"github.com/strata-dev/strata/internal/testenv"
)

// fleet seeds apps×versions managed web jobs in a fake Nomad (a stand-in
// built on nomad/api's types: Nomad cannot run here), a real Consul with
// haproxies lbstats sidecars answering canned reports, and returns the
// sources.
func fleet(tb testing.TB, apps, versions, haproxies int) (sweeper.Sources, *nomadfake.Server, sweeper.Config) {
	consul := testenv.StartConsul(tb)
	nomad := nomadfake.New(tb)
	cfg := sweeper.Config{Policies: map[string]sweeper.Policy{}, Versions: map[string][]string{}, Live: map[string]string{}, Default: webPolicy}
	report := lbstats.Report{Node: "n", Time: start, Workers: 1, Versions: map[string]map[string]int{}, Other: map[string]int{}}
	for a := range apps {
		app := fmt.Sprintf("app%d", a)
		cfg.Policies[app] = webPolicy
		report.Versions[app] = map[string]int{}
		for v := 1; v <= versions; v++ {
			ver := fmt.Sprintf("v%d", v)
			nomad.AddJob(managedJob(app, ver, sweeper.KindWeb), start.Add(-48*time.Hour))
			cfg.Versions[app] = append(cfg.Versions[app], ver)
			report.Versions[app][ver] = v % 3
		}
		cfg.Live[app] = fmt.Sprintf("v%d", versions)
	}
	for h := range haproxies {
		r := report
		srv := httptest.NewServer(lbstats.Handler(func(context.Context) (lbstats.Report, error) { return r, nil }))
		tb.Cleanup(srv.Close)
		port, _ := strconv.Atoi(srv.URL[strings.LastIndex(srv.URL, ":")+1:])
		for _, svc := range []string{sweeper.LBStatsService, sweeper.HAProxyService} {
			if err := consul.Client.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{
				ID: fmt.Sprintf("%s-%d", svc, h), Name: svc, Address: "127.0.0.1", Port: port,
			}); err != nil {
				tb.Fatal(err)
			}
		}
	}
	src := sweeper.Sources{Nomad: nomad.Client(), Consul: consul.Client, HTTP: &http.Client{Timeout: 10 * time.Second}, Namespace: "default", MinAge: time.Hour}
	return src, nomad, cfg
}

func TestAPassMakesCallsPerHAProxyNotPerJob(t *testing.T) {
	src, nomad, _ := fleet(t, 20, 10, 3)
	_, _, calls := sweeper.Gather(context.Background(), src, start)
	// One filtered job list and the HAProxy job's allocations; one KV list
	// and two health reads; one read per HAProxy's lbstats. No call per job.
	if calls.Nomad != 2 || calls.Consul != 3 || calls.LBStats != 3 {
		t.Errorf("calls = %+v for 200 jobs and 3 HAProxies, want Nomad 2, Consul 3, lbstats 3", calls)
	}
	if n := nomad.Calls(nomadfake.EndpointJobVersions) + nomad.Calls(nomadfake.EndpointJobInfo); n != 0 {
		t.Errorf("%d per-job Nomad calls", n)
	}
}

// BenchmarkPass is one whole pass, gathering from Nomad (the fake), Consul
// and 3 lbstats sidecars and deciding, over 10,000 managed jobs across 1,000
// apps. It reports the API calls a pass makes.
func BenchmarkPass(b *testing.B) {
	src, _, cfg := fleet(b, 1000, 10, 3)
	var calls sweeper.Calls
	for b.Loop() {
		inv, _, c := sweeper.Gather(context.Background(), src, start)
		if len(inv.Failures) > 0 || len(inv.Jobs) != 10000 {
			b.Fatal(inv.Failures, len(inv.Jobs))
		}
		sweeper.Decide(inv, cfg, start)
		calls = c
	}
	b.ReportMetric(float64(calls.Total()), "calls/pass")
}

// A promote between a pass's read and its write must win: the version it
// made live is not drained.
func TestADrainLosesToAPromoteInBetween(t *testing.T) {
	src, _, cfg := fleet(t, 1, 4, 1)
	inv, idx, _ := sweeper.Gather(context.Background(), src, start)
	plan := sweeper.Decide(inv, cfg, start)
	var drain sweeper.Verdict
	for _, v := range plan.Actions() {
		if v.Action == sweeper.ActionDrain {
			drain = v
		}
	}
	if drain.Version != "v3" {
		t.Fatalf("the plan drains %+v, want app0 v3", plan.Actions())
	}
	if _, err := src.Consul.KV().Put(&consulapi.KVPair{Key: "strata/app0/live", Value: []byte("v3")}, nil); err != nil {
		t.Fatal(err)
	}
	results := sweeper.Apply(context.Background(), src, plan, idx, start)
	if len(results) != 1 || results[0].Done || results[0].Err != nil {
		t.Fatalf("the drain went ahead over a promote: %+v", results)
	}
	if kv, _, _ := src.Consul.KV().Get(sweeper.DrainingKey("app0", "v3"), nil); kv != nil {
		t.Fatal("the promoted version is draining")
	}
}

// TestAVersionWhoseDeploymentFailedTakesNoKeepPlace gathers from the fake
// Nomad a crash-looping newest version, failed as Nomad fails one (failed
// allocations with their task events): only its deployment is read, and
// the version before it keeps the keep place.
func TestAVersionWhoseDeploymentFailedTakesNoKeepPlace(t *testing.T) {
	src, nomad, cfg := fleet(t, 1, 2, 1)
	for _, v := range []string{"v1", "v2"} {
		j := managedJob("web", v, sweeper.KindWeb)
		j.TaskGroups = []*nomadapi.TaskGroup{{Name: new("web"), Count: new(2), Update: &nomadapi.UpdateStrategy{MaxParallel: new(1)},
			Tasks: []*nomadapi.Task{{Name: "web", Driver: "raw_exec", Config: map[string]any{"command": "/usr/bin/false"}}}}}
		nomad.AddJob(j, start.Add(-48*time.Hour))
	}
	nomad.SetDeploymentHealth("web-v1", 2, 2, 2, 0)
	nomad.FailDeployment("web-v2", "Failed due to progress deadline", nil)
	cfg.Policies["web"] = webPolicy
	cfg.Versions["web"] = []string{"v1", "v2"}
	cfg.Live["web"] = "v0"

	before := nomad.Calls(nomadfake.EndpointJobLatestDeployment)
	inv, _, calls := sweeper.Gather(context.Background(), src, start)
	if len(inv.Failures) > 0 {
		t.Fatal(inv.Failures)
	}
	if n := nomad.Calls(nomadfake.EndpointJobLatestDeployment) - before; n != 1 || calls.Nomad != 3 {
		t.Errorf("%d deployment reads, %d Nomad calls; want 1 (the failing job's) and 3 (with the job list and the HAProxy job's allocations)", n, calls.Nomad)
	}
	for _, j := range inv.Jobs {
		if j.App == "web" && j.DeploymentFailed != (j.Version == "v2") {
			t.Errorf("%s: DeploymentFailed %v", j.ID, j.DeploymentFailed)
		}
	}
	plan := sweeper.Decide(inv, cfg, start)
	for _, v := range plan.Verdicts {
		switch {
		case v.JobID == "web-v1" && v.State != sweeper.StateNewestKept:
			t.Errorf("web-v1: %s (%s), want newest-kept", v.State, v.Reason)
		case v.JobID == "web-v2" && (v.State == sweeper.StateNewestKept || !strings.Contains(v.Reason, "Failed due to progress deadline")):
			t.Errorf("web-v2: %s (%s), want no keep place and Nomad's reason", v.State, v.Reason)
		}
	}
}

// TestADeploymentThatCannotBeReadRetiresNothing makes the deployment read of
// a failing version fail: the pass records Nomad as unreadable, and nothing
// is retired.
func TestADeploymentThatCannotBeReadRetiresNothing(t *testing.T) {
	src, nomad, cfg := fleet(t, 1, 3, 1)
	j := managedJob("web", "v2", sweeper.KindWeb)
	j.TaskGroups = []*nomadapi.TaskGroup{{Name: new("web"), Count: new(2), Update: &nomadapi.UpdateStrategy{MaxParallel: new(1)},
		Tasks: []*nomadapi.Task{{Name: "web", Driver: "raw_exec", Config: map[string]any{"command": "/usr/bin/false"}}}}}
	nomad.AddJob(j, start.Add(-48*time.Hour))
	nomad.FailDeployment("web-v2", "Failed due to progress deadline", nil)
	nomad.FailNext(nomadfake.EndpointJobLatestDeployment, 500, 1)
	inv, _, _ := sweeper.Gather(context.Background(), src, start)
	if len(inv.Failures) == 0 {
		t.Fatal("a deployment that could not be read is not a failure")
	}
	if actions := sweeper.Decide(inv, cfg, start).Actions(); len(actions) > 0 {
		t.Errorf("actions on doubt: %+v", actions)
	}
}
