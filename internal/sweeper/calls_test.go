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
	// One filtered job list; one KV list and two catalog reads; one read
	// per HAProxy's lbstats. No call per job.
	if calls.Nomad != 1 || calls.Consul != 3 || calls.LBStats != 3 {
		t.Errorf("calls = %+v for 200 jobs and 3 HAProxies, want Nomad 1, Consul 3, lbstats 3", calls)
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
