package generator

import (
	"strings"
	"testing"

	consulapi "github.com/hashicorp/consul/api"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclwrite"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/testenv"
)

const policyConfig = `apps:
  web:
    driver: raw_exec
    command: /bin/web
    args: ["{{version}}"]
    ports: { http: {} }
    service: { check: { path: /h } }
    versions: [v1, v2]
    live: v2
    routing: { bind: ":8080" }
  api:
    driver: raw_exec
    command: /bin/api
    args: ["{{version}}"]
    ports: { http: {} }
    service: { check: { path: /h } }
    versions: [v1]
    live: v1
`

func policyFiles(t *testing.T) map[string]string {
	t.Helper()
	cfg, err := config.Parse("strata.yaml", []byte(policyConfig), config.Options{LookupEnv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	files, err := Policies(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range files {
		if formatted := hclwrite.Format(f.Data); string(formatted) != string(f.Data) {
			t.Errorf("%s is not canonically formatted", f.Path)
		}
		if _, diags := hclparse.NewParser().ParseHCL(f.Data, f.Path); diags.HasErrors() {
			t.Errorf("%s does not parse: %v", f.Path, diags)
		}
		out[strings.TrimSuffix(f.Path, ".hcl")] = string(f.Data)
	}
	return out
}

func TestNomadPoliciesGrantJobCapabilitiesInTheNamespace(t *testing.T) {
	files := policyFiles(t)
	for _, role := range []string{"nomad-deployer", "nomad-sweeper"} {
		if !strings.Contains(files[role], `namespace "default" {`) || !strings.Contains(files[role], `capabilities = ["list-jobs", "read-job", "submit-job"]`) {
			t.Errorf("%s:\n%s", role, files[role])
		}
	}
	if op := files["nomad-operator"]; !strings.Contains(op, `namespace "default" {`) || !strings.Contains(op, `capabilities = ["list-jobs", "read-job"]`) {
		t.Errorf("nomad-operator reads jobs in the namespace and nothing else:\n%s", op)
	}
	for role, text := range files {
		if strings.HasPrefix(role, "nomad-") && (strings.Contains(text, `namespace "*"`) || strings.Contains(text, "policy =")) {
			t.Errorf("%s reaches beyond the configured namespace's job capabilities:\n%s", role, text)
		}
	}
	if _, ok := files["nomad-haproxy"]; ok {
		t.Error("HAProxy gets a Nomad policy it does not need")
	}
}

// TestConsulPoliciesAreLeastPrivilege loads the generated Consul policies
// into a real Consul with ACLs enforced and checks, token by token, what
// each role can and cannot do.
func TestConsulPoliciesAreLeastPrivilege(t *testing.T) {
	files := policyFiles(t)
	consul := testenv.StartConsulWithACL(t)
	acl := consul.Client.ACL()
	clientFor := func(role string) *consulapi.Client {
		t.Helper()
		p, _, err := acl.PolicyCreate(&consulapi.ACLPolicy{Name: role, Rules: files["consul-"+role]}, nil)
		if err != nil {
			t.Fatalf("Consul refuses the %s policy: %v\n%s", role, err, files["consul-"+role])
		}
		tok, _, err := acl.TokenCreate(&consulapi.ACLToken{Policies: []*consulapi.ACLTokenPolicyLink{{ID: p.ID}}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg := consulapi.DefaultNonPooledConfig()
		cfg.Address, cfg.Token = consul.Addr, tok.SecretID
		c, err := consulapi.NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if err := consul.Client.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{ID: "web-1", Name: "web", Tags: []string{"strata"}, Port: 1}); err != nil {
		t.Fatal(err)
	}
	put := func(c *consulapi.Client, key string) error {
		_, err := c.KV().Put(&consulapi.KVPair{Key: key, Value: []byte("v1")}, nil)
		return err
	}
	get := func(c *consulapi.Client, key string) error {
		_, _, err := c.KV().Get(key, nil)
		return err
	}
	type check struct {
		what string
		do   func() error
		ok   bool
	}
	run := func(role string, checks []check) {
		for _, c := range checks {
			err := c.do()
			if (err == nil) != c.ok {
				t.Errorf("%s: %s: err = %v, want allowed = %v", role, c.what, err, c.ok)
			}
		}
	}

	sweeper := clientFor(RoleSweeper)
	run("sweeper", []check{
		{"drain a web version", func() error { return put(sweeper, "strata/web/draining/v1") }, true},
		{"drain an api version", func() error { return put(sweeper, "strata/api/draining/v1") }, true},
		{"read live", func() error { return get(sweeper, "strata/web/live") }, true},
		{"write live", func() error { return put(sweeper, "strata/web/live") }, false},
		{"write a cohort", func() error { return put(sweeper, "strata/web/cohorts/x") }, false},
		{"write outside strata/", func() error { return put(sweeper, "other/key") }, false},
	})
	deployer := clientFor(RoleDeployer)
	run("deployer", []check{
		{"promote", func() error { return put(deployer, "strata/web/live") }, true},
		{"write history", func() error { return put(deployer, "strata/web/history") }, true},
		{"set a cohort", func() error { return put(deployer, "strata/web/cohorts/pro") }, true},
		{"drain", func() error { return put(deployer, "strata/web/draining/v1") }, false},
		{"write another app's live", func() error { return put(deployer, "strata/other/live") }, false},
		{"read the catalog", func() error {
			s, _, err := deployer.Health().Service("web", "", false, nil)
			if err == nil && len(s) != 1 {
				return errDenied
			}
			return err
		}, true},
	})
	operator := clientFor(RoleOperator)
	run("operator", []check{
		{"read live", func() error { return get(operator, "strata/web/live") }, true},
		{"write live", func() error { return put(operator, "strata/web/live") }, false},
		{"drain", func() error { return put(operator, "strata/web/draining/v1") }, false},
		{"write a cohort", func() error { return put(operator, "strata/web/cohorts/x") }, false},
		{"see an app's instances", func() error {
			s, _, err := operator.Health().Service("web", "", false, nil)
			if err == nil && len(s) != 1 {
				return errDenied
			}
			return err
		}, true},
	})
	haproxy := clientFor(RoleHAProxy)
	run("haproxy", []check{
		{"read a routed app's keys", func() error { return get(haproxy, "strata/web/live") }, true},
		{"write anything", func() error { return put(haproxy, "strata/web/live") }, false},
		{"read an unrouted app's keys", func() error { return get(haproxy, "strata/api/live") }, false},
		{"see a routed app's instances", func() error {
			s, _, err := haproxy.Health().Service("web", "", false, nil)
			if err == nil && len(s) != 1 {
				return errDenied
			}
			return err
		}, true},
	})
}

var errDenied = &deniedError{}

type deniedError struct{}

func (*deniedError) Error() string { return "no result: filtered by ACLs" }
