package acl

import (
	"context"
	"fmt"
	"slices"
	"strings"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/generator"
)

// NomadPolicy is a Nomad ACL policy strata manages. A policy with a JobACL
// is associated with a job's task: Nomad grants it to the task's workload
// identity, so the task needs no token.
type NomadPolicy struct {
	Name, Description, Rules string
	JobACL                   *nomadapi.JobACL
}

// NomadDesired builds the Nomad ACL policies from the policy files
// generator.Policies renders (nomad-<role>.hcl), named strata-<role>. The
// sweeper's is associated with the strata-sweeper job's sweep task in
// namespace; the others are for the tokens of people (the deployer, the
// operator), which CreateTokens makes when asked.
func NomadDesired(files []generator.File, namespace string) ([]NomadPolicy, error) {
	if namespace == "" {
		namespace = "default"
	}
	var out []NomadPolicy
	for _, f := range files {
		role, ok := strings.CutPrefix(strings.TrimSuffix(f.Path, ".hcl"), "nomad-")
		if !ok {
			continue
		}
		p := NomadPolicy{
			Name:        "strata-" + role,
			Description: Marker + "the " + role + " role's Nomad policy (policies/" + f.Path + ")",
			Rules:       string(f.Data),
		}
		if role == generator.RoleSweeper {
			p.JobACL = &nomadapi.JobACL{Namespace: namespace, JobID: generator.SweeperJobID, Group: "sweeper", Task: "sweep"}
			p.Description = Marker + "the sweeper's Nomad policy, for task sweep of job " + generator.SweeperJobID + " in namespace " + namespace + " (policies/" + f.Path + ")"
		}
		out = append(out, p)
	}
	if !slices.ContainsFunc(out, func(p NomadPolicy) bool { return p.JobACL != nil }) {
		return nil, fmt.Errorf("acl: the rendered policies hold no nomad-%s.hcl", generator.RoleSweeper)
	}
	return out, nil
}

// NomadPlan reads Nomad's ACL policies and returns the changes that make
// strata's what want describes, by the rules Plan follows in Consul: a
// policy of strata's name without Marker is a ConflictError, a marked one
// that differs is restored, a marked one no longer wanted is removed. It
// changes nothing.
func NomadPlan(ctx context.Context, p *nomadapi.ACLPolicies, want []NomadPolicy) ([]Change, error) {
	q := (&nomadapi.QueryOptions{}).WithContext(ctx)
	stubs, _, err := p.List(q)
	if err != nil {
		return nil, fmt.Errorf("listing Nomad ACL policies: %w", err)
	}
	byName := map[string]*nomadapi.ACLPolicyListStub{}
	for _, s := range stubs {
		byName[s.Name] = s
	}
	var ups, downs []Change
	wanted := map[string]bool{}
	for _, np := range want {
		wanted[np.Name] = true
		policy := &nomadapi.ACLPolicy{Name: np.Name, Description: np.Description, Rules: np.Rules, JobACL: np.JobACL}
		upsert := func(ctx context.Context) error {
			_, err := p.Upsert(policy, (&nomadapi.WriteOptions{}).WithContext(ctx))
			return err
		}
		cur := byName[np.Name]
		if cur == nil {
			why := ""
			if np.JobACL != nil {
				why = "for " + jobACLString(np.JobACL)
			}
			ups = append(ups, Change{Action: "create", Kind: "Nomad policy", Name: np.Name, Why: why, apply: upsert})
			continue
		}
		if !strings.HasPrefix(cur.Description, Marker) {
			return nil, &ConflictError{Kind: "Nomad policy", Name: np.Name, Description: cur.Description}
		}
		full, _, err := p.Info(np.Name, q)
		if err != nil {
			return nil, fmt.Errorf("reading Nomad ACL policy %s: %w", np.Name, err)
		}
		var why []string
		if full.Rules != np.Rules {
			why = append(why, "its rules differ from policies/ (edited by hand?): restored")
		}
		if !equalJobACL(full.JobACL, np.JobACL) {
			why = append(why, "associated with "+jobACLString(full.JobACL)+": restored to "+jobACLString(np.JobACL))
		}
		if full.Description != np.Description {
			why = append(why, "description restored")
		}
		if len(why) > 0 {
			ups = append(ups, Change{Action: "update", Kind: "Nomad policy", Name: np.Name, Why: strings.Join(why, "; "), apply: upsert})
		}
	}
	for _, s := range stubs {
		if strings.HasPrefix(s.Description, Marker) && !wanted[s.Name] {
			name := s.Name
			downs = append(downs, Change{Action: "delete", Kind: "Nomad policy", Name: name, Why: "strata no longer uses it", apply: func(ctx context.Context) error {
				_, err := p.Delete(name, (&nomadapi.WriteOptions{}).WithContext(ctx))
				return err
			}})
		}
	}
	return append(ups, downs...), nil
}

func equalJobACL(a, b *nomadapi.JobACL) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func jobACLString(j *nomadapi.JobACL) string {
	if j == nil {
		return "no task (a policy for tokens)"
	}
	s := "job " + j.JobID + " in namespace " + j.Namespace
	if j.Group != "" {
		s = "group " + j.Group + " of " + s
	}
	if j.Task != "" {
		s = "task " + j.Task + " of " + s
	}
	return s
}
