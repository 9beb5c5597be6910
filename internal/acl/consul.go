package acl

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/generator"
)

// Marker starts the description of every ACL object strata creates; strata
// changes and removes only objects whose description starts with it.
const Marker = "Managed by strata: "

// DefaultAuthMethod is the name `nomad setup consul` gives the JWT auth
// method that accepts Nomad's workload identities.
const DefaultAuthMethod = "nomad-workloads"

// The claims of a Nomad task's workload identity the binding rules select
// on (Nomad's IdentityClaims).
const (
	ClaimNamespace = "nomad_namespace"
	ClaimJobID     = "nomad_job_id"
	ClaimTask      = "nomad_task"
)

// Policy is a Consul ACL policy strata manages.
type Policy struct {
	Name, Description, Rules string
}

// Role is a Consul ACL role strata manages, linking policies by name.
type Role struct {
	Name, Description string
	Policies          []string
}

// Workload is a Nomad task that logs in to Consul with its workload
// identity and gets Role: a binding rule selects it by namespace, job and
// task.
type Workload struct {
	Role, Namespace, JobID, Task string
}

// TokenModel is how the cluster's Nomad gives strata's tasks a Consul
// token.
type TokenModel string

// The token models strata knows.
const (
	// WorkloadIdentity: Nomad's servers set consul.task_identity, and each
	// task with a consul block logs in to Consul with its implicit
	// consul_default identity (Nomad 1.7 and later). strata binds its
	// roles to the strata-haproxy and strata-sweeper tasks.
	WorkloadIdentity TokenModel = "workload-identity"
	// AgentToken: the older model, where templates read Consul with the
	// Nomad client agent's own Consul token (consul.token). Nomad 2.0.4
	// and later do so only with client { template { use_client_consul_token
	// = true } } (Nomad GH-28106); a task itself gets no Consul token.
	// strata makes a role to link to that token.
	AgentToken TokenModel = "agent-token"
	// SubmitterToken: the job submitter's Consul token (nomad job run
	// -consul-token, consul.allow_unauthenticated = false), deprecated in
	// Nomad 1.7 and removed in Nomad 1.10.0. strata refuses it.
	SubmitterToken TokenModel = "submitter-token"
)

// TokenModels are the values of --consul-token-model strata accepts.
var TokenModels = []TokenModel{WorkloadIdentity, AgentToken}

// ParseTokenModel parses a --consul-token-model value ("" is
// WorkloadIdentity). The submitter token model is refused with the Nomad
// version that removed it.
func ParseTokenModel(s string) (TokenModel, error) {
	switch m := TokenModel(s); m {
	case "", WorkloadIdentity:
		return WorkloadIdentity, nil
	case AgentToken:
		return m, nil
	case SubmitterToken:
		return "", fmt.Errorf("--consul-token-model %s: Nomad removed the job submitter's Consul token (nomad job run -consul-token, consul.allow_unauthenticated) in Nomad 1.10.0, after deprecating it in 1.7; strata's jobs need Nomad 1.7 or later and its local cluster runs Nomad 2.0.6: use %s (Nomad's model since 1.7) or %s (the Nomad clients' own Consul token)", s, WorkloadIdentity, AgentToken)
	}
	return "", fmt.Errorf("--consul-token-model %q: expected %s or %s", s, WorkloadIdentity, AgentToken)
}

// Desired is everything strata's roles need in Consul.
type Desired struct {
	// Model is the cluster's Consul token model.
	Model TokenModel
	// AuthMethod is the JWT auth method Nomad's task identities log in
	// with; empty in the agent-token model, which needs none.
	AuthMethod string
	Policies   []Policy
	Roles      []Role
	Workloads  []Workload
}

// workloadRoles are the roles a Nomad task of strata's holds, and the task.
var workloadRoles = []struct{ role, job, task string }{
	{generator.RoleSweeper, generator.SweeperJobID, "sweep"},
	{generator.RoleHAProxy, generator.HAProxyJobID, "haproxy"},
	// Only when an app has a rollout section, which renders its policy.
	{generator.RoleRollout, generator.RolloutJobID, "control"},
}

