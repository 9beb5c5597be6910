package routing_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/haproxy"
	"github.com/strata-dev/strata/internal/haproxy/haproxytest"
	"github.com/strata-dev/strata/internal/routing"
	"github.com/strata-dev/strata/internal/routing/apply"
	"github.com/strata-dev/strata/internal/routing/routingtest"
)

// workers counts HAProxy's worker processes, current and old.
func workers(t *testing.T, m *haproxy.Master) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	procs, err := m.Procs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range procs {
		if p.Worker() {
			n++
		}
	}
	return n
}

// runningState is what the current worker runs, described as apply.Written
// describes the files.
func runningState(t *testing.T, dir string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := apply.Running(ctx, &haproxy.Runtime{Socket: filepath.Join(dir, "admin.sock")}, dir)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func writtenState(t *testing.T, dir string) string {
	t.Helper()
	got, err := apply.Written(dir)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestEveryRoutingChangeIsHitless makes one change of every kind that
// happens in normal operation, with a stream open on an old version, and
// checks each is routed correctly, while HAProxy never reloads and runs one
// worker, and the files on disk equal what it runs.
func TestEveryRoutingChangeIsHitless(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Consul and HAProxy; -short skips it")
	}
	var v2a string
	s := routingtest.Start(t, func(s *routingtest.Stack) {
		s.Backend("v1", 1, false)
		v2a = s.Backend("v2", 1, true)
	}, webApp())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream := s.OpenStream(ctx, "v1")
	reloads := s.MasterReloads()
	pinned := func(v string) routingtest.Answer { return s.Get("/", map[string]string{"strata_version": v}, nil) }

	steps := []struct {
		name   string
		change func()
		check  func() (bool, string)
	}{
		{"an instance of v2 appears", func() { s.Backend("v2", 2, true) }, func() (bool, string) {
			for range 4 {
				if a := pinned("v2"); a.Server == "v2-2" {
					return true, ""
				}
			}
			return false, "v2-2 never answers"
		}},
		{"an instance of v2 leaves", func() {
			if err := s.Consul.Client.Agent().ServiceDeregister(v2a); err != nil {
				t.Fatal(err)
			}
		}, func() (bool, string) {
			for range 6 {
				if a := pinned("v2"); a.Server != "v2-2" {
					return false, a.Server + " answers"
				}
			}
			return true, ""
		}},
		{"a new version appears", func() { s.Backend("v3", 1, false) }, func() (bool, string) {
			a := pinned("v3")
			return a.Version == "v3", a.Version
		}},
		{"a promotion", func() { s.Put("strata/web/live", "v3") }, func() (bool, string) {
			a := s.Get("/", nil, nil)
			return a.Version == "v3" && a.Cookies["strata_version"] != nil && a.Cookies["strata_version"].Value == "v3", a.Version
		}},
		{"a cohort", func() { s.Put("strata/web/cohorts/beta", `{"version":"v2","opt_in":"/beta"}`) }, func() (bool, string) {
			a := s.Get("/beta", nil, nil)
			c := a.Cookies["strata_version"]
			return a.Status == 302 && c != nil && c.Value == "v2", fmt.Sprint(a.Status)
		}},
		{"a cohort removed", func() {
			if _, err := s.Consul.Client.KV().Delete("strata/web/cohorts/beta", nil); err != nil {
				t.Fatal(err)
			}
		}, func() (bool, string) {
			a := s.Get("/beta", nil, nil)
			return a.Status == 200, fmt.Sprint(a.Status)
		}},
		{"a rollout sends every new session to its candidate", func() {
			s.Backend("v4", 1, false)
			s.Put("strata/web/rollout", `{"candidate":"v4","stable":"v3","weight":100,"step":2,"state":"running"}`)
		}, func() (bool, string) {
			for range 5 {
				if a := s.Get("/", nil, nil); a.Version != "v4" {
					return false, a.Version
				}
			}
			return true, ""
		}},
		{"a rollout at 50 sends about half of the new sessions", func() {
			s.Put("strata/web/rollout", `{"candidate":"v4","stable":"v3","weight":50,"step":1,"state":"running"}`)
		}, func() (bool, string) {
			// 200 new sessions: outside 50..150 has a probability
			// below 1e-12 at 50%, and is certain at 100% or 0%.
			n := 0
			for range 200 {
				if a := s.Get("/", nil, nil); a.Version == "v4" {
					n++
				} else if a.Version != "v3" {
					return false, a.Version
				}
			}
			return n >= 50 && n <= 150, fmt.Sprintf("%d of 200 to v4", n)
		}},
		{"a paused rollout at weight 0 sends none", func() {
			s.Put("strata/web/rollout", `{"candidate":"v4","stable":"v3","weight":0,"step":0,"state":"paused"}`)
		}, func() (bool, string) {
			for range 5 {
				if a := s.Get("/", nil, nil); a.Version != "v3" {
					return false, a.Version
				}
			}
			return pinned("v4").Version == "v4", "v4's own cookie"
		}},
		{"a failed rollout that returns its sessions drops the candidate from the allow-list", func() {
			s.Put("strata/web/rollout", `{"candidate":"v4","stable":"v3","weight":0,"step":0,"state":"failed","return":true}`)
		}, func() (bool, string) {
			a := pinned("v4")
			return a.Version == "v3", a.Version
		}},
		{"a drain", func() { s.Put("strata/web/draining/v2", "2026-12-01T00:00:00Z") }, func() (bool, string) {
			a := pinned("v2")
			return a.Version == "v3", a.Version
		}},
	}
	for _, st := range steps {
		st.change()
		s.Eventually(st.name, st.check)
		if got := s.MasterReloads(); got != reloads {
			t.Fatalf("%s: HAProxy reloaded %d time(s)", st.name, got-reloads)
		}
		if n := workers(t, s.Proxy.Master()); n != 1 {
			t.Errorf("%s: %d worker processes", st.name, n)
		}
	}
	// Settled: the files are what HAProxy runs.
	s.Eventually("the files equal what HAProxy runs", func() (bool, string) {
		run, written := runningState(t, s.Dir), writtenState(t, s.Dir)
		return run == written, "running:\n" + run + "\nwritten:\n" + written
	})
	streamFlows(t, s, stream)
	if st, err := apply.ReadStats(s.Dir); err != nil || st.Reloads != 0 || st.Exhausted != 0 {
		t.Errorf("apply's counters %+v, %v", st, err)
	}
}

// TestAStructuralChangeReloadsOnceAndStreamsSurvive changes a routing
// setting (more servers per slot): the apply step reloads HAProxy exactly
// once, the stream opened before survives on the old worker, and the new
// worker comes up with the state the old one had.
func TestAStructuralChangeReloadsOnceAndStreamsSurvive(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Consul and HAProxy; -short skips it")
	}
	s := routingtest.Start(t, twoVersions, webApp())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream := s.OpenStream(ctx, "v1")
	s.Put("strata/web/cohorts/beta", `{"version":"v1","opt_in":"/beta"}`)
	s.Eventually("the cohort", func() (bool, string) {
		a := s.Get("/beta", nil, nil)
		return a.Status == 302, fmt.Sprint(a.Status)
	})
	before := runningState(t, s.Dir)
	reloads := s.MasterReloads()

	d := s.Data
	d.Apps = append([]routing.App(nil), d.Apps...)
	d.Apps[0].MaxServers = 20
	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer rcancel()
	if err := routing.Render(rctx, d, routing.Options{ConsulAddr: s.Consul.Addr, Dir: s.Dir, Once: true}); err != nil {
		t.Fatal(err)
	}
	res, err := apply.Apply(rctx, s.ApplyOptions())
	if err != nil || !res.Reloaded {
		t.Fatalf("apply after a structural change: reloaded %v, %v", res.Reloaded, err)
	}
	if res, err := apply.Apply(rctx, s.ApplyOptions()); err != nil || res.Reloaded || len(res.Commands) != 0 {
		t.Errorf("applying again: reloaded %v, commands %q, %v", res.Reloaded, res.Commands, err)
	}
	if got := s.MasterReloads() - reloads; got != 1 {
		t.Errorf("%d reloads, want 1", got)
	}
	after := runningState(t, s.Dir)
	// The same state, with four more free servers per slot.
	if want := before; len(after) <= len(want) || !containsLines(after, want) {
		t.Errorf("the new worker runs:\n%s\nthe old one ran:\n%s", after, before)
	}
	if a := s.Get("/beta", nil, nil); a.Status != 302 {
		t.Errorf("the cohort after the reload: %d", a.Status)
	}
	for _, v := range []string{"v1", "v2"} {
		if a := s.Get("/", map[string]string{"strata_version": v}, nil); a.Version != v {
			t.Errorf("cookie %s after the reload: %q", v, a.Version)
		}
	}
	streamFlows(t, s, stream)
}

