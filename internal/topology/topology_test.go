package topology_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/demo"
	"github.com/strata-dev/strata/internal/generator"
	"github.com/strata-dev/strata/internal/lbstats"
	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/nomadfake"
	"github.com/strata-dev/strata/internal/routing"
	"github.com/strata-dev/strata/internal/sweeper"
	"github.com/strata-dev/strata/internal/testenv"
	"github.com/strata-dev/strata/internal/topology"
	"github.com/strata-dev/strata/internal/topology/topologytest"
)

// eventually retries check until it holds: at most 500 attempts and 30
// seconds, for changes that reach HAProxy through Consul, a render and a
// reload.
func eventually(t *testing.T, what string, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for attempt := 0; attempt < 500; attempt++ {
		ok, got := check()
		if ok {
			return
		}
		last = got
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: still %s", what, last)
}

var client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// get sends one request through a node's HAProxy and returns the version
// that answered, or an error for anything but a 200.
func get(node *topology.Node, cookie string) (string, error) {
	req, _ := http.NewRequest("GET", "http://"+node.IP+":8080/", nil)
	if cookie != "" {
		req.Header.Set("Cookie", "strata_version="+cookie)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("%s", resp.Status)
	}
	return resp.Header.Get(demo.VersionHeader), nil
}

// load sends requests without a cookie through every node's HAProxy, a new
// session each, until stopped: at most 20000 requests and 5 minutes. Every
// failure is kept.
type load struct {
	requests atomic.Int64
	mu       sync.Mutex
	failures []string
	stop     chan struct{}
	done     chan struct{}
}

func startLoad(nodes []*topology.Node) *load {
	l := &load{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		deadline := time.Now().Add(5 * time.Minute)
		for i := 0; i < 20000 && time.Now().Before(deadline); i++ {
			select {
			case <-l.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			node := nodes[i%len(nodes)]
			if _, err := get(node, ""); err != nil {
				l.mu.Lock()
				l.failures = append(l.failures, fmt.Sprintf("request %d through %s: %v", i, node.Name, err))
				l.mu.Unlock()
			}
			l.requests.Add(1)
		}
	}()
	return l
}

func (l *load) end() (int64, []string) {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.requests.Load(), l.failures
}

// stream is a long-lived /stream pinned to a version, counting its lines.
type stream struct {
	lines atomic.Int64
	ended chan error
}

func openStream(t *testing.T, ctx context.Context, node *topology.Node, version string) *stream {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+node.IP+":8080/stream", nil)
	req.Header.Set("Cookie", "strata_version="+version)
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		t.Fatalf("opening a stream through %s: %v", node.Name, err)
	}
	if v := resp.Header.Get(demo.VersionHeader); v != version {
		resp.Body.Close()
		t.Fatalf("the stream pinned to %s went to %q", version, v)
	}
	s := &stream{ended: make(chan error, 1)}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			s.lines.Add(1)
		}
		s.ended <- sc.Err()
	}()
	return s
}

