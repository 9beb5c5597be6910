package config_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/config"
)

// routedApp is a valid web app; cases add a routing section after it.
const routedApp = `
apps:
  web:
    driver: raw_exec
    command: /bin/web
    args: ["{{version}}"]
    ports: { http: {} }
    service: { check: { path: /h } }
    versions: [v1]
    live: v1
`

func TestRoutingAndHAProxySettingsAreRead(t *testing.T) {
	cfg, err := config.Parse("strata.yaml", text(`
haproxy:
  driver: docker
  image: "reg.example.com/strata-haproxy:2.6"
  strata: /usr/bin/strata
  node_pool: edge
  wait_min: 10ms
  wait_max: 500ms
`+strings.TrimPrefix(routedApp, "\n")+`    routing:
      bind: "0.0.0.0:443"
      host: app.example.com
      cookie: app_v
      server_cookie: app_s
      cookie_max_age: 24h
      secure: true
      pin_paths: [/record, /ws]
      header: X-App-Version
`), config.Options{LookupEnv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	want := &config.Routing{Bind: "0.0.0.0:443", Host: "app.example.com", Cookie: "app_v", ServerCookie: "app_s",
		CookieMaxAge: 24 * time.Hour, Secure: true, PinPaths: []string{"/record", "/ws"}, Header: "X-App-Version",
		MaxVersions: config.DefaultMaxVersions, MaxServers: config.DefaultServerSlots}
	if got := cfg.Apps[0].Routing; !reflect.DeepEqual(got, want) {
		t.Errorf("routing = %+v, want %+v", got, want)
	}
	wantH := config.HAProxy{Driver: "docker", Image: "reg.example.com/strata-haproxy:2.6", Strata: "/usr/bin/strata",
		NodePool: "edge", WaitMin: 10 * time.Millisecond, WaitMax: 500 * time.Millisecond}
	if !reflect.DeepEqual(cfg.HAProxy, wantH) {
		t.Errorf("haproxy = %+v, want %+v", cfg.HAProxy, wantH)
	}
}

func TestRoutingProblems(t *testing.T) {
	base := strings.TrimPrefix(routedApp, "\n")
	for _, tc := range []struct {
		name string
		yaml string
		want []wantErr
	}{
		{"a routing section without bind is rejected", base + "    routing: { cookie: c }\n",
			[]wantErr{{"strata.yaml:10:14", "apps.web.routing.bind", "missing; the address HAProxy serves this app on"}}},
		{"a bind without a port is rejected", base + "    routing: { bind: \"0.0.0.0\" }\n",
			[]wantErr{{"strata.yaml:10:22", "apps.web.routing.bind", `"0.0.0.0" is not an address to listen on`}}},
		{"a bind port out of range is rejected", base + "    routing: { bind: \":70000\" }\n",
			[]wantErr{{"strata.yaml:10:22", "apps.web.routing.bind", `":70000" is not an address to listen on`}}},
		{"a cookie name with a semicolon is rejected", base + "    routing: { bind: \":80\", cookie: \"a;b\" }\n",
			[]wantErr{{"strata.yaml:10:37", "apps.web.routing.cookie", `"a;b" is not a cookie name`}}},
		{"the same name for both cookies is rejected", base + "    routing: { bind: \":80\", cookie: x, server_cookie: x }\n",
			[]wantErr{{"strata.yaml:10:55", "apps.web.routing.server_cookie", `"x" is also the version cookie`}}},
		{"a pin path with a space is rejected", base + "    routing: { bind: \":80\", pin_paths: [\"/a b\"] }\n",
			[]wantErr{{"strata.yaml:10:41", "apps.web.routing.pin_paths[0]", `"/a b" is not a path prefix`}}},
		{"a pin path with '#', which starts a comment in haproxy.cfg, is rejected", base + "    routing: { bind: \":80\", pin_paths: [/ok, \"/a#b\"] }\n",
			[]wantErr{{"strata.yaml:10:46", "apps.web.routing.pin_paths[1]", `"/a#b" is not a path prefix ('/', then letters, digits, '.', '_', '~', '/', '-'; at most 256)`}}},
		{"a pin path with braces, which open and close an ACL in haproxy.cfg, is rejected", base + "    routing: { bind: \":80\", pin_paths: [\"/a{b}\"] }\n",
			[]wantErr{{"strata.yaml:10:41", "apps.web.routing.pin_paths[0]", `"/a{b}" is not a path prefix`}}},
		{"a pin path with a quote is rejected", base + "    routing: { bind: \":80\", pin_paths: [\"/a\\\"b\"] }\n",
			[]wantErr{{"strata.yaml:10:41", "apps.web.routing.pin_paths[0]", `is not a path prefix`}}},
		{"a header name with a colon is rejected", base + "    routing: { bind: \":80\", header: \"X-A:\" }\n",
			[]wantErr{{"strata.yaml:10:37", "apps.web.routing.header", `"X-A:" is not an HTTP header name`}}},
		{"a cookie max age in milliseconds is rejected", base + "    routing: { bind: \":80\", cookie_max_age: 1500ms }\n",
			[]wantErr{{"strata.yaml:10:45", "apps.web.routing.cookie_max_age", "1.5s is not a whole number of seconds"}}},
		{"an unknown routing key is rejected", base + "    routing: { bind: \":80\", sticky: true }\n",
			[]wantErr{{"strata.yaml:10:29", "apps.web.routing.sticky", "unknown key"}}},
		{"two apps on one port are rejected", base + "    routing: { bind: \":80\" }\n" + strings.ReplaceAll(strings.SplitN(base, "\n", 2)[1], "  web:", "  api:") + "    routing: { bind: \"127.0.0.1:80\" }\n",
			[]wantErr{{"strata.yaml:10:22", "apps.web.routing.bind", "port 80 is also the bind port of app api"}}},
		{"docker haproxy without an image is rejected", "haproxy: { driver: docker }\n" + base,
			[]wantErr{{"strata.yaml:1:20", "haproxy.image", "missing; the docker driver needs an image holding both haproxy and strata"}}},
		{"an image for raw_exec haproxy is rejected", "haproxy: { image: x }\n" + base,
			[]wantErr{{"strata.yaml:1:19", "haproxy.image", "only the docker driver takes an image"}}},
		{"a relative haproxy command is rejected", "haproxy: { command: haproxy }\n" + base,
			[]wantErr{{"strata.yaml:1:21", "haproxy.command", `"haproxy" is not an absolute path`}}},
		{"a template wait_min above wait_max is rejected", "haproxy: { wait_min: 2s, wait_max: 1s }\n" + base,
			[]wantErr{{"strata.yaml:1:36", "haproxy.wait_min", "2s is longer than wait_max (1s)"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("strata.yaml", []byte(tc.yaml), config.Options{LookupEnv: noEnv})
			checkErrors(t, err, tc.want)
		})
	}
}

func TestAWorkerCannotBeRouted(t *testing.T) {
	y := `apps:
  q:
    kind: worker
    driver: raw_exec
    command: /bin/q
    args: ["{{version}}"]
    versions: [v1]
    routing: { bind: ":80" }
`
	_, err := config.Parse("strata.yaml", []byte(y), config.Options{LookupEnv: noEnv})
	checkErrors(t, err, []wantErr{{"strata.yaml:8:5", "apps.q.routing", "a worker has no connections to route"}})
}
