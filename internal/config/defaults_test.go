package config_test

import (
	"fmt"
	"testing"
	"time"
)

// TestProgressDeadline covers the progress deadline strata derives when the
// app sets none: kill_timeout + healthy_deadline, when that outlasts
// Nomad's default of 10m.
func TestProgressDeadline(t *testing.T) {
	for _, tc := range []struct {
		name   string
		update string // the app's settings, YAML lines at its level
		want   *time.Duration
	}{
		{"an hour-long kill_timeout gets kill_timeout + Nomad's healthy_deadline", "kill_timeout: 1h", ptr(time.Hour + 5*time.Minute)},
		{"an hour-long kill_timeout gets kill_timeout + the app's healthy_deadline", "kill_timeout: 1h\n    update: {healthy_deadline: 3m}", ptr(time.Hour + 3*time.Minute)},
		{"a short kill_timeout keeps Nomad's default", "kill_timeout: 30s", nil},
		{"no kill_timeout keeps Nomad's default", "count: 1", nil},
		{"kill_timeout + healthy_deadline of exactly 10m keeps Nomad's default", "kill_timeout: 5m", nil},
		{"a healthy_deadline past Nomad's progress deadline gets Nomad's kill timeout on top", "update: {healthy_deadline: 20m}", ptr(20*time.Minute + 5*time.Second)},
		{"a progress_deadline the app sets stands", "kill_timeout: 1h\n    update: {progress_deadline: 2h}", ptr(2 * time.Hour)},
		{"a progress_deadline of 0 (no deadline) stands", "kill_timeout: 1h\n    update: {progress_deadline: 0s}", ptr(time.Duration(0))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := mustParse(t, "strata.yaml", fmt.Sprintf(`
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    %s
    versions: [v1]
`, tc.update))
			a := cfg.Apps[0]
			var got *time.Duration
			if a.Update != nil {
				got = a.Update.ProgressDeadline
			}
			switch {
			case got == nil && tc.want == nil:
			case got == nil || tc.want == nil || *got != *tc.want:
				t.Errorf("progress_deadline = %v, want %v", fmtDur(got), fmtDur(tc.want))
			}
		})
	}
}

func fmtDur(d *time.Duration) string {
	if d == nil {
		return "Nomad's default (unset)"
	}
	return d.String()
}

// TestKillTimeoutWarning: a Nomad client cuts kill_timeout to its
// max_kill_timeout (30s by default), so a longer one is valid but warned
// about, naming the key and the client setting to raise.
func TestKillTimeoutWarning(t *testing.T) {
	for _, tc := range []struct {
		name, kill string
		want       string
	}{
		{"a kill_timeout of 30s is within the clients' default", "30s", ""},
		{"a kill_timeout of 31s is warned about", "31s", `strata.yaml:6:19: apps.w.kill_timeout: 31s is longer than the 30s a Nomad client allows by default: each client cuts it to its max_kill_timeout unless the client configuration raises it (client { max_kill_timeout = "31s" })`},
		{"an hour-long kill_timeout is warned about", "1h", `strata.yaml:6:19: apps.w.kill_timeout: 1h0m0s is longer than the 30s a Nomad client allows by default: each client cuts it to its max_kill_timeout unless the client configuration raises it (client { max_kill_timeout = "1h" })`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := mustParse(t, "strata.yaml", fmt.Sprintf(`
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    kill_timeout: %s
    versions: [v1]
`, tc.kill))
			if got := cfg.Warnings.Error(); got != tc.want {
				t.Errorf("warnings:\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}
