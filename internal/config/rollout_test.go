package config_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/config"
)

// rolloutApp is a routed web app; cases append its rollout section (at
// line 11) or other app keys.
const rolloutApp = `apps:
  web:
    driver: raw_exec
    command: /bin/web
    args: ["{{version}}"]
    ports: { http: {} }
    service: { check: { path: /h } }
    versions: [v1, v2]
    live: v1
    routing: { bind: ":80" }
`

func TestRolloutSettingsAreReadWithTheirDefaults(t *testing.T) {
	for _, tc := range []struct {
		name, rollout string
		want          *config.Rollout
	}{
		{"an app without rollout has none", "", nil},
		{"a null rollout is no rollout", "    rollout:\n", nil},
		{"every setting is read as written",
			"    rollout: { steps: [5, 25, 50, 100], interval: 10m, max_error_rate: 1%, min_requests: 500, max_error_rate_ratio: 2, on_failure: return }\n",
			&config.Rollout{Steps: []int{5, 25, 50, 100}, Interval: 10 * time.Minute, MaxErrorRate: 0.01, MinRequests: 500, MaxErrorRateRatio: 2, OnFailure: config.RolloutReturn}},
		{"min_requests defaults to 100 and on_failure to stay",
			"    rollout: { steps: [100], interval: 30s, max_error_rate: 0.05 }\n",
			&config.Rollout{Steps: []int{100}, Interval: 30 * time.Second, MaxErrorRate: 0.05, MinRequests: config.DefaultRolloutMinRequests, OnFailure: config.RolloutStay}},
		{"a fractional percentage is a fraction of it",
			"    rollout: { steps: [100], interval: 1m, max_error_rate: 0.5%, max_error_rate_ratio: 1.5 }\n",
			&config.Rollout{Steps: []int{100}, Interval: time.Minute, MaxErrorRate: 0.005, MinRequests: 100, MaxErrorRateRatio: 1.5, OnFailure: "stay"}},
		{"a zero error rate, failing on any 5xx, is accepted",
			"    rollout: { steps: [100], interval: 1m, max_error_rate: 0 }\n",
			&config.Rollout{Steps: []int{100}, Interval: time.Minute, MaxErrorRate: 0, MinRequests: 100, OnFailure: "stay"}},
		{"a quoted number is read as a fraction",
			"    rollout: { steps: [100], interval: 1m, max_error_rate: \"0.02\" }\n",
			&config.Rollout{Steps: []int{100}, Interval: time.Minute, MaxErrorRate: 0.02, MinRequests: 100, OnFailure: "stay"}},
		{"min_requests of 1 is accepted",
			"    rollout: { steps: [100], interval: 1m, max_error_rate: 100%, min_requests: 1 }\n",
			&config.Rollout{Steps: []int{100}, Interval: time.Minute, MaxErrorRate: 1, MinRequests: 1, OnFailure: "stay"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := mustParse(t, "strata.yaml", "\n"+rolloutApp+tc.rollout)
			if got := cfg.Apps[0].Rollout; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("rollout = %+v, want %+v", got, tc.want)
			}
			if len(cfg.Warnings) > 0 {
				t.Errorf("warnings: %v", cfg.Warnings)
			}
		})
	}
}

// TestRolloutErrorRateOfOneIsWarned: max_error_rate: 1 is valid (100%,
// the candidate never fails on its error rate) but most likely meant 1%.
func TestRolloutErrorRateOfOneIsWarned(t *testing.T) {
	cfg := mustParse(t, "strata.yaml", "\n"+rolloutApp+"    rollout: { steps: [100], interval: 1m, max_error_rate: 1 }\n")
	want := `strata.yaml:11:60: apps.web.rollout.max_error_rate: 1 is 100%: the candidate never fails on its error rate; for one percent write "1%" or 0.01`
	if got := cfg.Warnings.Error(); got != want {
		t.Errorf("warnings:\n%s\nwant\n%s", got, want)
	}
	if got := cfg.Apps[0].Rollout.MaxErrorRate; got != 1 {
		t.Errorf("max_error_rate = %v, want 1", got)
	}
}

