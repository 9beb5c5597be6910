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

// webApp is a valid web app named name, routed with the given routing
// mapping (flow style), at the apps level.
func webApp(name, routing string) string {
	return `  ` + name + `:
    driver: raw_exec
    command: /bin/web
    args: ["{{version}}"]
    ports: { http: {} }
    service: { check: { path: /h } }
    versions: [v1]
    live: v1
    routing: ` + routing + "\n"
}

func TestVersionSlotsAndServerSlots(t *testing.T) {
	for _, tc := range []struct {
		name              string
		app               string // app-level lines before routing
		routing           string
		versions, servers int
	}{
		{"an app gets a slot for each version it may list and 16 servers in each by default", "", `{ bind: ":80" }`, config.DefaultMaxVersions, config.DefaultServerSlots},
		{"the version slots follow the app's max_versions", "    max_versions: 12\n", `{ bind: ":80" }`, 12, 16},
		{"an app that lists one version still gets two slots, for a promote without reload", "    max_versions: 1\n", `{ bind: ":80" }`, 2, 16},
		{"the version slots stop at 64 when max_versions is larger", "    max_versions: 100\n", `{ bind: ":80" }`, 64, 16},
		{"routing.max_versions and max_servers are read as written", "", `{ bind: ":80", max_versions: 3, max_servers: 4 }`, 3, 4},
		{"the bounds themselves are accepted (low)", "", `{ bind: ":80", max_versions: 2, max_servers: 1 }`, 2, 1},
		{"the bounds themselves are accepted (high)", "", `{ bind: ":80", max_versions: 64, max_servers: 256 }`, 64, 256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := mustParse(t, "strata.yaml", "\napps:\n"+webApp("web", tc.routing)+tc.app)
			r := cfg.Apps[0].Routing
			if r.MaxVersions != tc.versions || r.MaxServers != tc.servers {
				t.Errorf("max_versions, max_servers = %d, %d; want %d, %d", r.MaxVersions, r.MaxServers, tc.versions, tc.servers)
			}
		})
	}
}

func TestSlotProblems(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		want []wantErr
	}{
		{"one version slot is rejected", webApp("web", `{ bind: ":80", max_versions: 1 }`),
			[]wantErr{{"strata.yaml:10:43", "apps.web.routing.max_versions", "1 version slots; expected 2 to 64"}}},
		{"65 version slots are rejected", webApp("web", `{ bind: ":80", max_versions: 65 }`),
			[]wantErr{{"strata.yaml:10:43", "apps.web.routing.max_versions", "65 version slots; expected 2 to 64"}}},
		{"no server per slot is rejected", webApp("web", `{ bind: ":80", max_servers: 0 }`),
			[]wantErr{{"strata.yaml:10:42", "apps.web.routing.max_servers", "0 servers per version slot; expected 1 to 256"}}},
		{"257 servers per slot are rejected", webApp("web", `{ bind: ":80", max_servers: 257 }`),
			[]wantErr{{"strata.yaml:10:42", "apps.web.routing.max_servers", "257 servers per version slot; expected 1 to 256"}}},
		{"slots that are not a number are rejected", webApp("web", `{ bind: ":80", max_servers: many }`),
			[]wantErr{{"strata.yaml:10:42", "apps.web.routing.max_servers", `"many" is not a whole number`}}},
		{"more versions than version slots are rejected", strings.Replace(webApp("web", `{ bind: ":80", max_versions: 2 }`), "versions: [v1]", "versions: [v1, v2, v3]", 1),
			[]wantErr{{"strata.yaml:8:15", "apps.web.versions", "3 versions listed, more than routing.max_versions (2), the version slots HAProxy has for the app; remove old ones or raise routing.max_versions"}}},
		{"more versions than the 64 default slots ask for routing.max_versions", strings.Replace(webApp("web", `{ bind: ":80" }`), "versions: [v1]", "max_versions: 70\n    versions: [v1, v2, v3]", 1),
			nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("strata.yaml", []byte("apps:\n"+tc.yaml), config.Options{LookupEnv: noEnv})
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			checkErrors(t, err, tc.want)
		})
	}
}

