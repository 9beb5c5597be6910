package haproxy

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ErrProcessGone is wrapped by the error [Master.Stat] returns when the
// master no longer knows the worker: it has exited.
var ErrProcessGone = errors.New("haproxy process gone")

// errBadAnswer marks an answer to "show stat" that is empty, cut or not CSV.
// A worker that exits while the master relays its answer leaves one.
var errBadAnswer = errors.New("unexpected show stat answer")

// ProxyType is the type column of "show stat".
type ProxyType int

const (
	// TypeFrontend marks a FRONTEND row.
	TypeFrontend ProxyType = 0
	// TypeBackend marks a BACKEND row: the whole backend.
	TypeBackend ProxyType = 1
	// TypeServer marks the row of one server of a backend.
	TypeServer ProxyType = 2
	// TypeListener marks the row of one listener of a frontend.
	TypeListener ProxyType = 3
)

// String returns the name HAProxy puts in svname for frontends and backends,
// and "server" or "listener" for the others.
func (t ProxyType) String() string {
	switch t {
	case TypeFrontend:
		return "FRONTEND"
	case TypeBackend:
		return "BACKEND"
	case TypeServer:
		return "server"
	case TypeListener:
		return "listener"
	}
	return "ProxyType(" + strconv.Itoa(int(t)) + ")"
}

// StatRow is one row of "show stat".
type StatRow struct {
	// PxName is the proxy's name: the frontend, backend or listen section.
	PxName string
	// SvName is the server's name, or FRONTEND or BACKEND.
	SvName string
	// Type says what the row describes.
	Type ProxyType
	// Status is the status column: "UP", "DOWN", "OPEN", "STOP", "no
	// check", "MAINT"…
	Status string
	// Qcur is the number of requests queued (0 when the column is empty).
	Qcur int
	// Scur is the number of current sessions.
	Scur int
	// Smax is the highest number of sessions at once.
	Smax int
	// Stot is the number of sessions since the process started.
	Stot int64
	// Fields holds every column of the row by its name in the header, as
	// HAProxy wrote it.
	Fields map[string]string
}

// Stat runs "show stat" in the worker pid, through the master ("@!<pid> show
// stat"), and parses its rows. When the master no longer knows pid, the
// error wraps [ErrProcessGone].
func (m *Master) Stat(ctx context.Context, pid int) ([]StatRow, error) {
	return m.stat(ctx, pid, "show stat")
}

// StatBackends is [Master.Stat] restricted to the BACKEND rows ("@!<pid> show
// stat -1 2 -1"): what counting sessions and traffic per backend needs. With
// strata's pre-allocated servers (16 per slot) it is a small part of the
// whole answer, and the master relays it that much faster.
func (m *Master) StatBackends(ctx context.Context, pid int) ([]StatRow, error) {
	return m.stat(ctx, pid, "show stat -1 2 -1")
}

func (m *Master) stat(ctx context.Context, pid int, cmd string) ([]StatRow, error) {
	cmd = fmt.Sprintf("@!%d %s", pid, cmd)
	out, err := m.query(ctx, cmd)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(out, "Can't find the target PID") {
		return nil, fmt.Errorf("haproxy worker %d: %w: the master at %s answered %q",
			pid, ErrProcessGone, m.Socket, strings.TrimSpace(out))
	}
	rows, err := ParseStat(out)
	if err != nil {
		return nil, fmt.Errorf("haproxy worker %d, through the master at %s: %w", pid, m.Socket, err)
	}
	return rows, nil
}

