package apply

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Running describes what HAProxy's current worker runs, as text that
// Written gives for the files: every map's entries, sorted (wildcards.map
// in order), and every server as "backend/server addr:port ready|maint".
// Tests and tools compare the two: after an apply step, a reload or a
// restart they are equal.
func Running(ctx context.Context, x Exec, dir string) (string, error) {
	now, err := readRunning(ctx, x, dir)
	if err != nil {
		return "", err
	}
	return describe(now), nil
}

// Written is Running for the map files and servers.state in dir.
func Written(dir string) (string, error) {
	now := running{maps: map[string][]Entry{}, servers: map[string]serverNow{}}
	for _, f := range MapFiles {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return "", err
		}
		for _, l := range strings.Split(string(b), "\n") {
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			k, v, _ := strings.Cut(l, " ")
			now.maps[f] = append(now.maps[f], Entry{k, v})
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, ServersState))
	if err != nil {
		return "", err
	}
	if err := parseServersState(string(b), now.servers); err != nil {
		return "", fmt.Errorf("%s: %w", filepath.Join(dir, ServersState), err)
	}
	return describe(now), nil
}

func describe(r running) string {
	var b strings.Builder
	for _, f := range MapFiles {
		es := r.maps[f]
		if f != WildcardsMap {
			es = sortedEntries(es)
		}
		for _, e := range es {
			fmt.Fprintf(&b, "%s: %s %s\n", f, e.Key, e.Value)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(r.servers)) {
		s := r.servers[k]
		state := "ready"
		if s.maint {
			state = "maint"
		}
		fmt.Fprintf(&b, "server %s %s:%d %s\n", k, s.addr, s.port, state)
	}
	return b.String()
}
