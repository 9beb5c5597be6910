package rollout

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/demo"
	"github.com/strata-dev/strata/internal/lbstats"
	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/release"
	"github.com/strata-dev/strata/internal/routing"
	"github.com/strata-dev/strata/internal/routing/routingtest"
)

// The end-to-end tests run the whole chain, all real: a Consul agent, demo
// backends for web v3 (live) and v4 (the candidate, which can fail a share
// of its requests), the templates rendered continuously, HAProxy applying
// them, an lbstats sidecar on HAProxy's master socket registered in Consul
// as the HAProxy job registers it, and the rollout controller. Intervals
// are short; every wait is bounded.

// e2e is one such chain.
type e2e struct {
	t testing.TB
	s *routingtest.Stack
}

func webApp() routing.App {
	return routing.App{Name: "web", Cookie: "strata_version", ServerCookie: "strata_server", Header: "X-Strata-Version"}
}

// startE2E starts the chain with v4 failing failRate of its requests.
func startE2E(t testing.TB, failRate float64) *e2e {
	t.Helper()
	s := routingtest.Start(t, func(s *routingtest.Stack) {
		s.Register(serviceID("v3"), "v3", serveDemo(t, "v3", 0), true)
		s.Register(serviceID("v4"), "v4", serveDemo(t, "v4", failRate), false)
	}, webApp())
	e := &e2e{t: t, s: s}
	e.startLBStats()
	s.Eventually("v3 serves new sessions", func() (bool, string) {
		a := s.Get("/", nil, nil)
		return a.Status == 200 && a.Version == "v3", fmt.Sprintf("%d from %q", a.Status, a.Version)
	})
	return e
}

func serviceID(v string) string {
	return fmt.Sprintf("_nomad-task-%08d-0000-0000-0000-%012d-web-web-web-http-%s", len(v), 4000+len(v), v)
}

// serveDemo starts strata's demo app for version v, failing failRate of
// its requests, and returns its port.
func serveDemo(t testing.TB, v string, failRate float64) int {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- demo.Serve(ctx, demo.Options{Version: v, Name: v + "-1", Listen: "127.0.0.1:0", FailRate: failRate, Tick: 50 * time.Millisecond,
			Ready: func(a net.Addr) { ready <- a }})
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case a := <-ready:
		return a.(*net.TCPAddr).Port
	case err := <-done:
		t.Fatalf("demo %s: %v", v, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("demo %s did not start", v)
	}
	return 0
}

// startLBStats serves lbstats on HAProxy's master socket and registers it
// and the HAProxy in Consul, as the HAProxy job does.
func (e *e2e) startLBStats() {
	t := e.t
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- lbstats.Serve(ctx, lbstats.Options{Master: e.s.Proxy.Master(), Listen: "127.0.0.1:0", Node: "strata-test",
			Ready: func(a net.Addr) { ready <- a }})
	}()
	t.Cleanup(func() { cancel(); <-done })
	var port int
	select {
	case a := <-ready:
		port = a.(*net.TCPAddr).Port
	case err := <-done:
		t.Fatalf("lbstats: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("lbstats did not start")
	}
	agent := e.s.Consul.Client.Agent()
	for _, r := range []*consulapi.AgentServiceRegistration{
		{ID: "strata-haproxy", Name: naming.HAProxyService, Address: "127.0.0.1", Port: 1},
		{ID: "strata-lbstats", Name: naming.LBStatsService, Address: "127.0.0.1", Port: port},
	} {
		if err := agent.ServiceRegister(r); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *e2e) kv() *consulapi.KV { return e.s.Consul.Client.KV() }

func (e *e2e) start(s Settings) {
	e.t.Helper()
	if _, err := Start(context.Background(), e.kv(), e.s.Consul.Client.Health(), "web", "v4", "v3", s, time.Now(), "test"); err != nil {
		e.t.Fatal(err)
	}
}

func (e *e2e) state() State {
	e.t.Helper()
	st, _, found, err := Read(context.Background(), e.kv(), "web")
	if err != nil || !found {
		e.t.Fatalf("reading the rollout: %t, %v", found, err)
	}
	return st
}

// write stores st over whatever is stored: the tests that set a weight
// without a controller.
func (e *e2e) write(st State) {
	e.t.Helper()
	_, idx, _, err := Read(context.Background(), e.kv(), "web")
	if err != nil {
		e.t.Fatal(err)
	}
	if ok, err := Write(context.Background(), e.kv(), st, idx); err != nil || !ok {
		e.t.Fatalf("writing the rollout: %t, %v", ok, err)
	}
}

// controller runs a controller passing every 100ms until the test ends.
func (e *e2e) controller() {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Controller{Consul: e.s.Consul.Client, ID: "e2e", HTTP: &http.Client{Timeout: 5 * time.Second}}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, 100*time.Millisecond) }()
	e.t.Cleanup(func() { cancel(); <-done })
}

