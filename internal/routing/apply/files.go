package apply

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/strata-dev/strata/internal/routing"
)

// Map files the structural configuration reads, in the order the apply step
// adds and changes their entries (removals go in the reverse order), so that
// nothing points to an entry that is not there yet.
const (
	VersionsMap   = "versions.map"
	SlotsMap      = "slots.map"
	LiveMap       = "live.map"
	CandidatesMap = "candidates.map"
	WeightsMap    = "weights.map"
	CohortsMap    = "cohorts.map"
	HostsMap      = "hosts.map"
	WildcardsMap  = "wildcards.map"
	// ServersState is HAProxy's server-state-file.
	ServersState = "servers.state"
)

// MapFiles lists the map files in apply order.
var MapFiles = []string{VersionsMap, SlotsMap, LiveMap, CandidatesMap, WeightsMap, CohortsMap, HostsMap, WildcardsMap}

// Entry is one map entry.
type Entry struct{ Key, Value string }

// ServerWant is the desired state of one pre-allocated server.
type ServerWant struct {
	Backend, Server string
	// ID is the backend and server numbers, for servers.state.
	BackendN, ServerN int
	Addr              string
	Port              int
	// Ready is true for a server taking requests; false for one in
	// maintenance, in use or free.
	Ready bool
}

// Desired is what HAProxy should run: the maps' entries and every server.
type Desired struct {
	Maps    map[string][]Entry
	Servers []ServerWant
}

// FreeAddr and FreePort are the address and port of a server no instance
// holds.
const (
	FreeAddr = "0.0.0.0"
	FreePort = 1
)

// Desire derives what HAProxy should run from an assignment and the intent
// it was made for.
func Desire(st *State, in *Intent) Desired {
	d := Desired{Maps: map[string][]Entry{}}
	for _, f := range MapFiles {
		d.Maps[f] = []Entry{}
	}
	add := func(f, k, v string) { d.Maps[f] = append(d.Maps[f], Entry{k, v}) }
	for _, app := range slices.Sorted(maps.Keys(in.Apps)) {
		ai := in.Apps[app]
		as := st.Apps[app]
		if as == nil {
			as = &AppState{}
		}
		allowed := map[string]bool{}
		for _, n := range slices.Sorted(maps.Keys(as.Slots)) {
			s := as.Slots[n]
			be := routing.SlotName(app, n)
			if vi := ai.Versions[s.Version]; vi != nil && !vi.Draining {
				add(VersionsMap, app+"/"+s.Version, be)
				allowed[s.Version] = true
			}
			add(SlotsMap, be, app+"/"+s.Version)
		}
		if ai.Live != "" && allowed[ai.Live] {
			add(LiveMap, app, ai.Live)
		}
		if ai.Weight > 0 && allowed[ai.Candidate] {
			add(CandidatesMap, app, ai.Candidate)
			add(WeightsMap, app, fmt.Sprint(ai.Weight))
		}
		for _, c := range ai.Cohorts {
			if !allowed[c.Version] {
				continue
			}
			add(CohortsMap, app+c.OptIn, c.Version)
			if c.OptOut != "" {
				add(CohortsMap, app+c.OptOut, "-")
			}
		}
		for n := 1; n <= ai.Slots; n++ {
			be := routing.SlotName(app, n)
			var s *Slot
			if as.Slots != nil {
				s = as.Slots[n]
			}
			for k := 1; k <= ai.Servers; k++ {
				w := ServerWant{Backend: be, Server: routing.ServerName(k), BackendN: n, ServerN: k, Addr: FreeAddr, Port: FreePort}
				if s != nil && s.Servers[k] != nil {
					srv := s.Servers[k]
					w.Addr, w.Port, w.Ready = srv.Addr, srv.Port, !srv.Maint
				}
				d.Servers = append(d.Servers, w)
			}
		}
	}
	for _, h := range in.Hosts {
		if rest, ok := strings.CutPrefix(h.Name, "*."); ok {
			add(WildcardsMap, `^`+h.Frontend+`/[^./]+\.`+strings.ReplaceAll(rest, ".", `\.`)+`$`, h.App)
		} else {
			add(HostsMap, h.Frontend+"/"+h.Name, h.App)
		}
	}
	return d
}

// MapText is the content of map file f.
func (d Desired) MapText(f string) []byte {
	var b strings.Builder
	b.WriteString("# Written by strata haproxy apply. Do not edit.\n")
	for _, e := range d.Maps[f] {
		b.WriteString(e.Key + " " + e.Value + "\n")
	}
	return []byte(b.String())
}

// serversStateHeader is the header of "show servers state" in HAProxy 2.6,
// format version 1.
const serversStateHeader = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n"

// Server admin states in servers.state: the configuration's maintenance
// (the server-template's "disabled", 0x04) stays; forced maintenance
// (0x01) is what "set server ... state maint" adds.
const (
	adminReady = 4
	adminMaint = 5
)

// ServersStateText is servers.state: HAProxy's own format, which it loads at
// a reload or a restart (load-server-state-from-file). Addresses are
// restored through the servers' "init-addr last".
func (d Desired) ServersStateText() []byte {
	var b strings.Builder
	b.WriteString(serversStateHeader)
	for _, s := range d.Servers {
		op, admin, health := 0, adminMaint, 0
		if s.Ready {
			op, admin, health = 2, adminReady, 4
		}
		fmt.Fprintf(&b, "%d %s %d %s %s %d %d 1 1 0 1 0 %d 8 0 0 0 strata.invalid %d - 0 0 - - 0\n",
			s.BackendN, s.Backend, s.ServerN, s.Server, s.Addr, op, admin, health, s.Port)
	}
	return []byte(b.String())
}
