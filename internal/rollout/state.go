package rollout

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/naming"
)

// Key is strata/<app>/rollout, the KV key of app's rollout.
func Key(app string) string { return "strata/" + app + "/rollout" }

// Phase is a rollout's state.
type Phase string

// Phases. HAProxy routes the weight only while a rollout is running or
// paused.
const (
	// Running: the controller measures and decides.
	Running Phase = "running"
	// Paused: the weight stays, nothing is decided until resume.
	Paused Phase = "paused"
	// Succeeded: the candidate became live.
	Succeeded Phase = "succeeded"
	// Failed: the candidate's errors stopped it; weight 0.
	Failed Phase = "failed"
	// Aborted: an operator stopped it; weight 0.
	Aborted Phase = "aborted"
)

// Active reports whether the rollout is in progress (running or paused).
func (p Phase) Active() bool { return p == Running || p == Paused }

// OnFailure values, config's.
const (
	// OnFailureStay leaves sessions already pinned to a failed candidate
	// on it.
	OnFailureStay = config.RolloutStay
	// OnFailureReturn drops a failed (or aborted) candidate from the
	// allow-list, like a draining version, so its sessions return to live
	// at their next request.
	OnFailureReturn = config.RolloutReturn
)

// Settings are the rules a rollout runs by: strata.yaml's
// apps.<app>.rollout when it started, kept in the state so that the
// decisions of a rollout never change under it.
type Settings struct {
	// Steps are the candidate's percent of new sessions at each step,
	// strictly increasing, the last 100.
	Steps []int `json:"steps"`
	// Interval is the time at each step.
	Interval Duration `json:"interval"`
	// MaxErrorRate is the largest share of the candidate's requests that
	// may be 5xx responses over a step, 0..1.
	MaxErrorRate float64 `json:"max_error_rate"`
	// MinRequests is the fewest candidate requests a step needs to be
	// judged; fewer and it waits.
	MinRequests int `json:"min_requests"`
	// MaxErrorRateRatio, when > 0, also bounds the candidate's rate by
	// ratio × the stable version's rate over the same step, when the
	// stable version served at least MinRequests. Taken as written: while
	// stable has no 5xx at all, any candidate 5xx fails the step.
	MaxErrorRateRatio float64 `json:"max_error_rate_ratio,omitempty"`
	// OnFailure is OnFailureStay or OnFailureReturn.
	OnFailure string `json:"on_failure"`
}

