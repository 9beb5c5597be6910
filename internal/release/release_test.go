package release_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/release"
	"github.com/strata-dev/strata/internal/testenv"
)

// stack is a real Consul with some versions of app "web" registered.
type stack struct {
	t      *testing.T
	consul *testenv.Consul
	kv     *consulapi.KV
	health *consulapi.Health
}

func start(t *testing.T) *stack {
	t.Helper()
	c := testenv.StartConsul(t)
	return &stack{t: t, consul: c, kv: c.Client.KV(), health: c.Client.Health()}
}

// run registers an instance of web at version v whose TTL check has status
// (consulapi.HealthPassing or HealthCritical).
func (s *stack) run(v, status string) {
	s.t.Helper()
	id := "web-" + v
	err := s.consul.Client.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{
		ID: id, Name: "web", Address: "127.0.0.1", Port: 8000,
		Tags:  []string{naming.TagManaged, naming.VersionTag(v)},
		Check: &consulapi.AgentServiceCheck{CheckID: "ttl-" + id, TTL: "1h", Status: status},
	})
	if err != nil {
		s.t.Fatalf("registering %s: %v", id, err)
	}
}

// check sets the status of version v's TTL check.
func (s *stack) check(v, status string) {
	s.t.Helper()
	if err := s.consul.Client.Agent().UpdateTTL("ttl-web-"+v, "", status); err != nil {
		s.t.Fatal(err)
	}
}

// stop deregisters version v.
func (s *stack) stop(v string) {
	s.t.Helper()
	if err := s.consul.Client.Agent().ServiceDeregister("web-" + v); err != nil {
		s.t.Fatal(err)
	}
}

func (s *stack) put(key, value string) {
	s.t.Helper()
	if _, err := s.kv.Put(&consulapi.KVPair{Key: key, Value: []byte(value)}, nil); err != nil {
		s.t.Fatal(err)
	}
}

// state returns live and the history.
func (s *stack) state() (string, []string) {
	s.t.Helper()
	live, hist, err := release.Live(context.Background(), s.kv, "web")
	if err != nil {
		s.t.Fatal(err)
	}
	return live, hist
}

func (s *stack) promote(v string) string {
	s.t.Helper()
	prev, err := release.Promote(context.Background(), s.kv, s.health, "web", v)
	if err != nil {
		s.t.Fatalf("promote %s: %v", v, err)
	}
	return prev
}

func TestPromoteSetsLiveAndRecordsThePreviousVersion(t *testing.T) {
	s := start(t)
	s.run("v1", consulapi.HealthPassing)
	s.run("v2", consulapi.HealthPassing)
	if prev := s.promote("v1"); prev != "" {
		t.Errorf("first promote: previous %q, want none", prev)
	}
	if live, hist := s.state(); live != "v1" || len(hist) != 0 {
		t.Errorf("after v1: live %q history %q", live, hist)
	}
	if prev := s.promote("v2"); prev != "v1" {
		t.Errorf("previous %q, want v1", prev)
	}
	if live, hist := s.state(); live != "v2" || !slices.Equal(hist, []string{"v1"}) {
		t.Errorf("after v2: live %q history %q", live, hist)
	}
}

func TestPromoteOverTheConfiguredLiveRecordsIt(t *testing.T) {
	s := start(t)
	s.run("v1", consulapi.HealthPassing)
	s.run("v2", consulapi.HealthPassing)
	ctx := context.Background()
	if prev, err := release.PromoteOver(ctx, s.kv, s.health, "web", "v1", "v1"); err != nil || prev != "v1" {
		t.Fatalf("promoting the configured live: %q, %v", prev, err)
	}
	if p, _, _ := s.kv.Get(release.LiveKey("web"), nil); p != nil {
		t.Errorf("promoting the configured live wrote %s", p.Value)
	}
	if prev, err := release.PromoteOver(ctx, s.kv, s.health, "web", "v2", "v1"); err != nil || prev != "v1" {
		t.Fatalf("promote v2: %q, %v", prev, err)
	}
	if live, hist := s.state(); live != "v2" || !slices.Equal(hist, []string{"v1"}) {
		t.Errorf("live %q history %q", live, hist)
	}
}

