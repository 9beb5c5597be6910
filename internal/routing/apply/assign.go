package apply

import (
	"fmt"
	"maps"
	"slices"

	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/routing"
)

// State is the assignment the apply step keeps between runs (state.json):
// which version holds which slot, and which instance which server.
type State struct {
	Apps map[string]*AppState `json:"apps"`
	// Grown are the limits of apps that ran out of slots or servers,
	// beyond what the configuration declares: the apply step adds them to
	// haproxy.cfg (Expand) and keeps them.
	Grown map[string]Limits `json:"grown,omitempty"`
}

// AppState is one app's slots in use, by slot number (1-based).
type AppState struct {
	Slots map[int]*Slot `json:"slots"`
}

// Slot is a slot in use.
type Slot struct {
	// Version is the version it serves, running or not: a slot whose
	// version left keeps it while it holds sessions.
	Version string `json:"version"`
	// Servers are its servers in use, by server number (1-based).
	Servers map[int]*ServerSlot `json:"servers"`
}

// ServerSlot is a server in use.
type ServerSlot struct {
	// ID is the instance's (Server.ID).
	ID   string `json:"id"`
	Addr string `json:"addr"`
	Port int    `json:"port"`
	// Maint is true when the instance left while the server held
	// sessions: no new request reaches it, and it is freed at 0.
	Maint bool `json:"maint,omitempty"`
}

// Sessions are current sessions summed over every worker, current and old,
// by backend (the BACKEND row, queued included) and by backend and server.
// A name missing from a map has no session.
type Sessions struct {
	Backends map[string]int
	Servers  map[string]map[string]int
}

func (s Sessions) backend(name string) int { return s.Backends[name] }

func (s Sessions) server(backend, server string) int { return s.Servers[backend][server] }

// Assign decides the next assignment from the previous one, the intent and
// the sessions HAProxy holds. It is pure and deterministic:
//   - a running version keeps its slot, and an instance its server;
//   - a slot whose version left is kept while its backend holds sessions,
//     its servers in maintenance; a server whose instance left is kept in
//     maintenance while it holds sessions; both are freed at 0;
//   - a new version gets the lowest free slot, a new instance the lowest
//     free server, free meaning unused and without sessions in any worker.
//
// Versions or instances that find no free slot or server are left out, and
// said so in exhausted, one sentence each.
func Assign(prev *State, in *Intent, sess Sessions) (next *State, exhausted []string) {
	next = &State{Apps: map[string]*AppState{}}
	for _, app := range slices.Sorted(maps.Keys(in.Apps)) {
		ai := in.Apps[app]
		var pa *AppState
		if prev != nil {
			pa = prev.Apps[app]
		}
		na := &AppState{Slots: map[int]*Slot{}}
		next.Apps[app] = na
		placed := map[string]int{}
		if pa != nil {
			for _, n := range slices.Sorted(maps.Keys(pa.Slots)) {
				if n > ai.Slots {
					continue // the configuration has fewer slots now
				}
				ps := pa.Slots[n]
				be := routing.SlotName(app, n)
				vi := ai.Versions[ps.Version]
				if vi == nil || placed[ps.Version] != 0 {
					// The version left: keep what still holds sessions.
					if sess.backend(be) == 0 {
						continue
					}
					ns := &Slot{Version: ps.Version, Servers: map[int]*ServerSlot{}}
					for k, srv := range ps.Servers {
						if k <= ai.Servers && sess.server(be, routing.ServerName(k)) > 0 {
							ns.Servers[k] = &ServerSlot{ID: srv.ID, Addr: srv.Addr, Port: srv.Port, Maint: true}
						}
					}
					na.Slots[n] = ns
					continue
				}
				placed[ps.Version] = n
				na.Slots[n] = &Slot{Version: ps.Version, Servers: assignServers(app, ai, be, ps.Servers, vi.Servers, sess, &exhausted, ps.Version)}
			}
		}
		for _, v := range sortedVersions(ai.Versions) {
			if placed[v] != 0 {
				continue
			}
			n := 0
			for c := 1; c <= ai.Slots; c++ {
				if na.Slots[c] == nil && sess.backend(routing.SlotName(app, c)) == 0 {
					n = c
					break
				}
			}
			if n == 0 {
				exhausted = append(exhausted, fmt.Sprintf("%s: version %s has no slot: all %d slots hold a version or sessions (routing.max_versions)", app, v, ai.Slots))
				continue
			}
			placed[v] = n
			be := routing.SlotName(app, n)
			na.Slots[n] = &Slot{Version: v, Servers: assignServers(app, ai, be, nil, ai.Versions[v].Servers, sess, &exhausted, v)}
		}
	}
	return next, exhausted
}

