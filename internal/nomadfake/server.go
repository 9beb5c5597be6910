package nomadfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/nomaddiff"
)

// Endpoint names one Nomad HTTP API endpoint the fake implements, for
// [Server.FailNext] and [Server.Calls]. Its value is the method and path
// pattern, for messages.
type Endpoint string

// The endpoints the fake implements.
const (
	// EndpointJobList is GET /v1/jobs (Jobs().List).
	EndpointJobList Endpoint = "GET /v1/jobs"
	// EndpointJobRegister is PUT or POST /v1/jobs (Jobs().Register).
	EndpointJobRegister Endpoint = "PUT /v1/jobs"
	// EndpointJobInfo is GET /v1/job/<id> (Jobs().Info).
	EndpointJobInfo Endpoint = "GET /v1/job/<id>"
	// EndpointJobVersions is GET /v1/job/<id>/versions (Jobs().Versions).
	EndpointJobVersions Endpoint = "GET /v1/job/<id>/versions"
	// EndpointJobDeregister is DELETE /v1/job/<id> (Jobs().Deregister).
	EndpointJobDeregister Endpoint = "DELETE /v1/job/<id>"
	// EndpointJobPlan is PUT or POST /v1/job/<id>/plan (Jobs().Plan).
	EndpointJobPlan Endpoint = "PUT /v1/job/<id>/plan"
	// EndpointJobAllocations is GET /v1/job/<id>/allocations
	// (Jobs().Allocations).
	EndpointJobAllocations Endpoint = "GET /v1/job/<id>/allocations"
	// EndpointJobLatestDeployment is GET /v1/job/<id>/deployment
	// (Jobs().LatestDeployment).
	EndpointJobLatestDeployment Endpoint = "GET /v1/job/<id>/deployment"
	// EndpointEvaluationInfo is GET /v1/evaluation/<id> (Evaluations().Info).
	EndpointEvaluationInfo Endpoint = "GET /v1/evaluation/<id>"
	// EndpointAllocationInfo is GET /v1/allocation/<id> (Allocations().Info),
	// which `nomad alloc status` reads; strata's deploy may, to explain a
	// failure.
	EndpointAllocationInfo Endpoint = "GET /v1/allocation/<id>"
)

// known reports whether e is one of the Endpoint constants.
func (e Endpoint) known() bool {
	switch e {
	case EndpointJobList, EndpointJobRegister, EndpointJobInfo, EndpointJobVersions,
		EndpointJobDeregister, EndpointJobPlan, EndpointJobAllocations,
		EndpointJobLatestDeployment, EndpointEvaluationInfo,
		EndpointAllocationInfo:
		return true
	}
	return false
}

// blocking reports whether e is a read that honours blocking queries.
func (e Endpoint) blocking() bool {
	return e != EndpointJobRegister && e != EndpointJobDeregister && e != EndpointJobPlan
}

// Option configures a Server.
type Option func(*Server)

// WithClock makes the server read the time from now, for job submit times
// and the create and modify times of evaluations, deployments and
// allocations. The default is time.Now. Blocking queries still wait in real
// time.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// WithConsulTaskIdentity makes the server store jobs as Nomad's servers do
// when their agent configuration sets consul.task_identity to id: every
// task with a consul block, or in a group with one, gets a copy of id named
// consul_<cluster> (and its group the ${attr.nomad.version} >= 1.7.0-a
// constraint), so that adding or removing the block is a task identity
// change that replaces allocations (nomaddiff.Server). No recording covers
// it: the recorded cluster did not set consul.task_identity.
func WithConsulTaskIdentity(id *api.WorkloadIdentity) Option {
	return func(s *Server) { s.config.ConsulTaskIdentity = id }
}

// maxRequests bounds the request log kept for [Server.Requests].
const maxRequests = 10000

// Blocking query waits, as Nomad's.
const (
	defaultBlockingWait = 5 * time.Minute
	maxBlockingWait     = 10 * time.Minute
)

