package generator

import (
	"bytes"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/config"
)

// versionSettingsBase runs v8 and v9 of web, which share the app's env and
// resources.
const versionSettingsBase = `created: "2026-11-01T00:00:00Z"
apps:
  web:
    driver: docker
    image: "ghcr.io/acme/web:{{version}}"
    ports: { http: {} }
    service: { check: { path: /healthz } }
    env: { LOG_LEVEL: info }
    resources: { cpu: 200, memory: 256 }
    versions:
      - v8
      - v9
    live: v9
`

func renderText(t *testing.T, text string) map[string][]byte {
	t.Helper()
	cfg, err := config.Parse("strata.yaml", []byte(text), config.Options{LookupEnv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	checkAccepted(t, cfg)
	files, err := Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		out[f.Path] = f.Data
	}
	return out
}

// TestAVersionsOwnSettingsChangeOnlyItsJob adds v10 with a setting of its
// own: v8's and v9's files stay byte for byte what they were, and v10's job
// is the app's with the setting added.
func TestAVersionsOwnSettingsChangeOnlyItsJob(t *testing.T) {
	base := renderText(t, versionSettingsBase)
	plain := renderText(t, strings.Replace(versionSettingsBase, "      - v9\n", "      - v9\n      - v10\n", 1))
	own := renderText(t, strings.Replace(versionSettingsBase, "      - v9\n",
		"      - v9\n      - version: v10\n        env: { FEATURE_X: \"on\" }\n        resources: { memory: 512 }\n", 1))
	hcl, js := Paths("web", "v10")
	for path, data := range own {
		switch {
		case path == hcl || path == js:
			if bytes.Equal(data, plain[path]) {
				t.Errorf("%s is the same with and without its own settings", path)
			}
		case !bytes.Equal(data, plain[path]):
			t.Errorf("%s differs between v10 with and without settings of its own:\n%s\n---\n%s", path, plain[path], data)
		}
	}
	for _, v := range []string{"v8", "v9"} {
		hcl, js := Paths("web", v)
		for _, p := range []string{hcl, js} {
			if !bytes.Equal(base[p], own[p]) {
				t.Errorf("%s changed when v10 got settings of its own:\n%s\n---\n%s", p, base[p], own[p])
			}
		}
	}
	for _, want := range []string{`FEATURE_X = "on"`, `LOG_LEVEL = "info"`, "memory = 512", "cpu    = 200"} {
		if !strings.Contains(string(own[hcl]), want) {
			t.Errorf("%s lacks %q:\n%s", hcl, want, own[hcl])
		}
	}
}
