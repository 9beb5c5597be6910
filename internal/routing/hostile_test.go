package routing_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/routing"
	"github.com/strata-dev/strata/internal/routing/apply"
	"github.com/strata-dev/strata/internal/routing/routingtest"
)

// hostileStart runs web v1, v2 (live) and v3 and returns the stack and the
// service ID of v1's first instance.
func hostileStart(t *testing.T) (*routingtest.Stack, string) {
	var v1 string
	s := routingtest.Start(t, func(s *routingtest.Stack) {
		v1 = s.Backend("v1", 1, false)
		s.Backend("v2", 1, true)
		s.Backend("v3", 1, false)
	}, webApp())
	return s, v1
}

// registerRaw registers an instance of web with a passing TTL check and
// exactly the address, port, tags and meta given: nothing is checked or
// derived, the way a careless or hostile client could register one.
func registerRaw(t *testing.T, s *routingtest.Stack, id, address string, port int, tags []string, meta map[string]string) {
	t.Helper()
	err := s.Consul.Client.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{
		ID: id, Name: "web", Tags: tags, Address: address, Port: port, Meta: meta,
		Check: &consulapi.AgentServiceCheck{CheckID: id + "-ttl", TTL: "1h", Status: consulapi.HealthPassing},
	})
	if err != nil {
		t.Fatalf("registering %q: %v", id, err)
	}
}

// put writes a KV key, failing t.
func put(t *testing.T, s *routingtest.Stack, key, value string) {
	t.Helper()
	if _, err := s.Consul.Client.KV().Put(&consulapi.KVPair{Key: key, Value: []byte(value)}, nil); err != nil {
		t.Fatalf("writing %q: %v", key, err)
	}
}

// configLines returns the lines of the intent and the map files that are
// neither comments nor blank nor the probes', prefixed with their file.
// haproxy.cfg is structural: hostile data must never change it, which the
// test checks separately.
func configLines(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, f := range append([]string{routing.IntentFile}, apply.MapFiles...) {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			trimmed := strings.TrimSpace(l)
			if trimmed == "" || strings.HasPrefix(trimmed, "#") || strings.Contains(l, "/probe-") || strings.Contains(l, " zz-probe-") {
				continue
			}
			out = append(out, f+": "+l)
		}
	}
	return out
}

// added returns the lines of after that before lacks, and those it lost.
func added(before, after []string) (plus, minus []string) {
	count := map[string]int{}
	for _, l := range before {
		count[l]++
	}
	for _, l := range after {
		if count[l] > 0 {
			count[l]--
			continue
		}
		plus = append(plus, l)
	}
	for _, l := range before {
		if count[l] > 0 {
			count[l]--
			minus = append(minus, l)
		}
	}
	return plus, minus
}

