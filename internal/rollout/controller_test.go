package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/applystats"
	"github.com/strata-dev/strata/internal/lbstats"
	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/release"
	"github.com/strata-dev/strata/internal/testenv"
)

// fleet is a real Consul agent with app web's versions v3 (live) and v4
// registered, and one lbstats sidecar per node serving the counters the
// test sets: an HTTP server answering GET /sessions with an lbstats.Report,
// registered in the catalog as strata-haproxy and strata-lbstats on its own
// node, as the HAProxy job registers them.
type fleet struct {
	t      *testing.T
	consul *testenv.Consul
	mu     sync.Mutex
	nodes  map[string]*fakeNode
	clock  time.Time
}

type fakeNode struct {
	down bool // answers 503
	// applyFailing: the report says the node's apply step last failed.
	applyFailing bool
	master       int
	procs        []lbstats.Process
	requests     int
}

func newFleet(t *testing.T, nodes ...string) *fleet {
	t.Helper()
	f := &fleet{t: t, consul: testenv.StartConsul(t), nodes: map[string]*fakeNode{}, clock: t0}
	for i, v := range []string{"v3", "v4"} {
		f.registerVersion(v, 20000+i)
	}
	if _, err := f.consul.Client.KV().Put(&consulapi.KVPair{Key: release.LiveKey("web"), Value: []byte("v3")}, nil); err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes {
		f.addNode(n, 1000*(i+1))
	}
	return f
}

func (f *fleet) registerVersion(v string, port int) {
	f.t.Helper()
	_, err := f.consul.Client.Catalog().Register(&consulapi.CatalogRegistration{
		Node: "app-node", Address: "127.0.0.1",
		Service: &consulapi.AgentService{ID: "web-" + v, Service: "web", Address: "127.0.0.1", Port: port,
			Tags: []string{naming.TagManaged, naming.VersionTag(v)}},
	}, nil)
	if err != nil {
		f.t.Fatal(err)
	}
}

// addNode starts node's lbstats with one worker routing be_web_1 to v3 and
// be_web_2 to v4, all counters 0.
func (f *fleet) addNode(node string, master int) {
	f.t.Helper()
	n := &fakeNode{master: master}
	n.procs = []lbstats.Process{f.newProc(master + 1)}
	f.mu.Lock()
	f.nodes[node] = n
	f.mu.Unlock()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		n.requests++
		if n.down {
			w.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(w).Encode(map[string]string{"error": "lbstats: listing HAProxy's workers: connection refused"})
			return
		}
		json.NewEncoder(w).Encode(f.report(node, n))
	}))
	f.t.Cleanup(srv.Close)
	host, portStr, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)
	for _, svc := range []*consulapi.AgentService{
		{ID: "haproxy", Service: naming.HAProxyService, Address: host, Port: 1},
		{ID: "lbstats", Service: naming.LBStatsService, Address: host, Port: port},
	} {
		if _, err := f.consul.Client.Catalog().Register(&consulapi.CatalogRegistration{Node: node, Address: host, Service: svc}, nil); err != nil {
			f.t.Fatal(err)
		}
	}
}

func (f *fleet) newProc(pid int) lbstats.Process {
	return lbstats.Process{PID: pid, Current: true, Backends: map[string]lbstats.Backend{
		"be_web_1": {App: "web", Version: "v3"},
		"be_web_2": {App: "web", Version: "v4"},
	}}
}

func (f *fleet) report(node string, n *fakeNode) lbstats.Report {
	r := lbstats.Report{Node: node, Time: f.clock, Workers: len(n.procs), MasterPID: n.master,
		Versions: map[string]map[string]int{"web": {"v3": 0, "v4": 0}}, Other: map[string]int{},
		Processes: n.procs, Traffic: map[string]map[string]lbstats.Traffic{}, Reloads: n.procs[len(n.procs)-1].Generation,
		Apply: &applystats.Stats{Applies: 3, Failing: n.applyFailing}}
	if n.applyFailing {
		r.Apply.Failures, r.Apply.LastError = 1, "apply: reading HAProxy's state: connection refused"
	}
	for _, p := range n.procs {
		for _, b := range p.Backends {
			if r.Traffic[b.App] == nil {
				r.Traffic[b.App] = map[string]lbstats.Traffic{}
			}
			r.Traffic[b.App][b.Version] = r.Traffic[b.App][b.Version].Add(b.Traffic)
		}
	}
	return r
}

