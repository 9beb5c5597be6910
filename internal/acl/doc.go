// Package acl sets up what a cluster with ACLs needs for strata's roles:
// in Consul, the policies strata renders to policies/, and the roles and
// binding rules of the JWT auth method through which the strata-sweeper
// and strata-haproxy tasks, logging in with their Nomad workload
// identities, get exactly those policies.
//
// Plan compares what the cluster holds with what it should and returns
// the changes; Apply makes them. Objects strata creates carry Marker at
// the start of their description, and strata never changes or removes an
// object without it: a policy or role of strata's name that someone else
// made is a conflict to resolve by hand, not something to take over. A
// marked object that was edited by hand is reported and restored, and a
// marked object strata no longer needs is removed.
//
// That is the workload-identity model, Nomad's since 1.7. In the older
// agent-token model ([AgentToken]), templates read Consul with the Nomad
// clients' own token: strata makes the policies and a role for the
// operator to link to that token, binds nothing, and says what it cannot
// do itself ([AgentTokenNotes]). The job submitter's token model, which
// Nomad 1.10.0 removed, is refused ([ParseTokenModel]).
package acl
