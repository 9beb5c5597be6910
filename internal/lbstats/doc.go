// Package lbstats is the sidecar that tells the sweeper how many sessions
// every version has on one HAProxy, and the client the sweeper reads it with.
//
// It runs beside HAProxy in the same Nomad allocation (as `strata lbstats`)
// and reaches HAProxy's master CLI through a unix socket in the allocation
// directory, [MasterSocketName]. For every request it counts the current
// sessions of every backend with [haproxy.Master.Sessions], which sums the
// current worker and every old worker still alive after reloads: an old
// worker keeps the connections it held when a reload replaced it (an
// hour-long websocket recording), and the new worker's own statistics would
// say 0.
//
// # Endpoints
//
//	GET /sessions   200 and a Report as JSON, or 503 and {"error": "..."}
//	GET /healthz    200 "ok" when a full count succeeds, 503 and the reason otherwise
//
// A Report looks like this:
//
//	{
//	  "node": "9f1c2a7e-…",
//	  "time": "2026-11-26T12:00:00Z",
//	  "workers": 2,
//	  "versions": {"web": {"v1": 1, "v2": 0}, "api-gw": {"1.10.0": 0}},
//	  "other": {"strata_stats": 0}
//	}
//
// Backends strata renders are named be_<app>_<version> ([ParseBackend]);
// neither grammar contains '_', so a name splits in exactly one way. Every
// other backend, including one that looks like a version but breaks a
// grammar (be_web_V1), is listed under "other" for visibility and is never
// a version.
//
// # Failing closed
//
// The sweeper retires a version only when every HAProxy provably reports 0
// sessions for it, so this package never turns an error into a number: a
// count that fails in any worker fails the whole request with 503 and a
// JSON body {"error": "..."} that has no "versions" key, and [Fetch] returns
// an error for any answer other than a 200 with a complete, valid [Report].
// A version missing from Versions is configured in no worker of this
// HAProxy, so it holds no session here.
//
// Nothing is cached: every request counts afresh, because the sweeper's
// second check, after the drain grace, must see sessions that began after
// its first. At most four counts run at once; further requests wait for a
// slot while their client waits. One count is bounded by [CollectTimeout].
package lbstats
