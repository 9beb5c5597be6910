package generator

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/nomadrules"
	"github.com/strata-dev/strata/internal/testenv"
)

const rolloutApps = `
apps:
  web:
    driver: raw_exec
    command: /usr/local/bin/web
    args: ["--version={{version}}"]
    ports: { http: {} }
    service: { check: { path: /health } }
    routing: { bind: "0.0.0.0:8080" }
    versions: [v1, v2]
    live: v1
    rollout: { steps: [5, 50, 100], interval: 2m, max_error_rate: 1% }
  shop:
    driver: raw_exec
    command: /usr/local/bin/shop
    args: ["--version={{version}}"]
    ports: { http: {} }
    service: { check: { path: /health } }
    routing: { bind: "0.0.0.0:8081" }
    versions: [v1]
    live: v1
    rollout: { steps: [100], interval: 30s, max_error_rate: 1% }
`

// TestRolloutJobIsRenderedOnlyForAppsWithARollout: the controller's job
// exists when an app has a rollout section, passes every tenth of the
// shortest interval, and Nomad accepts it; HCL and JSON describe the same
// job.
func TestRolloutJobIsRenderedOnlyForAppsWithARollout(t *testing.T) {
	none := loadCase(t, "minimal")
	if job, err := RolloutJob(none); job != nil || err != nil {
		t.Errorf("without a rollout section: %v, %v; want no job", job, err)
	}
	files, err := Render(none)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.JobID == RolloutJobID {
			t.Errorf("%s rendered without a rollout section", f.Path)
		}
	}

	cfg, err := config.Parse("strata.yaml", []byte(rolloutApps), config.Options{LookupEnv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	files, err = Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var hcl, js []byte
	for _, f := range files {
		switch f.Path {
		case RolloutJobID + ".nomad.hcl":
			hcl = f.Data
		case RolloutJobID + ".json":
			js = f.Data
		}
	}
	if hcl == nil || js == nil {
		t.Fatalf("no %s files among %d", RolloutJobID, len(files))
	}
	var req api.JobValidateRequest
	if err := json.Unmarshal(js, &req); err != nil {
		t.Fatal(err)
	}
	if err := nomadrules.Validate(req.Job).Err(); err != nil {
		t.Errorf("Nomad would refuse the rollout job: %v", err)
	}
	if *req.Job.Type != api.JobTypeService || *req.Job.TaskGroups[0].Count != 1 {
		t.Errorf("type %s count %d, want a service of one", *req.Job.Type, *req.Job.TaskGroups[0].Count)
	}
	if got := fmt.Sprint(req.Job.TaskGroups[0].Tasks[0].Config["args"]); got != "[rollout control --every 3s]" {
		t.Errorf("args %s, want rollout control --every 3s (a tenth of shop's 30s)", got)
	}
	decoded, err := decodeHCL(hcl)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := RolloutJob(cfg)
	if !reflect.DeepEqual(decoded.TaskGroups[0].Tasks[0].Config, normalizeConfig(t, want.TaskGroups[0].Tasks[0].Config)) {
		t.Errorf("HCL task config %v, want %v", decoded.TaskGroups[0].Tasks[0].Config, want.TaskGroups[0].Tasks[0].Config)
	}
}

func jsonString(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// normalizeConfig gives a task config the types decodeHCL reads back.
func normalizeConfig(t *testing.T, c map[string]any) map[string]any {
	var out map[string]any
	if err := json.Unmarshal([]byte(jsonString(t, c)), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRolloutEvery(t *testing.T) {
	for _, c := range []struct{ shortest, want time.Duration }{
		{time.Second, time.Second}, {30 * time.Second, 3 * time.Second}, {10 * time.Minute, 15 * time.Second},
	} {
		if got := rolloutEvery(c.shortest); got != c.want {
			t.Errorf("rolloutEvery(%s) = %s, want %s", c.shortest, got, c.want)
		}
	}
}

// TestRolloutPolicyIsLeastPrivilege: with ACLs enforced, the rollout
// controller's Consul policy lets it write the rollout, live and history of
// an app with a rollout section, and nothing else; the deployer may start a
// rollout; without a rollout section there is no such policy.
func TestRolloutPolicyIsLeastPrivilege(t *testing.T) {
	files, err := Policies(loadCase(t, "minimal"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Path == "consul-"+RoleRollout+".hcl" {
			t.Error("a rollout policy without a rollout section")
		}
	}
	cfg, err := config.Parse("strata.yaml", []byte(rolloutApps+`
  api:
    driver: raw_exec
    command: /bin/api
    args: ["{{version}}"]
    ports: { http: {} }
    service: { check: { path: /h } }
    versions: [v1]
    live: v1
`), config.Options{LookupEnv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	files, err = Policies(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]string{}
	for _, f := range files {
		rules[f.Path] = string(f.Data)
	}
	consul := testenv.StartConsulWithACL(t)
	client := func(policy string) *consulapi.Client {
		t.Helper()
		p, _, err := consul.Client.ACL().PolicyCreate(&consulapi.ACLPolicy{Name: policy, Rules: rules[policy+".hcl"]}, nil)
		if err != nil {
			t.Fatalf("Consul refuses %s: %v\n%s", policy, err, rules[policy+".hcl"])
		}
		tok, _, err := consul.Client.ACL().TokenCreate(&consulapi.ACLToken{Policies: []*consulapi.ACLTokenPolicyLink{{ID: p.ID}}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		c := consulapi.DefaultNonPooledConfig()
		c.Address, c.Token = consul.Addr, tok.SecretID
		cl, err := consulapi.NewClient(c)
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	put := func(c *consulapi.Client, key string) error {
		_, err := c.KV().Put(&consulapi.KVPair{Key: key, Value: []byte("x")}, nil)
		return err
	}
	ro, dep := client("consul-"+RoleRollout), client("consul-"+RoleDeployer)
	for _, c := range []struct {
		who    string
		client *consulapi.Client
		key    string
		ok     bool
	}{
		{"rollout", ro, "strata/web/rollout", true},
		{"rollout", ro, "strata/web/live", true},
		{"rollout", ro, "strata/web/history", true},
		{"rollout", ro, "strata/web/cohorts/x", false},
		{"rollout", ro, "strata/web/draining/v1", false},
		{"rollout", ro, "strata/api/live", false},
		{"rollout", ro, "strata/api/rollout", false},
		{"deployer", dep, "strata/web/rollout", true},
		{"deployer", dep, "strata/api/rollout", false},
	} {
		if err := put(c.client, c.key); (err == nil) != c.ok {
			t.Errorf("%s writes %s: %v, want allowed %t", c.who, c.key, err, c.ok)
		}
	}
	if _, _, err := ro.KV().List("strata/", nil); err != nil {
		t.Errorf("rollout lists strata/: %v", err)
	}
	if _, _, err := ro.Health().Service("strata-lbstats", "", false, nil); err != nil {
		t.Errorf("rollout reads the lbstats services: %v", err)
	}
}
