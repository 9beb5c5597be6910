package nomadfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/nomaddiff"
	"github.com/strata-dev/strata/internal/nomadrules"
)

// queryMeta is the QueryMeta Nomad embeds in some responses.
type queryMeta struct {
	Index       uint64
	LastContact time.Duration
	KnownLeader bool
	NextToken   string
}

// registerResponse is Nomad's structs.JobRegisterResponse on the wire.
type registerResponse struct {
	EvalID          string
	EvalCreateIndex uint64
	JobModifyIndex  uint64
	Warnings        string
	queryMeta
}

// deregisterResponse is Nomad's structs.JobDeregisterResponse on the wire.
type deregisterResponse struct {
	EvalID          string
	EvalCreateIndex uint64
	JobModifyIndex  uint64
	VolumeEvalID    string
	VolumeEvalIndex uint64
	queryMeta
}

// versionsResponse is Nomad's structs.JobVersionsResponse on the wire.
type versionsResponse struct {
	Versions []*api.Job
	Diffs    []*api.JobDiff
	queryMeta
}

// planResponse is Nomad's structs.JobPlanResponse on the wire.
type planResponse struct {
	Annotations        *api.PlanAnnotations
	FailedTGAllocs     map[string]*api.AllocationMetric
	JobModifyIndex     uint64
	CreatedEvals       []*api.Evaluation
	Diff               *api.JobDiff
	NextPeriodicLaunch *time.Time // null when there is none, as Nomad answers
	Warnings           string
	Index              uint64
}

