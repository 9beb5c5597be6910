package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/rollout"
)

const rolloutWeb = `apps:
  web:
    driver: raw_exec
    command: /usr/local/bin/strata
    args: [demo, serve, --version, "{{version}}"]
    ports: { http: {} }
    service: { check: { path: /healthz } }
    routing: { bind: "127.0.0.1:18191" }
    versions: [v1, v2, v3]
    live: v1
    rollout: { steps: [10, 50, 100], interval: 30s, max_error_rate: 2%, min_requests: 20, on_failure: return }
  api:
    driver: raw_exec
    command: /usr/local/bin/strata
    args: [demo, serve, --version, "{{version}}"]
    ports: { http: {} }
    service: { check: { path: /healthz } }
    versions: [v1]
    live: v1
`

// TestRolloutCommands drives start, status, pause, resume and abort against
// a real Consul, and the errors a user meets: an unknown app, an app without
// a rollout section, a version that is not running, a second start.
func TestRolloutCommands(t *testing.T) {
	r := startRelease(t)
	r.cfg = writeConfig(t, t.TempDir(), rolloutWeb)
	steps := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"an unknown app is refused", []string{"rollout", "start", "shop", "v2"}, ExitUsage, `no app named "shop"`},
		{"an app without a rollout section is refused", []string{"rollout", "start", "api", "v1"}, ExitUsage, "apps.api has no rollout section"},
		{"a version that is not running is refused", []string{"rollout", "start", "web", "v9"}, ExitError, "has no passing instance"},
		{"an invalid version is a usage error", []string{"rollout", "start", "web", "V2"}, ExitUsage, "not a valid version"},
		{"status without a rollout says how to start one", []string{"rollout", "status", "web"}, ExitError, "strata rollout start web <version>"},
		{"pause without a rollout", []string{"rollout", "pause", "web"}, ExitError, "no rollout"},
		{"start", []string{"rollout", "start", "web", "v2"}, ExitOK, "web: rollout of v2 started: 10% of new sessions (steps 10% → 50% → 100%, 30s each); v1 stays live"},
		{"a second start is refused", []string{"rollout", "start", "web", "v3"}, ExitError, "a rollout of v2 is running (step 1 of 3, 10%): abort it first"},
		{"status before the controller's first pass", []string{"rollout", "status", "web"}, ExitOK, "the controller takes the step's baseline at its next pass"},
		{"pause", []string{"rollout", "pause", "web"}, ExitOK, "paused at step 1 of 3 (10%)"},
		{"status while paused", []string{"rollout", "status", "web"}, ExitOK, "none while paused"},
		{"pause twice", []string{"rollout", "pause", "web"}, ExitError, "is paused, not running"},
		{"resume", []string{"rollout", "resume", "web"}, ExitOK, "the step starts over"},
		{"abort", []string{"rollout", "abort", "web"}, ExitOK, "weight 0, v1 stays live, and sessions pinned to v2 go back to v1"},
		{"status after abort", []string{"rollout", "status", "web"}, ExitOK, "aborted"},
		{"a new start after an abort", []string{"rollout", "start", "web", "v3"}, ExitOK, "rollout of v3 started"},
	}
	for _, s := range steps {
		code, out, errOut := r.strata(t, s.args...)
		if code != s.code || !strings.Contains(out+errOut, s.says) {
			t.Fatalf("%s: strata %s: exit %d, want %d saying %q\n%s%s", s.name, strings.Join(s.args, " "), code, s.code, s.says, out, errOut)
		}
	}
	code, out, errOut := r.strata(t, "rollout", "status", "web", "-o", "json")
	if code != ExitOK {
		t.Fatalf("status json: exit %d\n%s%s", code, out, errOut)
	}
	var st rolloutStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if st.Candidate != "v3" || st.Stable != "v1" || st.State != rollout.Running || st.Weight != 10 || st.Settings.MinRequests != 20 ||
		st.Settings.OnFailure != "return" || st.Last == nil || st.Last.Decision != rollout.ActionStart {
		t.Errorf("status json: %+v", st)
	}
	// The controller's one pass: no HAProxy registered, so it holds and
	// says why.
	code, out, errOut = run(t, r.env, "rollout", "control", "--once")
	if code != ExitOK || !strings.Contains(out, "web: hold: holding before step 1 of 3 (10%): cannot take the step's baseline: Consul's catalog lists no HAProxy") {
		t.Errorf("control --once: exit %d\n%s%s", code, out, errOut)
	}
}

// TestStatusShowsARunningRollout: strata status ends with a line per
// rollout in progress, and lists them in its JSON.
func TestStatusShowsARunningRollout(t *testing.T) {
	env, path := cohortCluster(t)
	client, err := (&CLI{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}).consulClient()
	if err != nil {
		t.Fatal(err)
	}
	s := rollout.Settings{Steps: []int{10, 100}, Interval: rollout.Duration(time.Minute), MaxErrorRate: 0.01, MinRequests: 10, OnFailure: rollout.OnFailureStay}
	if _, err := rollout.Start(t.Context(), client.KV(), client.Health(), "web", "v3", "v2", s, time.Now(), "test"); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, env, "status", "web", "-c", path)
	if code != ExitOK || !strings.Contains(out, "web: rollout of v3 over v2 running, step 1 of 2, 10% of new sessions: started") {
		t.Errorf("status: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = run(t, env, "status", "web", "-o", "json", "-c", path)
	var st struct {
		Rollouts []rolloutLine `json:"rollouts"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || code != ExitOK {
		t.Fatalf("status json: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	if len(st.Rollouts) != 1 || st.Rollouts[0].Candidate != "v3" || st.Rollouts[0].Weight != 10 {
		t.Errorf("rollouts %+v", st.Rollouts)
	}
}