// TestMoreInstancesThanServerSlotsIsWarned: a version with more instances
// than pre-allocated servers still routes, but HAProxy reloads to make room.
func TestMoreInstancesThanServerSlotsIsWarned(t *testing.T) {
	for _, tc := range []struct{ name, app, want string }{
		{"a count within the slots is not warned about", "    count: 16\n", ""},
		{"a count above the default slots is warned about at count", "    count: 17\n",
			"strata.yaml:11:12: apps.web.routing.max_servers: 16 servers per version slot, fewer than count (17): HAProxy reloads to make room whenever a version runs more instances than that; raise routing.max_servers to at least 17"},
		{"a count above the slots set is warned about at max_servers", "    count: 5\n    routing: { bind: \":80\", max_servers: 4 }\n",
			"strata.yaml:11:42: apps.web.routing.max_servers: 4 servers per version slot, fewer than count (5)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := "apps:\n" + webApp("web", `{ bind: ":80" }`) + tc.app
			if strings.Contains(tc.app, "routing:") {
				y = strings.Replace(y, "    routing: { bind: \":80\" }\n", "", 1)
			}
			cfg, err := config.Parse("strata.yaml", []byte(y), config.Options{LookupEnv: noEnv})
			if err != nil {
				t.Fatalf("%v\n%s", err, y)
			}
			if got := cfg.Warnings.Error(); !strings.HasPrefix(got, tc.want) || (tc.want == "" && got != "") {
				t.Errorf("warnings:\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestHosts(t *testing.T) {
	for _, tc := range []struct {
		name, host string
		want       string // "" when accepted; else a fragment of the error
	}{
		{"an exact host name is accepted", "app.example.com", ""},
		{"a one-label host name is accepted", "localhost", ""},
		{"a wildcard of the leading label is accepted", `"*.example.com"`, ""},
		{"a host name with digits and hyphens is accepted", "a-1.b2.example.com", ""},
		{"uppercase letters are refused with the lowercase spelling", "App.Example.com", `"App.Example.com" has uppercase letters: host names are matched lowercase (HAProxy lowercases the Host header); write "app.example.com"`},
		{"an uppercase wildcard is refused with the lowercase spelling", `"*.Example.com"`, `write "*.example.com"`},
		{"two wildcard labels are refused", `"*.*.example.com"`, "a wildcard is the whole leading label and only it, like *.example.com"},
		{"a wildcard inside a label is refused", `"a*.example.com"`, "a wildcard is the whole leading label and only it"},
		{"a wildcard in a later label is refused", `"app.*.com"`, "a wildcard is the whole leading label and only it"},
		{"a bare wildcard is refused", `"*"`, "a wildcard is the whole leading label and only it"},
		{"a host with a port is refused", `"app.example.com:8080"`, "write the name alone, without a scheme, port or path"},
		{"a URL is refused", `"https://app.example.com"`, "write the name alone"},
		{"a trailing dot is refused", `"app.example.com."`, "is not a host name (labels of lowercase letters"},
		{"an empty label is refused", `"app..example.com"`, "is not a host name (labels"},
		{"a label starting with a hyphen is refused", `"-app.example.com"`, "is not a host name (labels"},
		{"a label of 64 characters is refused", strings.Repeat("a", 64) + ".com", "is not a host name (labels"},
		{"an underscore is refused", "app_1.example.com", "is not a host name (labels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := "apps:\n" + webApp("web", `{ bind: ":80", host: `+tc.host+` }`)
			cfg, err := config.Parse("strata.yaml", []byte(y), config.Options{LookupEnv: noEnv})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got, want := cfg.Apps[0].Routing.Host, strings.Trim(tc.host, `"`); got != want {
					t.Errorf("host = %q, want %q", got, want)
				}
				return
			}
			checkErrors(t, err, []wantErr{{"strata.yaml:10:35", "apps.web.routing.host", tc.want}})
		})
	}
}

func TestAppsSharingABind(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		want []wantErr // nil: accepted
	}{
		{"apps with distinct hosts share one bind",
			webApp("api", `{ bind: ":80", host: api.example.com }`) + webApp("web", `{ bind: ":80", host: www.example.com }`), nil},
		{"\":80\", \"*:80\" and \"0.0.0.0:80\" are one address",
			webApp("a", `{ bind: ":80", host: a.example.com }`) + webApp("b", `{ bind: "*:80", host: b.example.com }`) + webApp("c", `{ bind: "0.0.0.0:80", host: c.example.com }`), nil},
		{"an exact host beside a wildcard that covers it is accepted (the exact one wins)",
			webApp("api", `{ bind: ":80", host: api.example.com }`) + webApp("web", `{ bind: ":80", host: "*.example.com" }`), nil},
		{"the same host on two addresses is accepted",
			webApp("api", `{ bind: ":80", host: example.com }`) + webApp("web", `{ bind: ":443", host: example.com }`), nil},
		{"two apps without hosts on one bind are each rejected",
			webApp("api", `{ bind: ":80" }`) + webApp("web", `{ bind: "*:80" }`), []wantErr{
				{"strata.yaml:10:22", "apps.api.routing.host", "missing; api shares *:80 with web, and one address serves several apps only by host name: give each a host"},
				{"strata.yaml:19:22", "apps.web.routing.host", "missing; web shares *:80 with api"},
			}},
		{"an app without a host beside one with a host on one bind is rejected",
			webApp("api", `{ bind: ":80", host: api.example.com }`) + webApp("web", `{ bind: ":80" }`), []wantErr{
				{"strata.yaml:19:22", "apps.web.routing.host", "missing; web shares *:80 with api"},
			}},
		{"two apps claiming one host are rejected",
			webApp("api", `{ bind: ":80", host: example.com }`) + webApp("web", `{ bind: "0.0.0.0:80", host: example.com }`), []wantErr{
				{"strata.yaml:19:42", "apps.web.routing.host", `"example.com" is also the host of app api on *:80; each app on one address needs its own`},
			}},
		{"two apps claiming one wildcard are rejected",
			webApp("api", `{ bind: ":80", host: "*.example.com" }`) + webApp("web", `{ bind: ":80", host: "*.example.com" }`), []wantErr{
				{"strata.yaml:19:35", "apps.web.routing.host", `"*.example.com" is also the host of app api on *:80`},
			}},
		{"one port on two addresses is rejected, hosts or not",
			webApp("api", `{ bind: "127.0.0.1:80", host: a.example.com }`) + webApp("web", `{ bind: ":80", host: b.example.com }`), []wantErr{
				{"strata.yaml:19:22", "apps.web.routing.bind", `port 80 is also the bind port of app api, on another address (127.0.0.1:80): apps share a port only on the same address, told apart by routing.host (":80", "*:80" and "0.0.0.0:80" are the same)`},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse("strata.yaml", []byte("apps:\n"+tc.yaml), config.Options{LookupEnv: noEnv})
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if len(cfg.Warnings) > 0 {
					t.Errorf("warnings: %v", cfg.Warnings)
				}
				return
			}
			checkErrors(t, err, tc.want)
		})
	}
}