// Server is a fake Nomad HTTP API. Its methods are safe for concurrent use;
// those that fail the test on misuse do so with t.Errorf, which is safe from
// any goroutine.
//
// Stored jobs, evaluations and deployments are never changed in place: an
// update stores a changed copy, so an answer still being encoded after the
// lock is released never sees a half-made change.
type Server struct {
	t       testing.TB
	srv     *httptest.Server
	now     func() time.Time
	closing chan struct{}

	mu          sync.Mutex
	index       uint64
	changed     chan struct{} // closed and replaced whenever index moves
	jobs        map[jobKey]*jobState
	evals       map[string]*api.Evaluation
	evalSeq     uint64
	deployments map[string]*deployment
	deploySeq   uint64
	// system holds the allocations of system jobs, one per node
	// (SetSystemAllocations).
	system   map[jobKey][]*api.Allocation
	failures map[Endpoint]failure
	calls    map[Endpoint]int
	requests []string
	clients  []*api.Client
	// acl maps tokens to their capabilities when ACLs are enforced
	// (WithACL); nil means ACLs are off.
	acl map[string]Capabilities
	// config is the servers' agent configuration that changes how jobs
	// are stored (WithConsulTaskIdentity).
	config nomaddiff.Server
}

type jobKey struct{ namespace, id string }

// jobState is one job's version history, oldest first. It is never empty.
type jobState struct {
	versions []*api.Job
}

func (js *jobState) latest() *api.Job { return js.versions[len(js.versions)-1] }

// deployment is a stored deployment and what its allocations derive from.
type deployment struct {
	d      *api.Deployment
	seq    uint64
	evalID string
	// groups lists d.TaskGroups' names in the job's order.
	groups []string
	// failedEvents are the task events of the unhealthy allocations' tasks
	// (FailDeployment, SetTaskEvents).
	failedEvents []*api.TaskEvent
}

type failure struct {
	status int
	times  int
}

// New starts a fake Nomad on a free port of 127.0.0.1. It is shut down when
// the test ends, after any blocking query still waiting has been released.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{
		t:           t,
		now:         time.Now,
		closing:     make(chan struct{}),
		changed:     make(chan struct{}),
		jobs:        map[jobKey]*jobState{},
		evals:       map[string]*api.Evaluation{},
		deployments: map[string]*deployment{},
		system:      map[jobKey][]*api.Allocation{},
		failures:    map[Endpoint]failure{},
		calls:       map[Endpoint]int{},
	}
	for _, o := range opts {
		o(s)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("nomadfake: listening on 127.0.0.1: %v", err)
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	s.srv.Listener.Close()
	s.srv.Listener = l
	s.srv.Start()
	t.Cleanup(func() {
		close(s.closing)
		s.srv.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range s.clients {
			c.Close()
		}
	})
	return s
}

// Addr returns the server's address as NOMAD_ADDR takes it:
// http://127.0.0.1:<port>.
func (s *Server) Addr() string { return s.srv.URL }

