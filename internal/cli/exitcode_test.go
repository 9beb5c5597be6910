package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/generator"
	"github.com/strata-dev/strata/internal/nomadfake"
)

// TestDetailedExitCodes is the table of every outcome of the commands that
// report changes in their exit code: 0 no change, 2 changes and nothing
// else, 3 (--fail-on-restart) changes that restart running versions, 1 an
// error, 64 a wrong command line.
func TestDetailedExitCodes(t *testing.T) {
	nomad := nomadfake.New(t)
	dir := t.TempDir()
	cfgPath := writeConfig(t, dir, webV1V2)
	cfg, err := config.Load(config.Options{Path: cfgPath, LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	// The cluster runs web-v1 and web-v2 exactly as strata.yaml renders them.
	for _, v := range cfg.Apps[0].Versions {
		nomad.AddJob(generator.Job(cfg, cfg.Apps[0], v), time.Now())
	}
	changedDir := t.TempDir()
	changed := writeConfig(t, changedDir, strings.Replace(webV1V2, "[v1, v2]", "[v1, v2, v3]", 1))
	// An env change restarts web-v1 and web-v2.
	restartDir := t.TempDir()
	restart := writeConfig(t, restartDir, strings.Replace(webV1V2, "versions: [v1, v2]", "env: { FEATURE_X: \"on\" }\n    versions: [v1, v2]", 1))
	invalidDir := t.TempDir()
	invalid := writeConfig(t, invalidDir, strings.Replace(webV1V2, "[v1, v2]", "[v1, V_2]", 1))
	rendered := t.TempDir()
	renderedCfg := writeConfig(t, rendered, webV1V2)
	if code, _, errOut := run(t, nil, "render", "-c", renderedCfg); code != ExitOK {
		t.Fatal(errOut)
	}
	down := map[string]string{"NOMAD_ADDR": "http://127.0.0.1:1"}
	env := map[string]string{"NOMAD_ADDR": nomad.Addr()}

	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
	}{
		{"plan with nothing to change exits 0", env, []string{"plan", "web", "--detailed-exitcode", "-c", cfgPath}, ExitOK},
		{"plan with a job to add exits 2", env, []string{"plan", "web", "--detailed-exitcode", "-c", changed}, ExitChanges},
		{"plan with changes exits 0 without the flag", env, []string{"plan", "web", "-c", changed}, ExitOK},
		{"plan --fail-on-restart of a change that restarts running versions exits 3", env, []string{"plan", "web", "--fail-on-restart", "-c", restart}, ExitRestarts},
		{"plan --fail-on-restart exits 3 before --detailed-exitcode's 2", env, []string{"plan", "web", "--fail-on-restart", "--detailed-exitcode", "-c", restart}, ExitRestarts},
		{"plan --fail-on-restart of an added version exits 2 with --detailed-exitcode", env, []string{"plan", "web", "--fail-on-restart", "--detailed-exitcode", "-c", changed}, ExitChanges},
		{"plan --fail-on-restart of an added version exits 0", env, []string{"plan", "web", "--fail-on-restart", "-c", changed}, ExitOK},
		{"plan --fail-on-restart against a Nomad that does not answer exits 1", down, []string{"plan", "web", "--fail-on-restart", "-c", restart}, ExitError},
		{"plan against a Nomad that does not answer exits 1", down, []string{"plan", "web", "--detailed-exitcode", "-c", changed}, ExitError},
		{"plan of an invalid configuration exits 1", env, []string{"plan", "--detailed-exitcode", "-c", invalid}, ExitError},
		{"plan with a bad format is a usage error", env, []string{"plan", "--detailed-exitcode", "--format", "yml", "-c", cfgPath}, ExitUsage},
		{"plan with an unknown flag is a usage error", env, []string{"plan", "--detailed-exitcode", "--bogus", "-c", cfgPath}, ExitUsage},
		{"plan of an app strata.yaml lacks is a usage error", env, []string{"plan", "nope", "--detailed-exitcode", "-c", cfgPath}, ExitUsage},

		{"diff with nothing to change exits 0", nil, []string{"diff", "--base", dir, "--head", cfgPath, "--detailed-exitcode"}, ExitOK},
		{"diff with a job to add exits 2", nil, []string{"diff", "--base", dir, "--head", changedDir, "--detailed-exitcode"}, ExitChanges},
		{"diff with changes exits 0 without the flag", nil, []string{"diff", "--base", dir, "--head", changedDir}, ExitOK},
		{"diff --fail-on-restart of a change that restarts running versions exits 3", nil, []string{"diff", "--base", dir, "--head", restartDir, "--fail-on-restart"}, ExitRestarts},
		{"diff --fail-on-restart exits 3 before --detailed-exitcode's 2", nil, []string{"diff", "--base", dir, "--head", restartDir, "--fail-on-restart", "--detailed-exitcode"}, ExitRestarts},
		{"diff --fail-on-restart of an added version exits 2 with --detailed-exitcode", nil, []string{"diff", "--base", dir, "--head", changedDir, "--fail-on-restart", "--detailed-exitcode"}, ExitChanges},
		{"diff --fail-on-restart of an added version exits 0", nil, []string{"diff", "--base", dir, "--head", changedDir, "--fail-on-restart"}, ExitOK},
		{"diff --fail-on-restart with an invalid side exits 1", nil, []string{"diff", "--base", dir, "--head", invalidDir, "--fail-on-restart"}, ExitError},
		{"diff with an invalid side exits 1", nil, []string{"diff", "--base", dir, "--head", invalidDir, "--detailed-exitcode"}, ExitError},
		{"diff without --base is a usage error", nil, []string{"diff", "--detailed-exitcode", "-c", cfgPath}, ExitUsage},
		{"diff with a bad format is a usage error", nil, []string{"diff", "--base", dir, "--format", "yml", "--detailed-exitcode", "-c", cfgPath}, ExitUsage},
		{"diff with an unknown flag is a usage error", nil, []string{"diff", "--base", "HEAD", "--detailed-exitcode", "--bogus"}, ExitUsage},

		{"render --check of an up-to-date directory exits 0", nil, []string{"render", "--check", "-c", renderedCfg}, ExitOK},
		{"render --check of an out-of-date directory exits 2", nil, []string{"render", "--check", "-c", changed}, ExitChanges},
		{"render --check of an invalid configuration exits 1", nil, []string{"render", "--check", "-c", invalid}, ExitError},
		{"render --check with an unknown flag is a usage error", nil, []string{"render", "--check", "--bogus", "-c", renderedCfg}, ExitUsage},
		{"render without --check never exits 2", nil, []string{"render", "--dry-run", "-c", changed}, ExitOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, tc.env, tc.args...)
			if code != tc.code {
				t.Errorf("strata %s: exit %d, want %d\n%s%s", strings.Join(tc.args, " "), code, tc.code, out, errOut)
			}
			if code == ExitRestarts && !strings.Contains(errOut, "Restarts 2 running versions of web (web-v1, web-v2)") {
				t.Errorf("exit 3 does not say which versions restart: %q", errOut)
			}
			if code == ExitUsage && !strings.Contains(errOut, "--help") {
				t.Errorf("a usage error does not point at --help: %q", errOut)
			}
		})
	}
}