// TestLocalClusterEndToEnd runs the one-host cluster as a user tries strata
// on it: three Consul servers across three namespaces, an HAProxy and an
// lbstats on every node, demo backends of v1, v2 and v3 on nodes 1 and 2
// (node 3 is the spot node), registered as Nomad registers them. A stream
// pinned to v1 through node A, live promoted to v3 through node B, then
// sweeps: v2 drained and retired, v1 kept while the stream lives; node C's
// Consul server killed, and v1 kept after the stream ends too, for node C's
// HAProxy would not see its drain, and still kept once node C is removed
// from Consul, for Nomad still runs an HAProxy there; v3 untouched, and not one of the requests
// sent through the HAProxies meanwhile failed.
//
// Nomad is nomadfake (no nomad binary here); where Nomad would stop a
// retired version's allocations, the test stops its backends as Nomad does:
// deregistration, then the process.
func TestLocalClusterEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three network namespaces with Consul, HAProxy and demo backends; -short skips it")
	}
	haproxyBin := testenv.RequireBinary(t, "haproxy")
	c := topologytest.Start(t, 3)
	a, b, cNode := c.Nodes[0], c.Nodes[1], c.Nodes[2]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	strata := filepath.Join(t.TempDir(), "strata")
	if out, err := exec.Command("go", "build", "-o", strata, "github.com/strata-dev/strata/cmd/strata").CombinedOutput(); err != nil {
		t.Fatalf("building strata: %v\n%s", err, out)
	}
	// strata.yaml as a user has it after deciding v3 goes live: the
	// sweeper's configuration and the backends' strata-live meta say v3,
	// while Consul's strata/web/live still says v2 until the promotion.
	cfgFile := filepath.Join(t.TempDir(), "strata.yaml")
	os.WriteFile(cfgFile, []byte(`datacenters: [dc1]
apps:
  web:
    driver: raw_exec
    command: /usr/local/bin/strata
    args: [demo, serve, --version, "{{version}}", --listen, "${NOMAD_ADDR_http}"]
    ports: { http: {} }
    service: { check: { path: /healthz } }
    versions: [v1, v2, v3]
    live: v3
    routing: { bind: ":8080", pin_paths: [/stream] }
`), 0o644)

	backends := map[string][]*topology.Backend{}
	for i, v := range []string{"v1", "v2", "v3"} {
		for _, node := range []*topology.Node{a, b} {
			be, err := node.RunBackend(ctx, strata, "web", v, 9001+i, v == "v3", 200*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			backends[v] = append(backends[v], be)
		}
	}
	promote := func(node *topology.Node, v string) {
		t.Helper()
		cmd := exec.Command(strata, "promote", "web", v, "--config", cfgFile)
		cmd.Env = append(os.Environ(), "CONSUL_HTTP_ADDR="+node.IP+":8500")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("strata promote web %s through %s: %v\n%s", v, node.Name, err, out)
		}
	}
	promote(a, "v2")

	app := routing.App{Name: "web", Bind: ":8080", Cookie: "strata_version", ServerCookie: "strata_server", PinPaths: []string{"/stream"}}
	masters := map[string]*topology.HAProxy{}
	for _, node := range c.Nodes {
		h, err := node.RunHAProxy(ctx, haproxyBin, []routing.App{app})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := node.RunLBStats(ctx, strata, h); err != nil {
			t.Fatal(err)
		}
		if err := node.WaitListening(ctx, 8080); err != nil {
			t.Fatal(err)
		}
		masters[node.Name] = h
	}
	for _, node := range c.Nodes {
		for _, want := range []struct{ cookie, version string }{{"", "v2"}, {"v1", "v1"}, {"v3", "v3"}} {
			eventually(t, fmt.Sprintf("a session with cookie %q through %s goes to %s", want.cookie, node.Name, want.version), func() (bool, string) {
				v, err := get(node, want.cookie)
				return err == nil && v == want.version, fmt.Sprintf("%q (%v)", v, err)
			})
		}
	}

	traffic := startLoad(c.Nodes)
	defer func() {
		if traffic != nil {
			traffic.end()
		}
	}()

	// A recording pinned to v1 through node A.
	streamCtx, endStream := context.WithCancel(ctx)
	defer endStream()
	rec := openStream(t, streamCtx, a, "v1")

	// Live moves to v3 through node B, and every node follows.
	promote(b, "v3")
	for _, node := range c.Nodes {
		eventually(t, "new sessions through "+node.Name+" go to v3", func() (bool, string) {
			v, err := get(node, "")
			return err == nil && v == "v3", fmt.Sprintf("%q (%v)", v, err)
		})
	}

	nomad := nomadfake.New(t)
	start := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, v := range []string{"v1", "v2", "v3"} {
		id := naming.JobID("web", v)
		nomad.AddJob(&nomadapi.Job{ID: &id, Name: &id, Type: new("service"), Namespace: new("default"), Meta: map[string]string{
			naming.MetaManaged: "true", naming.MetaApp: "web", naming.MetaVersion: v, naming.MetaKind: "web"}}, start.Add(-48*time.Hour))
	}
	// Nomad runs the HAProxy system job on every node, as in production;
	// the sweeper compares that with Consul's catalog.
	haproxyJob := generator.HAProxyJobID
	nomad.AddJob(&nomadapi.Job{ID: &haproxyJob, Name: &haproxyJob, Type: new(nomadapi.JobTypeSystem), Namespace: new("default"),
		TaskGroups: []*nomadapi.TaskGroup{{Name: new("haproxy"), Tasks: []*nomadapi.Task{{Name: "haproxy", Driver: "raw_exec"}, {Name: "lbstats", Driver: "raw_exec"}}}}},
		start.Add(-72*time.Hour))
	nomad.SetSystemAllocations("default", haproxyJob, map[string]string{a.Name: "running", b.Name: "running", cNode.Name: "running"})
	policy := sweeper.Policy{Keep: 1, MinAge: time.Hour, DrainGrace: 10 * time.Minute, HandoffGrace: 10 * time.Minute}
	cfg := sweeper.Config{Policies: map[string]sweeper.Policy{"web": policy}, Versions: map[string][]string{"web": {"v1", "v2", "v3"}},
		Live: map[string]string{"web": "v3"}, Default: policy}
	src := sweeper.Sources{Nomad: nomad.Client(), Consul: a.Consul, HTTP: &http.Client{Timeout: 5 * time.Second}, Namespace: "default", MinAge: time.Hour}
	sweep := func(at time.Duration) sweeper.Plan {
		t.Helper()
		now := start.Add(at)
		inv, idx, calls := sweeper.Gather(ctx, src, now)
		if len(inv.Failures) > 0 {
			t.Fatalf("sweep at +%s: sources failed: %v", at, inv.Failures)
		}
		if calls.LBStats != 3 {
			t.Fatalf("sweep at +%s: %d lbstats read, want one per node, node C's too", at, calls.LBStats)
		}
		// Every node's lbstats reads its apply step's counters from the
		// directory they share, as in the HAProxy job's allocation.
		for _, n := range inv.Nodes {
			if n.LBStats && (n.Apply == nil || n.Apply.Failing) {
				t.Errorf("sweep at +%s: node %s's apply step: %+v, want counters of a step that succeeded", at, n.Name, n.Apply)
			}
		}
		plan := sweeper.Decide(inv, cfg, now)
		for _, r := range sweeper.Apply(ctx, src, plan, idx, now) {
			if r.Err != nil {
				t.Fatalf("sweep at +%s: %s: %v", at, r.Verdict.Version, r.Err)
			}
		}
		return plan
	}
	verdict := func(p sweeper.Plan, v string) sweeper.Verdict {
		t.Helper()
		for _, x := range p.Verdicts {
			if x.Version == v {
				return x
			}
		}
		t.Fatalf("no verdict for %s in %+v", v, p.Verdicts)
		return sweeper.Verdict{}
	}
	stopped := func(v string) bool {
		j, ok := nomad.Job("default", naming.JobID("web", v))
		return !ok || (j.Stop != nil && *j.Stop)
	}
	// retire stops a version's backends as Nomad stops a job's allocations.
	retire := func(v string) {
		t.Helper()
		for _, be := range backends[v] {
			if err := be.Stop(time.Second); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Sweep 1: v1 holds the recording, v2 is idle and drains, v3 is live.
	plan := sweep(0)
	if v := verdict(plan, "v1"); v.State != sweeper.StateBusy || v.Sessions < 1 {
		t.Fatalf("v1: %s with %d sessions (%s), want busy: the recording through node A was missed", v.State, v.Sessions, v.Reason)
	}
	if v := verdict(plan, "v2"); v.Action != sweeper.ActionDrain {
		t.Fatalf("v2: %s %q (%s), want drain", v.State, v.Action, v.Reason)
	}
	if v := verdict(plan, "v3"); v.State != sweeper.StateLive || v.Action != sweeper.ActionNone {
		t.Fatalf("v3: %s %q (%s), want live and untouched", v.State, v.Action, v.Reason)
	}
	for _, node := range c.Nodes {
		eventually(t, "a v2 cookie through "+node.Name+" goes to live once v2 drains", func() (bool, string) {
			v, err := get(node, "v2")
			return err == nil && v == "v3", fmt.Sprintf("%q (%v)", v, err)
		})
	}

	// Sweep 2, after the drain grace: v2 is retired; v1 still streams.
	plan = sweep(11 * time.Minute)
	if v := verdict(plan, "v2"); v.Action != sweeper.ActionStop || !stopped("v2") {
		t.Fatalf("v2 after its grace: %s %q (%s), stopped in Nomad: %v", v.State, v.Action, v.Reason, stopped("v2"))
	}
	retire("v2")
	if v := verdict(plan, "v1"); v.State != sweeper.StateBusy || stopped("v1") {
		t.Fatalf("v1 while the recording lives: %s %q (%s)", v.State, v.Action, v.Reason)
	}
	before := rec.lines.Load()
	eventually(t, "the recording on v1 keeps streaming", func() (bool, string) {
		select {
		case err := <-rec.ended:
			t.Fatalf("the recording ended: %v", err)
		default:
		}
		n := rec.lines.Load()
		return n > before, fmt.Sprintf("%d lines, as before", n)
	})

	// Node C's Consul server dies; the other two keep a quorum, and the
	// catalog keeps node C, failed (autopilot's cleanup_dead_servers is
	// off), with its HAProxy and lbstats.
	cNode.ConsulAgent.Kill()
	eventually(t, "node A's Consul has a leader without node C", func() (bool, string) {
		leader, err := a.Consul.Status().Leader()
		if err != nil || leader == "" || leader == cNode.IP+":8300" {
			return false, fmt.Sprintf("leader %q (%v)", leader, err)
		}
		_, err = a.Consul.KV().Put(&consulapi.KVPair{Key: "strata/probe", Value: []byte("x")}, nil)
		return err == nil, fmt.Sprint(err)
	})
	eventually(t, "node C's serfHealth is critical in the catalog", func() (bool, string) {
		checks, _, err := a.Consul.Health().Node(cNode.Name, nil)
		for _, c := range checks {
			if c.CheckID == "serfHealth" {
				return c.Status == consulapi.HealthCritical, c.Status
			}
		}
		return false, fmt.Sprintf("no serfHealth (%v)", err)
	})

	// The recording ends. Node C's HAProxy would not hear of a drain: its
	// Consul agent is down, so it would go on sending v1 cookies to v1. v1
	// is neither drained nor retired while node C is in doubt, though its
	// lbstats answers (0 sessions) and every source can be read.
	endStream()
	eventually(t, "v1's session is gone from every HAProxy", func() (bool, string) {
		for name, h := range masters {
			r, err := lbstats.Collect(ctx, h.Master, time.Now, name)
			if err != nil || r.Versions["web"]["v1"] != 0 {
				return false, fmt.Sprintf("%s: %v (%v)", name, r.Versions, err)
			}
		}
		return true, ""
	})
	for _, at := range []time.Duration{12 * time.Minute, 23 * time.Minute} {
		plan = sweep(at)
		v := verdict(plan, "v1")
		if v.Action != sweeper.ActionNone || v.State != sweeper.StateUnknown || !strings.Contains(v.Reason, "node "+cNode.Name+": serfHealth is critical") || stopped("v1") {
			t.Fatalf("v1 at +%s while node C's Consul is down: %s %q (%s), stopped %v; want unknown, untouched", at, v.State, v.Action, v.Reason, stopped("v1"))
		}
		if v := verdict(plan, "v3"); v.State != sweeper.StateLive || v.Action != sweeper.ActionNone || stopped("v3") {
			t.Fatalf("v3, the live version, was touched: %s %q, stopped %v", v.State, v.Action, stopped("v3"))
		}
	}
	if kv, _, err := a.Consul.KV().Get(sweeper.DrainingKey("web", "v1"), nil); err != nil || kv != nil {
		t.Fatalf("v1 drains (%v) while node C's Consul is down", err)
	}
	// What a retirement would have cut: node C still routes a v1 cookie to
	// v1, which still runs.
	if v, err := get(cNode, "v1"); err != nil || v != "v1" {
		t.Errorf("a v1 cookie through node C: %q (%v), want v1", v, err)
	}

	// Node C is removed from Consul (as autopilot's cleanup of dead servers
	// would): its HAProxy and lbstats leave the catalog, out of the
	// sweeper's sight, but Nomad still runs the HAProxy there. v1 stays.
	if err := a.Consul.Agent().ForceLeavePrune(cNode.Name); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node C's HAProxy leaves the catalog", func() (bool, string) {
		s, _, err := a.Consul.Catalog().Service(sweeper.HAProxyService, "", nil)
		var on []string
		for _, x := range s {
			on = append(on, x.Node)
		}
		return err == nil && !slices.Contains(on, cNode.Name), fmt.Sprintf("on %v (%v)", on, err)
	})
	now := start.Add(24 * time.Minute)
	inv, idx, _ := sweeper.Gather(ctx, src, now)
	plan = sweeper.Decide(inv, cfg, now)
	if v := verdict(plan, "v1"); len(inv.Failures) > 0 || v.Action != sweeper.ActionNone || !strings.Contains(v.Reason, "Nomad runs the HAProxy job on 3 nodes, Consul's catalog lists an HAProxy with its lbstats on 2 (not on "+cNode.Name+")") {
		t.Fatalf("v1 with node C out of the catalog: %s %q (%s), failures %v", v.State, v.Action, v.Reason, inv.Failures)
	}
	if rs := sweeper.Apply(ctx, src, plan, idx, now); len(rs) != 0 || stopped("v1") {
		t.Fatalf("v1 retired while Nomad runs an HAProxy Consul no longer lists: %+v", rs)
	}

	n, failures := traffic.end()
	traffic = nil
	if len(failures) > 0 {
		t.Errorf("%d of %d requests failed:\n%s", len(failures), n, strings.Join(failures, "\n"))
	}
	if n < int64(len(c.Nodes)) {
		t.Errorf("only %d requests were sent", n)
	}
	t.Logf("%d requests through the three HAProxies, none failed; the recording got %d lines", n, rec.lines.Load())

	// Node B loses its lbstats while its HAProxy stays: nothing is
	// provably idle any more.
	if err := b.Consul.Agent().ServiceDeregister(sweeper.LBStatsService + "-" + b.Name); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node B's lbstats leaves the catalog", func() (bool, string) {
		s, _, err := a.Consul.Catalog().Service(sweeper.LBStatsService, "", nil)
		var on []string
		for _, x := range s {
			on = append(on, x.Node)
		}
		return err == nil && !slices.Contains(on, b.Name), fmt.Sprintf("on %v (%v)", on, err)
	})
	inv, _, _ = sweeper.Gather(ctx, src, start.Add(25*time.Minute))
	if doubts := sweeper.Decide(inv, cfg, start.Add(25*time.Minute)).Doubts; !strings.Contains(fmt.Sprint(doubts), "node "+b.Name+": an HAProxy without its lbstats") {
		t.Errorf("an HAProxy without its lbstats went unnoticed: doubts %q", doubts)
	}
}

