package rollout

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Counts are a version's HTTP counters, cumulative in a Sample, the growth
// over a step in a Decision.
type Counts struct {
	// Requests are the HTTP responses HAProxy sent for the version's
	// backend, every status (lbstats' Traffic.Requests: hrsp_1xx through
	// hrsp_other, not req_tot, so that in any window HTTP5xx never exceeds
	// it and a request still in flight counts in neither).
	Requests uint64 `json:"requests"`
	// HTTP5xx are its 5xx responses (hrsp_5xx), HAProxy's own 503s when no
	// server answered included.
	HTTP5xx uint64 `json:"http_5xx"`
	// ConnErrors are failed connections to its servers (econ).
	ConnErrors uint64 `json:"econ"`
	// RespErrors are responses aborted by its servers or by HAProxy (eresp).
	RespErrors uint64 `json:"eresp"`
}

// Add returns the field-wise sum of c and d.
func (c Counts) Add(d Counts) Counts {
	return Counts{c.Requests + d.Requests, c.HTTP5xx + d.HTTP5xx, c.ConnErrors + d.ConnErrors, c.RespErrors + d.RespErrors}
}

// ErrorRate is HTTP5xx / Requests, 0 without requests.
func (c Counts) ErrorRate() float64 {
	if c.Requests == 0 {
		return 0
	}
	return float64(c.HTTP5xx) / float64(c.Requests)
}

// String reads like "1200 requests, 3 5xx (0.25%)".
func (c Counts) String() string {
	s := fmt.Sprintf("%d requests, %d 5xx (%s)", c.Requests, c.HTTP5xx, Percent(c.ErrorRate()))
	if c.ConnErrors+c.RespErrors > 0 {
		s += fmt.Sprintf(", %d econ, %d eresp", c.ConnErrors, c.RespErrors)
	}
	return s
}

// Percent writes a fraction as a percent with up to two decimals.
func Percent(f float64) string {
	return trimZeros(fmt.Sprintf("%.2f", 100*f)) + "%"
}

func trimZeros(s string) string {
	for len(s) > 1 && s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	if s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	return s
}

// Less reports whether any counter of c is below d's: the counter was
// reset (HAProxy's "clear counters") since d was read.
func (c Counts) Less(d Counts) bool {
	return c.Requests < d.Requests || c.HTTP5xx < d.HTTP5xx || c.ConnErrors < d.ConnErrors || c.RespErrors < d.RespErrors
}

func (c Counts) sub(d Counts) Counts {
	return Counts{c.Requests - d.Requests, c.HTTP5xx - d.HTTP5xx, c.ConnErrors - d.ConnErrors, c.RespErrors - d.RespErrors}
}

// Sample is what every HAProxy reported at one moment for an app's
// versions: cumulative counters by node, then worker, then series. A worker
// is named by its identity on the node (its master's PID, its own PID and
// the reload that started it, so a reused PID is another worker); every
// worker the node's HAProxy master listed is present, with an empty map
// when it has no counters for the versions sampled. A series is one
// backend serving one version in that worker ([Series]): a backend (a
// version slot) re-assigned to another version is another series.
type Sample struct {
	// Time is when the earliest report of the sample began.
	Time time.Time `json:"time"`
	// Nodes are the counters: node, worker, series.
	Nodes map[string]map[string]map[string]Counts `json:"nodes"`
}

// Series names the counters of backend while it serves version:
// "<version>@<backend>". Neither grammar has '@'.
func Series(version, backend string) string { return version + "@" + backend }

// seriesVersion is the version of a series.
func seriesVersion(series string) string {
	v, _, _ := strings.Cut(series, "@")
	return v
}

// Set records counters c of series on node's worker.
func (s *Sample) Set(node, worker, series string, c Counts) {
	s.Worker(node, worker)
	s.Nodes[node][worker][series] = c
}

// Worker records that node's HAProxy runs worker, with or without counters.
func (s *Sample) Worker(node, worker string) {
	if s.Nodes == nil {
		s.Nodes = map[string]map[string]map[string]Counts{}
	}
	if s.Nodes[node] == nil {
		s.Nodes[node] = map[string]map[string]Counts{}
	}
	if s.Nodes[node][worker] == nil {
		s.Nodes[node][worker] = map[string]Counts{}
	}
}

// Total sums version's counters over every node and worker of s.
func (s Sample) Total(version string) Counts {
	var t Counts
	for _, workers := range s.Nodes {
		for _, series := range workers {
			for k, c := range series {
				if seriesVersion(k) == version {
					t = t.Add(c)
				}
			}
		}
	}
	return t
}

// Delta is the growth of version's counters from base to cur: how many
// requests (and errors) it served in between, never negative and never more
// than it served. Per node, worker and series (see lbstats.Process):
//
//   - a worker that base has too: its counters minus base's; when any is
//     lower than base's, the counters were reset in between (HAProxy's
//     "clear counters"), and its counters as they are, all counted since
//     the reset, are the growth;
//   - a worker base does not have on a node it has: it started after base
//     (base lists every worker the node's master listed), so all its
//     counters are the growth;
//   - a worker on a node base does not have, and a series new in a worker
//     base has (a slot assigned the version since, whose counters still
//     hold what it served before): when they began counting is unknown,
//     so nothing is counted; the next step's baseline includes them;
//   - a worker that is gone (an old worker that exited after a reload)
//     takes what it served since base with it: not counted.
//
// So a reload (a new worker counting from 0, the old one exiting), a
// restart or a reset lowers the count at most, never raises it.
func Delta(base, cur Sample, version string) Counts {
	var d Counts
	for node, workers := range cur.Nodes {
		bworkers, nodeKnown := base.Nodes[node]
		if !nodeKnown {
			continue
		}
		for worker, series := range workers {
			bseries, workerKnown := bworkers[worker]
			for k, c := range series {
				if seriesVersion(k) != version {
					continue
				}
				if !workerKnown {
					d = d.Add(c)
					continue
				}
				b, ok := bseries[k]
				switch {
				case !ok:
				case c.Less(b):
					d = d.Add(c)
				default:
					d = d.Add(c.sub(b))
				}
			}
		}
	}
	return d
}

// Only returns the part of s about versions.
func (s Sample) Only(versions ...string) Sample {
	out := Sample{Time: s.Time, Nodes: map[string]map[string]map[string]Counts{}}
	for node, workers := range s.Nodes {
		for worker, series := range workers {
			out.Worker(node, worker)
			for k, c := range series {
				if slices.Contains(versions, seriesVersion(k)) {
					out.Nodes[node][worker][k] = c
				}
			}
		}
	}
	return out
}

// withNew returns a copy of base with the series of versions that cur has
// in workers base knows but base lacks, at cur's values: from then on
// Delta counts them. added is false when there is none.
func (base Sample) withNew(cur Sample, versions ...string) (out Sample, added bool) {
	out = base.Only(versions...)
	out.Time = base.Time
	for node, workers := range cur.Nodes {
		bworkers, ok := base.Nodes[node]
		if !ok {
			continue
		}
		for worker, series := range workers {
			bseries, ok := bworkers[worker]
			if !ok {
				continue
			}
			for k, c := range series {
				if _, known := bseries[k]; !known && slices.Contains(versions, seriesVersion(k)) {
					out.Nodes[node][worker][k] = c
					added = true
				}
			}
		}
	}
	return out, added
}