// serve adds traffic to every node's current worker: requests and 5xx for
// the candidate v4, requests for v3.
func (f *fleet) serve(v4Requests, v4Errors, v3Requests int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range f.nodes {
		p := &n.procs[len(n.procs)-1]
		b := p.Backends["be_web_2"]
		b.Requests += v4Requests
		b.Responses5xx += v4Errors
		p.Backends["be_web_2"] = b
		b = p.Backends["be_web_1"]
		b.Requests += v3Requests
		p.Backends["be_web_1"] = b
	}
}

// reload starts a new worker on node, the old one living on.
func (f *fleet) reload(node string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.nodes[node]
	for i := range n.procs {
		n.procs[i].Current = false
	}
	p := f.newProc(n.procs[len(n.procs)-1].PID + 1)
	p.Generation = len(n.procs)
	n.procs = append(n.procs, p)
}

func (f *fleet) setDown(node string, down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nodes[node].down = down
}

func (f *fleet) setApplyFailing(node string, failing bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nodes[node].applyFailing = failing
}

func (f *fleet) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clock = f.clock.Add(d)
}

func (f *fleet) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.clock
}

func (f *fleet) controller(id string) *Controller {
	return &Controller{Consul: f.consul.Client, ID: id, Now: f.now, HTTP: &http.Client{Timeout: 5 * time.Second}}
}

func (f *fleet) start(s Settings) State {
	f.t.Helper()
	st, err := Start(context.Background(), f.consul.Client.KV(), f.consul.Client.Health(), "web", "v4", "", s, f.now(), "cli")
	if err != nil {
		f.t.Fatal(err)
	}
	return st
}

func (f *fleet) state() State {
	f.t.Helper()
	st, _, found, err := Read(context.Background(), f.consul.Client.KV(), "web")
	if err != nil || !found {
		f.t.Fatalf("reading the rollout: found %t, %v", found, err)
	}
	return st
}

func (f *fleet) live() string {
	f.t.Helper()
	live, _, err := release.Live(context.Background(), f.consul.Client.KV(), "web")
	if err != nil {
		f.t.Fatal(err)
	}
	return live
}

// pass runs one pass of c and fails the test on an error.
func pass(t *testing.T, c *Controller) []Result {
	t.Helper()
	res, err := c.Pass(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("%s: %v", r.App, r.Err)
		}
	}
	return res
}

func decisions(st State) []string {
	var out []string
	for _, e := range st.History {
		out = append(out, fmt.Sprintf("%s@%d", e.Decision, e.Step))
	}
	return out
}

func fastSettings() Settings {
	return Settings{Steps: []int{5, 25, 50, 100}, Interval: Duration(10 * time.Second), MaxErrorRate: 0.01, MinRequests: 100, OnFailure: OnFailureStay}
}

const wantSuccess = "start@0 baseline@0 advance@0 advance@1 advance@2 succeed@3"

func TestTwoControllersMakeEachDecisionOnce(t *testing.T) {
	f := newFleet(t, "n1", "n2")
	f.start(fastSettings())
	a, b := f.controller("a"), f.controller("b")
	applied := map[string]int{}
	for round := range 12 {
		// Both controllers pass at the same moment, on the same state.
		var wg sync.WaitGroup
		results := make([][]Result, 2)
		for i, c := range []*Controller{a, b} {
			wg.Go(func() { results[i] = pass(t, c) })
		}
		wg.Wait()
		for _, rs := range results {
			for _, r := range rs {
				if r.Applied {
					applied[string(r.Decision.Action)]++
				}
			}
		}
		if f.state().State != Running {
			break
		}
		if round > 10 {
			t.Fatalf("still running after %d rounds: %v", round, decisions(f.state()))
		}
		f.serve(200, 1, 500)
		f.advance(11 * time.Second)
	}
	st := f.state()
	if got := strings.Join(decisions(st), " "); got != wantSuccess {
		t.Errorf("history %s, want %s", got, wantSuccess)
	}
	if applied["baseline"] != 1 || applied["advance"] != 3 || applied["succeed"] != 1 {
		t.Errorf("decisions applied %v, want baseline 1, advance 3, succeed 1", applied)
	}
	if f.live() != "v4" || st.State != Succeeded {
		t.Errorf("live %s, state %s; want v4 live and succeeded", f.live(), st.State)
	}
	_, hist, _ := release.Live(context.Background(), f.consul.Client.KV(), "web")
	if strings.Join(hist, ",") != "v3" {
		t.Errorf("history %v, want [v3]: promoted once", hist)
	}
}

