package routing_test

import (
	"testing"
)

// TestChurnStartsNoHAProxyProcess makes 200 routing changes of every kind
// (instances of existing versions flapping, a version added and removed,
// promote and rollback, a cohort set and removed, a drain and its end) while
// a long-lived stream is open and a bounded request loop runs: no request
// fails, the stream lives to the end, and no change starts an HAProxy worker
// (at most one worker besides those alive before the test, at any sample).
// It runs twice: with the apply step called in the test's process, and
// with HAProxy under `strata haproxy run`, signalled at each render, as the
// HAProxy job runs it.
func TestChurnStartsNoHAProxyProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Consul and HAProxy and makes 200 changes; -short skips it")
	}
	strata := buildStrata(t)
	for _, run := range []struct {
		name  string
		start func(testing.TB, func(*design)) *design
	}{
		{"in process", startRuntime},
		{"as the HAProxy task", func(tb testing.TB, setup func(*design)) *design { return startRuntimeTask(tb, strata, setup) }},
	} {
		t.Run(run.name, func(t *testing.T) { churnStartsNoHAProxyProcess(t, run.start) })
	}
}

func churnStartsNoHAProxyProcess(t *testing.T, start func(testing.TB, func(*design)) *design) {
	var c churnApp
	d := start(t, setupChurn(t, &c))
	r := runChurn(t, d, &c, 1)
	t.Log(r)
	if r.failed != 0 {
		t.Errorf("%d of %d requests failed; the first: %s", r.failed, r.requests, r.firstFailure)
	}
	for _, why := range r.deadStreams {
		t.Error(why)
	}
	if r.watch.MaxNewWorkers > 1 || r.watch.Reloads != 0 {
		t.Errorf("HAProxy started workers %v (at most %d alive at once besides the %d from before) and counts %d reloads; want no reload and no new worker process",
			r.watch.New, r.watch.MaxNewWorkers, len(r.watch.Before), r.watch.Reloads)
	}
	if r.watch.Failures != 0 {
		t.Errorf("%d of %d samples of HAProxy's processes failed: %v", r.watch.Failures, r.watch.Samples, r.watch.LastError)
	}
}