func TestRolloutProblems(t *testing.T) {
	// ok is a valid rollout but for the key a case sets; cases replace one
	// of its settings.
	const ok = "steps: [5, 100], interval: 1m, max_error_rate: 1%"
	with := func(settings string) string { return rolloutApp + "    rollout: { " + settings + " }\n" }
	for _, tc := range []struct {
		name string
		yaml string
		want []wantErr
	}{
		{"an empty rollout names every setting it needs", rolloutApp + "    rollout: {}\n", []wantErr{
			{"strata.yaml:11:14", "apps.web.rollout.steps", "missing; the candidate's percentages of new sessions, ending with 100"},
			{"strata.yaml:11:14", "apps.web.rollout.interval", "missing; how long each step lasts"},
			{"strata.yaml:11:14", "apps.web.rollout.max_error_rate", "missing; the most 5xx responses"},
		}},
		{"a rollout without interval is rejected", with("steps: [100], max_error_rate: 1%"),
			[]wantErr{{"strata.yaml:11:14", "apps.web.rollout.interval", "missing"}}},
		{"steps that do not increase are rejected", with("steps: [5, 50, 25, 100], interval: 1m, max_error_rate: 1%"),
			[]wantErr{{"strata.yaml:11:31", "apps.web.rollout.steps[2]", "25% after 50% (apps.web.rollout.steps[1]); steps must increase"}}},
		{"a step repeated is rejected", with("steps: [50, 50, 100], interval: 1m, max_error_rate: 1%"),
			[]wantErr{{"strata.yaml:11:28", "apps.web.rollout.steps[1]", "50% after 50%"}}},
		{"a step of 0 is rejected", with("steps: [0, 100], interval: 1m, max_error_rate: 1%"),
			[]wantErr{{"strata.yaml:11:24", "apps.web.rollout.steps[0]", "0%; a step is a percentage of new sessions from 1 to 100"}}},
		{"a step above 100 is rejected", with("steps: [50, 101], interval: 1m, max_error_rate: 1%"),
			[]wantErr{{"strata.yaml:11:28", "apps.web.rollout.steps[1]", "101%; a step is a percentage"}}},
		{"steps that stop short of 100 are rejected", with("steps: [5, 25, 50], interval: 1m, max_error_rate: 1%"),
			[]wantErr{{"strata.yaml:11:31", "apps.web.rollout.steps[2]", "the last step is 50%; it must be 100"}}},
		{"an empty list of steps is rejected", with("steps: [], interval: 1m, max_error_rate: 1%"),
			[]wantErr{{"strata.yaml:11:23", "apps.web.rollout.steps", "empty; list the candidate's percentages"}}},
		{"a step written as a percentage string is rejected", with("steps: [\"5%\", 100], interval: 1m, max_error_rate: 1%"),
			[]wantErr{{"strata.yaml:11:24", "apps.web.rollout.steps[0]", `"5%" is not a whole number`}}},
		{"steps as a single number are rejected", with("steps: 100, interval: 1m, max_error_rate: 1%"),
			[]wantErr{{"strata.yaml:11:23", "apps.web.rollout.steps", "expected a list"}}},
		{"an interval of 0 is rejected", with("steps: [100], interval: 0s, max_error_rate: 1%"),
			[]wantErr{{"strata.yaml:11:40", "apps.web.rollout.interval", "0s; each step needs time to be judged"}}},
		{"an interval that is not a duration is rejected", with("steps: [100], interval: 10, max_error_rate: 1%"),
			[]wantErr{{"strata.yaml:11:40", "apps.web.rollout.interval", `"10" is not a duration`}}},
		{"an error rate above 100% is rejected", with("steps: [100], interval: 1m, max_error_rate: 101%"),
			[]wantErr{{"strata.yaml:11:60", "apps.web.rollout.max_error_rate", `"101%" is not a percentage from 0% to 100%`}}},
		{"a percentage that is not a number is rejected", with("steps: [100], interval: 1m, max_error_rate: a%"),
			[]wantErr{{"strata.yaml:11:60", "apps.web.rollout.max_error_rate", `"a%" is not a percentage`}}},
		{"a number above 1 is rejected with the percentage it may mean", with("steps: [100], interval: 1m, max_error_rate: 5"),
			[]wantErr{{"strata.yaml:11:60", "apps.web.rollout.max_error_rate", `5 is not a fraction from 0 to 1; write a percentage as "5%"`}}},
		{"a negative error rate is rejected", with("steps: [100], interval: 1m, max_error_rate: -0.1"),
			[]wantErr{{"strata.yaml:11:60", "apps.web.rollout.max_error_rate", "-0.1 is not a fraction from 0 to 1"}}},
		{"an error rate that is not a number is rejected", with("steps: [100], interval: 1m, max_error_rate: low"),
			[]wantErr{{"strata.yaml:11:60", "apps.web.rollout.max_error_rate", `"low" is not a number`}}},
		{"an error rate of NaN is rejected", with("steps: [100], interval: 1m, max_error_rate: .nan"),
			[]wantErr{{"strata.yaml:11:60", "apps.web.rollout.max_error_rate", `".nan" is not a number`}}},
		{"min_requests of 0 is rejected", with(ok + ", min_requests: 0"),
			[]wantErr{{"strata.yaml:11:81", "apps.web.rollout.min_requests", "0; expected at least 1"}}},
		{"min_requests that is not whole is rejected", with(ok + ", min_requests: 1.5"),
			[]wantErr{{"strata.yaml:11:81", "apps.web.rollout.min_requests", `"1.5" is not a whole number`}}},
		{"a ratio of 0 is rejected", with(ok + ", max_error_rate_ratio: 0"),
			[]wantErr{{"strata.yaml:11:89", "apps.web.rollout.max_error_rate_ratio", "0; expected a number above 0"}}},
		{"a negative ratio is rejected", with(ok + ", max_error_rate_ratio: -2"),
			[]wantErr{{"strata.yaml:11:89", "apps.web.rollout.max_error_rate_ratio", "-2; expected a number above 0"}}},
		{"an infinite ratio is rejected", with(ok + ", max_error_rate_ratio: .inf"),
			[]wantErr{{"strata.yaml:11:89", "apps.web.rollout.max_error_rate_ratio", `".inf" is not a number`}}},
		{"an unknown on_failure is rejected", with(ok + ", on_failure: rollback"),
			[]wantErr{{"strata.yaml:11:79", "apps.web.rollout.on_failure", `"rollback" is not a choice; expected stay`}}},
		{"an unknown rollout key is rejected", with(ok + ", canary: true"),
			[]wantErr{{"strata.yaml:11:67", "apps.web.rollout.canary", "unknown key; expected one of: steps, interval, max_error_rate, min_requests, max_error_rate_ratio, on_failure"}}},
		{"a rollout that is not a mapping is rejected", rolloutApp + "    rollout: [5, 100]\n",
			[]wantErr{{"strata.yaml:11:14", "apps.web.rollout", "expected a mapping"}}},
		{"a rollout on a web app without routing is rejected",
			strings.Replace(rolloutApp, "    routing: { bind: \":80\" }\n", "", 1) + "    rollout: { " + ok + " }\n",
			[]wantErr{{"strata.yaml:10:5", "apps.web.rollout", "the app has no routing: a rollout shares new sessions through strata's HAProxy"}}},
		{"a rollout on a worker is rejected", `apps:
  q:
    kind: worker
    driver: raw_exec
    command: /bin/q
    args: ["{{version}}"]
    versions: [v1]
    rollout: { ` + ok + ` }
`, []wantErr{{"strata.yaml:8:5", "apps.q.rollout", "a worker has no sessions to split between versions; remove rollout or set kind: web"}}},
		{"a rollout cannot be set for one version", strings.Replace(rolloutApp, "versions: [v1, v2]", "versions: [v1, {version: v2, rollout: {steps: [100]}}]", 1),
			[]wantErr{{"strata.yaml:8:34", "apps.web.versions[1].rollout", "rollout cannot be set for one version"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("strata.yaml", []byte(tc.yaml), config.Options{LookupEnv: noEnv})
			checkErrors(t, err, tc.want)
		})
	}
}

// TestVersionsShareTheirAppsRollout: a version's app (ForVersion) carries
// the app's rollout, which no version sets for itself.
func TestVersionsShareTheirAppsRollout(t *testing.T) {
	cfg := mustParse(t, "strata.yaml", "\n"+strings.Replace(rolloutApp, "versions: [v1, v2]", "versions: [v1, {version: v2, env: {A: b}}]", 1)+
		"    rollout: { steps: [100], interval: 1m, max_error_rate: 1% }\n")
	a := cfg.Apps[0]
	if got := a.ForVersion("v2"); got == a || got.Rollout != a.Rollout {
		t.Errorf("ForVersion(v2).Rollout = %p, want the app's %p (and a copy of the app)", got.Rollout, a.Rollout)
	}
}
