// Package nomadfake stands in for Nomad in tests. It is an HTTP server on
// 127.0.0.1 that speaks the part of Nomad's HTTP API strata uses, keeps
// state between requests (jobs with their version history, evaluations,
// deployments), and answers with the JSON Nomad answers, built from
// github.com/hashicorp/nomad/api's own types, so code under test talks to it
// through an unmodified *api.Client. Nomad itself cannot run in strata's
// tests; a fake that merely returned canned answers would let a test pass
// against behaviour Nomad does not have.
//
// # Endpoints
//
// The fake serves what strata calls (Jobs().List, Info, Versions, Register,
// DeregisterOpts, PlanOpts, Allocations, LatestDeployment and
// Evaluations().Info), and the allocation `nomad alloc status` reads. Each
// is an [Endpoint] constant, which [Server.FailNext] and [Server.Calls]
// take:
//
//   - GET /v1/jobs: namespace ("*" lists every namespace), meta=true (each
//     job's Meta in its stub) and filter, in the small subset of go-bexpr
//     described below.
//   - GET /v1/job/<id>: 404 "job not found" when missing.
//   - GET /v1/job/<id>/versions: newest first, with Nomad's diffs between
//     consecutive versions when diffs=true; 404 "job versions not found".
//   - PUT or POST /v1/jobs: EnforceIndex/JobModifyIndex check-and-set,
//     PreserveCounts and EvalPriority are honoured; PolicyOverride and
//     Submission are accepted and have no effect. Warnings are Nomad's.
//   - DELETE /v1/job/<id>: purge=true removes the job, its versions,
//     deployments and allocations (its evaluations stay readable); otherwise
//     the job is stopped as a new version. A job that is not there answers
//     200 with no evaluation and every index 0, as Nomad does. eval_priority
//     is honoured; global and no_shutdown_delay are accepted and have no
//     effect.
//   - PUT or POST /v1/job/<id>/plan: Nomad's diff, desired updates and
//     warnings (see Plans); nothing is stored.
//   - GET /v1/job/<id>/allocations: with task states and events, reschedules
//     linked by NextAllocation and RescheduleTracker. A system job (Nomad
//     places it on every eligible node, without a deployment) has the
//     allocations a test set with [Server.SetSystemAllocations], one per node.
//   - GET /v1/allocation/<id>: 404 "alloc not found".
//   - GET /v1/job/<id>/deployment: JSON null, and so a nil deployment and no
//     error, when the job has none.
//   - GET /v1/evaluation/<id>: 404 "eval not found".
//
// Every other method and path answers 501 Not Implemented with the method and
// path, and so do the parameters of implemented endpoints strata does not
// send (prefix, per_page, next_token and reverse on the job list, diff_tag
// and diff_version on versions), so a test never silently passes against
// behaviour the fake would only guess. [Server.Deployment] reads any
// deployment for a test.
//
// Errors carry Nomad's status codes and texts: 404 "job not found" and "job
// versions not found", with the index headers Nomad sends on a read; 500
// with Nomad's validation text for a job Nomad refuses (internal/nomadrules
// decides) and for a check-and-set conflict ("Enforcing job modify index
// ..."); 400 for a malformed request or filter.
//
// Reads honour blocking queries: with index=N they wait, up to wait (default
// 5m, at most 10m), until the server's index passes N, and answer the same
// index when it did not (recorded: a blocking query that times out). The
// index is one counter for the whole server, where Nomad keeps one per table,
// so any write wakes every blocked query, which Nomad's clients must
// tolerate anyway. Reads carry X-Nomad-Index, X-Nomad-KnownLeader and
// X-Nomad-LastContact; writes only X-Nomad-Index, as Nomad's.
//
// # Filters
//
// The job list's filter accepts clauses `<selector> == <value>` and
// `<selector> != <value>` joined by `and`. Selectors are ID, Name, Namespace,
// Type, Status, Stop, Meta["key"] and Meta.key; values are double-quoted or
// backquoted strings, or bare words such as true. As in Nomad, the filter
// applies to the job, not to its list stub, so Meta filters work without
// meta=true, and a Meta key the job lacks is unequal to every value. Any
// other expression (or, not, parentheses, in, contains, matches, an unknown
// selector) is refused with 400 rather than ignored.
//
// # Model
//
// There is no scheduler and one client node. A registered job is
// canonicalized as Nomad's HTTP agent does (api.Job.Canonicalize, then
// Datacenters ["*"] and node pool "default" when unset), validated by
// internal/nomadrules, and stored as a new version only when
// its specification changed; Version, SubmitTime (from the clock given to
// [WithClock]), CreateIndex, ModifyIndex and JobModifyIndex are set as Nomad
// sets them. Status is "running", or "dead" once stopped. Every register and
// deregister of a job that is neither periodic nor parameterized creates an
// evaluation, which is complete at once. A new version of a service job with
// an update strategy creates a deployment with status "running", and cancels
// the job's running deployment; stopping a job cancels it too. Its
// allocations are placed at once, health not yet known, and its progress
// deadline runs from then, as Nomad's scheduler does on an idle cluster.
// After that deployments change only when a test says so: [Server.SetDeploymentStatus],
// [Server.SetDeploymentHealth], [Server.SetTaskEvents] and
// [Server.FailDeployment] (with [CrashLoopEvents], the events Nomad records
// for a command that keeps exiting). A deployment marked successful marks
// its job version stable. Allocations are derived from the job's latest
// deployment: one per placed allocation in each task group, unhealthy
// (failed, with the task events given), healthy (running) or not yet known
// (running) in that order; placed beyond the desired total are reschedules
// of the first ones. Once the job is stopped they are desired "stop" and,
// unless failed, complete.
//
// IDs are deterministic: evaluation n is "0000000n-eeee-4000-8000-00000000000n"
// (in hexadecimal), deployments use "dddd" and allocations "aaaa".
//
// # Plans
//
// A plan compares the submitted job, canonicalized, with the job's latest
// version through internal/nomaddiff, the one job differ strata has (it is
// also what `strata diff` classifies changes with): Nomad's contextual diff
// structure, and Nomad's desired updates per task group, as its scheduler
// would plan them with every allocation of the job running on the one node
// the fake has. Every recorded plan answer (internal/nomadrec, plan/: the common
// changes to the examples/local jobs, a stopped job run again, a purged one)
// is replayed against the fake and must come back the same, diff and
// updates. The versions endpoint's diffs come from the same differ.
//
// # Faults and inspection
//
// [Server.FailNext] makes an endpoint answer an error status a number of
// times; [Server.Calls] counts requests per endpoint, failed ones included;
// [Server.Requests] lists recent requests as "METHOD path?query".
// [Server.AddJob] seeds a job without going through the API and without
// Nomad's validation, so a test can seed only the fields it cares about.
//
// # Fidelity
//
// The recorded exchanges with Nomad 2.0.6 (internal/nomadrec) are replayed by the
// tests: every plan of the recorded plan session, the deployment failures
// and allocation lists of `strata deploy ... --command /usr/bin/false`, job
// versions with diffs, the filtered job list, a timed-out blocking query,
// stop, purge and purge again, a refused register and warnings, Nomad's
// verdict on every recorded validated job, and a job read back. A job is
// stored as Nomad's server stores it (nomaddiff.ServerDefaults); with
// [WithConsulTaskIdentity], as servers that set consul.task_identity do,
// which no recording covers (nomaddiff.Server follows Nomad's source). Answers are
// encoded from nomad/api's types, which lack a few fields Nomad sends (a
// service's Namespace) and have a few it does not (a task event's
// DiskSize, sent empty).
//
// # ACLs
//
// With WithACL the server enforces the namespace capability Nomad's API
// documents for each endpoint it implements (list-jobs, read-job,
// submit-job) and answers 403 as Nomad does. No recording covers ACLs: the
// rules are Nomad's documented ones, and only namespace capabilities are
// modelled (no policy dispositions such as policy = "read", no node,
// agent or variable rules, no workload-identity resolution: a test maps the
// identity's token to the capabilities of the policy associated with it).
package nomadfake