func TestKilledControllerResumesWithoutRepeatingOrSkippingAStep(t *testing.T) {
	f := newFleet(t, "n1")
	f.start(fastSettings())
	// Controller a runs with a real loop until it has advanced once, then
	// is killed (its context cancelled) mid-step.
	a := f.controller("a")
	ctx, kill := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, 20*time.Millisecond) }()
	deadline := time.Now().Add(20 * time.Second)
	for f.state().Step < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("controller a did not advance: %v", decisions(f.state()))
		}
		f.serve(200, 0, 0)
		f.advance(11 * time.Second)
		time.Sleep(50 * time.Millisecond)
	}
	kill()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	killedAt := f.state()
	// Mid-step: traffic and time pass with no controller. (a's loop races
	// the test's clock, so the clock is set from the step's start.)
	f.serve(300, 0, 0)
	f.mu.Lock()
	f.clock = killedAt.StepStarted.Add(5 * time.Second)
	f.mu.Unlock()
	b := f.controller("b")
	pass(t, b)
	if st := f.state(); st.Step != killedAt.Step {
		t.Fatalf("b changed step %d to %d before the step was due", killedAt.Step, st.Step)
	}
	for range 10 {
		f.advance(6 * time.Second)
		pass(t, b)
		if f.state().State != Running {
			break
		}
		f.serve(200, 0, 0)
	}
	st := f.state()
	// a's loop races the test's clock, so a step may have waited once
	// (judged before its traffic came): waits aside, every step is
	// decided exactly once.
	var got []string
	for _, d := range decisions(st) {
		if !strings.HasPrefix(d, "wait@") {
			got = append(got, d)
		}
	}
	if strings.Join(got, " ") != wantSuccess {
		t.Errorf("history %s, want %s (waits aside)", strings.Join(decisions(st), " "), wantSuccess)
	}
	for _, e := range st.History {
		if e.Decision == ActionAdvance && e.Step >= killedAt.Step && e.By != "b" {
			t.Errorf("step %d advanced by %s after a was killed", e.Step, e.By)
		}
	}
	if f.live() != "v4" {
		t.Errorf("live %s, want v4", f.live())
	}
}

func TestInconclusiveStepWaitsAndSaysSo(t *testing.T) {
	f := newFleet(t, "n1")
	f.start(fastSettings())
	c := f.controller("c")
	pass(t, c) // baseline
	f.serve(12, 0, 500)
	f.advance(11 * time.Second)
	res := pass(t, c)
	if len(res) != 1 || res[0].Decision.Action != ActionWait {
		t.Fatalf("results %+v, want a wait", res)
	}
	st := f.state()
	last, _ := st.Last()
	if st.Step != 0 || last.Decision != ActionWait || !strings.Contains(last.Why, "inconclusive: candidate v4 served 12 requests") || !strings.Contains(st.Reason, "inconclusive") {
		t.Fatalf("state after a thin step: step %d, last %+v, reason %q", st.Step, last, st.Reason)
	}
	// More passes without traffic do not repeat the entry.
	f.advance(time.Minute)
	pass(t, c)
	pass(t, c)
	if n := len(f.state().History); n != len(st.History) {
		t.Errorf("history grew from %d to %d while waiting", len(st.History), n)
	}
	// Enough requests: the step is judged on everything since its start.
	f.serve(100, 0, 0)
	pass(t, c)
	st = f.state()
	last, _ = st.Last()
	if st.Step != 1 || last.Decision != ActionAdvance || last.Candidate.Requests != 112 {
		t.Errorf("after enough requests: step %d, last %+v", st.Step, last)
	}
}

func TestLBStatsThatDoesNotAnswerHolds(t *testing.T) {
	f := newFleet(t, "n1", "n2")
	f.start(fastSettings())
	c := f.controller("c")
	pass(t, c) // baseline
	f.serve(500, 0, 500)
	f.setDown("n2", true)
	f.advance(11 * time.Second)
	for range 3 {
		pass(t, c)
	}
	st := f.state()
	last, _ := st.Last()
	if st.Step != 0 || st.Weight != 5 || last.Decision != ActionHold || !strings.Contains(last.Why, "node n2") {
		t.Fatalf("with n2's lbstats down: step %d weight %d, last %+v", st.Step, st.Weight, last)
	}
	if got := strings.Count(strings.Join(decisions(st), " "), "hold"); got != 1 {
		t.Errorf("%d holds recorded, want 1: %v", got, decisions(st))
	}
	f.setDown("n2", false)
	pass(t, c)
	if st := f.state(); st.Step != 1 {
		t.Errorf("after n2 answered again: step %d, want 1: %v", st.Step, decisions(st))
	}
}

