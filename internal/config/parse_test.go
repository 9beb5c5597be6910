package config_test

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/config"
)

func ptr[T any](v T) *T { return &v }

// dump renders v for a failure message, following pointers.
func dump(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// mustParse parses text as strata.yaml with no environment and no flags.
func mustParse(t *testing.T, name, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse(name, text(yaml), config.Options{LookupEnv: noEnv})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return cfg
}

func app(t *testing.T, cfg *config.Config, name string) *config.App {
	t.Helper()
	a := cfg.App(name)
	if a == nil {
		t.Fatalf("no app %q in the configuration", name)
	}
	return a
}

func TestBundledExampleLoads(t *testing.T) {
	cfg, err := config.Load(config.Options{Path: "../../strata.yaml", LookupEnv: noEnv})
	if err != nil {
		t.Fatalf("the bundled strata.yaml does not load:\n%v", err)
	}
	source, err := os.ReadFile("../../strata.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Both kill timeouts need the clients' consent.
	wantWarnings := `../../strata.yaml:42:19: apps.web.kill_timeout: 1h0m0s is longer than the 30s a Nomad client allows by default: each client cuts it to its max_kill_timeout unless the client configuration raises it (client { max_kill_timeout = "1h" })` + "\n" +
		`../../strata.yaml:67:19: apps.transcoder.kill_timeout: 2m0s is longer than the 30s a Nomad client allows by default: each client cuts it to its max_kill_timeout unless the client configuration raises it (client { max_kill_timeout = "2m" })`
	if got := cfg.Warnings.Error(); got != wantWarnings {
		t.Errorf("warnings:\n%s\nwant\n%s", got, wantWarnings)
	}
	cfg.Warnings = nil
	want := &config.Config{
		File:        "../../strata.yaml",
		Source:      source,
		Region:      "global",
		Datacenters: []string{"dc1"},
		Created:     "2026-11-01T00:00:00Z",
		Output:      "../../jobs",
		Apps: []*config.App{
			{
				Name:     "transcoder",
				Kind:     config.KindWorker,
				Driver:   config.DriverDocker,
				Image:    "ghcr.io/strata-dev/transcoder:{{version}}",
				Count:    ptr(3),
				NodePool: "spot",
				Resources: &config.Resources{
					CPU:       ptr(1000),
					Memory:    ptr(1024),
					MemoryMax: ptr(2048),
				},
				Env:         map[string]string{"QUEUE": "transcode-{{version}}"},
				Constraints: []config.Constraint{{Attribute: "${attr.kernel.name}", Operator: "=", Value: "linux"}},
				KillTimeout: ptr(2 * time.Minute),
				MaxVersions: 8,
				Versions:    []string{"v2", "v3"},
				Retire:      defaultRetire(config.DefaultKeepWorker),
			},
			{
				Name:   "web",
				Kind:   config.KindWeb,
				Driver: config.DriverDocker,
				Image:  "ghcr.io/strata-dev/web:{{version}}",
				Args:   []string{"--listen", ":${NOMAD_PORT_http}", "--version", "{{version}}"},
				Ports:  []config.Port{{Label: "http"}},
				Service: &config.Service{
					Port:  "http",
					Tags:  []string{"public"},
					Check: &config.Check{Path: "/healthz", Interval: 5 * time.Second, Timeout: 2 * time.Second},
				},
				Count:     ptr(2),
				Resources: &config.Resources{CPU: ptr(200), Memory: ptr(256)},
				Env:       map[string]string{"APP_VERSION": "{{version}}", "LOG_LEVEL": "info"},
				Update: &config.Update{
					MinHealthyTime:  ptr(10 * time.Second),
					HealthyDeadline: ptr(3 * time.Minute),
					// kill_timeout + healthy_deadline: Nomad's 10m
					// default is shorter than the kill timeout.
					ProgressDeadline: ptr(time.Hour + 3*time.Minute),
					AutoRevert:       ptr(true),
				},
				ShutdownDelay: ptr(30 * time.Second),
				KillTimeout:   ptr(time.Hour),
				MaxVersions:   8,
				Versions:      []string{"v8", "v9", "v10"},
				Live:          "v10",
				Routing: &config.Routing{
					Bind: ":8080", Cookie: config.DefaultCookie, ServerCookie: config.DefaultServerCookie,
					PinPaths:    []string{"/record"},
					MaxVersions: config.DefaultMaxVersions, MaxServers: config.DefaultServerSlots,
				},
				Retire: defaultRetire(config.DefaultKeepWeb),
			},
		},
		Sweeper: config.Sweeper{Cron: config.DefaultSweepCron, Driver: config.DriverRawExec, Strata: config.DefaultStrataBinary},
		HAProxy: config.HAProxy{
			Driver: config.DriverRawExec, Command: config.DefaultHAProxyCommand, Strata: config.DefaultStrataBinary,
			WaitMin: config.DefaultTemplateWaitMin, WaitMax: config.DefaultTemplateWaitMax,
		},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("the bundled strata.yaml loads as\n%s\nwant\n%s", dump(cfg), dump(want))
	}
}

func TestDefaults(t *testing.T) {
	cfg := mustParse(t, "strata.yaml", `
apps:
  web:
    driver: docker
    image: "img:{{version}}"
    ports: {http: {}}
    service:
      check: {path: /healthz}
    versions: [v1]
    live: v1
  worker:
    kind: worker
    driver: exec
    command: "/bin/worker-{{version}}"
    versions: [v1]
  queue:
    kind: worker
    driver: raw_exec
    command: "/bin/queue"
    env: {V: "{{version}}"}
    ports: {metrics: {static: 9100, to: 9100}}
    service: {}
    versions: [v1]
`)
	if cfg.Region != "" || cfg.Namespace != "" || cfg.Datacenters != nil || cfg.Created != "" {
		t.Errorf("unset globals are %q %q %q %q, want all empty (Nomad's defaults)", cfg.Region, cfg.Namespace, cfg.Datacenters, cfg.Created)
	}
	if cfg.Output != "jobs" {
		t.Errorf("Output = %q, want jobs beside strata.yaml", cfg.Output)
	}

	web := app(t, cfg, "web")
	if web.Kind != config.KindWeb {
		t.Errorf("an app without kind has Kind %q, want web", web.Kind)
	}
	if web.MaxVersions != 8 {
		t.Errorf("MaxVersions = %d, want 8", web.MaxVersions)
	}
	if web.Service.Port != "http" {
		t.Errorf("a service without a port on an app with one port uses %q, want http", web.Service.Port)
	}
	if c := web.Service.Check; c.Interval != 5*time.Second || c.Timeout != 2*time.Second {
		t.Errorf("check interval/timeout = %v/%v, want 5s/2s", c.Interval, c.Timeout)
	}
	if web.ShutdownDelay == nil || *web.ShutdownDelay != 5*time.Second {
		t.Errorf("ShutdownDelay of an app with a service = %v, want 5s", web.ShutdownDelay)
	}
	if web.Count != nil || web.Resources != nil || web.Update != nil || web.KillTimeout != nil || web.NodePool != "" {
		t.Errorf("unset app settings are not Nomad's defaults: %s", dump(web))
	}

	worker := app(t, cfg, "worker")
	if worker.ShutdownDelay != nil {
		t.Errorf("ShutdownDelay of an app without a service = %v, want nil", *worker.ShutdownDelay)
	}
	if worker.Live != "" || worker.Service != nil {
		t.Errorf("a worker gets live %q and service %v, want neither", worker.Live, worker.Service)
	}

	queue := app(t, cfg, "queue")
	if queue.ShutdownDelay == nil || *queue.ShutdownDelay != 5*time.Second {
		t.Errorf("ShutdownDelay of a worker with a service = %v, want 5s", queue.ShutdownDelay)
	}
	if queue.Service.Check != nil {
		t.Errorf("a worker's service without a check gets %v, want none", queue.Service.Check)
	}
	if want := []config.Port{{Label: "metrics", Static: 9100, To: 9100}}; !reflect.DeepEqual(queue.Ports, want) {
		t.Errorf("Ports = %v, want %v", queue.Ports, want)
	}

	if names := appNames(cfg); !slices.Equal(names, []string{"queue", "web", "worker"}) {
		t.Errorf("apps are %v, want them sorted by name", names)
	}
}

func appNames(cfg *config.Config) []string {
	var names []string
	for _, a := range cfg.Apps {
		names = append(names, a.Name)
	}
	return names
}

func TestExplicitValuesOverrideDefaults(t *testing.T) {
	cfg := mustParse(t, "strata.yaml", `
apps:
  web:
    driver: docker
    image: "img:{{version}}"
    ports: {http: {}, admin: {}}
    service:
      port: admin
      check: {path: /ready, interval: 30s, timeout: 30s}
    shutdown_delay: 0s
    max_versions: 2
    update:
      max_parallel: 0
      healthy_deadline: 5m
      progress_deadline: 0s
      auto_revert: false
    constraints:
      - {operator: distinct_hosts}
      - {operator: is_set, attribute: "${meta.gpu}"}
      - {operator: distinct_property, attribute: "${node.rack}"}
    versions: [v1, v2]
    live: v1
`)
	web := app(t, cfg, "web")
	if web.ShutdownDelay == nil || *web.ShutdownDelay != 0 {
		t.Errorf("shutdown_delay: 0s gives %v, want 0 (not the 5s default)", web.ShutdownDelay)
	}
	if web.MaxVersions != 2 {
		t.Errorf("MaxVersions = %d, want 2", web.MaxVersions)
	}
	if want := (&config.Check{Path: "/ready", Interval: 30 * time.Second, Timeout: 30 * time.Second}); !reflect.DeepEqual(web.Service.Check, want) {
		t.Errorf("Check = %+v, want %+v (a timeout equal to the interval is fine)", web.Service.Check, want)
	}
	if web.Service.Port != "admin" {
		t.Errorf("service port = %q, want admin", web.Service.Port)
	}
	wantUpdate := &config.Update{MaxParallel: ptr(0), HealthyDeadline: ptr(5 * time.Minute), ProgressDeadline: ptr(time.Duration(0)), AutoRevert: ptr(false)}
	if !reflect.DeepEqual(web.Update, wantUpdate) {
		t.Errorf("Update = %s, want %s (progress_deadline 0 disables the check)", dump(web.Update), dump(wantUpdate))
	}
	wantConstraints := []config.Constraint{
		{Operator: "distinct_hosts"},
		{Attribute: "${meta.gpu}", Operator: "is_set"},
		{Attribute: "${node.rack}", Operator: "distinct_property"},
	}
	if !reflect.DeepEqual(web.Constraints, wantConstraints) {
		t.Errorf("Constraints = %+v, want %+v", web.Constraints, wantConstraints)
	}
}

func TestOneSecondCheckIntervalWithoutTimeout(t *testing.T) {
	// The default timeout never exceeds an interval the user chose.
	cfg, err := config.Parse("strata.yaml", text(`
apps:
  web:
    driver: docker
    image: "img:{{version}}"
    ports: {http: {}}
    service:
      check: {path: /healthz, interval: 1s}
    versions: [v1]
    live: v1
`), config.Options{LookupEnv: noEnv})
	if err != nil {
		t.Fatalf("a check with interval: 1s and no timeout is rejected:\n%v", err)
	}
	if c := app(t, cfg, "web").Service.Check; c.Interval != time.Second || c.Timeout > c.Interval {
		t.Errorf("check interval/timeout = %v/%v, want 1s and a timeout no longer than it", c.Interval, c.Timeout)
	}
}

func TestOutputIsRelativeToTheConfigFile(t *testing.T) {
	const apps = `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1]
`
	for _, tc := range []struct {
		name   string
		file   string
		output string // output: line, or empty for none
		want   string
	}{
		{"the default output is jobs beside a file in the working directory", "strata.yaml", "", "jobs"},
		{"the default output is jobs beside a file in another directory", "deploy/strata.yaml", "", "deploy/jobs"},
		{"the default output is jobs beside a file given by absolute path", "/etc/strata/strata.yaml", "", "/etc/strata/jobs"},
		{"a relative output is relative to the file's directory", "deploy/strata.yaml", "output: build/jobs\n", "deploy/build/jobs"},
		{"a relative output with dot-dot is cleaned", "deploy/strata.yaml", "output: ../out\n", "out"},
		{"an absolute output is used as written", "deploy/strata.yaml", "output: /srv/jobs\n", "/srv/jobs"},
		{"an empty output means the default", "deploy/strata.yaml", "output: \"\"\n", "deploy/jobs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := mustParse(t, tc.file, "\n"+tc.output+strings.TrimPrefix(apps, "\n"))
			if cfg.Output != tc.want {
				t.Errorf("Output = %q, want %q", cfg.Output, tc.want)
			}
			if cfg.File != tc.file {
				t.Errorf("File = %q, want %q", cfg.File, tc.file)
			}
		})
	}
}

func TestVersionsSortNaturally(t *testing.T) {
	for _, tc := range []struct {
		name     string
		versions string
		want     []string
	}{
		{"v9 comes before v10", "[v10, v9, v1]", []string{"v1", "v9", "v10"}},
		{"dotted versions compare number by number", "[1.10.0, 1.9.2, 1.9.10, 2.0.0]", []string{"1.9.2", "1.9.10", "1.10.0", "2.0.0"}},
		{"versions already in order stay in order", "[a, b, c]", []string{"a", "b", "c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := mustParse(t, "strata.yaml", `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: `+tc.versions+"\n")
			if got := app(t, cfg, "w").Versions; !slices.Equal(got, tc.want) {
				t.Errorf("Versions = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestScalarsKeepTheTextWritten(t *testing.T) {
	cfg := mustParse(t, "strata.yaml", `
region: 1.10
namespace: 0123
datacenters: [1.0, dc2]
created: 2026-11-01T00:00:00Z
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    env:
      RATIO: 1.10
      OCTAL: 0o17
      ENABLED: true
      EMPTY:
      V: "{{version}}"
    args: [1.50, yes, null-ish]
    versions: [1.10, 1.9, 2]
    live: 1.10
`)
	if cfg.Region != "1.10" || cfg.Namespace != "0123" || !slices.Equal(cfg.Datacenters, []string{"1.0", "dc2"}) {
		t.Errorf("globals = %q %q %q, want 1.10 0123 [1.0 dc2]", cfg.Region, cfg.Namespace, cfg.Datacenters)
	}
	if cfg.Created != "2026-11-01T00:00:00Z" {
		t.Errorf("an unquoted timestamp gives Created %q, want it as written", cfg.Created)
	}
	w := app(t, cfg, "w")
	if want := []string{"1.9", "1.10", "2"}; !slices.Equal(w.Versions, want) {
		t.Errorf("Versions = %q, want %q", w.Versions, want)
	}
	if w.Live != "1.10" {
		t.Errorf("Live = %q, want 1.10", w.Live)
	}
	wantEnv := map[string]string{"RATIO": "1.10", "OCTAL": "0o17", "ENABLED": "true", "EMPTY": "", "V": "{{version}}"}
	if !reflect.DeepEqual(w.Env, wantEnv) {
		t.Errorf("Env = %q, want %q", w.Env, wantEnv)
	}
	if want := []string{"1.50", "yes", "null-ish"}; !slices.Equal(w.Args, want) {
		t.Errorf("Args = %q, want %q", w.Args, want)
	}
}

func TestAnchorsAndMergeKeys(t *testing.T) {
	cfg := mustParse(t, "strata.yaml", `
apps:
  web: &web
    driver: docker
    image: "ghcr.io/x/web:{{version}}"
    ports: {http: {}}
    service: &service
      tags: [public]
      check: {path: /healthz}
    resources: &small {cpu: 100, memory: 128}
    versions: &versions [v1, v2]
    live: v2
  api:
    <<: *web
    image: "ghcr.io/x/api:{{version}}"
    versions: [v7]
    live: v7
  batch:
    kind: worker
    driver: docker
    image: "ghcr.io/x/batch:{{version}}"
    resources: *small
    ports: {http: {}}
    service: *service
    versions: *versions
  mixed:
    <<: [{kind: worker, count: 2}, {kind: web, count: 5, node_pool: spot}]
    driver: exec
    command: "/bin/mixed-{{version}}"
    versions: [v1]
`)
	api := app(t, cfg, "api")
	if api.Image != "ghcr.io/x/api:{{version}}" {
		t.Errorf("a key written beside a merge key gives image %q, want the one written", api.Image)
	}
	if !slices.Equal(api.Versions, []string{"v7"}) || api.Live != "v7" {
		t.Errorf("api versions/live = %v/%q, want [v7]/v7", api.Versions, api.Live)
	}
	if api.Driver != "docker" || api.Service == nil || api.Service.Check == nil || api.Service.Check.Path != "/healthz" ||
		api.Resources == nil || *api.Resources.CPU != 100 || len(api.Ports) != 1 {
		t.Errorf("merged keys are missing from api: %s", dump(api))
	}

	batch := app(t, cfg, "batch")
	if !slices.Equal(batch.Versions, []string{"v1", "v2"}) || batch.Resources == nil || *batch.Resources.Memory != 128 {
		t.Errorf("aliased values are missing from batch: %s", dump(batch))
	}
	if batch.Service == nil || !slices.Equal(batch.Service.Tags, []string{"public"}) {
		t.Errorf("batch's aliased service is %s", dump(batch.Service))
	}

	mixed := app(t, cfg, "mixed")
	if mixed.Kind != config.KindWorker || mixed.Count == nil || *mixed.Count != 2 || mixed.NodePool != "spot" {
		t.Errorf("merging a list of mappings gives kind %q count %v pool %q; want the earlier mapping to win (worker, 2) and spot from the later", mixed.Kind, mixed.Count, mixed.NodePool)
	}
	// The aliased nodes are shared; decoding one app must not change another.
	if web := app(t, cfg, "web"); web.Image != "ghcr.io/x/web:{{version}}" || web.Live != "v2" {
		t.Errorf("web changed by the apps that merge it: %s", dump(web))
	}
}

func TestAllProblemsAreReportedInDocumentOrder(t *testing.T) {
	_, err := config.Parse("strata.yaml", text(`
region: "us east"
apps:
  zeta:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    count: 0
    versions: [v1, V2]
  alpha:
    driver: docker
    image: "img:{{ version }}"
    args: ["{{version}}"]
    ports: {http: {static: 70000}}
    service:
      check: {path: /h, interval: 10ms}
    versions: [v1]
    live: v9
  "strata":
    driver: docker
created: yesterday
`), config.Options{LookupEnv: noEnv})
	checkErrors(t, err, []wantErr{
		{"strata.yaml:1:9", "region", "not a valid region"},
		{"strata.yaml:7:12", "apps.zeta.count", "0 instances"},
		{"strata.yaml:8:20", "apps.zeta.versions[1]", `"V2" is not a valid version`},
		{"strata.yaml:11:12", "apps.alpha.image", `"{{ version }}" is not a placeholder`},
		{"strata.yaml:13:28", "apps.alpha.ports.http.static", "70000 is not a port number"},
		{"strata.yaml:15:35", "apps.alpha.service.check.interval", "10ms is shorter than Nomad's minimum of 1s"},
		{"strata.yaml:17:11", "apps.alpha.live", `"v9" is not in versions (v1)`},
		{"strata.yaml:18:3", "apps.strata", "is reserved"},
		{"strata.yaml:20:10", "created", `"yesterday" is not an RFC 3339 timestamp`},
	})
}

func TestParseDoesNotModifyItsInput(t *testing.T) {
	data := text(`
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v2, v1]
`)
	before := string(data)
	first := mustParse(t, "strata.yaml", before)
	second, err := config.Parse("strata.yaml", data, config.Options{LookupEnv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != before {
		t.Errorf("Parse changed its input to %q", data)
	}
	if !reflect.DeepEqual(first, second) {
		t.Errorf("parsing the same text twice gives\n%s\nand\n%s", dump(first), dump(second))
	}
}

func defaultRetire(keep int) config.Retire {
	return config.Retire{Keep: keep, MinAge: config.DefaultMinAge, DrainGrace: config.DefaultDrainGrace,
		HandoffGrace: config.DefaultHandoffGrace, MaxRetirePerRun: config.DefaultMaxRetirePerRun}
}
