package cli

import (
	"strings"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/generator"
	"github.com/strata-dev/strata/internal/nomadfake"
	"github.com/strata-dev/strata/internal/testenv"
)

// TestPlanCommand plans against nomadfake, which stands in for Nomad (it
// cannot run here) and answers plans with diffs of the jobs it holds.
func TestPlanCommand(t *testing.T) {
	nomad := nomadfake.New(t)
	dir := t.TempDir()
	path := writeConfig(t, dir, webV1V2)
	cfg, err := config.Load(config.Options{Path: path, LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	// The cluster runs web-v1 as rendered, and web-v0, which strata.yaml no
	// longer has.
	nomad.AddJob(generator.Job(cfg, cfg.Apps[0], "v1"), time.Now())
	nomad.AddJob(generator.Job(cfg, cfg.Apps[0], "v0"), time.Now())
	env := map[string]string{"NOMAD_ADDR": nomad.Addr()}

	code, out, errOut := run(t, env, "plan", "web", "-c", path)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{`+ Job: "web-v2"`, `"web-v0" (web v0) is in the cluster but not in strata.yaml`} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, `Job: "web-v1"`) {
		t.Errorf("an unchanged job is shown:\n%s", out)
	}
	if code, _, _ := run(t, env, "plan", "web", "--detailed-exitcode", "-c", path); code != 2 {
		t.Errorf("--detailed-exitcode with changes: exit %d, want 2", code)
	}
	code, out, _ = run(t, env, "plan", "web", "--format", "markdown", "-c", path)
	if code != ExitOK || !strings.Contains(out, "| `web-v2` | Added") || !strings.Contains(out, "```diff") {
		t.Errorf("markdown:\n%s", out)
	}
}

// TestPlanPlansEveryJobWhenNomadRefusesOne makes Nomad refuse the first
// job's plan: the other jobs are still planned and printed, the refused one
// is reported with Nomad's answer, and the command exits 1 at the end, even
// with --detailed-exitcode and changes.
func TestPlanPlansEveryJobWhenNomadRefusesOne(t *testing.T) {
	nomad := nomadfake.New(t)
	dir := t.TempDir()
	path := writeConfig(t, dir, webV1V2)
	env := map[string]string{"NOMAD_ADDR": nomad.Addr()}
	for _, format := range []string{"text", "markdown", "json"} {
		nomad.FailNext(nomadfake.EndpointJobPlan, 500, 1)
		code, out, errOut := run(t, env, "plan", "web", "--detailed-exitcode", "--format", format, "-c", path)
		if code != ExitError {
			t.Errorf("%s: exit %d, want %d", format, code, ExitError)
		}
		if !strings.Contains(errOut, "web-v1 could not be planned") {
			t.Errorf("%s: stderr does not name the refused job:\n%s", format, errOut)
		}
		for _, want := range []string{"web-v1", "web-v2", "500"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q:\n%s", format, want, out)
			}
		}
	}
	code, out, _ := run(t, env, "plan", "web", "-c", path)
	if code != ExitOK || strings.Contains(out, "could not be planned") {
		t.Errorf("without a refusal: exit %d\n%s", code, out)
	}
}

// TestPlanShowsTheHAProxyConfigurationChange renders HAProxy's files with
// the templates of the running HAProxy job and with the planned ones, on a
// real Consul.
func TestPlanShowsTheHAProxyConfigurationChange(t *testing.T) {
	consul := testenv.StartConsul(t)
	consul.Client.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{ID: "web-v2-1", Name: "web",
		Tags: []string{"strata", "strata-version=v2"}, Address: "127.0.0.1", Port: 20001,
		Meta: map[string]string{"strata-order": "v01 2!v2"}})
	nomad := nomadfake.New(t)
	dir := t.TempDir()
	path := writeConfig(t, dir, routedWeb)
	running, err := config.Load(config.Options{Path: path, LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	own, err := generator.HAProxyJob(running)
	if err != nil {
		t.Fatal(err)
	}
	nomad.AddJob(own, time.Now())
	writeConfig(t, dir, strings.Replace(routedWeb, "127.0.0.1:18090", "127.0.0.1:18091", 1))
	env := map[string]string{"NOMAD_ADDR": nomad.Addr(), "CONSUL_HTTP_ADDR": consul.Addr}
	code, out, errOut := run(t, env, "plan", "--detailed-exitcode", "-c", path)
	if code != 2 {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	for _, want := range []string{"HAProxy haproxy.cfg would change", "-     bind 127.0.0.1:18090", "+     bind 127.0.0.1:18091"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "versions.map would change") {
		t.Errorf("the versions map did not change but is shown:\n%s", out)
	}
	code, out, errOut = run(t, env, "plan", "-o", "markdown", "-c", path)
	if code != ExitOK || !strings.Contains(out, "<summary>HAProxy <code>haproxy.cfg</code> changes</summary>") || !strings.Contains(out, "+     bind 127.0.0.1:18091") {
		t.Errorf("markdown: exit %d %s\n%s", code, errOut, out)
	}
}

// TestPlanSaysAStoppedVersionStartsAgain stops web-v1 in the fake Nomad, as
// the sweeper does: planning strata.yaml, which still has it, says that
// running its file starts its allocations again.
func TestPlanSaysAStoppedVersionStartsAgain(t *testing.T) {
	nomad := nomadfake.New(t)
	dir := t.TempDir()
	path := writeConfig(t, dir, webV1V2)
	cfg, err := config.Load(config.Options{Path: path, LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"v1", "v2"} {
		nomad.AddJob(generator.Job(cfg, cfg.Apps[0], v), time.Now())
	}
	if _, _, err := nomad.Client().Jobs().Deregister("web-v1", false, nil); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"NOMAD_ADDR": nomad.Addr()}
	code, out, errOut := run(t, env, "plan", "web", "-c", path)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{`+/- Stop: "true" => "false"`, `Task Group: "web" (`, "web-v1 was stopped (by the sweeper or nomad job stop): running its job file starts"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
}