// Check reports what is wrong with s, naming the setting.
func (s Settings) Check() error {
	var errs []string
	if len(s.Steps) == 0 {
		errs = append(errs, "steps: none")
	}
	for i, w := range s.Steps {
		if w < 1 || w > 100 {
			errs = append(errs, fmt.Sprintf("steps[%d]: %d is not a percent 1..100", i, w))
		}
		if i > 0 && w <= s.Steps[i-1] {
			errs = append(errs, fmt.Sprintf("steps[%d]: %d does not increase", i, w))
		}
	}
	if n := len(s.Steps); n > 0 && s.Steps[n-1] != 100 {
		errs = append(errs, fmt.Sprintf("steps: the last is %d, want 100", s.Steps[n-1]))
	}
	if s.Interval <= 0 {
		errs = append(errs, "interval: want > 0")
	}
	if s.MaxErrorRate < 0 || s.MaxErrorRate > 1 {
		errs = append(errs, fmt.Sprintf("max_error_rate: %g is not a fraction 0..1", s.MaxErrorRate))
	}
	if s.MinRequests < 1 {
		errs = append(errs, fmt.Sprintf("min_requests: %d, want >= 1", s.MinRequests))
	}
	if s.MaxErrorRateRatio < 0 {
		errs = append(errs, fmt.Sprintf("max_error_rate_ratio: %g, want >= 0", s.MaxErrorRateRatio))
	}
	if s.OnFailure != OnFailureStay && s.OnFailure != OnFailureReturn {
		errs = append(errs, fmt.Sprintf("on_failure: %q, want %q or %q", s.OnFailure, OnFailureStay, OnFailureReturn))
	}
	if len(errs) > 0 {
		return fmt.Errorf("rollout settings: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Duration is a time.Duration written in JSON as Go writes durations
// ("30s", "2m0s").
type Duration time.Duration

// MarshalText writes d as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads a duration as time.ParseDuration does.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// State is the JSON value of strata/<app>/rollout. HAProxy's template reads
// Candidate, Weight, State and Return; the rest is strata's.
type State struct {
	// App is the application.
	App string `json:"app"`
	// Candidate is the version that gets Weight percent of new sessions.
	Candidate string `json:"candidate"`
	// Stable is the live version when the rollout started: the one the
	// candidate is compared with, and the one that stays live when it
	// fails.
	Stable string `json:"stable"`
	// Weight is the candidate's percent of new sessions, 0..100: the
	// current step's, 0 once failed or aborted.
	Weight int `json:"weight"`
	// Step is the index of the current step in Settings.Steps.
	Step int `json:"step"`
	// State is running, paused, succeeded, failed or aborted. The template
	// routes Weight only while running or paused.
	State Phase `json:"state"`
	// Return, set on a failed or aborted rollout whose on_failure is
	// "return", tells the template to drop Candidate from the allow-list so
	// that its pinned sessions go back to live.
	Return bool `json:"return,omitempty"`
	// StepStarted is when the current step's measurement began: when its
	// baseline was taken. The step is judged Interval after it.
	StepStarted time.Time `json:"step_started"`
	// Started is when the rollout started.
	Started time.Time `json:"started"`
	// Reason says why the rollout is in its state: the last decision's
	// reason.
	Reason string `json:"reason,omitempty"`
	// Settings are the rules the rollout runs by.
	Settings Settings `json:"settings"`
	// Baseline holds the counters every HAProxy reported for Candidate and
	// Stable when the step began; nil until the controller took it.
	Baseline *Sample `json:"baseline,omitempty"`
	// History holds every decision that changed the rollout, oldest
	// first, and the first of each run of waits or holds.
	History []Entry `json:"history"`
}

// MaxHistory bounds State.History; the oldest entries go first.
const MaxHistory = 200

// Action is what a decision does.
type Action string

// Actions.
const (
	// ActionNone: the step is not due yet, or the rollout is not running.
	ActionNone Action = "none"
	// ActionStart: an operator started the rollout.
	ActionStart Action = "start"
	// ActionBaseline: the controller took the step's first counters; the
	// step's interval starts now.
	ActionBaseline Action = "baseline"
	// ActionWait: the step is due but inconclusive (too few candidate
	// requests); it goes on and is judged again at the next pass.
	ActionWait Action = "wait"
	// ActionHold: the data is incomplete (an HAProxy did not answer) or
	// the candidate is not running; nothing changes.
	ActionHold Action = "hold"
	// ActionAdvance: the step passed; the next step begins.
	ActionAdvance Action = "advance"
	// ActionFail: the candidate failed; weight 0.
	ActionFail Action = "fail"
	// ActionSucceed: the last step passed; the candidate becomes live.
	ActionSucceed Action = "succeed"
	// ActionPause, ActionResume, ActionAbort: an operator's.
	ActionPause  Action = "pause"
	ActionResume Action = "resume"
	ActionAbort  Action = "abort"
)

// Entry is one decision in the history.
type Entry struct {
	At       time.Time `json:"at"`
	Step     int       `json:"step"`
	Weight   int       `json:"weight"`
	Decision Action    `json:"decision"`
	Why      string    `json:"why"`
	// Candidate and Stable are the step's counts when the decision judged
	// them.
	Candidate *Counts `json:"candidate,omitempty"`
	Stable    *Counts `json:"stable,omitempty"`
	// By names who decided: a controller's ID, or "cli".
	By string `json:"by,omitempty"`
}

// Parse reads a stored state, refusing one that is not JSON or names an
// invalid version: the template routes nothing then, and strata must not
// act on it.
func Parse(app string, b []byte) (State, error) {
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return State{}, fmt.Errorf("%s is not a rollout's JSON (%v): HAProxy routes no weight from it; delete it (consul kv delete %s) and start again", Key(app), err, Key(app))
	}
	if !naming.ValidVersion(s.Candidate) {
		return State{}, fmt.Errorf("%s: candidate %q is not a valid version (%s)", Key(app), s.Candidate, naming.VersionGrammar)
	}
	if s.Stable != "" && !naming.ValidVersion(s.Stable) {
		return State{}, fmt.Errorf("%s: stable %q is not a valid version (%s)", Key(app), s.Stable, naming.VersionGrammar)
	}
	switch s.State {
	case Running, Paused, Succeeded, Failed, Aborted:
	default:
		return State{}, fmt.Errorf("%s: state %q is not one of running, paused, succeeded, failed, aborted", Key(app), s.State)
	}
	if s.State.Active() {
		if err := s.Settings.Check(); err != nil {
			return State{}, fmt.Errorf("%s: %w", Key(app), err)
		}
		if s.Step < 0 || s.Step >= len(s.Settings.Steps) {
			return State{}, fmt.Errorf("%s: step %d is outside the %d steps", Key(app), s.Step, len(s.Settings.Steps))
		}
	}
	if s.App == "" {
		s.App = app
	}
	return s, nil
}

// Encode writes s as stored.
func (s State) Encode() []byte {
	b, _ := json.Marshal(s)
	return b
}

// record appends e to the history, keeping at most MaxHistory entries.
func (s *State) record(e Entry) {
	s.History = append(s.History, e)
	if len(s.History) > MaxHistory {
		s.History = append([]Entry(nil), s.History[len(s.History)-MaxHistory:]...)
	}
}

// Last returns the newest history entry, if any.
func (s State) Last() (Entry, bool) {
	if len(s.History) == 0 {
		return Entry{}, false
	}
	return s.History[len(s.History)-1], true
}

// Due is when the current step is judged: Interval after StepStarted. It
// is the zero time while no baseline was taken.
func (s State) Due() time.Time {
	if s.Baseline == nil {
		return time.Time{}
	}
	return s.StepStarted.Add(time.Duration(s.Settings.Interval))
}

// clone copies s deeply enough that Decide never changes its input.
func (s State) clone() State {
	c := s
	c.History = append([]Entry(nil), s.History...)
	c.Settings.Steps = append([]int(nil), s.Settings.Steps...)
	return c
}

// SettingsFrom returns the settings of strata.yaml's apps.<app>.rollout,
// finalized (defaults set) by config.
func SettingsFrom(r *config.Rollout) Settings {
	return Settings{Steps: append([]int(nil), r.Steps...), Interval: Duration(r.Interval), MaxErrorRate: r.MaxErrorRate,
		MinRequests: r.MinRequests, MaxErrorRateRatio: r.MaxErrorRateRatio, OnFailure: r.OnFailure}
}
