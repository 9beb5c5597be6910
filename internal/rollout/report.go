package rollout

import (
	"fmt"

	"github.com/strata-dev/strata/internal/lbstats"
)

// WorkerID names an HAProxy worker on its node: its master's PID, its own
// PID and the reload that started it, so that a restarted HAProxy or a
// reused PID is another worker.
func WorkerID(masterPID int, p lbstats.Process) string {
	return fmt.Sprintf("%d/%d/%d", masterPID, p.PID, p.Generation)
}

// addReport adds the counters one lbstats report holds for app's versions
// to s, per worker and series (backend and version). A report without
// per-worker counters (a sidecar older than them) is a problem: its
// HAProxy's traffic is unknown.
func addReport(s *Sample, rep lbstats.Report, app string) error {
	if s.Time.IsZero() || rep.Time.Before(s.Time) {
		s.Time = rep.Time
	}
	if rep.Processes == nil {
		return fmt.Errorf("node %s: lbstats reports no per-worker counters (a sidecar older than them): deploy the HAProxy job strata renders now", rep.Node)
	}
	if err := rep.ValidateTraffic(); err != nil {
		return fmt.Errorf("node %s: %w", rep.Node, err)
	}
	for _, p := range rep.Processes {
		w := WorkerID(rep.MasterPID, p)
		s.Worker(rep.Node, w)
		for backend, b := range p.Backends {
			if b.App != app {
				continue
			}
			if b.Requests < 0 || b.Responses5xx < 0 || b.ConnectionErrors < 0 || b.ResponseErrors < 0 {
				return fmt.Errorf("node %s: lbstats reports a negative counter for backend %s of worker %d", rep.Node, backend, p.PID)
			}
			s.Set(rep.Node, w, Series(b.Version, backend), Counts{
				Requests: uint64(b.Requests), HTTP5xx: uint64(b.Responses5xx),
				ConnErrors: uint64(b.ConnectionErrors), RespErrors: uint64(b.ResponseErrors),
			})
		}
	}
	return nil
}
