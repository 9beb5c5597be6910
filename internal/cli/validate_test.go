package cli

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/config"
)

// TestValidateAndRenderShowWarnings: warnings go to stderr, name the key,
// and leave the exit code alone.
func TestValidateAndRenderShowWarnings(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, strings.Replace(webV1V2, "    versions:", "    kill_timeout: 1h\n    resources: { memory: 256, memory_max: 512 }\n    versions:", 1))
	for _, cmd := range []string{"validate", "render"} {
		t.Run(cmd, func(t *testing.T) {
			code, _, errOut := run(t, nil, cmd, "-c", cfg)
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, want := range []string{
				"strata " + cmd + ": warning: " + cfg + ":8:19: apps.web.kill_timeout: 1h0m0s is longer than the 30s a Nomad client allows by default",
				`(client { max_kill_timeout = "1h" })`,
				"strata " + cmd + ": warning: " + cfg + `: apps.web: Nomad warns about web-v1, web-v2: Memory oversubscription is not enabled; Task "web.web" memory_max value will be ignored.`,
			} {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut)
				}
			}
		})
	}
}

// TestCheckJobsRefusesWhatNomadRefuses: the configuration's own checks
// cover every rule Nomad applies that the recordings show, so the job
// check is a safety net; here a configuration changed after loading (as a
// new default or a missed check would) renders a job Nomad would refuse,
// and the check names the app and Nomad's reason.
func TestCheckJobsRefusesWhatNomadRefuses(t *testing.T) {
	cfg, err := config.Parse("strata.yaml", []byte(webV1V2), config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	hour, ten := time.Hour, 10*time.Minute
	cfg.Apps[0].KillTimeout = &hour
	cfg.Apps[0].Update = &config.Update{ProgressDeadline: &ten}
	var errOut bytes.Buffer
	c := &CLI{Stdout: io.Discard, Stderr: &errOut}
	err = c.checkJobs(&cobra.Command{Use: "validate"}, cfg)
	var errs config.Errors
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("got %v, want one error per version", err)
	}
	want := "strata.yaml: apps.web: Nomad would refuse job web-v1: Task group web validation failed: Task web validation failed: KillTimout (1h0m0s) longer than the group's ProgressDeadline (10m0s)"
	if errs[0].Error() != want {
		t.Errorf("got  %s\nwant %s", errs[0], want)
	}
}

// TestSweeperScopeLoads: the file the sweeper job embeds loads with the
// loader every command uses (strata sweep -c <it>), and renders nothing.
func TestSweeperScopeLoads(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "strata.yaml")
	text := "scope: sweeper\napps:\n  \"web\":\n    kind: \"web\"\n    versions: [\"v1\", \"v2\"]\n    live: \"v2\"\n    sweeper:\n      keep: 2\n      min_age: \"1h0m0s\"\n      drain_grace: \"10m0s\"\n      handoff_grace: \"10m0s\"\n      max_retire_per_run: 1\n      purge: false\n"
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := run(t, nil, "validate", "-c", p); code != ExitOK || !strings.Contains(out, "valid (scope sweeper: 1 apps, 2 versions)") {
		t.Errorf("validate: exit %d, %s%s", code, out, errOut)
	}
	if code, _, errOut := run(t, nil, "render", "-c", p); code != ExitError || !strings.Contains(errOut, "holds only what the sweeper reads (scope: sweeper); render the full strata.yaml") {
		t.Errorf("render: exit %d, %s", code, errOut)
	}
}

// TestSweeperScopeGivesTheSweeperTheSamePolicies: strata sweep run on the
// file the sweeper job embeds decides with what the full strata.yaml says.
func TestSweeperScopeGivesTheSweeperTheSamePolicies(t *testing.T) {
	for _, path := range []string{"../../strata.yaml", "../../examples/local/strata.yaml", "../generator/testdata/full.yaml"} {
		full, err := config.Load(config.Options{Path: path, LookupEnv: func(string) (string, bool) { return "", false }})
		if err != nil {
			t.Fatal(err)
		}
		scoped, err := config.Parse("strata.yaml", full.SweeperYAML(), config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := SweeperConfig(scoped), SweeperConfig(full); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: the sweeper's file gives\n%+v\nthe full file\n%+v", path, got, want)
		}
		if scoped.Namespace != full.Namespace || scoped.Region != full.Region {
			t.Errorf("%s: namespace/region %q/%q, want %q/%q", path, scoped.Namespace, scoped.Region, full.Namespace, full.Region)
		}
	}
}
