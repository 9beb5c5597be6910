package lbstats

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/strata-dev/strata/internal/haproxy"
	"github.com/strata-dev/strata/internal/naming"
)

// SlotsMapName is the file name of the map that assigns every version slot in
// use its version, one "be_<app>_<n> <app>/<version>" per line. Each worker
// loads its own copy and the runtime API changes the current worker's, so
// [Collect] reads it from every worker: an old worker may still hold an
// older assignment.
const SlotsMapName = "slots.map"

// IsSlotsMap reports whether file, a map's file name as "show map" lists it,
// is the slots map: SlotsMapName, or a path ending in /SlotsMapName.
func IsSlotsMap(file string) bool {
	return file == SlotsMapName || strings.HasSuffix(file, "/"+SlotsMapName)
}

// slotAssignments reads a worker's slots.map entries into versions by slot
// name. Every entry must name a slot and a version of the slot's app, once.
func slotAssignments(file string, entries []haproxy.MapEntry) (map[string][2]string, error) {
	slots := make(map[string][2]string, len(entries))
	for i, e := range entries {
		at := fmt.Sprintf("%s, entry %d (%s %s)", file, i+1, e.Key, e.Value)
		slotApp, _, ok := ParseSlot(e.Key)
		if !ok {
			return nil, fmt.Errorf("%s: %q is not a slot be_<app>_<n>", at, e.Key)
		}
		app, version, found := strings.Cut(strings.TrimSpace(e.Value), "/")
		if !found || app != slotApp || !naming.ValidVersion(version) {
			return nil, fmt.Errorf("%s: want %s/<version> (%s)", at, slotApp, naming.VersionGrammar)
		}
		if _, dup := slots[e.Key]; dup {
			return nil, fmt.Errorf("%s: the slot is assigned twice", at)
		}
		slots[e.Key] = [2]string{app, version}
	}
	return slots, nil
}

// counter reads a cumulative counter of a BACKEND row; empty is 0 (a TCP
// backend has no HTTP counters).
func counter(row haproxy.StatRow, name string) (int64, error) {
	v, ok := row.Fields[name]
	if !ok || v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("backend %s: %s %q is not a count", row.PxName, name, v)
	}
	return n, nil
}

// trafficOf reads the counters of a BACKEND row.
func trafficOf(row haproxy.StatRow) (Traffic, error) {
	var t Traffic
	for _, name := range []string{"hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other"} {
		n, err := counter(row, name)
		if err != nil {
			return Traffic{}, err
		}
		t.Requests += n
	}
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"hrsp_5xx", &t.Responses5xx}, {"econ", &t.ConnectionErrors}, {"eresp", &t.ResponseErrors}} {
		n, err := counter(row, f.name)
		if err != nil {
			return Traffic{}, err
		}
		*f.dst = n
	}
	return t, nil
}

// process attributes the BACKEND rows of one worker to versions through
// that worker's slots.map, adding the backends that are no version to
// other. A slot that the worker's slots.map does not assign is no version;
// holding sessions, it fails: those sessions belong to a version nobody can
// name, and dropping them could make a busy version look idle.
func process(w haproxy.WorkerSnapshot, other map[string]int) (Process, error) {
	p := Process{PID: w.Proc.PID, Current: w.Proc.Role == haproxy.RoleCurrent, Generation: w.Generation,
		UptimeSeconds: int64(w.Proc.Uptime / time.Second), Backends: make(map[string]Backend)}
	var slots map[string][2]string
	slotsFile := ""
	for file, entries := range w.Maps {
		if slotsFile != "" {
			return Process{}, fmt.Errorf("worker %d loads two slots maps, %s and %s", p.PID, slotsFile, file)
		}
		var err error
		if slots, err = slotAssignments(file, entries); err != nil {
			return Process{}, fmt.Errorf("worker %d: %w", p.PID, err)
		}
		slotsFile = file
	}
	for _, row := range w.Stat {
		if row.Type != haproxy.TypeBackend {
			continue
		}
		name := row.PxName
		app, version, ok := ParseBackend(name)
		if _, _, slot := ParseSlot(name); slot {
			assigned, found := slots[name]
			if !found {
				if row.Scur > 0 {
					where := "loads no " + SlotsMapName
					if slotsFile != "" {
						where = "has no entry for it in " + slotsFile
					}
					return Process{}, fmt.Errorf("worker %d: slot %s holds %d sessions but the worker %s: they belong to no known version",
						p.PID, name, row.Scur, where)
				}
				other[name] += 0
				continue
			}
			app, version, ok = assigned[0], assigned[1], true
		}
		if !ok {
			other[name] += row.Scur
			continue
		}
		t, err := trafficOf(row)
		if err != nil {
			return Process{}, fmt.Errorf("worker %d: %w", p.PID, err)
		}
		p.Backends[name] = Backend{App: app, Version: version, Sessions: row.Scur, Traffic: t}
	}
	return p, nil
}

// FromSnapshot makes node's report, stamped start, from a snapshot of every
// worker of its HAProxy: each worker's backends attributed to versions
// through its own slots.map, and the sums. It does not validate the report.
func FromSnapshot(node string, start time.Time, snap haproxy.Snapshot) (Report, error) {
	r := Report{Node: node, Time: start, Workers: len(snap.Workers), MasterPID: snap.Master.PID, Reloads: snap.Master.Reloads,
		Versions: make(map[string]map[string]int), Other: make(map[string]int),
		Processes: make([]Process, 0, len(snap.Workers)), Traffic: make(map[string]map[string]Traffic)}
	for _, w := range snap.Workers {
		p, err := process(w, r.Other)
		if err != nil {
			return Report{}, err
		}
		for _, b := range p.Backends {
			if r.Versions[b.App] == nil {
				r.Versions[b.App] = make(map[string]int)
				r.Traffic[b.App] = make(map[string]Traffic)
			}
			r.Versions[b.App][b.Version] += b.Sessions
			r.Traffic[b.App][b.Version] = r.Traffic[b.App][b.Version].Add(b.Traffic)
		}
		r.Processes = append(r.Processes, p)
	}
	// A backend that is a version in one worker is not "other" in another.
	for name := range r.Other {
		for _, p := range r.Processes {
			if _, ok := p.Backends[name]; ok && r.Other[name] == 0 {
				delete(r.Other, name)
				break
			}
		}
	}
	return r, nil
}

// Collect reads every worker of the HAProxy behind m, current and old, with
// [haproxy.Master.Snapshot] (their statistics and their slots.map), and
// returns node's Report, stamped with now (time.Now when nil) taken as the
// count begins. Any error fails the whole count: Collect never returns a
// partial report.
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
	snap, err := m.Snapshot(ctx, IsSlotsMap)
	if err != nil {
		return Report{}, fmt.Errorf("lbstats: %w", err)
	}
	r, err := FromSnapshot(node, start, snap)
	if err != nil {
		return Report{}, fmt.Errorf("lbstats: HAProxy master %s: %w", m.Socket, err)
	}
	if err := r.Validate(); err != nil {
		return Report{}, fmt.Errorf("lbstats: %w", err)
	}
	return r, nil
}
