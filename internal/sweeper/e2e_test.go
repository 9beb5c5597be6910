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

	"github.com/strata-dev/strata/internal/generator"
	"github.com/strata-dev/strata/internal/lbstats"
	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/nomadfake"
	"github.com/strata-dev/strata/internal/routing"
	"github.com/strata-dev/strata/internal/routing/routingtest"
	"github.com/strata-dev/strata/internal/sweeper"
)

var start = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

var webPolicy = sweeper.Policy{Keep: 1, MinAge: time.Hour, DrainGrace: 10 * time.Minute, HandoffGrace: 10 * time.Minute}

func webConfig() sweeper.Config {
	return sweeper.Config{
		Policies: map[string]sweeper.Policy{"web": webPolicy},
		Versions: map[string][]string{"web": {"v1", "v2", "v3"}},
		Live:     map[string]string{"web": "v3"},
		Default:  webPolicy,
	}
}

// managedJob is a version's job as strata generates it, as far as the
// sweeper reads it.
func managedJob(app, version, kind string) *nomadapi.Job {
	id := naming.JobID(app, version)
	return &nomadapi.Job{ID: &id, Name: &id, Type: new("service"), Namespace: new("default"), Meta: map[string]string{
		naming.MetaManaged: "true", naming.MetaApp: app, naming.MetaVersion: version, naming.MetaKind: kind,
	}}
}