func (s *Server) jobList(rq *request) (any, uint64, error) {
	withMeta, err := boolParam(rq.q, "meta")
	if err != nil {
		return nil, 0, err
	}
	f, err := parseFilter(rq.q.Get("filter"))
	if err != nil {
		return nil, 0, errorf(http.StatusBadRequest, "failed to read filter expression: %v", err)
	}
	// strata lists every managed job at once: paging, a prefix and the
	// order are not modelled, and refused rather than guessed.
	for _, p := range []string{"per_page", "next_token", "prefix", "reverse"} {
		if rq.q.Get(p) != "" {
			return nil, 0, errorf(http.StatusNotImplemented, "nomadfake: %s is not implemented for the job list", p)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []jobKey
	for k := range s.jobs {
		if rq.namespace == api.AllNamespacesNamespace || k.namespace == rq.namespace {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].namespace != keys[j].namespace {
			return keys[i].namespace < keys[j].namespace
		}
		return keys[i].id < keys[j].id
	})
	stubs := []*api.JobListStub{}
	for _, k := range keys {
		js := s.jobs[k]
		if f.matches(js.latest()) {
			stubs = append(stubs, s.stubLocked(js, withMeta))
		}
	}
	return stubs, s.readIndexLocked(), nil
}

// stubLocked builds a job's list stub, with a summary consistent with its
// allocations.
func (s *Server) stubLocked(js *jobState, withMeta bool) *api.JobListStub {
	j := js.latest()
	summary := &api.JobSummary{
		JobID: *j.ID, Namespace: *j.Namespace, Summary: map[string]api.TaskGroupSummary{},
		Children: &api.JobChildrenSummary{}, CreateIndex: *j.CreateIndex, ModifyIndex: *j.ModifyIndex,
	}
	for _, tg := range j.TaskGroups {
		summary.Summary[*tg.Name] = api.TaskGroupSummary{}
	}
	for _, a := range s.allocationsLocked(*j.Namespace, *j.ID) {
		g := summary.Summary[a.TaskGroup]
		switch a.ClientStatus {
		case api.AllocClientStatusRunning:
			g.Running++
		case api.AllocClientStatusFailed:
			g.Failed++
		case api.AllocClientStatusComplete:
			g.Complete++
		}
		summary.Summary[a.TaskGroup] = g
	}
	stub := &api.JobListStub{
		ID: *j.ID, ParentID: *j.ParentID, Name: *j.Name, Namespace: *j.Namespace,
		Datacenters: j.Datacenters, Type: *j.Type, Priority: *j.Priority,
		Periodic: j.IsPeriodic(), ParameterizedJob: j.IsParameterized(),
		Stop: *j.Stop, Status: *j.Status, StatusDescription: *j.StatusDescription,
		JobSummary: summary, CreateIndex: *j.CreateIndex, ModifyIndex: *j.ModifyIndex,
		JobModifyIndex: *j.JobModifyIndex, SubmitTime: *j.SubmitTime,
	}
	if withMeta {
		stub.Meta = j.Meta
	}
	return stub
}

func (s *Server) jobInfo(rq *request) (any, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	js, ok := s.jobs[jobKey{rq.namespace, rq.id}]
	if !ok {
		return nil, 0, errorf(http.StatusNotFound, "job not found")
	}
	return js.latest(), s.readIndexLocked(), nil
}

func (s *Server) jobVersions(rq *request) (any, uint64, error) {
	diffs, err := boolParam(rq.q, "diffs")
	if err != nil {
		return nil, 0, err
	}
	for _, p := range []string{"diff_tag", "diff_version"} {
		if rq.q.Get(p) != "" {
			return nil, 0, errorf(http.StatusNotImplemented, "nomadfake: %s is not implemented for job versions", p)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	js, ok := s.jobs[jobKey{rq.namespace, rq.id}]
	if !ok {
		return nil, 0, errorf(http.StatusNotFound, "job versions not found")
	}
	resp := &versionsResponse{queryMeta: queryMeta{Index: s.readIndexLocked(), KnownLeader: true}}
	for i := len(js.versions) - 1; i >= 0; i-- {
		resp.Versions = append(resp.Versions, js.versions[i])
	}
	if diffs {
		for i := 0; i+1 < len(resp.Versions); i++ {
			resp.Diffs = append(resp.Diffs, nomaddiff.Diff(resp.Versions[i+1], resp.Versions[i]))
		}
	}
	return resp, resp.Index, nil
}

func (s *Server) jobRegister(rq *request) (any, uint64, error) {
	var args api.JobRegisterRequest
	if err := decodeBody(rq.r.Body, &args); err != nil {
		return nil, 0, err
	}
	if args.Job == nil {
		return nil, 0, errorf(http.StatusBadRequest, "Job must be specified")
	}
	if args.Job.ID == nil {
		return nil, 0, errorf(http.StatusBadRequest, "Job ID hasn't been provided")
	}
	if rq.id != "" && *args.Job.ID != rq.id {
		return nil, 0, errorf(http.StatusBadRequest, "Job ID does not match name")
	}
	if args.EvalPriority != 0 && (args.EvalPriority < 1 || args.EvalPriority > 100) {
		return nil, 0, errorf(http.StatusBadRequest, "Eval priority must be between 1 and 100 inclusively")
	}
	ns := namespaceForJob(args.Job.Namespace, rq.q.Get("namespace"), args.Namespace)
	job, warnings, err := normalize(args.Job, ns, true, s.config)
	if err != nil {
		return nil, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	resp, err := s.registerLocked(job, registerOptions{
		enforceIndex: args.EnforceIndex, jobModifyIndex: args.JobModifyIndex,
		preserveCounts: args.PreserveCounts, evalPriority: args.EvalPriority,
	}, s.now())
	if err != nil {
		return nil, 0, err
	}
	resp.Warnings = warnings
	return resp, resp.Index, nil
}

// namespaceForJob chooses a submitted job's namespace as Nomad's HTTP agent
// does: the query parameter, then the request body, then the job.
func namespaceForJob(jobNamespace *string, query, body string) string {
	switch {
	case query != "":
		return query
	case body != "":
		return body
	case jobNamespace != nil && *jobNamespace != "":
		return *jobNamespace
	}
	return api.DefaultNamespace
}

type registerOptions struct {
	enforceIndex   bool
	jobModifyIndex uint64
	preserveCounts bool
	evalPriority   int
}

// registerLocked stores job, already normalized, as Nomad's Job.Register
// does: a new version only when the specification changed, an evaluation
// unless the job is periodic or parameterized, and a deployment for a new
// version of a service job.
func (s *Server) registerLocked(job *api.Job, opts registerOptions, submitTime time.Time) (*registerResponse, error) {
	key := jobKey{*job.Namespace, *job.ID}
	js := s.jobs[key]
	var prev *api.Job
	if js != nil {
		prev = js.latest()
	}
	if opts.enforceIndex {
		switch {
		case prev == nil && opts.jobModifyIndex != 0:
			return nil, fmt.Errorf("%s %d: job does not exist", api.RegisterEnforceIndexErrPrefix, opts.jobModifyIndex)
		case prev != nil && opts.jobModifyIndex == 0:
			return nil, fmt.Errorf("%s 0: job already exists", api.RegisterEnforceIndexErrPrefix)
		case prev != nil && opts.jobModifyIndex != *prev.JobModifyIndex:
			return nil, fmt.Errorf("%s %d: job exists with conflicting job modify index: %d",
				api.RegisterEnforceIndexErrPrefix, opts.jobModifyIndex, *prev.JobModifyIndex)
		}
	}
	if prev != nil && *prev.Type != *job.Type {
		return nil, fmt.Errorf("cannot update job from type %q to %q", *prev.Type, *job.Type)
	}
	if opts.preserveCounts && prev != nil {
		for _, tg := range job.TaskGroups {
			if old := findGroup(prev, *tg.Name); old != nil {
				tg.Count = new(*old.Count)
			}
		}
	}

	resp := &registerResponse{}
	changed := prev == nil || nomaddiff.SpecChanged(prev, job)
	if changed {
		idx := s.bumpLocked()
		job.Version, job.CreateIndex = new(uint64(0)), new(idx)
		if prev != nil {
			job.Version, job.CreateIndex = new(*prev.Version+1), new(*prev.CreateIndex)
		}
		job.ModifyIndex, job.JobModifyIndex = new(idx), new(idx)
		job.SubmitTime = new(submitTime.UnixNano())
		job.Stable = new(false)
		job.Status, job.StatusDescription = new(statusFor(job)), new("")
		if js == nil {
			js = &jobState{}
			s.jobs[key] = js
		}
		js.versions = append(js.versions, job)
		resp.JobModifyIndex = idx
		reason := "Cancelled due to newer version of job"
		if *job.Stop {
			reason = "Cancelled because job is stopped"
		}
		s.cancelDeploymentsLocked(key, reason)
	} else {
		resp.JobModifyIndex = *prev.JobModifyIndex
	}

	current := js.latest()
	if !current.IsPeriodic() && !current.IsParameterized() {
		eval := s.newEvalLocked(current, "job-register", opts.evalPriority)
		if changed {
			if dep := s.newDeploymentLocked(current, eval.ID); dep != nil {
				eval.DeploymentID = dep.d.ID
			}
		}
		resp.EvalID, resp.EvalCreateIndex = eval.ID, eval.CreateIndex
	}
	resp.Index = s.readIndexLocked()
	return resp, nil
}

func statusFor(job *api.Job) string {
	if *job.Stop {
		return "dead"
	}
	return "running"
}

func (s *Server) jobDeregister(rq *request) (any, uint64, error) {
	purge, err := boolParam(rq.q, "purge")
	if err != nil {
		return nil, 0, err
	}
	var priority int
	if raw := rq.q.Get("eval_priority"); raw != "" {
		if priority, err = strconv.Atoi(raw); err != nil {
			return nil, 0, fmt.Errorf("Failed to parse value of %q (%v) as an int: %v", "eval_priority", raw, err)
		}
		if priority != 0 && (priority < 1 || priority > 100) {
			return nil, 0, errorf(http.StatusBadRequest, "Eval priority must be between 1 and 100 inclusively")
		}
	}
	for _, p := range []string{"global", "no_shutdown_delay"} {
		if _, err := boolParam(rq.q, p); err != nil {
			return nil, 0, err
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	key := jobKey{rq.namespace, rq.id}
	js, ok := s.jobs[key]
	if !ok {
		// Nothing to do, and Nomad says so with an empty answer: no
		// evaluation, every index 0 (recorded: a purge of a job already
		// purged). A job that was never there is the same to Nomad.
		return &deregisterResponse{}, 0, nil
	}
	cur := js.latest()
	resp := &deregisterResponse{}
	s.cancelDeploymentsLocked(key, "Cancelled because job is stopped")
	idx := s.bumpLocked()
	resp.JobModifyIndex = idx
	if purge {
		delete(s.jobs, key)
		for id, dep := range s.deployments {
			if dep.d.Namespace == key.namespace && dep.d.JobID == key.id {
				delete(s.deployments, id)
			}
		}
	} else {
		stopped := copyJob(cur)
		stopped.Stop, stopped.Status, stopped.StatusDescription = new(true), new("dead"), new("")
		stopped.Version, stopped.Stable = new(*cur.Version+1), new(false)
		stopped.ModifyIndex, stopped.JobModifyIndex = new(idx), new(idx)
		stopped.SubmitTime = new(s.now().UnixNano())
		js.versions = append(js.versions, stopped)
	}
	if !cur.IsPeriodic() && !cur.IsParameterized() {
		eval := s.newEvalLocked(cur, "job-deregister", priority)
		eval.JobModifyIndex = idx
		resp.EvalID, resp.EvalCreateIndex = eval.ID, eval.CreateIndex
	}
	resp.Index = s.readIndexLocked()
	return resp, resp.Index, nil
}

func (s *Server) jobPlan(rq *request) (any, uint64, error) {
	var args api.JobPlanRequest
	if err := decodeBody(rq.r.Body, &args); err != nil {
		return nil, 0, err
	}
	if args.Job == nil {
		return nil, 0, errorf(http.StatusBadRequest, "Job must be specified")
	}
	if args.Job.ID == nil {
		return nil, 0, errorf(http.StatusBadRequest, "Job must have a valid ID")
	}
	if *args.Job.ID != rq.id {
		return nil, 0, errorf(http.StatusBadRequest, "Job ID does not match")
	}
	ns := namespaceForJob(args.Job.Namespace, rq.q.Get("namespace"), args.Namespace)
	job, warnings, err := normalize(args.Job, ns, true, s.config)
	if err != nil {
		return nil, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var prev *api.Job
	resp := &planResponse{Warnings: warnings}
	if js, ok := s.jobs[jobKey{ns, *job.ID}]; ok {
		prev = js.latest()
		if *prev.Type != *job.Type {
			return nil, 0, fmt.Errorf("cannot update job from type %q to %q", *prev.Type, *job.Type)
		}
		resp.JobModifyIndex = *prev.JobModifyIndex
	}
	// Nomad answers a plan with the job's modify index as its index, 0
	// for a job it does not hold (recorded).
	resp.Index = resp.JobModifyIndex
	diff, updates := nomaddiff.Plan(prev, job)
	resp.Annotations = &api.PlanAnnotations{DesiredTGUpdates: updates}
	if args.Diff {
		resp.Diff = diff
	}
	if job.IsPeriodic() && *job.Periodic.Enabled && !*job.Stop {
		if next, err := job.Periodic.Next(s.now()); err == nil {
			resp.NextPeriodicLaunch = &next
		}
	}
	return resp, resp.Index, nil
}

func (s *Server) jobLatestDeployment(rq *request) (any, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if dep := s.latestDeploymentLocked(rq.namespace, rq.id); dep != nil {
		return dep.d, s.readIndexLocked(), nil
	}
	// Nomad answers null, not 404, when a job has no deployment.
	return nil, s.readIndexLocked(), nil
}

func (s *Server) evaluationInfo(rq *request) (any, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.evals[rq.id]
	if !ok {
		return nil, 0, errorf(http.StatusNotFound, "eval not found")
	}
	return e, s.readIndexLocked(), nil
}

func (s *Server) latestDeploymentLocked(namespace, jobID string) *deployment {
	var latest *deployment
	for _, dep := range s.deployments {
		if dep.d.Namespace == namespace && dep.d.JobID == jobID && (latest == nil || dep.d.CreateIndex > latest.d.CreateIndex) {
			latest = dep
		}
	}
	return latest
}

// newEvalLocked records a complete evaluation of job.
func (s *Server) newEvalLocked(job *api.Job, trigger string, priority int) *api.Evaluation {
	if priority == 0 {
		priority = *job.Priority
	}
	s.evalSeq++
	idx := s.bumpLocked()
	now := s.now().UnixNano()
	e := &api.Evaluation{
		ID: evalID(s.evalSeq), Priority: priority, Type: *job.Type, TriggeredBy: trigger,
		Namespace: *job.Namespace, JobID: *job.ID, JobModifyIndex: *job.JobModifyIndex,
		Status: api.EvalStatusComplete, CreateIndex: idx, ModifyIndex: idx, CreateTime: now, ModifyTime: now,
	}
	s.evals[e.ID] = e
	return e
}

// newDeploymentLocked starts a deployment of job's current version when
// Nomad would: a running service job with a task group that has an update
// strategy. It returns nil otherwise.
func (s *Server) newDeploymentLocked(job *api.Job, evalID string) *deployment {
	if *job.Type != api.JobTypeService || *job.Stop {
		return nil
	}
	dep := &deployment{evalID: evalID}
	states := map[string]*api.DeploymentState{}
	canaries := false
	for _, tg := range job.TaskGroups {
		u := tg.Update
		if u == nil || u.MaxParallel == nil || *u.MaxParallel <= 0 {
			continue
		}
		// Nomad's scheduler places the allocations when it processes the
		// register's evaluation, at once on an idle cluster (recorded:
		// strata deploy web v3), and the progress deadline runs from then.
		st := &api.DeploymentState{DesiredTotal: *tg.Count, PlacedAllocs: *tg.Count}
		if u.AutoRevert != nil {
			st.AutoRevert = *u.AutoRevert
		}
		if u.ProgressDeadline != nil {
			st.ProgressDeadline = *u.ProgressDeadline
			st.RequireProgressBy = s.now().Add(*u.ProgressDeadline).UTC()
		}
		if u.Canary != nil {
			st.DesiredCanaries = *u.Canary
			canaries = canaries || *u.Canary > 0
		}
		states[*tg.Name] = st
		dep.groups = append(dep.groups, *tg.Name)
	}
	if len(states) == 0 {
		return nil
	}
	s.deploySeq++
	dep.seq = s.deploySeq
	idx := s.bumpLocked()
	now := s.now().UnixNano()
	desc := "Deployment is running"
	if canaries {
		desc = "Deployment is running but requires manual promotion"
	}
	dep.d = &api.Deployment{
		ID: deploymentID(dep.seq), Namespace: *job.Namespace, JobID: *job.ID, JobVersion: *job.Version,
		JobModifyIndex: *job.ModifyIndex, JobSpecModifyIndex: *job.JobModifyIndex, JobCreateIndex: *job.CreateIndex,
		TaskGroups: states, Status: api.DeploymentStatusRunning, StatusDescription: desc,
		CreateIndex: idx, ModifyIndex: idx, CreateTime: now, ModifyTime: now,
	}
	s.deployments[dep.d.ID] = dep
	return dep
}

// cancelDeploymentsLocked cancels the job's deployments still in progress.
func (s *Server) cancelDeploymentsLocked(key jobKey, reason string) {
	for _, dep := range s.deployments {
		if dep.d.Namespace != key.namespace || dep.d.JobID != key.id {
			continue
		}
		switch dep.d.Status {
		case api.DeploymentStatusRunning, api.DeploymentStatusPaused, api.DeploymentStatusPending,
			api.DeploymentStatusBlocked, api.DeploymentStatusUnblocking:
			s.setDeploymentStatusLocked(dep, api.DeploymentStatusCancelled, reason)
		}
	}
}

func (s *Server) setDeploymentStatusLocked(dep *deployment, status, description string) {
	d := copyDeployment(dep.d)
	d.Status, d.StatusDescription = status, description
	d.ModifyIndex = s.bumpLocked()
	d.ModifyTime = s.now().UnixNano()
	dep.d = d
}

// normalize copies a submitted job and prepares it as Nomad's HTTP agent and
// Job.Register do: canonicalized, with the defaults of a server configured
// as config (nomaddiff.Server.Defaults), in namespace,
// and, when validate is set, validated by internal/nomadrules, strata's one
// owner of Nomad's job rules, with Nomad's error text (500) and warnings.
// A job the fake cannot store (no task group, a group or task without a
// name, or named twice) is refused with a message that says it comes from
// the fake: those are not rules the recordings show. A malformed request is
// 400.
func normalize(submitted *api.Job, namespace string, validate bool, config nomaddiff.Server) (*api.Job, string, error) {
	job := copyJob(submitted)
	for i, tg := range job.TaskGroups {
		if tg == nil {
			return nil, "", errorf(http.StatusBadRequest, "task group %d is null", i)
		}
		if slices.Contains(tg.Tasks, nil) {
			return nil, "", errorf(http.StatusBadRequest, "task group %d has a null task", i)
		}
	}
	job.Canonicalize()
	job.Namespace = new(namespace)
	if len(job.Datacenters) == 0 {
		job.Datacenters = []string{"*"}
	}
	if *job.NodePool == "" {
		job.NodePool = new("default")
	}
	job = config.Defaults(job)
	if !validate {
		return job, "", nil
	}
	if err := storable(job); err != nil {
		return nil, "", err
	}
	res := nomadrules.Validate(job)
	if err := res.Err(); err != nil {
		return nil, "", err
	}
	return job, res.WarningsText(), nil
}

// storable checks what the fake's model needs of a job: task groups and
// tasks, each named once.
func storable(job *api.Job) error {
	var errs []string
	if len(job.TaskGroups) == 0 {
		errs = append(errs, "the job has no task group")
	}
	groups := map[string]bool{}
	for i, tg := range job.TaskGroups {
		name := *tg.Name
		switch {
		case name == "":
			errs = append(errs, fmt.Sprintf("task group %d has no name", i+1))
		case groups[name]:
			errs = append(errs, fmt.Sprintf("task group %q is defined twice", name))
		}
		groups[name] = true
		if len(tg.Tasks) == 0 {
			errs = append(errs, fmt.Sprintf("task group %q has no task", name))
		}
		tasks := map[string]bool{}
		for j, t := range tg.Tasks {
			switch {
			case t.Name == "":
				errs = append(errs, fmt.Sprintf("task %d of group %q has no name", j+1, name))
			case tasks[t.Name]:
				errs = append(errs, fmt.Sprintf("task %q of group %q is defined twice", t.Name, name))
			}
			tasks[t.Name] = true
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("nomadfake: cannot model this job (not a rule of Nomad's the recordings show): %s", strings.Join(errs, "; "))
}

// copyJob deep-copies a job through JSON, the form Nomad stores it in.
func copyJob(job *api.Job) *api.Job {
	b, err := json.Marshal(job)
	if err != nil {
		panic(fmt.Sprintf("nomadfake: encoding a job: %v", err))
	}
	var out api.Job
	if err := json.Unmarshal(b, &out); err != nil {
		panic(fmt.Sprintf("nomadfake: decoding a job: %v", err))
	}
	return &out
}

func findGroup(job *api.Job, name string) *api.TaskGroup {
	if job == nil {
		return nil
	}
	for _, tg := range job.TaskGroups {
		if *tg.Name == name {
			return tg
		}
	}
	return nil
}

// decodeBody decodes a request body as Nomad does, answering 400 on error.
func decodeBody(body io.Reader, out any) error {
	b, err := io.ReadAll(io.LimitReader(body, 64<<20))
	if err != nil {
		return errorf(http.StatusBadRequest, "reading the body: %v", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return errorf(http.StatusBadRequest, "Request body is empty")
	}
	if err := json.Unmarshal(b, out); err != nil {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	return nil
}

// boolParam parses an optional boolean query parameter as Nomad does: a bad
// value is an uncoded error, so 500.
func boolParam(q map[string][]string, name string) (bool, error) {
	vals := q[name]
	if len(vals) == 0 || vals[0] == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(vals[0])
	if err != nil {
		return false, fmt.Errorf("Failed to parse value of %q (%v) as a bool: %v", name, vals[0], err)
	}
	return v, nil
}
