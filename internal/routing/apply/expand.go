package apply

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-dev/strata/internal/routing"
)

// Limits are an app's slot and server counts.
type Limits struct{ Slots, Servers int }

// growth is how much room an exhausted app gets at once: twice what it
// needs, so that a version or an instance more does not reload again.
const growth = 2

// Needed returns, for every app whose versions or instances did not all fit
// in its limits, the limits they need with room to grow. Slots and servers
// that tried, an assignment that left something out, keeps for sessions
// (a version gone, an instance gone) count as taken. Apps that fit are not
// in the map.
func Needed(in *Intent, limits map[string]Limits, tried *State) map[string]Limits {
	out := map[string]Limits{}
	for app, ai := range in.Apps {
		l := limits[app]
		versions, servers := len(ai.Versions), 0
		for _, v := range ai.Versions {
			servers = max(servers, len(v.Servers))
		}
		if tried != nil && tried.Apps[app] != nil {
			for _, s := range tried.Apps[app].Slots {
				if ai.Versions[s.Version] == nil {
					versions++
					continue
				}
				maint := 0
				for _, srv := range s.Servers {
					if srv.Maint {
						maint++
					}
				}
				servers = max(servers, len(ai.Versions[s.Version].Servers)+maint)
			}
		}
		if versions <= l.Slots && servers <= l.Servers {
			continue
		}
		n := l
		if versions > l.Slots {
			n.Slots = max(l.Slots, versions*growth)
		}
		if servers > l.Servers {
			n.Servers = max(l.Servers, servers*growth)
		}
		out[app] = n
	}
	return out
}

// backendRe finds the slot backends of the structural configuration.
var backendRe = regexp.MustCompile(`(?m)^backend (be_[a-z0-9-]+_[0-9]+)\n((?:    .*\n)*)`)

// serverTemplateRe is the pre-allocated servers' line of a slot backend.
var serverTemplateRe = regexp.MustCompile(`(?m)^(    server-template s 1-)([0-9]+)( .*)$`)

// Expand returns cfg, the structural configuration as rendered, with at
// least limits[app] slots and servers per slot for each app: the missing
// slot backends are copies of the app's first, and every slot's
// server-template counts the servers. It changes nothing for an app whose
// configuration has that many already, so expanding twice is expanding
// once.
func Expand(cfg string, limits map[string]Limits) (string, error) {
	for _, app := range slices.Sorted(maps.Keys(limits)) {
		l := limits[app]
		prefix := "be_" + app + "_"
		var first string
		have := map[int]bool{}
		lastEnd := -1
		for _, m := range backendRe.FindAllStringSubmatchIndex(cfg, -1) {
			name := cfg[m[2]:m[3]]
			rest, ok := strings.CutPrefix(name, prefix)
			if !ok {
				continue
			}
			n, err := strconv.Atoi(rest)
			if err != nil {
				continue
			}
			have[n] = true
			if n == 1 {
				first = cfg[m[0]:m[1]]
			}
			lastEnd = max(lastEnd, m[1])
		}
		if first == "" {
			return "", fmt.Errorf("the configuration has no backend %s1 to copy", prefix)
		}
		var add strings.Builder
		for n := 1; n <= l.Slots; n++ {
			if !have[n] {
				add.WriteString("\n" + strings.Replace(first, "backend "+prefix+"1\n", "backend "+routing.SlotName(app, n)+"\n", 1))
			}
		}
		cfg = cfg[:lastEnd] + add.String() + cfg[lastEnd:]
		// Servers per slot, in this app's backends only.
		var out strings.Builder
		last := 0
		for _, m := range backendRe.FindAllStringSubmatchIndex(cfg, -1) {
			if !strings.HasPrefix(cfg[m[2]:m[3]], prefix) {
				continue
			}
			block := cfg[m[0]:m[1]]
			block = serverTemplateRe.ReplaceAllStringFunc(block, func(line string) string {
				sm := serverTemplateRe.FindStringSubmatch(line)
				n, _ := strconv.Atoi(sm[2])
				return sm[1] + strconv.Itoa(max(n, l.Servers)) + sm[3]
			})
			out.WriteString(cfg[last:m[0]] + block)
			last = m[1]
		}
		out.WriteString(cfg[last:])
		cfg = out.String()
	}
	return cfg, nil
}
