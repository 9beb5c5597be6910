package config_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/strata-dev/strata/internal/config"
)

// webWithOwnSettings lists v10 with settings of its own, among plain names
// and out of order.
const webWithOwnSettings = `
apps:
  web:
    driver: docker
    image: "ghcr.io/acme/web:{{version}}"
    ports: { http: {} }
    service: { check: { path: /healthz } }
    env: { LOG_LEVEL: info }
    resources: { cpu: 200, memory: 256 }
    max_versions: 3
    versions:
      - version: v10
        env: { FEATURE_X: "on" }
        resources: { memory: 512 }
      - v9
      - v8
    live: v10
`

func TestAVersionMayCarryItsOwnSettings(t *testing.T) {
	cfg := mustParse(t, "strata.yaml", webWithOwnSettings)
	a := app(t, cfg, "web")
	if want := []string{"v8", "v9", "v10"}; !slices.Equal(a.Versions, want) {
		t.Errorf("versions %v, want %v (natural order, whatever the entries' form)", a.Versions, want)
	}
	v10 := a.ForVersion("v10")
	if want := map[string]string{"LOG_LEVEL": "info", "FEATURE_X": "on"}; !reflect.DeepEqual(v10.Env, want) {
		t.Errorf("v10 env %v, want %v (the app's, plus the version's)", v10.Env, want)
	}
	if r := v10.Resources; r == nil || *r.CPU != 200 || *r.Memory != 512 {
		t.Errorf("v10 resources %s, want cpu 200 (the app's) and memory 512 (its own)", dump(r))
	}
	if a.ForVersion("v9") != a {
		t.Errorf("v9, which sets nothing of its own, is not the app itself")
	}
	if want := map[string]string{"LOG_LEVEL": "info"}; !reflect.DeepEqual(a.Env, want) || *a.Resources.Memory != 256 {
		t.Errorf("the app itself changed: env %v, resources %s", a.Env, dump(a.Resources))
	}
	if !reflect.DeepEqual(a.ForVersion("v8"), a) {
		t.Errorf("v8 differs from the app")
	}
}

func TestAVersionsOwnImageCommandAndArgsReplaceTheApps(t *testing.T) {
	cfg := mustParse(t, "strata.yaml", `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    args: [--queue, jobs]
    versions:
      - v1
      - { version: v2, image: "img:hotfix-7", command: /bin/worker, args: [] }
`)
	a := app(t, cfg, "w")
	v2 := a.ForVersion("v2")
	if v2.Image != "img:hotfix-7" || v2.Command != "/bin/worker" || len(v2.Args) != 0 {
		t.Errorf("v2: image %q command %q args %q", v2.Image, v2.Command, v2.Args)
	}
	if v1 := a.ForVersion("v1"); v1.Image != "img:{{version}}" || !slices.Equal(v1.Args, []string{"--queue", "jobs"}) {
		t.Errorf("v1: image %q args %q", v1.Image, v1.Args)
	}
}

func TestVersionSettingsThatCannotBeHadAreRefusedWhereTheyAre(t *testing.T) {
	base := `
apps:
  web:
    driver: docker
    image: "ghcr.io/acme/web:{{version}}"
    ports: { http: {} }
    service: { check: { path: /healthz } }
    resources: { memory: 256 }
    versions:
      - v1
`
	for _, tc := range []struct {
		name, entry string
		want        []wantErr
	}{
		{"a setting applied in place cannot be set for one version", `      - { version: v2, count: 3 }`,
			[]wantErr{{"strata.yaml:10:24", "apps.web.versions[1].count", "count cannot be set for one version: only image, command, args, env, resources can"}}},
		{"a key that is no setting is unknown", `      - { version: v2, colour: red }`,
			[]wantErr{{"strata.yaml:10:24", "apps.web.versions[1].colour", "unknown key; expected one of: version, image, command, args, env, resources"}}},
		{"a mapping without its version's name is refused", `      - { env: { A: b } }`,
			[]wantErr{{"strata.yaml:10:9", "apps.web.versions[1].version", "missing; a version written as a mapping names itself"}}},
		{"a version's name is checked where it is written", "      - version: V_2\n        env: { A: b }",
			[]wantErr{{"strata.yaml:10:18", "apps.web.versions[1]", `"V_2" is not a valid version`}}},
		{"a version listed twice is refused in either form", "      - version: v1\n        env: { A: b }",
			[]wantErr{{"strata.yaml:10:18", "apps.web.versions[1]", `version "v1" is listed twice (also at apps.web.versions[0])`}}},
		{"a bad env name of a version is cited at its key", `      - { version: v2, env: { 1A: b } }`,
			[]wantErr{{"strata.yaml:10:31", "apps.web.versions[1].env.1A", "is not a valid environment variable name"}}},
		{"a version's memory_max below the app's memory is refused", `      - { version: v2, resources: { memory_max: 128 } }`,
			[]wantErr{{"strata.yaml:10:24", "apps.web.versions[1].resources.memory_max", "128 MB is less than memory (256 MB) for version v2"}}},
		{"a near miss of the placeholder in a version's image is refused", `      - { version: v2, image: "img:{{ version }}" }`,
			[]wantErr{{"strata.yaml:10:31", "apps.web.versions[1].image", `"{{ version }}" is not a placeholder strata knows`}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse("strata.yaml", text(base+tc.entry+"\n    live: v1\n"), config.Options{LookupEnv: noEnv})
			if cfg != nil {
				t.Errorf("got a configuration along with the error")
			}
			checkErrors(t, err, tc.want)
		})
	}
}

func TestAVersionsImageNeedsTheDockerDriver(t *testing.T) {
	_, err := config.Parse("strata.yaml", text(`
apps:
  w:
    kind: worker
    driver: raw_exec
    command: "/opt/w/{{version}}/bin/w"
    versions:
      - { version: v2, image: "img:v2" }
`), config.Options{LookupEnv: noEnv})
	checkErrors(t, err, []wantErr{{"strata.yaml:7:24", "apps.w.versions[0].image", "only the docker driver takes an image; the raw_exec driver runs command"}})
}

func TestVersionsWithSettingsCountAgainstMaxVersionsAndLive(t *testing.T) {
	worker := func(maxVersions, live string) string {
		return `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    max_versions: ` + maxVersions + `
    versions:
      - v1
      - { version: v2, env: { A: b } }
    live: ` + live + "\n"
	}
	_, err := config.Parse("strata.yaml", text(worker("1", "v2")), config.Options{LookupEnv: noEnv})
	checkErrors(t, err, []wantErr{{"strata.yaml:8:7", "apps.w.versions", "2 versions listed, more than max_versions (1)"}})
	_, err = config.Parse("strata.yaml", text(worker("2", "v3")), config.Options{LookupEnv: noEnv})
	checkErrors(t, err, []wantErr{{"strata.yaml:10:11", "apps.w.live", `"v3" is not in versions (v1, v2)`}})
	mustParse(t, "strata.yaml", worker("2", "v2"))
}
