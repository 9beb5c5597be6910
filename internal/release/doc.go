// Package release changes who gets new sessions: it promotes a version to
// live, rolls back to the previous one, and manages cohorts, all through the
// Consul KV keys the HAProxy templates read (see ARCHITECTURE.md):
//
//   - strata/<app>/live: a bare version, the one new sessions get;
//   - strata/<app>/history: a JSON list of the previous live versions, newest
//     last, at most MaxHistory of them;
//   - strata/<app>/cohorts/<name>: JSON {"version", "opt_in", "opt_out"}.
//
// Every change is one Consul transaction of check-and-set operations, which
// also checks that the target version is not draining
// (strata/<app>/draining/<version>): live and history never disagree, and
// two operators (or an operator and the sweeper) never overwrite each other
// unseen. A change that loses a race is re-read and retried a bounded number
// of times.
//
// A version can only be made live or a cohort's target while it has passing
// instances in Consul's catalog (service <app>, tags strata and
// strata-version=<version>) and is not draining: the template would ignore
// it otherwise, and users would not get what the operator asked for.
package release
