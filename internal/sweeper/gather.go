package sweeper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/lbstats"
	"github.com/strata-dev/strata/internal/naming"
)

// Services the sweeper finds in Consul's catalog.
const (
	// HAProxyService is every HAProxy's stats service.
	HAProxyService = naming.HAProxyService
	// LBStatsService is every HAProxy's lbstats sidecar.
	LBStatsService = naming.LBStatsService
	// HAProxyJobID is the HAProxy system job.
	HAProxyJobID = naming.HAProxyJobID
)

// ManagedFilter selects strata's versions in Nomad's job list.
const ManagedFilter = `Meta["` + naming.MetaManaged + `"] == "true"`

// Sources are the systems a pass reads and writes: thin adapters, no
// decisions.
type Sources struct {
	Nomad  *nomadapi.Client
	Consul *consulapi.Client
	// HTTP fetches the lbstats reports.
	HTTP *http.Client
	// Namespace is the Nomad namespace the managed jobs live in; "*" reads
	// every namespace.
	Namespace string
	// MinAge is the largest min_age of any policy: a job whose latest
	// version is older than that is old enough without reading its first
	// version, which saves a call per job.
	MinAge time.Duration
}

// Calls counts the API requests of a pass, by system.
type Calls struct {
	Nomad, Consul, LBStats int
}

// Total is the number of requests.
func (c Calls) Total() int { return c.Nomad + c.Consul + c.LBStats }

// Indexes are the Consul KV modify indexes a pass read, for the
// check-and-set of its writes.
type Indexes struct {
	// Draining holds each draining key's index, by app and version.
	Draining map[string]map[string]uint64
	// Live holds each app's strata/<app>/live index; absent when the key
	// was not set.
	Live map[string]uint64
}

// Gather reads one inventory. A source that cannot be read is recorded in
// Inventory.Failures (so Decide retires nothing) rather than returned: the
// pass still reports what it knows.
func Gather(ctx context.Context, src Sources, now time.Time) (Inventory, Indexes, Calls) {
	inv := Inventory{Live: map[string]string{}, Cohorts: map[string][]string{}, Rollouts: map[string]string{}, Draining: map[string]map[string]time.Time{},
		Sessions: map[string]map[string]int{}, Deployments: map[string]map[string]Deployment{}}
	idx := Indexes{Draining: map[string]map[string]uint64{}, Live: map[string]uint64{}}
	var calls Calls
	if err := gatherJobs(ctx, src, now, &inv, &calls); err != nil {
		inv.Failures = append(inv.Failures, "Nomad ("+err.Error()+")")
	}
	if err := gatherHAProxyAllocs(ctx, src, &inv, &calls); err != nil {
		inv.Failures = append(inv.Failures, "Nomad, the "+HAProxyJobID+" job's allocations ("+err.Error()+")")
	}
	if err := gatherKV(ctx, src, now, &inv, idx, &calls); err != nil {
		inv.Failures = append(inv.Failures, "Consul KV ("+err.Error()+")")
	}
	complete, err := gatherSessions(ctx, src, &inv, &calls)
	if err != nil {
		inv.Failures = append(inv.Failures, "Consul catalog ("+err.Error()+")")
	}
	inv.SessionsComplete = complete && err == nil
	return inv, idx, calls
}

