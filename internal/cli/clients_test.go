package cli

import (
	"strings"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/generator"
	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/nomadfake"
	"github.com/strata-dev/strata/internal/testenv"
)

// TestEveryCommandUsesTheJobsNamespace puts the jobs in a namespace of
// the fake Nomad and checks that status, plan and sweep find them there,
// whether the namespace comes from NOMAD_NAMESPACE or from strata.yaml,
// which wins over NOMAD_NAMESPACE because the jobs carry it.
func TestEveryCommandUsesTheJobsNamespace(t *testing.T) {
	consul := testenv.StartConsul(t)
	cases := []struct {
		name, yamlNamespace, envNamespace, note string
	}{
		{"NOMAD_NAMESPACE is used when strata.yaml names none", "", "prod", ""},
		{"strata.yaml's namespace wins over NOMAD_NAMESPACE", "prod", "staging", "NOMAD_NAMESPACE=staging is not used"},
		{"strata.yaml's namespace is used without NOMAD_NAMESPACE", "prod", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nomad := nomadfake.New(t)
			text := sweptWeb
			if tc.yamlNamespace != "" {
				text = "namespace: " + tc.yamlNamespace + "\n" + text
			}
			path := writeConfig(t, t.TempDir(), text)
			cfg, err := config.Load(config.Options{Path: path, LookupEnv: func(string) (string, bool) { return "", false }})
			if err != nil {
				t.Fatal(err)
			}
			// The jobs as rendered, in prod; and a decoy of the same ID in
			// default that must not be seen.
			for _, v := range cfg.Apps[0].Versions {
				j := generator.Job(cfg, cfg.Apps[0], v)
				j.Namespace = new("prod")
				nomad.AddJob(j, time.Now().Add(-48*time.Hour))
			}
			decoy := naming.JobID("web", "v1")
			nomad.AddJob(&nomadapi.Job{ID: &decoy, Name: &decoy, Type: new("service"), Namespace: new("default"), Meta: map[string]string{
				naming.MetaManaged: "true", naming.MetaApp: "web", naming.MetaVersion: "v1", naming.MetaKind: "web"}}, time.Now().Add(-48*time.Hour))

			env := map[string]string{"NOMAD_ADDR": nomad.Addr(), "CONSUL_HTTP_ADDR": consul.Addr}
			if tc.envNamespace != "" {
				env["NOMAD_NAMESPACE"] = tc.envNamespace
			}
			// status: both versions of prod, not default's v1.
			code, out, errOut := run(t, env, "status", "web", "-o", "json", "-c", path)
			if !strings.Contains(out, `"version": "v2"`) || !strings.Contains(out, `"version": "v3"`) || strings.Contains(out, `"version": "v1"`) {
				t.Errorf("status: exit %d, does not list prod's v2 and v3 alone:\n%s%s", code, out, errOut)
			}
			if !strings.Contains(errOut, tc.note) {
				t.Errorf("status: stderr lacks %q: %s", tc.note, errOut)
			}
			// sweep: the same versions, and no orphan from default.
			code, out, errOut = run(t, env, "sweep", "--dry-run", "-c", path)
			if !strings.Contains(out, "v2") || !strings.Contains(out, "v3") || strings.Contains(out, "v1") {
				t.Errorf("sweep: exit %d, does not see prod's v2 and v3 alone:\n%s%s", code, out, errOut)
			}
			// plan: the jobs are in prod as rendered, so nothing changes.
			code, out, errOut = run(t, env, "plan", "web", "--detailed-exitcode", "-c", path)
			if code != ExitOK {
				t.Errorf("plan: exit %d, want %d: the jobs in prod were not found\n%s%s", code, ExitOK, out, errOut)
			}
		})
	}
}

// TestConnectionErrorsSayWhatToDo points every command that talks to
// Nomad or Consul at an address where nothing listens.
func TestConnectionErrorsSayWhatToDo(t *testing.T) {
	path := writeConfig(t, t.TempDir(), sweptWeb)
	env := map[string]string{"NOMAD_ADDR": "http://127.0.0.1:1", "CONSUL_HTTP_ADDR": "127.0.0.1:1"}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"plan names NOMAD_ADDR", []string{"plan", "web"}, "cannot reach Nomad at http://127.0.0.1:1"},
		{"deploy names NOMAD_ADDR", []string{"deploy", "web", "v3", "--timeout", "5s"}, "is the Nomad agent running there? Set NOMAD_ADDR"},
		{"sweep names NOMAD_ADDR", []string{"sweep"}, "Set NOMAD_ADDR to its address"},
		{"promote names CONSUL_HTTP_ADDR", []string{"promote", "web", "v3"}, "cannot reach Consul at http://127.0.0.1:1 (dial tcp"},
		{"cohort ls names CONSUL_HTTP_ADDR", []string{"cohort", "ls"}, "is the Consul agent running there? Set CONSUL_HTTP_ADDR"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := run(t, env, append(tc.args, "-c", path)...)
			if code != ExitError || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr lacks %q:\n%s", code, tc.want, errOut)
			}
		})
	}
}

// TestDeployRegistersWherePlanLooks deploys with NOMAD_NAMESPACE set and
// no namespace in strata.yaml: the job lands in that namespace, where plan
// then finds it unchanged.
func TestDeployRegistersWherePlanLooks(t *testing.T) {
	nomad := nomadfake.New(t)
	path := writeConfig(t, t.TempDir(), strings.Replace(routedWeb, "    routing:", "    update: { max_parallel: 1 }\n    routing:", 1))
	done := make(chan struct{})
	go func() {
		defer close(done)
		client := nomad.Client()
		for range 1000 {
			if d, _, err := client.Jobs().LatestDeployment("web-v2", &nomadapi.QueryOptions{Namespace: "prod"}); err == nil && d != nil {
				nomad.SetDeploymentHealth("web-v2", 1, 1, 1, 0)
				nomad.SetDeploymentStatus(d.ID, nomadapi.DeploymentStatusSuccessful, "Deployment completed successfully")
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	env := map[string]string{"NOMAD_ADDR": nomad.Addr(), "NOMAD_NAMESPACE": "prod"}
	code, out, errOut := run(t, env, "deploy", "web", "v2", "-c", path)
	<-done
	if code != ExitOK {
		t.Fatalf("deploy: exit %d\n%s%s", code, out, errOut)
	}
	if _, ok := nomad.Job("prod", "web-v2"); !ok {
		t.Fatalf("web-v2 is not in namespace prod: %v (default: %v)", nomad.JobIDs("prod"), nomad.JobIDs("default"))
	}
	code, out, errOut = run(t, env, "plan", "web", "-c", path)
	if code != ExitOK || strings.Contains(out, `Job: "web-v2"`) {
		t.Errorf("plan does not see the deployed web-v2 in prod unchanged: exit %d\n%s%s", code, out, errOut)
	}
}
