package generator

import (
	"github.com/hashicorp/nomad/api"
)

// Workload identities of strata's own tasks. No token is ever written into
// a job: Nomad signs each task's identities, and the sweeper calls Nomad's
// Task API with its default identity. strata's jobs carry no Consul
// identity of their own: a task with an explicit consul_default identity is
// logged in to Consul before it starts and fails when the login does, so
// such jobs would not run on a cluster without Consul ACLs. Nomad's servers
// give every task the implicit Consul identity below when the cluster's
// agents configure consul { task_identity { ... } } (Nomad 1.7+); Nomad's
// client then exchanges it for a Consul token through Consul's JWT auth
// method (strata acl apply sets up the roles and binding rules that decide
// what it may do), the templates read Consul with that token, and the task
// gets it as CONSUL_TOKEN and CONSUL_HTTP_TOKEN and in
// ${NOMAD_SECRETS_DIR}/consul_token.
const (
	// ConsulIdentityName is the name of the Consul identity Nomad's servers
	// add to a task when consul.task_identity is configured.
	ConsulIdentityName = "consul_default"
	// ConsulAudience is the audience strata's documented
	// consul.task_identity configuration gives that identity, the one
	// `nomad setup consul` binds Consul's auth method to.
	ConsulAudience = "consul.io"

	// TaskAPIAddr is Nomad's Task API, the unix socket in every task's
	// secrets directory that answers with the caller's identity token.
	// Nomad's Task API requires authentication even when ACLs are
	// disabled, and accepts the task's workload identity.
	TaskAPIAddr = "unix://${NOMAD_SECRETS_DIR}/api.sock"
)

// nomadIdentity exposes a task's default identity to it as NOMAD_TOKEN.
// It goes in the task's Identities, unnamed, as Nomad's parse of an
// identity block puts it.
// The default identity does not expire, so change_mode "restart" never
// fires; it is set because Nomad warns that an identity in the environment
// without it may go stale.
func nomadIdentity() *api.WorkloadIdentity {
	return &api.WorkloadIdentity{Env: true, ChangeMode: "restart"}
}

// consulBlock is the task-level consul block strata's own tasks carry.
// Nomad's servers add the implicit Consul identity (consul.task_identity)
// only to a task, or the tasks of a group, with a consul block
// (jobImplicitIdentitiesHook.handleConsulTask); without one the task gets
// no Consul token on a cluster with Consul ACLs. Empty, it names Consul's
// default cluster, namespace and partition, and changes nothing on a
// cluster that does not configure consul.task_identity.
func consulBlock() *api.Consul {
	return &api.Consul{}
}