func gatherJobs(ctx context.Context, src Sources, now time.Time, inv *Inventory, calls *Calls) error {
	q := (&nomadapi.QueryOptions{Namespace: src.Namespace, Filter: ManagedFilter, Params: map[string]string{"meta": "true"}}).WithContext(ctx)
	calls.Nomad++
	stubs, _, err := src.Nomad.Jobs().List(q)
	if err != nil {
		return err
	}
	newestWorker := map[string]*nomadapi.JobListStub{}
	for _, s := range stubs {
		app, version := s.Meta[naming.MetaApp], s.Meta[naming.MetaVersion]
		if !naming.ValidApp(app) || !naming.ValidVersion(version) || s.ID != naming.JobID(app, version) {
			// Not a job strata generated, whatever its meta says.
			continue
		}
		j := Job{ID: s.ID, Namespace: s.Namespace, App: app, Version: version, Kind: s.Meta[naming.MetaKind],
			Stopped: s.Stop || s.Status == "dead", FirstSubmit: time.Unix(0, s.SubmitTime)}
		if now.Sub(j.FirstSubmit) < src.MinAge && s.JobModifyIndex != s.CreateIndex {
			// Re-registered recently: its age is its first version's.
			calls.Nomad++
			versions, _, _, err := src.Nomad.Jobs().Versions(s.ID, false, (&nomadapi.QueryOptions{Namespace: s.Namespace}).WithContext(ctx))
			if err != nil {
				return fmt.Errorf("versions of %s: %w", s.ID, err)
			}
			for _, v := range versions {
				if v.SubmitTime != nil && time.Unix(0, *v.SubmitTime).Before(j.FirstSubmit) {
					j.FirstSubmit = time.Unix(0, *v.SubmitTime)
				}
			}
		}
		if !j.Stopped && troubled(s) {
			// Only a job with failed or lost allocations is asked for its
			// deployment: a healthy fleet costs no call per job.
			calls.Nomad++
			d, _, err := src.Nomad.Jobs().LatestDeployment(s.ID, (&nomadapi.QueryOptions{Namespace: s.Namespace}).WithContext(ctx))
			if err != nil {
				return fmt.Errorf("deployment of %s: %w", s.ID, err)
			}
			if d != nil && d.Status == nomadapi.DeploymentStatusFailed {
				j.DeploymentFailed, j.DeploymentDescription = true, d.StatusDescription
			}
		}
		inv.Jobs = append(inv.Jobs, j)
		if j.Kind == KindWorker && !j.Stopped {
			if cur, ok := newestWorker[app]; !ok || naming.CompareVersions(version, cur.Meta[naming.MetaVersion]) > 0 {
				newestWorker[app] = s
			}
		}
	}
	// A worker app's hand-off is its newest version's deployment.
	for app, s := range newestWorker {
		calls.Nomad++
		d, _, err := src.Nomad.Jobs().LatestDeployment(s.ID, (&nomadapi.QueryOptions{Namespace: s.Namespace}).WithContext(ctx))
		if err != nil {
			return fmt.Errorf("deployment of %s: %w", s.ID, err)
		}
		dep := Deployment{}
		if d != nil && d.Status == nomadapi.DeploymentStatusSuccessful {
			dep = Deployment{Healthy: true, Since: time.Unix(0, d.ModifyTime)}
		}
		inv.Deployments[app] = map[string]Deployment{s.Meta[naming.MetaVersion]: dep}
	}
	return nil
}

// gatherHAProxyAllocs reads where Nomad runs the HAProxy system job, in
// Namespace: one request. A job that does not exist has no allocations.
func gatherHAProxyAllocs(ctx context.Context, src Sources, inv *Inventory, calls *Calls) error {
	calls.Nomad++
	allocs, _, err := src.Nomad.Jobs().Allocations(HAProxyJobID, false, (&nomadapi.QueryOptions{Namespace: src.Namespace}).WithContext(ctx))
	if err != nil {
		return err
	}
	for _, a := range allocs {
		switch a.ClientStatus {
		case nomadapi.AllocClientStatusRunning, nomadapi.AllocClientStatusUnknown, nomadapi.AllocClientStatusLost:
			inv.HAProxyAllocs = append(inv.HAProxyAllocs, HAProxyAlloc{Node: a.NodeName, Status: a.ClientStatus})
		}
	}
	return nil
}

// troubled reports whether a job's summary shows failed or lost
// allocations: the sign of a deployment that may have failed.
func troubled(s *nomadapi.JobListStub) bool {
	if s.JobSummary == nil {
		return false
	}
	for _, g := range s.JobSummary.Summary {
		if g.Failed > 0 || g.Lost > 0 {
			return true
		}
	}
	return false
}