// Client returns a new Nomad API client for the server. It ignores the
// NOMAD_* environment variables; each call returns a separate client, so
// SetNamespace on one does not change another.
func (s *Server) Client() *api.Client {
	s.t.Helper()
	c, err := api.NewClient(&api.Config{Address: s.srv.URL})
	if err != nil {
		s.t.Fatalf("nomadfake: client: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients = append(s.clients, c)
	return c
}

// FailNext makes the next times requests to endpoint answer status, a 4xx or
// 5xx, with an error body, without touching the state. It replaces any
// failures still pending for endpoint; times 0 cancels them (status is then
// ignored). Misuse fails the test.
func (s *Server) FailNext(endpoint Endpoint, status int, times int) {
	s.t.Helper()
	if !endpoint.known() {
		s.t.Errorf("nomadfake: FailNext: unknown endpoint %q", endpoint)
		return
	}
	if times > 0 && (status < 400 || status > 599) {
		s.t.Errorf("nomadfake: FailNext(%s): status %d is not an error status", endpoint, status)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if times <= 0 {
		delete(s.failures, endpoint)
		return
	}
	s.failures[endpoint] = failure{status: status, times: times}
}

// Calls returns how many requests endpoint has received, failed ones
// included. Requests for what the fake does not implement count under no
// endpoint; [Server.Requests] lists them.
func (s *Server) Calls(endpoint Endpoint) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[endpoint]
}

// Requests returns the requests the server has received, oldest first, as
// "METHOD path?query" with the path and query as sent (escaped); only the
// most recent 10000 are kept.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// AddJob seeds job as version 0 of a new job, submitted at submitTime, as if
// it had been registered then: it is canonicalized, gets an evaluation, and a
// deployment if it is a service job with task groups. Unlike a register
// through the API it is not validated beyond needing an ID, so a test can
// seed only the fields it cares about. The namespace is job.Namespace, or
// "default". job itself is not modified. Seeding an existing job, or one
// without an ID, fails the test.
func (s *Server) AddJob(job *api.Job, submitTime time.Time) {
	s.t.Helper()
	if job == nil || job.ID == nil || *job.ID == "" {
		s.t.Errorf("nomadfake: AddJob: the job needs an ID")
		return
	}
	ns := api.DefaultNamespace
	if job.Namespace != nil && *job.Namespace != "" {
		ns = *job.Namespace
	}
	normal, _, err := normalize(job, ns, false, s.config)
	if err != nil {
		s.t.Errorf("nomadfake: AddJob(%s): %v", *job.ID, err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.jobs[jobKey{ns, *job.ID}]; ok {
		s.t.Errorf("nomadfake: AddJob: job %q already exists in namespace %q", *job.ID, ns)
		return
	}
	if _, err := s.registerLocked(normal, registerOptions{}, submitTime); err != nil {
		s.t.Errorf("nomadfake: AddJob(%s): %v", *job.ID, err)
	}
}

// Deployment returns a copy of the deployment id, and whether it exists.
// strata reads deployments only through their job (GET
// /v1/job/<id>/deployment), so the fake serves no other path to them; tests
// read any deployment here.
func (s *Server) Deployment(id string) (*api.Deployment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	dep, ok := s.deployments[id]
	if !ok {
		return nil, false
	}
	return copyDeployment(dep.d), true
}

// Job returns a copy of the latest version of the job id in namespace (""
// means "default"), and whether it exists.
func (s *Server) Job(namespace, id string) (*api.Job, bool) {
	if namespace == "" {
		namespace = api.DefaultNamespace
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	js, ok := s.jobs[jobKey{namespace, id}]
	if !ok {
		return nil, false
	}
	return copyJob(js.latest()), true
}

// JobIDs returns the IDs of the jobs in namespace ("" means "default"),
// stopped ones included, sorted.
func (s *Server) JobIDs(namespace string) []string {
	if namespace == "" {
		namespace = api.DefaultNamespace
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for k := range s.jobs {
		if k.namespace == namespace {
			ids = append(ids, k.id)
		}
	}
	sort.Strings(ids)
	return ids
}

// SetDeploymentStatus sets the status and description of the deployment id,
// as Nomad's deployment watcher would. status is one of the
// api.DeploymentStatus constants; "successful" also marks the deployed job
// version stable, as Nomad does. An unknown deployment or status fails the
// test.
func (s *Server) SetDeploymentStatus(id, status, description string) {
	s.t.Helper()
	switch status {
	case api.DeploymentStatusRunning, api.DeploymentStatusPaused, api.DeploymentStatusFailed,
		api.DeploymentStatusSuccessful, api.DeploymentStatusCancelled, api.DeploymentStatusPending,
		api.DeploymentStatusBlocked, api.DeploymentStatusUnblocking:
	default:
		s.t.Errorf("nomadfake: SetDeploymentStatus(%s): %q is not a deployment status", id, status)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dep, ok := s.deployments[id]
	if !ok {
		s.t.Errorf("nomadfake: SetDeploymentStatus: no deployment %q", id)
		return
	}
	s.setDeploymentStatusLocked(dep, status, description)
	if status != api.DeploymentStatusSuccessful {
		return
	}
	js, ok := s.jobs[jobKey{dep.d.Namespace, dep.d.JobID}]
	if !ok {
		return
	}
	for i, v := range js.versions {
		if *v.Version == dep.d.JobVersion && !*v.Stable {
			// A stability change keeps the version and JobModifyIndex.
			// Stored values are never changed in place: an answer being
			// encoded may still hold them.
			stable := copyJob(v)
			stable.Stable = new(true)
			stable.ModifyIndex = new(s.bumpLocked())
			js.versions[i] = stable
		}
	}
}

// SetDeploymentHealth sets the allocation counts of the latest deployment of
// the job jobID (in whichever namespace holds the most recent one): every
// task group of the deployment gets desired as its desired total, placed
// allocations, of which healthy are healthy and unhealthy unhealthy (the rest
// not yet known). The job's allocations follow: in each group the unhealthy
// ones first (ClientStatus "failed", with the events given to
// [Server.SetTaskEvents] or [Server.FailDeployment]), then the healthy,
// then the rest, running; placed beyond desired are reschedules (see
// [Server.FailDeployment]). The status is left alone. Inconsistent counts,
// or a job without a deployment, fail the test.
func (s *Server) SetDeploymentHealth(jobID string, desired, placed, healthy, unhealthy int) {
	s.t.Helper()
	if desired < 0 || placed < 0 || healthy < 0 || unhealthy < 0 || healthy+unhealthy > placed {
		s.t.Errorf("nomadfake: SetDeploymentHealth(%s, %d, %d, %d, %d): counts must be >= 0 with healthy+unhealthy <= placed",
			jobID, desired, placed, healthy, unhealthy)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var latest *deployment
	for _, dep := range s.deployments {
		if dep.d.JobID == jobID && (latest == nil || dep.d.CreateIndex > latest.d.CreateIndex) {
			latest = dep
		}
	}
	if latest == nil {
		s.t.Errorf("nomadfake: SetDeploymentHealth: job %q has no deployment", jobID)
		return
	}
	d := copyDeployment(latest.d)
	for _, st := range d.TaskGroups {
		st.DesiredTotal, st.PlacedAllocs, st.HealthyAllocs, st.UnhealthyAllocs = desired, placed, healthy, unhealthy
	}
	d.ModifyIndex = s.bumpLocked()
	d.ModifyTime = s.now().UnixNano()
	latest.d = d
}

// copyDeployment copies a deployment and its task group states, so a stored
// deployment is replaced rather than changed in place.
func copyDeployment(d *api.Deployment) *api.Deployment {
	out := *d
	out.TaskGroups = make(map[string]*api.DeploymentState, len(d.TaskGroups))
	for name, st := range d.TaskGroups {
		c := *st
		c.PlacedCanaries = slices.Clone(st.PlacedCanaries)
		out.TaskGroups[name] = &c
	}
	return &out
}

// bumpLocked advances the index and wakes blocked queries.
func (s *Server) bumpLocked() uint64 {
	s.index++
	close(s.changed)
	s.changed = make(chan struct{})
	return s.index
}

// readIndexLocked is the index reads report: never 0, as Nomad's, so that a
// client's next blocking query blocks.
func (s *Server) readIndexLocked() uint64 { return max(s.index, 1) }

// codedError is an error answered with its status, as Nomad's CodedError.
type codedError struct {
	code int
	msg  string
}

func (e *codedError) Error() string { return e.msg }

func errorf(code int, format string, args ...any) error {
	return &codedError{code: code, msg: fmt.Sprintf(format, args...)}
}

// request is one routed request.
type request struct {
	w         http.ResponseWriter
	r         *http.Request
	q         url.Values
	namespace string // the namespace query parameter, or "default"
	id        string // the job, deployment or evaluation ID in the path
}

type handler func(*Server, *request) (body any, index uint64, err error)

// route maps a method and escaped path to an endpoint and its handler.
func route(method, escapedPath string) (Endpoint, handler, string, bool) {
	segs := strings.Split(strings.TrimPrefix(escapedPath, "/"), "/")
	if len(segs) < 2 || segs[0] != "v1" {
		return "", nil, "", false
	}
	read := method == http.MethodGet
	write := method == http.MethodPut || method == http.MethodPost
	unescape := func(seg string) (string, bool) {
		v, err := url.PathUnescape(seg)
		return v, err == nil && v != ""
	}
	switch {
	case len(segs) == 2 && segs[1] == "jobs":
		switch {
		case read:
			return EndpointJobList, (*Server).jobList, "", true
		case write:
			return EndpointJobRegister, (*Server).jobRegister, "", true
		}
	case len(segs) == 3 && segs[1] == "job":
		id, ok := unescape(segs[2])
		if !ok {
			break
		}
		switch {
		case read:
			return EndpointJobInfo, (*Server).jobInfo, id, true
		case method == http.MethodDelete:
			return EndpointJobDeregister, (*Server).jobDeregister, id, true
		}
	case len(segs) == 4 && segs[1] == "job":
		id, ok := unescape(segs[2])
		if !ok {
			break
		}
		switch {
		case read && segs[3] == "versions":
			return EndpointJobVersions, (*Server).jobVersions, id, true
		case write && segs[3] == "plan":
			return EndpointJobPlan, (*Server).jobPlan, id, true
		case read && segs[3] == "allocations":
			return EndpointJobAllocations, (*Server).jobAllocations, id, true
		case read && segs[3] == "deployment":
			return EndpointJobLatestDeployment, (*Server).jobLatestDeployment, id, true
		}
	case len(segs) == 3 && segs[1] == "allocation" && read:
		if id, ok := unescape(segs[2]); ok {
			return EndpointAllocationInfo, (*Server).allocationInfo, id, true
		}
	case len(segs) == 3 && segs[1] == "evaluation" && read:
		if id, ok := unescape(segs[2]); ok {
			return EndpointEvaluationInfo, (*Server).evaluationInfo, id, true
		}
	}
	return "", nil, "", false
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			s.t.Errorf("nomadfake: panic serving %s %s: %v\n%s", r.Method, r.URL.RequestURI(), p, debug.Stack())
			http.Error(w, fmt.Sprintf("nomadfake: panic: %v", p), http.StatusInternalServerError)
		}
	}()
	endpoint, h, id, ok := route(r.Method, r.URL.EscapedPath())

	s.mu.Lock()
	s.requests = append(s.requests, r.Method+" "+r.URL.RequestURI())
	if len(s.requests) > maxRequests {
		// Appending reallocates once the capacity runs out, copying only
		// what is kept, so the log stays bounded.
		s.requests = s.requests[1:]
	}
	var injected failure
	if ok {
		s.calls[endpoint]++
		if f, pending := s.failures[endpoint]; pending {
			injected = f
			if f.times--; f.times > 0 {
				s.failures[endpoint] = f
			} else {
				delete(s.failures, endpoint)
			}
		}
	}
	s.mu.Unlock()

	if !ok {
		http.Error(w, fmt.Sprintf("nomadfake: %s %s is not implemented", r.Method, r.URL.Path), http.StatusNotImplemented)
		return
	}
	if injected.status != 0 {
		http.Error(w, fmt.Sprintf("nomadfake: injected failure %d for %s", injected.status, endpoint), injected.status)
		return
	}
	q := r.URL.Query()
	rq := &request{w: w, r: r, q: q, namespace: q.Get("namespace"), id: id}
	if rq.namespace == "" {
		rq.namespace = api.DefaultNamespace
	}
	if !s.authorize(w, r, endpoint, rq.namespace) {
		return
	}
	read := endpoint.blocking()
	if read {
		if err := s.block(r, q); err != nil {
			writeError(w, err)
			return
		}
	}
	body, index, err := h(s, rq)
	if read {
		// Nomad answers every read, an error too, with the query meta
		// headers; a write carries only its index.
		if err != nil {
			s.mu.Lock()
			index = s.readIndexLocked()
			s.mu.Unlock()
		}
		w.Header().Set("X-Nomad-Index", strconv.FormatUint(max(index, 1), 10))
		w.Header().Set("X-Nomad-KnownLeader", "true")
		w.Header().Set("X-Nomad-LastContact", "0")
	} else if err == nil {
		w.Header().Set("X-Nomad-Index", strconv.FormatUint(index, 10))
	}
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(body); err != nil {
		s.t.Errorf("nomadfake: encoding the answer to %s %s: %v", r.Method, r.URL.RequestURI(), err)
	}
}

func writeError(w http.ResponseWriter, err error) {
	var ce *codedError
	if errors.As(err, &ce) {
		http.Error(w, ce.msg, ce.code)
		return
	}
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

// block waits, for a blocking query (index=N), until the index passes N, the
// wait time runs out, the client goes away or the server shuts down.
func (s *Server) block(r *http.Request, q url.Values) error {
	raw := q.Get("index")
	if raw == "" {
		return nil
	}
	minIndex, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		return errorf(http.StatusBadRequest, "Invalid index: %v", err)
	}
	wait := defaultBlockingWait
	if raw := q.Get("wait"); raw != "" {
		if wait, err = time.ParseDuration(raw); err != nil {
			return errorf(http.StatusBadRequest, "Invalid wait time")
		}
	}
	wait = min(wait, maxBlockingWait)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		s.mu.Lock()
		index, changed := s.index, s.changed
		s.mu.Unlock()
		if index > minIndex {
			return nil
		}
		select {
		case <-changed:
		case <-timer.C:
			return nil
		case <-s.closing:
			return nil
		case <-r.Context().Done():
			return nil
		}
	}
}

// evalID, deploymentID and allocID make deterministic IDs shaped as UUIDs.
func evalID(seq uint64) string { return fmt.Sprintf("%08x-eeee-4000-8000-%012x", seq, seq) }

func deploymentID(seq uint64) string { return fmt.Sprintf("%08x-dddd-4000-8000-%012x", seq, seq) }

func allocID(deploySeq uint64, group, i int) string {
	return fmt.Sprintf("%08x-aaaa-4000-8000-%06x%06x", deploySeq, group, i)
}
