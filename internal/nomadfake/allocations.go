package nomadfake

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/hashicorp/nomad/api"
)

// maxTaskEvents is how many events Nomad keeps per task: older ones are
// dropped (the recorded crash loop of web-v8 starts at "Started", its
// "Received" and "Task Setup" gone).
const maxTaskEvents = 10

// The client descriptions Nomad gives an allocation's client status.
const (
	descRunning  = "Tasks are running"
	descFailed   = "Failed tasks"
	descComplete = "All tasks have completed"
	descPending  = "No tasks have started"
)

// fakeNodeID and fakeNodeName are the one client node every allocation runs on.
const (
	fakeNodeID   = "00000001-0000-4000-8000-000000000001"
	fakeNodeName = "nomadfake"
)

// CrashLoopEvents returns the task events Nomad records for a task whose
// command exits with exitCode each time it starts, under a restart policy
// in mode "fail" with the given attempts, delay and interval (Nomad's
// service default is 2 attempts, 15s delay, 30m interval). The events are
// those recorded from Nomad 2.0.6 for `strata deploy web v9 --command
// /usr/bin/false`: "Received", "Task Setup", then for each start "Started"
// and "Terminated" (DisplayMessage "Exit Code: 1"), "Restarting" ("Task
// restarting in 15s") between starts, and finally "Not Restarting"
// ("Exceeded allowed attempts 2 in interval 30m0s and mode is \"fail\"",
// FailsTask set). Times start at start and advance by delay at each
// restart. Pass the result to [Server.FailDeployment] or
// [Server.SetTaskEvents]; the fake keeps the last 10, as Nomad does.
func CrashLoopEvents(start time.Time, exitCode, attempts int, delay, interval time.Duration) []*api.TaskEvent {
	at := start
	ev := func(typ, display string, details map[string]string) *api.TaskEvent {
		at = at.Add(time.Millisecond)
		return &api.TaskEvent{Type: typ, Time: at.UnixNano(), DisplayMessage: display, Details: details}
	}
	events := []*api.TaskEvent{
		ev(api.TaskReceived, "Task received by client", map[string]string{}),
		ev(api.TaskSetup, "Building Task Directory", map[string]string{"message": "Building Task Directory"}),
	}
	events[1].Message = "Building Task Directory"
	for i := 0; i <= attempts; i++ {
		events = append(events, ev(api.TaskStarted, "Task started by client", map[string]string{}))
		term := ev(api.TaskTerminated, fmt.Sprintf("Exit Code: %d", exitCode), map[string]string{
			"exit_code": fmt.Sprint(exitCode), "signal": "0", "oom_killed": "false",
		})
		term.ExitCode = exitCode
		events = append(events, term)
		if i == attempts {
			break
		}
		restart := ev(api.TaskRestarting, fmt.Sprintf("Task restarting in %s", delay), map[string]string{
			"start_delay": fmt.Sprint(delay.Nanoseconds()), "restart_reason": "Restart within policy",
		})
		restart.RestartReason, restart.StartDelay = "Restart within policy", delay.Nanoseconds()
		events = append(events, restart)
		at = at.Add(delay)
	}
	reason := fmt.Sprintf("Exceeded allowed attempts %d in interval %s and mode is \"fail\"", attempts, interval)
	notRestarting := ev(api.TaskNotRestarting, reason, map[string]string{"restart_reason": reason, "fails_task": "true"})
	notRestarting.RestartReason, notRestarting.FailsTask = reason, true
	return append(events, notRestarting)
}

