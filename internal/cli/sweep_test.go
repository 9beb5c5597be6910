package cli

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/lbstats"
	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/nomadfake"
	"github.com/strata-dev/strata/internal/sweeper"
	"github.com/strata-dev/strata/internal/testenv"
)

const sweptWeb = `apps:
  web:
    driver: raw_exec
    command: /usr/local/bin/strata
    args: [demo, serve, --version, "{{version}}"]
    ports: { http: {} }
    service: { check: { path: /healthz } }
    versions: [v2, v3]
    live: v3
    sweeper: { keep: 1, min_age: 1h, drain_grace: 10m }
`

// TestSweepCommand drives strata sweep against a real Consul, an lbstats
// answering a canned report, and nomadfake standing in for Nomad.
func TestSweepCommand(t *testing.T) {
	consul := testenv.StartConsul(t)
	nomad := nomadfake.New(t)
	for _, v := range []string{"v1", "v2", "v3"} {
		id := naming.JobID("web", v)
		nomad.AddJob(&nomadapi.Job{ID: &id, Name: &id, Type: new("service"), Namespace: new("default"), Meta: map[string]string{
			naming.MetaManaged: "true", naming.MetaApp: "web", naming.MetaVersion: v, naming.MetaKind: "web"}}, time.Now().Add(-48*time.Hour))
	}
	srv := httptest.NewServer(lbstats.Handler(func(context.Context) (lbstats.Report, error) {
		return lbstats.Report{Node: "n1", Time: time.Now().UTC(), Workers: 2, Versions: map[string]map[string]int{"web": {"v1": 0, "v2": 4, "v3": 9}}, Other: map[string]int{}}, nil
	}))
	defer srv.Close()
	port, _ := strconv.Atoi(srv.URL[strings.LastIndex(srv.URL, ":")+1:])
	for _, svc := range []string{sweeper.LBStatsService, sweeper.HAProxyService} {
		consul.Client.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{ID: svc, Name: svc, Address: "127.0.0.1", Port: port})
	}
	dir := t.TempDir()
	cfg := writeConfig(t, dir, sweptWeb)
	env := map[string]string{"NOMAD_ADDR": nomad.Addr(), "CONSUL_HTTP_ADDR": consul.Addr}

	code, out, errOut := run(t, env, "sweep", "--dry-run", "--output", "json", "-c", cfg)
	if code != ExitOK {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	var report struct {
		DryRun   bool `json:"dry_run"`
		Versions []struct {
			Version string
			State   string
			Action  string
			Orphan  bool
		} `json:"versions"`
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	snakeCaseKeys(t, out)
	got := map[string]string{}
	for _, v := range report.Versions {
		got[v.Version] = v.State + "/" + v.Action
	}
	want := map[string]string{"v1": "draining/drain", "v2": "busy/", "v3": "live/"}
	if !report.DryRun || len(got) != 3 || got["v1"] != want["v1"] || got["v2"] != want["v2"] || got["v3"] != want["v3"] {
		t.Errorf("dry run decided %v, want %v", got, want)
	}
	if kv, _, _ := consul.Client.KV().Get(sweeper.DrainingKey("web", "v1"), nil); kv != nil {
		t.Error("a dry run wrote the draining key")
	}

	code, out, errOut = run(t, env, "sweep", "-c", cfg)
	if code != ExitOK || !strings.Contains(out, "drain: drain started") || !strings.Contains(out, "not in strata.yaml") {
		t.Errorf("sweep: exit %d\n%s%s", code, out, errOut)
	}
	if kv, _, _ := consul.Client.KV().Get(sweeper.DrainingKey("web", "v1"), nil); kv == nil {
		t.Error("the sweep did not write the draining key")
	}

	code, out, errOut = run(t, env, "status", "web", "-c", cfg)
	if code != ExitOK || !strings.Contains(out, "VERSION") || !strings.Contains(out, "draining") || !strings.Contains(out, "live") {
		t.Errorf("status: exit %d\n%s%s", code, out, errOut)
	}

	// The HAProxy's node in maintenance: its own check fails, as serfHealth
	// does when the node's Consul agent is down. Nothing is retired, and
	// the pass says why.
	if err := consul.Client.Agent().EnableNodeMaintenance("test"); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = run(t, env, "sweep", "-c", cfg)
	if code != ExitError || !strings.Contains(errOut, "_node_maintenance is critical") || !strings.Contains(out, "nothing is retired on doubt") {
		t.Errorf("with the HAProxy's node in maintenance: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = run(t, env, "sweep", "--dry-run", "-o", "json", "-c", cfg)
	var doubted struct {
		Doubts []string `json:"doubts"`
	}
	if err := json.Unmarshal([]byte(out), &doubted); err != nil || code != ExitError || len(doubted.Doubts) != 1 || !strings.Contains(doubted.Doubts[0], "_node_maintenance is critical") {
		t.Errorf("sweep -o json with the HAProxy's node in maintenance: exit %d, doubts %q (%v)\n%s", code, doubted.Doubts, err, out)
	}
	consul.Client.Agent().DisableNodeMaintenance()

	consul.Stop()
	code, out, errOut = run(t, env, "sweep", "-c", cfg)
	if code != ExitError || !strings.Contains(errOut, "Consul KV") || strings.Contains(out, "stop:") {
		t.Errorf("with Consul down: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := run(t, env, "sweep", "--output", "yaml", "-c", cfg); code != ExitUsage {
		t.Errorf("--output yaml: exit %d %s", code, errOut)
	}
}

// snakeCaseKeys fails unless every key of the JSON document out is
// snake_case: lowercase letters, digits and '_'.
func snakeCaseKeys(t *testing.T, out string) {
	t.Helper()
	var doc any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case map[string]any:
			for k, sub := range v {
				if strings.Trim(k, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
					t.Errorf("key %q at %s is not snake_case", k, at)
				}
				walk(sub, at+"."+k)
			}
		case []any:
			for _, sub := range v {
				walk(sub, at+"[]")
			}
		}
	}
	walk(doc, "$")
}

// TestSweeperConfigTakesTheConfigsPolicies: each app's policy is what
// config finalized (its defaults, key by key, are config's), and apps
// strata.yaml no longer has get config.DefaultRetire: one owner for the
// retirement defaults.
func TestSweeperConfigTakesTheConfigsPolicies(t *testing.T) {
	cfg, err := config.Parse("strata.yaml", []byte(sweptWeb+`  q:
    kind: worker
    driver: raw_exec
    command: /usr/local/bin/worker
    args: [--version, "{{version}}"]
    versions: [v1]
`), config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	sc := SweeperConfig(cfg)
	for _, a := range cfg.Apps {
		if got := sc.Policies[a.Name]; got != a.Retire {
			t.Errorf("%s: policy %+v, config says %+v", a.Name, got, a.Retire)
		}
	}
	if got, want := sc.Policies["q"], config.DefaultRetire(config.KindWorker); got != want {
		t.Errorf("a worker without a sweeper section: %+v, want config's default %+v", got, want)
	}
	if got, want := sc.Policies["web"].Keep, 1; got != want {
		t.Errorf("web's keep: %d, want strata.yaml's %d", got, want)
	}
	if got, want := sc.Default, config.DefaultRetire(config.KindWeb); got != want {
		t.Errorf("the default for apps strata.yaml no longer has: %+v, want %+v", got, want)
	}
}
