package cli

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/applystats"
	"github.com/strata-dev/strata/internal/lbstats"
	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/nomadfake"
	"github.com/strata-dev/strata/internal/testenv"
)

// statusJSON is what status --output json prints.
type statusJSON struct {
	Versions []struct {
		App            string   `json:"app"`
		Version        string   `json:"version"`
		Cohorts        []string `json:"cohorts"`
		IgnoredCohorts []struct {
			Name    string `json:"name"`
			Problem string `json:"problem"`
		} `json:"ignored_cohorts"`
	} `json:"versions"`
}

// TestStatusJSONListsNoVersionsAsAnEmptyList: a cluster without managed
// jobs is "versions": [], not null, so that `jq '.versions[]'` works.
func TestStatusJSONListsNoVersionsAsAnEmptyList(t *testing.T) {
	consul := testenv.StartConsul(t)
	nomad := nomadfake.New(t)
	path := writeConfig(t, t.TempDir(), sweptWeb)
	env := map[string]string{"NOMAD_ADDR": nomad.Addr(), "CONSUL_HTTP_ADDR": consul.Addr}
	code, out, errOut := run(t, env, "status", "-o", "json", "-c", path)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, `"versions": []`) {
		t.Errorf("no empty list of versions:\n%s", out)
	}
}

// TestStatusCohortsAreTheNamesHAProxyRoutes sets three cohorts: one HAProxy
// routes to v2, one on "/" and one on a version without a passing instance,
// which it ignores. COHORTS names the first only; the others are listed with
// the reason.
func TestStatusCohortsAreTheNamesHAProxyRoutes(t *testing.T) {
	env, path := cohortCluster(t)
	code, out, errOut := run(t, env, "status", "web", "-o", "json", "-c", path)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	var st statusJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	cohorts, ignored := map[string]string{}, map[string]string{}
	for _, v := range st.Versions {
		cohorts[v.Version] = strings.Join(v.Cohorts, ",")
		for _, ic := range v.IgnoredCohorts {
			ignored[v.Version] += ic.Name + ": " + ic.Problem
		}
	}
	if cohorts["v2"] != "beta" || cohorts["v1"] != "" || cohorts["v3"] != "" {
		t.Errorf("cohorts %v, want beta for v2 only", cohorts)
	}
	if !strings.HasPrefix(ignored["v2"], "loop: ") || !strings.HasPrefix(ignored["v1"], "ghost: ") {
		t.Errorf("ignored cohorts %v, want loop for v2 and ghost for v1", ignored)
	}

	code, out, errOut = run(t, env, "status", "web", "-c", path)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"web: cohort loop (v2) is not routed by HAProxy", "web: cohort ghost (v1) is not routed by HAProxy"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "v2 ") && (!strings.Contains(line, " beta ") || strings.Contains(line, "v2,") || strings.Contains(line, "loop")) {
			t.Errorf("v2's COHORTS is not beta alone: %q", line)
		}
	}
}