// ConsulDesired builds Desired from the policy files generator.Policies
// renders (consul-<role>.hcl): a policy per role named strata-<role>, and,
// in the workload-identity model, for the sweeper and HAProxy a role of the
// same name that their tasks in namespace get through authMethod. HAProxy's
// role exists only when its policy does. In the agent-token model there is
// no auth method and no binding rule: HAProxy's role is for the operator to
// link to the Nomad clients' Consul token, whose templates read with it,
// and the sweeper has no role, since its task gets no Consul token
// (AgentTokenNotes says what that means).
func ConsulDesired(files []generator.File, namespace, authMethod string, model TokenModel) (Desired, error) {
	if namespace == "" {
		namespace = "default"
	}
	if model == "" {
		model = WorkloadIdentity
	}
	if authMethod == "" {
		authMethod = DefaultAuthMethod
	}
	d := Desired{Model: model, AuthMethod: authMethod}
	if model == AgentToken {
		d.AuthMethod = ""
	}
	have := map[string]bool{}
	for _, f := range files {
		role, ok := strings.CutPrefix(strings.TrimSuffix(f.Path, ".hcl"), "consul-")
		if !ok {
			continue
		}
		d.Policies = append(d.Policies, Policy{
			Name:        "strata-" + role,
			Description: Marker + "the " + role + " role's Consul policy (policies/" + f.Path + ")",
			Rules:       string(f.Data),
		})
		have[role] = true
	}
	if !have[generator.RoleSweeper] {
		return Desired{}, fmt.Errorf("acl: the rendered policies hold no consul-%s.hcl", generator.RoleSweeper)
	}
	if model == AgentToken {
		if have[generator.RoleHAProxy] {
			name := "strata-" + generator.RoleHAProxy
			d.Roles = append(d.Roles, Role{
				Name:        name,
				Description: Marker + "link it to the Consul token of the Nomad clients that run " + generator.HAProxyJobID + ": their templates read Consul with that token (agent-token model)",
				Policies:    []string{name},
			})
		}
		return d, nil
	}
	for _, w := range workloadRoles {
		if !have[w.role] {
			continue
		}
		name := "strata-" + w.role
		d.Roles = append(d.Roles, Role{
			Name:        name,
			Description: Marker + "task " + w.task + " of Nomad job " + w.job + " in namespace " + namespace,
			Policies:    []string{name},
		})
		d.Workloads = append(d.Workloads, Workload{Role: name, Namespace: namespace, JobID: w.job, Task: w.task})
	}
	return d, nil
}

// Change is one change Plan found: what it does to which object, and why.
type Change struct {
	// Action is "create", "update" or "delete".
	Action string
	// Kind is "policy", "role" or "binding rule" in Consul, "Nomad
	// policy" in Nomad.
	Kind string
	// Name names the object (a binding rule by the role it binds).
	Name string
	// Why says what differs, for an update or a delete.
	Why string

	apply func(ctx context.Context) error
}

// String is the change as plan and apply print it.
func (c Change) String() string {
	s := c.Action + " " + c.Kind + " " + c.Name
	if c.Why != "" {
		s += ": " + c.Why
	}
	return s
}

// ConflictError is an object of a name strata manages that strata did not
// create. Nothing is changed while one exists.
type ConflictError struct {
	Kind, Name, Description string
}

func (e *ConflictError) Error() string {
	if e.Kind == "Nomad policy" {
		return fmt.Sprintf("Nomad already has an ACL policy named %s that strata did not create (its description %q does not start with %q); strata leaves it alone: rename or remove it, then run again", e.Name, e.Description, Marker)
	}
	return fmt.Sprintf("Consul already has a %s named %s that strata did not create (its description %q does not start with %q); strata leaves it alone: rename or remove it, then run again", e.Kind, e.Name, e.Description, Marker)
}

func wopts(ctx context.Context) *consulapi.WriteOptions {
	return (&consulapi.WriteOptions{}).WithContext(ctx)
}

func qopts(ctx context.Context) *consulapi.QueryOptions {
	return (&consulapi.QueryOptions{}).WithContext(ctx)
}