// FailDeployment fails the latest deployment of the job jobID (in whichever
// namespace holds the most recent one) the way Nomad's deployment watcher
// fails one whose allocations keep crashing, as the recordings of `strata
// deploy web v9 --command /usr/bin/false` show it:
//
//   - the deployment's Status becomes "failed" and its StatusDescription
//     description (Nomad says "Failed due to progress deadline" when the
//     progress deadline passed, "Failed due to unhealthy allocations" when
//     an allocation turned unhealthy and auto-revert is off);
//   - every task group has at least its desired total placed, none healthy
//     and all of them unhealthy; raise PlacedAllocs first with
//     [Server.SetDeploymentHealth] to model reschedules (Nomad placed 10
//     allocations for 2 desired in the recording);
//   - each unhealthy allocation has ClientStatus "failed", ClientDescription
//     "Failed tasks", DeploymentStatus.Healthy false, and each of its tasks a
//     TaskState "dead", Failed, with events (the last 10 kept) and Restarts
//     counted from its "Restarting" events. nil events means
//     CrashLoopEvents(the deployment's create time, 1, 2, 15s, 30m), the
//     recorded /usr/bin/false crash loop.
//
// Allocations replaced by a reschedule are listed too, desired "stop", with
// NextAllocation naming their replacement, whose RescheduleTracker lists
// the allocations it replaced. An unknown job or one without a deployment
// fails the test.
func (s *Server) FailDeployment(jobID, description string, events []*api.TaskEvent) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	dep := s.latestDeploymentForJobLocked(jobID)
	if dep == nil {
		s.t.Errorf("nomadfake: FailDeployment: job %q has no deployment", jobID)
		return
	}
	if events == nil {
		events = CrashLoopEvents(time.Unix(0, dep.d.CreateTime), 1, 2, 15*time.Second, 30*time.Minute)
	}
	d := copyDeployment(dep.d)
	for _, st := range d.TaskGroups {
		st.PlacedAllocs = max(st.PlacedAllocs, st.DesiredTotal)
		st.HealthyAllocs, st.UnhealthyAllocs = 0, st.PlacedAllocs
	}
	d.Status, d.StatusDescription = api.DeploymentStatusFailed, description
	d.ModifyIndex = s.bumpLocked()
	d.ModifyTime = s.now().UnixNano()
	dep.d = d
	dep.failedEvents = copyEvents(events)
}

// SetTaskEvents sets the task events of the unhealthy allocations of the
// latest deployment of the job jobID (in whichever namespace holds the most
// recent one), as [Server.FailDeployment] does, without changing the
// deployment: use it with [Server.SetDeploymentHealth] for a deployment
// still running whose allocations fail, such as one that will time out.
// Allocations not yet healthy nor unhealthy stay running without these
// events. A job without a deployment fails the test.
func (s *Server) SetTaskEvents(jobID string, events []*api.TaskEvent) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	dep := s.latestDeploymentForJobLocked(jobID)
	if dep == nil {
		s.t.Errorf("nomadfake: SetTaskEvents: job %q has no deployment", jobID)
		return
	}
	dep.failedEvents = copyEvents(events)
	s.bumpLocked()
}

func copyEvents(events []*api.TaskEvent) []*api.TaskEvent {
	out := make([]*api.TaskEvent, 0, len(events))
	for _, e := range events {
		if e == nil {
			continue
		}
		c := *e
		if e.Details != nil {
			c.Details = make(map[string]string, len(e.Details))
			for k, v := range e.Details {
				c.Details[k] = v
			}
		}
		out = append(out, &c)
	}
	if len(out) > maxTaskEvents {
		out = out[len(out)-maxTaskEvents:]
	}
	return out
}

// latestDeploymentForJobLocked is the most recent deployment of jobID in
// any namespace.
func (s *Server) latestDeploymentForJobLocked(jobID string) *deployment {
	var latest *deployment
	for _, dep := range s.deployments {
		if dep.d.JobID == jobID && (latest == nil || dep.d.CreateIndex > latest.d.CreateIndex) {
			latest = dep
		}
	}
	return latest
}