func TestPromoteRefuses(t *testing.T) {
	s := start(t)
	s.run("v1", consulapi.HealthPassing)
	s.run("v2", consulapi.HealthCritical)
	s.run("v3", consulapi.HealthPassing)
	s.put(release.DrainingKey("web", "v3"), "2026-11-26T10:00:00Z")
	s.promote("v1")
	for _, c := range []struct {
		name, version string
		kind          error
		says          string
	}{
		{"a version outside the grammar", "V_2", release.ErrInvalid, "not a valid version"},
		{"a version nobody deployed", "v9", release.ErrNotRunning, "no passing instance"},
		{"a version whose only instance is critical", "v2", release.ErrNotRunning, "no passing instance"},
		{"a draining version", "v3", release.ErrDraining, "draining"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := release.Promote(context.Background(), s.kv, s.health, "web", c.version)
			if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.says) {
				t.Errorf("got %v, want %v saying %q", err, c.kind, c.says)
			}
			if live, hist := s.state(); live != "v1" || len(hist) != 0 {
				t.Errorf("a refused promote changed live %q history %q", live, hist)
			}
		})
	}
	t.Run("an invalid app name", func(t *testing.T) {
		if _, err := release.Promote(context.Background(), s.kv, s.health, "Web/x", "v1"); !errors.Is(err, release.ErrInvalid) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("an unreadable history", func(t *testing.T) {
		s.put(release.HistoryKey("web"), "v0,v1")
		defer s.kv.Delete(release.HistoryKey("web"), nil)
		s.run("v4", consulapi.HealthPassing)
		_, err := release.Promote(context.Background(), s.kv, s.health, "web", "v4")
		if !errors.Is(err, release.ErrConflict) || !strings.Contains(err.Error(), "not a JSON list") {
			t.Errorf("got %v", err)
		}
	})
}

func TestPromotingTheLiveVersionChangesNothing(t *testing.T) {
	s := start(t)
	s.run("v1", consulapi.HealthPassing)
	s.promote("v1")
	before, _, _ := s.kv.Get(release.LiveKey("web"), nil)
	if prev := s.promote("v1"); prev != "v1" {
		t.Errorf("previous %q, want v1 (the no-op signal)", prev)
	}
	after, _, _ := s.kv.Get(release.LiveKey("web"), nil)
	if after.ModifyIndex != before.ModifyIndex {
		t.Errorf("live was rewritten")
	}
	if _, hist := s.state(); len(hist) != 0 {
		t.Errorf("history %q, want empty", hist)
	}
}

func TestHistoryKeepsTheNewestEntries(t *testing.T) {
	s := start(t)
	s.run("v1", consulapi.HealthPassing)
	s.run("v2", consulapi.HealthPassing)
	for i := range release.MaxHistory + 5 {
		s.promote([]string{"v1", "v2"}[i%2])
	}
	live, hist := s.state()
	if live != "v1" || len(hist) != release.MaxHistory || hist[len(hist)-1] != "v2" {
		t.Errorf("live %q, history (%d) %q", live, len(hist), hist)
	}
}

func TestRollbackReturnsToThePreviousVersion(t *testing.T) {
	s := start(t)
	for _, v := range []string{"v1", "v2", "v3"} {
		s.run(v, consulapi.HealthPassing)
		s.promote(v)
	}
	from, to, skipped, err := release.Rollback(context.Background(), s.kv, s.health, "web")
	if err != nil || from != "v3" || to != "v2" || len(skipped) != 0 {
		t.Fatalf("rollback: %q -> %q skipped %v, %v", from, to, skipped, err)
	}
	if live, hist := s.state(); live != "v2" || !slices.Equal(hist, []string{"v1"}) {
		t.Errorf("live %q history %q", live, hist)
	}
	if _, to, _, err := release.Rollback(context.Background(), s.kv, s.health, "web"); err != nil || to != "v1" {
		t.Fatalf("second rollback: %q, %v", to, err)
	}
	if live, hist := s.state(); live != "v1" || len(hist) != 0 {
		t.Errorf("live %q history %q", live, hist)
	}
	if p, _, _ := s.kv.Get(release.HistoryKey("web"), nil); p != nil {
		t.Errorf("an emptied history is kept as %q", p.Value)
	}
}

func TestRollbackSkipsVersionsThatNoLongerRun(t *testing.T) {
	s := start(t)
	for _, v := range []string{"v1", "v2", "v3", "v4", "v5"} {
		s.run(v, consulapi.HealthPassing)
		s.promote(v)
	}
	s.stop("v4")
	s.check("v3", consulapi.HealthCritical)
	s.put(release.DrainingKey("web", "v2"), "2026-11-26T10:00:00Z")
	from, to, skipped, err := release.Rollback(context.Background(), s.kv, s.health, "web")
	if err != nil || from != "v5" || to != "v1" {
		t.Fatalf("rollback: %q -> %q, %v", from, to, err)
	}
	want := []release.Skipped{{"v4", "no passing instance in Consul's catalog"}, {"v3", "no passing instance in Consul's catalog"}, {"v2", "draining"}}
	if !slices.Equal(skipped, want) {
		t.Errorf("skipped %v, want %v", skipped, want)
	}
	if live, hist := s.state(); live != "v1" || len(hist) != 0 {
		t.Errorf("live %q history %q", live, hist)
	}
}

func TestRollbackWithoutHistoryIsRefused(t *testing.T) {
	s := start(t)
	s.run("v1", consulapi.HealthPassing)
	ctx := context.Background()
	if _, _, _, err := release.Rollback(ctx, s.kv, s.health, "web"); !errors.Is(err, release.ErrNoHistory) {
		t.Errorf("with nothing set: %v", err)
	}
	s.promote("v1")
	if _, _, _, err := release.Rollback(ctx, s.kv, s.health, "web"); !errors.Is(err, release.ErrNoHistory) {
		t.Errorf("after one promote: %v", err)
	}
	s.run("v2", consulapi.HealthPassing)
	s.promote("v2")
	s.stop("v1")
	_, _, skipped, err := release.Rollback(ctx, s.kv, s.health, "web")
	if !errors.Is(err, release.ErrNoHistory) || len(skipped) != 1 || !strings.Contains(err.Error(), "v1: no passing instance") {
		t.Errorf("when no entry runs: %v, skipped %v", err, skipped)
	}
	if live, hist := s.state(); live != "v2" || !slices.Equal(hist, []string{"v1"}) {
		t.Errorf("a refused rollback changed live %q history %q", live, hist)
	}
}

// TestConcurrentPromotesLoseNoUpdate races two promoters over six versions.
// Every promote that changed live reports the version it replaced; replayed
// in order, those transitions must be exactly the history followed by live.
func TestConcurrentPromotesLoseNoUpdate(t *testing.T) {
	s := start(t)
	versions := []string{"v1", "v2", "v3", "v4", "v5", "v6"}
	for _, v := range versions {
		s.run(v, consulapi.HealthPassing)
	}
	s.promote("v1")
	type transition struct{ from, to string }
	var mu sync.Mutex
	var done []transition
	kv := &countingKV{KV: s.kv}
	var wg sync.WaitGroup
	const each = release.MaxHistory / 2 // the whole sequence fits in the history
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				v := versions[g*3+i%3] // g0: v1 v2 v3, g1: v4 v5 v6
				prev, err := release.Promote(context.Background(), kv, s.health, "web", v)
				if err != nil {
					t.Errorf("promote %s: %v", v, err)
					return
				}
				if prev != v {
					mu.Lock()
					done = append(done, transition{prev, v})
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d transitions, %d check-and-set races lost and retried", len(done), kv.lost)
	live, hist := s.state()
	if len(hist) != len(done) {
		t.Fatalf("%d transitions but history has %d entries: %q", len(done), len(hist), hist)
	}
	seq := append(slices.Clone(hist), live)
	want := map[transition]int{}
	for i := range hist {
		want[transition{seq[i], seq[i+1]}]++
	}
	got := map[transition]int{}
	for _, tr := range done {
		got[tr]++
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("transitions reported %v, history says %v (sequence %q)", got, want, seq)
	}
	if seq[0] != "v1" {
		t.Errorf("sequence starts at %q, want v1", seq[0])
	}
	if !slices.Contains(versions, live) {
		t.Errorf("live %q", live)
	}
}

// countingKV counts the transactions Consul refused.
type countingKV struct {
	release.KV
	mu   sync.Mutex
	lost int
}

func (k *countingKV) Txn(ops consulapi.KVTxnOps, q *consulapi.QueryOptions) (bool, *consulapi.KVTxnResponse, *consulapi.QueryMeta, error) {
	ok, resp, meta, err := k.KV.Txn(ops, q)
	if err == nil && !ok {
		k.mu.Lock()
		k.lost++
		k.mu.Unlock()
	}
	return ok, resp, meta, err
}

func TestCohorts(t *testing.T) {
	s := start(t)
	s.run("v1", consulapi.HealthPassing)
	s.run("v2", consulapi.HealthPassing)
	s.run("v3", consulapi.HealthCritical)
	s.run("v4", consulapi.HealthPassing)
	s.put(release.DrainingKey("web", "v4"), "2026-11-26T10:00:00Z")
	ctx := context.Background()
	set := func(name, version, in, out string) error {
		return release.SetCohort(ctx, s.kv, s.health, "web", name, version, in, out)
	}

	t.Run("a cohort is stored as the template's JSON", func(t *testing.T) {
		if err := set("pro", "v2", "/trypro", "/leavepro"); err != nil {
			t.Fatal(err)
		}
		p, _, _ := s.kv.Get("strata/web/cohorts/pro", nil)
		var v map[string]string
		if p == nil || json.Unmarshal(p.Value, &v) != nil || v["version"] != "v2" || v["opt_in"] != "/trypro" || v["opt_out"] != "/leavepro" {
			t.Errorf("stored %v", p)
		}
	})
	t.Run("setting it again replaces it", func(t *testing.T) {
		if err := set("pro", "v1", "/trypro", ""); err != nil {
			t.Fatal(err)
		}
		cs, err := release.ListCohorts(ctx, s.kv, s.health, "web")
		if err != nil || len(cs) != 1 || cs[0].Version != "v1" || cs[0].OptOut != "" || cs[0].Problem != "" {
			t.Errorf("%+v, %v", cs, err)
		}
	})

	for _, c := range []struct {
		name                     string
		cohort, version, in, out string
		kind                     error
		says                     string
	}{
		{"a name outside the grammar", "Pro!", "v1", "/a", "", release.ErrInvalid, "not a valid cohort name"},
		{"a missing opt-in", "beta", "v1", "", "/b", release.ErrInvalid, "needs an opt-in path"},
		{"an opt-in path with a space", "beta", "v1", "/a b", "", release.ErrInvalid, "opt-in path \"/a b\" is not valid"},
		{"a relative opt-out path", "beta", "v1", "/a", "b", release.ErrInvalid, "opt-out path \"b\" is not valid"},
		{"the root as opt-in, which would loop", "beta", "v1", "/", "", release.ErrInvalid, "would loop"},
		{"the same opt-in and opt-out", "beta", "v1", "/a", "/a", release.ErrInvalid, "both"},
		{"a path another cohort uses", "beta", "v1", "/trypro", "", release.ErrInvalid, "already cohort pro's"},
		{"an invalid version", "beta", "V1", "/a", "", release.ErrInvalid, "not a valid version"},
		{"a version that does not run", "beta", "v9", "/a", "", release.ErrNotRunning, "no passing instance"},
		{"a version whose instances are critical", "beta", "v3", "/a", "", release.ErrNotRunning, "no passing instance"},
		{"a draining version", "beta", "v4", "/a", "", release.ErrDraining, "draining"},
	} {
		t.Run("refused: "+c.name, func(t *testing.T) {
			err := set(c.cohort, c.version, c.in, c.out)
			if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.says) {
				t.Errorf("got %v, want %v saying %q", err, c.kind, c.says)
			}
			if p, _, _ := s.kv.Get("strata/web/cohorts/"+c.cohort, nil); p != nil {
				t.Errorf("a refused cohort was written: %s", p.Value)
			}
		})
	}

	t.Run("ls lists invalid entries with the reason", func(t *testing.T) {
		s.put("strata/web/cohorts/broken", "not json")
		s.put("strata/web/cohorts/Bad_Name", `{"version":"v1","opt_in":"/x"}`)
		s.put("strata/web/cohorts/gone", `{"version":"v3","opt_in":"/gone"}`)
		s.put("strata/web/cohorts/badpath", `{"version":"v2","opt_in":"/a b"}`)
		s.put("strata/web/cohorts/root", `{"version":"v2","opt_in":"/"}`)
		s.put("strata/web/cohorts/steals", `{"version":"v2","opt_in":"/trypro"}`)
		s.put("strata/web/cohorts/term", `{"version":"v2\u001b[31m","opt_in":"/t"}`)
		cs, err := release.ListCohorts(ctx, s.kv, s.health, "web")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		var names []string
		for _, c := range cs {
			got[c.Name] = c.Problem
			names = append(names, c.Name)
		}
		if !slices.IsSorted(names) || len(names) != 8 {
			t.Errorf("names %q", names)
		}
		for name, says := range map[string]string{
			"Bad_Name": "ignored: the name is not valid", "broken": "ignored: the value is not a JSON object", "gone": "ignored: v3 has no passing instance",
			"badpath": `ignored: its opt-in path "/a b" is not valid`, "pro": "",
			"root":   `ignored: its opt-in path is "/", which would redirect to itself`,
			"steals": "ignored: its opt-in path is cohort pro's",
			"term":   `ignored: "v2\x1b[31m" is not a valid version`,
		} {
			if p, ok := got[name]; !ok || !strings.Contains(p, says) || (says == "" && p != "") {
				t.Errorf("%s: problem %q, want %q", name, p, says)
			}
		}
	})

	t.Run("rm removes a cohort and refuses an unknown one", func(t *testing.T) {
		if err := release.RemoveCohort(ctx, s.kv, "web", "pro"); err != nil {
			t.Fatal(err)
		}
		if p, _, _ := s.kv.Get("strata/web/cohorts/pro", nil); p != nil {
			t.Errorf("still there")
		}
		if err := release.RemoveCohort(ctx, s.kv, "web", "pro"); !errors.Is(err, release.ErrNoCohort) {
			t.Errorf("removing it twice: %v", err)
		}
	})
}
