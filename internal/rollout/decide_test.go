package rollout

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func settings() Settings {
	return Settings{Steps: []int{5, 25, 50, 100}, Interval: Duration(time.Minute), MaxErrorRate: 0.01, MinRequests: 100, OnFailure: OnFailureStay}
}

// sample is one node, one worker, with counters for v3 (stable) and v4
// (candidate).
func sample(worker string, v3, v4 Counts) Sample {
	var s Sample
	s.Set("n1", worker, Series("v3", "be_web_1"), v3)
	s.Set("n1", worker, Series("v4", "be_web_2"), v4)
	return s
}

// running is a rollout at step (0-based) whose baseline was taken at t0
// with zero counters in worker w1.
func running(step int) State {
	s := settings()
	base := sample("w1", Counts{}, Counts{})
	return State{App: "web", Candidate: "v4", Stable: "v3", Weight: s.Steps[step], Step: step, State: Running,
		StepStarted: t0, Started: t0, Settings: s, Baseline: &base,
		History: []Entry{{At: t0, Decision: ActionStart}}}
}

func TestDecide(t *testing.T) {
	healthy := Counts{Requests: 1000, HTTP5xx: 5}
	tests := []struct {
		name  string
		state func() State
		obs   Observation
		want  Action
		write bool
		check func(t *testing.T, d Decision)
		why   string
	}{
		{
			name:  "a paused rollout decides nothing",
			state: func() State { s := running(1); s.State = Paused; return s },
			obs:   Observation{Now: t0.Add(time.Hour), Sample: sample("w1", healthy, healthy), CandidateRunning: true},
			want:  ActionNone, why: "paused",
		},
		{
			name:  "a step not yet due decides nothing and says when it is",
			state: func() State { return running(0) },
			obs:   Observation{Now: t0.Add(30 * time.Second), Sample: sample("w1", healthy, healthy), CandidateRunning: true},
			want:  ActionNone, why: "in 30s",
		},
		{
			name:  "a rollout without a baseline takes one and starts the step's clock",
			state: func() State { s := running(0); s.Baseline = nil; return s },
			obs:   Observation{Now: t0.Add(5 * time.Second), Sample: sample("w1", healthy, healthy), CandidateRunning: true},
			want:  ActionBaseline, write: true,
			check: func(t *testing.T, d Decision) {
				if !d.Next.StepStarted.Equal(t0.Add(5*time.Second)) || d.Next.Baseline == nil || d.Next.Baseline.Total("v4") != healthy {
					t.Errorf("next: step started %s, baseline %+v", d.Next.StepStarted, d.Next.Baseline)
				}
			},
		},
		{
			name:  "no baseline is taken while an HAProxy does not answer",
			state: func() State { s := running(0); s.Baseline = nil; return s },
			obs:   Observation{Now: t0, Problems: []string{"node n2: lbstats: connection refused"}, CandidateRunning: true},
			want:  ActionHold, write: true, why: "connection refused",
		},
		{
			name:  "no baseline is taken while an HAProxy does not route the candidate yet",
			state: func() State { s := running(0); s.Baseline = nil; return s },
			obs: Observation{Now: t0, CandidateRunning: true, Sample: func() Sample {
				s := sample("w1", healthy, healthy)
				s.Set("n2", "w9", Series("v3", "be_web_1"), healthy)
				return s
			}()},
			want: ActionHold, write: true, why: "the HAProxy on n2 does not route candidate v4 yet",
		},
		{
			name: "a waiting step starts counting a series that appeared in a known worker",
			state: func() State {
				s := running(0)
				b := Sample{}
				b.Worker("n1", "w1")
				s.Baseline = &b
				s.History = append(s.History, Entry{Step: 0, Decision: ActionWait})
				return s
			},
			obs:  Observation{Now: t0.Add(time.Minute), Sample: sample("w1", healthy, Counts{Requests: 40}), CandidateRunning: true},
			want: ActionWait, write: true,
			check: func(t *testing.T, d Decision) {
				if got := Delta(*d.Next.Baseline, sample("w1", healthy, Counts{Requests: 140}), "v4"); got.Requests != 100 {
					t.Errorf("after the wait the baseline counts %d new requests, want 100", got.Requests)
				}
				if len(d.Next.History) != 2 {
					t.Errorf("a second wait was recorded: %+v", d.Next.History)
				}
			},
		},
		{
			name:  "a due step with an HAProxy that did not answer holds where it is",
			state: func() State { return running(1) },
			obs:   Observation{Now: t0.Add(2 * time.Minute), Sample: sample("w1", healthy, healthy), Problems: []string{"node n2: lbstats: 503"}, CandidateRunning: true},
			want:  ActionHold, write: true, why: "incomplete data",
			check: func(t *testing.T, d Decision) {
				if d.Next.Step != 1 || d.Next.Weight != 25 || d.Next.State != Running {
					t.Errorf("hold changed the rollout: step %d weight %d state %s", d.Next.Step, d.Next.Weight, d.Next.State)
				}
			},
		},
		{
			name: "a second hold in a row is not written again",
			state: func() State {
				s := running(1)
				s.History = append(s.History, Entry{Step: 1, Decision: ActionHold})
				return s
			},
			obs:  Observation{Now: t0.Add(2 * time.Minute), Problems: []string{"node n2: lbstats: 503"}, CandidateRunning: true},
			want: ActionHold, write: false,
		},
		{
			name:  "a candidate that is not running holds",
			state: func() State { return running(1) },
			obs:   Observation{Now: t0.Add(2 * time.Minute), Sample: sample("w1", healthy, healthy)},
			want:  ActionHold, write: true, why: "no passing instance",
		},
		{
			name:  "a step with too few candidate requests waits and says it is inconclusive",
			state: func() State { return running(0) },
			obs:   Observation{Now: t0.Add(time.Minute), Sample: sample("w1", healthy, Counts{Requests: 12}), CandidateRunning: true},
			want:  ActionWait, write: true, why: "inconclusive: candidate v4 served 12 requests",
			check: func(t *testing.T, d Decision) {
				if d.Next.Step != 0 || d.Next.History[len(d.Next.History)-1].Candidate.Requests != 12 {
					t.Errorf("wait: step %d, history %+v", d.Next.Step, d.Next.History)
				}
			},
		},
		{
			name:  "silence never advances",
			state: func() State { return running(0) },
			obs:   Observation{Now: t0.Add(time.Hour), Sample: sample("w1", Counts{}, Counts{}), CandidateRunning: true},
			want:  ActionWait, write: true, why: "never advances on silence",
		},
		{
			name:  "a healthy step advances to the next weight with a new baseline",
			state: func() State { return running(0) },
			obs:   Observation{Now: t0.Add(time.Minute), Sample: sample("w1", healthy, healthy), CandidateRunning: true},
			want:  ActionAdvance, write: true, why: "step 1 of 4 (5%) passed",
			check: func(t *testing.T, d Decision) {
				n := d.Next
				if n.Step != 1 || n.Weight != 25 || !n.StepStarted.Equal(t0.Add(time.Minute)) || n.Baseline.Total("v4") != healthy {
					t.Errorf("next: %+v", n)
				}
				if d.Candidate != healthy {
					t.Errorf("candidate counts %+v, want %+v", d.Candidate, healthy)
				}
			},
		},
		{
			name:  "a candidate above max_error_rate fails: weight 0, stable stays, pinned sessions stay",
			state: func() State { return running(1) },
			obs:   Observation{Now: t0.Add(time.Minute), Sample: sample("w1", healthy, Counts{Requests: 1000, HTTP5xx: 200}), CandidateRunning: true},
			want:  ActionFail, write: true, why: "20% (200 5xx of 1000 requests), above max_error_rate 1%",
			check: func(t *testing.T, d Decision) {
				if d.Next.State != Failed || d.Next.Weight != 0 || d.Next.Return || d.Next.Reason != d.Why {
					t.Errorf("next: %+v", d.Next)
				}
			},
		},
		{
			name: "with on_failure return a failed candidate is marked to leave the allow-list",
			state: func() State {
				s := running(1)
				s.Settings.OnFailure = OnFailureReturn
				return s
			},
			obs:  Observation{Now: t0.Add(time.Minute), Sample: sample("w1", healthy, Counts{Requests: 1000, HTTP5xx: 200}), CandidateRunning: true},
			want: ActionFail, write: true, why: "on_failure: return",
			check: func(t *testing.T, d Decision) {
				if !d.Next.Return {
					t.Error("return not set")
				}
			},
		},
		{
			name:  "exactly max_error_rate passes",
			state: func() State { return running(0) },
			obs:   Observation{Now: t0.Add(time.Minute), Sample: sample("w1", healthy, Counts{Requests: 1000, HTTP5xx: 10}), CandidateRunning: true},
			want:  ActionAdvance, write: true,
		},
		{
			name: "a candidate worse than max_error_rate_ratio times stable fails",
			state: func() State {
				s := running(0)
				s.Settings.MaxErrorRateRatio = 2
				return s
			},
			obs:  Observation{Now: t0.Add(time.Minute), Sample: sample("w1", Counts{Requests: 1000, HTTP5xx: 2}, Counts{Requests: 1000, HTTP5xx: 8}), CandidateRunning: true},
			want: ActionFail, write: true, why: "above max_error_rate_ratio 2 × stable v3's 0.2%",
		},
		{
			name: "the ratio is not applied while stable served fewer than min_requests",
			state: func() State {
				s := running(0)
				s.Settings.MaxErrorRateRatio = 2
				return s
			},
			obs:  Observation{Now: t0.Add(time.Minute), Sample: sample("w1", Counts{Requests: 50}, Counts{Requests: 1000, HTTP5xx: 8}), CandidateRunning: true},
			want: ActionAdvance, write: true,
		},
		{
			name:  "the last step passing succeeds",
			state: func() State { return running(3) },
			obs:   Observation{Now: t0.Add(time.Minute), Sample: sample("w1", healthy, healthy), CandidateRunning: true},
			want:  ActionSucceed, write: true, why: "v4 is live",
			check: func(t *testing.T, d Decision) {
				if d.Next.State != Succeeded || d.Next.Weight != 100 {
					t.Errorf("next: %+v", d.Next)
				}
			},
		},
		{
			name: "counts of a reloaded HAProxy (a new worker, the old one gone) are not inflated",
			state: func() State {
				s := running(0)
				b := sample("w1", Counts{}, Counts{Requests: 5000, HTTP5xx: 4000})
				s.Baseline = &b
				return s
			},
			obs:  Observation{Now: t0.Add(time.Minute), Sample: sample("w2", healthy, Counts{Requests: 150}), CandidateRunning: true},
			want: ActionAdvance, write: true,
			check: func(t *testing.T, d Decision) {
				if d.Candidate.Requests != 150 || d.Candidate.HTTP5xx != 0 {
					t.Errorf("candidate %+v, want the new worker's 150 requests only", d.Candidate)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := tt.state()
			before := string(st.Encode())
			d := Decide(st, tt.obs, "test")
			if string(st.Encode()) != before {
				t.Error("Decide changed its input")
			}
			if d.Action != tt.want || d.Write != tt.write {
				t.Fatalf("got %s (write %t), want %s (write %t): %s", d.Action, d.Write, tt.want, tt.write, d.Why)
			}
			if !strings.Contains(d.Why, tt.why) {
				t.Errorf("why %q does not say %q", d.Why, tt.why)
			}
			if d.recorded {
				last, _ := d.Next.Last()
				if last.Decision != d.Action || last.Why != d.Why || last.By != "test" {
					t.Errorf("history's last entry %+v, want the decision", last)
				}
			}
			if tt.check != nil {
				tt.check(t, d)
			}
		})
	}
}

func TestDelta(t *testing.T) {
	c := func(req, e uint64) Counts { return Counts{Requests: req, HTTP5xx: e} }
	mk := func(entries ...any) Sample {
		var s Sample
		for i := 0; i < len(entries); i += 3 {
			node, worker := entries[i].(string), entries[i+1].(string)
			if entries[i+2] == nil {
				s.Worker(node, worker)
				continue
			}
			s.Set(node, worker, Series("v", "be_a_1"), entries[i+2].(Counts))
		}
		return s
	}
	tests := []struct {
		name      string
		base, cur Sample
		want      Counts
	}{
		{"a worker's growth is counted", mk("n", "w", c(100, 1)), mk("n", "w", c(250, 4)), c(150, 3)},
		{"counters lower than the baseline's were reset: all of them are since", mk("n", "w", c(100, 1)), mk("n", "w", c(30, 0)), c(30, 0)},
		{"a worker started after the baseline counts whole", mk("n", "w1", c(100, 1)), mk("n", "w1", c(100, 1), "n", "w2", c(40, 2)), c(40, 2)},
		{"a worker gone since (an old worker after a reload) takes its counts with it", mk("n", "w1", c(100, 1), "n", "w2", c(10, 0)), mk("n", "w2", c(60, 0)), c(50, 0)},
		{"a node the baseline does not know is not counted", mk("n", "w", c(0, 0)), mk("n", "w", c(5, 0), "m", "w", c(500, 50)), c(5, 0)},
		{"a version new in a known worker is not counted (its slot may have served another)", mk("n", "w", nil), mk("n", "w", c(70, 7)), Counts{}},
		{"sums over nodes and workers", mk("n", "w", c(1, 0), "m", "x", c(2, 0)), mk("n", "w", c(11, 1), "m", "x", c(22, 2)), c(30, 3)},
	}
	moved := func(backend string, c Counts) Sample {
		var s Sample
		s.Set("n", "w", Series("v", backend), c)
		return s
	}
	tests = append(tests, struct {
		name      string
		base, cur Sample
		want      Counts
	}{"a version moved to another slot in the same worker is not counted (the slot's counters hold what it served before)",
		moved("be_a_1", c(100, 0)), moved("be_a_2", c(9000, 900)), Counts{}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Delta(tt.base, tt.cur, "v"); got != tt.want {
				t.Errorf("Delta = %+v, want %+v", got, tt.want)
			}
		})
	}
}
