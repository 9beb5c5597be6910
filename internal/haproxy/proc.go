package haproxy

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Role says what a process listed by "show proc" is, from the section that
// lists it.
type Role int

const (
	// RoleMaster is the master process, the first line of "show proc".
	RoleMaster Role = iota + 1
	// RoleCurrent is a worker listed under "# workers": it runs the
	// configuration of the last successful reload and accepts new
	// connections.
	RoleCurrent
	// RoleOld is a worker listed under "# old workers": an earlier reload
	// replaced it, and it lives on only while it still holds connections.
	RoleOld
	// RoleProgram is a process of a "program" section, under "# programs".
	RoleProgram
	// RoleOldProgram is a program process under "# old programs".
	RoleOldProgram
)

// String returns the role as "show proc" would name its section.
func (r Role) String() string {
	switch r {
	case RoleMaster:
		return "master"
	case RoleCurrent:
		return "current worker"
	case RoleOld:
		return "old worker"
	case RoleProgram:
		return "program"
	case RoleOldProgram:
		return "old program"
	}
	return "Role(" + strconv.Itoa(int(r)) + ")"
}

// Proc is one line of "show proc".
type Proc struct {
	// PID is the process ID.
	PID int
	// Role says whether this is the master, a current or old worker, or a
	// program.
	Role Role
	// Type is the <type> column: "master", "worker", or a program's name.
	Type string
	// Reloads is the <reloads> column. For the master it counts every
	// reload since it started, failed ones included; for a worker, the
	// reloads it has lived through (0 for a worker started by the last
	// reload).
	Reloads int
	// FailedReloads is the master's "[failed: N]": the reloads that failed
	// since the last successful one, which resets it to 0. Always 0 for
	// other processes.
	FailedReloads int
	// Uptime is the <uptime> column, to the second.
	Uptime time.Duration
	// Version is the <version> column: HAProxy's version, "-" for programs.
	Version string
}

// Worker reports whether p is a current or old worker, that is a process
// that serves connections and answers "@!<pid> show stat".
func (p Proc) Worker() bool { return p.Role == RoleCurrent || p.Role == RoleOld }

// Procs runs "show proc" and returns its processes in the order listed: the
// master, the current workers, the old workers, then programs.
func (m *Master) Procs(ctx context.Context) ([]Proc, error) {
	out, err := m.query(ctx, "show proc")
	if err != nil {
		return nil, err
	}
	procs, err := ParseProcs(out)
	if err != nil {
		return nil, fmt.Errorf("haproxy master CLI %s: %w", m.Socket, err)
	}
	return procs, nil
}

// procHeader is the header line of "show proc" on HAProxy 2.6, with its
// padding collapsed to single spaces.
const procHeader = "#<PID> <type> <reloads> <uptime> <version>"

// sectionRole returns the role of the lines that follow a section line of
// "show proc".
func sectionRole(line string) (Role, bool) {
	switch line {
	case "# workers":
		return RoleCurrent, true
	case "# old workers":
		return RoleOld, true
	case "# programs":
		return RoleProgram, true
	case "# old programs":
		return RoleOldProgram, true
	}
	return 0, false
}

// ParseProcs parses the output of the master CLI's "show proc" as HAProxy
// 2.6 prints it (older versions had a <relative PID> column, which it
// rejects). It fails on any line it does not understand rather than
// guess, and when the output does not list exactly one master.
func ParseProcs(out string) ([]Proc, error) {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 || strings.TrimSpace(lines[0]) == "" {
		return nil, fmt.Errorf("show proc: empty answer")
	}
	if h := strings.Join(strings.Fields(lines[0]), " "); h != procHeader {
		return nil, fmt.Errorf("show proc: header %q, want the columns %s", lines[0], procHeader)
	}
	var procs []Proc
	role := RoleMaster
	masters := 0
	for i, line := range lines[1:] {
		lineNo := i + 2
		trimmed := strings.TrimSpace(line)
		if trimmed == "" {
			continue
		}
		if strings.HasPrefix(trimmed, "#") {
			r, ok := sectionRole(trimmed)
			if !ok {
				return nil, fmt.Errorf("show proc: line %d: unknown section %q", lineNo, trimmed)
			}
			role = r
			continue
		}
		p, err := parseProcLine(trimmed, role)
		if err != nil {
			return nil, fmt.Errorf("show proc: line %d %q: %w", lineNo, trimmed, err)
		}
		if p.Role == RoleMaster {
			masters++
		}
		procs = append(procs, p)
	}
	if masters != 1 {
		return nil, fmt.Errorf("show proc: %d master lines, want 1", masters)
	}
	// HAProxy 2.6 always ends the answer with the "# programs" section,
	// even when it is empty. Without it the answer was cut, and old
	// workers listed after the cut would silently go uncounted.
	if role != RoleProgram && role != RoleOldProgram {
		return nil, fmt.Errorf("show proc: the answer ends before its \"# programs\" section: cut short")
	}
	return procs, nil
}

