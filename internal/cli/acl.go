package cli

import (
	"fmt"
	"slices"
	"strings"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/acl"
	"github.com/strata-dev/strata/internal/generator"
)

func (c *CLI) aclCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "acl",
		Short: "Set up the ACL objects strata's roles need on a cluster with ACLs",
		Long: `acl plan shows, and acl apply makes, what Consul and Nomad with ACLs enabled
need for strata's roles.

In Consul: a policy per role (strata-deployer, strata-sweeper, strata-haproxy,
strata-operator: the rules strata render writes to policies/), and the roles
and binding rules of the JWT auth method through which the strata-sweeper
job's sweep task and the strata-haproxy job's haproxy task, logging in with
their Nomad workload identities, get exactly their role's policy.

In Nomad (NOMAD_ADDR, NOMAD_TOKEN with a management token): the policies
strata-deployer and strata-operator, for the tokens of people ('strata acl
token' makes them when asked); and strata-sweeper, associated with the sweep
task of the strata-sweeper job in the configured namespace, so that its
workload identity holds it and no token exists. --only consul or --only
nomad does one side.

The auth method is the one Nomad's workload identities log in with
('nomad setup consul' creates nomad-workloads); its claim mappings must
map nomad_namespace, nomad_job_id and nomad_task. Consul is reached as every
command reaches it (CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN): the token needs
acl = "write". Nothing is changed until both sides are planned without an
error.

--consul-token-model says how the cluster's Nomad gives tasks Consul
tokens. workload-identity (the default, Nomad 1.7 and later): the servers
set consul.task_identity and strata binds its roles to its tasks, as above.
agent-token, the older model: templates read Consul with the Nomad clients'
own token (consul.token; on Nomad 2.0.4 and later only with client {
template { use_client_consul_token = true } }). strata then makes the
policies and a role strata-haproxy, binds nothing, removes the binding
rules it made, and says what is left to do: linking the role to the
clients' token, which strata did not create and does not change
(--agent-token-accessor makes plan check it), and that the sweeper's task
gets no Consul token in that model. submitter-token (nomad job run
-consul-token) is refused: Nomad 1.10.0 removed it.

strata changes only what it created: every object it makes has a
description starting "` + acl.Marker + `". An object of one of its names that
it did not create is reported and nothing is changed; one it created and
someone edited is reported and restored; one it no longer needs is removed.
Running apply again changes nothing.`,
	}
	var authMethod, only, modelFlag, agentToken string
	var detailed bool
	run := func(apply bool) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			if only != "" && only != "consul" && only != "nomad" {
				return usageError{fmt.Errorf("--only %q: expected consul or nomad", only)}
			}
			model, err := acl.ParseTokenModel(modelFlag)
			if err != nil {
				return usageError{err}
			}
			if agentToken != "" && model != acl.AgentToken {
				return usageError{fmt.Errorf("--agent-token-accessor is for --consul-token-model %s", acl.AgentToken)}
			}
			cfg, err := c.load(cmd)
			if err != nil {
				return err
			}
			files, err := generator.Policies(cfg)
			if err != nil {
				return err
			}
			var changes []acl.Change
			var summary, notes []string
			if only == "" || only == "consul" {
				want, err := acl.ConsulDesired(files, cfg.Namespace, authMethod, model)
				if err != nil {
					return err
				}
				client, err := c.consulClient()
				if err != nil {
					return err
				}
				cc, err := acl.Plan(cmd.Context(), client.ACL(), want)
				if err != nil {
					return err
				}
				changes = append(changes, cc...)
				if model == acl.AgentToken {
					if notes, err = acl.AgentTokenNotes(cmd.Context(), client.ACL(), agentToken); err != nil {
						return err
					}
					roles := fmt.Sprintf("%d roles", len(want.Roles))
					if len(want.Roles) == 1 {
						roles = "1 role"
					}
					summary = append(summary, fmt.Sprintf("Consul (%s): %d policies, %s, no binding rule",
						model, len(want.Policies), roles))
				} else {
					summary = append(summary, fmt.Sprintf("Consul: %d policies, %d roles, %d binding rules of auth method %s",
						len(want.Policies), len(want.Roles), len(want.Workloads), want.AuthMethod))
				}
			}
			defer func() {
				for _, n := range notes {
					fmt.Fprintln(c.Stdout, n)
				}
			}()
			if only == "" || only == "nomad" {
				want, err := acl.NomadDesired(files, cfg.Namespace)
				if err != nil {
					return err
				}
				nomad, err := c.nomadClient(cfg)
				if err != nil {
					return err
				}
				nc, err := acl.NomadPlan(cmd.Context(), nomad.Client.ACLPolicies(), want)
				if err != nil {
					return err
				}
				changes = append(changes, nc...)
				summary = append(summary, fmt.Sprintf("Nomad: %d policies", len(want)))
			}
			if len(changes) == 0 {
				fmt.Fprintf(c.Stdout, "ACLs: nothing to change (%s)\n", strings.Join(summary, "; "))
				return nil
			}
			if !apply {
				for _, ch := range changes {
					fmt.Fprintf(c.Stdout, "will %s\n", ch)
				}
				fmt.Fprintf(c.Stdout, "ACLs: %d changes; 'strata acl apply' makes them\n", len(changes))
				if detailed {
					return changesError{}
				}
				return nil
			}
			err = acl.Apply(cmd.Context(), changes, func(ch acl.Change) {
				fmt.Fprintf(c.Stdout, "did %s\n", ch)
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.Stdout, "ACLs: %d changes made\n", len(changes))
			return nil
		}
	}
	plan := &cobra.Command{
		Use:   "plan",
		Short: "Show what acl apply would change in Consul's ACLs",
		Long: `Plan shows what 'strata acl apply' would change, one line per object, and
changes nothing.

Exit codes: 0, even with changes; with --detailed-exitcode, 0 when nothing
changes, 2 when something would; 1 an error (a conflict included); 64 a
wrong command line.`,
		Args: cobra.NoArgs,
		RunE: run(false),
	}
	plan.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 0 when nothing changes, 2 when something would, 1 on an error")
	apply := &cobra.Command{
		Use:   "apply",
		Short: "Create or restore the Consul ACL objects strata's roles need",
		Long: `Apply makes the changes 'strata acl plan' shows, and prints each as it is made.
It stops at the first that fails; running it again continues.

Exit codes: 0 done; 1 an error (a conflict included: nothing is changed
then); 64 a wrong command line.`,
		Args: cobra.NoArgs,
		RunE: run(true),
	}
	for _, sub := range []*cobra.Command{plan, apply} {
		sub.Flags().StringVar(&only, "only", "", "consul or nomad: plan or apply one side only (default both)")
		sub.Flags().StringVar(&authMethod, "auth-method", acl.DefaultAuthMethod, "Consul's JWT auth method for Nomad's workload identities")
		sub.Flags().StringVar(&modelFlag, "consul-token-model", string(acl.WorkloadIdentity), "how Nomad gives tasks Consul tokens: workload-identity or agent-token (submitter-token was removed in Nomad 1.10.0)")
		sub.Flags().StringVar(&agentToken, "agent-token-accessor", "", "with agent-token: the accessor ID of the Nomad clients' Consul token, to check that it holds role strata-haproxy")
		cmd.AddCommand(sub)
	}
	cmd.AddCommand(c.aclTokenCmd())
	return cmd
}

