package config_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/config"
)

// noEnv is an environment with no variables set, so a STRATA_* variable in
// the environment running the tests cannot change what they see.
func noEnv(string) (string, bool) { return "", false }

// env returns a LookupEnv that reads only vars.
func env(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

// text turns a raw string literal into configuration text: the newline after
// the opening backquote is dropped, so the literal's first line is line 1.
func text(s string) []byte { return []byte(strings.TrimPrefix(s, "\n")) }

// wantErr is one expected problem: the exact Source and Key, and a fragment
// of the message that only this problem produces.
type wantErr struct {
	source string
	key    string
	msg    string
}

// configErrors returns the problems in err, failing the test when err is
// not a config.Errors.
func configErrors(t *testing.T, err error) config.Errors {
	t.Helper()
	if err == nil {
		t.Fatal("got no error, want config.Errors")
	}
	var es config.Errors
	if !errors.As(err, &es) {
		t.Fatalf("got %T (%v), want config.Errors", err, err)
	}
	if len(es) == 0 {
		t.Fatalf("got an empty config.Errors")
	}
	return es
}

// checkErrors compares every problem in err, in order, with want.
func checkErrors(t *testing.T, err error, want []wantErr) {
	t.Helper()
	es := configErrors(t, err)
	got := make([]string, len(es))
	for i, e := range es {
		got[i] = fmt.Sprintf("%q %q %q", e.Source, e.Key, e.Msg)
	}
	if len(es) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(es), len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		e := es[i]
		if e.Source != w.source || e.Key != w.key || !strings.Contains(e.Msg, w.msg) {
			t.Errorf("problem %d:\n got  %s\n want %q %q containing %q", i, got[i], w.source, w.key, w.msg)
		}
	}
}

