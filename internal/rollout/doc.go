// Package rollout moves a share of an app's new sessions to a candidate
// version step by step, and promotes or rolls it back by the candidate's own
// error rate, measured on every HAProxy.
//
// # State
//
// A rollout is one JSON value in Consul KV, strata/<app>/rollout ([State]),
// written only with check-and-set on its ModifyIndex: by `strata rollout
// start|pause|resume|abort` and by the controller. HAProxy's template
// (templates/routing.intent.ctmpl) reads candidate, weight, state and return
// from it ([State]'s field comments are the contract): a share weight of new
// sessions goes to candidate while state is running or paused, and a failed
// or aborted candidate with return set leaves the allow-list; pinned
// sessions never move otherwise.
//
// A rollout carries the settings it started with ([Settings], from
// strata.yaml's apps.<app>.rollout): a change of strata.yaml never changes
// a rollout in progress (abort and start again for that), and the
// controller needs no strata.yaml at all, only Consul and the lbstats
// sidecars.
//
// # Decisions
//
// [Decide] is a pure function: a State, the counters every HAProxy reported
// ([Observation]) and a clock in; a [Decision] out: nothing yet, take the
// step's baseline, wait (inconclusive: fewer than min_requests candidate
// requests; a rollout never advances on silence), hold (an HAProxy did not
// answer, or the candidate is not running), advance, fail (weight 0, the
// previous live version stays live) or succeed (the candidate becomes live).
//
// Counters are cumulative per (node, HAProxy worker, version); a step's
// counts are the growth since the step's baseline ([Delta]), so a worker
// that restarts, reloads or is new never yields a negative or an inflated
// count: see [Delta] for the rules.
//
// # The controller
//
// [Controller.Pass] reads every app's rollout, gathers the lbstats reports
// once, decides, and writes each decision with check-and-set; the final
// promotion is release.PromoteWith, the same transaction as `strata
// promote`, with the rollout's own check-and-set in it. Any number of
// controllers may run at once: a decision is made on the state at one
// ModifyIndex, and only one write on that index can succeed, so each
// decision happens once; a controller killed at any point leaves the state
// as it was before its write or after it, and any controller resumes from
// there.
package rollout
