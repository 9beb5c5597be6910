package cli

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/nomadfake"
)

// TestDeployRunsAVersionWithItsOwnSettingsAndFlagsOverThem deploys a
// version that carries settings of its own: the job has them, and
// --command still wins over the version's command.
func TestDeployRunsAVersionWithItsOwnSettingsAndFlagsOverThem(t *testing.T) {
	nomad := nomadfake.New(t)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, strings.Replace(routedWeb, "versions: [v1, v2]",
		"versions:\n      - v1\n      - { version: v2, command: /opt/v2/strata, args: [demo, serve, --version, \"{{version}}\"], env: { FEATURE_X: \"on\" } }", 1))
	done := make(chan struct{})
	go func() {
		defer close(done)
		client := nomad.Client()
		for range 1000 {
			if d, _, err := client.Jobs().LatestDeployment("web-v2", nil); err == nil && d != nil {
				nomad.SetDeploymentHealth("web-v2", 1, 1, 1, 0)
				nomad.SetDeploymentStatus(d.ID, api.DeploymentStatusSuccessful, "Deployment completed successfully")
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	code, out, errOut := run(t, map[string]string{"NOMAD_ADDR": nomad.Addr()}, "deploy", "web", "v2", "--command", "/opt/hotfix/strata", "-c", cfg)
	<-done
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	j, ok := nomad.Job("default", "web-v2")
	if !ok {
		t.Fatal("web-v2 not registered")
	}
	task := j.TaskGroups[0].Tasks[0]
	if task.Env["FEATURE_X"] != "on" {
		t.Errorf("env %v lacks the version's FEATURE_X", task.Env)
	}
	if task.Config["command"] != "/opt/hotfix/strata" {
		t.Errorf("command %v, want --command's", task.Config["command"])
	}
	args, _ := task.Config["args"].([]any)
	if !slices.Equal(args, []any{"demo", "serve", "--version", "v2"}) {
		t.Errorf("args %v", task.Config["args"])
	}
}
