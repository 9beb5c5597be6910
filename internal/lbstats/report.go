package lbstats

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/strata-dev/strata/internal/haproxy"
	"github.com/strata-dev/strata/internal/naming"
)

// MasterSocketName is the file name of HAProxy's master CLI socket in the
// allocation directory ($NOMAD_ALLOC_DIR) that the HAProxy task and the
// lbstats sidecar share.
const MasterSocketName = "haproxy-master.sock"

// BackendPrefix starts the name of every backend strata renders for a
// version: be_<app>_<version>.
const BackendPrefix = "be_"

// Report is what one HAProxy says about its sessions at one moment.
type Report struct {
	// Node names the node whose HAProxy this is (its Nomad node ID).
	Node string `json:"node"`
	// Time is when the count began, in UTC: every worker was asked at or
	// after Time, so a session the count missed began after it.
	Time time.Time `json:"time"`
	// Workers is how many workers, current and old, the master listed when
	// the count began. It is for people reading the report: Versions
	// already sums every worker.
	Workers int `json:"workers"`
	// Versions holds the current sessions of every version configured in
	// any worker, by app and then version, 0 when idle.
	Versions map[string]map[string]int `json:"versions"`
	// Other holds the current sessions of every backend that is not a
	// strata version, by backend name, for visibility only.
	Other map[string]int `json:"other"`
}

// Validate reports whether r is complete and well formed: a node, a time, at
// least one worker, a versions object (possibly empty) whose apps and
// versions follow strata's grammars, and no negative count. [Fetch] and the
// handler refuse reports that do not validate.
func (r Report) Validate() error {
	var errs []error
	if r.Node == "" {
		errs = append(errs, errors.New("no node"))
	}
	if r.Time.IsZero() {
		errs = append(errs, errors.New("no time"))
	}
	if r.Workers < 1 {
		errs = append(errs, fmt.Errorf("workers is %d, want at least 1", r.Workers))
	}
	if r.Versions == nil {
		errs = append(errs, errors.New("no versions object"))
	}
	for app, versions := range r.Versions {
		if !naming.ValidApp(app) {
			errs = append(errs, fmt.Errorf("versions: %q is not a valid app name (%s)", app, naming.AppGrammar))
		}
		if versions == nil {
			errs = append(errs, fmt.Errorf("versions.%s: null, want an object", app))
		}
		for v, n := range versions {
			if !naming.ValidVersion(v) {
				errs = append(errs, fmt.Errorf("versions.%s: %q is not a valid version (%s)", app, v, naming.VersionGrammar))
			}
			if n < 0 {
				errs = append(errs, fmt.Errorf("versions.%s.%s: %d sessions", app, v, n))
			}
		}
	}
	for name, n := range r.Other {
		if n < 0 {
			errs = append(errs, fmt.Errorf("other.%s: %d sessions", name, n))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	what := "report"
	if r.Node != "" {
		what = fmt.Sprintf("report of node %q", r.Node)
	}
	return fmt.Errorf("invalid %s: %w", what, errors.Join(errs...))
}

// ParseBackend splits a backend name strata renders, be_<app>_<version>,
// into its app and version. ok is false for any other name, including one of
// that shape whose app or version breaks strata's grammar.
func ParseBackend(name string) (app, version string, ok bool) {
	rest, found := strings.CutPrefix(name, BackendPrefix)
	if !found {
		return "", "", false
	}
	app, version, found = strings.Cut(rest, "_")
	if !found || !naming.ValidApp(app) || !naming.ValidVersion(version) {
		return "", "", false
	}
	return app, version, true
}

// classify sorts the session counts of backends into versions and others.
// Both maps are non-nil.
func classify(sessions map[string]int) (versions map[string]map[string]int, other map[string]int) {
	versions = make(map[string]map[string]int)
	other = make(map[string]int)
	for name, n := range sessions {
		app, v, ok := ParseBackend(name)
		if !ok {
			other[name] = n
			continue
		}
		if versions[app] == nil {
			versions[app] = make(map[string]int)
		}
		versions[app][v] = n
	}
	return versions, other
}

// Collect counts the sessions of every backend of the HAProxy behind m, in
// its current worker and every old worker, and returns them as node's
// Report, stamped with now (time.Now when nil) taken as the count begins.
// Any error fails the whole count: Collect never returns a partial report.
func Collect(ctx context.Context, m *haproxy.Master, now func() time.Time, node string) (Report, error) {
	if m == nil {
		return Report{}, errors.New("lbstats: no HAProxy master to ask")
	}
	if node == "" {
		return Report{}, errors.New("lbstats: no node name for the report")
	}
	if now == nil {
		now = time.Now
	}
	start := now().UTC()
	procs, err := m.Procs(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("lbstats: listing HAProxy's workers: %w", err)
	}
	workers := 0
	for _, p := range procs {
		if p.Worker() {
			workers++
		}
	}
	if workers == 0 {
		return Report{}, fmt.Errorf("lbstats: the HAProxy master at %s lists no worker", m.Socket)
	}
	sessions, err := m.Sessions(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("lbstats: %w", err)
	}
	versions, other := classify(sessions)
	r := Report{Node: node, Time: start, Workers: workers, Versions: versions, Other: other}
	if err := r.Validate(); err != nil {
		return Report{}, fmt.Errorf("lbstats: %w", err)
	}
	return r, nil
}