func parseProcLine(line string, role Role) (Proc, error) {
	f := strings.Fields(line)
	if len(f) < 5 {
		return Proc{}, fmt.Errorf("%d columns, want 5", len(f))
	}
	p := Proc{Role: role, Type: f[1]}
	var err error
	if p.PID, err = strconv.Atoi(f[0]); err != nil || p.PID <= 0 {
		return Proc{}, fmt.Errorf("PID %q is not a positive number", f[0])
	}
	switch {
	case role == RoleMaster && p.Type != "master":
		return Proc{}, fmt.Errorf("type %q before the first section, want master", p.Type)
	case (role == RoleCurrent || role == RoleOld) && p.Type != "worker":
		return Proc{}, fmt.Errorf("type %q in a workers section, want worker", p.Type)
	}
	if p.Reloads, err = strconv.Atoi(f[2]); err != nil || p.Reloads < 0 {
		return Proc{}, fmt.Errorf("reloads %q is not a number", f[2])
	}
	rest := f[3:]
	// The master's reload counter is followed by "[failed: N]".
	if strings.HasPrefix(rest[0], "[failed:") {
		end := 0
		for end < len(rest) && !strings.HasSuffix(rest[end], "]") {
			end++
		}
		if end == len(rest) {
			return Proc{}, fmt.Errorf("unterminated %q", strings.Join(rest, " "))
		}
		n := strings.TrimSuffix(strings.TrimPrefix(strings.Join(rest[:end+1], ""), "[failed:"), "]")
		if p.FailedReloads, err = strconv.Atoi(n); err != nil || p.FailedReloads < 0 {
			return Proc{}, fmt.Errorf("failed reloads %q is not a number", n)
		}
		rest = rest[end+1:]
	}
	if len(rest) != 2 {
		return Proc{}, fmt.Errorf("want <uptime> <version> after <reloads>, got %q", strings.Join(rest, " "))
	}
	if p.Uptime, err = parseUptime(rest[0]); err != nil {
		return Proc{}, err
	}
	p.Version = rest[1]
	return p, nil
}

// parseUptime parses HAProxy's "0d00h11m48s".
func parseUptime(s string) (time.Duration, error) {
	var d, h, m, sec int
	if n, err := fmt.Sscanf(s, "%dd%dh%dm%ds", &d, &h, &m, &sec); err != nil || n != 4 {
		return 0, fmt.Errorf("uptime %q is not of the form 0d00h00m00s", s)
	}
	return time.Duration(d)*24*time.Hour + time.Duration(h)*time.Hour +
		time.Duration(m)*time.Minute + time.Duration(sec)*time.Second, nil
}

// masterOf returns the master among procs; ParseProcs guarantees one.
func masterOf(procs []Proc) Proc {
	for _, p := range procs {
		if p.Role == RoleMaster {
			return p
		}
	}
	return Proc{}
}

// pidsOf returns the PIDs of the processes in procs that have one of roles.
func pidsOf(procs []Proc, roles ...Role) map[int]bool {
	pids := make(map[int]bool)
	for _, p := range procs {
		for _, r := range roles {
			if p.Role == r {
				pids[p.PID] = true
			}
		}
	}
	return pids
}
