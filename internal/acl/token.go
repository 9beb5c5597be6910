package acl

import (
	"context"
	"fmt"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/generator"
)

// PersonRoles are the roles strata makes tokens for: people and CI, not
// tasks (tasks have workload identities).
var PersonRoles = []string{generator.RoleDeployer, generator.RoleOperator}

// Token is a token made for a person: its secrets are shown once and never
// stored by strata.
type Token struct {
	Service, AccessorID, SecretID string
}

// CreateTokens makes, for role and holder, a Consul token and/or a Nomad
// token (a nil client is skipped) that hold only the role's policy,
// strata-<role>, which `strata acl apply` must have made: a policy missing,
// or not made by strata, is an error and no token is created. ttl, if not
// zero, is the tokens' life.
func CreateTokens(ctx context.Context, consul *consulapi.ACL, nomad *nomadapi.Client, role, holder string, ttl time.Duration) ([]Token, error) {
	known := false
	for _, r := range PersonRoles {
		known = known || r == role
	}
	if !known {
		return nil, fmt.Errorf("no tokens for role %q: people get %v (tasks use workload identities)", role, PersonRoles)
	}
	policy := "strata-" + role
	desc := Marker + role + " token for " + holder
	// Check both sides before creating anything.
	if consul != nil {
		ps, _, err := consul.PolicyList(qopts(ctx))
		if err != nil {
			return nil, fmt.Errorf("listing Consul ACL policies: %w", err)
		}
		if err := checkPolicy("Consul", policy, func(yield func(name, desc string) bool) {
			for _, p := range ps {
				if !yield(p.Name, p.Description) {
					return
				}
			}
		}); err != nil {
			return nil, err
		}
	}
	if nomad != nil {
		ps, _, err := nomad.ACLPolicies().List((&nomadapi.QueryOptions{}).WithContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("listing Nomad ACL policies: %w", err)
		}
		if err := checkPolicy("Nomad", policy, func(yield func(name, desc string) bool) {
			for _, p := range ps {
				if !yield(p.Name, p.Description) {
					return
				}
			}
		}); err != nil {
			return nil, err
		}
	}
	var out []Token
	if consul != nil {
		tok, _, err := consul.TokenCreate(&consulapi.ACLToken{Description: desc, Policies: []*consulapi.ACLTokenPolicyLink{{Name: policy}}, ExpirationTTL: ttl}, wopts(ctx))
		if err != nil {
			return nil, fmt.Errorf("creating the Consul token: %w", err)
		}
		out = append(out, Token{Service: "Consul", AccessorID: tok.AccessorID, SecretID: tok.SecretID})
	}
	if nomad != nil {
		t := &nomadapi.ACLToken{Name: desc, Type: "client", Policies: []string{policy}}
		if ttl > 0 {
			t.ExpirationTTL = ttl
		}
		tok, _, err := nomad.ACLTokens().Create(t, (&nomadapi.WriteOptions{}).WithContext(ctx))
		if err != nil {
			return out, fmt.Errorf("creating the Nomad token (the Consul one was created: %s): %w", tokenAccessor(out), err)
		}
		out = append(out, Token{Service: "Nomad", AccessorID: tok.AccessorID, SecretID: tok.SecretID})
	}
	return out, nil
}

func tokenAccessor(ts []Token) string {
	if len(ts) == 0 {
		return "none"
	}
	return "accessor " + ts[0].AccessorID
}

func checkPolicy(service, name string, all func(func(name, desc string) bool)) error {
	var found bool
	var err error
	all(func(n, d string) bool {
		if n != name {
			return true
		}
		found = true
		if len(d) < len(Marker) || d[:len(Marker)] != Marker {
			err = fmt.Errorf("%s's ACL policy %s was not created by strata; run 'strata acl apply' after resolving it", service, name)
		}
		return false
	})
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%s has no ACL policy %s yet: run 'strata acl apply' first", service, name)
	}
	return nil
}
