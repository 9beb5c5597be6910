package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/config"
)

func TestSweeperSettingsAreRead(t *testing.T) {
	cfg, err := config.Parse("strata.yaml", text(`
sweeper: { cron: "*/10 * * * *", strata: /opt/strata }
`+strings.TrimPrefix(routedApp, "\n")+`    sweeper: { keep: 3, min_age: 2h, drain_grace: 30m, max_retire_per_run: 0, purge: true }
`), config.Options{LookupEnv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	want := config.Retire{Keep: 3, MinAge: 2 * time.Hour, DrainGrace: 30 * time.Minute, HandoffGrace: config.DefaultHandoffGrace, Purge: true}
	if got := cfg.Apps[0].Retire; got != want {
		t.Errorf("retire = %+v, want %+v", got, want)
	}
	if cfg.Sweeper.Cron != "*/10 * * * *" || cfg.Sweeper.Strata != "/opt/strata" || cfg.Sweeper.Driver != config.DriverRawExec {
		t.Errorf("sweeper = %+v", cfg.Sweeper)
	}
}

func TestAWorkerKeepsOneVersionByDefault(t *testing.T) {
	cfg, err := config.Parse("strata.yaml", []byte("apps:\n  q:\n    kind: worker\n    driver: exec\n    command: /q\n    args: [\"{{version}}\"]\n    versions: [v1]\n"), config.Options{LookupEnv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if k := cfg.Apps[0].Retire.Keep; k != config.DefaultKeepWorker {
		t.Errorf("keep = %d", k)
	}
}

func TestSweeperProblems(t *testing.T) {
	base := strings.TrimPrefix(routedApp, "\n")
	for _, tc := range []struct {
		name string
		yaml string
		want []wantErr
	}{
		{"keep 0 is rejected", base + "    sweeper: { keep: 0 }\n",
			[]wantErr{{"strata.yaml:10:22", "apps.web.sweeper.keep", "keep at least the newest version"}}},
		{"a negative max_retire_per_run is rejected", base + "    sweeper: { max_retire_per_run: -1 }\n",
			[]wantErr{{"strata.yaml:10:36", "apps.web.sweeper.max_retire_per_run", "expected 0 (no bound) or more"}}},
		{"a drain grace that is not a duration is rejected", base + "    sweeper: { drain_grace: soon }\n",
			[]wantErr{{"strata.yaml:10:29", "apps.web.sweeper.drain_grace", `"soon" is not a duration`}}},
		{"an unknown sweeper key is rejected", base + "    sweeper: { grace: 1m }\n",
			[]wantErr{{"strata.yaml:10:16", "apps.web.sweeper.grace", "unknown key"}}},
		{"a cron with two fields is rejected", "sweeper: { cron: \"5 *\" }\n" + base,
			[]wantErr{{"strata.yaml:1:18", "sweeper.cron", "is not a cron expression"}}},
		{"a docker sweeper without an image is rejected", "sweeper: { driver: docker }\n" + base,
			[]wantErr{{"strata.yaml:1:20", "sweeper.image", "the docker driver needs an image holding strata"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("strata.yaml", []byte(tc.yaml), config.Options{LookupEnv: noEnv})
			checkErrors(t, err, tc.want)
		})
	}
}
