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
// Each implemented endpoint is an [Endpoint] constant, which [Server.FailNext]
// and [Server.Calls] take:
//
//   - GET /v1/jobs (Jobs().List, ListOptions, PrefixList): query parameters
//     namespace ("*" lists every namespace), prefix (of the job ID), meta=true
//     (include each job's Meta in its stub), per_page and next_token (tokens
//     are "<namespace>.<id>", as Nomad's), and filter, in a small subset of
//     go-bexpr described below.
//   - GET /v1/job/<id> (Jobs().Info): 404 "job not found" when missing.
//   - GET /v1/job/<id>/versions (Jobs().Versions): newest first, with diffs
//     between consecutive versions when diffs=true; 404 "job versions not
//     found" when missing.
//   - PUT or POST /v1/jobs and /v1/job/<id> (Jobs().Register, RegisterOpts,
//     EnforceRegister): EnforceIndex/JobModifyIndex check-and-set,
//     PreserveCounts and EvalPriority are honoured; PolicyOverride and
//     Submission are accepted and have no effect.
//   - DELETE /v1/job/<id> (Jobs().Deregister, DeregisterOpts): purge=true
//     removes the job, its versions, deployments and allocations (its
//     evaluations stay readable); otherwise the job is stopped as a new
//     version. eval_priority is honoured; global and no_shutdown_delay are
//     accepted and have no effect.
//   - PUT or POST /v1/job/<id>/plan (Jobs().Plan, PlanOpts): a diff and
//     desired updates per task group; nothing is stored.
//   - GET /v1/job/<id>/allocations (Jobs().Allocations), with task states
//     and events, reschedules linked by NextAllocation and
//     RescheduleTracker.
//   - GET /v1/allocation/<id> (Allocations().Info): 404 "alloc not found".
//   - GET /v1/job/<id>/deployment (Jobs().LatestDeployment): JSON null, and so
//     a nil deployment and no error, when the job has none.
//   - GET /v1/deployment/<id> (Deployments().Info).
//   - GET /v1/evaluation/<id> (Evaluations().Info).
//
// Every other method and path answers 501 Not Implemented with the method and
// path, and so do the few parameters of implemented endpoints the fake does
// not model (reverse on the job list, diff_tag and diff_version on versions),
// so a test never silently passes against an endpoint the fake lacks.
//
// Errors carry Nomad's status codes and, for the common cases, its
// messages: 404 "job not found" and "job versions not found"; 500 for a job
// that fails validation, for a check-and-set conflict ("Enforcing job modify
// index ...") and for deregistering a job that does not exist; 400 for a
// malformed request or filter.
//
// Reads honour blocking queries: with index=N they wait, up to wait (default
// 5m, at most 10m), until the server's index passes N. The index is one
// counter for the whole server, so any write wakes every blocked query, which
// Nomad's clients must tolerate anyway. Every answer carries X-Nomad-Index,
// X-Nomad-KnownLeader and X-Nomad-LastContact.
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
// There is no scheduler. A registered job is canonicalized as Nomad's HTTP
// agent does (api.Job.Canonicalize, then Datacenters ["*"] and node pool
// "default" when unset), validated, and stored as a new version only when
// its specification changed; Version, SubmitTime (from the clock given to
// [WithClock]), CreateIndex, ModifyIndex and JobModifyIndex are set as Nomad
// sets them. Status is "running", or "dead" once stopped. Every register and
// deregister of a job that is neither periodic nor parameterized creates an
// evaluation, which is complete at once. A new version of a service job with
// an update strategy creates a deployment with status "running", and cancels
// the job's running deployment; stopping a job cancels it too. Deployments
// change only when a test says so: [Server.SetDeploymentStatus],
// [Server.SetDeploymentHealth], [Server.SetTaskEvents] and
// [Server.FailDeployment] (with [CrashLoopEvents], the events Nomad records
// for a command that keeps exiting). A deployment marked successful marks its job
// version stable. Allocations are derived from the job's latest deployment:
// one per placed allocation in each task group, healthy, unhealthy or not yet
// known in the order of the counts given; once the job is stopped they are
// desired "stop" and, unless failed, complete.
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
// the fake has. Every recorded plan answer in testdata/plan (the common
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
package nomadfake