// ParseStat parses the CSV answer of "show stat": a header line starting
// with "# pxname,svname", then one row per line, then an empty line. An
// answer without that final empty line was cut and is an error, as are rows
// with a different number of columns than the header and counts that do not
// parse.
func ParseStat(out string) ([]StatRow, error) {
	if strings.TrimSpace(out) == "" {
		return nil, fmt.Errorf("%w: empty answer", errBadAnswer)
	}
	if !strings.HasPrefix(out, "# pxname,svname,") {
		return nil, fmt.Errorf("%w: %q does not start with the header \"# pxname,svname,\"", errBadAnswer, firstLine(out))
	}
	if !strings.HasSuffix(out, "\n\n") {
		return nil, fmt.Errorf("%w: the answer does not end with an empty line: it was cut", errBadAnswer)
	}
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, "# ")))
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", errBadAnswer, err)
	}
	col := make(map[string]int, len(header))
	for i, name := range header {
		if name != "" {
			col[name] = i
		}
	}
	for _, name := range []string{"pxname", "svname", "qcur", "scur", "smax", "stot", "status", "type"} {
		if _, ok := col[name]; !ok {
			return nil, fmt.Errorf("%w: the header has no %s column", errBadAnswer, name)
		}
	}
	var rows []StatRow
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errBadAnswer, err)
		}
		row, err := statRow(header, col, rec)
		if err != nil {
			line, _ := r.FieldPos(0)
			return nil, fmt.Errorf("%w: line %d: %v", errBadAnswer, line, err)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func statRow(header []string, col map[string]int, rec []string) (StatRow, error) {
	row := StatRow{
		PxName: rec[col["pxname"]],
		SvName: rec[col["svname"]],
		Status: rec[col["status"]],
		Fields: make(map[string]string, len(header)),
	}
	for i, name := range header {
		if name != "" {
			row.Fields[name] = rec[i]
		}
	}
	num := func(name string) (int64, error) {
		v := rec[col[name]]
		if v == "" {
			return 0, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%s/%s: %s %q is not a count", row.PxName, row.SvName, name, v)
		}
		return n, nil
	}
	t, err := num("type")
	if err != nil {
		return StatRow{}, err
	}
	row.Type = ProxyType(t)
	for _, f := range []struct {
		name string
		dst  *int
	}{{"qcur", &row.Qcur}, {"scur", &row.Scur}, {"smax", &row.Smax}} {
		n, err := num(f.name)
		if err != nil {
			return StatRow{}, err
		}
		*f.dst = int(n)
	}
	if row.Stot, err = num("stot"); err != nil {
		return StatRow{}, err
	}
	return row, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	if len(line) > 80 {
		line = line[:80] + "…"
	}
	return line
}

// BackendSessions returns the current sessions (scur) of every backend in
// rows, from their BACKEND rows, by backend name.
func BackendSessions(rows []StatRow) map[string]int {
	s := make(map[string]int)
	for _, r := range rows {
		if r.Type == TypeBackend {
			s[r.PxName] += r.Scur
		}
	}
	return s
}

// unreadablePause is the first pause before a count starts over after a
// listed worker could not be read; it doubles with each attempt.
const unreadablePause = 100 * time.Millisecond

// errUnreadableWorker marks a worker that "show proc" still lists but whose
// answer was unusable.
var errUnreadableWorker = errors.New("is still listed by show proc")

// Sessions returns the current sessions of every backend, summed over the
// current worker and every old worker: old workers keep the sessions they
// held when a reload replaced them, such as a long websocket. It counts the
// BACKEND rows of "show stat", which include sessions waiting in the
// backend's queue.
//
// Every backend configured in any worker is in the map, with 0 when idle, so
// a backend missing from it is unknown to this HAProxy.
//
// A worker listed by "show proc" that has exited by the time it is asked
// held no sessions and counts 0; that is decided by the master (see the
// package documentation). Any other error fails the whole count: an HAProxy
// that cannot be read is not proof that a backend is idle. When a worker
// started while Sessions counted (a reload), it counts again; it makes one
// [Master.Snapshot] without maps, so at most five attempts.
//
// A worker that answered nothing usable yet is still listed is most often an
// old worker in the middle of exiting; Sessions counts again after a short
// pause, and fails only when that worker is still listed and unreadable on
// the last attempt.
func (m *Master) Sessions(ctx context.Context) (map[string]int, error) {
	snap, err := m.Snapshot(ctx, nil)
	if err != nil {
		return nil, err
	}
	counts := make(map[string]int)
	for _, w := range snap.Workers {
		for name, n := range BackendSessions(w.Stat) {
			counts[name] += n
		}
	}
	return counts, nil
}
