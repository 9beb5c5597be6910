// Package lbstats is the sidecar that tells the sweeper how many sessions
// every version has on one HAProxy, and the rollout controller how many
// responses and errors each version served, and the client both read it
// with.
//
// It runs beside HAProxy in the same Nomad allocation (as `strata lbstats`)
// and reaches HAProxy's master CLI through a unix socket in the allocation
// directory, [MasterSocketName]. For every request it reads every worker,
// the current one and every old worker still alive after reloads, with
// [haproxy.Master.Snapshot]: an old worker keeps the connections it held
// when a reload replaced it (an hour-long websocket recording), and the new
// worker's own statistics would say 0.
//
// # Endpoints
//
//	GET /sessions   200 and a Report as JSON, or 503 and {"error": "..."}
//	GET /healthz    200 "ok" when a full count succeeds, 503 and the reason otherwise
//	GET /metrics    200 and the report in Prometheus' text format ([WriteMetrics]),
//	                or 503 and the reason as text
//
// A Report looks like this (see [Report], [Process] and [Traffic]):
//
//	{
//	  "node": "9f1c2a7e-…",
//	  "time": "2026-11-26T12:00:00Z",
//	  "workers": 2,
//	  "versions": {"web": {"v1": 1, "v2": 0}},
//	  "other": {"be_web_3": 0, "strata_stats": 0},
//	  "master_pid": 100,
//	  "reloads": 3,
//	  "processes": [
//	    {"pid": 201, "current": true, "generation": 3, "uptime_seconds": 60, "backends": {
//	      "be_web_1": {"app": "web", "version": "v2", "sessions": 0, "requests": 10, "responses_5xx": 1, "connection_errors": 0, "response_errors": 0},
//	      "be_web_2": {"app": "web", "version": "v1", "sessions": 0, "requests": 5, "responses_5xx": 0, "connection_errors": 0, "response_errors": 0}}},
//	    {"pid": 200, "current": false, "generation": 2, "uptime_seconds": 3600, "backends": {
//	      "be_web_1": {"app": "web", "version": "v1", "sessions": 1, "requests": 7, "responses_5xx": 0, "connection_errors": 1, "response_errors": 0}}}
//	  ],
//	  "traffic": {"web": {"v1": {"requests": 12, …}, "v2": {"requests": 10, "responses_5xx": 1, …}}}
//	}
//
// # Version slots
//
// strata renders a fixed set of backends per app, version slots named
// be_<app>_<n> ([ParseSlot]), and assigns versions to them at run time. The
// assignment is slots.map ([SlotsMapName]): "be_<app>_<n> <app>/<version>"
// for every slot in use, draining versions included. Each worker holds its
// own copy: the runtime API changes the current worker's, and an old worker
// keeps the one it had when a reload replaced it, so a slot can serve v1's
// last sessions in an old worker and v3 in the current one. Collect reads
// every worker's slots.map from that worker ("@!<pid> show map", then the
// map whose file is slots.map), before and after its "show stat", and
// attributes that worker's slots through it.
//
// A slot that a worker's slots.map does not assign counts under "other"
// when it is idle; holding sessions, it fails the whole count, because
// those sessions belong to a version nobody can name, and dropping them
// could make a busy version look idle. Backends named be_<app>_<version>,
// as strata named them before slots, still count for their version; a name
// whose "version" is all digits is always a slot. Every other backend is
// listed under "other" for visibility and is never a version.
//
// # Counters
//
// Sessions are the scur of each BACKEND row: they include sessions on
// servers in maintenance (the apply step puts a server that leaves Consul in
// maintenance and frees it only once it is empty) and in the backend's
// queue. The HTTP counters come from the same row; [Traffic] says which and
// why. They are cumulative per worker, so [Process] carries them per worker
// with what identifies the worker (PID and generation), and its
// documentation says how to compute an increase across reloads without a
// negative or an inflated rate.
//
// # Failing closed
//
// The sweeper retires a version only when every HAProxy provably reports 0
// sessions for it, and the rollout controller never decides on incomplete
// data, so this package never turns an error into a number: a count that
// fails in any worker fails the whole request with 503 and a JSON body
// {"error": "..."} that has no "versions" key, and [Fetch] returns an error
// for any answer other than a 200 with a complete, valid [Report].
// [Report.ValidateTraffic] also requires the per-worker counters, which a
// sidecar from before them does not send. A version missing from Versions is
// configured in no worker of this HAProxy, so it holds no session here.
//
// Nothing is cached: every request counts afresh, because the sweeper's
// second check, after the drain grace, must see sessions that began after
// its first. At most four counts run at once; further requests wait for a
// slot while their client waits. One count is bounded by [CollectTimeout].
package lbstats