// validationCases are configurations with exactly the listed problems, one
// for every check in load.go, parse.go and decode.go.
var validationCases = []struct {
	name string
	yaml string
	want []wantErr
}{
	// The file as a whole.
	{
		name: "an empty file is rejected",
		yaml: "",
		want: []wantErr{{"strata.yaml", "", "empty; expected a mapping with at least apps"}},
	},
	{
		name: "a file of only comments is rejected as empty",
		yaml: "# nothing here yet\n",
		want: []wantErr{{"strata.yaml", "", "empty; expected a mapping with at least apps"}},
	},
	{
		name: "text that is not YAML is rejected with the parser's reason",
		yaml: "apps:\n\tweb: {}\n",
		want: []wantErr{{"strata.yaml", "", "not valid YAML: line 2: found character that cannot start any token"}},
	},
	{
		name: "a reference to an undefined anchor is rejected as invalid YAML",
		yaml: "apps: *nowhere\n",
		want: []wantErr{{"strata.yaml", "", "not valid YAML: unknown anchor 'nowhere' referenced"}},
	},
	{
		name: "a document that is a list is rejected",
		yaml: "- web\n",
		want: []wantErr{{"strata.yaml:1:1", "", "expected a mapping, got a list"}},
	},
	{
		name: "a document that is a plain string is rejected",
		yaml: "hello\n",
		want: []wantErr{{"strata.yaml:1:1", "", `expected a mapping, got "hello"`}},
	},
	{
		name: "a null document has no apps",
		yaml: "~\n",
		want: []wantErr{{"strata.yaml:1:1", "apps", "no apps; define at least one under apps"}},
	},
	{
		name: "a file without apps is rejected",
		yaml: "region: global\n",
		want: []wantErr{{"strata.yaml:1:1", "apps", "no apps; define at least one under apps"}},
	},
	{
		// The problem is reported at the start of the document, not at the
		// apps key; the key path says where to look.
		name: "an empty apps mapping is rejected",
		yaml: "region: global\napps: {}\n",
		want: []wantErr{{"strata.yaml:1:1", "apps", "no apps; define at least one under apps"}},
	},
	{
		name: "apps written as a list is rejected",
		yaml: "apps: [web]\n",
		want: []wantErr{{"strata.yaml:1:7", "apps", "expected a mapping, got a list"}},
	},
	{
		name: "apps written as a string is rejected",
		yaml: "apps: web\n",
		want: []wantErr{{"strata.yaml:1:7", "apps", `expected a mapping, got "web"`}},
	},

	// Keys.
	{
		name: "an unknown top-level key is rejected",
		yaml: `
regoin: global
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:1:1", "regoin", "unknown key; expected one of: region, datacenters, namespace, created, output, haproxy, sweeper, apps"}},
	},
	{
		name: "a top-level key written twice is rejected",
		yaml: `
region: a
region: b
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:2:1", "region", "duplicate key (first at line 1)"}},
	},
	{
		name: "an app defined twice is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1]
  w:
    kind: worker
`,
		want: []wantErr{{"strata.yaml:7:3", "apps.w", "duplicate key (first at line 2)"}},
	},
	{
		name: "an unknown app key is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1]
    imgae: x
`,
		want: []wantErr{{"strata.yaml:7:5", "apps.w.imgae", "unknown key; expected one of: kind, driver, image, command, args, ports, service, count, resources, env, constraints, node_pool, update, shutdown_delay, kill_timeout, max_versions, versions, live"}},
	},
	{
		name: "an app key written twice is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1]
    kind: web
`,
		want: []wantErr{{"strata.yaml:7:5", "apps.w.kind", "duplicate key (first at line 3)"}},
	},
	{
		name: "a key that is a list is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1]
    [a]: b
`,
		want: []wantErr{{"strata.yaml:7:5", "apps.w", "keys must be plain strings, got a list"}},
	},
	{
		// The message goes on to quote the anchor's name, `got "w"`, as if
		// it were the key's text; only the stable part is pinned.
		name: "an alias used as a key is rejected",
		yaml: `
apps:
  w: &w
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1]
    *w : b
`,
		want: []wantErr{{"strata.yaml:7:5", "apps.w", "keys must be plain strings"}},
	},
	{
		name: "a merge key with a plain value is rejected",
		yaml: `
apps:
  w:
    <<: 5
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:3:9", "apps.w", `a merge key (<<) needs a mapping or a list of mappings, got "5"`}},
	},
	{
		name: "a merge key listing a plain value is rejected",
		yaml: `
apps:
  w:
    <<: [{count: 2}, 5]
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:3:22", "apps.w", `expected a mapping, got "5"`}},
	},
	{
		name: "an unknown key brought in by a merge key is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1]
    <<: {imgae: x}
`,
		want: []wantErr{{"strata.yaml:7:10", "apps.w.imgae", "unknown key; expected one of: kind, driver"}},
	},
	{
		name: "unknown keys in every nested block are rejected",
		yaml: `
apps:
  web:
    driver: docker
    image: "img:{{version}}"
    ports:
      http: {statik: 80}
    service:
      chek: {path: /}
      check: {path: /, intervall: 5s}
    resources: {cpus: 1}
    update: {max_paralel: 1}
    constraints:
      - {attribute: a, value: b, op: "="}
    versions: [v1]
    live: v1
`,
		want: []wantErr{
			{"strata.yaml:6:14", "apps.web.ports.http.statik", "unknown key; expected one of: static, to"},
			{"strata.yaml:8:7", "apps.web.service.chek", "unknown key; expected one of: port, tags, check"},
			{"strata.yaml:9:24", "apps.web.service.check.intervall", "unknown key; expected one of: path, interval, timeout"},
			{"strata.yaml:10:17", "apps.web.resources.cpus", "unknown key; expected one of: cpu, memory, memory_max"},
			{"strata.yaml:11:14", "apps.web.update.max_paralel", "unknown key; expected one of: max_parallel, min_healthy_time, healthy_deadline, progress_deadline, auto_revert"},
			{"strata.yaml:13:34", "apps.web.constraints[0].op", "unknown key; expected one of: attribute, operator, value"},
		},
	},

	// Global settings in the file.
	{
		name: "a region with a space is rejected",
		yaml: `
region: "bad region"
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:1:9", "region", `"bad region" is not a valid region (letters, digits, '_', '.', '-')`}},
	},
	{
		name: "a region written as a list is rejected",
		yaml: `
region: [global]
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:1:9", "region", "expected a string, got a list"}},
	},
	{
		name: "a namespace with an underscore is rejected",
		yaml: `
namespace: bad_ns
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:1:12", "namespace", `"bad_ns" is not a valid Nomad namespace (letters, digits, '-')`}},
	},
	{
		name: "a namespace written as a mapping is rejected",
		yaml: `
namespace: {name: x}
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:1:12", "namespace", "expected a string, got a mapping"}},
	},
	{
		name: "a datacenter with a space is rejected",
		yaml: `
datacenters: [dc1, "dc 2"]
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:1:14", "datacenters", `"dc 2" is not a valid datacenter (letters, digits, '_', '.', '-', '*')`}},
	},
	{
		name: "an empty datacenter name is rejected",
		yaml: `
datacenters: [""]
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:1:14", "datacenters", `"" is not a valid datacenter`}},
	},
	{
		name: "datacenters written as a string is rejected",
		yaml: `
datacenters: dc1
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:1:14", "datacenters", `expected a list, got "dc1"`}},
	},
	{
		name: "a datacenter that is a list is rejected",
		yaml: `
datacenters: [dc1, [x]]
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:1:20", "datacenters[1]", "expected a string, got a list"}},
	},
	{
		name: "a created date without a time is rejected",
		yaml: `
created: "2026-11-01"
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:1:10", "created", `"2026-11-01" is not an RFC 3339 timestamp (like 2026-11-01T00:00:00Z)`}},
	},
	{
		name: "a created timestamp written as a list is rejected",
		yaml: `
created: [now]
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:1:10", "created", "expected a string, got a list"}},
	},
	{
		name: "an output written as a list is rejected",
		yaml: `
output: [jobs]
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:1:9", "output", "expected a string, got a list"}},
	},

	// App names.
	{
		name: "an app name with an uppercase letter is rejected",
		yaml: `
apps:
  Web:
    kind: worker
`,
		want: []wantErr{{"strata.yaml:2:3", "apps.Web", `"Web" is not a valid app name (a lowercase letter, then lowercase letters, digits, '-'; at most 32, not ending in '-')`}},
	},
	{
		name: "an app name ending in a dash is rejected",
		yaml: `
apps:
  web-:
    kind: worker
`,
		want: []wantErr{{"strata.yaml:2:3", "apps.web-", `"web-" is not a valid app name`}},
	},
	{
		name: "an app name starting with a digit is rejected",
		yaml: `
apps:
  1web:
    kind: worker
`,
		want: []wantErr{{"strata.yaml:2:3", "apps.1web", `"1web" is not a valid app name`}},
	},
	{
		name: "an app name of 33 characters is rejected",
		yaml: `
apps:
  abcdefghijklmnopqrstuvwxyzabcdefg:
    kind: worker
`,
		want: []wantErr{{"strata.yaml:2:3", "apps.abcdefghijklmnopqrstuvwxyzabcdefg", `"abcdefghijklmnopqrstuvwxyzabcdefg" is not a valid app name`}},
	},
	{
		name: "the app name strata is reserved",
		yaml: `
apps:
  strata:
    kind: worker
`,
		want: []wantErr{{"strata.yaml:2:3", "apps.strata", `"strata" is reserved for strata's own jobs and services (strata, strata-haproxy, strata-lbstats, strata-sweeper); name the app otherwise`}},
	},
	{
		name: "a regexp constraint whose value does not compile is rejected, as Nomad rejects it",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    constraints: [{ attribute: "${meta.rack}", operator: regexp, value: "(" }]
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:73", "apps.w.constraints[0].value", "\"(\" is not a regular expression: missing closing ): `(`"}},
	},
	{
		name: "the app name strata-haproxy is reserved: the sweeper would read its service as an HAProxy",
		yaml: `
apps:
  strata-haproxy:
    kind: worker
`,
		want: []wantErr{{"strata.yaml:2:3", "apps.strata-haproxy", `"strata-haproxy" is reserved for strata's own jobs and services (strata, strata-haproxy, strata-lbstats, strata-sweeper); name the app otherwise`}},
	},
	{
		name: "the app name strata-lbstats is reserved: the sweeper would read its service as an lbstats sidecar",
		yaml: `
apps:
  strata-lbstats:
    kind: worker
`,
		want: []wantErr{{"strata.yaml:2:3", "apps.strata-lbstats", `"strata-lbstats" is reserved for strata's own jobs and services (strata, strata-haproxy, strata-lbstats, strata-sweeper); name the app otherwise`}},
	},
	{
		name: "the app name strata-sweeper is reserved",
		yaml: `
apps:
  strata-sweeper:
    kind: worker
`,
		want: []wantErr{{"strata.yaml:2:3", "apps.strata-sweeper", `"strata-sweeper" is reserved for strata's own jobs and services (strata, strata-haproxy, strata-lbstats, strata-sweeper); name the app otherwise`}},
	},
	{
		name: "a static port equal to an HAProxy bind port is rejected, naming both keys",
		yaml: `
apps:
  web:
    driver: docker
    image: "img:{{version}}"
    ports: { http: {} }
    service: { check: { path: /healthz } }
    versions: [v1]
    live: v1
    routing: { bind: ":8080" }
  api:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    ports: { metrics: { static: 8080 } }
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:14:33", "apps.api.ports.metrics.static", "port 8080 is also apps.web.routing.bind, which HAProxy listens on on every node; Nomad cannot place both on one node: use another port"}},
	},
	{
		name: "an app's own static port equal to its bind port is rejected",
		yaml: `
apps:
  web:
    driver: docker
    image: "img:{{version}}"
    ports: { http: { static: 9000 } }
    service: { check: { path: /healthz } }
    versions: [v1]
    live: v1
    routing: { bind: "127.0.0.1:9000" }
`,
		want: []wantErr{{"strata.yaml:5:30", "apps.web.ports.http.static", "port 9000 is also apps.web.routing.bind, which HAProxy listens on on every node; Nomad cannot place both on one node: use another port"}},
	},
	{
		name: "an app with no settings is rejected",
		yaml: `
apps:
  w:
`,
		want: []wantErr{{"strata.yaml:2:5", "apps.w", "empty app; it needs at least driver and versions"}},
	},
	{
		name: "an app written as a string is rejected",
		yaml: `
apps:
  w: docker
`,
		want: []wantErr{{"strata.yaml:2:6", "apps.w", `expected a mapping, got "docker"`}},
	},

	// Kind and driver.
	{
		name: "an unknown kind is rejected",
		yaml: `
apps:
  web:
    kind: robot
    driver: docker
    image: "img:{{version}}"
    ports: {http: {}}
    service:
      check: {path: /healthz}
    versions: [v1]
    live: v1
`,
		want: []wantErr{{"strata.yaml:3:11", "apps.web.kind", `"robot" is not a kind; expected web or worker`}},
	},
	{
		name: "a missing driver is reported at the app",
		yaml: `
apps:
  w:
    kind: worker
    image: "img:{{version}}"
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:3:5", "apps.w.driver", "missing; expected docker, exec or raw_exec"}},
	},
	{
		// A present but invalid value is reported once, not also as missing.
		name: "an unknown driver is rejected once",
		yaml: `
apps:
  w:
    kind: worker
    driver: podman
    image: "img:{{version}}"
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:4:13", "apps.w.driver", `"podman" is not a supported driver; expected docker, exec or raw_exec`}},
	},
	{
		// A present but invalid value is reported once, not also as missing.
		name: "a driver written as a list is rejected once",
		yaml: `
apps:
  w:
    kind: worker
    driver: [docker]
    image: "img:{{version}}"
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:4:13", "apps.w.driver", "expected a string, got a list"}},
	},
	{
		name: "the docker driver without an image is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    args: ["{{version}}"]
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:4:5", "apps.w.image", "missing; the docker driver needs an image, like registry.example.com/w:{{version}}"}},
	},
	{
		// A present but invalid value is reported once, not also as missing.
		name: "an image written as a list is rejected once",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: ["img:{{version}}"]
    args: ["{{version}}"]
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:5:12", "apps.w.image", "expected a string, got a list"}},
	},
	{
		name: "an image on the exec driver is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: exec
    command: "/bin/w-{{version}}"
    image: "img:{{version}}"
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:5", "apps.w.image", "only the docker driver takes an image; the exec driver runs command"}},
	},
	{
		name: "the exec driver without a command is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: exec
    args: ["{{version}}"]
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:4:5", "apps.w.command", "missing; the exec driver needs a command to run"}},
	},
	{
		name: "the raw_exec driver without a command is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: raw_exec
    args: ["{{version}}"]
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:4:5", "apps.w.command", "missing; the raw_exec driver needs a command to run"}},
	},
	{
		// A present but invalid value is reported once, not also as missing.
		name: "a command written as a mapping is rejected once",
		yaml: `
apps:
  w:
    kind: worker
    driver: exec
    command: {path: /bin/w}
    args: ["{{version}}"]
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:5:14", "apps.w.command", "expected a string, got a mapping"}},
	},
	{
		name: "args written as a string is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    args: "--verbose"
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:11", "apps.w.args", `expected a list, got "--verbose"`}},
	},
	{
		name: "an arg that is a mapping is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    args: ["-v", {a: b}]
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:18", "apps.w.args[1]", "expected a string, got a mapping"}},
	},

	// The version placeholder.
	{
		name: "an app that never mentions {{version}} is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:latest"
    args: ["--version", "latest"]
    env: {APP_VERSION: latest}
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:4:5", "apps.w", "no {{version}} in image, command, args or env: every version would run the same thing"}},
	},
	{
		name: "a placeholder with spaces in the image is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{ version }}"
    args: ["{{version}}"]
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:5:12", "apps.w.image", `"{{ version }}" is not a placeholder strata knows; write {{version}}`}},
	},
	{
		name: "a capitalised placeholder in the command is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: exec
    command: "/bin/w-{{Version}}"
    args: ["{{version}}"]
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:5:14", "apps.w.command", `"{{Version}}" is not a placeholder strata knows; write {{version}}`}},
	},
	{
		name: "an abbreviated placeholder in an arg is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    args: ["--tag", "{{ver}}"]
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:21", "apps.w.args[1]", `"{{ver}}" is not a placeholder strata knows; write {{version}}`}},
	},
	{
		name: "an uppercase placeholder in an env value is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    env:
      APP_VERSION: "{{VERSION}}"
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:7:20", "apps.w.env.APP_VERSION", `"{{VERSION}}" is not a placeholder strata knows; write {{version}}`}},
	},

	// Scalars of the wrong type or out of range.
	{
		name: "a count of zero is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    count: 0
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:12", "apps.w.count", "0 instances; expected at least 1"}},
	},
	{
		name: "a quoted count is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    count: "2"
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:12", "apps.w.count", `"2" is not a whole number`}},
	},
	{
		name: "a fractional count is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    count: 1.5
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:12", "apps.w.count", `"1.5" is not a whole number`}},
	},
	{
		name: "a boolean count is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    count: true
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:12", "apps.w.count", `"true" is not a whole number`}},
	},
	{
		// The message says `"99999999999" is not a whole number`, which is
		// misleading: it is one, just not within 32 bits. Only the value
		// is pinned, so a clearer message does not break the case.
		name: "a count beyond 32 bits is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    count: 99999999999
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:12", "apps.w.count", `"99999999999"`}},
	},
	{
		name: "max_versions of zero is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    max_versions: 0
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:19", "apps.w.max_versions", "0; expected at least 1"}},
	},
	{
		name: "a node pool with a space is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    node_pool: "spot pool"
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:16", "apps.w.node_pool", `"spot pool" is not a valid node pool name (letters, digits, '_', '-'; at most 128)`}},
	},
	{
		name: "a shutdown delay without a unit is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    shutdown_delay: 30
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:21", "apps.w.shutdown_delay", `"30" is not a duration (like 30s, 5m or 1h30m)`}},
	},
	{
		name: "a negative kill timeout is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    kill_timeout: -1s
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:19", "apps.w.kill_timeout", `"-1s" is not a duration`}},
	},
	{
		name: "a duration written as a mapping is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    kill_timeout: {minutes: 2}
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:19", "apps.w.kill_timeout", "a mapping is not a duration"}},
	},

	// Versions.
	{
		name: "a version with an underscore is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions:
      - v1
      - V_2
`,
		want: []wantErr{{"strata.yaml:8:9", "apps.w.versions[1]", `"V_2" is not a valid version (lowercase letters, digits, '.', '-'; at most 32, starting and ending with a letter or digit)`}},
	},
	{
		name: "a version that climbs out of the directory is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1, ../x]
`,
		want: []wantErr{{"strata.yaml:6:20", "apps.w.versions[1]", `"../x" is not a valid version`}},
	},
	{
		name: "a version of 33 characters is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1, abcdefghijklmnopqrstuvwxyz0123456]
`,
		want: []wantErr{{"strata.yaml:6:20", "apps.w.versions[1]", `"abcdefghijklmnopqrstuvwxyz0123456" is not a valid version`}},
	},
	{
		name: "an empty version is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1, ""]
`,
		want: []wantErr{{"strata.yaml:6:20", "apps.w.versions[1]", `"" is not a valid version`}},
	},
	{
		name: "a version listed twice is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1, v2, v1]
`,
		want: []wantErr{{"strata.yaml:6:24", "apps.w.versions[2]", `version "v1" is listed twice (also at apps.w.versions[0])`}},
	},
	{
		name: "a version that is a list is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1, [v2]]
`,
		want: []wantErr{{"strata.yaml:6:20", "apps.w.versions[1]", "expected a string, got a list"}},
	},
	{
		name: "a null version is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1, ~]
`,
		want: []wantErr{{"strata.yaml:6:20", "apps.w.versions[1]", "expected a string, got nothing"}},
	},
	{
		name: "versions written as a string is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: v1
`,
		want: []wantErr{{"strata.yaml:6:15", "apps.w.versions", `expected a list, got "v1"`}},
	},
	{
		name: "missing versions are reported at the app",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
`,
		want: []wantErr{{"strata.yaml:3:5", "apps.w.versions", "missing; list the versions to run, like [v1, v2]"}},
	},
	{
		name: "an empty versions list is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: []
`,
		want: []wantErr{{"strata.yaml:6:15", "apps.w.versions", "empty; list at least one version"}},
	},
	{
		name: "a versions key with no value is rejected as empty",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions:
`,
		want: []wantErr{{"strata.yaml:6:5", "apps.w.versions", "empty; list at least one version"}},
	},
	{
		name: "more versions than max_versions are rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    max_versions: 2
    versions: [v1, v2, v3]
`,
		want: []wantErr{{"strata.yaml:7:15", "apps.w.versions", "3 versions listed, more than max_versions (2); remove old ones or raise max_versions"}},
	},
	{
		name: "more than eight versions are rejected by default",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions:
      - v1
      - v2
      - v3
      - v4
      - v5
      - v6
      - v7
      - v8
      - v9
`,
		want: []wantErr{{"strata.yaml:7:7", "apps.w.versions", "9 versions listed, more than max_versions (8)"}},
	},
	{
		name: "a live version that is not listed is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1, v2]
    live: v3
`,
		want: []wantErr{{"strata.yaml:7:11", "apps.w.live", `"v3" is not in versions (v1, v2)`}},
	},
	{
		name: "a web app without live is rejected",
		yaml: `
apps:
  web:
    driver: docker
    image: "img:{{version}}"
    ports: {http: {}}
    service:
      check: {path: /healthz}
    versions: [v1, v2]
`,
		want: []wantErr{{"strata.yaml:3:5", "apps.web.live", "missing; name the version new sessions get (one of v1, v2)"}},
	},
	{
		// A present but invalid value is reported once, not also as missing.
		name: "live written as a list is rejected once",
		yaml: `
apps:
  web:
    driver: docker
    image: "img:{{version}}"
    ports: {http: {}}
    service:
      check: {path: /healthz}
    versions: [v1]
    live: [v1]
`,
		want: []wantErr{{"strata.yaml:9:11", "apps.web.live", "expected a string, got a list"}},
	},

	// Ports.
	{
		name: "a port label starting with a digit is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    ports: {9http: {}}
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:13", "apps.w.ports.9http", `"9http" is not a valid port label (a letter or '_', then letters, digits, '_'; at most 32)`}},
	},
	{
		name: "a port label with a dash is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    ports: {http-alt: {}}
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:13", "apps.w.ports.http-alt", `"http-alt" is not a valid port label`}},
	},
	{
		name: "a port label of 33 characters is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    ports: {abcdefghijklmnopqrstuvwxyz_abcdef: {}}
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:13", "apps.w.ports.abcdefghijklmnopqrstuvwxyz_abcdef", `"abcdefghijklmnopqrstuvwxyz_abcdef" is not a valid port label`}},
	},
	{
		name: "a static port of zero is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    ports: {http: {static: 0}}
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:28", "apps.w.ports.http.static", "0 is not a port number (1-65535)"}},
	},
	{
		name: "a to port above 65535 is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    ports: {http: {to: 65536}}
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:24", "apps.w.ports.http.to", "65536 is not a port number (1-65535)"}},
	},
	{
		name: "a static port used by two labels is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    ports:
      http: {static: 8080}
      admin: {static: 8080}
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:8:23", "apps.w.ports.admin.static", `static port 8080 is also used by port "http"`}},
	},
	{
		name: "a port number written as a label is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    ports: {http: {to: http}}
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:24", "apps.w.ports.http.to", `"http" is not a whole number`}},
	},
	{
		name: "a port written as a list is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    ports: {http: [8080]}
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:19", "apps.w.ports.http", "expected a mapping, got a list"}},
	},
	{
		name: "ports written as a list is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    ports: [http]
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:12", "apps.w.ports", "expected a mapping, got a list"}},
	},

	// Service.
	{
		name: "a service without a port is rejected when the app has several",
		yaml: `
apps:
  web:
    driver: docker
    image: "img:{{version}}"
    ports: {http: {}, admin: {}}
    service:
      check: {path: /healthz}
    versions: [v1]
    live: v1
`,
		want: []wantErr{{"strata.yaml:6:5", "apps.web.service.port", "missing; name the port label the service uses (ports: admin, http)"}},
	},
	{
		name: "a service without a port is rejected when the app has none",
		yaml: `
apps:
  web:
    driver: docker
    image: "img:{{version}}"
    service:
      check: {path: /healthz}
    versions: [v1]
    live: v1
`,
		want: []wantErr{{"strata.yaml:5:5", "apps.web.service.port", "missing; name the port label the service uses (no ports are declared)"}},
	},
	{
		name: "a service port that is not a label is rejected",
		yaml: `
apps:
  web:
    driver: docker
    image: "img:{{version}}"
    ports: {http: {}}
    service:
      port: 8080
      check: {path: /healthz}
    versions: [v1]
    live: v1
`,
		want: []wantErr{{"strata.yaml:6:5", "apps.web.service.port", `"8080" is not a port label of this app (ports: http)`}},
	},
	{
		name: "a web app without a service is rejected",
		yaml: `
apps:
  web:
    driver: docker
    image: "img:{{version}}"
    ports: {http: {}}
    versions: [v1]
    live: v1
`,
		want: []wantErr{{"strata.yaml:3:5", "apps.web.service", "missing; a web app needs a Consul service for HAProxy to route to (or set kind: worker)"}},
	},
	{
		name: "a web app without a check is rejected",
		yaml: `
apps:
  web:
    driver: docker
    image: "img:{{version}}"
    ports: {http: {}}
    service: {tags: [public]}
    versions: [v1]
    live: v1
`,
		want: []wantErr{{"strata.yaml:6:5", "apps.web.service.check", "missing; a web app needs an HTTP health check (only passing instances are routed)"}},
	},
	{
		name: "a service written as a list is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    ports: {http: {}}
    service: [http]
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:7:14", "apps.w.service", "expected a mapping, got a list"}},
	},
	{
		// Tag problems are reported at the list, not at the tag; the index
		// in the key says which one.
		name: "a tag with a space is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    ports: {http: {}}
    service:
      tags: [public, "blue green"]
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:8:22", "apps.w.service.tags[1]", `"blue green" is not a valid tag (printable ASCII without spaces, at most 255)`}},
	},
	{
		name: "the tag strata is reserved",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    ports: {http: {}}
    service:
      tags: [strata]
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:8:14", "apps.w.service.tags[0]", `"strata" is reserved: strata adds "strata" and "strata-version=<version>" itself`}},
	},
	{
		name: "a strata-version tag is reserved",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    ports: {http: {}}
    service:
      tags: [public, strata-version=x]
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:8:22", "apps.w.service.tags[1]", `"strata-version=x" is reserved`}},
	},
	{
		name: "a tag listed twice is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    ports: {http: {}}
    service:
      tags: [public, internal, public]
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:8:32", "apps.w.service.tags[2]", `tag "public" is listed twice`}},
	},
	{
		name: "a tag that is a list is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    ports: {http: {}}
    service:
      tags: [public, [x]]
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:8:22", "apps.w.service.tags[1]", "expected a string, got a list"}},
	},

	// Health check.
	{
		name: "a check without a path is rejected",
		yaml: `
apps:
  web:
    driver: docker
    image: "img:{{version}}"
    ports: {http: {}}
    service:
      check: {interval: 10s}
    versions: [v1]
    live: v1
`,
		want: []wantErr{{"strata.yaml:7:14", "apps.web.service.check.path", "missing; the HTTP path of the health check, like /healthz"}},
	},
	{
		name: "a check path without a leading slash is rejected",
		yaml: `
apps:
  web:
    driver: docker
    image: "img:{{version}}"
    ports: {http: {}}
    service:
      check: {path: healthz}
    versions: [v1]
    live: v1
`,
		want: []wantErr{{"strata.yaml:7:21", "apps.web.service.check.path", `"healthz" is not an HTTP path (it starts with '/' and has no spaces)`}},
	},
	{
		name: "a check path with a space is rejected",
		yaml: `
apps:
  web:
    driver: docker
    image: "img:{{version}}"
    ports: {http: {}}
    service:
      check: {path: "/health z"}
    versions: [v1]
    live: v1
`,
		want: []wantErr{{"strata.yaml:7:21", "apps.web.service.check.path", `"/health z" is not an HTTP path`}},
	},
	{
		name: "a check interval below one second is rejected",
		yaml: `
apps:
  web:
    driver: docker
    image: "img:{{version}}"
    ports: {http: {}}
    service:
      check:
        path: /healthz
        interval: 500ms
    versions: [v1]
    live: v1
`,
		want: []wantErr{{"strata.yaml:9:19", "apps.web.service.check.interval", "500ms is shorter than Nomad's minimum of 1s"}},
	},
	{
		name: "a check timeout below one second is rejected",
		yaml: `
apps:
  web:
    driver: docker
    image: "img:{{version}}"
    ports: {http: {}}
    service:
      check:
        path: /healthz
        timeout: 0s
    versions: [v1]
    live: v1
`,
		want: []wantErr{{"strata.yaml:9:18", "apps.web.service.check.timeout", "0s is shorter than Nomad's minimum of 1s"}},
	},
	{
		// Reported at the check, not at the timeout value.
		name: "a check timeout longer than its interval is rejected",
		yaml: `
apps:
  web:
    driver: docker
    image: "img:{{version}}"
    ports: {http: {}}
    service:
      check:
        path: /healthz
        interval: 5s
        timeout: 6s
    versions: [v1]
    live: v1
`,
		want: []wantErr{{"strata.yaml:10:18", "apps.web.service.check.timeout", "6s is longer than the interval (5s)"}},
	},
	{
		name: "a check written as a string is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    ports: {http: {}}
    service:
      check: /healthz
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:8:14", "apps.w.service.check", `expected a mapping, got "/healthz"`}},
	},

	// Resources.
	{
		name: "a cpu of zero is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    resources: {cpu: 0}
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:22", "apps.w.resources.cpu", "0 MHz; expected a positive number of MHz"}},
	},
	{
		name: "memory below 10 MB is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    resources: {memory: 9}
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:25", "apps.w.resources.memory", "9 MB; expected at least 10 MB (Nomad's minimum)"}},
	},
	{
		name: "memory_max below 10 MB is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    resources: {memory_max: 9}
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:29", "apps.w.resources.memory_max", "9 MB; expected at least 10 MB"}},
	},
	{
		name: "memory_max below memory is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    resources:
      memory: 256
      memory_max: 128
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:5", "apps.w.resources.memory_max", "128 MB is less than memory (256 MB)"}},
	},
	{
		name: "resources written as a list is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    resources: [cpu]
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:16", "apps.w.resources", "expected a mapping, got a list"}},
	},

	// Environment.
	{
		name: "an env name starting with a digit is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    env:
      1LOG: info
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:7:7", "apps.w.env.1LOG", `"1LOG" is not a valid environment variable name (letters, digits, '_'; not starting with a digit)`}},
	},
	{
		name: "an env name with a dash is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    env:
      LOG-LEVEL: info
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:7:7", "apps.w.env.LOG-LEVEL", `"LOG-LEVEL" is not a valid environment variable name`}},
	},
	{
		name: "an env name written twice is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    env:
      LOG: info
      LOG: debug
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:8:7", "apps.w.env.LOG", "duplicate key (first at line 7)"}},
	},
	{
		name: "an env value that is a mapping is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    env:
      LOG: {level: info}
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:7:12", "apps.w.env.LOG", "expected a string, got a mapping"}},
	},
	{
		name: "env written as a list is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    env: [LOG=info]
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:10", "apps.w.env", "expected a mapping, got a list"}},
	},

	// Constraints.
	{
		name: "an unknown constraint operator is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    constraints:
      - {attribute: "${attr.kernel.name}", operator: "~=", value: linux}
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:7:54", "apps.w.constraints[0].operator", `"~=" is not a Nomad constraint operator; expected one of = != > >= < <= distinct_hosts`}},
	},
	{
		name: "a constraint without an attribute is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    constraints:
      - {operator: "=", value: linux}
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:7:9", "apps.w.constraints[0].attribute", "missing; like ${attr.kernel.name} or ${node.class}"}},
	},
	{
		name: "a constraint without a value is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    constraints:
      - {attribute: "${attr.kernel.name}"}
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:7:9", "apps.w.constraints[0].value", "missing; the value to compare the attribute with"}},
	},
	{
		name: "an is_set constraint without an attribute is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    constraints:
      - {operator: distinct_hosts}
      - {operator: is_set}
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:8:9", "apps.w.constraints[1].attribute", "missing; the is_set operator needs an attribute"}},
	},
	{
		name: "an empty constraint is missing both attribute and value",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    constraints:
      - {}
    versions: [v1]
`,
		want: []wantErr{
			{"strata.yaml:7:9", "apps.w.constraints[0].attribute", "missing; like ${attr.kernel.name}"},
			{"strata.yaml:7:9", "apps.w.constraints[0].value", "missing; the value to compare"},
		},
	},
	{
		name: "a constraint written as a string is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    constraints:
      - "${attr.kernel.name} = linux"
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:7:9", "apps.w.constraints[0]", `expected a mapping, got "${attr.kernel.name} = linux"`}},
	},
	{
		name: "constraints written as a mapping is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    constraints: {attribute: a, value: b}
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:18", "apps.w.constraints", "expected a list, got a mapping"}},
	},

	// Update policy.
	{
		name: "a negative max_parallel is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    update: {max_parallel: -1}
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:28", "apps.w.update.max_parallel", "-1; expected 0 or more"}},
	},
	{
		name: "auto_revert written as yes is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    update: {auto_revert: yes}
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:27", "apps.w.update.auto_revert", `"yes" is not true or false`}},
	},
	{
		name: "a min_healthy_time as long as healthy_deadline is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    update:
      min_healthy_time: 5m
      healthy_deadline: 5m
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:7:25", "apps.w.update.min_healthy_time", "5m0s must be shorter than healthy_deadline (5m0s)"}},
	},
	{
		name: "a progress_deadline as long as healthy_deadline is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    update:
      healthy_deadline: 5m
      progress_deadline: 5m
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:8:26", "apps.w.update.progress_deadline", "5m0s must be longer than healthy_deadline (5m0s)"}},
	},
	{
		name: "a progress_deadline shorter than kill_timeout is rejected, as Nomad rejects it",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    update:
      progress_deadline: 15m
    kill_timeout: 90m
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:7:26", "apps.w.update.progress_deadline", "15m0s is shorter than kill_timeout (1h30m0s): Nomad refuses a task that may take longer to stop than its group's progress deadline; set at least 1h30m0s, or remove it and strata sets kill_timeout + healthy_deadline (1h35m0s)"}},
	},
	{
		name: "a min_healthy_time as long as Nomad's default healthy_deadline is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    update:
      min_healthy_time: 6m
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:7:25", "apps.w.update.min_healthy_time", "6m0s must be shorter than healthy_deadline (Nomad's default 5m0s); set a longer healthy_deadline"}},
	},
	{
		name: "a progress_deadline not longer than Nomad's default healthy_deadline is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    update:
      progress_deadline: 4m
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:7:26", "apps.w.update.progress_deadline", "4m0s must be longer than healthy_deadline (Nomad's default 5m0s)"}},
	},
	{
		name: "an update policy written as a string is rejected",
		yaml: `
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    update: rolling
    versions: [v1]
`,
		want: []wantErr{{"strata.yaml:6:13", "apps.w.update", `expected a mapping, got "rolling"`}},
	},

	// Across apps.
	{
		// The collision has no line: the error names the file only, and so
		// sorts before every problem with a position.
		name: "two apps whose versions make the same job ID are rejected",
		yaml: `
apps:
  web-a:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [v1]
  web:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    versions: [a-v1]
`,
		want: []wantErr{{"strata.yaml:6:16", "apps.web-a.versions", `version "v1" makes job ID "web-a-v1", which apps.web version "a-v1" already has`}},
	},
}

func TestParseRejects(t *testing.T) {
	for _, tc := range validationCases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse("strata.yaml", text(tc.yaml), config.Options{LookupEnv: noEnv})
			if cfg != nil {
				t.Errorf("got a configuration along with the error")
			}
			checkErrors(t, err, tc.want)
		})
	}
}

