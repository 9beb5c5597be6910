package haproxy

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// ServerOpState is a server's operational state, the srv_op_state column of
// "show servers state".
type ServerOpState int

const (
	// OpStopped is a server that is down (or in maintenance).
	OpStopped ServerOpState = 0
	// OpStarting is a server coming up: its checks are passing, not yet
	// enough of them.
	OpStarting ServerOpState = 1
	// OpRunning is a server taking traffic. A server without health
	// checks is running as soon as it is not in maintenance.
	OpRunning ServerOpState = 2
	// OpStopping is a server going down: its checks are failing, not yet
	// enough of them.
	OpStopping ServerOpState = 3
)

// String returns the state's name: stopped, starting, running or stopping.
func (s ServerOpState) String() string {
	switch s {
	case OpStopped:
		return "stopped"
	case OpStarting:
		return "starting"
	case OpRunning:
		return "running"
	case OpStopping:
		return "stopping"
	}
	return "ServerOpState(" + strconv.Itoa(int(s)) + ")"
}

// AdminFlags are a server's administrative state flags, the
// srv_admin_state column of "show servers state" (HAProxy's enum srv_admin).
type AdminFlags uint

const (
	// AdminForcedMaint is set by "set server ... state maint".
	AdminForcedMaint AdminFlags = 0x01
	// AdminInheritedMaint is inherited from a tracked server.
	AdminInheritedMaint AdminFlags = 0x02
	// AdminConfigMaint marks a server declared "disabled" in the
	// configuration. It stays set after "state ready": alone it does not
	// keep the server in maintenance.
	AdminConfigMaint AdminFlags = 0x04
	// AdminForcedDrain is set by "set server ... state drain".
	AdminForcedDrain AdminFlags = 0x08
	// AdminInheritedDrain is inherited from a tracked server.
	AdminInheritedDrain AdminFlags = 0x10
	// AdminResolutionMaint is set while the server has no address (its
	// name did not resolve).
	AdminResolutionMaint AdminFlags = 0x20
	// AdminFQDNMaint is set when its FQDN was set through the runtime API.
	AdminFQDNMaint AdminFlags = 0x40
)

// Maint reports whether the flags hold the server in maintenance: forced,
// inherited, or for want of an address.
func (f AdminFlags) Maint() bool {
	return f&(AdminForcedMaint|AdminInheritedMaint|AdminResolutionMaint) != 0
}

// Drain reports whether the server is draining: it keeps its sessions and
// the ones its persistence cookie brings, and gets no others.
func (f AdminFlags) Drain() bool {
	return f&(AdminForcedDrain|AdminInheritedDrain) != 0
}

// ServerState is one server of "show servers state".
type ServerState struct {
	// BackendID and Backend are the backend's ID and name.
	BackendID int
	Backend   string
	// ID and Name are the server's ID (unique in its backend) and name.
	ID   int
	Name string
	// Addr is the server's IP address, "" when it has none.
	Addr string
	// Port is the server's port (0 when it has none).
	Port int
	// OpState is the operational state.
	OpState ServerOpState
	// Admin holds the administrative flags.
	Admin AdminFlags
	// UserWeight is the weight in effect (set by "set server ... weight");
	// InitialWeight the configured one.
	UserWeight, InitialWeight int
	// FQDN is the server's host name from the configuration, "" when it
	// was given as an address.
	FQDN string
}

// AdminState returns the state "set server ... state" sets: "maint",
// "drain" or "ready".
func (s ServerState) AdminState() string {
	switch {
	case s.Admin.Maint():
		return "maint"
	case s.Admin.Drain():
		return "drain"
	}
	return "ready"
}

// Servers runs "show servers state" and returns every server of every
// backend, in HAProxy's order (by backend, then by server ID).
func (r *Runtime) Servers(ctx context.Context) ([]ServerState, error) {
	out, err := r.ServersStateFile(ctx)
	if err != nil {
		return nil, err
	}
	servers, err := ParseServersState(out)
	if err != nil {
		return nil, fmt.Errorf("haproxy runtime API %s: show servers state: %w", r.Socket, err)
	}
	return servers, nil
}