// TestAnHAProxyWhoseApplyStepFailsHolds: a node whose HAProxy may not route
// the candidate's share as asked (its apply step last failed) holds the
// rollout, like an lbstats that does not answer.
func TestAnHAProxyWhoseApplyStepFailsHolds(t *testing.T) {
	f := newFleet(t, "n1", "n2")
	f.start(fastSettings())
	c := f.controller("c")
	pass(t, c) // baseline
	f.serve(500, 0, 500)
	f.setApplyFailing("n2", true)
	f.advance(11 * time.Second)
	pass(t, c)
	st := f.state()
	last, _ := st.Last()
	if st.Step != 0 || last.Decision != ActionHold || !strings.Contains(last.Why, "node n2: its HAProxy's apply step is failing") {
		t.Fatalf("with n2's apply step failing: step %d, last %+v", st.Step, last)
	}
	f.setApplyFailing("n2", false)
	pass(t, c)
	if st := f.state(); st.Step != 1 {
		t.Errorf("after n2's apply step succeeded again: step %d, want 1: %v", st.Step, decisions(st))
	}
}

func TestFailingCandidateIsRolledBackAndLiveStays(t *testing.T) {
	f := newFleet(t, "n1")
	s := fastSettings()
	s.OnFailure = OnFailureReturn
	f.start(s)
	c := f.controller("c")
	pass(t, c)
	f.serve(1000, 200, 1000)
	f.advance(11 * time.Second)
	pass(t, c)
	st := f.state()
	if st.State != Failed || st.Weight != 0 || !st.Return || !strings.Contains(st.Reason, "20%") {
		t.Errorf("state %s weight %d return %t reason %q", st.State, st.Weight, st.Return, st.Reason)
	}
	if f.live() != "v3" {
		t.Errorf("live %s, want v3", f.live())
	}
	// A failed rollout is not decided again.
	f.advance(time.Minute)
	if res := pass(t, c); len(res) != 0 {
		t.Errorf("a failed rollout was decided again: %+v", res)
	}
}

func TestReloadDuringAStepNeitherInflatesNorGoesNegative(t *testing.T) {
	f := newFleet(t, "n1")
	f.start(fastSettings())
	c := f.controller("c")
	f.serve(10000, 5000, 0) // before the baseline: never counted
	pass(t, c)
	f.serve(50, 0, 0)
	f.reload("n1")
	f.serve(80, 1, 0) // in the new worker
	f.advance(11 * time.Second)
	pass(t, c)
	last, _ := f.state().Last()
	if last.Decision != ActionAdvance || last.Candidate.Requests != 130 || last.Candidate.HTTP5xx != 1 {
		t.Errorf("after a reload: %+v, want an advance on 130 requests and 1 5xx", last)
	}
}

