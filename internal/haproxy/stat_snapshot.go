package haproxy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// snapshotAttempts bounds how often Snapshot starts over because a reload
// started a worker, a selected map changed while a worker was read, or a
// listed worker could not be read.
const snapshotAttempts = 5

// errMapChanged marks a selected map that changed while its worker's
// statistics were read.
var errMapChanged = errors.New("changed while its statistics were read")

// Snapshot is one reading of every worker of an HAProxy: its statistics and
// the maps the caller selected, taken so that they belong together.
type Snapshot struct {
	// Master is the master process as "show proc" listed it before the
	// workers were read.
	Master Proc
	// Workers holds what every worker answered, current workers first, in
	// the order "show proc" listed them. A worker that exited before it
	// could be read held no connection and is not in it.
	Workers []WorkerSnapshot
}

// WorkerSnapshot is what one worker answered during a [Master.Snapshot].
type WorkerSnapshot struct {
	// Proc is the worker as "show proc" listed it.
	Proc Proc
	// Generation is the master's reload counter when the worker started:
	// the master's Reloads minus the worker's (both count every reload,
	// failed ones included, so the difference is fixed for the worker's
	// life).
	Generation int
	// Stat holds the BACKEND rows of the worker's "show stat"
	// ([Master.StatBackends]).
	Stat []StatRow
	// Maps holds the entries of every map of the worker whose file the
	// caller selected, by file name as "show map" lists it. Each map read
	// the same before and after Stat was.
	Maps map[string][]MapEntry
}

// Snapshot reads every worker, current and old, through the master: the
// BACKEND rows of "show stat", and the maps whose file name selectMap accepts (none when nil),
// each read before and after "show stat" and equal both times, so that a
// map and the statistics it describes belong together even while the
// runtime API changes the map. It starts over when a map changed
// meanwhile, when a reload started a worker while it read the others, or
// when a listed worker answered nothing usable (an old worker exiting,
// after a short pause), at most five times.
//
// A worker listed by "show proc" that has exited by the time it is asked is
// left out, as [Master.Sessions] counts it: it held no connection. Any other
// error fails the whole snapshot.
func (m *Master) Snapshot(ctx context.Context, selectMap func(file string) bool) (Snapshot, error) {
	var last error
	for attempt := 0; attempt < snapshotAttempts; attempt++ {
		s, newPIDs, err := m.snapshotPass(ctx, selectMap)
		switch {
		case errors.Is(err, errUnreadableWorker) && attempt < snapshotAttempts-1:
			select {
			case <-ctx.Done():
				return Snapshot{}, fmt.Errorf("%w (%w)", err, ctx.Err())
			case <-time.After(unreadablePause << min(attempt, 3)):
			}
			last = err
			continue
		case errors.Is(err, errMapChanged) && attempt < snapshotAttempts-1:
			last = err
			continue
		case err != nil:
			return Snapshot{}, err
		case len(newPIDs) > 0:
			last = fmt.Errorf("workers kept starting while they were read (last new worker(s) %v)", newPIDs)
			continue
		}
		return s, nil
	}
	return Snapshot{}, fmt.Errorf("haproxy snapshot through the master at %s: %d attempts: %w", m.Socket, snapshotAttempts, last)
}

// snapshotPass makes one pass: "show proc", every worker, then "show proc"
// again to see which workers exited and which started meanwhile. It returns
// the PIDs of workers that started, which it did not read.
func (m *Master) snapshotPass(ctx context.Context, selectMap func(string) bool) (Snapshot, []int, error) {
	before, err := m.Procs(ctx)
	if err != nil {
		return Snapshot{}, nil, fmt.Errorf("haproxy snapshot: %w", err)
	}
	if len(pidsOf(before, RoleCurrent)) == 0 {
		return Snapshot{}, nil, fmt.Errorf("haproxy snapshot: the master at %s lists no current worker", m.Socket)
	}
	master := masterOf(before)
	s := Snapshot{Master: master}
	maybeGone := make(map[int]error)
	for _, p := range before {
		if !p.Worker() {
			continue
		}
		w, err := m.readWorker(ctx, p, selectMap)
		switch {
		case err == nil:
			w.Generation = max(master.Reloads-p.Reloads, 0)
			s.Workers = append(s.Workers, w)
		case errors.Is(err, ErrProcessGone), errors.Is(err, errBadAnswer):
			maybeGone[p.PID] = err
		default:
			return Snapshot{}, nil, fmt.Errorf("haproxy snapshot: %s %d: %w", p.Role, p.PID, err)
		}
	}
	after, err := m.Procs(ctx)
	if err != nil {
		return Snapshot{}, nil, fmt.Errorf("haproxy snapshot: %w", err)
	}
	stillListed := pidsOf(after, RoleCurrent, RoleOld)
	for _, pid := range slices.Sorted(maps.Keys(maybeGone)) {
		if stillListed[pid] {
			return Snapshot{}, nil, fmt.Errorf("haproxy snapshot: worker %d %w: %w", pid, errUnreadableWorker, maybeGone[pid])
		}
	}
	workers := pidsOf(before, RoleCurrent, RoleOld)
	var started []int
	for _, p := range after {
		if p.Worker() && !workers[p.PID] {
			started = append(started, p.PID)
		}
	}
	return s, started, nil
}

// readWorker reads the selected maps of worker p, its statistics, and the
// maps again.
func (m *Master) readWorker(ctx context.Context, p Proc, selectMap func(string) bool) (WorkerSnapshot, error) {
	w := WorkerSnapshot{Proc: p}
	var selected []MapRef
	if selectMap != nil {
		refs, err := m.Maps(ctx, p.PID)
		if err != nil {
			return WorkerSnapshot{}, err
		}
		w.Maps = make(map[string][]MapEntry)
		for _, r := range refs {
			if !selectMap(r.File) {
				continue
			}
			if _, dup := w.Maps[r.File]; dup {
				return WorkerSnapshot{}, fmt.Errorf("worker %d lists the map %s twice", p.PID, r.File)
			}
			entries, err := m.MapEntries(ctx, p.PID, r.ID)
			if err != nil {
				return WorkerSnapshot{}, err
			}
			w.Maps[r.File] = entries
			selected = append(selected, r)
		}
	}
	rows, err := m.StatBackends(ctx, p.PID)
	if err != nil {
		return WorkerSnapshot{}, err
	}
	w.Stat = rows
	for _, r := range selected {
		entries, err := m.MapEntries(ctx, p.PID, r.ID)
		if err != nil {
			return WorkerSnapshot{}, err
		}
		if !slices.Equal(entries, w.Maps[r.File]) {
			return WorkerSnapshot{}, fmt.Errorf("the map %s %w", r.File, errMapChanged)
		}
	}
	return w, nil
}