// ServersStateFile runs "show servers state" and returns its answer as is:
// the version line "1", the "# be_id ..." header and one line per server,
// which is what a "server-state-file" holds. Written to that file, it makes
// a reload or a restart come up with the same server addresses, ports,
// states and weights, given servers declared as [Runtime] says.
func (r *Runtime) ServersStateFile(ctx context.Context) (string, error) {
	out, err := r.Exec(ctx, "show servers state")
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(out[0], "1\n# ") {
		return "", fmt.Errorf("haproxy runtime API %s: show servers state: %w: it starts with %q, want the version line \"1\" and a header",
			r.Socket, errBadRuntimeAnswer, firstLine(out[0]))
	}
	return out[0], nil
}

// ParseServersState parses the answer of "show servers state" (format
// version 1): the version line, a header naming the columns, one line per
// server. Columns are found by name; a missing column, a line with another
// number of columns or a number that does not parse is an error.
func ParseServersState(out string) ([]ServerState, error) {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) < 2 || strings.TrimSpace(lines[0]) != "1" {
		return nil, fmt.Errorf("%w: the first line is %q, want the format version 1", errBadRuntimeAnswer, firstLine(out))
	}
	if !strings.HasPrefix(lines[1], "# ") {
		return nil, fmt.Errorf("%w: the second line is %q, want the header \"# be_id be_name ...\"", errBadRuntimeAnswer, firstLine(lines[1]))
	}
	header := strings.Fields(strings.TrimPrefix(lines[1], "# "))
	col := make(map[string]int, len(header))
	for i, name := range header {
		col[name] = i
	}
	for _, name := range []string{"be_id", "be_name", "srv_id", "srv_name", "srv_addr", "srv_op_state",
		"srv_admin_state", "srv_uweight", "srv_iweight", "srv_fqdn", "srv_port"} {
		if _, ok := col[name]; !ok {
			return nil, fmt.Errorf("%w: the header has no %s column", errBadRuntimeAnswer, name)
		}
	}
	servers := []ServerState{}
	for i, line := range lines[2:] {
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != len(header) {
			return nil, fmt.Errorf("%w: line %d has %d columns, the header %d", errBadRuntimeAnswer, i+3, len(f), len(header))
		}
		var perr error
		num := func(name string) int {
			n, err := strconv.Atoi(f[col[name]])
			if err != nil && perr == nil {
				perr = fmt.Errorf("%w: line %d: %s %q is not a number", errBadRuntimeAnswer, i+3, name, f[col[name]])
			}
			return n
		}
		text := func(name string) string {
			if v := f[col[name]]; v != "-" {
				return v
			}
			return ""
		}
		s := ServerState{
			BackendID:     num("be_id"),
			Backend:       f[col["be_name"]],
			ID:            num("srv_id"),
			Name:          f[col["srv_name"]],
			Addr:          text("srv_addr"),
			Port:          num("srv_port"),
			OpState:       ServerOpState(num("srv_op_state")),
			Admin:         AdminFlags(num("srv_admin_state")),
			UserWeight:    num("srv_uweight"),
			InitialWeight: num("srv_iweight"),
			FQDN:          text("srv_fqdn"),
		}
		if perr != nil {
			return nil, perr
		}
		servers = append(servers, s)
	}
	return servers, nil
}

// ServerSessions returns the current sessions (scur) of every server, by
// backend and server name, from the server rows of "show stat" in this
// worker. A server in maintenance keeps its established sessions and they
// are counted here (and in its backend's BACKEND row, which
// [Master.Sessions] sums over every worker).
func (r *Runtime) ServerSessions(ctx context.Context) (map[string]map[string]int, error) {
	out, err := r.Exec(ctx, "show stat")
	if err != nil {
		return nil, err
	}
	// Exec drops the empty line that ends the answer; ParseStat checks it
	// to tell a whole table from a cut one.
	rows, err := ParseStat(out[0] + "\n")
	if err != nil {
		return nil, fmt.Errorf("haproxy runtime API %s: show stat: %w", r.Socket, err)
	}
	sessions := make(map[string]map[string]int)
	for _, row := range rows {
		if row.Type != TypeServer {
			continue
		}
		if sessions[row.PxName] == nil {
			sessions[row.PxName] = make(map[string]int)
		}
		sessions[row.PxName][row.SvName] = row.Scur
	}
	return sessions, nil
}
