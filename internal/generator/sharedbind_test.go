package generator

import (
	"testing"

	"github.com/strata-dev/strata/internal/config"
)

// TestAppsSharingABindReserveItsPortOnce: apps on one address (told apart
// by routing.host) share its port, and Nomad refuses a static port reserved
// twice in one group ("Static port 80 already reserved"), so the HAProxy job
// reserves it once, under the first app's label.
func TestAppsSharingABindReserveItsPortOnce(t *testing.T) {
	app := func(name, routing string) string {
		return "  " + name + `:
    driver: raw_exec
    command: /bin/app
    args: ["{{version}}"]
    ports: { http: {} }
    service: { check: { path: /h } }
    versions: [v1]
    live: v1
    routing: ` + routing + "\n"
	}
	yaml := "apps:\n" + app("api", `{ bind: ":80", host: api.example.com }`) +
		app("web", `{ bind: "*:80", host: "*.example.com" }`) + app("admin", `{ bind: ":8080" }`)
	cfg, err := config.Parse("strata.yaml", []byte(yaml), config.Options{LookupEnv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	job, err := HAProxyJob(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, p := range job.TaskGroups[0].Networks[0].ReservedPorts {
		got[p.Label] = p.Value
	}
	want := map[string]int{"app_admin": 8080, "app_api": 80}
	if len(got) != len(want) || got["app_admin"] != 8080 || got["app_api"] != 80 {
		t.Errorf("reserved ports %v, want %v", got, want)
	}
}
