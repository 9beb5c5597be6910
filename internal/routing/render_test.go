package routing_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/testenv"

	"github.com/strata-dev/strata/internal/routing"
	"github.com/strata-dev/strata/internal/routing/apply"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// instance is a service instance registered the way Nomad registers one:
// the service is named after the app, tagged strata and
// strata-version=<version>, with an ID of Nomad's shape
// (_nomad-task-<alloc>-<group>-<task>-<service>-<port label>).
type instance struct {
	app, version, alloc string
	port                int
	failing             bool
	// live marks the version strata.yaml names live (service meta).
	live bool
	// address is the service address; empty means 127.0.0.1.
	address string
}

func (in instance) id() string {
	return fmt.Sprintf("_nomad-task-%s-%s-%s-%s-http", in.alloc, in.app, in.app, in.app)
}

// register adds an instance with a TTL check in the state the test wants,
// so catalog contents are exact and renders reproducible.
func register(t *testing.T, c *testenv.Consul, in instance) {
	t.Helper()
	status := consulapi.HealthPassing
	if in.failing {
		status = consulapi.HealthCritical
	}
	meta := map[string]string{naming.ServiceMetaOrder: naming.SortKey(in.version)}
	if in.live {
		meta[naming.ServiceMetaLive] = "true"
	}
	address := in.address
	if address == "" {
		address = "127.0.0.1"
	}
	err := c.Client.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{
		ID: in.id(), Name: in.app, Tags: []string{"strata", "strata-version=" + in.version},
		Address: address, Port: in.port, Meta: meta,
		Check: &consulapi.AgentServiceCheck{CheckID: in.id() + "-ttl", TTL: "1h", Status: status},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func putKV(t *testing.T, c *testenv.Consul, key, value string) {
	t.Helper()
	if _, err := c.Client.KV().Put(&consulapi.KVPair{Key: key, Value: []byte(value)}, nil); err != nil {
		t.Fatal(err)
	}
}

// renderOnce renders d against c into a new directory and returns it.
func renderOnce(t *testing.T, c *testenv.Consul, d routing.Data) string {
	t.Helper()
	dir := t.TempDir()
	d.Dir = dir
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := routing.Render(ctx, d, routing.Options{ConsulAddr: c.Addr, Dir: dir, Once: true}); err != nil {
		t.Fatal(err)
	}
	// The apply step writes the maps and servers.state HAProxy loads.
	if _, err := apply.Apply(ctx, apply.Options{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// haproxyCheck runs haproxy -c on a rendered directory.
func haproxyCheck(t *testing.T, dir string) {
	t.Helper()
	bin := testenv.RequireBinary(t, "haproxy")
	out, err := exec.Command(bin, "-c", "-f", filepath.Join(dir, "haproxy.cfg")).CombinedOutput()
	if err != nil {
		t.Fatalf("haproxy -c rejects the render: %v\n%s", err, out)
	}
}

func web() routing.App {
	return routing.App{Name: "web", Bind: "127.0.0.1:18080", Cookie: "strata_version", ServerCookie: "strata_server"}
}

// goldenFiles are the files a render and the apply step write that the
// golden tests compare.
var goldenFiles = []string{routing.ConfigFile, routing.IntentFile, apply.VersionsMap, apply.SlotsMap, apply.LiveMap, apply.CohortsMap}

type seed struct {
	instances []instance
	kv        map[string]string
}

func TestGoldenRenders(t *testing.T) {
	cases := []struct {
		name string
		data routing.Data
		seed seed
	}{
		{
			name: "three versions with the live one from strata.yaml",
			data: routing.Data{Apps: []routing.App{web()}},
			seed: seed{instances: []instance{
				{app: "web", version: "v8", alloc: "a1", port: 20001},
				{app: "web", version: "v9", alloc: "a2", port: 20002, live: true},
				{app: "web", version: "v9", alloc: "a3", port: 20003, live: true},
				{app: "web", version: "v10", alloc: "a4", port: 20004},
			}},
		},
		{
			name: "live from KV and v10 newer than v9",
			data: routing.Data{Apps: []routing.App{web()}},
			seed: seed{
				instances: []instance{{app: "web", version: "v9", alloc: "b1", port: 20011, live: true}, {app: "web", version: "v10", alloc: "b2", port: 20012}},
				kv:        map[string]string{"strata/web/live": "v10\n"},
			},
		},
		{
			name: "a live version without a passing instance falls back to the newest with one",
			data: routing.Data{Apps: []routing.App{web()}},
			seed: seed{instances: []instance{
				{app: "web", version: "v9", alloc: "c1", port: 20021},
				{app: "web", version: "v10", alloc: "c2", port: 20022},
				{app: "web", version: "v11", alloc: "c3", port: 20023, failing: true, live: true},
			}},
		},
		{
			name: "a draining version is dropped from the map but keeps its backend",
			data: routing.Data{Apps: []routing.App{web()}},
			seed: seed{
				instances: []instance{{app: "web", version: "v1", alloc: "d1", port: 20031}, {app: "web", version: "v2", alloc: "d2", port: 20032}, {app: "web", version: "v3", alloc: "d3", port: 20033}},
				kv:        map[string]string{"strata/web/draining/v1": "2026-11-26T10:00:00Z"},
			},
		},
		{
			name: "cohorts with the invalid ones ignored",
			data: routing.Data{Apps: []routing.App{web()}},
			seed: seed{
				instances: []instance{{app: "web", version: "v1", alloc: "e1", port: 20041, live: true}, {app: "web", version: "v2", alloc: "e2", port: 20042}},
				kv: map[string]string{
					"strata/web/cohorts/pro":        `{"version":"v2","opt_in":"/trypro","opt_out":"/leavepro"}`,
					"strata/web/cohorts/gone":       `{"version":"v7","opt_in":"/gone"}`,
					"strata/web/cohorts/broken":     `{"version":`,
					"strata/web/cohorts/badpath":    `{"version":"v2","opt_in":"/x } || { always_true","opt_out":"/ok"}`,
					"strata/web/cohorts/Bad Name!":  `{"version":"v2","opt_in":"/bad"}`,
					"strata/web/cohorts/injection":  `{"version":"v2\nbind :1","opt_in":"/inj"}`,
					"strata/web/cohorts/not-object": `["v2"]`,
				},
			},
		},
		{
			name: "invalid KV values fall back to strata.yaml",
			data: routing.Data{Apps: []routing.App{web()}},
			seed: seed{
				instances: []instance{{app: "web", version: "v1", alloc: "f1", port: 20051, live: true}, {app: "web", version: "v2", alloc: "f2", port: 20052}},
				kv: map[string]string{
					"strata/web/live":           "v2\n    bind :1",
					"strata/web/draining/../v2": "x",
				},
			},
		},
		{
			name: "without strata.yaml's live version the newest takes new sessions",
			seed: seed{instances: []instance{
				{app: "web", version: "v9", alloc: "h1", port: 20071},
				{app: "web", version: "v10", alloc: "h2", port: 20072},
				{app: "web", version: "v2", alloc: "h3", port: 20073},
			}},
			data: routing.Data{Apps: []routing.App{web()}},
		},
		{
			name: "only instances with an IP address become servers, IPv6 in brackets",
			data: routing.Data{Apps: []routing.App{web()}},
			seed: seed{instances: []instance{
				{app: "web", version: "v1", alloc: "i1", port: 20081, address: "10.0.0.1", live: true},
				{app: "web", version: "v1", alloc: "i2", port: 20082, address: "evil.invalid", live: true},
				{app: "web", version: "v2", alloc: "i3", port: 20083, address: "2001:db8::2"},
				{app: "web", version: "v3", alloc: "i4", port: 20084, address: "v3.invalid"},
			}},
		},
		{
			name: "no instance at all",
			data: routing.Data{Apps: []routing.App{web()}},
		},
		{
			name: "two apps with every routing option",
			data: routing.Data{Apps: []routing.App{
				{Name: "api", Bind: "127.0.0.1:18081", Host: "api.example.com", Cookie: "api_v", ServerCookie: "api_s", MaxAge: 86400, Secure: true, PinPaths: []string{"/record", "/ws"}, Header: "X-Strata-Version"},
				web(),
			}},
			seed: seed{instances: []instance{
				{app: "api", version: "1.9.2", alloc: "g1", port: 20061},
				{app: "api", version: "1.10.0", alloc: "g2", port: 20062},
				{app: "api", version: "2.0.0", alloc: "g3", port: 20063, live: true},
				{app: "web", version: "v1", alloc: "g4", port: 20064, live: true},
				{app: "web", version: "v0", alloc: "g5", port: 20065},
			}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testenv.StartConsul(t)
			for _, in := range tc.seed.instances {
				register(t, c, in)
			}
			for k, v := range tc.seed.kv {
				putKV(t, c, k, v)
			}
			tc.data.StatsBind = "127.0.0.1:18404"
			dir := renderOnce(t, c, tc.data)
			haproxyCheck(t, dir)
			// Both templates name the settings they were rendered from,
			// the same; the name hashes the render directory too, so the
			// golden files show it as @STRUCTURE@.
			structure := renderedStructure(t, dir)
			for _, f := range goldenFiles {
				got, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil {
					t.Fatal(err)
				}
				got = bytes.ReplaceAll(got, []byte(dir), []byte("@DIR@"))
				got = bytes.ReplaceAll(got, []byte(structure), []byte("@STRUCTURE@"))
				golden := filepath.Join("testdata", strings.ReplaceAll(tc.name, " ", "_"), f)
				if *update {
					os.MkdirAll(filepath.Dir(golden), 0o755)
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./internal/routing -update)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from %s (run with -update and review):\n%s", f, golden, got)
				}
			}
		})
	}
}

// renderedStructure returns the structure routing.intent and haproxy.cfg in
// dir name, and fails unless both name the same one.
func renderedStructure(t *testing.T, dir string) string {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(dir, routing.IntentFile))
	if err != nil {
		t.Fatal(err)
	}
	in, err := apply.Parse(routing.IntentFile, string(text))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(dir, routing.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if cs := apply.CfgStructure(cfg); in.Structure == "" || cs != in.Structure {
		t.Fatalf("routing.intent names the structure %q, haproxy.cfg %q: want the same", in.Structure, cs)
	}
	return in.Structure
}

func TestCheckBind(t *testing.T) {
	for _, c := range []struct {
		name, addr string
		ok         bool
	}{
		{"an IPv4 address and a port is accepted", "127.0.0.1:8404", true},
		{"a port alone binds every address", ":8404", true},
		{"a star binds every address", "*:8404", true},
		{"an IPv6 address in brackets is accepted", "[::1]:8404", true},
		{"a newline and a directive are refused", "127.0.0.1:8404\n    bind :1", false},
		{"a space and a keyword are refused", "127.0.0.1:8404 ssl", false},
		{"a host name is refused", "localhost:8404", false},
		{"a missing port is refused", "127.0.0.1", false},
		{"port 0 is refused", "127.0.0.1:0", false},
		{"a port above 65535 is refused", "127.0.0.1:65536", false},
		{"a port with a leading zero is refused", "127.0.0.1:08404", false},
		{"a named port is refused", "127.0.0.1:http", false},
		{"an IPv6 address without brackets is refused", "::1:8404", false},
		{"an IPv6 zone is refused", "[fe80::1%eth0]:8404", false},
		{"an empty address is refused", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := routing.CheckBind(c.addr); (err == nil) != c.ok {
				t.Errorf("CheckBind(%q) = %v, want ok=%v", c.addr, err, c.ok)
			}
		})
	}
}

func TestRenderRefusesAStatsBindThatInjects(t *testing.T) {
	err := routing.Render(context.Background(), routing.Data{Dir: t.TempDir(), StatsBind: "127.0.0.1:8404\n    bind :1", Apps: []routing.App{web()}},
		routing.Options{ConsulAddr: "127.0.0.1:1", Dir: t.TempDir(), Once: true})
	if err == nil || !strings.Contains(err.Error(), "stats listener") {
		t.Errorf("got %v", err)
	}
}

// TestRenderOnceGivesUpWhenConsulIsDown renders once against an address no
// agent listens on: Render must fail after its bounded retries, saying which
// address it tried and that no agent answers there, instead of retrying
// forever.
func TestRenderOnceGivesUpWhenConsulIsDown(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the retries; -short skips it")
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePorts(t, 1)[0])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	err := routing.Render(ctx, routing.Data{Dir: dir, StatsBind: "127.0.0.1:18404", Apps: []routing.App{web()}},
		routing.Options{ConsulAddr: addr, Dir: dir, Once: true})
	if ctx.Err() != nil {
		t.Fatalf("still retrying after a minute")
	}
	if err == nil || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "CONSUL_HTTP_ADDR") ||
		!strings.Contains(err.Error(), "no Consul agent answers there") {
		t.Errorf("got %v", err)
	}
	// haproxy.cfg reads nothing from Consul; the intent, which does, is
	// not written.
	if _, serr := os.Stat(filepath.Join(dir, routing.IntentFile)); serr == nil {
		t.Errorf("a failed render wrote %s", routing.IntentFile)
	}
}
