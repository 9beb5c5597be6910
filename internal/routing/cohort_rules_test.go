package routing_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/release"
	"github.com/strata-dev/strata/internal/routing"
	"github.com/strata-dev/strata/internal/routing/apply"
	"github.com/strata-dev/strata/internal/testenv"
)

// TestCohortRulesAgreeWithTheCLI puts one table of cohorts into a real
// Consul, renders the template against it, and asks release.ListCohorts (what
// `strata cohort ls` prints) about the same cohorts: each case's verdict must
// be the one the table expects, and the paths HAProxy routes must be exactly
// those the CLI reports as routed. The template cannot call strata's code, so
// this is what keeps the two rules one.
func TestCohortRulesAgreeWithTheCLI(t *testing.T) {
	c := testenv.StartConsul(t)
	register(t, c, instance{app: "web", version: "v1", alloc: "r1", port: 20201, live: true})
	register(t, c, instance{app: "web", version: "v2", alloc: "r2", port: 20202})
	register(t, c, instance{app: "web", version: "v3", alloc: "r3", port: 20203})
	putKV(t, c, "strata/web/draining/v3", "2026-11-26T10:00:00Z")
	// v4's only instance has a host name: it has no server.
	err := c.Client.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{
		ID: "v4-hostname", Name: "web", Tags: []string{naming.TagManaged, naming.VersionTag("v4")}, Address: "v4.invalid", Port: 20204,
		Check: &consulapi.AgentServiceCheck{CheckID: "v4-ttl", TTL: "1h", Status: consulapi.HealthPassing},
	})
	if err != nil {
		t.Fatal(err)
	}

	const (
		routed  = "routed"
		ignored = "ignored"
		noOut   = "routed, opt-out ignored"
	)
	// Keys sort in this order, which decides who owns a path first.
	cases := []struct {
		sentence, name, value, want string
	}{
		{"a cohort with a bad name is ignored and claims no path", "Bad_Name", `{"version":"v1","opt_in":"/bad"}`, ignored},
		{"a plain cohort is routed", "a-plain", `{"version":"v1","opt_in":"/a","opt_out":"/a-out"}`, routed},
		{"an opt-in path of / is ignored", "b-root", `{"version":"v1","opt_in":"/"}`, ignored},
		{"an opt-out path of / loses only the opt-out", "c-root-out", `{"version":"v2","opt_in":"/c","opt_out":"/"}`, noOut},
		{"the same opt-in and opt-out path loses the opt-out", "d-same", `{"version":"v2","opt_in":"/d","opt_out":"/d"}`, noOut},
		{"an opt-in path an earlier cohort routes is ignored", "e-steals-in", `{"version":"v2","opt_in":"/a"}`, ignored},
		{"an opt-out path an earlier cohort routes loses the opt-out", "f-steals-out", `{"version":"v2","opt_in":"/f","opt_out":"/a-out"}`, noOut},
		{"a draining version is ignored", "g-draining", `{"version":"v3","opt_in":"/g"}`, ignored},
		{"a version with no server is ignored", "h-no-server", `{"version":"v4","opt_in":"/h"}`, ignored},
		{"a version never deployed is ignored", "i-not-deployed", `{"version":"v5","opt_in":"/i"}`, ignored},
		{"a value that is not JSON is ignored", "j-not-json", `{"version":`, ignored},
		{"a JSON array is ignored", "k-array", `["v1"]`, ignored},
		{"a number for a version is ignored when no such version runs", "l-number", `{"version":5,"opt_in":"/l"}`, ignored},
		{"a missing opt-in path is ignored", "m-no-opt-in", `{"version":"v1"}`, ignored},
		{"an empty opt-out path means none", "n-empty-out", `{"version":"v1","opt_in":"/n","opt_out":""}`, routed},
		{"a null opt-out path means none", "o-null-out", `{"version":"v1","opt_in":"/o","opt_out":null}`, routed},
		{"an opt-in path starting with two slashes is ignored", "p-slashes", `{"version":"v1","opt_in":"//p"}`, ignored},
		{"an opt-in path with a trailing newline is ignored", "q-newline", `{"version":"v1","opt_in":"/q\n"}`, ignored},
		{"a path an ignored cohort asked for stays free", "r-after-ignored", `{"version":"v2","opt_in":"/bad"}`, routed},
		{"an opt-out of true loses the opt-out", "t-true-out", `{"version":"v2","opt_in":"/t","opt_out":true}`, noOut},
		{"a key one level deeper is ignored", "u-nested/x", `{"version":"v1","opt_in":"/u"}`, ignored},
		{"a version with spaces and a directive is ignored", "v-inject", `{"version":"v1\n    bind :1","opt_in":"/v"}`, ignored},
	}
	for _, tc := range cases {
		putKV(t, c, "strata/web/cohorts/"+tc.name, tc.value)
	}
	dir := renderOnce(t, c, routing.Data{StatsBind: "127.0.0.1:18404", Apps: []routing.App{web()}})
	haproxyCheck(t, dir)
	cfg, err := os.ReadFile(filepath.Join(dir, routing.IntentFile))
	if err != nil {
		t.Fatal(err)
	}
	// What HAProxy routes: the intent's cohort lines, which the apply step
	// writes into cohorts.map (opt-in paths to their version, opt-out paths
	// to "-").
	rule := regexp.MustCompile(`(?m)^cohort web \S+ (\S+) (\S+) (\S+)$`)
	var optIns, optOuts []string
	for _, m := range rule.FindAllStringSubmatch(string(cfg), -1) {
		optIns = append(optIns, m[1]+" "+m[2])
		if m[3] != "-" {
			optOuts = append(optOuts, m[3])
		}
	}
	cohortsMap, err := os.ReadFile(filepath.Join(dir, apply.CohortsMap))
	if err != nil {
		t.Fatal(err)
	}
	var mapped, fromIntent []string
	for _, l := range strings.Split(strings.TrimSpace(string(cohortsMap)), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			mapped = append(mapped, l)
		}
	}
	for _, in := range optIns {
		v, p, _ := strings.Cut(in, " ")
		fromIntent = append(fromIntent, "web"+p+" "+v)
	}
	for _, p := range optOuts {
		fromIntent = append(fromIntent, "web"+p+" -")
	}
	slices.Sort(mapped)
	slices.Sort(fromIntent)
	if !slices.Equal(mapped, fromIntent) {
		t.Errorf("cohorts.map holds %q, the intent routes %q", mapped, fromIntent)
	}

	cohorts, err := release.ListCohorts(context.Background(), c.Client.KV(), c.Client.Health(), "web")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]release.Cohort{}
	var cliIns, cliOuts []string
	for _, co := range cohorts {
		byName[co.Name] = co
		if co.Routed {
			cliIns = append(cliIns, co.Version+" "+co.OptIn)
			if co.OptOut != "" && co.Problem == "" {
				cliOuts = append(cliOuts, co.OptOut)
			}
		}
	}
	for _, tc := range cases {
		t.Run(tc.sentence, func(t *testing.T) {
			co, ok := byName[tc.name]
			if !ok {
				t.Fatalf("ListCohorts does not list %s", tc.name)
			}
			got := ignored
			switch {
			case co.Routed && co.Problem == "":
				got = routed
			case co.Routed && strings.HasPrefix(co.Problem, "opt-out ignored: "):
				got = noOut
			case co.Routed || !strings.HasPrefix(co.Problem, "ignored: "):
				t.Fatalf("routed %v with problem %q", co.Routed, co.Problem)
			}
			if got != tc.want {
				t.Errorf("the CLI says %s (%s), want %s", got, co.Problem, tc.want)
			}
			// The template's own comment for a validly named cohort.
			if strings.Contains(tc.name, "/") || tc.name == "Bad_Name" {
				return
			}
			comment := regexp.MustCompile(`(?m)^# cohort `+regexp.QuoteMeta(tc.name)+`: (.*)$`).FindAllStringSubmatch(string(cfg), -1)
			var says []string
			for _, m := range comment {
				says = append(says, m[1])
			}
			if got == ignored && (len(says) != 1 || !strings.HasPrefix(says[0], "ignored: ")) {
				t.Errorf("the template says %q, want one comment starting ignored:", says)
			}
			if got != ignored && (len(says) == 0 || strings.HasPrefix(says[0], "ignored")) {
				t.Errorf("the template says %q, want it routed", says)
			}
			if (got == noOut) != slices.ContainsFunc(says, func(s string) bool { return strings.HasPrefix(s, "opt-out ignored: ") }) {
				t.Errorf("the template says %q, the CLI %s", says, got)
			}
		})
	}
	slices.Sort(optIns)
	slices.Sort(cliIns)
	slices.Sort(optOuts)
	slices.Sort(cliOuts)
	if !slices.Equal(optIns, cliIns) {
		t.Errorf("HAProxy routes opt-in paths %q, the CLI reports %q", optIns, cliIns)
	}
	if !slices.Equal(optOuts, cliOuts) {
		t.Errorf("HAProxy routes opt-out paths %q, the CLI reports %q", optOuts, cliOuts)
	}
}
