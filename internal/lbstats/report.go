package lbstats

import (
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/strata-dev/strata/internal/applystats"
	"github.com/strata-dev/strata/internal/naming"
)

// MasterSocketName is the file name of HAProxy's master CLI socket in the
// allocation directory ($NOMAD_ALLOC_DIR) that the HAProxy task and the
// lbstats sidecar share.
const MasterSocketName = "haproxy-master.sock"

// BackendPrefix starts the name of every backend strata renders for an app:
// its version slots, be_<app>_<n> ([ParseSlot]), and before slots one
// backend per version, be_<app>_<version> ([ParseBackend]).
const BackendPrefix = "be_"

// Report is what one HAProxy says about its sessions and its traffic at one
// moment.
//
// The sweeper reads Versions; the rollout controller reads Processes (and
// Traffic, their sum). A report from a sidecar older than the counters has
// neither Processes nor Traffic: [Report.Validate] accepts it (sessions are
// complete without them), [Report.ValidateTraffic] does not.
type Report struct {
	// Node names the node whose HAProxy this is (its Nomad node ID).
	Node string `json:"node"`
	// Time is when the count began, in UTC: every worker was asked at or
	// after Time, so a session the count missed began after it.
	Time time.Time `json:"time"`
	// Workers is the number of live HAProxy worker processes, current and
	// old, that the count read: one per entry of Processes. A worker that
	// exited while the count ran is not among them (it held nothing).
	Workers int `json:"workers"`
	// Versions holds the current sessions of every version configured in
	// any worker, by app and then version, summed over every worker, 0
	// when idle. A version missing from it holds no session on this
	// HAProxy: no worker routes to it.
	Versions map[string]map[string]int `json:"versions"`
	// Other holds the current sessions of every backend that is no
	// version in any worker, by backend name, for visibility only: other
	// proxies such as strata_stats, and version slots that no worker
	// assigns (always 0: a slot with sessions and no version fails the
	// count instead).
	Other map[string]int `json:"other"`
	// MasterPID is the HAProxy master's process ID: it changes when
	// HAProxy restarts (and its reload counter starts again at 0).
	MasterPID int `json:"master_pid,omitempty"`
	// Reloads is the master's reload counter when the count began: every
	// reload since the master started, failed ones included.
	Reloads int `json:"reloads"`
	// Processes describes every worker the count read, current first, with
	// its own cumulative counters per backend. Counters are per process:
	// a worker starts its counters at 0, and an old worker's counters
	// disappear with it when it exits, so only a per-process series is
	// monotonic. nil in a report from a sidecar older than the counters.
	Processes []Process `json:"processes,omitempty"`
	// Traffic sums the Traffic of every backend of every process, by app
	// and version. Because old workers exit and new ones start at 0, this
	// sum can go down: compute rates from Processes (see [Process]), and
	// use Traffic for display. nil in a report from a sidecar older than
	// the counters.
	Traffic map[string]map[string]Traffic `json:"traffic"`
	// Apply holds the counters of the apply step that changes this HAProxy
	// at run time (Failing says whether its last step failed), when the
	// sidecar reads them (Options.ApplyStats). nil outside a Nomad
	// allocation, before the first step, or when the file cannot be read:
	// /metrics then answers 503 and says why. Counting sessions never
	// depends on it.
	Apply *applystats.Stats `json:"apply,omitempty"`
}

// Process is one HAProxy worker process as one count saw it.
//
// # Computing a rate across reloads
//
// A worker's counters start at 0 when it starts and only grow while it
// lives; a reload starts a new worker and leaves the old one counting (it
// keeps its sessions) until it exits, when its counters leave the report.
// So a counter series is identified by
//
//	(Report.Node, Report.MasterPID, PID, Generation, backend name, App, Version)
//
// and is monotonic for as long as that key appears. Between two reports A
// (earlier) and B, the increase of a version is the sum, over the keys in B,
// of
//
//   - B's value minus A's, when the key is in A;
//   - B's value, when the key is not in A and its process started after A
//     (its PID is not among A's Processes): all of it happened after A;
//   - nothing (take B's value as a new baseline), when the key is not in A
//     but its process was: the backend was assigned the version between A
//     and B (a slot re-used, or a version added), and its counters still
//     hold what the slot served before.
//
// Keys in A but not in B (a worker that exited, a slot freed) lose at most
// what they counted after A. Never subtract across different keys: that is
// how a reload turns into a negative or an inflated rate.
type Process struct {
	// PID is the worker's process ID.
	PID int `json:"pid"`
	// Current is true for the current worker (it accepts new connections),
	// false for an old worker that a reload replaced and that lives on
	// while it holds connections.
	Current bool `json:"current"`
	// Generation is the master's reload counter when this worker started:
	// 0 for the first worker of a master, n for the worker the n-th reload
	// started (counting failed reloads, as the master does). With PID it
	// identifies the process, even if a PID is reused.
	Generation int `json:"generation"`
	// UptimeSeconds is how long the worker has run, to the second, as the
	// master reported it when the count began.
	UptimeSeconds int64 `json:"uptime_seconds"`
	// Backends holds, by backend name, every backend this worker routes to
	// a version: a slot be_<app>_<n> its own slots.map assigns, or a
	// backend named be_<app>_<version> by the naming from before slots.
	Backends map[string]Backend `json:"backends"`
}

