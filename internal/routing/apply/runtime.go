package apply

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/strata-dev/strata/internal/haproxy"
)

// Exec runs runtime API commands (the admin socket's language) in HAProxy's
// current worker and returns one answer per command. *haproxy.Runtime
// implements it over the worker's admin socket; [MasterExec] through the
// master CLI.
type Exec interface {
	Exec(ctx context.Context, cmds ...string) ([]string, error)
}

// MasterExec runs commands in the current worker through the master CLI
// ("@!<pid> <command>", [haproxy.Master.WorkerExec]).
type MasterExec struct{ Master *haproxy.Master }

// Exec runs cmds in the master's current worker, which it looks up first.
func (m MasterExec) Exec(ctx context.Context, cmds ...string) ([]string, error) {
	current, _, err := m.Master.Workers(ctx)
	if err != nil {
		return nil, err
	}
	if len(current) == 0 {
		return nil, fmt.Errorf("the master at %s lists no current worker", m.Master.Socket)
	}
	return m.Master.WorkerExec(ctx, current[len(current)-1].PID, cmds...)
}

// running is what the current worker holds.
type running struct {
	maps    map[string][]Entry
	servers map[string]serverNow // by "backend/server"
}

type serverNow struct {
	addr  string
	port  int
	maint bool
}

// readRunning asks the worker for the maps and the servers' states.
func readRunning(ctx context.Context, x Exec, dir string) (running, error) {
	cmds := []string{"show servers state"}
	for _, f := range MapFiles {
		cmds = append(cmds, "show map "+mapPath(dir, f))
	}
	out, err := x.Exec(ctx, cmds...)
	if err != nil {
		return running{}, err
	}
	if len(out) != len(cmds) {
		return running{}, fmt.Errorf("%d answers to %d commands", len(out), len(cmds))
	}
	r := running{maps: map[string][]Entry{}, servers: map[string]serverNow{}}
	if err := parseServersState(out[0], r.servers); err != nil {
		return running{}, err
	}
	for i, f := range MapFiles {
		entries, err := parseShowMap(out[i+1])
		if err != nil {
			return running{}, fmt.Errorf("show map %s: %w", f, err)
		}
		r.maps[f] = entries
	}
	return r, nil
}

// parseShowMap parses an Exec answer to "show map <file>", which lacks the
// empty line that ends HAProxy's.
func parseShowMap(out string) ([]Entry, error) {
	es, err := haproxy.ParseMapEntries(out + "\n")
	if err != nil {
		return nil, err
	}
	entries := make([]Entry, 0, len(es))
	for _, e := range es {
		entries = append(entries, Entry{e.Key, e.Value})
	}
	return entries, nil
}

// parseServersState parses "show servers state" (or a servers.state file)
// into to.
func parseServersState(out string, to map[string]serverNow) error {
	servers, err := haproxy.ParseServersState(out)
	if err != nil {
		return err
	}
	for _, sv := range servers {
		to[sv.Backend+"/"+sv.Name] = serverNow{addr: sv.Addr, port: sv.Port, maint: sv.Admin.Maint()}
	}
	return nil
}

func mapPath(dir, f string) string { return strings.TrimSuffix(dir, "/") + "/" + f }

