package acl

import (
	"context"
	"fmt"
	"slices"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/generator"
)

// AgentTokenNotes says, in the agent-token model, what strata cannot do
// through Consul's API because it would change an object strata did not
// create, and what the model leaves without a token. accessor, when not
// empty, is the accessor ID of the Consul token the Nomad clients that run
// strata-haproxy use (their consul.token): the notes then say whether it
// holds the role strata-haproxy, which strata links to no token itself. The
// token is only read (acl = "read" suffices). Each note is one line; none
// is an error, except a token that cannot be read.
//
// The model, from Nomad's documentation and source: a task without a
// workload identity gets no Consul token of its own; its templates read
// Consul with the client agent's token, which Nomad 2.0.4 and later give
// them only with client { template { use_client_consul_token = true } }
// (Nomad GH-28106, backported to 2.0.x), as Nomad 1.10.0 to 2.0.3 did
// without it. Every template on those clients reads with that token.
func AgentTokenNotes(ctx context.Context, a *consulapi.ACL, accessor string) ([]string, error) {
	role := "strata-" + generator.RoleHAProxy
	link := fmt.Sprintf("consul acl token update -accessor-id %s -role-name %s -merge-roles", orPlaceholder(accessor), role)
	var notes []string
	switch {
	case accessor == "":
		notes = append(notes, fmt.Sprintf("to do: link role %s to the Consul token of every Nomad client that runs %s (%s); --agent-token-accessor makes plan check it", role, generator.HAProxyJobID, link))
	default:
		tok, _, err := a.TokenRead(accessor, qopts(ctx))
		if err != nil || tok == nil {
			return nil, fmt.Errorf("reading the Nomad clients' Consul token %s (--agent-token-accessor): %v", accessor, err)
		}
		held := slices.ContainsFunc(tok.Roles, func(l *consulapi.ACLTokenRoleLink) bool { return l.Name == role }) ||
			slices.ContainsFunc(tok.Policies, func(l *consulapi.ACLTokenPolicyLink) bool { return l.Name == role })
		if held {
			notes = append(notes, fmt.Sprintf("the Nomad clients' Consul token %s holds %s", accessor, role))
		} else {
			notes = append(notes, fmt.Sprintf("to do: the Nomad clients' Consul token %s does not hold role %s, so %s's templates cannot read strata's keys and services; strata changes no token it did not create: %s", accessor, role, generator.HAProxyJobID, link))
		}
	}
	notes = append(notes,
		"to do: on Nomad 2.0.4 and later set client { template { use_client_consul_token = true } } on those clients, or templates get no Consul token (Nomad GH-28106); every template on them then reads what that token reads",
		fmt.Sprintf("warning: the %s task gets no Consul token in this model (Nomad gives a task one only through a workload identity), so it cannot read or drain and retires nothing; give it one with --consul-token-model %s: consul.task_identity adds an identity only to tasks with a consul block, strata's among them", "sweep", WorkloadIdentity),
	)
	return notes, nil
}

func orPlaceholder(accessor string) string {
	if accessor == "" {
		return "<accessor>"
	}
	return accessor
}
