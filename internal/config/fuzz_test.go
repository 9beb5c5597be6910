package config_test

import (
	"errors"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/naming"
)

// fuzzSeeds are configurations that reach most of the decoder: merge keys,
// aliases, every block and a few errors.
var fuzzSeeds = []string{
	"",
	"apps: {}\n",
	"apps:\n  w:\n    kind: worker\n    driver: docker\n    image: \"i:{{version}}\"\n    versions: [v1]\n",
	"apps:\n  w:\n    kind: worker\n    driver: docker\n    image: \"i:{{version}}\"\n    env: {A: b}\n    versions:\n      - v1\n      - {version: v2, env: {C: d}, resources: {memory: 64}, image: \"i:x\", args: [\"{{version}}\"]}\n      - {version: v3, count: 2}\n",
	`
region: global
namespace: default
datacenters: [dc1, "dc*"]
created: "2026-11-01T00:00:00Z"
output: out
apps:
  web: &web
    driver: docker
    image: "img:{{version}}"
    args: ["--v", "{{version}}"]
    ports: {http: {to: 8080}, admin: {static: 9000}}
    service:
      port: http
      tags: [public]
      check: {path: /healthz, interval: 10s, timeout: 3s}
    count: 2
    resources: {cpu: 100, memory: 64, memory_max: 128}
    env: {V: "{{version}}", EMPTY: }
    constraints:
      - {attribute: "${attr.kernel.name}", operator: "=", value: linux}
      - {operator: distinct_hosts}
    node_pool: default
    update: {max_parallel: 1, min_healthy_time: 10s, healthy_deadline: 5m, progress_deadline: 10m, auto_revert: true}
    shutdown_delay: 30s
    kill_timeout: 1m
    max_versions: 3
    versions: [v9, v10, 1.10]
    live: v10
  api:
    <<: *web
    versions: [v1]
    live: v1
  raw:
    <<: [{kind: worker}, {driver: raw_exec}]
    command: "/bin/raw-{{version}}"
    versions: [a-v1]
`,
	`
apps:
  web-a: {kind: worker, driver: docker, image: "i:{{version}}", versions: [v1]}
  web: {kind: worker, driver: docker, image: "i:{{ version }}", versions: [a-v1, V_2, "../x"]}
  strata: {}
`,
	"a: &a [x, x]\nb: &b [*a, *a]\napps:\n  w: {<<: [*b]}\n",
	`
haproxy: {mworker_max_reloads: 2}
apps:
  web: &web
    driver: raw_exec
    command: /bin/web
    args: ["{{version}}"]
    ports: {http: {}}
    service: {check: {path: /h}}
    count: 20
    versions: [v1, v2]
    live: v1
    routing: {bind: ":80", host: "*.example.com", max_versions: 4, max_servers: 8}
    rollout: {steps: [5, 25, 100], interval: 1m, max_error_rate: 1%, min_requests: 10, max_error_rate_ratio: 2, on_failure: return}
  api:
    <<: *web
    routing: {bind: "0.0.0.0:80", host: api.example.com}
    rollout: {steps: [100], interval: 30s, max_error_rate: 0.5}
  bad:
    <<: *web
    routing: {bind: "*:80", host: "*.Example.com", max_versions: 1}
    rollout: {steps: [50, 25], interval: 0s, max_error_rate: 2}
`,
}

// positioned matches a Source that carries a file position.
var positioned = regexp.MustCompile(`^strata\.yaml:(\d+):(\d+)$`)

func FuzzParse(f *testing.F) {
	if example, err := os.ReadFile("../../strata.yaml"); err == nil {
		f.Add(example)
	} else {
		f.Errorf("reading the bundled example: %v", err)
	}
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Parse("strata.yaml", data, config.Options{LookupEnv: noEnv})
		if err != nil {
			checkFuzzErrors(t, err)
			if cfg != nil {
				t.Errorf("Parse returned a configuration along with %v", err)
			}
			return
		}
		checkFuzzConfig(t, cfg)
	})
}

// checkFuzzErrors checks what every error from Parse promises: a
// config.Errors, each problem with a source, in document order.
func checkFuzzErrors(t *testing.T, err error) {
	es, ok := err.(config.Errors)
	if !ok {
		t.Fatalf("Parse returned %T, want config.Errors: %v", err, err)
	}
	var viaAs config.Errors
	if !errors.As(err, &viaAs) || len(es) == 0 {
		t.Fatalf("Parse returned an empty or unwrappable config.Errors: %v", err)
	}
	prevLine, prevCol := 0, 0
	for _, e := range es {
		if e == nil {
			t.Fatalf("Parse returned a nil problem in %v", err)
		}
		if e.Source == "" || e.Msg == "" {
			t.Errorf("problem without a source or message: %#v", e)
		}
		if !strings.HasPrefix(e.Source, "strata.yaml") && !strings.HasPrefix(e.Source, "STRATA_") && !strings.HasPrefix(e.Source, "--") {
			t.Errorf("problem %q does not name the file, variable or flag", e.Error())
		}
		line, col := 0, 0
		if m := positioned.FindStringSubmatch(e.Source); m != nil {
			line, _ = strconv.Atoi(m[1])
			col, _ = strconv.Atoi(m[2])
			if line < 1 || col < 1 {
				t.Errorf("problem %q has a position before the start of the file", e.Error())
			}
		} else if e.Source != "strata.yaml" {
			t.Errorf("problem %q names neither the bare file nor file:line:column", e.Error())
		}
		if line < prevLine || (line == prevLine && col < prevCol) {
			t.Errorf("problems out of document order:\n%v", err)
			break
		}
		prevLine, prevCol = line, col
	}
}