// allocationsLocked derives a job's allocations from its latest deployment.
// In each task group, of the placed allocations the first are unhealthy,
// then come the healthy ones, then those whose health is not yet known.
// With more placed than desired, allocation i was replaced by allocation
// i+desired (a reschedule), as Nomad lists them: the replaced one desired
// "stop" with NextAllocation set, the replacement with a RescheduleTracker.
func (s *Server) allocationsLocked(namespace, jobID string) []*api.Allocation {
	allocs := []*api.Allocation{}
	js, ok := s.jobs[jobKey{namespace, jobID}]
	if ok && *js.latest().Type == api.JobTypeSystem {
		for _, a := range s.system[jobKey{namespace, jobID}] {
			if *js.latest().Stop && a.DesiredStatus == api.AllocDesiredStatusRun {
				// A stopped job's allocations stop.
				c := *a
				c.DesiredStatus = api.AllocDesiredStatusStop
				if c.ClientStatus == api.AllocClientStatusRunning {
					c.ClientStatus, c.ClientDescription = api.AllocClientStatusComplete, descComplete
				}
				a = &c
			}
			allocs = append(allocs, a)
		}
		return allocs
	}
	dep := s.latestDeploymentLocked(namespace, jobID)
	if !ok || dep == nil {
		return allocs
	}
	latest := js.latest()
	job := latest
	for _, v := range js.versions {
		if *v.Version == dep.d.JobVersion {
			job = v
		}
	}
	for gi, name := range dep.groups {
		st := dep.d.TaskGroups[name]
		tg := findGroup(job, name)
		desired := max(st.DesiredTotal, 1)
		for i := range st.PlacedAllocs {
			a := &api.Allocation{
				ID: allocID(dep.seq, gi, i), Namespace: namespace, EvalID: dep.evalID,
				Name: fmt.Sprintf("%s.%s[%d]", jobID, name, i%desired), NodeID: fakeNodeID, NodeName: fakeNodeName,
				JobID: jobID, Job: job, TaskGroup: name, DeploymentID: dep.d.ID,
				DesiredStatus: api.AllocDesiredStatusRun, ClientStatus: api.AllocClientStatusRunning,
				ClientDescription: descRunning, TaskStates: map[string]*api.TaskState{},
				CreateIndex: dep.d.CreateIndex, ModifyIndex: dep.d.ModifyIndex, AllocModifyIndex: dep.d.CreateIndex,
				CreateTime: dep.d.CreateTime, ModifyTime: dep.d.ModifyTime,
			}
			started := time.Unix(0, dep.d.CreateTime).UTC()
			switch {
			case i < st.UnhealthyAllocs:
				a.ClientStatus, a.ClientDescription = api.AllocClientStatusFailed, descFailed
				a.DeploymentStatus = &api.AllocDeploymentStatus{Healthy: new(false), ModifyIndex: dep.d.ModifyIndex}
			case i < st.UnhealthyAllocs+st.HealthyAllocs:
				a.DeploymentStatus = &api.AllocDeploymentStatus{Healthy: new(true), ModifyIndex: dep.d.ModifyIndex,
					Timestamp: time.Unix(0, dep.d.ModifyTime).UTC()}
			}
			if i+desired < st.PlacedAllocs {
				a.DesiredStatus = api.AllocDesiredStatusStop
				a.NextAllocation = allocID(dep.seq, gi, i+desired)
			}
			if i >= desired {
				a.RescheduleTracker = &api.RescheduleTracker{LastReschedule: "ok"}
				for prev := i % desired; prev < i; prev += desired {
					a.RescheduleTracker.Events = append(a.RescheduleTracker.Events, &api.RescheduleEvent{
						RescheduleTime: dep.d.ModifyTime, PrevAllocID: allocID(dep.seq, gi, prev), PrevNodeID: fakeNodeID,
					})
				}
			}
			if *latest.Stop {
				a.DesiredStatus = api.AllocDesiredStatusStop
				if a.ClientStatus == api.AllocClientStatusRunning {
					a.ClientStatus, a.ClientDescription = api.AllocClientStatusComplete, descComplete
				}
			}
			if tg != nil {
				for _, t := range tg.Tasks {
					a.TaskStates[t.Name] = taskState(a.ClientStatus, started, dep.failedEvents)
				}
			}
			allocs = append(allocs, a)
		}
	}
	return allocs
}

// SetSystemAllocations sets the allocations of the system job jobID in
// namespace: one of its first task group on each node of nodes (node name
// to client status: running, pending, unknown when the node disconnected,
// lost when it is down, complete, failed), named and numbered as Nomad
// names a system job's allocations (<job>.<group>[0] on every node), with
// the node's name as NodeName and a node ID derived from it. Nomad places a
// system job on every eligible node without a deployment; the fake does
// not place it, a test says where it runs. An unknown job, or one that is
// not a system job, fails the test.
func (s *Server) SetSystemAllocations(namespace, jobID string, nodes map[string]string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	key := jobKey{namespace, jobID}
	js, ok := s.jobs[key]
	if !ok || *js.latest().Type != api.JobTypeSystem || len(js.latest().TaskGroups) == 0 {
		s.t.Errorf("nomadfake: SetSystemAllocations: %q in %q is not a system job with a task group", jobID, namespace)
		return
	}
	job := js.latest()
	group := *job.TaskGroups[0].Name
	names := slices.Sorted(maps.Keys(nodes))
	index := s.bumpLocked()
	var allocs []*api.Allocation
	for i, node := range names {
		status := nodes[node]
		desired := api.AllocDesiredStatusRun
		desc := map[string]string{api.AllocClientStatusRunning: descRunning, api.AllocClientStatusPending: descPending,
			api.AllocClientStatusComplete: descComplete, api.AllocClientStatusFailed: descFailed}[status]
		if status == api.AllocClientStatusLost || status == api.AllocClientStatusComplete {
			desired = api.AllocDesiredStatusStop
		}
		now := s.now()
		a := &api.Allocation{
			ID: fmt.Sprintf("%08x-0000-4000-8000-%012x", 0x5a5a0000+i, index), Namespace: namespace, EvalID: fmt.Sprintf("5a5ae7a1-0000-4000-8000-%012x", index),
			Name: fmt.Sprintf("%s.%s[0]", jobID, group), NodeID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i+2, i+2), NodeName: node,
			JobID: jobID, Job: job, TaskGroup: group, DesiredStatus: desired, ClientStatus: status, ClientDescription: desc,
			TaskStates: map[string]*api.TaskState{}, CreateIndex: index, ModifyIndex: index, AllocModifyIndex: index,
			CreateTime: now.UnixNano(), ModifyTime: now.UnixNano(),
		}
		for _, t := range job.TaskGroups[0].Tasks {
			a.TaskStates[t.Name] = taskState(status, now, nil)
		}
		allocs = append(allocs, a)
	}
	s.system[key] = allocs
}

