package cli

import (
	"context"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/generator"
	"github.com/strata-dev/strata/internal/lbstats"
	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/nomadfake"
	"github.com/strata-dev/strata/internal/sweeper"
	"github.com/strata-dev/strata/internal/testenv"
)

// policyCapabilities reads the namespace rules of a Nomad policy strata
// renders: namespace "<name>" { capabilities = [...] }, and nothing else.
func policyCapabilities(t *testing.T, src []byte) nomadfake.Capabilities {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCL(src, "policy.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	body := f.Body.(*hclsyntax.Body)
	if len(body.Attributes) != 0 {
		t.Fatalf("the policy has top-level rules the test does not model: %v", body.Attributes)
	}
	caps := nomadfake.Capabilities{}
	for _, b := range body.Blocks {
		if b.Type != "namespace" || len(b.Labels) != 1 || len(b.Body.Blocks) != 0 {
			t.Fatalf("the policy has a %s block the test does not model", b.Type)
		}
		for name, attr := range b.Body.Attributes {
			if name != "capabilities" {
				t.Fatalf("namespace %s: %s is not modelled", b.Labels[0], name)
			}
			v, diags := attr.Expr.Value(nil)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			for _, c := range v.AsValueSlice() {
				caps[b.Labels[0]] = append(caps[b.Labels[0]], c.AsString())
			}
		}
	}
	return caps
}

// TestASweepAsTheSweepersIdentity runs a sweep pass with the capabilities
// of the rendered nomad-sweeper.hcl, which acl apply associates with the
// sweeper's task, against a Nomad that enforces them: it lists and
// deregisters in its namespace, and nothing in another.
func TestASweepAsTheSweepersIdentity(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, "namespace: prod\n"+sweptWeb)
	cfg, err := config.Load(config.Options{Path: path, LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	files, err := generator.Policies(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var sweeperCaps nomadfake.Capabilities
	for _, f := range files {
		if f.Path == "nomad-sweeper.hcl" {
			sweeperCaps = policyCapabilities(t, f.Data)
		}
	}
	const identity, admin = "sweeper-identity-jwt", "management"
	nomad := nomadfake.New(t, nomadfake.WithACL(map[string]nomadfake.Capabilities{
		identity: sweeperCaps,
		admin:    {"*": {"list-jobs", "read-job", "submit-job"}},
	}))
	for _, ns := range []string{"prod", "default"} {
		for _, v := range []string{"v1", "v2", "v3"} {
			id := naming.JobID("web", v)
			nomad.AddJob(&nomadapi.Job{ID: &id, Name: &id, Type: new("service"), Namespace: new(ns), Meta: map[string]string{
				naming.MetaManaged: "true", naming.MetaApp: "web", naming.MetaVersion: v, naming.MetaKind: "web"}}, time.Now().Add(-48*time.Hour))
		}
	}
	consul := testenv.StartConsul(t)
	srv := httptest.NewServer(lbstats.Handler(func(context.Context) (lbstats.Report, error) {
		return lbstats.Report{Node: "n1", Time: time.Now().UTC(), Workers: 1, Versions: map[string]map[string]int{"web": {"v1": 0, "v2": 4, "v3": 9}}, Other: map[string]int{}}, nil
	}))
	defer srv.Close()
	port, _ := strconv.Atoi(srv.URL[strings.LastIndex(srv.URL, ":")+1:])
	for _, svc := range []string{sweeper.LBStatsService, sweeper.HAProxyService} {
		if err := consul.Client.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{ID: svc, Name: svc, Address: "127.0.0.1", Port: port}); err != nil {
			t.Fatal(err)
		}
	}
	// v1 has drained for an hour: this pass stops it.
	if _, err := consul.Client.KV().Put(&consulapi.KVPair{Key: sweeper.DrainingKey("web", "v1"), Value: []byte(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))}, nil); err != nil {
		t.Fatal(err)
	}
	stopped := func(ns string) bool {
		j, ok := nomad.Job(ns, naming.JobID("web", "v1"))
		return !ok || (j.Stop != nil && *j.Stop)
	}
	env := map[string]string{"NOMAD_ADDR": nomad.Addr(), "CONSUL_HTTP_ADDR": consul.Addr}

	t.Run("without a token nothing is read and nothing retired", func(t *testing.T) {
		code, out, errOut := run(t, env, "sweep", "-c", path)
		if code != ExitError || !strings.Contains(errOut+out, "Permission denied") || stopped("prod") {
			t.Errorf("exit %d\n%s%s", code, out, errOut)
		}
	})
	t.Run("the sweeper's identity lists and deregisters in its namespace", func(t *testing.T) {
		env := map[string]string{"NOMAD_ADDR": nomad.Addr(), "CONSUL_HTTP_ADDR": consul.Addr, "NOMAD_TOKEN": identity}
		code, out, errOut := run(t, env, "sweep", "-c", path)
		if code != ExitOK || !stopped("prod") {
			t.Errorf("exit %d, v1 in prod stopped: %v\n%s%s", code, stopped("prod"), out, errOut)
		}
		if stopped("default") {
			t.Error("a job in another namespace was stopped")
		}
	})
	t.Run("the sweeper's identity can do nothing in another namespace", func(t *testing.T) {
		c, err := nomadapi.NewClient(&nomadapi.Config{Address: nomad.Addr(), SecretID: identity, Namespace: "default"})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Jobs().List(nil); err == nil || !strings.Contains(err.Error(), "403") {
			t.Errorf("listing jobs in default: %v", err)
		}
		if _, _, err := c.Jobs().Deregister(naming.JobID("web", "v2"), false, nil); err == nil || !strings.Contains(err.Error(), "403") {
			t.Errorf("deregistering in default: %v", err)
		}
		if _, ok := nomad.Job("default", naming.JobID("web", "v2")); !ok || stopped("default") {
			t.Error("default's jobs changed")
		}
	})
}
