package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/generator"
	"github.com/strata-dev/strata/internal/nomadfake"
	"github.com/strata-dev/strata/internal/testenv"
)

const consulBlockConfig = `apps:
  web:
    driver: raw_exec
    command: /usr/local/bin/strata
    args: [demo, serve, --version, "{{version}}"]
    ports: { http: {} }
    service: { check: { path: /healthz } }
    versions: [v1]
    live: v1
    routing: { bind: "127.0.0.1:18190" }
`

// TestPlanOfTheConsulBlockOnTheHAProxyJob plans the HAProxy job as strata
// renders it (its haproxy task carries consul {}) against a cluster that
// runs it without the block, as jobs rendered before the block came do.
// Nomad's source (nomaddiff) decides: on servers with consul.task_identity
// the block brings the implicit Consul identity, a destructive change that
// replaces every HAProxy allocation, and strata plan must say so; without
// it the change is applied in place and cuts nothing.
func TestPlanOfTheConsulBlockOnTheHAProxyJob(t *testing.T) {
	consul := testenv.StartConsul(t)
	dir := t.TempDir()
	path := writeConfig(t, dir, consulBlockConfig)
	cfg, err := config.Load(config.Options{Path: path, LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		opts     []nomadfake.Option
		wantCut  bool
		wantText string
	}{
		{"servers with consul.task_identity replace every HAProxy", []nomadfake.Option{nomadfake.WithConsulTaskIdentity(&api.WorkloadIdentity{Audience: []string{generator.ConsulAudience}, TTL: time.Hour})},
			true, "1 create/destroy update"},
		{"servers without it update HAProxy in place", nil, false, "1 in-place update"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nomad := nomadfake.New(t, tc.opts...)
			old, err := generator.HAProxyJob(cfg)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, g := range old.TaskGroups {
				for _, task := range g.Tasks {
					if task.Consul != nil {
						found = true
						task.Consul = nil
					}
				}
			}
			if !found {
				t.Fatal("the rendered HAProxy job has no consul block")
			}
			nomad.AddJob(old, time.Now())
			env := map[string]string{"NOMAD_ADDR": nomad.Addr(), "CONSUL_HTTP_ADDR": consul.Addr}
			code, out, errOut := run(t, env, "plan", "-c", path)
			if code != ExitOK {
				t.Fatalf("exit %d: %s\n%s", code, errOut, out)
			}
			cut := "Replaces the allocations of " + generator.HAProxyJobID
			if strings.Contains(out, cut) != tc.wantCut {
				t.Errorf("plan says %q: %v, want %v:\n%s", cut, !tc.wantCut, tc.wantCut, out)
			}
			if !strings.Contains(out, tc.wantText) || !strings.Contains(out, "Consul") {
				t.Errorf("plan output lacks %q or the Consul block:\n%s", tc.wantText, out)
			}
			// Nomad annotates the task "forces create/destroy update" in
			// both cases; without task_identity strata says it is not.
			inPlace := `but its scheduler updates group "haproxy" in place: no allocation is replaced and no session is cut`
			if strings.Contains(out, inPlace) == tc.wantCut {
				t.Errorf("plan says %q: %v, want %v:\n%s", inPlace, tc.wantCut, !tc.wantCut, out)
			}
			if code, _, _ := run(t, env, "plan", "--fail-on-restart", "-c", path); (code == ExitRestarts) != tc.wantCut {
				t.Errorf("--fail-on-restart: exit %d", code)
			}
		})
	}
}
