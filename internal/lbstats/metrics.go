package lbstats

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-dev/strata/internal/applystats"
)

// MetricsContentType is the Content-Type of /metrics: Prometheus' text
// exposition format, version 0.0.4.
const MetricsContentType = "text/plain; version=0.0.4; charset=utf-8"

// metric is one metric family of /metrics.
type metric struct {
	name, kind, help string
}

// The metric families of /metrics.
var (
	metricWorkers = metric{"strata_haproxy_workers", "gauge",
		"Live HAProxy worker processes, current and old (an old worker lives on while it holds connections)."}
	metricReloads = metric{"strata_haproxy_reloads_total", "counter",
		"Reloads of the HAProxy master since it started, failed ones included: every one starts a worker."}
	metricSessions = metric{"strata_sessions", "gauge",
		"Current sessions of a version, summed over every worker."}
	metricRequests = metric{"strata_http_responses_total", "counter",
		"HTTP responses sent for a version by one worker, from one backend (the sum of its hrsp_* counters)."}
	metric5xx = metric{"strata_http_responses_5xx_total", "counter",
		"HTTP 5xx responses sent for a version by one worker, from one backend (hrsp_5xx), HAProxy's own included."}
	metricConnErrors = metric{"strata_connection_errors_total", "counter",
		"Failed connections to a version's servers in one worker, from one backend (econ)."}
	metricRespErrors = metric{"strata_response_errors_total", "counter",
		"Failed responses of a version's servers in one worker, from one backend (eresp)."}
	metricFallbacks = metric{"strata_haproxy_apply_fallbacks_total", "counter",
		"Apply steps that found no free version slot or server for a version or an instance (the apply step's own counter)."}
	metricApplyFailures = metric{"strata_haproxy_apply_failures_total", "counter",
		"Apply steps that failed: HAProxy was not verified to run what Consul asks for (the apply step's own counter)."}
	metricApplyFailing = metric{"strata_haproxy_apply_failing", "gauge",
		"1 while the last apply step failed (HAProxy may not route as Consul asks; the HAProxy task retries), 0 once one succeeded."}
)

// writeApplyStats appends the apply step's counters, read from the copy at
// path (applystats.ReadFile), labelled with node. A file that does not
// exist yet (no apply step wrote it) adds nothing; one that cannot be read
// or is not the apply step's counters is an error naming it.
func writeApplyStats(w io.Writer, node, path string) error {
	st, ok, err := applystats.ReadFile(path)
	if err != nil {
		return fmt.Errorf("lbstats: the apply step's counters: %w", err)
	}
	if !ok {
		return nil
	}
	failing := 0
	if st.Failing {
		failing = 1
	}
	for _, m := range []struct {
		metric
		v int64
	}{{metricApplyFailures, st.Failures}, {metricApplyFailing, int64(failing)}, {metricFallbacks, st.Exhausted}} {
		if _, err := fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s{%s} %d\n", m.name, m.help, m.name, m.kind, m.name, label("node", node), m.v); err != nil {
			return err
		}
	}
	return nil
}

// WriteMetrics writes r in Prometheus' text format: the number of workers,
// the master's reload counter and every version's sessions, labelled with
// the node; and the counters of every backend of every worker, labelled
// with the node, app, version, backend and the worker's pid and generation.
//
// The counters are per worker because only a worker's own counters are
// monotonic: a sum over workers drops when an old worker exits and would
// read as a counter reset, which Prometheus' rate() turns into a spike. Sum
// rates by app and version instead:
//
//	sum by (app, version) (rate(strata_http_responses_5xx_total[5m]))
//
// Lines are sorted, so the output of a report is always the same. r must
// carry Processes (a report of [Collect] does).
func WriteMetrics(w io.Writer, r Report) error {
	var b strings.Builder
	node := label("node", r.Node)
	family := func(m metric, lines []string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", m.name, m.help, m.name, m.kind)
		slices.Sort(lines)
		for _, l := range lines {
			b.WriteString(l)
		}
	}
	family(metricWorkers, []string{fmt.Sprintf("%s{%s} %d\n", metricWorkers.name, node, r.Workers)})
	family(metricReloads, []string{fmt.Sprintf("%s{%s} %d\n", metricReloads.name, node, r.Reloads)})
	var sessions []string
	for app, versions := range r.Versions {
		for v, n := range versions {
			sessions = append(sessions, fmt.Sprintf("%s{%s,%s,%s} %d\n", metricSessions.name, node, label("app", app), label("version", v), n))
		}
	}
	family(metricSessions, sessions)
	counters := []struct {
		m   metric
		get func(Traffic) int64
	}{
		{metricRequests, func(t Traffic) int64 { return t.Requests }},
		{metric5xx, func(t Traffic) int64 { return t.Responses5xx }},
		{metricConnErrors, func(t Traffic) int64 { return t.ConnectionErrors }},
		{metricRespErrors, func(t Traffic) int64 { return t.ResponseErrors }},
	}
	for _, c := range counters {
		var lines []string
		for _, p := range r.Processes {
			for name, be := range p.Backends {
				lines = append(lines, fmt.Sprintf("%s{%s,%s,%s,%s,%s,%s} %d\n", c.m.name, node,
					label("app", be.App), label("version", be.Version), label("backend", name),
					label("pid", strconv.Itoa(p.PID)), label("generation", strconv.Itoa(p.Generation)), c.get(be.Traffic)))
			}
		}
		family(c.m, lines)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// label formats name="value" with value escaped as the text format wants.
func label(name, value string) string {
	return name + `="` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(value) + `"`
}