func TestErrorNamesSourceKeyAndMessage(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  *config.Error
		want string
	}{
		{
			"a problem with a key names the source, the key and the message",
			&config.Error{Source: "strata.yaml:7:9", Key: "apps.web.versions[2]", Msg: "bad"},
			"strata.yaml:7:9: apps.web.versions[2]: bad",
		},
		{
			"a problem without a key names the source and the message",
			&config.Error{Source: "STRATA_CREATED", Msg: "bad"},
			"STRATA_CREATED: bad",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestErrorsListsEveryProblemAndUnwraps(t *testing.T) {
	_, err := config.Parse("conf/strata.yaml", text(`
region: "bad region"
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    count: 0
    versions: [v1]
`), config.Options{LookupEnv: noEnv})
	es := configErrors(t, err)
	want := `conf/strata.yaml:1:9: region: "bad region" is not a valid region (letters, digits, '_', '.', '-')` + "\n" +
		`conf/strata.yaml:7:12: apps.w.count: 0 instances; expected at least 1`
	if got := err.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
	// errors.As finds the first problem through Unwrap.
	var first *config.Error
	if !errors.As(err, &first) {
		t.Fatalf("errors.As(err, *config.Error) = false")
	}
	if first != es[0] {
		t.Errorf("errors.As found %v, want the first problem %v", first, es[0])
	}
	if got := es.Unwrap(); len(got) != 2 || got[1] != es[1] {
		t.Errorf("Unwrap() = %v, want both problems", got)
	}
}

// aliasBomb is a few hundred bytes that expand to 10^10 nodes through merge
// keys: eleven top-level keys (each unknown, so never walked on their own)
// define the anchors, and apps.web merges the last one.
func aliasBomb() []byte {
	var b strings.Builder
	b.WriteString("a0: &a0 {driver: docker}\n")
	for i := 1; i <= 10; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 10), ", ")
		fmt.Fprintf(&b, "a%d: &a%d {<<: [%s]}\n", i, i, refs)
	}
	b.WriteString("apps:\n  web:\n    <<: *a10\n")
	return []byte(b.String())
}

