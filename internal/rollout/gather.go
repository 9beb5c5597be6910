package rollout

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/lbstats"
	"github.com/strata-dev/strata/internal/naming"
)

// Reports is what every HAProxy's lbstats said at one pass.
type Reports struct {
	// Time is when the gathering began.
	Time time.Time
	// Reports are the answers, one per lbstats that answered.
	Reports []lbstats.Report
	// Problems say what could not be read or is in doubt: Consul's
	// catalog, an lbstats that did not answer, an HAProxy without lbstats,
	// a node whose own checks fail. Any problem holds every rollout: a
	// rollout never advances on incomplete data.
	Problems []string
}

// GatherReports reads every HAProxy's lbstats registered in Consul's
// catalog, by the sweeper's rule: every HAProxy must answer. A node where
// the catalog lists an HAProxy but no lbstats, a node whose own checks
// (serfHealth) are not passing (its HAProxy may route with stale data), an
// lbstats that does not answer with a valid report, and a catalog without
// any HAProxy are problems, and so is an HAProxy whose apply step is failing
// (its lbstats says so): it may not route the candidate's share as asked.
// A nil client fetches with lbstats' default.
func GatherReports(ctx context.Context, consul *consulapi.Client, client *http.Client, now time.Time) Reports {
	out := Reports{Time: now.UTC()}
	q := (&consulapi.QueryOptions{}).WithContext(ctx)
	haproxies, _, err := consul.Health().Service(naming.HAProxyService, "", false, q)
	if err != nil {
		out.Problems = append(out.Problems, fmt.Sprintf("Consul's catalog (service %s): %v", naming.HAProxyService, err))
		return out
	}
	stats, _, err := consul.Health().Service(naming.LBStatsService, "", false, q)
	if err != nil {
		out.Problems = append(out.Problems, fmt.Sprintf("Consul's catalog (service %s): %v", naming.LBStatsService, err))
		return out
	}
	type node struct {
		haproxy, lbstats bool
		failing          []string
	}
	nodes := map[string]*node{}
	see := func(e *consulapi.ServiceEntry) *node {
		n, ok := nodes[e.Node.Node]
		if !ok {
			n = &node{}
			for _, c := range e.Checks {
				if c.ServiceID == "" && c.Status != consulapi.HealthPassing {
					n.failing = append(n.failing, c.CheckID+" is "+c.Status)
				}
			}
			nodes[e.Node.Node] = n
		}
		return n
	}
	for _, h := range haproxies {
		see(h).haproxy = true
	}
	for _, s := range stats {
		see(s).lbstats = true
	}
	if len(haproxies) == 0 {
		out.Problems = append(out.Problems, fmt.Sprintf("Consul's catalog lists no HAProxy (service %s): nothing measures the candidate", naming.HAProxyService))
	}
	for _, name := range slices.Sorted(maps.Keys(nodes)) {
		n := nodes[name]
		if n.haproxy && !n.lbstats {
			out.Problems = append(out.Problems, fmt.Sprintf("node %s runs an HAProxy without an lbstats (service %s)", name, naming.LBStatsService))
		}
		for _, f := range n.failing {
			out.Problems = append(out.Problems, fmt.Sprintf("node %s: %s", name, f))
		}
	}
	for _, s := range stats {
		addr := s.Service.Address
		if addr == "" {
			addr = s.Node.Address
		}
		r, err := lbstats.Fetch(ctx, client, "http://"+net.JoinHostPort(addr, strconv.Itoa(s.Service.Port)))
		if err != nil {
			out.Problems = append(out.Problems, fmt.Sprintf("node %s: %v", s.Node.Node, err))
			continue
		}
		if r.Apply != nil && r.Apply.Failing {
			out.Problems = append(out.Problems, fmt.Sprintf("node %s: its HAProxy's apply step is failing: it may not route the candidate's share as asked (strata status says why)", s.Node.Node))
		}
		out.Reports = append(out.Reports, r)
	}
	return out
}

// SampleOf returns the counters of app's versions in the reports, and the
// problems: the reports' own, and any report without usable counters.
func (r Reports) SampleOf(app string) (Sample, []string) {
	s := Sample{Time: r.Time, Nodes: map[string]map[string]map[string]Counts{}}
	problems := append([]string(nil), r.Problems...)
	for _, rep := range r.Reports {
		if err := addReport(&s, rep, app); err != nil {
			problems = append(problems, err.Error())
		}
	}
	return s, problems
}