// streamFlows checks that stream has not ended and still receives lines.
func streamFlows(t *testing.T, s *routingtest.Stack, stream *routingtest.Stream) {
	t.Helper()
	ticks := stream.Ticks.Load()
	s.EventuallyT(t, "the stream keeps flowing", func() (bool, string) {
		select {
		case err := <-stream.Done:
			t.Fatalf("the stream ended: %v", err)
		default:
		}
		return stream.Ticks.Load() > ticks+2, fmt.Sprintf("%d ticks", stream.Ticks.Load())
	})
}

// containsLines reports whether every line of want is a line of got.
func containsLines(got, want string) bool {
	have := map[string]bool{}
	for _, l := range splitLines(got) {
		have[l] = true
	}
	for _, l := range splitLines(want) {
		if !have[l] {
			return false
		}
	}
	return true
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := range len(s) {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

// TestTheStateSurvivesAReloadAndARestart brings HAProxy to a state with
// every kind of entry (servers ready and free, live, a cohort, a draining
// version), then reloads it and restarts it: each time it comes up running
// what it ran before, which is what the files say.
func TestTheStateSurvivesAReloadAndARestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Consul and HAProxy; -short skips it")
	}
	s := routingtest.Start(t, func(s *routingtest.Stack) {
		threeVersions(s)
	}, webApp())
	s.Put("strata/web/cohorts/beta", `{"version":"v3","opt_in":"/beta","opt_out":"/unbeta"}`)
	s.Put("strata/web/live", "v3")
	s.Put("strata/web/draining/v1", "2026-12-01T00:00:00Z")
	s.Eventually("the state is applied", func() (bool, string) {
		a, b, c := s.Get("/beta", nil, nil), s.Get("/", nil, nil), s.Get("/", map[string]string{"strata_version": "v1"}, nil)
		return a.Status == 302 && b.Version == "v3" && c.Version == "v3", fmt.Sprint(a.Status, b.Version, c.Version)
	})
	s.Eventually("the files equal what HAProxy runs", func() (bool, string) {
		run, written := runningState(t, s.Dir), writtenState(t, s.Dir)
		return run == written, "running:\n" + run + "\nwritten:\n" + written
	})
	before := runningState(t, s.Dir)
	sc := s.Get("/", map[string]string{"strata_version": "v2"}, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := s.Proxy.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if got := runningState(t, s.Dir); got != before {
		t.Errorf("after a reload HAProxy runs:\n%s\nbefore:\n%s", got, before)
	}

	// A restart: the master stops, a new HAProxy starts on the same files.
	if err := syscall.Kill(s.Proxy.PID, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		if err := syscall.Kill(s.Proxy.PID, 0); err != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cfg, err := os.ReadFile(filepath.Join(s.Dir, routing.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	haproxytest.Start(t, string(cfg))
	if got := runningState(t, s.Dir); got != before {
		t.Errorf("after a restart HAProxy runs:\n%s\nbefore:\n%s", got, before)
	}
	// Routing and the server cookie (dynamic: it follows the address)
	// carry on.
	if a := s.Get("/beta", nil, nil); a.Status != 302 {
		t.Errorf("after a restart, the cohort answers %d", a.Status)
	}
	if a := s.Get("/", map[string]string{"strata_version": "v1"}, nil); a.Version != "v3" {
		t.Errorf("after a restart, a draining version's cookie reaches %q", a.Version)
	}
	if c := sc.Cookies["strata_server"]; c != nil {
		for range 5 {
			a := s.Get("/", map[string]string{"strata_version": "v2", "strata_server": c.Value}, nil)
			if a.Server != sc.Server {
				t.Errorf("after a restart, server cookie %s reached %s, not %s", c.Value, a.Server, sc.Server)
			}
		}
	} else {
		t.Errorf("no server cookie before the restart")
	}
}

// TestSlotsRunningOutReloadOnceWithMore runs an app with 2 version slots of
// 2 servers: a third version, then a third instance, find no place, so the
// apply step adds slots and servers to haproxy.cfg and reloads once for
// each, says so in its counters, and routes them; a stream survives.
func TestSlotsRunningOutReloadOnceWithMore(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Consul and HAProxy; -short skips it")
	}
	app := webApp()
	app.MaxVersions, app.MaxServers = 2, 2
	s := routingtest.Start(t, func(s *routingtest.Stack) {
		s.Backend("v1", 1, false)
		s.Backend("v2", 1, true)
	}, app)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream := s.OpenStream(ctx, "v1")
	reloads := s.MasterReloads()

	s.Backend("v3", 1, false)
	s.Eventually("v3 routed", func() (bool, string) {
		a := s.Get("/", map[string]string{"strata_version": "v3"}, nil)
		return a.Version == "v3", a.Version
	})
	if got := s.MasterReloads() - reloads; got != 1 {
		t.Errorf("%d reloads for a version beyond the slots, want 1", got)
	}
	for _, n := range []int{2, 3} {
		s.Backend("v2", n, true)
	}
	s.Eventually("v2-3 routed", func() (bool, string) {
		for range 6 {
			if a := s.Get("/", map[string]string{"strata_version": "v2"}, nil); a.Server == "v2-3" {
				return true, ""
			}
		}
		return false, "v2-3 never answers"
	})
	// The apply step that routed v2-3 may still be verifying.
	s.Eventually("the counters", func() (bool, string) {
		st, err := apply.ReadStats(s.Dir)
		return err == nil && st.Exhausted == 2 && st.Reloads == 2 && len(st.LastExhausted) > 0, fmt.Sprintf("%+v, %v", st, err)
	})
	if got := s.MasterReloads() - reloads; got != 2 {
		t.Errorf("%d reloads after an instance beyond the servers too, want 2", got)
	}
	for _, v := range []string{"v1", "v2", "v3"} {
		if a := s.Get("/", map[string]string{"strata_version": v}, nil); a.Version != v {
			t.Errorf("cookie %s: %q", v, a.Version)
		}
	}
	s.Eventually("the files equal what HAProxy runs", func() (bool, string) {
		run, written := runningState(t, s.Dir), writtenState(t, s.Dir)
		return run == written, "running:\n" + run + "\nwritten:\n" + written
	})
	streamFlows(t, s, stream)
}

// TestAnInstanceLeavingWithAStreamGoesToMaintenanceUntilItEnds opens a
// stream on v1's only instance, then deregisters the instance: its server
// goes to maintenance (no new request reaches it) while the stream flows
// and the sessions HAProxy counts (what the sweeper reads) still include
// it; once the stream ends, the server and then the slot are freed.
func TestAnInstanceLeavingWithAStreamGoesToMaintenanceUntilItEnds(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Consul and HAProxy; -short skips it")
	}
	var v1 string
	s := routingtest.Start(t, func(s *routingtest.Stack) {
		v1 = s.Backend("v1", 1, false)
		s.Backend("v2", 1, true)
	}, webApp())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream := s.OpenStream(ctx, "v1")
	slotOf := func(v string) string {
		b, _ := os.ReadFile(filepath.Join(s.Dir, apply.SlotsMap))
		for _, l := range splitLines(string(b)) {
			if be, version, ok := cutSpace(l); ok && version == "web/"+v {
				return be
			}
		}
		return ""
	}
	be := slotOf("v1")
	if be == "" {
		t.Fatal("v1 has no slot")
	}
	sessions := func() int {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n, err := s.Proxy.Master().Sessions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n[be]
	}
	s.Eventually("the stream is counted", func() (bool, string) { return sessions() == 1, fmt.Sprint(sessions()) })

	if err := s.Consul.Client.Agent().ServiceDeregister(v1); err != nil {
		t.Fatal(err)
	}
	s.Eventually("v1's cookie goes to live", func() (bool, string) {
		a := s.Get("/", map[string]string{"strata_version": "v1"}, nil)
		return a.Version == "v2", a.Version
	})
	if want := "server " + be + "/s1 "; !containsPrefixed(runningState(t, s.Dir), want, "maint") {
		t.Errorf("%s is not in maintenance:\n%s", want, runningState(t, s.Dir))
	}
	if n := sessions(); n != 1 {
		t.Errorf("%s counts %d sessions with its server in maintenance, want 1", be, n)
	}
	if slotOf("v1") != be {
		t.Errorf("v1's slot was freed while it held a session")
	}
	streamFlows(t, s, stream)

	cancel()
	s.Eventually("the session ends", func() (bool, string) { return sessions() == 0, fmt.Sprint(sessions()) })
	// The next apply step frees the slot.
	s.Put("strata/web/cohorts/nudge", `{"version":"v2","opt_in":"/nudge"}`)
	s.Eventually("v1's slot is freed", func() (bool, string) { return slotOf("v1") == "", slotOf("v1") })
	s.Eventually("the files equal what HAProxy runs", func() (bool, string) {
		run, written := runningState(t, s.Dir), writtenState(t, s.Dir)
		return run == written, "running:\n" + run + "\nwritten:\n" + written
	})
}

func cutSpace(l string) (string, string, bool) {
	for i := range len(l) {
		if l[i] == ' ' {
			return l[:i], l[i+1:], true
		}
	}
	return "", "", false
}

// containsPrefixed reports whether a line of text starts with prefix and
// ends with suffix.
func containsPrefixed(text, prefix, suffix string) bool {
	for _, l := range splitLines(text) {
		if len(l) >= len(prefix)+len(suffix) && l[:len(prefix)] == prefix && l[len(l)-len(suffix):] == suffix {
			return true
		}
	}
	return false
}
