package acl

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/generator"
	"github.com/strata-dev/strata/internal/testenv"
)

// agentTokenDesired is what strata wants of testConfig in the agent-token
// model.
func agentTokenDesired(t *testing.T) Desired {
	t.Helper()
	cfg, err := config.Parse("strata.yaml", []byte(testConfig), config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	files, err := generator.Policies(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d, err := ConsulDesired(files, cfg.Namespace, "", AgentToken)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestTheAgentTokenModel moves a cluster set up for workload identities to
// the older model, where templates read Consul with the Nomad clients'
// own token: strata removes what binds its roles to tasks, keeps the
// policies, leaves a role for the operator to link to that token, and
// changes no object it did not create. The clients' token, linked by the
// test as the operator would, reads what HAProxy's templates read and
// nothing more.
func TestTheAgentTokenModel(t *testing.T) {
	c := newCluster(t)
	c.apply(t)
	want := agentTokenDesired(t)
	before := c.foreign(t)

	changes, err := Plan(context.Background(), c.acl, want)
	if err != nil {
		t.Fatal(err)
	}
	got := describe(changes)
	wantChanges := []string{
		"update role strata-haproxy",
		"delete binding rule strata-haproxy", "delete binding rule strata-sweeper",
		"delete role strata-sweeper",
	}
	if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(wantChanges))) {
		t.Fatalf("plan %q, want %q", got, wantChanges)
	}
	if err := Apply(context.Background(), changes, nil); err != nil {
		t.Fatal(err)
	}
	if again, err := Plan(context.Background(), c.acl, want); err != nil || len(again) != 0 {
		t.Errorf("a second plan: %q, %v; want nothing", describe(again), err)
	}
	if after := c.foreign(t); !equalIndexes(before, after) {
		t.Errorf("objects strata did not create changed: %v → %v", before, after)
	}
	if _, err := c.login(t, "default", generator.SweeperJobID, "sweep"); err == nil {
		t.Error("the sweeper's identity still logs in to a role")
	}

	// The Nomad clients' token, made by the operator, not by strata.
	agentPolicy, _, err := c.acl.PolicyCreate(&consulapi.ACLPolicy{Name: "nomad-client", Description: "Nomad clients",
		Rules: `node_prefix "" { policy = "write" }` + "\n" + `agent_prefix "" { policy = "read" }`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	agent, _, err := c.acl.TokenCreate(&consulapi.ACLToken{Description: "Nomad clients", Policies: []*consulapi.ACLTokenPolicyLink{{ID: agentPolicy.ID}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	notes, err := AgentTokenNotes(context.Background(), c.acl, agent.AccessorID)
	if err != nil || !strings.Contains(strings.Join(notes, "\n"), "does not hold role strata-haproxy") ||
		!strings.Contains(strings.Join(notes, "\n"), "-role-name strata-haproxy -merge-roles") {
		t.Errorf("notes before the link: %q, %v", notes, err)
	}
	agent.Roles = append(agent.Roles, &consulapi.ACLTokenRoleLink{Name: "strata-haproxy"})
	if _, _, err := c.acl.TokenUpdate(agent, nil); err != nil {
		t.Fatal(err)
	}
	notes, err = AgentTokenNotes(context.Background(), c.acl, agent.AccessorID)
	joined := strings.Join(notes, "\n")
	if err != nil || !strings.Contains(joined, "holds strata-haproxy") || strings.Contains(joined, "does not hold") ||
		!strings.Contains(joined, "use_client_consul_token = true") || !strings.Contains(joined, "sweep task gets no Consul token") {
		t.Errorf("notes after the link: %q, %v", notes, err)
	}
	if _, err := AgentTokenNotes(context.Background(), c.acl, "00000000-0000-4000-8000-000000000000"); err == nil {
		t.Error("a token that does not exist gives no error")
	}
	if again, _ := Plan(context.Background(), c.acl, want); len(again) != 0 {
		t.Errorf("linking the role to the clients' token made plan find %q", describe(again))
	}

	admin := c.consul.Client
	for _, k := range []string{"strata/web/live", "strata/api/live"} {
		if _, err := admin.KV().Put(&consulapi.KVPair{Key: k, Value: []byte("v1")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	cfg := consulapi.DefaultNonPooledConfig()
	cfg.Address, cfg.Token = c.consul.Addr, agent.SecretID
	templates, err := consulapi.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		do      func() error
		allowed bool
	}{
		{"the clients' token reads a routed app's live version", func() error {
			p, _, err := templates.KV().Get("strata/web/live", nil)
			if err == nil && p == nil {
				return errors.New("not found")
			}
			return err
		}, true},
		{"the clients' token cannot read an unrouted app's keys", func() error {
			p, _, err := templates.KV().Get("strata/api/live", nil)
			if err == nil && p == nil {
				return errors.New("not found")
			}
			return err
		}, false},
		{"the clients' token cannot write live", func() error {
			_, err := templates.KV().Put(&consulapi.KVPair{Key: "strata/web/live", Value: []byte("x")}, nil)
			return err
		}, false},
		{"the clients' token cannot drain", func() error {
			_, err := templates.KV().Put(&consulapi.KVPair{Key: "strata/web/draining/v1", Value: []byte("x")}, nil)
			return err
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.do(); (err == nil) != tc.allowed {
				t.Errorf("err = %v, want allowed = %v", err, tc.allowed)
			}
		})
	}
}

// TestTheAgentTokenModelNeedsNoAuthMethod: on a Consul without Nomad's JWT
// auth method, the agent-token model plans the policies and HAProxy's role
// and nothing else.
func TestTheAgentTokenModelNeedsNoAuthMethod(t *testing.T) {
	consul := testenv.StartConsulWithACL(t)
	want := agentTokenDesired(t)
	changes, err := Plan(context.Background(), consul.Client.ACL(), want)
	if err != nil {
		t.Fatal(err)
	}
	got := describe(changes)
	wantChanges := []string{
		"create policy strata-deployer", "create policy strata-haproxy", "create policy strata-operator", "create policy strata-sweeper",
		"create role strata-haproxy",
	}
	if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(wantChanges))) {
		t.Errorf("plan %q, want %q", got, wantChanges)
	}
	if _, err := Plan(context.Background(), consul.Client.ACL(), Desired{Model: WorkloadIdentity, AuthMethod: DefaultAuthMethod}); err == nil ||
		!strings.Contains(err.Error(), "--consul-token-model agent-token") {
		t.Errorf("the workload-identity model without an auth method: %v", err)
	}
}

func TestParseTokenModel(t *testing.T) {
	cases := []struct {
		in, want, errHas string
	}{
		{"", "workload-identity", ""},
		{"workload-identity", "workload-identity", ""},
		{"agent-token", "agent-token", ""},
		{"submitter-token", "", "removed the job submitter's Consul token (nomad job run -consul-token, consul.allow_unauthenticated) in Nomad 1.10.0"},
		{"legacy", "", "expected workload-identity or agent-token"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseTokenModel(tc.in)
			if string(got) != tc.want || (tc.errHas == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.errHas)) {
				t.Errorf("ParseTokenModel(%q) = %q, %v", tc.in, got, err)
			}
		})
	}
}