// checkFuzzConfig checks what every accepted configuration promises.
func checkFuzzConfig(t *testing.T, cfg *config.Config) {
	if len(cfg.Apps) == 0 {
		t.Fatalf("Parse accepted a configuration without apps")
	}
	if cfg.Output == "" {
		t.Errorf("Parse accepted a configuration with no output directory")
	}
	jobIDs := map[string]bool{}
	hosts := map[string]string{} // listener and host => app
	byListener := map[string]int{}
	for _, a := range cfg.Apps {
		if a.Routing != nil {
			byListener[a.Routing.Listener()]++
		}
	}
	for _, a := range cfg.Apps {
		if r := a.Routing; r != nil && byListener[r.Listener()] > 1 {
			key := r.Listener() + " " + r.Host
			if prev, dup := hosts[key]; dup || r.Host == "" {
				t.Errorf("apps %s and %s share %s with host %q", prev, a.Name, r.Listener(), r.Host)
			}
			hosts[key] = a.Name
		}
	}
	for i, a := range cfg.Apps {
		if i > 0 && cfg.Apps[i-1].Name >= a.Name {
			t.Errorf("apps not sorted by name, or listed twice: %q then %q", cfg.Apps[i-1].Name, a.Name)
		}
		if !naming.ValidApp(a.Name) || a.Name == config.ReservedApp {
			t.Errorf("Parse accepted the app name %q", a.Name)
		}
		if a.Kind != config.KindWeb && a.Kind != config.KindWorker {
			t.Errorf("app %s has kind %q", a.Name, a.Kind)
		}
		if !slices.Contains([]string{config.DriverDocker, config.DriverExec, config.DriverRawExec}, a.Driver) {
			t.Errorf("app %s has driver %q", a.Name, a.Driver)
		}
		if len(a.Versions) == 0 || len(a.Versions) > a.MaxVersions {
			t.Errorf("app %s has %d versions with max_versions %d", a.Name, len(a.Versions), a.MaxVersions)
		}
		for j, v := range a.Versions {
			if !naming.ValidVersion(v) {
				t.Errorf("Parse accepted the version %q of app %s", v, a.Name)
			}
			if j > 0 && naming.CompareVersions(a.Versions[j-1], v) >= 0 {
				t.Errorf("versions of app %s not sorted or not unique: %q", a.Name, a.Versions)
			}
			id := naming.JobID(a.Name, v)
			if jobIDs[id] {
				t.Errorf("two versions make the job ID %q", id)
			}
			jobIDs[id] = true
		}
		if a.Live != "" && !slices.Contains(a.Versions, a.Live) {
			t.Errorf("app %s has live %q outside its versions %q", a.Name, a.Live, a.Versions)
		}
		if a.Kind == config.KindWeb && (a.Live == "" || a.Service == nil || a.Service.Check == nil) {
			t.Errorf("web app %s accepted without live, service or check", a.Name)
		}
		if s := a.Service; s != nil {
			if !slices.ContainsFunc(a.Ports, func(p config.Port) bool { return p.Label == s.Port }) {
				t.Errorf("app %s's service uses port %q, not one of %v", a.Name, s.Port, a.Ports)
			}
			if a.ShutdownDelay == nil {
				t.Errorf("app %s has a service but no shutdown_delay", a.Name)
			}
			if c := s.Check; c != nil && (c.Path == "" || c.Path[0] != '/' || c.Interval < time.Second || c.Timeout < time.Second || c.Timeout > c.Interval) {
				t.Errorf("app %s has the check %+v", a.Name, *c)
			}
		}
		if r := a.Routing; r != nil {
			if r.MaxVersions < config.MinVersionSlots || r.MaxVersions > config.MaxVersionSlots || len(a.Versions) > r.MaxVersions ||
				r.MaxServers < 1 || r.MaxServers > config.MaxServerSlots {
				t.Errorf("app %s has %d versions in %d version slots of %d servers", a.Name, len(a.Versions), r.MaxVersions, r.MaxServers)
			}
			if r.Host != "" && (strings.ToLower(r.Host) != r.Host || strings.Contains(strings.TrimPrefix(r.Host, "*."), "*")) {
				t.Errorf("app %s has the host %q", a.Name, r.Host)
			}
		}
		if ro := a.Rollout; ro != nil {
			if a.Kind != config.KindWeb || a.Routing == nil {
				t.Errorf("app %s of kind %s has a rollout, routing %v", a.Name, a.Kind, a.Routing)
			}
			increasing := len(ro.Steps) > 0 && ro.Steps[0] >= 1 && ro.Steps[len(ro.Steps)-1] == 100
			for j := 1; j < len(ro.Steps); j++ {
				increasing = increasing && ro.Steps[j-1] < ro.Steps[j]
			}
			if !increasing || ro.Interval <= 0 || !(ro.MaxErrorRate >= 0 && ro.MaxErrorRate <= 1) ||
				ro.MinRequests < 1 || ro.MaxErrorRateRatio < 0 || (ro.OnFailure != config.RolloutStay && ro.OnFailure != config.RolloutReturn) {
				t.Errorf("app %s has the rollout %+v", a.Name, *ro)
			}
		}
		if (a.Driver == config.DriverDocker && a.Image == "") || (a.Driver != config.DriverDocker && (a.Command == "" || a.Image != "")) {
			t.Errorf("app %s with driver %s has image %q and command %q", a.Name, a.Driver, a.Image, a.Command)
		}
	}
}