// gatherKV reads every app's routing state in one request.
func gatherKV(ctx context.Context, src Sources, now time.Time, inv *Inventory, idx Indexes, calls *Calls) error {
	calls.Consul++
	pairs, _, err := src.Consul.KV().List("strata/", (&consulapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return err
	}
	for _, p := range pairs {
		parts := strings.Split(p.Key, "/")
		if len(parts) < 3 || !naming.ValidApp(parts[1]) {
			continue
		}
		app := parts[1]
		switch {
		case len(parts) == 3 && parts[2] == "live":
			idx.Live[app] = p.ModifyIndex
			if v := strings.TrimSpace(string(p.Value)); naming.ValidVersion(v) {
				inv.Live[app] = v
			}
		case len(parts) == 4 && parts[2] == "cohorts":
			if v := cohortVersion(p.Value); v != "" {
				inv.Cohorts[app] = append(inv.Cohorts[app], v)
			}
		case len(parts) == 3 && parts[2] == "rollout":
			if v := rolloutCandidate(p.Value); v != "" {
				inv.Rollouts[app] = v
			}
		case len(parts) == 4 && parts[2] == "draining" && naming.ValidVersion(parts[3]):
			since, err := time.Parse(time.RFC3339, strings.TrimSpace(string(p.Value)))
			if err != nil {
				// An unreadable timestamp starts the grace now: never sooner.
				since = now
			}
			if inv.Draining[app] == nil {
				inv.Draining[app] = map[string]time.Time{}
				idx.Draining[app] = map[string]uint64{}
			}
			inv.Draining[app][parts[3]] = since
			idx.Draining[app][parts[3]] = p.ModifyIndex
		}
	}
	return nil
}

// gatherSessions reads every lbstats instance registered in Consul, and
// records every node that has an HAProxy or an lbstats with its own checks
// (Decide doubts a node that is not passing). It reports complete only if
// every lbstats answered.
func gatherSessions(ctx context.Context, src Sources, inv *Inventory, calls *Calls) (bool, error) {
	calls.Consul += 2
	haproxies, _, err := src.Consul.Health().Service(HAProxyService, "", false, (&consulapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return false, err
	}
	stats, _, err := src.Consul.Health().Service(LBStatsService, "", false, (&consulapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return false, err
	}
	nodes := map[string]*HAProxyNode{}
	node := func(e *consulapi.ServiceEntry) *HAProxyNode {
		n, ok := nodes[e.Node.Node]
		if !ok {
			n = &HAProxyNode{Name: e.Node.Node}
			for _, c := range e.Checks {
				if c.ServiceID == "" && c.Status != consulapi.HealthPassing {
					n.Failing = append(n.Failing, c.CheckID+" is "+c.Status)
				}
			}
			nodes[e.Node.Node] = n
		}
		return n
	}
	for _, h := range haproxies {
		node(h).HAProxy = true
	}
	for _, s := range stats {
		node(s).LBStats = true
	}
	names := slices.Sorted(maps.Keys(nodes))
	for _, name := range names {
		inv.Nodes = append(inv.Nodes, *nodes[name])
	}
	var errs []error
	for _, s := range stats {
		addr := s.Service.Address
		if addr == "" {
			addr = s.Node.Address
		}
		calls.LBStats++
		r, err := lbstats.Fetch(ctx, src.HTTP, "http://"+net.JoinHostPort(addr, strconv.Itoa(s.Service.Port)))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for i := range inv.Nodes {
			if inv.Nodes[i].Name == s.Node.Node {
				inv.Nodes[i].Workers += r.Workers
				inv.Nodes[i].Apply = r.Apply
			}
		}
		for app, versions := range r.Versions {
			if inv.Sessions[app] == nil {
				inv.Sessions[app] = map[string]int{}
			}
			for v, n := range versions {
				inv.Sessions[app][v] += n
			}
		}
	}
	if len(errs) > 0 {
		inv.Failures = append(inv.Failures, "lbstats ("+errors.Join(errs...).Error()+")")
		return false, nil
	}
	return true, nil
}

// cohortVersion returns the valid version a cohort's JSON names, or "".
func cohortVersion(value []byte) string {
	var c struct {
		Version string `json:"version"`
	}
	if json.Unmarshal(value, &c) != nil || !naming.ValidVersion(c.Version) {
		return ""
	}
	return c.Version
}

// rolloutCandidate returns the valid candidate of a rollout in progress
// (state running or paused: HAProxy may send it new sessions), or "".
func rolloutCandidate(value []byte) string {
	var r struct {
		Candidate string `json:"candidate"`
		State     string `json:"state"`
	}
	if json.Unmarshal(value, &r) != nil || !naming.ValidVersion(r.Candidate) || (r.State != "running" && r.State != "paused") {
		return ""
	}
	return r.Candidate
}