func (c *CLI) aclTokenCmd() *cobra.Command {
	var holder, only string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "token <deployer|operator> --for NAME",
		Short: "Create Consul and Nomad tokens for a person or CI holding one role",
		Long: `Token creates a Consul token and a Nomad token that hold only the role's
policy, strata-deployer or strata-operator, which 'strata acl apply' creates
first. The secrets are printed once, on standard output, and stored nowhere:
hand them over and keep them out of files in the repository. --ttl limits
their life; --only consul or --only nomad creates one.

The sweeper and HAProxy get no tokens: their tasks use workload identities.

Exit codes: 0 done; 1 an error (a policy missing or not strata's: no token is
created then); 64 a wrong command line.`,
		Example: `  strata acl token deployer --for ci --ttl 720h
  strata acl token operator --for alice`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if only != "" && only != "consul" && only != "nomad" {
				return usageError{fmt.Errorf("--only %q: expected consul or nomad", only)}
			}
			if holder == "" {
				return usageError{fmt.Errorf("--for is required: name who holds the tokens (it goes into their description)")}
			}
			if !slices.Contains(acl.PersonRoles, args[0]) {
				return usageError{fmt.Errorf("role %q: expected %s (tasks use workload identities)", args[0], strings.Join(acl.PersonRoles, " or "))}
			}
			cfg, err := c.load(cmd)
			if err != nil {
				return err
			}
			var consul *consulapi.ACL
			var nomad *nomadapi.Client
			if only == "" || only == "consul" {
				client, err := c.consulClient()
				if err != nil {
					return err
				}
				consul = client.ACL()
			}
			if only == "" || only == "nomad" {
				target, err := c.nomadClient(cfg)
				if err != nil {
					return err
				}
				nomad = target.Client
			}
			tokens, err := acl.CreateTokens(cmd.Context(), consul, nomad, args[0], holder, ttl)
			for _, t := range tokens {
				fmt.Fprintf(c.Stdout, "%s token for %s (%s): accessor %s\n  secret %s\n", t.Service, holder, args[0], t.AccessorID, t.SecretID)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&holder, "for", "", "who holds the tokens (goes into their description)")
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "the tokens' life (default: until revoked)")
	cmd.Flags().StringVar(&only, "only", "", "consul or nomad: create one token only (default both)")
	return cmd
}
