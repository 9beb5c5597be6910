package cli

import (
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/testenv"
)

// TestACLConsulTokenModels drives --consul-token-model through the CLI: the
// agent-token model plans without Nomad's auth method and says what is left
// to do by hand; the submitter token model is refused with the Nomad
// version that removed it. (internal/acl tests what the objects allow.)
func TestACLConsulTokenModels(t *testing.T) {
	consul := testenv.StartConsulWithACL(t)
	path := writeConfig(t, t.TempDir(), sweptWeb)
	env := map[string]string{"CONSUL_HTTP_ADDR": consul.Addr, "CONSUL_HTTP_TOKEN": testenv.ACLManagementToken}

	code, out, errOut := run(t, env, "acl", "plan", "--only", "consul", "--consul-token-model", "agent-token", "-c", path)
	if code != ExitOK {
		t.Fatalf("agent-token plan: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"will create policy strata-sweeper", "will create role strata-haproxy",
		"to do: link role strata-haproxy to the Consul token of every Nomad client that runs strata-haproxy",
		"use_client_consul_token = true", "warning: the sweep task gets no Consul token",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("agent-token plan lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "binding rule") || strings.Contains(out, "role strata-sweeper") {
		t.Errorf("agent-token plan binds tasks:\n%s", out)
	}
	code, out, errOut = run(t, env, "acl", "apply", "--only", "consul", "--consul-token-model", "agent-token", "-c", path)
	if code != ExitOK || !strings.Contains(out, "did create role strata-haproxy") {
		t.Fatalf("agent-token apply: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = run(t, env, "acl", "plan", "--only", "consul", "--consul-token-model", "agent-token", "--agent-token-accessor", "00000000-0000-4000-8000-00000000000f", "-c", path)
	if code != ExitError || !strings.Contains(errOut, "--agent-token-accessor") {
		t.Errorf("a clients' token that does not exist: exit %d\n%s%s", code, out, errOut)
	}

	code, _, errOut = run(t, env, "acl", "plan", "--consul-token-model", "submitter-token", "-c", path)
	if code != ExitUsage || !strings.Contains(errOut, "Nomad 1.10.0") {
		t.Errorf("submitter-token: exit %d\n%s", code, errOut)
	}
	code, _, errOut = run(t, env, "acl", "apply", "--agent-token-accessor", "x", "-c", path)
	if code != ExitUsage || !strings.Contains(errOut, "--agent-token-accessor is for --consul-token-model agent-token") {
		t.Errorf("an accessor without the agent-token model: exit %d\n%s", code, errOut)
	}
}
