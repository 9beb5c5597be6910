package rollout

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Observation is what one pass of the controller read for a rollout.
type Observation struct {
	// Now is the pass's clock.
	Now time.Time
	// Sample holds the app's counters on every HAProxy. It is only read
	// when Problems is empty.
	Sample Sample
	// Problems are the reasons the sample is incomplete: an HAProxy whose
	// lbstats did not answer, a node in doubt, Consul's catalog unreadable.
	// Any problem holds the rollout.
	Problems []string
	// CandidateRunning says the candidate has a passing instance HAProxy
	// routes and is not draining. A candidate that is not running holds
	// the rollout: HAProxy sends it no new session then.
	CandidateRunning bool
}

// Decision is what Decide decided.
type Decision struct {
	Action Action
	// Why says why, in a sentence for people.
	Why string
	// Measured says Candidate and Stable hold the step's counts.
	Measured          bool
	Candidate, Stable Counts
	// Write says Next must be stored (check-and-set on the state Decide
	// was given); a decision without Write changes nothing.
	Write bool
	// Next is the state after the decision.
	Next State
	// recorded says Next's last history entry is this decision's.
	recorded bool
}

// Decide is the one rule of a rollout: given its state and what a pass
// observed, it returns the decision and the state that follows. It is pure:
// the same state and observation always give the same decision, and st is
// not changed. by names the decider in the history.
//
// A running rollout without a baseline takes one (complete data needed) and
// its step starts then. A step is judged Interval after it started: with
// incomplete data or a candidate that is not running it holds; with fewer
// than MinRequests candidate requests it waits (inconclusive); a candidate
// whose 5xx rate is above MaxErrorRate, or above MaxErrorRateRatio times the
// stable version's rate when that served MinRequests too, fails (weight 0);
// otherwise the step passed: the next step begins, or after the last the
// rollout succeeds (the caller promotes the candidate in the same write).
// Waits and holds are recorded in the history once per run, not at every
// pass.
func Decide(st State, obs Observation, by string) Decision {
	now := obs.Now.UTC()
	next := st.clone()
	s := st.Settings
	stepName := fmt.Sprintf("step %d of %d (%d%%)", st.Step+1, len(s.Steps), st.Weight)
	if st.State != Running {
		return Decision{Action: ActionNone, Why: "the rollout is " + string(st.State), Next: next}
	}
	quiet := func(a Action, why string) Decision {
		d := Decision{Action: a, Why: why, Next: next}
		if last, ok := st.Last(); !ok || last.Decision != a || last.Step != st.Step {
			d.Write, d.recorded = true, true
			d.Next.Reason = why
			d.Next.record(Entry{At: now, Step: st.Step, Weight: st.Weight, Decision: a, Why: why, By: by})
		}
		return d
	}
	if st.Baseline == nil {
		if len(obs.Problems) > 0 {
			return quiet(ActionHold, fmt.Sprintf("holding before %s: cannot take the step's baseline: %s", stepName, strings.Join(obs.Problems, "; ")))
		}
		if nodes := unrouted(obs.Sample, st.Candidate); len(nodes) > 0 {
			return quiet(ActionHold, fmt.Sprintf("holding before %s: the HAProxy on %s does not route candidate %s yet (no backend serves it)", stepName, strings.Join(nodes, ", "), st.Candidate))
		}
		base := obs.Sample.Only(st.Candidate, st.Stable)
		next.Baseline = &base
		next.StepStarted = now
		why := fmt.Sprintf("%s measured from now; judged at %s", stepName, now.Add(time.Duration(s.Interval)).Format(time.RFC3339))
		next.Reason = why
		next.record(Entry{At: now, Step: st.Step, Weight: st.Weight, Decision: ActionBaseline, Why: why, By: by})
		return Decision{Action: ActionBaseline, Why: why, Write: true, Next: next}
	}
	due := st.Due()
	if now.Before(due) {
		return Decision{Action: ActionNone, Why: fmt.Sprintf("%s is judged at %s (in %s)", stepName, due.Format(time.RFC3339), due.Sub(now).Round(time.Second)), Next: next}
	}
	if len(obs.Problems) > 0 {
		return quiet(ActionHold, fmt.Sprintf("holding at %s: incomplete data: %s", stepName, strings.Join(obs.Problems, "; ")))
	}
	if !obs.CandidateRunning {
		return quiet(ActionHold, fmt.Sprintf("holding at %s: candidate %s has no passing instance HAProxy routes, or is draining: HAProxy sends it no new session", stepName, st.Candidate))
	}
	cand := Delta(*st.Baseline, obs.Sample, st.Candidate)
	stable := Delta(*st.Baseline, obs.Sample, st.Stable)
	measured := func(d Decision) Decision {
		d.Measured, d.Candidate, d.Stable = true, cand, stable
		if d.recorded {
			last := &d.Next.History[len(d.Next.History)-1]
			c, sb := cand, stable
			last.Candidate, last.Stable = &c, &sb
		}
		return d
	}
	if cand.Requests < uint64(s.MinRequests) {
		d := quiet(ActionWait, fmt.Sprintf("inconclusive: candidate %s served %d requests in %s, fewer than min_requests %d; waiting for more (a rollout never advances on silence)",
			st.Candidate, cand.Requests, stepName, s.MinRequests))
		// Series that appeared in known workers since the baseline (a slot
		// assigned the version) count from now on, so that a waiting step
		// cannot wait for them forever.
		if base, added := st.Baseline.withNew(obs.Sample, st.Candidate, st.Stable); added {
			d.Next.Baseline, d.Write = &base, true
		}
		return measured(d)
	}
	rate := cand.ErrorRate()
	fail := ""
	switch {
	case rate > s.MaxErrorRate:
		fail = fmt.Sprintf("candidate %s's error rate over %s is %s (%d 5xx of %d requests), above max_error_rate %s",
			st.Candidate, stepName, Percent(rate), cand.HTTP5xx, cand.Requests, Percent(s.MaxErrorRate))
	case s.MaxErrorRateRatio > 0 && stable.Requests >= uint64(s.MinRequests) && rate > s.MaxErrorRateRatio*stable.ErrorRate():
		fail = fmt.Sprintf("candidate %s's error rate over %s is %s (%d 5xx of %d requests), above max_error_rate_ratio %g × stable %s's %s",
			st.Candidate, stepName, Percent(rate), cand.HTTP5xx, cand.Requests, s.MaxErrorRateRatio, st.Stable, Percent(stable.ErrorRate()))
	}
	entry := func(a Action, why string) {
		next.Reason = why
		next.record(Entry{At: now, Step: st.Step, Weight: st.Weight, Decision: a, Why: why, By: by})
	}
	if fail != "" {
		why := fail + "; weight 0, " + st.Stable + " stays live"
		if s.OnFailure == OnFailureReturn {
			why += ", and sessions pinned to " + st.Candidate + " go back to " + st.Stable + " (on_failure: return)"
			next.Return = true
		}
		next.State, next.Weight = Failed, 0
		entry(ActionFail, why)
		return measured(Decision{Action: ActionFail, Why: why, Write: true, Next: next, recorded: true})
	}
	passed := fmt.Sprintf("%s passed: candidate %s %s, stable %s %s", stepName, st.Candidate, cand, st.Stable, stable)
	if st.Step == len(s.Steps)-1 {
		why := passed + "; " + st.Candidate + " is live"
		next.State = Succeeded
		entry(ActionSucceed, why)
		return measured(Decision{Action: ActionSucceed, Why: why, Write: true, Next: next, recorded: true})
	}
	next.Step++
	next.Weight = s.Steps[next.Step]
	base := obs.Sample.Only(st.Candidate, st.Stable)
	next.Baseline = &base
	next.StepStarted = now
	why := fmt.Sprintf("%s; step %d of %d: %d%% of new sessions", passed, next.Step+1, len(s.Steps), next.Weight)
	entry(ActionAdvance, why)
	return measured(Decision{Action: ActionAdvance, Why: why, Write: true, Next: next, recorded: true})
}

// unrouted returns the nodes of s on which no worker has a series of
// version: their HAProxy does not route it (yet), so a baseline taken now
// would miss the series it is about to get.
func unrouted(s Sample, version string) []string {
	var out []string
	for node, workers := range s.Nodes {
		found := false
		for _, series := range workers {
			for k := range series {
				if seriesVersion(k) == version {
					found = true
				}
			}
		}
		if !found {
			out = append(out, node)
		}
	}
	slices.Sort(out)
	return out
}
