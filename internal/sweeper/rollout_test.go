package sweeper

import "testing"

func TestRolloutCandidateIsOnlyARolloutInProgress(t *testing.T) {
	for _, c := range []struct {
		name, value, want string
	}{
		{"a running rollout", `{"candidate":"v4","state":"running","weight":5}`, "v4"},
		{"a paused rollout", `{"candidate":"v4","state":"paused"}`, "v4"},
		{"a failed rollout", `{"candidate":"v4","state":"failed"}`, ""},
		{"a succeeded rollout", `{"candidate":"v4","state":"succeeded"}`, ""},
		{"an invalid candidate", `{"candidate":"V4","state":"running"}`, ""},
		{"not JSON", `running`, ""},
	} {
		if got := rolloutCandidate([]byte(c.value)); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
