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
