// Package nomadrules is the one place strata keeps the rules Nomad applies
// when it validates a job (PUT /v1/validate/job, and the same admission
// checks on register and plan), with Nomad's own error and warning text.
//
// The rules are those the recorded exchanges with a real Nomad 2.0.6 agent
// show (validate/ in internal/nomadrec, copied from ../shared/nomad-recordings): a
// missing or unknown constraint operand, the minimum memory, memory_max
// below memory, min_healthy_time against healthy_deadline, healthy_deadline
// against progress_deadline, a task's kill_timeout against its group's
// progress_deadline; and the warnings about memory_max without memory
// oversubscription and about services without a shutdown_delay. The test
// runs every recorded validation through Validate and expects Nomad's
// verdict, text included.
//
// Use it like Nomad's validate endpoint:
//
//	res := nomadrules.Validate(job)       // the job's own rules
//	if err := res.Err(); err != nil { … } // err.Error() is Nomad's "Error" text
//	for _, w := range res.Warnings { … }
//
// A fake Nomad answers its validate endpoint with Cluster.Validate(job).Response(),
// where the Cluster names the namespaces and node pools that exist, and
// refuses a register or plan with res.Err().
//
// The job is not changed: Validate checks a canonicalized copy, as Nomad
// does (api.Job.Canonicalize fills the defaults a submitted job leaves out,
// such as the 10m progress deadline of a service job).
package nomadrules