// assignServers gives the instances of a version that holds slot be their
// servers, keeping those they had.
func assignServers(app string, ai *AppIntent, be string, prev map[int]*ServerSlot, want []Server, sess Sessions, exhausted *[]string, version string) map[int]*ServerSlot {
	out := map[int]*ServerSlot{}
	byID := map[string]Server{}
	for _, s := range want {
		byID[s.ID] = s
	}
	has := map[string]bool{}
	for _, k := range slices.Sorted(maps.Keys(prev)) {
		if k > ai.Servers {
			continue
		}
		p := prev[k]
		if s, ok := byID[p.ID]; ok && !has[p.ID] {
			out[k] = &ServerSlot{ID: s.ID, Addr: s.Addr, Port: s.Port}
			has[p.ID] = true
			continue
		}
		if sess.server(be, routing.ServerName(k)) > 0 {
			out[k] = &ServerSlot{ID: p.ID, Addr: p.Addr, Port: p.Port, Maint: true}
		}
	}
	for _, s := range want {
		if has[s.ID] {
			continue
		}
		k := 0
		for c := 1; c <= ai.Servers; c++ {
			if out[c] == nil && sess.server(be, routing.ServerName(c)) == 0 {
				k = c
				break
			}
		}
		if k == 0 {
			*exhausted = append(*exhausted, fmt.Sprintf("%s: an instance of %s (%s) has no server: all %d servers of %s are in use or hold sessions (routing.max_servers)", app, version, s.ID, ai.Servers, be))
			continue
		}
		out[k] = &ServerSlot{ID: s.ID, Addr: s.Addr, Port: s.Port}
		has[s.ID] = true
	}
	return out
}

// sortedVersions returns the versions newest first (naturally: v10 > v9):
// when slots run out, the oldest are those left out, since new sessions go
// to the newest.
func sortedVersions(vs map[string]*VersionIntent) []string {
	keys := slices.Collect(maps.Keys(vs))
	slices.SortFunc(keys, func(a, b string) int {
		ka, kb := naming.SortKey(a), naming.SortKey(b)
		switch {
		case ka > kb:
			return -1
		case ka < kb:
			return 1
		}
		return 0
	})
	return keys
}

// NeedsSessions reports whether Assign's answer for prev and in can depend
// on sessions: something is to be freed (a version or an instance gone, a
// server in maintenance) or placed (a new version or instance). When it
// cannot (a promotion, a cohort, a drain, a rollout weight), the apply step
// skips counting them in every worker.
func NeedsSessions(prev *State, in *Intent) bool {
	for app, ai := range in.Apps {
		var pa *AppState
		if prev != nil {
			pa = prev.Apps[app]
		}
		if pa == nil {
			if len(ai.Versions) > 0 {
				return true
			}
			continue
		}
		placed := map[string]*Slot{}
		for _, s := range pa.Slots {
			vi := ai.Versions[s.Version]
			if vi == nil {
				return true
			}
			placed[s.Version] = s
			ids := map[string]bool{}
			for _, srv := range vi.Servers {
				ids[srv.ID] = true
			}
			for _, srv := range s.Servers {
				if srv.Maint || !ids[srv.ID] {
					return true
				}
				delete(ids, srv.ID)
			}
			if len(ids) > 0 {
				return true
			}
		}
		for v := range ai.Versions {
			if placed[v] == nil {
				return true
			}
		}
	}
	if prev != nil {
		for app := range prev.Apps {
			if in.Apps[app] == nil {
				return true
			}
		}
	}
	return false
}
