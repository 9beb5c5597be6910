// Package sweeper decides which versions to retire, in two phases, so that a
// version that looks idle can never receive a new session while it is being
// stopped.
//
// Decide is a pure function: an Inventory (the managed jobs from Nomad, the
// live, cohort and draining state from Consul KV, the sessions every HAProxy
// reports), the policies and a clock in, a Plan out. The code that reads
// Nomad, Consul and the lbstats sidecars only gathers an Inventory and
// applies a Plan.
//
// A web version is retired like this:
//
//  1. Drain: it is not live (in KV or strata.yaml), not a cohort's target,
//     not the candidate of a rollout in progress (strata/<app>/rollout),
//     not among the newest Keep, older than MinAge, and every HAProxy reports
//     0 sessions for it, old workers included. The sweeper writes
//     strata/<app>/draining/<version>; the templates drop it from the cookie
//     allow-list, so its stale cookies go to the live version.
//  2. Stop: DrainGrace after that, the sessions are read again on every
//     HAProxy; still 0, the Nomad job is deregistered and the draining key
//     removed. A session seen while draining aborts the drain.
//
// The newest Keep are counted among the versions whose latest deployment did
// not fail: a crash-looping version takes no keep place, and once older than
// MinAge and idle it is retired like any other. Its deployment is read only
// when the job list's summary shows failed or lost allocations, so a healthy
// fleet costs no call per job; a deployment that cannot be read is a Nomad
// failure like any other.
//
// Anything that cannot be read (an HAProxy's sessions, Consul, Nomad) means
// "not provably idle": nothing is drained or stopped. So does an HAProxy's
// node that is not provably healthy and reporting (Plan.Doubts): a node whose
// own checks fail in Consul's catalog (serfHealth critical when its Consul
// agent is down: its HAProxy never sees the draining key and keeps routing
// the version's cookies to it), an HAProxy without its lbstats, an HAProxy
// allocation Nomad reports lost or unknown, or fewer HAProxies in the
// catalog than nodes where Nomad runs the strata-haproxy job (a node Consul
// removed, say by autopilot, is out of the catalog's sight, not Nomad's).
// Workers have no
// connections: once the newest version's deployment has been healthy for
// HandoffGrace, older versions outside Keep are stopped.
package sweeper