// commands returns the runtime API commands that turn now into d, in an
// order that never routes to something not there yet: slots.map entries
// added or changed (lbstats attributes a slot's sessions through it), then
// servers taking requests, then the other maps' entries added or changed,
// then their entries removed (in the reverse order of MapFiles), then
// servers leaving, then slots.map entries removed.
func commands(d Desired, now running, dir string) []string {
	var slotAdds, up, adds, dels, down, slotDels []string
	for _, w := range d.Servers {
		n, ok := now.servers[w.Backend+"/"+w.Server]
		if !ok {
			continue // not in this configuration (a reload will load it)
		}
		moved := n.addr != w.Addr || n.port != w.Port
		if w.Ready {
			// The address first, then requests.
			if moved {
				up = append(up, setAddr(w.Backend, w.Server, w.Addr, w.Port))
			}
			if n.maint {
				up = append(up, setState(w.Backend, w.Server, "ready"))
			}
			continue
		}
		// No new requests first, then the address.
		if !n.maint {
			down = append(down, setState(w.Backend, w.Server, "maint"))
		}
		if moved {
			down = append(down, setAddr(w.Backend, w.Server, w.Addr, w.Port))
		}
	}
	for _, f := range MapFiles {
		path := mapPath(dir, f)
		want, have := d.Maps[f], now.maps[f]
		if f == WildcardsMap {
			// Regular expressions match in order: rewrite it whole.
			if !slices.Equal(want, have) {
				adds = append(adds, "clear map "+path)
				for _, e := range want {
					adds = append(adds, "add map "+path+" "+e.Key+" "+e.Value)
				}
			}
			continue
		}
		haveBy := map[string][]string{}
		for _, e := range have {
			haveBy[e.Key] = append(haveBy[e.Key], e.Value)
		}
		wantBy := map[string]bool{}
		var set []string
		for _, e := range want {
			wantBy[e.Key] = true
			switch vs := haveBy[e.Key]; {
			case len(vs) == 0:
				set = append(set, "add map "+path+" "+e.Key+" "+e.Value)
			case len(vs) > 1:
				set = append(set, "del map "+path+" "+e.Key, "add map "+path+" "+e.Key+" "+e.Value)
			case vs[0] != e.Value:
				set = append(set, "set map "+path+" "+e.Key+" "+e.Value)
			}
		}
		var gone []string
		seen := map[string]bool{}
		for _, e := range have {
			if !wantBy[e.Key] && !seen[e.Key] {
				seen[e.Key] = true
				gone = append(gone, "del map "+path+" "+e.Key)
			}
		}
		if f == SlotsMap {
			slotAdds, slotDels = set, gone
			continue
		}
		adds = append(adds, set...)
		dels = append(gone, dels...)
	}
	return slices.Concat(slotAdds, up, adds, dels, down, slotDels)
}

func setAddr(be, srv, addr string, port int) string {
	return fmt.Sprintf("set server %s/%s addr %s port %d", be, srv, addr, port)
}

func setState(be, srv, state string) string {
	return fmt.Sprintf("set server %s/%s state %s", be, srv, state)
}

// run executes cmds; both Exec implementations report every refused
// command as a *haproxy.RuntimeError.
func run(ctx context.Context, x Exec, cmds []string) error {
	if len(cmds) == 0 {
		return nil
	}
	_, err := x.Exec(ctx, cmds...)
	return err
}

// differences lists where now differs from d, for messages; empty when
// they agree.
func differences(d Desired, now running) []string {
	var out []string
	for _, w := range d.Servers {
		n, ok := now.servers[w.Backend+"/"+w.Server]
		if !ok {
			out = append(out, w.Backend+"/"+w.Server+" is not in the running configuration")
			continue
		}
		if n.addr != w.Addr || n.port != w.Port || n.maint == w.Ready {
			out = append(out, fmt.Sprintf("%s/%s runs %s:%d maint=%v, want %s:%d ready=%v", w.Backend, w.Server, n.addr, n.port, n.maint, w.Addr, w.Port, w.Ready))
		}
	}
	for _, f := range MapFiles {
		want, have := d.Maps[f], now.maps[f]
		if f != WildcardsMap {
			want, have = sortedEntries(want), sortedEntries(have)
		}
		if !slices.Equal(want, have) {
			out = append(out, fmt.Sprintf("%s holds %v, want %v", f, have, want))
		}
	}
	return out
}

func sortedEntries(es []Entry) []Entry {
	es = slices.Clone(es)
	slices.SortFunc(es, func(a, b Entry) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return strings.Compare(a.Value, b.Value)
	})
	return es
}
