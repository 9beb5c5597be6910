package cli

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/acl"
	"github.com/strata-dev/strata/internal/testenv"
)

// TestACLPlanThenApplyThroughTheCLI: plan lists what apply will create and
// changes nothing; apply makes it and says so; a second apply changes
// nothing. (internal/acl tests what the objects allow.)
func TestACLPlanThenApplyThroughTheCLI(t *testing.T) {
	consul := testenv.StartConsulWithACL(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := consul.Client.ACL().AuthMethodCreate(&consulapi.ACLAuthMethod{Name: acl.DefaultAuthMethod, Type: "jwt", Config: map[string]any{
		"JWTValidationPubKeys": []string{string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))},
		"BoundAudiences":       []string{"consul.io"},
		"ClaimMappings":        map[string]string{"nomad_namespace": "nomad_namespace", "nomad_job_id": "nomad_job_id", "nomad_task": "nomad_task"},
	}}, nil); err != nil {
		t.Fatal(err)
	}
	path := writeConfig(t, t.TempDir(), sweptWeb)
	env := map[string]string{"CONSUL_HTTP_ADDR": consul.Addr, "CONSUL_HTTP_TOKEN": testenv.ACLManagementToken}

	code, out, errOut := run(t, env, "acl", "plan", "--only", "consul", "-c", path)
	if code != ExitOK || !strings.Contains(out, "will create policy strata-sweeper") || !strings.Contains(out, "will create binding rule strata-sweeper") {
		t.Fatalf("acl plan: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, _ := run(t, env, "acl", "plan", "--only", "consul", "--detailed-exitcode", "-c", path); code != ExitChanges {
		t.Errorf("acl plan --detailed-exitcode with changes: exit %d, want %d", code, ExitChanges)
	}
	if ps, _, _ := consul.Client.ACL().PolicyList(nil); len(ps) != 2 {
		t.Errorf("plan changed Consul: %d policies", len(ps))
	}
	code, out, errOut = run(t, env, "acl", "apply", "--only", "consul", "-c", path)
	if code != ExitOK || !strings.Contains(out, "did create role strata-sweeper") || !strings.Contains(out, "changes made") {
		t.Fatalf("acl apply: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = run(t, env, "acl", "apply", "--only", "consul", "-c", path)
	if code != ExitOK || !strings.Contains(out, "nothing to change") {
		t.Errorf("the second acl apply: exit %d\n%s%s", code, out, errOut)
	}
	// Nomad's side: a Nomad with no policies yet (its list endpoint).
	nomad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/acl/policies" || r.Method != http.MethodGet {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		w.Write([]byte("[]"))
	}))
	defer nomad.Close()
	env["NOMAD_ADDR"] = nomad.URL
	code, out, errOut = run(t, env, "acl", "plan", "-c", path)
	if code != ExitOK || !strings.Contains(out, "will create Nomad policy strata-sweeper: for task sweep of group sweeper of job strata-sweeper in namespace default") || strings.Contains(out, "will create policy") {
		t.Errorf("acl plan of both sides after the Consul apply: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := run(t, env, "acl", "plan", "--only", "vault", "-c", path); code != ExitUsage || !strings.Contains(errOut, "expected consul or nomad") {
		t.Errorf("--only vault: exit %d\n%s", code, errOut)
	}
	code, _, errOut = run(t, env, "acl", "plan", "--only", "consul", "--auth-method", "nope", "-c", path)
	if code != ExitError || !strings.Contains(errOut, "strata acl plan: Consul has no auth method nope") {
		t.Errorf("a missing auth method: exit %d\n%s", code, errOut)
	}

	// Tokens for people hold only their role's policy.
	code, out, errOut = run(t, env, "acl", "token", "deployer", "--for", "ci", "--only", "consul", "-c", path)
	secret := ""
	if _, after, ok := strings.Cut(out, "secret "); ok {
		secret = strings.TrimSpace(strings.SplitN(after, "\n", 2)[0])
	}
	if code != ExitOK || !strings.Contains(out, "Consul token for ci (deployer)") || secret == "" {
		t.Fatalf("acl token deployer: exit %d\n%s%s", code, out, errOut)
	}
	cc := consulapi.DefaultNonPooledConfig()
	cc.Address, cc.Token = consul.Addr, secret
	deployer, err := consulapi.NewClient(cc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := deployer.KV().Put(&consulapi.KVPair{Key: "strata/web/live", Value: []byte("v3")}, nil); err != nil {
		t.Errorf("the deployer's token cannot promote: %v", err)
	}
	if _, err := deployer.KV().Put(&consulapi.KVPair{Key: "strata/web/draining/v2", Value: []byte("x")}, nil); err == nil {
		t.Error("the deployer's token can drain")
	}
	if code, _, errOut := run(t, env, "acl", "token", "sweeper", "--for", "x", "-c", path); code != ExitUsage || !strings.Contains(errOut, "workload identities") {
		t.Errorf("a token for the sweeper: exit %d\n%s", code, errOut)
	}
	// Nomad has no strata-operator policy yet (the fake lists none): no
	// token is created on either side.
	before, _, _ := consul.Client.ACL().TokenList(nil)
	code, _, errOut = run(t, env, "acl", "token", "operator", "--for", "alice", "-c", path)
	after, _, _ := consul.Client.ACL().TokenList(nil)
	if code != ExitError || !strings.Contains(errOut, "Nomad has no ACL policy strata-operator yet") || len(after) != len(before) {
		t.Errorf("a token without Nomad's policy: exit %d, %d → %d Consul tokens\n%s", code, len(before), len(after), errOut)
	}
}
