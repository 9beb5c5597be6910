package generator

import (
	"time"

	"github.com/hashicorp/nomad/api"
)

// Workload identities of strata's own tasks. No token is ever written into
// a job: Nomad signs each task's identities, the sweeper calls Nomad's Task
// API with its default identity, and Nomad exchanges a task's Consul
// identity for a Consul token through Consul's JWT auth method (strata acl
// apply sets up the roles and binding rules that decide what it may do).
const (
	// ConsulIdentityName is the identity Nomad 1.7+ logs in to the default
	// Consul cluster with on a task's behalf: the resulting token is what
	// the task's templates read Consul with, and Nomad writes it to
	// ${NOMAD_SECRETS_DIR}/consul_token.
	ConsulIdentityName = "consul_default"
	// ConsulAudience is the audience of the Consul identity, the one
	// `nomad setup consul` binds Consul's auth method to.
	ConsulAudience = "consul.io"
	// ConsulIdentityTTL bounds the life of a signed Consul identity (Nomad
	// renews it); Nomad warns about identities that never expire.
	ConsulIdentityTTL = time.Hour

	// TaskAPIAddr is Nomad's Task API, the unix socket in every task's
	// secrets directory that answers with the caller's identity token.
	TaskAPIAddr = "unix://${NOMAD_SECRETS_DIR}/api.sock"
	// ConsulTokenFile is where Nomad writes the Consul token a task's
	// Consul identity was exchanged for.
	ConsulTokenFile = "${NOMAD_SECRETS_DIR}/consul_token"
)

// consulIdentity is the identity a task that reads Consul carries, so that
// it reads with a token of its own and not the Nomad client's.
func consulIdentity() *api.WorkloadIdentity {
	return &api.WorkloadIdentity{Name: ConsulIdentityName, Audience: []string{ConsulAudience}, TTL: ConsulIdentityTTL}
}

// nomadIdentity exposes a task's default identity to it as NOMAD_TOKEN.
// It goes in the task's Identities, unnamed, as Nomad's parse of an
// identity block puts it.
// The default identity does not expire, so change_mode "restart" never
// fires; it is set because Nomad warns that an identity in the environment
// without it may go stale.
func nomadIdentity() *api.WorkloadIdentity {
	return &api.WorkloadIdentity{Env: true, ChangeMode: "restart"}
}