// lbstatsFor serves an HAProxy's sessions as the sidecar does and registers
// it, and the HAProxy, in Consul as the HAProxy job does.
func lbstatsFor(t *testing.T, s *routingtest.Stack, node string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(lbstats.Handler(func(ctx context.Context) (lbstats.Report, error) {
		return lbstats.Collect(ctx, s.Proxy.Master(), time.Now, node)
	}))
	t.Cleanup(srv.Close)
	port, _ := strconv.Atoi(srv.URL[strings.LastIndex(srv.URL, ":")+1:])
	for _, svc := range []string{sweeper.LBStatsService, sweeper.HAProxyService} {
		err := s.Consul.Client.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{
			ID: svc + "-" + node, Name: svc, Address: "127.0.0.1", Port: port, Tags: []string{"strata"},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return srv
}

func pass(t *testing.T, src sweeper.Sources, cfg sweeper.Config, now time.Time) (sweeper.Plan, []sweeper.Result, sweeper.Inventory) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	inv, idx, _ := sweeper.Gather(ctx, src, now)
	plan := sweeper.Decide(inv, cfg, now)
	return plan, sweeper.Apply(ctx, src, plan, idx, now), inv
}

func stateOf(t *testing.T, p sweeper.Plan, v string) sweeper.Verdict {
	t.Helper()
	for _, x := range p.Verdicts {
		if x.Version == v {
			return x
		}
	}
	t.Fatalf("no verdict for %s", v)
	return sweeper.Verdict{}
}

func draining(t *testing.T, s *routingtest.Stack, v string) bool {
	t.Helper()
	kv, _, err := s.Consul.Client.KV().Get(sweeper.DrainingKey("web", v), nil)
	if err != nil {
		t.Fatal(err)
	}
	return kv != nil
}

// TestSweepRetiresOnlyWhatNobodyUses runs the whole retirement against a
// real Consul and a real HAProxy. Nomad is nomadfake, a stateful stand-in
// built on nomad/api's types: Nomad cannot run here.
func TestSweepRetiresOnlyWhatNobodyUses(t *testing.T) {
	s := routingtest.Start(t, func(s *routingtest.Stack) {
		s.Backend("v1", 1, false)
		s.Backend("v2", 1, false)
		s.Backend("v3", 1, true)
	}, routing.App{Name: "web", Cookie: "strata_version", ServerCookie: "strata_server"})
	lbstatsFor(t, s, "node-1")
	nomad := nomadfake.New(t)
	for _, v := range []string{"v1", "v2", "v3"} {
		nomad.AddJob(managedJob("web", v, sweeper.KindWeb), start.Add(-48*time.Hour))
	}
	src := sweeper.Sources{Nomad: nomad.Client(), Consul: s.Consul.Client, HTTP: &http.Client{Timeout: 5 * time.Second}, Namespace: "default", MinAge: time.Hour}

	// A recording pinned to v1, then three reloads: it lives on in an old
	// worker, where the new worker's stats alone would say 0.
	ctx, closeRecording := context.WithCancel(context.Background())
	defer closeRecording()
	rec := s.OpenStream(ctx, "v1")
	for i := range 3 {
		s.Put(fmt.Sprintf("strata/web/cohorts/probe%d", i), `{"version":"v3","opt_in":"/p`+strconv.Itoa(i)+`"}`)
		s.Eventually("reload", func() (bool, string) {
			a := s.Get("/p"+strconv.Itoa(i), nil, nil)
			return a.Status == 302, fmt.Sprint(a.Status)
		})
	}

	// Pass 1: v1 is busy, v2 idle is drained, v3 is live.
	plan, results, _ := pass(t, src, webConfig(), start)
	if v := stateOf(t, plan, "v1"); v.State != sweeper.StateBusy || v.Sessions != 1 {
		t.Fatalf("v1: %s with %d sessions (%s), want busy with 1: the old worker's session was missed", v.State, v.Sessions, v.Reason)
	}
	if v := stateOf(t, plan, "v2"); v.Action != sweeper.ActionDrain {
		t.Fatalf("v2: %s %q (%s), want drain", v.State, v.Action, v.Reason)
	}
	if v := stateOf(t, plan, "v3"); v.State != sweeper.StateLive || v.Action != sweeper.ActionNone {
		t.Fatalf("v3: %s %q", v.State, v.Action)
	}
	for _, r := range results {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if !draining(t, s, "v2") {
		t.Fatal("v2 is not draining in KV")
	}
	s.Eventually("v2's cookies go to live once it drains", func() (bool, string) {
		a := s.Get("/", map[string]string{"strata_version": "v2"}, nil)
		return a.Version == "v3", a.Version
	})

	select {
	case err := <-rec.Done:
		t.Fatalf("the recording ended: %v", err)
	default:
	}
	if rec.Ticks.Load() == 0 {
		t.Fatal("the recording received nothing")
	}

	// Pass 2, within the grace: nothing stops.
	plan, _, _ = pass(t, src, webConfig(), start.Add(5*time.Minute))
	if len(plan.Actions()) != 0 {
		t.Fatalf("within drain_grace: %+v", plan.Actions())
	}
	// Pass 3, after the grace: v2 is deregistered and its key removed.
	plan, results, _ = pass(t, src, webConfig(), start.Add(11*time.Minute))
	if v := stateOf(t, plan, "v2"); v.Action != sweeper.ActionStop {
		t.Fatalf("v2 after the grace: %s %q (%s)", v.State, v.Action, v.Reason)
	}
	if results[0].Err != nil {
		t.Fatal(results[0].Err)
	}
	if j, ok := nomad.Job("default", "web-v2"); ok && (j.Stop == nil || !*j.Stop) {
		t.Fatal("web-v2 was not stopped in Nomad")
	}
	if draining(t, s, "v2") {
		t.Fatal("v2's draining key was left behind")
	}

	// The recording ends; v1 is drained, then retired on later passes.
	closeRecording()
	s.Eventually("v1's session is gone from every worker", func() (bool, string) {
		r, err := lbstats.Collect(context.Background(), s.Proxy.Master(), time.Now, "node-1")
		return err == nil && r.Versions["web"]["v1"] == 0, fmt.Sprint(r.Versions, err)
	})
	plan, _, _ = pass(t, src, webConfig(), start.Add(12*time.Minute))
	if v := stateOf(t, plan, "v1"); v.Action != sweeper.ActionDrain {
		t.Fatalf("v1 after the recording: %s %q (%s)", v.State, v.Action, v.Reason)
	}
	plan, _, _ = pass(t, src, webConfig(), start.Add(23*time.Minute))
	if v := stateOf(t, plan, "v1"); v.Action != sweeper.ActionStop {
		t.Fatalf("v1 after its grace: %s %q (%s)", v.State, v.Action, v.Reason)
	}
	if v := stateOf(t, plan, "v3"); v.State != sweeper.StateLive || v.Action != sweeper.ActionNone {
		t.Fatalf("the live version was touched: %s %q", v.State, v.Action)
	}
	if j, ok := nomad.Job("default", "web-v3"); !ok || (j.Stop != nil && *j.Stop) {
		t.Fatal("web-v3, the live version, is gone or stopped")
	}
}

// TestTheSweepersNamesAreTheGenerators: the sweeper reads the job and
// services the generator writes (the sweeper cannot import the generator,
// which imports config, which imports the sweeper).
func TestTheSweepersNamesAreTheGenerators(t *testing.T) {
	if sweeper.HAProxyJobID != generator.HAProxyJobID || sweeper.HAProxyService != generator.HAProxyService {
		t.Errorf("sweeper reads job %q and service %q, the generator writes %q and %q",
			sweeper.HAProxyJobID, sweeper.HAProxyService, generator.HAProxyJobID, generator.HAProxyService)
	}
}

func TestNothingIsRetiredOnDoubt(t *testing.T) {
	s := routingtest.Start(t, func(s *routingtest.Stack) {
		s.Backend("v1", 1, false)
		s.Backend("v2", 1, true)
	}, routing.App{Name: "web", Cookie: "strata_version", ServerCookie: "strata_server"})
	lbstatsFor(t, s, "node-1")
	nomad := nomadfake.New(t)
	for _, v := range []string{"v1", "v2"} {
		nomad.AddJob(managedJob("web", v, sweeper.KindWeb), start.Add(-48*time.Hour))
	}
	cfg := webConfig()
	cfg.Live = map[string]string{"web": "v2"}
	src := sweeper.Sources{Nomad: nomad.Client(), Consul: s.Consul.Client, HTTP: &http.Client{Timeout: 2 * time.Second}, Namespace: "default", MinAge: time.Hour}

	t.Run("one of two lbstats instances down", func(t *testing.T) {
		down := lbstatsFor(t, s, "node-2")
		down.Close()
		plan, _, inv := pass(t, src, cfg, start)
		if len(plan.Actions()) != 0 || inv.SessionsComplete {
			t.Fatalf("with an lbstats down: actions %+v", plan.Actions())
		}
		s.Consul.Client.Agent().ServiceDeregister(sweeper.LBStatsService + "-node-2")
		s.Consul.Client.Agent().ServiceDeregister(sweeper.HAProxyService + "-node-2")
	})
	t.Run("the HAProxy's node in maintenance", func(t *testing.T) {
		// A node check that does not pass, as serfHealth does not when the
		// node's Consul agent is down (the topology test kills one).
		if err := s.Consul.Client.Agent().EnableNodeMaintenance("sweeper test"); err != nil {
			t.Fatal(err)
		}
		plan, _, inv := pass(t, src, cfg, start)
		if err := s.Consul.Client.Agent().DisableNodeMaintenance(); err != nil {
			t.Fatal(err)
		}
		if len(plan.Actions()) != 0 || len(plan.Doubts) != 1 || !strings.Contains(plan.Doubts[0], "_node_maintenance is critical") {
			t.Fatalf("with the node in maintenance: doubts %q, actions %+v", plan.Doubts, plan.Actions())
		}
		if len(inv.Failures) != 0 || !inv.SessionsComplete {
			t.Fatalf("every source answered, yet failures %v, complete %v", inv.Failures, inv.SessionsComplete)
		}
	})
	t.Run("Nomad runs an HAProxy on a node Consul's catalog no longer lists", func(t *testing.T) {
		// As after autopilot removed a dead server: its node, HAProxy and
		// lbstats are gone from the catalog, its allocation still runs.
		id := generator.HAProxyJobID
		nomad.AddJob(&nomadapi.Job{ID: &id, Name: &id, Type: new(nomadapi.JobTypeSystem), Namespace: new("default"),
			TaskGroups: []*nomadapi.TaskGroup{{Name: new("haproxy"), Tasks: []*nomadapi.Task{{Name: "haproxy", Driver: "raw_exec"}}}}}, start)
		here, err := s.Consul.Client.Agent().NodeName()
		if err != nil {
			t.Fatal(err)
		}
		nomad.SetSystemAllocations("default", id, map[string]string{here: "running", "node-gone": "running"})
		plan, _, inv := pass(t, src, cfg, start)
		if len(plan.Actions()) != 0 || len(plan.Doubts) != 1 || !strings.Contains(plan.Doubts[0], "on 2 nodes") || !strings.Contains(plan.Doubts[0], "not on node-gone") {
			t.Fatalf("an HAProxy out of the catalog's sight: doubts %q, actions %+v", plan.Doubts, plan.Actions())
		}
		if len(inv.Failures) != 0 {
			t.Fatalf("failures %v", inv.Failures)
		}
		// Nomad runs it where Consul lists it: no doubt left.
		nomad.SetSystemAllocations("default", id, map[string]string{here: "running", "node-gone": "complete"})
		inv, _, _ = sweeper.Gather(context.Background(), src, start)
		if p := sweeper.Decide(inv, cfg, start); len(p.Doubts) != 0 {
			t.Fatalf("with the allocation on the lost node complete: doubts %q", p.Doubts)
		}
	})
	t.Run("Nomad's deregistration fails, then succeeds on the next pass", func(t *testing.T) {
		if _, results, _ := pass(t, src, cfg, start); len(results) != 1 || results[0].Verdict.Action != sweeper.ActionDrain {
			t.Fatalf("first pass: %+v", results)
		}
		nomad.FailNext(nomadfake.EndpointJobDeregister, 500, 1)
		_, results, _ := pass(t, src, cfg, start.Add(11*time.Minute))
		if len(results) != 1 || results[0].Err == nil {
			t.Fatalf("a failed deregistration is not reported: %+v", results)
		}
		if !draining(t, s, "v1") {
			t.Fatal("the draining key was removed though the job still runs")
		}
		_, results, _ = pass(t, src, cfg, start.Add(12*time.Minute))
		if len(results) != 1 || results[0].Err != nil || !results[0].Done {
			t.Fatalf("the retry: %+v", results)
		}
		if draining(t, s, "v1") {
			t.Fatal("the draining key outlived the job")
		}
	})
	t.Run("Consul down", func(t *testing.T) {
		nomad.AddJob(managedJob("web", "v0", sweeper.KindWeb), start.Add(-72*time.Hour))
		s.Consul.Stop()
		plan, _, inv := pass(t, src, cfg, start.Add(time.Hour))
		if len(plan.Actions()) != 0 || len(inv.Failures) == 0 {
			t.Fatalf("with Consul down: failures %v, actions %+v", inv.Failures, plan.Actions())
		}
	})
}
