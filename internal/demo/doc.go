// Package demo is strata's demo application: a tiny HTTP server that stands
// in for one version of an application in HAProxy routing tests and on local
// Nomad clusters. Every response says which version and which instance
// answered, so a test can follow a session through HAProxy.
//
// Every response carries the headers X-Strata-Demo-Version (the version) and
// X-Strata-Demo-Name (the instance), and Cache-Control: no-store. Endpoints:
//
//   - GET /healthz answers 200 "ok\n", or 503 "failing\n" after
//     POST /healthz/fail, until POST /healthz/pass. It is the target of the
//     Consul HTTP check, so a test can take an instance out of routing.
//   - GET /stream is a long-lived chunked text/plain stream. It writes
//     "version=<V> name=<N> tick=0\n" at once, then "tick=1\n", "tick=2\n", …
//     one per Options.Tick, flushing each line. It ends when the client goes
//     away, after ?ticks=N ticks when that is given, or when the server shuts
//     down; when the server ends it, the last line is "bye\n".
//   - GET /ws is the same stream over a websocket: one text message per line,
//     without the newline, then "bye" and a close message (1000 after ?ticks=N
//     ticks, 1001 on shutdown). It stands in for a screen recording, which
//     cannot be resumed on another version.
//   - GET /set-cookie?name=N&value=V sets the cookie N=V with Path=/; an empty
//     value clears it (Max-Age=0). A test uses it to play an application that
//     sets or clears the version cookie itself.
//   - Any other path, with any method, answers 200 text/plain
//     "version=<V> name=<N> path=<path>\n", with the path as sent (escaped).
//
// To stand in for a faulty or slow version, Options.FailRate answers a share
// of requests 500 "version=<V> name=<N> injected failure (fail rate <F>)\n"
// (every endpoint but the health ones; a counter, not a coin, so a test
// knows exactly how many fail), and Options.Latency delays every answer but
// the health endpoints'.
//
// [Serve] runs the application on a listener until its context is done, then
// shuts down gracefully: it stops accepting, lets requests in flight finish,
// ends every stream and websocket with its "bye" line, and waits for them.
// [Handler] gives the same endpoints for httptest.
package demo