func TestListener(t *testing.T) {
	for _, tc := range []struct{ bind, want string }{
		{":80", "*:80"},
		{"*:80", "*:80"},
		{"0.0.0.0:80", "*:80"},
		{"127.0.0.1:8080", "127.0.0.1:8080"},
		{"[::]:80", "[::]:80"},
		{"[0:0::1]:80", "[::1]:80"},
		{"LB.example.com:80", "lb.example.com:80"},
	} {
		t.Run(tc.bind, func(t *testing.T) {
			if got := (&config.Routing{Bind: tc.bind}).Listener(); got != tc.want {
				t.Errorf("Listener() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestIsWildcard(t *testing.T) {
	if !config.IsWildcard("*.example.com") || config.IsWildcard("example.com") || config.IsWildcard("") {
		t.Error("IsWildcard is true for *.example.com only")
	}
}

func TestMworkerMaxReloads(t *testing.T) {
	base := strings.TrimPrefix(routedApp, "\n")
	for _, tc := range []struct {
		name, haproxy string
		want          int
		warn          string
		err           *wantErr
	}{
		{"unset is 0, no bound, without a warning", "", 0, "", nil},
		{"0 is no bound, without a warning", "haproxy: { mworker_max_reloads: 0 }\n", 0, "", nil},
		{"a bound is kept and warned about: it cuts long-lived sessions", "haproxy: { mworker_max_reloads: 3 }\n", 3,
			"strata.yaml:1:33: haproxy.mworker_max_reloads: HAProxy sends SIGTERM to an old worker once it is more than 3 reloads old, and the sessions it still serves are cut: a session that lives through 3 reloads is cut at the next one.", nil},
		{"a negative bound is rejected", "haproxy: { mworker_max_reloads: -1 }\n", 0, "",
			&wantErr{"strata.yaml:1:33", "haproxy.mworker_max_reloads", "-1; expected 0 (no bound, the default) or more"}},
		{"a bound that is not a number is rejected", "haproxy: { mworker_max_reloads: many }\n", 0, "",
			&wantErr{"strata.yaml:1:33", "haproxy.mworker_max_reloads", `"many" is not a whole number`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse("strata.yaml", []byte(tc.haproxy+base), config.Options{LookupEnv: noEnv})
			if tc.err != nil {
				checkErrors(t, err, []wantErr{*tc.err})
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.HAProxy.MworkerMaxReloads != tc.want {
				t.Errorf("MworkerMaxReloads = %d, want %d", cfg.HAProxy.MworkerMaxReloads, tc.want)
			}
			if got := cfg.Warnings.Error(); !strings.HasPrefix(got, tc.warn) || (tc.warn == "" && got != "") {
				t.Errorf("warnings:\n%s\nwant\n%s", got, tc.warn)
			}
		})
	}
}

// TestMworkerMaxReloadsSetting: no bound is written as the largest value
// HAProxy takes, never as 0, which HAProxy reads as "SIGTERM at once".
func TestMworkerMaxReloadsSetting(t *testing.T) {
	for _, tc := range []struct {
		name       string
		configured int
		want       int
	}{
		{"unset writes the largest value HAProxy accepts", 0, config.UnboundedMworkerMaxReloads},
		{"a bound is written as configured", 5, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := config.HAProxy{MworkerMaxReloads: tc.configured}
			if got := h.MworkerMaxReloadsSetting(); got != tc.want {
				t.Errorf("MworkerMaxReloadsSetting() = %d, want %d", got, tc.want)
			}
		})
	}
}