// TestHostileConsulDataChangesOnlyItsOwnItem writes catalog entries and KV
// values crafted to inject configuration, one after the other and all kept,
// into a real Consul in front of a real HAProxy. After each one HAProxy must
// have loaded a configuration rendered after it (a probe cohort written
// afterwards answers), haproxy -c must accept the files, the lines that
// changed must be exactly those of the item the data belongs to, and
// routing of everything else must be unchanged.
func TestHostileConsulDataChangesOnlyItsOwnItem(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Consul and HAProxy; -short skips it")
	}
	s, v1ID := hostileStart(t)
	demoPort := func() int {
		svc, _, err := s.Consul.Client.Agent().Service(v1ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		return svc.Port
	}()
	order := func(v string) map[string]string { return map[string]string{naming.ServiceMetaOrder: naming.SortKey(v)} }
	tags := func(v string) []string { return []string{naming.TagManaged, naming.VersionTag(v)} }
	big := strings.Repeat("v", 400<<10)

	cases := []struct {
		name string
		// apply writes the hostile data.
		apply func(t *testing.T)
		// evidence is text the render must hold once it includes the data,
		// so the checks below look at a render that saw it.
		evidence string
		// want are patterns, one per line, of the lines the data may add;
		// nothing may be removed.
		want []string
		// cookie, when set, is a version cookie and the version it must
		// reach.
		cookie, reaches string
	}{
		{
			name:     "an instance whose address is a host name is skipped and routing goes on",
			apply:    func(t *testing.T) { registerRaw(t, s, "evil-hostname", "evil.invalid", 19003, tags("v2"), order("v2")) },
			evidence: "skipped: its address is not an IP address",
		},
		{
			name: "an address carrying a newline and a backup server is skipped",
			apply: func(t *testing.T) {
				registerRaw(t, s, "evil-newline", "127.0.0.1:1 backup\n    server evil 10.9.9.9:1", 19004, tags("v2"), order("v2"))
			},
			evidence: "skipped: its address is not an IP address",
		},
		{
			name:     "an address with spaces and a quote is skipped",
			apply:    func(t *testing.T) { registerRaw(t, s, "evil-quote", `127.0.0.1 "#`, 19005, tags("v3"), order("v3")) },
			evidence: "skipped: its address is not an IP address",
		},
		{
			name:     "port 0 is skipped",
			apply:    func(t *testing.T) { registerRaw(t, s, "evil-port", "127.0.0.1", 0, tags("v3"), order("v3")) },
			evidence: "skipped: its address is not an IP address, or its port",
		},
		{
			name:     "a version whose only instance has a host name is not allow-listed and its cookie goes to live",
			apply:    func(t *testing.T) { registerRaw(t, s, "evil-v8", "evil.invalid", 19008, tags("v8"), order("v8")) },
			evidence: "# v8: no instance has an IP address",
			cookie:   "v8", reaches: "v2",
		},
		{
			name: "an IPv6 instance of a new version adds only that version, its address in brackets",
			apply: func(t *testing.T) {
				registerRaw(t, s, "ipv6-v7", "::1", demoPort, tags("v7"), order("v7"))
			},
			evidence: "version web v7 running",
			want: []string{
				`^versions\.map: web/v7 be_web_[0-9]+$`,
				`^slots\.map: be_web_[0-9]+ web/v7$`,
				`^routing\.intent: version web v7 running$`,
				`^routing\.intent: server web v7 s[0-9a-f]{12} ::1 [0-9]+$`,
			},
		},
		{
			name: "an instance on another node with an existing service ID is skipped",
			apply: func(t *testing.T) {
				_, err := s.Consul.Client.Catalog().Register(&consulapi.CatalogRegistration{
					Node: "evil-node", Address: "127.0.0.2",
					Service: &consulapi.AgentService{ID: v1ID, Service: "web", Tags: tags("v1"), Address: "127.0.0.1", Port: demoPort, Meta: order("v1")},
				}, nil)
				if err != nil {
					t.Fatal(err)
				}
			},
			evidence: "skipped: another instance has the same service ID",
			cookie:   "v1", reaches: "v1",
		},
		{
			name: "a version tag followed by a keyword is ignored",
			apply: func(t *testing.T) {
				registerRaw(t, s, "evil-tag", "127.0.0.1", demoPort, []string{"strata", "strata-version=v1 backup"}, nil)
			},
			evidence: "", // ignored without a trace: the tag is not a version's
		},
		{
			name: "a version tag carrying a newline and a map entry is ignored",
			apply: func(t *testing.T) {
				registerRaw(t, s, "evil-tag-nl", "127.0.0.1", demoPort, []string{"strata", "strata-version=v1\nweb/v9 v9"}, nil)
			},
		},
		{
			name: "a sort key and live flag carrying a newline do not make a version newest or live",
			apply: func(t *testing.T) {
				registerRaw(t, s, "evil-order", "127.0.0.1", demoPort, tags("v9"),
					map[string]string{naming.ServiceMetaOrder: "~~~~!v9\nbackup", naming.ServiceMetaLive: "true"})
			},
			evidence: "version web v9 running",
			want: []string{
				`^versions\.map: web/v9 be_web_[0-9]+$`,
				`^slots\.map: be_web_[0-9]+ web/v9$`,
				`^routing\.intent: version web v9 running$`,
				`^routing\.intent: server web v9 s[0-9a-f]{12} 127\.0\.0\.1 [0-9]+$`,
			},
			cookie: "v9", reaches: "v1", // the instance is v1's demo server under v9's tag
		},
		{
			name:     "a live key carrying a newline and a directive falls back to strata.yaml's live version",
			apply:    func(t *testing.T) { put(t, s, "strata/web/live", "v3\n    bind :1") },
			evidence: "strata/web/live is not a valid version",
		},
		{
			name:     "an oversized live key falls back to strata.yaml's live version",
			apply:    func(t *testing.T) { put(t, s, "strata/web/live", big) },
			evidence: "strata/web/live is not a valid version",
		},
		{
			name:     "a cohort on / is ignored, so / does not redirect to itself",
			apply:    func(t *testing.T) { put(t, s, "strata/web/cohorts/root", `{"version":"v3","opt_in":"/"}`) },
			evidence: "# cohort root: ignored: its opt-in path is not valid",
		},
		{
			name:     "a cohort path carrying a newline and a directive is ignored",
			apply:    func(t *testing.T) { put(t, s, "strata/web/cohorts/nl", `{"version":"v3","opt_in":"/a\n    bind :1"}`) },
			evidence: "# cohort nl: ignored: its opt-in path is not valid",
		},
		{
			name: "a cohort path that closes the condition and adds one is ignored",
			apply: func(t *testing.T) {
				put(t, s, "strata/web/cohorts/acl", `{"version":"v3","opt_in":"/x } || { always_true"}`)
			},
			evidence: "# cohort acl: ignored: its opt-in path is not valid",
		},
		{
			name:     "a cohort version carrying a quote and a hash is ignored",
			apply:    func(t *testing.T) { put(t, s, "strata/web/cohorts/quote", `{"version":"v3\" #","opt_in":"/quote"}`) },
			evidence: "# cohort quote: ignored: no valid version",
		},
		{
			name: "a cohort whose opt-out path carries spaces loses only its opt-out",
			apply: func(t *testing.T) {
				put(t, s, "strata/web/cohorts/half", `{"version":"v3","opt_in":"/half","opt_out":"/out backup"}`)
			},
			evidence: "# cohort half: opt-out ignored: the path is not valid",
			want:     []string{`^routing\.intent: cohort web half v3 /half -$`, `^cohorts\.map: web/half v3$`},
		},
		{
			name:     "a cohort key with a space and a map separator is ignored",
			apply:    func(t *testing.T) { put(t, s, "strata/web/cohorts/a b", `{"version":"v3","opt_in":"/ab"}`) },
			evidence: "is not a valid name: ignored",
		},
		{
			name:     "an oversized cohort value is ignored",
			apply:    func(t *testing.T) { put(t, s, "strata/web/cohorts/big", `{"version":"`+big+`","opt_in":"/big"}`) },
			evidence: "# cohort big: ignored: no valid version",
		},
		{
			name:   "a draining key with a space between two versions drains neither",
			apply:  func(t *testing.T) { put(t, s, "strata/web/draining/v1 v3", "x") },
			cookie: "v1", reaches: "v1",
		},
	}
	before := configLines(t, s.Dir)
	structure, err := os.ReadFile(filepath.Join(s.Dir, routing.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	reloads := s.MasterReloads()
	defer func() {
		if got := s.MasterReloads(); got != reloads {
			t.Errorf("HAProxy reloaded %d times, want 0", got-reloads)
		}
	}()
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.apply(t)
			probe := fmt.Sprintf("/probe-%d", i)
			put(t, s, fmt.Sprintf("strata/web/cohorts/zz-probe-%d", i), fmt.Sprintf(`{"version":"v2","opt_in":%q}`, probe))
			// The probe is a KV write and the case may be a catalog
			// registration, which the agent syncs separately: wait for both
			// to be rendered and applied.
			s.EventuallyT(t, "HAProxy loads the render after "+c.name, func() (bool, string) {
				a := s.Get(probe, nil, nil)
				if a.Status != 302 {
					return false, fmt.Sprintf("%s answers %d", probe, a.Status)
				}
				intent, _ := os.ReadFile(filepath.Join(s.Dir, routing.IntentFile))
				if !strings.Contains(string(intent), c.evidence) {
					return false, fmt.Sprintf("the render does not show the data (%q):\n%s", c.evidence, intent)
				}
				return true, ""
			})
			haproxyCheck(t, s.Dir)
			if cfg, _ := os.ReadFile(filepath.Join(s.Dir, routing.ConfigFile)); !bytes.Equal(cfg, structure) {
				t.Errorf("haproxy.cfg changed:\n%s", cfg)
			}
			after := configLines(t, s.Dir)
			plus, minus := added(before, after)
			before = after
			if len(minus) > 0 {
				t.Errorf("lines removed:\n%s", strings.Join(minus, "\n"))
			}
			unexpected := slices.Clone(plus)
			for _, p := range c.want {
				re := regexp.MustCompile(p)
				i := slices.IndexFunc(unexpected, re.MatchString)
				if i < 0 {
					t.Errorf("no added line matches %s", p)
					continue
				}
				unexpected = slices.Delete(unexpected, i, i+1)
			}
			if len(unexpected) > 0 {
				t.Errorf("lines added beyond the item's own:\n%s", strings.Join(unexpected, "\n"))
			}
			for _, v := range []string{"v1", "v3"} {
				if a := s.Get("/", map[string]string{"strata_version": v}, nil); a.Status != 200 || a.Version != v {
					t.Errorf("a session pinned to %s: %d from %q", v, a.Status, a.Version)
				}
			}
			if a := s.Get("/", nil, nil); a.Status != 200 || a.Version != "v2" {
				t.Errorf("a new session: %d from %q, want v2", a.Status, a.Version)
			}
			if a := s.Get("/", nil, nil); a.Status == 302 {
				t.Errorf("/ redirects")
			}
			if c.cookie != "" {
				// versions.map is a template of its own, reloaded on its own.
				s.EventuallyT(t, "cookie "+c.cookie+" reaches "+c.reaches, func() (bool, string) {
					a := s.Get("/", map[string]string{"strata_version": c.cookie}, nil)
					return a.Status == 200 && a.Version == c.reaches, fmt.Sprintf("%d from %q", a.Status, a.Version)
				})
			}
		})
	}
}