// Backend is one backend of one worker, attributed to a version through
// that worker's own slots.map, with its cumulative counters in that worker.
type Backend struct {
	// App and Version are what the backend serves in this worker.
	App     string `json:"app"`
	Version string `json:"version"`
	// Sessions is the backend's current sessions (scur of its BACKEND row,
	// which counts sessions on servers in maintenance and in its queue).
	Sessions int `json:"sessions"`
	Traffic
}

// Traffic holds cumulative HTTP counters of a backend since its worker
// started, from the BACKEND row of "show stat".
type Traffic struct {
	// Requests counts the HTTP responses sent for the backend: the sum of
	// its BACKEND row's hrsp_1xx, hrsp_2xx, hrsp_3xx, hrsp_4xx, hrsp_5xx
	// and hrsp_other.
	//
	// Measured on HAProxy 2.6.12, the BACKEND row counts a request
	// (req_tot) and its response (hrsp_*) together, when the transaction
	// ends: a streaming response or a websocket counts when it closes, not
	// while it is open (it is a session then); an interim 100 Continue is
	// not counted, only the final status; a websocket's 101 is its one
	// response; a response HAProxy makes itself (503 after a refused
	// connection or with no usable server, 502 after a server hung up)
	// counts in hrsp_5xx and req_tot alike. req_tot and this sum moved
	// together in every case measured. The sum is used rather than req_tot
	// because it can never be smaller than Responses5xx, by construction,
	// so an error rate Responses5xx / Requests computed from one row never
	// exceeds 1, whatever moment another HAProxy version counts req_tot
	// at. Server rows are not used: they count responses as they start,
	// but not HAProxy's own 503 after a refused connection, the first sign
	// of a broken version.
	Requests int64 `json:"requests"`
	// Responses5xx counts 5xx responses (hrsp_5xx), including those HAProxy
	// made itself for the backend.
	Responses5xx int64 `json:"responses_5xx"`
	// ConnectionErrors counts failed connections to the backend's servers
	// (econ), retries included.
	ConnectionErrors int64 `json:"connection_errors"`
	// ResponseErrors counts responses that failed (eresp): a server that
	// closed or reset the connection, or sent an invalid response.
	ResponseErrors int64 `json:"response_errors"`
}

// Add returns the sum of t and u.
func (t Traffic) Add(u Traffic) Traffic {
	return Traffic{
		Requests:         t.Requests + u.Requests,
		Responses5xx:     t.Responses5xx + u.Responses5xx,
		ConnectionErrors: t.ConnectionErrors + u.ConnectionErrors,
		ResponseErrors:   t.ResponseErrors + u.ResponseErrors,
	}
}

// Validate reports whether r is complete and well formed: a node, a time, at
// least one worker, a versions object (possibly empty) whose apps and
// versions follow strata's grammars, and no negative count. When r carries
// Processes and Traffic (they come together), it also checks every process
// (one per worker, at least one current, distinct PIDs, generations within
// the master's reloads, backends that are slots of their app or named for
// their version, no negative counter, no more 5xx than responses) and that
// Versions and Traffic are exactly the sums of the processes' backends.
// [Fetch] and the handler refuse reports that do not validate.
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
	errs = append(errs, r.validateProcesses()...)
	return r.invalid(errs)
}

// ValidateTraffic is [Report.Validate] that also requires the per-worker
// counters (Processes and Traffic), which a sidecar older than them does not
// send. The rollout controller refuses a report that fails it: it never
// decides on incomplete data.
func (r Report) ValidateTraffic() error {
	if err := r.Validate(); err != nil {
		return err
	}
	if r.Processes == nil || r.Traffic == nil {
		return r.invalid([]error{errors.New("no processes and traffic: the lbstats sidecar predates per-worker counters")})
	}
	return nil
}