func parseBomb(t *testing.T) config.Errors {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := config.Parse("strata.yaml", aliasBomb(), config.Options{LookupEnv: noEnv})
		done <- err
	}()
	select {
	case err := <-done:
		return configErrors(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("Parse of an alias expansion bomb did not return within 20s")
		return nil
	}
}

const expansionMsg = "the document expands to more than 1048576 nodes through aliases"

func TestAliasExpansionBombIsStopped(t *testing.T) {
	es := parseBomb(t)
	found := false
	for _, e := range es {
		if !strings.Contains(e.Msg, expansionMsg) {
			continue
		}
		found = true
		if e.Key != "apps.web" || !strings.HasPrefix(e.Source, "strata.yaml:") {
			t.Errorf("got %q, want the expansion limit reported for apps.web with a file position", e.Error())
		}
	}
	if !found {
		t.Fatalf("no problem says the document expands too far:\n%v", es)
	}
	// Eleven unknown top-level keys a0..a10 are reported too, first.
	for i := 0; i <= 10; i++ {
		key := fmt.Sprintf("a%d", i)
		n := 0
		for _, e := range es {
			if e.Key == key && strings.Contains(e.Msg, "unknown key") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("unknown key %s reported %d times, want once", key, n)
		}
	}
}

func TestAliasExpansionBombIsReportedOnce(t *testing.T) {
	// Once the node budget is spent, the limit is reported once, not by
	// every mapping still being decoded.
	es := parseBomb(t)
	var lines []string
	for _, e := range es {
		if strings.Contains(e.Msg, expansionMsg) {
			lines = append(lines, e.Error())
		}
	}
	if len(lines) != 1 {
		t.Errorf("the expansion limit is reported %d times, want once:\n%s", len(lines), strings.Join(lines, "\n"))
	}
}

