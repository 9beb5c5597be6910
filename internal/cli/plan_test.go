package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/generator"
	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/nomadfake"
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
	if code != ExitOK || !strings.Contains(out, "| `web-v2` | Added |") || !strings.Contains(out, "```diff") {
		t.Errorf("markdown:\n%s", out)
	}
	nomad.FailNext(nomadfake.EndpointJobPlan, 500, 1)
	if code, _, errOut := run(t, env, "plan", "web", "--detailed-exitcode", "-c", path); code != ExitError || !strings.Contains(errOut, "planning web-v1") {
		t.Errorf("a failed plan: exit %d, %s", code, errOut)
	}
}
