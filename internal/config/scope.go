package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ScopeSweeper is the scope of a file that holds only what the sweeper
// reads from strata.yaml (see SweeperYAML).
const ScopeSweeper = "sweeper"

// Keys a file of the sweeper's scope may hold.
var (
	sweeperScopeTopKeys = []string{"scope", "region", "namespace", "apps"}
	sweeperScopeAppKeys = []string{"kind", "versions", "live", "sweeper"}
)

// parseScope decodes the scope key; n may be nil (a full strata.yaml).
func (d *decoder) parseScope(n *yaml.Node, file map[string]field) string {
	if isNull(n) {
		return ""
	}
	s, ok := d.str(n, "scope")
	if !ok {
		return ""
	}
	if s != ScopeSweeper {
		d.failAt(n, "scope", "%q is not a scope; the only one is %q, which strata render writes for the sweeper job (a full strata.yaml has no scope)", s, ScopeSweeper)
		return ""
	}
	for _, k := range topKeys {
		if f, ok := file[k]; ok && !slices.Contains(sweeperScopeTopKeys, k) {
			d.failAt(f.key, k, "not part of the sweeper's scope (it holds only %s)", strings.Join(sweeperScopeTopKeys, ", "))
		}
	}
	return s
}

// SweeperYAML writes the part of the configuration `strata sweep` reads,
// as a strata.yaml of scope "sweeper": the region and namespace, and each
// app's kind, versions, live version and retirement settings, every one
// written out with its default resolved. The sweeper job embeds it instead
// of the whole file, so the job changes only when what the sweeper reads
// changes, not with a comment or an app's env. Load reads it back. When
// strata sweep starts reading another setting, it belongs here too (the
// cli tests compare the sweeper's decisions on both files).
func (c *Config) SweeperYAML() []byte {
	var b strings.Builder
	// The header names no path: the same configuration rendered from
	// another directory gives the same job.
	b.WriteString("# What strata sweep reads from strata.yaml, written by strata render.\n")
	b.WriteString("# Do not edit: change strata.yaml and run strata render.\n")
	b.WriteString("scope: " + ScopeSweeper + "\n")
	if c.Region != "" {
		b.WriteString("region: " + quote(c.Region) + "\n")
	}
	if c.Namespace != "" {
		b.WriteString("namespace: " + quote(c.Namespace) + "\n")
	}
	b.WriteString("apps:\n")
	for _, a := range c.Apps {
		fmt.Fprintf(&b, "  %s:\n", quote(a.Name))
		fmt.Fprintf(&b, "    kind: %s\n", quote(string(a.Kind)))
		vs := make([]string, len(a.Versions))
		for i, v := range a.Versions {
			vs[i] = quote(v)
		}
		fmt.Fprintf(&b, "    versions: [%s]\n", strings.Join(vs, ", "))
		if a.Live != "" {
			fmt.Fprintf(&b, "    live: %s\n", quote(a.Live))
		}
		r := a.Retire
		b.WriteString("    sweeper:\n")
		fmt.Fprintf(&b, "      keep: %d\n", r.Keep)
		fmt.Fprintf(&b, "      min_age: %s\n", quoteDuration(r.MinAge))
		fmt.Fprintf(&b, "      drain_grace: %s\n", quoteDuration(r.DrainGrace))
		fmt.Fprintf(&b, "      handoff_grace: %s\n", quoteDuration(r.HandoffGrace))
		fmt.Fprintf(&b, "      max_retire_per_run: %d\n", r.MaxRetirePerRun)
		fmt.Fprintf(&b, "      purge: %t\n", r.Purge)
	}
	return []byte(b.String())
}

// quote writes a string as a YAML double-quoted scalar. Names, versions,
// regions and namespaces are printable ASCII by their grammars, where
// YAML's double-quoted escapes and Go's agree.
func quote(s string) string { return strconv.Quote(s) }

func quoteDuration(d time.Duration) string { return quote(d.String()) }