// cohortCluster is a fake Nomad with web v1, v2 and v3, submitted two days
// ago, and a real Consul where v2 and v3 pass their checks, with three
// cohorts: beta routed to v2, loop on "/" (ignored) and ghost on v1, which
// has no server (ignored): v1's one passing instance has a host name, which
// HAProxy's template does not route. It returns the environment and the
// strata.yaml for status.
func cohortCluster(t *testing.T) (map[string]string, string) {
	t.Helper()
	consul := testenv.StartConsul(t)
	nomad := nomadfake.New(t)
	for _, v := range []string{"v1", "v2", "v3"} {
		id := naming.JobID("web", v)
		nomad.AddJob(&nomadapi.Job{ID: &id, Name: &id, Type: new("service"), Namespace: new("default"), Meta: map[string]string{
			naming.MetaManaged: "true", naming.MetaApp: "web", naming.MetaVersion: v, naming.MetaKind: "web"}}, time.Now().Add(-48*time.Hour))
	}
	for _, v := range []string{"v2", "v3"} {
		if err := consul.Client.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{ID: "web-" + v, Name: "web",
			Tags: []string{naming.TagManaged, naming.VersionTagPrefix + v}, Address: "127.0.0.1", Port: 1,
			Check: &consulapi.AgentServiceCheck{TTL: "1h", Status: consulapi.HealthPassing}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := consul.Client.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{ID: "web-v1", Name: "web",
		Tags: []string{naming.TagManaged, naming.VersionTagPrefix + "v1"}, Address: "web-v1.example.internal", Port: 1,
		Check: &consulapi.AgentServiceCheck{TTL: "1h", Status: consulapi.HealthPassing}}); err != nil {
		t.Fatal(err)
	}
	for name, value := range map[string]string{
		"beta":  `{"version":"v2","opt_in":"/beta"}`,
		"loop":  `{"version":"v2","opt_in":"/"}`,
		"ghost": `{"version":"v1","opt_in":"/ghost"}`,
	} {
		if _, err := consul.Client.KV().Put(&consulapi.KVPair{Key: "strata/web/cohorts/" + name, Value: []byte(value)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	path := writeConfig(t, t.TempDir(), sweptWeb)
	return map[string]string{"NOMAD_ADDR": nomad.Addr(), "CONSUL_HTTP_ADDR": consul.Addr}, path

}

// TestStatusTellsAVersionWithoutServersIsNotRouted: v1's only passing
// instance has a host name, so HAProxy makes no server of it: status counts
// it as an instance but not as a server, and says v1 is not routed.
func TestStatusTellsAVersionWithoutServersIsNotRouted(t *testing.T) {
	env, path := cohortCluster(t)
	code, out, errOut := run(t, env, "status", "web", "-o", "json", "-c", path)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	var st struct {
		Versions []struct {
			Version                     string
			Healthy, Instances, Servers int
		} `json:"versions"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := map[string][3]int{}
	for _, v := range st.Versions {
		got[v.Version] = [3]int{v.Healthy, v.Instances, v.Servers}
	}
	if want := map[string][3]int{"v1": {1, 1, 0}, "v2": {1, 1, 1}, "v3": {1, 1, 1}}; len(got) != 3 || got["v1"] != want["v1"] || got["v2"] != want["v2"] || got["v3"] != want["v3"] {
		t.Errorf("healthy, instances, servers: %v, want %v", got, want)
	}
	code, out, errOut = run(t, env, "status", "web", "-c", path)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if want := "web: v1 is not routed by HAProxy: its one passing instance has no IP address and port"; !strings.Contains(out, want) {
		t.Errorf("status lacks %q:\n%s", want, out)
	}
	if strings.Contains(out, "v2 is not routed") || strings.Contains(out, "v3 is not routed") {
		t.Errorf("a routed version said not routed:\n%s", out)
	}

	// v3, the live version, re-registered with a host name: live, but
	// HAProxy sends new sessions elsewhere.
	consul, _ := consulapi.NewClient(&consulapi.Config{Address: env["CONSUL_HTTP_ADDR"]})
	if err := consul.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{ID: "web-v3", Name: "web",
		Tags: []string{naming.TagManaged, naming.VersionTagPrefix + "v3"}, Address: "web-v3.example.internal", Port: 1,
		Check: &consulapi.AgentServiceCheck{TTL: "1h", Status: consulapi.HealthPassing}}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = run(t, env, "status", "web", "-c", path)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"live, not routed", "web: v3 is not routed by HAProxy: its one passing instance has no IP address and port, so it has no server: new sessions, and its cookies, go to the newest version that has one"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
}

// withHAProxy registers an HAProxy and its lbstats on the Consul agent of
// env (node strata-test), the lbstats answering with src.
func withHAProxy(t *testing.T, env map[string]string, src func(context.Context) (lbstats.Report, error)) {
	t.Helper()
	srv := httptest.NewServer(lbstats.Handler(src))
	t.Cleanup(srv.Close)
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	consul, err := consulapi.NewClient(&consulapi.Config{Address: env["CONSUL_HTTP_ADDR"]})
	if err != nil {
		t.Fatal(err)
	}
	for _, reg := range []*consulapi.AgentServiceRegistration{
		{ID: naming.HAProxyService, Name: naming.HAProxyService, Address: host, Port: 1},
		{ID: naming.LBStatsService, Name: naming.LBStatsService, Address: host, Port: p},
	} {
		if err := consul.Agent().ServiceRegister(reg); err != nil {
			t.Fatal(err)
		}
	}
}

// twoWorkers is an lbstats report of an HAProxy whose old worker still
// holds a session of web v2, in the slot its current worker gives v3.
func twoWorkers(context.Context) (lbstats.Report, error) {
	return lbstats.Report{Node: "strata-test", Time: time.Now().UTC(), Workers: 2, MasterPID: 10, Reloads: 1,
		Versions: map[string]map[string]int{"web": {"v2": 1, "v3": 0}}, Other: map[string]int{},
		Processes: []lbstats.Process{
			{PID: 12, Current: true, Generation: 1, Backends: map[string]lbstats.Backend{"be_web_1": {App: "web", Version: "v3"}}},
			{PID: 11, Generation: 0, Backends: map[string]lbstats.Backend{"be_web_1": {App: "web", Version: "v2", Sessions: 1}}},
		},
		Traffic: map[string]map[string]lbstats.Traffic{"web": {"v2": {}, "v3": {}}},
	}, nil
}

// TestStatusShowsEachHAProxysWorkers: the HAProxy table counts the node's
// live workers, and a "?" with a failure when its lbstats cannot be read.
func TestStatusShowsEachHAProxysWorkers(t *testing.T) {
	env, path := cohortCluster(t)
	withHAProxy(t, env, func(context.Context) (lbstats.Report, error) {
		return lbstats.Report{}, errors.New("haproxy master CLI /alloc/haproxy-master.sock: connection refused")
	})
	code, out, errOut := run(t, env, "status", "web", "-c", path)
	if code == ExitOK || !strings.Contains(out, "HAPROXY      WORKERS  APPLY\nstrata-test  ?        ?\n") || !strings.Contains(errOut, "connection refused") {
		t.Errorf("status with an lbstats that fails: exit %d\n%s%s\nwant a failure and strata-test's workers as ?", code, out, errOut)
	}
	code, out, errOut = run(t, env, "status", "web", "-o", "json", "-c", path)
	if code == ExitOK || !strings.Contains(out, `"haproxies": [
    {
      "node": "strata-test",
      "workers": -1
    }
  ]`) {
		t.Errorf("status -o json with an lbstats that fails: exit %d\n%s%s\nwant strata-test's workers as -1", code, out, errOut)
	}
}

// TestStatusShowsAFailingApplyStep: a node whose apply step last failed
// says so in the HAProxy table, with the reason quoted (it comes from the
// node's lbstats), and in JSON.
func TestStatusShowsAFailingApplyStep(t *testing.T) {
	env, path := cohortCluster(t)
	withHAProxy(t, env, func(ctx context.Context) (lbstats.Report, error) {
		r, err := twoWorkers(ctx)
		r.Apply = &applystats.Stats{Applies: 5, Failures: 2, Failing: true, LastError: "apply: reading HAProxy's state: connection refused\n\x1b[2J"}
		return r, err
	})
	code, out, errOut := run(t, env, "status", "web", "-c", path)
	if code != ExitOK || !strings.Contains(out, `strata-test  2        failing: "apply: reading HAProxy's state: connection refused\n\x1b[2J"`+"\n") {
		t.Errorf("status with a failing apply step: exit %d\n%s%s\nwant strata-test's apply failing, its reason quoted", code, out, errOut)
	}
	code, out, errOut = run(t, env, "status", "web", "-o", "json", "-c", path)
	if code != ExitOK || !strings.Contains(out, `"apply": "failing",`) || !strings.Contains(out, `"apply_error": "apply: reading HAProxy's state: connection refused\n\u001b[2J"`) {
		t.Errorf("status -o json with a failing apply step: exit %d\n%s%s", code, out, errOut)
	}
}

// TestStatusGolden compares status's table and JSON for cohortCluster, with
// an HAProxy of two workers, with testdata/status; go test -update rewrites
// them.
func TestStatusGolden(t *testing.T) {
	env, path := cohortCluster(t)
	withHAProxy(t, env, twoWorkers)
	for _, format := range []string{"text", "json"} {
		code, out, errOut := run(t, env, "status", "-o", format, "-c", path)
		if code != ExitOK {
			t.Fatalf("%s: exit %d\n%s%s", format, code, out, errOut)
		}
		golden := filepath.Join("testdata", "status", "cohorts."+format+".golden")
		if *updateDiff {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if out != string(want) {
			t.Errorf("status -o %s differs from %s (go test -update):\n%s", format, golden, out)
		}
	}
}