var client = &http.Client{
	Timeout:       5 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport:     &http.Transport{DisableKeepAlives: true},
}

// get sends a request through HAProxy with an optional version cookie and
// returns the status, the version that answered and the version cookie
// set, if any. It is safe in any goroutine.
func (e *e2e) get(cookie string) (status int, version, setCookie string, err error) {
	req, _ := http.NewRequest("GET", "http://"+e.s.Front+"/", nil)
	if cookie != "" {
		req.Header.Set("Cookie", "strata_version="+cookie)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "strata_version" {
			setCookie = c.Value
		}
	}
	return resp.StatusCode, resp.Header.Get(demo.VersionHeader), setCookie, nil
}

// traffic sends new sessions and requests pinned to v4 until the test
// ends, so that every step has candidate requests to judge.
func (e *e2e) traffic() *atomic.Int64 {
	var n atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for ctx.Err() == nil {
				e.get("")
				e.get("v4")
				n.Add(2)
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	e.t.Cleanup(func() { cancel(); wg.Wait() })
	return &n
}

// waitState waits, at most limit, for the rollout to leave running.
func (e *e2e) waitEnd(limit time.Duration) State {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for i := 0; i < 10000; i++ {
		st := e.state()
		if !st.State.Active() {
			return st
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the rollout is still %s after %s: %v", st.State, limit, decisions(st))
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatal("unreachable")
	return State{}
}

func (e *e2e) live() (string, []string) {
	e.t.Helper()
	live, hist, err := release.Live(context.Background(), e.kv(), "web")
	if err != nil {
		e.t.Fatal(err)
	}
	return live, hist
}

// weight sets the rollout's weight directly, as a step would, and waits
// until HAProxy has it: the map the template renders holds it.
func (e *e2e) weight(w int) {
	e.t.Helper()
	st := e.state()
	st.Weight, st.Step = w, 0
	for i, s := range st.Settings.Steps {
		if s == w {
			st.Step = i
		}
	}
	e.write(st)
}

func TestE2ESplitAccuracy(t *testing.T) {
	e := startE2E(t, 0)
	e.start(Settings{Steps: []int{25, 100}, Interval: Duration(time.Hour), MaxErrorRate: 0.01, MinRequests: 1, OnFailure: OnFailureStay})
	e.s.Eventually("the candidate gets new sessions", func() (bool, string) {
		_, v, _, err := e.get("")
		return err == nil && v == "v4", fmt.Sprintf("%q, %v", v, err)
	})
	const n = 2000
	onCandidate := 0
	for range n {
		status, v, set, err := e.get("")
		if err != nil || status != 200 {
			t.Fatalf("a new session: %d, %v", status, err)
		}
		if set != v {
			t.Fatalf("a new session answered by %s was pinned to %q", v, set)
		}
		if v == "v4" {
			onCandidate++
		}
	}
	share := float64(onCandidate) / n
	t.Logf("split at 25%%: %d of %d new sessions on the candidate (%.2f%%)", onCandidate, n, 100*share)
	if share < 0.22 || share > 0.28 {
		t.Errorf("%d of %d new sessions (%.2f%%) on the candidate at 25%%, want 25%% ± 3%%", onCandidate, n, 100*share)
	}
}

func TestE2EStickinessThroughEveryStepAndReloads(t *testing.T) {
	e := startE2E(t, 0)
	e.start(Settings{Steps: []int{5, 25, 50, 100}, Interval: Duration(time.Hour), MaxErrorRate: 0.01, MinRequests: 1, OnFailure: OnFailureStay})
	e.s.Eventually("the candidate gets new sessions", func() (bool, string) {
		for range 200 {
			if _, v, _, _ := e.get(""); v == "v4" {
				return true, ""
			}
		}
		return false, "no new session on v4 in 200"
	})
	// 200 sessions opened at 5%.
	sessions := make([]string, 200)
	for i := range sessions {
		status, v, set, err := e.get("")
		if err != nil || status != 200 || set != v {
			t.Fatalf("session %d: %d from %q pinned to %q, %v", i, status, v, set, err)
		}
		sessions[i] = set
	}
	switches := 0
	check := func(when string) {
		t.Helper()
		for i, pinned := range sessions {
			_, v, _, err := e.get(pinned)
			if err != nil {
				t.Fatalf("%s: session %d: %v", when, i, err)
			}
			if v != pinned {
				switches++
				t.Errorf("%s: session %d pinned to %s was answered by %s", when, i, pinned, v)
			}
		}
	}
	onCandidate := strings.Count(strings.Join(sessions, " "), "v4")
	t.Logf("%d of 200 sessions opened at 5%% are on the candidate", onCandidate)
	for _, w := range []int{25, 50, 100} {
		e.weight(w)
		e.s.Eventually(fmt.Sprintf("weight %d reaches HAProxy", w), func() (bool, string) {
			hits := 0
			for range 40 {
				if _, v, _, _ := e.get(""); v == "v4" {
					hits++
				}
			}
			// At 100% every new session goes to v4; below, at least one of 40.
			return (w == 100 && hits == 40) || (w < 100 && hits > 0), fmt.Sprintf("%d of 40 on v4", hits)
		})
		check(fmt.Sprintf("at %d%%", w))
		if _, err := e.s.Proxy.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("after a reload at %d%%", w))
	}
	if switches != 0 {
		t.Errorf("%d switches, want 0", switches)
	}
}

// otherKeys returns web's routing state in Consul KV but its rollout: what a
// rollout must leave as it was.
func (e *e2e) otherKeys() string {
	e.t.Helper()
	pairs, _, err := e.kv().List("strata/web/", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	var b strings.Builder
	for _, p := range pairs {
		if p.Key != Key("web") {
			fmt.Fprintf(&b, "%s=%s\n", p.Key, p.Value)
		}
	}
	return b.String()
}

func TestE2EFailingCandidateIsRolledBack(t *testing.T) {
	e := startE2E(t, 0.2)
	e.s.Put("strata/web/cohorts/beta", `{"version":"v3","opt_in":"/beta"}`)
	liveBefore, histBefore := e.live()
	keysBefore := e.otherKeys()
	interval := 2 * time.Second
	e.start(Settings{Steps: []int{50, 100}, Interval: Duration(interval), MaxErrorRate: 0.01, MinRequests: 20, OnFailure: OnFailureStay})
	e.traffic()
	e.controller()
	st := e.waitEnd(20 * interval)
	if st.State != Failed || st.Weight != 0 {
		t.Fatalf("the rollout ended %s at weight %d, want failed at 0: %v", st.State, st.Weight, decisions(st))
	}
	// Rolled back at the first judgment of the first step, one interval
	// after its baseline (so within two), with nothing in between.
	if got := strings.Join(decisions(st), " "); got != "start@0 baseline@0 fail@0" {
		t.Errorf("history %s, want start@0 baseline@0 fail@0", got)
	}
	last, _ := st.Last()
	t.Logf("failed: %s (%s after the baseline)", last.Why, last.At.Sub(st.History[1].At))
	if last.Candidate == nil || last.Candidate.ErrorRate() < 0.1 {
		t.Errorf("the fail decision measured %+v, want about 20%% 5xx", last.Candidate)
	}
	if live, hist := e.live(); live != liveBefore || strings.Join(hist, ",") != strings.Join(histBefore, ",") {
		t.Errorf("live %q history %v, want %q %v unchanged", live, hist, liveBefore, histBefore)
	}
	if keys := e.otherKeys(); keys != keysBefore {
		t.Errorf("the rollout changed web's other keys:\n%s\nwant\n%s", keys, keysBefore)
	}
	e.s.Eventually("weight 0 reaches HAProxy", func() (bool, string) {
		for range 50 {
			if _, v, _, _ := e.get(""); v != "v3" {
				return false, "a new session on " + v
			}
		}
		return true, ""
	})
	// on_failure stay: a session pinned to v4 stays there.
	if _, v, _, err := e.get("v4"); err != nil || v != "v4" {
		t.Errorf("a session pinned to v4 after the failure went to %q (%v), want v4", v, err)
	}
}

func TestE2EHealthyCandidateBecomesLive(t *testing.T) {
	e := startE2E(t, 0)
	interval := time.Second
	e.start(Settings{Steps: []int{25, 50, 100}, Interval: Duration(interval), MaxErrorRate: 0.01, MinRequests: 10, OnFailure: OnFailureStay})
	e.traffic()
	e.controller()
	st := e.waitEnd(30 * time.Second)
	if st.State != Succeeded {
		t.Fatalf("the rollout ended %s: %s: %v", st.State, st.Reason, decisions(st))
	}
	var steps []string
	for _, h := range st.History {
		if h.Decision == ActionAdvance || h.Decision == ActionSucceed {
			steps = append(steps, fmt.Sprintf("%s@%d", h.Decision, h.Step))
			if h.Candidate == nil || h.Candidate.Requests < 10 || h.Candidate.HTTP5xx != 0 {
				t.Errorf("%s at step %d judged %+v", h.Decision, h.Step, h.Candidate)
			}
		}
	}
	if got := strings.Join(steps, " "); got != "advance@0 advance@1 succeed@2" {
		t.Errorf("steps %s, want advance@0 advance@1 succeed@2: %v", got, decisions(st))
	}
	if live, hist := e.live(); live != "v4" || strings.Join(hist, ",") != "v3" {
		t.Errorf("live %s history %v, want v4 and [v3]", live, hist)
	}
	e.s.Eventually("new sessions go to the new live version", func() (bool, string) {
		_, v, _, err := e.get("")
		return v == "v4", fmt.Sprintf("%q, %v", v, err)
	})
}

// TestE2EFailedCandidateWithReturnSendsItsSessionsBack: with on_failure
// "return", a failed candidate leaves the allow-list, and a session pinned
// to it goes to the live version at its next request.
func TestE2EFailedCandidateWithReturnSendsItsSessionsBack(t *testing.T) {
	e := startE2E(t, 0.2)
	e.start(Settings{Steps: []int{50, 100}, Interval: Duration(time.Second), MaxErrorRate: 0.01, MinRequests: 20, OnFailure: OnFailureReturn})
	e.s.Eventually("a session pinned to the candidate reaches it", func() (bool, string) {
		_, v, _, err := e.get("v4")
		return v == "v4", fmt.Sprintf("%q, %v", v, err)
	})
	e.traffic()
	e.controller()
	st := e.waitEnd(30 * time.Second)
	if st.State != Failed || !st.Return {
		t.Fatalf("the rollout ended %s (return %t): %v", st.State, st.Return, decisions(st))
	}
	e.s.Eventually("a session pinned to the failed candidate goes back to live", func() (bool, string) {
		_, v, set, err := e.get("v4")
		return v == "v3" && set == "v3", fmt.Sprintf("answered by %q, pinned to %q, %v", v, set, err)
	})
}