func TestOperatorCommands(t *testing.T) {
	f := newFleet(t, "n1")
	ctx, kv, health := context.Background(), f.consul.Client.KV(), f.consul.Client.Health()
	if _, err := Start(ctx, kv, health, "web", "v9", "", fastSettings(), t0, "cli"); err == nil || !strings.Contains(err.Error(), "no passing instance") {
		t.Errorf("start of a version not running: %v", err)
	}
	if _, err := Start(ctx, kv, health, "web", "v3", "", fastSettings(), t0, "cli"); err == nil || !strings.Contains(err.Error(), "already live") {
		t.Errorf("start of the live version: %v", err)
	}
	if _, err := Pause(ctx, kv, "web", t0, "cli"); err == nil || !strings.Contains(err.Error(), "no rollout") {
		t.Errorf("pause without a rollout: %v", err)
	}
	f.start(fastSettings())
	if _, err := Start(ctx, kv, health, "web", "v4", "", fastSettings(), t0, "cli"); err == nil || !strings.Contains(err.Error(), "is running") {
		t.Errorf("second start: %v", err)
	}
	c := f.controller("c")
	pass(t, c)
	if _, err := Pause(ctx, kv, "web", f.now(), "cli"); err != nil {
		t.Fatal(err)
	}
	f.serve(500, 0, 0)
	f.advance(time.Minute)
	if res := pass(t, c); len(res) != 0 {
		t.Errorf("a paused rollout was decided: %+v", res)
	}
	if st := f.state(); st.State != Paused || st.Weight != 5 {
		t.Errorf("paused: %s, weight %d", st.State, st.Weight)
	}
	if _, err := Resume(ctx, kv, "web", f.now(), "cli"); err != nil {
		t.Fatal(err)
	}
	if st := f.state(); st.Baseline != nil {
		t.Error("resume kept the old baseline")
	}
	pass(t, c) // a new baseline: the step starts over
	if st := f.state(); st.Step != 0 || st.Baseline == nil {
		t.Errorf("after resume: step %d baseline %v", st.Step, st.Baseline)
	}
	st, err := Abort(ctx, kv, "web", f.now(), "cli")
	if err != nil {
		t.Fatal(err)
	}
	if st.State != Aborted || st.Weight != 0 || f.live() != "v3" {
		t.Errorf("aborted: %s weight %d live %s", st.State, st.Weight, f.live())
	}
	if _, err := Abort(ctx, kv, "web", f.now(), "cli"); err == nil {
		t.Error("a second abort succeeded")
	}
	// A finished rollout is replaced by a new start.
	f.start(fastSettings())

	// A rollout edited by hand into something strata cannot read, whose
	// weight the template may still route, can still be aborted.
	put := func(v string) {
		if _, err := kv.Put(&consulapi.KVPair{Key: Key("web"), Value: []byte(v)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	put(`{"candidate":"v4","state":"running","weight":50,"extra":"kept"}`)
	if _, err := Abort(ctx, kv, "web", f.now(), "cli"); err != nil {
		t.Fatalf("abort of an invalid rollout: %v", err)
	}
	p, _, _ := kv.Get(Key("web"), nil)
	var raw map[string]any
	json.Unmarshal(p.Value, &raw)
	if raw["state"] != "aborted" || raw["weight"] != float64(0) || raw["extra"] != "kept" || !strings.Contains(fmt.Sprint(raw["reason"]), "not valid") {
		t.Errorf("aborted invalid rollout: %s", p.Value)
	}
	put(`not json`)
	if _, err := Abort(ctx, kv, "web", f.now(), "cli"); err == nil || !strings.Contains(err.Error(), "consul kv delete strata/web/rollout") {
		t.Errorf("abort of a value that is not JSON: %v", err)
	}
}

// TestKilledControllerProcessesNeitherRepeatNorSkipAStep runs the
// controller as a process and kills it with SIGKILL, again and again, at
// moments that fall anywhere in its passes (between reading and writing,
// during a write), starting a new one each time, while traffic flows: the
// rollout still decides each step exactly once and the candidate becomes
// live once.
func TestKilledControllerProcessesNeitherRepeatNorSkipAStep(t *testing.T) {
	f := newFleet(t, "n1")
	s := fastSettings()
	s.Interval = Duration(300 * time.Millisecond)
	f.start(s)
	stop := make(chan struct{})
	served := make(chan struct{})
	go func() {
		defer close(served)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				f.serve(20, 0, 20)
			}
		}
	}()
	defer func() { close(stop); <-served }()
	kills := 0
	deadline := time.Now().Add(90 * time.Second)
	for i := 0; f.state().State == Running; i++ {
		if time.Now().After(deadline) || i > 1000 {
			t.Fatalf("still running after %d controllers: %v", i, decisions(f.state()))
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+f.consul.Addr)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill it after 10 to 80 ms: it starts in about 10, and a pass takes a
		// few. Every fourth lives 400 ms, so that a slow machine progresses.
		life := time.Duration(10+rand.IntN(70)) * time.Millisecond
		if i%4 == 3 {
			life = 400 * time.Millisecond
		}
		time.Sleep(life)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		kills++
	}
	st := f.state()
	var got []string
	for _, d := range decisions(st) {
		if !strings.HasPrefix(d, "wait@") && !strings.HasPrefix(d, "hold@") {
			got = append(got, d)
		}
	}
	t.Logf("%d controllers killed; history %v", kills, decisions(st))
	if strings.Join(got, " ") != wantSuccess {
		t.Errorf("history %s, want %s (waits and holds aside)", strings.Join(decisions(st), " "), wantSuccess)
	}
	if _, hist, _ := release.Live(context.Background(), f.consul.Client.KV(), "web"); f.live() != "v4" || strings.Join(hist, ",") != "v3" {
		t.Errorf("live %s, history %v; want v4 promoted once over v3", f.live(), hist)
	}
}