// TestNoCommandExits2OnAWrongCommandLine runs every command of the tree
// with an unknown flag, and with --detailed-exitcode where it does not
// exist: each is a usage error, so 2 is left to changes.
func TestNoCommandExits2OnAWrongCommandLine(t *testing.T) {
	var paths [][]string
	var walk func(cmd *cobra.Command, path []string)
	walk = func(cmd *cobra.Command, path []string) {
		if cmd.Hidden || cmd.Name() == "help" {
			return
		}
		paths = append(paths, path)
		for _, sub := range cmd.Commands() {
			walk(sub, append(append([]string{}, path...), sub.Name()))
		}
	}
	walk((&CLI{}).root(), nil)
	if len(paths) < 20 {
		t.Fatalf("only %d commands found: %v", len(paths), paths)
	}
	for _, path := range paths {
		root := (&CLI{}).root()
		cmd, _, _ := root.Find(path)
		lines := [][]string{append(append([]string{}, path...), "--bogus")}
		if cmd.Flags().Lookup("detailed-exitcode") == nil {
			lines = append(lines, append(append([]string{}, path...), "--detailed-exitcode"))
		}
		for _, args := range lines {
			code, _, errOut := run(t, nil, args...)
			if code != ExitUsage {
				t.Errorf("strata %s: exit %d, want %d (%s)", strings.Join(args, " "), code, ExitUsage, errOut)
			}
		}
	}
}