// Plan reads Consul's ACL objects and returns the changes that make them
// what d describes, in the order Apply makes them: policies, roles and
// binding rules created or restored first, then what strata no longer
// needs removed, binding rules first. It changes nothing.
//
// In the agent-token model (d.AuthMethod empty) no auth method is needed:
// strata's binding rules of any auth method are removed, since no task logs
// in.
func Plan(ctx context.Context, a *consulapi.ACL, d Desired) ([]Change, error) {
	var attr map[string]string
	if d.AuthMethod != "" {
		method, _, err := a.AuthMethodRead(d.AuthMethod, qopts(ctx))
		if err != nil {
			return nil, fmt.Errorf("reading Consul auth method %s: %w", d.AuthMethod, err)
		}
		if method == nil {
			return nil, fmt.Errorf("Consul has no auth method %s: set up Nomad's workload identities for Consul first (nomad setup consul), or name the JWT auth method that accepts them with --auth-method; a cluster whose Nomad clients read Consul with their own token uses --consul-token-model %s", d.AuthMethod, AgentToken)
		}
		if method.Type != "jwt" {
			return nil, fmt.Errorf("Consul auth method %s is of type %s; Nomad's workload identities log in through a jwt auth method", d.AuthMethod, method.Type)
		}
		if attr, err = claimAttributes(method); err != nil {
			return nil, err
		}
	}

	var ups, downs []Change
	// Policies.
	existing, _, err := a.PolicyList(qopts(ctx))
	if err != nil {
		return nil, fmt.Errorf("listing Consul ACL policies: %w", err)
	}
	byName := map[string]*consulapi.ACLPolicyListEntry{}
	for _, p := range existing {
		byName[p.Name] = p
	}
	wanted := map[string]bool{}
	for _, want := range d.Policies {
		wanted[want.Name] = true
		cur := byName[want.Name]
		if cur == nil {
			p := &consulapi.ACLPolicy{Name: want.Name, Description: want.Description, Rules: want.Rules}
			ups = append(ups, Change{Action: "create", Kind: "policy", Name: want.Name, apply: func(ctx context.Context) error {
				_, _, err := a.PolicyCreate(p, wopts(ctx))
				return err
			}})
			continue
		}
		if !strings.HasPrefix(cur.Description, Marker) {
			return nil, &ConflictError{Kind: "policy", Name: want.Name, Description: cur.Description}
		}
		full, _, err := a.PolicyRead(cur.ID, qopts(ctx))
		if err != nil || full == nil {
			return nil, fmt.Errorf("reading Consul ACL policy %s: %v", want.Name, err)
		}
		var why []string
		if full.Rules != want.Rules {
			why = append(why, "its rules differ from policies/ (edited by hand?): restored")
		}
		if full.Description != want.Description {
			why = append(why, "description restored")
		}
		if len(full.Datacenters) > 0 {
			why = append(why, "datacenters "+strings.Join(full.Datacenters, ",")+" removed")
		}
		if len(why) > 0 {
			p := &consulapi.ACLPolicy{ID: full.ID, Name: want.Name, Description: want.Description, Rules: want.Rules}
			ups = append(ups, Change{Action: "update", Kind: "policy", Name: want.Name, Why: strings.Join(why, "; "), apply: func(ctx context.Context) error {
				_, _, err := a.PolicyUpdate(p, wopts(ctx))
				return err
			}})
		}
	}
	for _, p := range existing {
		if strings.HasPrefix(p.Description, Marker) && !wanted[p.Name] {
			id := p.ID
			downs = append(downs, Change{Action: "delete", Kind: "policy", Name: p.Name, Why: "strata no longer uses it", apply: func(ctx context.Context) error {
				_, err := a.PolicyDelete(id, wopts(ctx))
				return err
			}})
		}
	}

	// Roles.
	roles, _, err := a.RoleList(qopts(ctx))
	if err != nil {
		return nil, fmt.Errorf("listing Consul ACL roles: %w", err)
	}
	rolesByName := map[string]*consulapi.ACLRole{}
	for _, r := range roles {
		rolesByName[r.Name] = r
	}
	wanted = map[string]bool{}
	var roleDowns []Change
	for _, want := range d.Roles {
		wanted[want.Name] = true
		links := make([]*consulapi.ACLRolePolicyLink, len(want.Policies))
		for i, p := range want.Policies {
			links[i] = &consulapi.ACLRolePolicyLink{Name: p}
		}
		cur := rolesByName[want.Name]
		if cur == nil {
			r := &consulapi.ACLRole{Name: want.Name, Description: want.Description, Policies: links}
			ups = append(ups, Change{Action: "create", Kind: "role", Name: want.Name, apply: func(ctx context.Context) error {
				_, _, err := a.RoleCreate(r, wopts(ctx))
				return err
			}})
			continue
		}
		if !strings.HasPrefix(cur.Description, Marker) {
			return nil, &ConflictError{Kind: "role", Name: want.Name, Description: cur.Description}
		}
		var why []string
		var names []string
		for _, l := range cur.Policies {
			names = append(names, l.Name)
		}
		slices.Sort(names)
		if !slices.Equal(names, slices.Sorted(slices.Values(want.Policies))) {
			why = append(why, fmt.Sprintf("policies [%s] restored to [%s]", strings.Join(names, " "), strings.Join(want.Policies, " ")))
		}
		if len(cur.ServiceIdentities) > 0 || len(cur.NodeIdentities) > 0 || len(cur.TemplatedPolicies) > 0 {
			why = append(why, "identities and templated policies added by hand removed")
		}
		if cur.Description != want.Description {
			why = append(why, "description restored")
		}
		if len(why) > 0 {
			r := &consulapi.ACLRole{ID: cur.ID, Name: want.Name, Description: want.Description, Policies: links}
			ups = append(ups, Change{Action: "update", Kind: "role", Name: want.Name, Why: strings.Join(why, "; "), apply: func(ctx context.Context) error {
				_, _, err := a.RoleUpdate(r, wopts(ctx))
				return err
			}})
		}
	}
	for _, r := range roles {
		if strings.HasPrefix(r.Description, Marker) && !wanted[r.Name] {
			id := r.ID
			roleDowns = append(roleDowns, Change{Action: "delete", Kind: "role", Name: r.Name, Why: "strata no longer uses it", apply: func(ctx context.Context) error {
				_, err := a.RoleDelete(id, wopts(ctx))
				return err
			}})
		}
	}

	// Binding rules of the auth method.
	rules, _, err := a.BindingRuleList(d.AuthMethod, qopts(ctx))
	if err != nil {
		if d.AuthMethod == "" {
			return nil, fmt.Errorf("listing Consul's binding rules: %w", err)
		}
		return nil, fmt.Errorf("listing the binding rules of Consul auth method %s: %w", d.AuthMethod, err)
	}
	mine := map[string]*consulapi.ACLBindingRule{}
	var ruleDowns []Change
	for _, r := range rules {
		if !strings.HasPrefix(r.Description, Marker) {
			continue
		}
		if mine[r.BindName] != nil || r.BindType != consulapi.BindingRuleBindTypeRole {
			// A duplicate, or a rule of another kind: strata's own,
			// not needed.
			ruleDowns = append(ruleDowns, deleteRule(a, r, "a duplicate strata no longer needs"))
			continue
		}
		mine[r.BindName] = r
	}
	wanted = map[string]bool{}
	for _, w := range d.Workloads {
		wanted[w.Role] = true
		want := &consulapi.ACLBindingRule{
			Description: Marker + "Nomad task " + w.Task + " of job " + w.JobID + " in namespace " + w.Namespace + " gets role " + w.Role,
			AuthMethod:  d.AuthMethod,
			Selector:    Selector(attr, w),
			BindType:    consulapi.BindingRuleBindTypeRole,
			BindName:    w.Role,
		}
		cur := mine[w.Role]
		if cur == nil {
			ups = append(ups, Change{Action: "create", Kind: "binding rule", Name: w.Role, Why: "selector " + want.Selector, apply: func(ctx context.Context) error {
				_, _, err := a.BindingRuleCreate(want, wopts(ctx))
				return err
			}})
			continue
		}
		var why []string
		if cur.Selector != want.Selector {
			why = append(why, fmt.Sprintf("selector %q restored to %q", cur.Selector, want.Selector))
		}
		if cur.Description != want.Description {
			why = append(why, "description restored")
		}
		if len(why) > 0 {
			want.ID = cur.ID
			ups = append(ups, Change{Action: "update", Kind: "binding rule", Name: w.Role, Why: strings.Join(why, "; "), apply: func(ctx context.Context) error {
				_, _, err := a.BindingRuleUpdate(want, wopts(ctx))
				return err
			}})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(mine)) {
		if !wanted[name] {
			ruleDowns = append(ruleDowns, deleteRule(a, mine[name], "strata no longer uses it"))
		}
	}
	out := append(ups, ruleDowns...)
	out = append(out, roleDowns...)
	return append(out, downs...), nil
}

func deleteRule(a *consulapi.ACL, r *consulapi.ACLBindingRule, why string) Change {
	id := r.ID
	return Change{Action: "delete", Kind: "binding rule", Name: r.BindName, Why: why, apply: func(ctx context.Context) error {
		_, err := a.BindingRuleDelete(id, wopts(ctx))
		return err
	}}
}

// claimAttributes returns the names the auth method maps Nomad's
// namespace, job and task claims to: the selector's variables.
func claimAttributes(m *consulapi.ACLAuthMethod) (map[string]string, error) {
	mappings, _ := m.Config["ClaimMappings"].(map[string]any)
	out := map[string]string{}
	var missing []string
	for _, claim := range []string{ClaimNamespace, ClaimJobID, ClaimTask} {
		v, _ := mappings[claim].(string)
		if v == "" {
			missing = append(missing, claim)
			continue
		}
		out[claim] = v
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("Consul auth method %s maps no %s claim (ClaimMappings): the binding rules select Nomad tasks by these claims, as the auth method `nomad setup consul` creates does", m.Name, strings.Join(missing, ", "))
	}
	return out, nil
}

// Selector is the binding rule selector that matches exactly w's task, by
// the auth method's claim mappings attr (claim → attribute name).
func Selector(attr map[string]string, w Workload) string {
	return fmt.Sprintf("value.%s == %s and value.%s == %s and value.%s == %s",
		attr[ClaimNamespace], strconv.Quote(w.Namespace),
		attr[ClaimJobID], strconv.Quote(w.JobID),
		attr[ClaimTask], strconv.Quote(w.Task))
}

// Apply makes changes (of Plan or NomadPlan) in order, stopping at the
// first that fails; it reports each change to done as it is made.
func Apply(ctx context.Context, changes []Change, done func(Change)) error {
	for _, c := range changes {
		if err := c.apply(ctx); err != nil {
			return fmt.Errorf("%s: %w", c, err)
		}
		if done != nil {
			done(c)
		}
	}
	return nil
}
