package config_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/config"
)

// sweeperView is what the sweeper reads from a configuration.
type sweeperView struct {
	Region, Namespace string
	Apps              []sweeperApp
}

type sweeperApp struct {
	Name     string
	Kind     config.Kind
	Versions []string
	Live     string
	Retire   config.Retire
}

func viewOf(cfg *config.Config) sweeperView {
	v := sweeperView{Region: cfg.Region, Namespace: cfg.Namespace}
	for _, a := range cfg.Apps {
		v.Apps = append(v.Apps, sweeperApp{a.Name, a.Kind, a.Versions, a.Live, a.Retire})
	}
	return v
}

// TestSweeperYAMLReadsBackAsWhatTheSweeperReads: the sweeper's part of a
// strata.yaml, loaded by the same loader, gives the sweeper the same
// region, namespace, apps, versions, live versions and policies.
func TestSweeperYAMLReadsBackAsWhatTheSweeperReads(t *testing.T) {
	for _, path := range []string{"../../strata.yaml", "../../examples/local/strata.yaml", "../generator/testdata/full.yaml", "../generator/testdata/raw_exec.yaml"} {
		t.Run(path, func(t *testing.T) {
			cfg, err := config.Load(config.Options{Path: path, LookupEnv: noEnv})
			if err != nil {
				t.Fatal(err)
			}
			text := cfg.SweeperYAML()
			back, err := config.Parse("strata.yaml", text, config.Options{LookupEnv: noEnv})
			if err != nil {
				t.Fatalf("%v\n%s", err, text)
			}
			if back.Scope != config.ScopeSweeper {
				t.Errorf("scope %q", back.Scope)
			}
			if got, want := viewOf(back), viewOf(cfg); !reflect.DeepEqual(got, want) {
				t.Errorf("read back as\n%+v\nwant\n%+v\n%s", got, want, text)
			}
		})
	}
}

func TestSweeperScopeHoldsOnlyWhatTheSweeperReads(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"an unknown scope is refused", "scope: everything\napps: {}\n", `strata.yaml:1:8: scope: "everything" is not a scope`},
		{"a top-level key outside the scope is refused", "scope: sweeper\ncreated: \"2026-11-01T00:00:00Z\"\napps:\n  w: { kind: worker, versions: [v1] }\n", "strata.yaml:2:1: created: not part of the sweeper's scope"},
		{"an app key outside the scope is refused", "scope: sweeper\napps:\n  w: { kind: worker, driver: docker, versions: [v1] }\n", "apps.w.driver: unknown key"},
		{"a web app still needs its live version", "scope: sweeper\napps:\n  w: { kind: web, versions: [v1] }\n", "apps.w.live: missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("strata.yaml", []byte(tc.yaml), config.Options{LookupEnv: noEnv})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestSweeperYAMLGolden(t *testing.T) {
	cfg, err := config.Load(config.Options{Path: "../../strata.yaml", LookupEnv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	want := `# What strata sweep reads from strata.yaml, written by strata render.
# Do not edit: change strata.yaml and run strata render.
scope: sweeper
region: "global"
apps:
  "transcoder":
    kind: "worker"
    versions: ["v2", "v3"]
    sweeper:
      keep: 1
      min_age: "1h0m0s"
      drain_grace: "10m0s"
      handoff_grace: "10m0s"
      max_retire_per_run: 1
      purge: false
  "web":
    kind: "web"
    versions: ["v8", "v9", "v10"]
    live: "v10"
    sweeper:
      keep: 2
      min_age: "1h0m0s"
      drain_grace: "10m0s"
      handoff_grace: "10m0s"
      max_retire_per_run: 1
      purge: false
`
	if got := string(cfg.SweeperYAML()); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
