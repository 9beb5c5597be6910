package topology_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/demo"
	"github.com/strata-dev/strata/internal/haproxy"
	"github.com/strata-dev/strata/internal/lbstats"
	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/nomadfake"
	"github.com/strata-dev/strata/internal/routing"
	"github.com/strata-dev/strata/internal/sweeper"
	"github.com/strata-dev/strata/internal/testenv"
	"github.com/strata-dev/strata/internal/topology"
)

// TestThreeNodes runs the routing and the sweeper's session count across
// three nodes: demo backends of v1 and v2 on nodes 2 and 3, an HAProxy on
// every node rendering from its own Consul agent, and a session opened
// through one node's HAProxy to a backend on another, which the sweeper must
// see. Nomad is nomadfake (Nomad cannot run here).
func TestThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three network namespaces with Consul and HAProxy; -short skips it")
	}
	haproxyBin := testenv.RequireBinary(t, "haproxy")
	c := topology.Start(t, 3)
	strata := filepath.Join(t.TempDir(), "strata")
	if out, err := exec.Command("go", "build", "-o", strata, "github.com/strata-dev/strata/cmd/strata").CombinedOutput(); err != nil {
		t.Fatalf("building strata: %v\n%s", err, out)
	}

	// Backends: v1 on node 2, v2 (strata.yaml's live) on node 3.
	for i, v := range []string{"v1", "v2"} {
		node := c.Nodes[i+1]
		node.Start(strata, "demo", "serve", "--version", v, "--listen", node.IP+":9001", "--name", node.Name, "--tick", "50ms")
		node.WaitListening(9001)
		meta := map[string]string{naming.ServiceMetaOrder: naming.SortKey(v)}
		if v == "v2" {
			meta[naming.ServiceMetaLive] = "true"
		}
		err := node.Consul.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{
			ID: "web-" + v, Name: "web", Tags: []string{naming.TagManaged, naming.VersionTag(v)}, Address: node.IP, Port: 9001, Meta: meta,
			Check: &consulapi.AgentServiceCheck{HTTP: "http://" + node.IP + ":9001/healthz", Interval: "1s", Timeout: "1s", Status: consulapi.HealthPassing},
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	// An HAProxy on every node, its templates rendered from its own agent,
	// and an lbstats beside each, registered on that node as the HAProxy
	// job would register them.
	app := routing.App{Name: "web", Bind: ":8080", Cookie: "strata_version", ServerCookie: "strata_server"}
	masters := map[string]*haproxy.Master{}
	for _, node := range c.Nodes {
		dir := filepath.Join(node.Dir, "haproxy")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := routing.Render(ctx, routing.Data{Dir: dir, StatsBind: node.IP + ":8404", Apps: []routing.App{app}},
			routing.Options{ConsulAddr: node.IP + ":8500", Dir: dir, Once: true})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		node.Start(haproxyBin, "-W", "-S", filepath.Join(dir, "master.sock"), "-f", filepath.Join(dir, "haproxy.cfg"))
		node.WaitListening(8080)
		m := &haproxy.Master{Socket: filepath.Join(dir, "master.sock")}
		masters[node.Name] = m
		srv := httptest.NewServer(lbstats.Handler(func(ctx context.Context) (lbstats.Report, error) {
			return lbstats.Collect(ctx, m, time.Now, node.Name)
		}))
		t.Cleanup(srv.Close)
		port, _ := strconv.Atoi(srv.URL[strings.LastIndex(srv.URL, ":")+1:])
		for _, svc := range []string{sweeper.HAProxyService, sweeper.LBStatsService} {
			if err := node.Consul.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{
				ID: svc, Name: svc, Address: "127.0.0.1", Port: port,
			}); err != nil {
				t.Fatal(err)
			}
		}
	}

	get := func(node *topology.Node, cookie string) (string, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+node.IP+":8080/", nil)
		if cookie != "" {
			req.Header.Set("Cookie", "strata_version="+cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("through %s: %v", node.Name, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.Header.Get(demo.VersionHeader), resp.Header.Get(demo.NameHeader)
	}
	for _, node := range c.Nodes {
		if v, server := get(node, ""); v != "v2" || server != c.Nodes[2].Name {
			t.Errorf("a new session through %s went to %s on %s, want v2 on %s", node.Name, v, server, c.Nodes[2].Name)
		}
		if v, server := get(node, "v1"); v != "v1" || server != c.Nodes[1].Name {
			t.Errorf("a v1 session through %s went to %s on %s, want v1 on %s", node.Name, v, server, c.Nodes[1].Name)
		}
	}

	// A recording through node 3's HAProxy, to v1 on node 2.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+c.Nodes[2].IP+":8080/stream", nil)
	req.Header.Set("Cookie", "strata_version=v1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v := resp.Header.Get(demo.VersionHeader); v != "v1" {
		t.Fatalf("the recording went to %q", v)
	}

	nomad := nomadfake.New(t)
	for _, v := range []string{"v1", "v2"} {
		id := naming.JobID("web", v)
		nomad.AddJob(&nomadapi.Job{ID: &id, Name: &id, Type: new("service"), Namespace: new("default"), Meta: map[string]string{
			naming.MetaManaged: "true", naming.MetaApp: "web", naming.MetaVersion: v, naming.MetaKind: "web"}}, time.Now().Add(-48*time.Hour))
	}
	policy := sweeper.Policy{Keep: 1, MinAge: time.Hour, DrainGrace: time.Minute}
	cfg := sweeper.Config{Policies: map[string]sweeper.Policy{"web": policy}, Versions: map[string][]string{"web": {"v1", "v2"}},
		Live: map[string]string{"web": "v2"}, Default: policy}
	src := sweeper.Sources{Nomad: nomad.Client(), Consul: c.Nodes[0].Consul, HTTP: &http.Client{Timeout: 5 * time.Second}, Namespace: "default", MinAge: time.Hour}
	inv, _, calls := sweeper.Gather(context.Background(), src, time.Now())
	plan := sweeper.Decide(inv, cfg, time.Now())
	for _, v := range plan.Verdicts {
		if v.Version == "v1" && (v.State != sweeper.StateBusy || v.Sessions != 1) {
			t.Errorf("v1: %s with %d sessions (%s); the session on node 3's HAProxy was missed", v.State, v.Sessions, v.Reason)
		}
	}
	if calls.LBStats != 3 {
		t.Errorf("%d lbstats read, want one per node", calls.LBStats)
	}

	// Node 2 loses its lbstats while its HAProxy stays: nothing is provably
	// idle any more.
	if err := c.Nodes[1].Consul.Agent().ServiceDeregister(sweeper.LBStatsService); err != nil {
		t.Fatal(err)
	}
	for attempt := 0; attempt < 250; attempt++ {
		s, _, _ := c.Nodes[0].Consul.Catalog().Service(sweeper.LBStatsService, "", nil)
		if len(s) == 2 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	inv, _, _ = sweeper.Gather(context.Background(), src, time.Now())
	if inv.SessionsComplete || !strings.Contains(fmt.Sprint(inv.Failures), c.Nodes[1].Name) {
		t.Errorf("an HAProxy without its lbstats went unnoticed: complete=%v failures=%v", inv.SessionsComplete, inv.Failures)
	}
}