// parseChild, when set, makes this test binary parse the given text and
// print the result instead of running tests: a crash in Parse (a fatal
// stack overflow cannot be recovered) then fails one test, not the binary.
var parseChild = flag.String("config.parse-child", "", "internal: parse this configuration text, print the problems and exit")

func TestMain(m *testing.M) {
	flag.Parse()
	if *parseChild != "" {
		// No configuration of a few bytes needs more stack than this;
		// the limit only makes a runaway recursion fail sooner and with
		// less memory than the default 1 GB.
		debug.SetMaxStack(256 << 20)
		_, err := config.Parse("strata.yaml", []byte(*parseChild), config.Options{LookupEnv: noEnv})
		if err == nil {
			fmt.Println("accepted")
		} else {
			fmt.Println(err)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// parseInChild parses text in a child process and returns what it printed,
// or fails the test when the child crashes.
func parseInChild(t *testing.T, doc string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$", "-config.parse-child="+doc)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		first, _, _ := strings.Cut(stderr.String(), "\n\n")
		t.Fatalf("Parse crashed (%v):\n%s", err, first)
	}
	return strings.TrimSpace(stdout.String())
}

func TestParseInChildReportsProblems(t *testing.T) {
	want := "strata.yaml:1:1: apps: no apps; define at least one under apps"
	if got := parseInChild(t, "apps: {}\n"); got != want {
		t.Errorf("the child printed %q, want %q", got, want)
	}
}

func TestMergeKeyCyclesAreRejected(t *testing.T) {
	// A merge key whose value is (an alias of) the mapping that contains
	// it once recursed until the stack overflowed, which no recover can
	// catch; found by FuzzParse (testdata/fuzz/FuzzParse/d690705ff62625bb).
	// The cases run in a child process so a regression fails one test.
	for _, tc := range []struct {
		name string
		yaml string
	}{
		{"an app that merges itself is rejected", "apps:\n  web: &web\n    <<: *web\n"},
		{"an app that merges a mapping that merges the app is rejected", "apps:\n  web: &web\n    <<: {<<: *web}\n"},
		{"a document that merges itself is rejected", "&root\n<<: *root\napps: {}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := parseInChild(t, tc.yaml)
			if out == "accepted" {
				t.Fatalf("Parse accepted a merge cycle")
			}
			for _, line := range strings.Split(out, "\n") {
				if !strings.HasPrefix(line, "strata.yaml:") {
					t.Errorf("problem %q does not name a position in strata.yaml", line)
				}
			}
		})
	}
}