// TestUpAfterACrashStartsClean leaves a cluster behind as a crash would
// (processes running, namespaces and bridge in place), then brings up a
// new one in the same directory, and takes that down: nothing of either is
// left.
func TestUpAfterACrashStartsClean(t *testing.T) {
	ipBin := testenv.RequireBinary(t, "ip")
	consulBin := testenv.RequireBinary(t, "consul")
	testenv.RequireRoot(t, "topology (network namespaces)")
	id := os.Getpid() % 100000
	opts := topology.Options{Name: fmt.Sprintf("sc%d", id), Subnet: (id + 1) % 250, Nodes: 1,
		Dir: filepath.Join(t.TempDir(), "cluster"), IP: ipBin, Consul: consulBin}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	crashed, err := topology.Up(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	sleeper, err := crashed.Nodes[0].Run("sleeper", "sleep", "300")
	if err != nil {
		crashed.Close()
		t.Fatal(err)
	}
	oldConsul := crashed.Nodes[0].ConsulAgent
	// The crash: nothing is closed.

	c, err := topology.Up(ctx, opts)
	if err != nil {
		crashed.Close()
		t.Fatalf("Up over a crashed cluster: %v", err)
	}
	closed := false
	defer func() {
		if !closed {
			c.Close()
		}
	}()
	for _, p := range []*topology.Proc{sleeper, oldConsul} {
		eventually(t, p.What+" of the crashed cluster is stopped", func() (bool, string) { return p.Exited(), "running" })
	}
	if leader, err := c.Nodes[0].Consul.Status().Leader(); err != nil || leader == "" {
		t.Fatalf("the new cluster's Consul: leader %q, %v", leader, err)
	}
	if _, err := c.Nodes[0].Run("sleeper", "sleep", "300"); err != nil {
		t.Fatal(err)
	}
	state, err := os.ReadFile(filepath.Join(opts.Dir, topology.StateFile))
	if err != nil || strings.Count(string(state), `"pid"`) != 2 {
		t.Fatalf("the state records %s (%v), want the new cluster's consul and sleeper only", state, err)
	}

	// Down from the state alone, as `strata local down` does from another
	// process.
	if err := topology.Down(opts.Dir, nil); err != nil {
		t.Fatal(err)
	}
	closed = true
	for _, p := range c.Procs() {
		eventually(t, p.What+" is stopped", func() (bool, string) { return p.Exited(), "running" })
	}
	for _, gone := range []string{"/run/netns/" + c.Nodes[0].Name, "/sys/class/net/" + c.Bridge, opts.Dir} {
		if _, err := os.Stat(gone); err == nil {
			t.Errorf("%s is left after Down", gone)
		}
	}
	if err := topology.Down(opts.Dir, nil); err != nil {
		t.Errorf("Down twice: %v", err)
	}
}
