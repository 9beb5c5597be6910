package acl

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/generator"
	"github.com/strata-dev/strata/internal/testenv"
)

// Two apps: web is routed by HAProxy, api is not.
const testConfig = `apps:
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

// issuer signs workload identities the way Nomad's servers do: RS256 JWTs
// with Nomad's claims, for the audience of the Consul identity.
type issuer struct{ key *rsa.PrivateKey }

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &issuer{key: key}
}

func (is *issuer) publicPEM(t *testing.T) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&is.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// identity mints the JWT of a task's consul_default identity.
func (is *issuer) identity(t *testing.T, namespace, job, task string) string {
	t.Helper()
	now := time.Now()
	seg := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := seg(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + seg(map[string]any{
		"nomad_namespace":     namespace,
		"nomad_job_id":        job,
		"nomad_task":          task,
		"nomad_allocation_id": "5c6328f7-48c5-4d03-bada-91ef2e904d0d",
		"sub":                 strings.Join([]string{"global", namespace, job, "g", task, generator.ConsulIdentityName}, ":"),
		"aud":                 []string{generator.ConsulAudience},
		"iat":                 now.Unix(),
		"nbf":                 now.Unix(),
		"exp":                 now.Add(time.Hour).Unix(),
		"jti":                 "00000000-0000-4000-8000-00000000000a",
	})
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, is.key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// cluster is a Consul with ACLs enforced and the JWT auth method `nomad
// setup consul` creates, trusting the test's issuer, plus objects strata
// did not create: its own policy, role and binding rule (Nomad's default
// rule for tasks), which strata must leave alone.
type cluster struct {
	consul *testenv.Consul
	acl    *consulapi.ACL
	issuer *issuer
	want   Desired
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{consul: testenv.StartConsulWithACL(t), issuer: newIssuer(t)}
	c.acl = c.consul.Client.ACL()
	_, _, err := c.acl.AuthMethodCreate(&consulapi.ACLAuthMethod{
		Name: DefaultAuthMethod, Type: "jwt", DisplayName: "Nomad workloads",
		Config: map[string]any{
			"JWTValidationPubKeys": []string{c.issuer.publicPEM(t)},
			"BoundAudiences":       []string{generator.ConsulAudience},
			"ClaimMappings": map[string]string{
				ClaimNamespace: ClaimNamespace, ClaimJobID: ClaimJobID, ClaimTask: ClaimTask,
			},
		},
	}, nil)
	if err != nil {
		t.Fatalf("creating the JWT auth method: %v\n%s", err, c.consul.Log())
	}
	foreign, _, err := c.acl.PolicyCreate(&consulapi.ACLPolicy{Name: "team-kv", Description: "the team's own", Rules: `key_prefix "team/" { policy = "read" }`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.acl.RoleCreate(&consulapi.ACLRole{Name: "team", Description: "the team's own", Policies: []*consulapi.ACLRolePolicyLink{{ID: foreign.ID}}}, nil); err != nil {
		t.Fatal(err)
	}
	// Nomad's documented rule for tasks, bound to a role no test creates.
	if _, _, err := c.acl.BindingRuleCreate(&consulapi.ACLBindingRule{
		AuthMethod: DefaultAuthMethod, Description: "Nomad's tasks", BindType: consulapi.BindingRuleBindTypeRole,
		BindName: "nomad-tasks-${value.nomad_namespace}", Selector: `"nomad_service" not in value`,
	}, nil); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("strata.yaml", []byte(testConfig), config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	files, err := generator.Policies(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.want, err = ConsulDesired(files, cfg.Namespace, "", WorkloadIdentity); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *cluster) plan(t *testing.T) []Change {
	t.Helper()
	changes, err := Plan(context.Background(), c.acl, c.want)
	if err != nil {
		t.Fatal(err)
	}
	return changes
}

func (c *cluster) apply(t *testing.T) []Change {
	t.Helper()
	changes := c.plan(t)
	if err := Apply(context.Background(), changes, nil); err != nil {
		t.Fatal(err)
	}
	return changes
}

// login logs in with a task's identity and returns a client with the token,
// or the login's error.
func (c *cluster) login(t *testing.T, namespace, job, task string) (*consulapi.Client, error) {
	t.Helper()
	tok, _, err := c.acl.Login(&consulapi.ACLLoginParams{AuthMethod: DefaultAuthMethod, BearerToken: c.issuer.identity(t, namespace, job, task)}, nil)
	if err != nil {
		return nil, err
	}
	cfg := consulapi.DefaultNonPooledConfig()
	cfg.Address, cfg.Token = c.consul.Addr, tok.SecretID
	client, err := consulapi.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client, nil
}

// foreign returns the ModifyIndex of the objects strata did not create.
func (c *cluster) foreign(t *testing.T) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	ps, _, err := c.acl.PolicyList(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if !strings.HasPrefix(p.Description, Marker) {
			out["policy "+p.Name] = p.ModifyIndex
		}
	}
	rs, _, err := c.acl.RoleList(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if !strings.HasPrefix(r.Description, Marker) {
			out["role "+r.Name] = r.ModifyIndex
		}
	}
	bs, _, err := c.acl.BindingRuleList(DefaultAuthMethod, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if !strings.HasPrefix(b.Description, Marker) {
			out["binding rule "+b.BindName] = b.ModifyIndex
		}
	}
	return out
}

func describe(changes []Change) []string {
	var out []string
	for _, c := range changes {
		out = append(out, c.Action+" "+c.Kind+" "+c.Name)
	}
	return out
}

func TestApplyCreatesOnceAndLeavesForeignObjectsAlone(t *testing.T) {
	c := newCluster(t)
	before := c.foreign(t)
	first := c.apply(t)
	want := []string{
		"create policy strata-deployer", "create policy strata-haproxy", "create policy strata-operator", "create policy strata-sweeper",
		"create role strata-sweeper", "create role strata-haproxy",
		"create binding rule strata-sweeper", "create binding rule strata-haproxy",
	}
	got := describe(first)
	if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Errorf("the first apply made %q, want %q", got, want)
	}
	if second := c.apply(t); len(second) != 0 {
		t.Errorf("the second apply changed %q, want nothing", describe(second))
	}
	if after := c.foreign(t); !equalIndexes(before, after) || after["policy team-kv"] == 0 || after["role team"] == 0 || len(after) < 3 {
		t.Errorf("objects strata did not create changed: before %v, after %v", before, after)
	}
}

func equalIndexes(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestWorkloadIdentitiesGetExactlyTheirRole logs in with identities minted
// as Nomad mints them and checks, operation by operation, what each may do.
func TestWorkloadIdentitiesGetExactlyTheirRole(t *testing.T) {
	c := newCluster(t)
	c.apply(t)
	admin := c.consul.Client
	for _, k := range []string{"strata/web/live", "strata/web/draining/v1", "strata/web/cohorts/pro", "strata/api/live", "team/x"} {
		if _, err := admin.KV().Put(&consulapi.KVPair{Key: k, Value: []byte("v1")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []string{"web", "api", generator.HAProxyService, generator.LBStatsService} {
		if err := admin.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{ID: s + "-1", Name: s, Tags: []string{"strata"}, Port: 1}); err != nil {
			t.Fatal(err)
		}
	}

	sweeper, err := c.login(t, "default", generator.SweeperJobID, "sweep")
	if err != nil {
		t.Fatalf("the sweeper's identity cannot log in: %v", err)
	}
	haproxy, err := c.login(t, "default", generator.HAProxyJobID, "haproxy")
	if err != nil {
		t.Fatalf("HAProxy's identity cannot log in: %v", err)
	}

	put := func(cl *consulapi.Client, key string) func() error {
		return func() error { _, err := cl.KV().Put(&consulapi.KVPair{Key: key, Value: []byte("x")}, nil); return err }
	}
	get := func(cl *consulapi.Client, key string) func() error {
		return func() error {
			p, _, err := cl.KV().Get(key, nil)
			if err == nil && p == nil {
				return errors.New("not found")
			}
			return err
		}
	}
	// listed: the keys a recursive read returns (Consul filters the
	// rest out) must be exactly want.
	listed := func(cl *consulapi.Client, prefix string, want ...string) func() error {
		return func() error {
			ps, _, err := cl.KV().List(prefix, nil)
			if err != nil {
				return err
			}
			var keys []string
			for _, p := range ps {
				keys = append(keys, p.Key)
			}
			if !slices.Equal(keys, want) {
				return errors.New("listed " + strings.Join(keys, ","))
			}
			return nil
		}
	}
	// instances fails unless the catalog shows the service's instance.
	instances := func(cl *consulapi.Client, service string) func() error {
		return func() error {
			es, _, err := cl.Health().Service(service, "", false, nil)
			if err == nil && len(es) != 1 {
				return errors.New("no instance visible")
			}
			return err
		}
	}
	drainTxn := func(cl *consulapi.Client, key string) func() error {
		return func() error {
			ok, resp, _, err := cl.KV().Txn(consulapi.KVTxnOps{{Verb: consulapi.KVCAS, Key: key, Value: []byte("x"), Index: 0}}, nil)
			if err == nil && !ok {
				return errors.New("transaction refused: " + txnErrors(resp))
			}
			return err
		}
	}
	register := func(cl *consulapi.Client) func() error {
		return func() error {
			_, err := cl.Catalog().Register(&consulapi.CatalogRegistration{Node: "strata-test", Address: "127.0.0.1",
				Service: &consulapi.AgentService{ID: "web-evil", Service: "web", Port: 2}}, nil)
			return err
		}
	}

	cases := []struct {
		name    string
		do      func() error
		allowed bool
	}{
		{"the sweeper reads every key under strata/", listed(sweeper, "strata/", "strata/api/live", "strata/web/cohorts/pro", "strata/web/draining/v1", "strata/web/live"), true},
		{"the sweeper finds every HAProxy", instances(sweeper, generator.HAProxyService), true},
		{"the sweeper finds every lbstats", instances(sweeper, generator.LBStatsService), true},
		{"the sweeper drains a web version", drainTxn(sweeper, "strata/web/draining/v2"), true},
		{"the sweeper drains an api version", put(sweeper, "strata/api/draining/v1"), true},
		{"the sweeper cannot write live", put(sweeper, "strata/web/live"), false},
		{"the sweeper cannot write history", put(sweeper, "strata/web/history"), false},
		{"the sweeper cannot set a cohort", put(sweeper, "strata/web/cohorts/x"), false},
		{"the sweeper cannot drain an app strata does not run", put(sweeper, "strata/other/draining/v1"), false},
		{"the sweeper cannot write outside strata/", put(sweeper, "team/x"), false},
		{"the sweeper cannot read outside strata/", get(sweeper, "team/x"), false},
		{"the sweeper cannot register in the catalog", register(sweeper), false},

		{"HAProxy reads a routed app's live version", get(haproxy, "strata/web/live"), true},
		{"HAProxy reads a routed app's draining versions", get(haproxy, "strata/web/draining/v1"), true},
		{"HAProxy lists a routed app's cohorts", listed(haproxy, "strata/web/cohorts/", "strata/web/cohorts/pro"), true},
		{"HAProxy sees a routed app's instances", instances(haproxy, "web"), true},
		{"HAProxy cannot read an unrouted app's keys", get(haproxy, "strata/api/live"), false},
		{"HAProxy cannot see an unrouted app's instances", instances(haproxy, "api"), false},
		{"HAProxy cannot write live", put(haproxy, "strata/web/live"), false},
		{"HAProxy cannot drain", put(haproxy, "strata/web/draining/v2"), false},
		{"HAProxy cannot read outside strata/", get(haproxy, "team/x"), false},
		{"HAProxy cannot register in the catalog", register(haproxy), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if (err == nil) != tc.allowed {
				t.Errorf("err = %v, want allowed = %v", err, tc.allowed)
			}
		})
	}

	// Identities strata binds no role to log in to nothing: Consul
	// refuses a login that yields no role or policy.
	others := []struct {
		name, namespace, job, task string
	}{
		{"an app's own task", "default", "web-v1", "web"},
		{"HAProxy's lbstats sidecar", "default", generator.HAProxyJobID, "lbstats"},
		{"a job named like the sweeper in another namespace", "other", generator.SweeperJobID, "sweep"},
		{"another task of a job named like the sweeper", "default", generator.SweeperJobID, "shell"},
	}
	for _, o := range others {
		t.Run(o.name+" gets nothing", func(t *testing.T) {
			cl, err := c.login(t, o.namespace, o.job, o.task)
			if err == nil {
				if get(cl, "strata/web/live")() == nil || put(cl, "strata/web/draining/v9")() == nil {
					t.Errorf("logged in and reads or drains")
				}
				t.Errorf("logged in, want the login refused")
			}
		})
	}
}

func txnErrors(resp *consulapi.KVTxnResponse) string {
	if resp == nil {
		return ""
	}
	var out []string
	for _, e := range resp.Errors {
		out = append(out, e.What)
	}
	return strings.Join(out, "; ")
}

// TestAHandEditedObjectIsReportedAndRestored widens the sweeper's policy,
// rebinds its rule and strips its role by hand, as an operator might; plan
// names each change and apply restores them, after which the sweeper's
// identity is back to its own rights.
func TestAHandEditedObjectIsReportedAndRestored(t *testing.T) {
	c := newCluster(t)
	c.apply(t)
	ps, _, err := c.acl.PolicyList(nil)
	if err != nil {
		t.Fatal(err)
	}
	var sweeperPolicy *consulapi.ACLPolicy
	for _, p := range ps {
		if p.Name == "strata-sweeper" {
			sweeperPolicy, _, err = c.acl.PolicyRead(p.ID, nil)
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	sweeperPolicy.Rules += "\nkey \"strata/web/live\" {\n  policy = \"write\"\n}\n"
	if _, _, err := c.acl.PolicyUpdate(sweeperPolicy, nil); err != nil {
		t.Fatal(err)
	}
	rules, _, err := c.acl.BindingRuleList(DefaultAuthMethod, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		if r.BindName == "strata-haproxy" {
			r.Selector = `value.nomad_job_id == "strata-haproxy"`
			if _, _, err := c.acl.BindingRuleUpdate(r, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	sweeper, err := c.login(t, "default", generator.SweeperJobID, "sweep")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sweeper.KV().Put(&consulapi.KVPair{Key: "strata/web/live", Value: []byte("x")}, nil); err != nil {
		t.Fatalf("the hand edit did not take: %v", err)
	}

	changes := c.plan(t)
	got := strings.Join(describe(changes), "; ")
	if len(changes) != 2 || !strings.Contains(got, "update policy strata-sweeper") || !strings.Contains(got, "update binding rule strata-haproxy") {
		t.Fatalf("plan found %q, want the policy and the binding rule restored", got)
	}
	for _, ch := range changes {
		if ch.Kind == "policy" && !strings.Contains(ch.String(), "edited by hand") {
			t.Errorf("the change does not say the rules were edited: %s", ch)
		}
	}
	if err := Apply(context.Background(), changes, nil); err != nil {
		t.Fatal(err)
	}
	if again := c.plan(t); len(again) != 0 {
		t.Errorf("after restoring, plan still finds %q", describe(again))
	}
	// The sweeper's existing token follows its policy.
	if _, err := sweeper.KV().Put(&consulapi.KVPair{Key: "strata/web/live", Value: []byte("x")}, nil); err == nil {
		t.Error("the sweeper still writes live after the policy was restored")
	}
	if _, err := c.login(t, "default", generator.HAProxyJobID, "lbstats"); err == nil {
		t.Error("lbstats logs in as HAProxy after the binding rule was restored")
	}
}

// TestAnObjectStrataDidNotCreateIsAConflict: a policy of strata's name that
// someone else made stops plan, and nothing is changed.
func TestAnObjectStrataDidNotCreateIsAConflict(t *testing.T) {
	c := newCluster(t)
	if _, _, err := c.acl.PolicyCreate(&consulapi.ACLPolicy{Name: "strata-sweeper", Description: "made by hand", Rules: `key_prefix "" { policy = "read" }`}, nil); err != nil {
		t.Fatal(err)
	}
	before := c.foreign(t)
	_, err := Plan(context.Background(), c.acl, c.want)
	var conflict *ConflictError
	if !errors.As(err, &conflict) || conflict.Name != "strata-sweeper" || !strings.Contains(err.Error(), "strata did not create") {
		t.Fatalf("plan: %v, want a conflict on strata-sweeper", err)
	}
	ps, _, _ := c.acl.PolicyList(nil)
	for _, p := range ps {
		if strings.HasPrefix(p.Description, Marker) {
			t.Errorf("policy %s was created despite the conflict", p.Name)
		}
	}
	if after := c.foreign(t); !equalIndexes(before, after) {
		t.Errorf("objects strata did not create changed: %v → %v", before, after)
	}
}

// TestPlanNeedsTheAuthMethodsClaims: without Nomad's auth method, or with
// one that maps no Nomad claims, plan says what to set up.
func TestPlanNeedsTheAuthMethodsClaims(t *testing.T) {
	c := newCluster(t)
	w := c.want
	w.AuthMethod = "missing"
	if _, err := Plan(context.Background(), c.acl, w); err == nil || !strings.Contains(err.Error(), "nomad setup consul") {
		t.Errorf("a missing auth method: %v", err)
	}
	if _, _, err := c.acl.AuthMethodCreate(&consulapi.ACLAuthMethod{Name: "bare", Type: "jwt", Config: map[string]any{
		"JWTValidationPubKeys": []string{c.issuer.publicPEM(t)}, "BoundAudiences": []string{"consul.io"},
	}}, nil); err != nil {
		t.Fatal(err)
	}
	w.AuthMethod = "bare"
	if _, err := Plan(context.Background(), c.acl, w); err == nil || !strings.Contains(err.Error(), "nomad_job_id") {
		t.Errorf("an auth method without claim mappings: %v", err)
	}
}
