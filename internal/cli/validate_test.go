package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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

// TestValidateRefusesWhatNomadRefuses: a job the configuration's own checks
// let through but Nomad would refuse fails validate and render, naming the
// app and Nomad's reason, and nothing is written.
func TestValidateRefusesWhatNomadRefuses(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, strings.Replace(webV1V2, "    versions:", "    constraints: [{ attribute: \"${meta.rack}\", operator: regexp, value: \"(\" }]\n    versions:", 1))
	for _, cmd := range []string{"validate", "render"} {
		code, _, errOut := run(t, nil, cmd, "-c", cfg)
		if code != ExitError {
			t.Fatalf("%s: exit %d", cmd, code)
		}
		want := "strata " + cmd + ": " + cfg + ": apps.web: Nomad would refuse job web-v1: Constraint 1 validation failed: Regular expression failed to compile: error parsing regexp: missing closing ): `(`"
		if !strings.Contains(errOut, want) {
			t.Errorf("%s: stderr lacks %q:\n%s", cmd, want, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "jobs")); !os.IsNotExist(err) {
		t.Error("render wrote jobs Nomad would refuse")
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
	if code, out, errOut := run(t, nil, "validate", "-c", p); code != ExitOK || !strings.Contains(out, "valid (1 apps, 2 jobs)") {
		t.Errorf("validate: exit %d, %s%s", code, out, errOut)
	}
	if code, _, errOut := run(t, nil, "render", "-c", p); code != ExitError || !strings.Contains(errOut, "holds only what the sweeper reads (scope: sweeper); render the full strata.yaml") {
		t.Errorf("render: exit %d, %s", code, errOut)
	}
}