// validateProcesses checks Processes and Traffic when present: each process
// well formed, one entry per worker, at least one current, and Versions and
// Traffic exactly the sums of the processes' backends.
func (r Report) validateProcesses() []error {
	if r.Processes == nil && r.Traffic == nil {
		return nil
	}
	var errs []error
	if r.Processes == nil || r.Traffic == nil {
		return []error{errors.New("processes and traffic come together: one of them is missing")}
	}
	if len(r.Processes) != r.Workers {
		errs = append(errs, fmt.Errorf("%d processes for %d workers", len(r.Processes), r.Workers))
	}
	if r.Reloads < 0 {
		errs = append(errs, fmt.Errorf("reloads is %d", r.Reloads))
	}
	sessions := make(map[string]map[string]int)
	traffic := make(map[string]map[string]Traffic)
	pids := make(map[int]bool)
	current := 0
	for i, p := range r.Processes {
		at := fmt.Sprintf("processes[%d]", i)
		if p.PID <= 0 || pids[p.PID] {
			errs = append(errs, fmt.Errorf("%s: pid %d is not a new positive process ID", at, p.PID))
		}
		pids[p.PID] = true
		if p.Current {
			current++
		}
		if p.Generation < 0 || p.Generation > r.Reloads {
			errs = append(errs, fmt.Errorf("%s: generation %d, want 0 to the master's %d reloads", at, p.Generation, r.Reloads))
		}
		if p.UptimeSeconds < 0 {
			errs = append(errs, fmt.Errorf("%s: uptime %d", at, p.UptimeSeconds))
		}
		if p.Backends == nil {
			errs = append(errs, fmt.Errorf("%s: no backends object", at))
		}
		for name, b := range p.Backends {
			if err := b.validate(name); err != nil {
				errs = append(errs, fmt.Errorf("%s.backends.%s: %w", at, name, err))
				continue
			}
			if sessions[b.App] == nil {
				sessions[b.App] = make(map[string]int)
				traffic[b.App] = make(map[string]Traffic)
			}
			sessions[b.App][b.Version] += b.Sessions
			traffic[b.App][b.Version] = traffic[b.App][b.Version].Add(b.Traffic)
		}
	}
	if current == 0 && len(r.Processes) > 0 {
		errs = append(errs, errors.New("no current worker among the processes"))
	}
	if !equalNested(sessions, r.Versions) {
		errs = append(errs, fmt.Errorf("versions %v are not the sum of the processes' backends, %v", r.Versions, sessions))
	}
	if !equalNested(traffic, r.Traffic) {
		errs = append(errs, fmt.Errorf("traffic %v is not the sum of the processes' backends, %v", r.Traffic, traffic))
	}
	return errs
}

// validate checks one backend of a process, named name.
func (b Backend) validate(name string) error {
	if !naming.ValidApp(b.App) || !naming.ValidVersion(b.Version) {
		return fmt.Errorf("app %q, version %q: not an app and a version of strata's grammars", b.App, b.Version)
	}
	if app, _, ok := ParseSlot(name); ok {
		if app != b.App {
			return fmt.Errorf("a slot of app %s attributed to app %s", app, b.App)
		}
	} else if app, v, ok := ParseBackend(name); !ok || app != b.App || v != b.Version {
		return fmt.Errorf("neither a slot of %s nor the backend of %s %s", b.App, b.App, b.Version)
	}
	if b.Sessions < 0 || b.Requests < 0 || b.Responses5xx < 0 || b.ConnectionErrors < 0 || b.ResponseErrors < 0 {
		return fmt.Errorf("a negative count: %+v", b)
	}
	if b.Responses5xx > b.Requests {
		return fmt.Errorf("%d 5xx responses of %d responses", b.Responses5xx, b.Requests)
	}
	return nil
}

// equalNested reports whether two maps of maps hold the same values; a nil
// inner map equals an empty one.
func equalNested[V comparable](a, b map[string]map[string]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, av := range a {
		bv, ok := b[k]
		if !ok || !maps.Equal(av, bv) {
			return false
		}
	}
	return true
}

// invalid wraps errs, if any, as the error of an invalid report.
func (r Report) invalid(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	what := "report"
	if r.Node != "" {
		what = fmt.Sprintf("report of node %q", r.Node)
	}
	return fmt.Errorf("invalid %s: %w", what, errors.Join(errs...))
}

// ParseBackend splits the name of a backend of one version, as strata named
// them before version slots, be_<app>_<version>, into its app and version.
// ok is false for any other name: one of that shape whose app or version
// breaks strata's grammar, and a slot ([ParseSlot]), whose "version" is all
// digits.
func ParseBackend(name string) (app, version string, ok bool) {
	rest, found := strings.CutPrefix(name, BackendPrefix)
	if !found {
		return "", "", false
	}
	app, version, found = strings.Cut(rest, "_")
	if !found || !naming.ValidApp(app) || !naming.ValidVersion(version) || allDigits(version) {
		return "", "", false
	}
	return app, version, true
}

// ParseSlot splits the name of a version slot, be_<app>_<n>, into its app and
// number. ok is false for any other name. A slot serves whichever version
// the slots.map of its worker assigns it; n is all decimal digits (a version
// of only digits cannot be told from a slot, so such a name is always a
// slot).
func ParseSlot(name string) (app string, n int, ok bool) {
	rest, found := strings.CutPrefix(name, BackendPrefix)
	if !found {
		return "", 0, false
	}
	app, num, found := strings.Cut(rest, "_")
	if !found || !naming.ValidApp(app) || !allDigits(num) || len(num) > 9 {
		return "", 0, false
	}
	n, err := strconv.Atoi(num)
	if err != nil {
		return "", 0, false
	}
	return app, n, true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