// taskState is the state of one task of an allocation with clientStatus.
func taskState(clientStatus string, started time.Time, failedEvents []*api.TaskEvent) *api.TaskState {
	if clientStatus == api.AllocClientStatusFailed && len(failedEvents) > 0 {
		ts := &api.TaskState{State: "dead", Failed: true, Events: copyEvents(failedEvents)}
		for _, e := range ts.Events {
			at := time.Unix(0, e.Time).UTC()
			switch e.Type {
			case api.TaskStarted:
				ts.StartedAt = at
			case api.TaskRestarting:
				ts.Restarts++
				ts.LastRestart = at
			}
			ts.FinishedAt = at
		}
		return ts
	}
	at := func(d time.Duration) int64 { return started.Add(d).UnixNano() }
	ts := &api.TaskState{State: "running", StartedAt: started.Add(2 * time.Millisecond), Events: []*api.TaskEvent{
		{Type: api.TaskReceived, Time: at(0), DisplayMessage: "Task received by client", Details: map[string]string{}},
		{Type: api.TaskSetup, Time: at(time.Millisecond), DisplayMessage: "Building Task Directory",
			Message: "Building Task Directory", Details: map[string]string{"message": "Building Task Directory"}},
		{Type: api.TaskStarted, Time: at(2 * time.Millisecond), DisplayMessage: "Task started by client", Details: map[string]string{}},
	}}
	switch clientStatus {
	case api.AllocClientStatusComplete:
		ts.State, ts.FinishedAt = "dead", started.Add(3*time.Millisecond)
	case api.AllocClientStatusFailed:
		ts.State, ts.Failed, ts.FinishedAt = "dead", true, started.Add(3*time.Millisecond)
	}
	return ts
}

// stub is an allocation's list stub, as Nomad's Allocation.Stub makes it.
func stub(a *api.Allocation) *api.AllocationListStub {
	return &api.AllocationListStub{
		ID: a.ID, EvalID: a.EvalID, Name: a.Name, Namespace: a.Namespace, NodeID: a.NodeID, NodeName: a.NodeName,
		JobID: a.JobID, JobType: *a.Job.Type, JobVersion: *a.Job.Version, TaskGroup: a.TaskGroup,
		DesiredStatus: a.DesiredStatus, DesiredDescription: a.DesiredDescription,
		ClientStatus: a.ClientStatus, ClientDescription: a.ClientDescription, TaskStates: a.TaskStates,
		DeploymentStatus: a.DeploymentStatus, FollowupEvalID: a.FollowupEvalID, NextAllocation: a.NextAllocation,
		RescheduleTracker: a.RescheduleTracker, PreemptedAllocations: a.PreemptedAllocations,
		PreemptedByAllocation: a.PreemptedByAllocation, CreateIndex: a.CreateIndex, ModifyIndex: a.ModifyIndex,
		CreateTime: a.CreateTime, ModifyTime: a.ModifyTime,
	}
}

func (s *Server) jobAllocations(rq *request) (any, uint64, error) {
	if _, err := boolParam(rq.q, "all"); err != nil {
		return nil, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	stubs := []*api.AllocationListStub{}
	for _, a := range s.allocationsLocked(rq.namespace, rq.id) {
		stubs = append(stubs, stub(a))
	}
	return stubs, s.readIndexLocked(), nil
}

func (s *Server) allocationInfo(rq *request) (any, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, dep := range s.deployments {
		if _, ok := s.jobs[jobKey{dep.d.Namespace, dep.d.JobID}]; !ok {
			continue
		}
		if latest := s.latestDeploymentLocked(dep.d.Namespace, dep.d.JobID); latest != dep {
			continue
		}
		allocs := s.allocationsLocked(dep.d.Namespace, dep.d.JobID)
		if i := slices.IndexFunc(allocs, func(a *api.Allocation) bool { return a.ID == rq.id }); i >= 0 {
			return allocs[i], s.readIndexLocked(), nil
		}
	}
	return nil, 0, errorf(http.StatusNotFound, "alloc not found")
}
