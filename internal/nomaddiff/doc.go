// Package nomaddiff is strata's one job differ: it answers, without a
// cluster, what Nomad's plan endpoint answers for a job against the version
// Nomad holds. [Diff] builds Nomad's job diff (nomad/structs/diff.go, as
// Nomad 2.0.6 answers it): the same diff types, field names, flattened
// fields (Meta[key], Env[key], Config's args[0]), object names, lists
// compared as sets where Nomad compares them so (datacenters, constraints,
// tags, networks, templates by destination, services and checks by name),
// contextual fields, and order. [DesiredUpdates] is the scheduler's plan per
// task group (create, destroy, in-place, create/destroy update capped at
// the group's max_parallel, ignore, canary), and [Annotate] adds the
// annotations Nomad's plan gives the diff; [Plan] does all three.
//
// internal/nomadfake answers its plan and versions endpoints with this
// package, and its tests replay every plan recorded against Nomad 2.0.6
// (../shared/nomad-recordings/plan) and require the same answer;
// internal/jobdiff (`strata diff`) classifies edits with it, so an offline
// diff says what Nomad would do.
//
// The differ reads nomad/api's types, not Nomad's server structs. Where
// Nomad's server adds to a job what the API client's canonicalization does
// not (a task's default workload identity, the Consul version constraint
// of a group with Consul services, a service's Consul cluster, a check's
// default name, a port's default host network, a consul block's cluster),
// [Diff] adds the same on copies before comparing. What depends on the
// servers' agent configuration is [Server]'s: with consul.task_identity
// set, a task with a consul block gets the implicit consul_default
// identity, so adding or removing the block replaces allocations there and
// is applied in place elsewhere. No recording has a task consul block or
// that setting; this part follows Nomad's source (scheduler/util.go
// tasksUpdated and consulUpdated, nomad/job_endpoint_hook_implicit_identities.go,
// nomad/job_endpoint_hook_consul.go, scheduler/annotate.go). It models what strata's jobs use; blocks strata
// never renders (affinities, spreads, volumes, scaling, vault, CSI,
// multiregion) are compared for the update decision but not itemized.
package nomaddiff
