package nomadfake_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/nomadfake"
)

// clock is a settable clock for the server's submit times.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// webJob is a service job the way strata's generator makes one: one group
// "web" of count instances running image.
func webJob(id, image string, count int, meta map[string]string) *api.Job {
	task := api.NewTask("app", "docker").SetConfig("image", image)
	task.Env = map[string]string{"PORT": "8080"}
	job := api.NewServiceJob(id, id, "global", 50)
	job.Meta = meta
	return job.AddTaskGroup(api.NewTaskGroup("web", count).AddTask(task))
}

func managed(app, version string) map[string]string {
	return map[string]string{"strata.managed": "true", "strata.app": app, "strata.version": version}
}

// status returns the HTTP status of an error from the API client, or 0.
func status(err error) int {
	var ure api.UnexpectedResponseError
	if errors.As(err, &ure) {
		return ure.StatusCode()
	}
	return 0
}

func mustRegister(t *testing.T, c *api.Client, job *api.Job, q *api.WriteOptions) *api.JobRegisterResponse {
	t.Helper()
	resp, _, err := c.Jobs().Register(job, q)
	if err != nil {
		t.Fatalf("registering %s: %v", *job.ID, err)
	}
	return resp
}

func mustDeployment(t *testing.T, s *nomadfake.Server, id string) *api.Deployment {
	t.Helper()
	d, ok := s.Deployment(id)
	if !ok {
		t.Fatalf("no deployment %s", id)
	}
	return d
}

func ids(stubs []*api.JobListStub) []string {
	var out []string
	for _, s := range stubs {
		out = append(out, s.ID)
	}
	return out
}

func TestARegisteredJobIsListedFilteredAndReadBack(t *testing.T) {
	clk := newClock()
	s := nomadfake.New(t, nomadfake.WithClock(clk.Now))
	c := s.Client()

	resp := mustRegister(t, c, webJob("web-v1", "web:1", 2, managed("web", "v1")), nil)
	mustRegister(t, c, webJob("other", "other:1", 1, nil), nil)

	eval, _, err := c.Evaluations().Info(resp.EvalID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if eval.JobID != "web-v1" || eval.TriggeredBy != "job-register" || eval.Status != api.EvalStatusComplete || eval.Namespace != "default" {
		t.Errorf("evaluation = %+v", eval)
	}

	filter := `Meta["strata.managed"] == "true"`
	stubs, qm, err := c.Jobs().ListOptions(&api.JobListOptions{Fields: &api.JobListFields{Meta: true}}, &api.QueryOptions{Filter: filter})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(stubs); !slices.Equal(got, []string{"web-v1"}) {
		t.Fatalf("managed jobs = %v", got)
	}
	st := stubs[0]
	if st.Meta["strata.app"] != "web" || st.Status != "running" || st.Stop || st.Namespace != "default" ||
		st.SubmitTime != clk.Now().UnixNano() || st.Type != "service" || st.JobSummary == nil {
		t.Errorf("stub = %+v", st)
	}
	if qm.LastIndex == 0 {
		t.Error("X-Nomad-Index is missing")
	}

	// The sweeper asks for meta with a raw parameter; the filter applies to
	// the job, so it works without meta too, and then the stubs have none.
	stubs, _, err = c.Jobs().List(&api.QueryOptions{Filter: filter, Params: map[string]string{"meta": "true"}})
	if err != nil || len(stubs) != 1 || stubs[0].Meta["strata.version"] != "v1" {
		t.Fatalf("list with meta=true as a parameter = %v, %v", stubs, err)
	}
	stubs, _, err = c.Jobs().List(&api.QueryOptions{Filter: filter})
	if err != nil || len(stubs) != 1 || stubs[0].Meta != nil {
		t.Fatalf("list without meta = %+v, %v", stubs, err)
	}
	// strata never lists by prefix: the fake refuses rather than guess.
	if _, _, err = c.Jobs().PrefixList("oth"); status(err) != http.StatusNotImplemented {
		t.Fatalf("prefix list = %v", err)
	}

	job, _, err := c.Jobs().Info("web-v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if *job.Version != 0 || *job.Stop || *job.Status != "running" || *job.Namespace != "default" ||
		*job.TaskGroups[0].Count != 2 || !slices.Equal(job.Datacenters, []string{"*"}) || job.Update == nil {
		t.Errorf("job = version %d stop %v status %q namespace %q datacenters %v",
			*job.Version, *job.Stop, *job.Status, *job.Namespace, job.Datacenters)
	}

	_, _, err = c.Jobs().Info("missing", nil)
	if status(err) != http.StatusNotFound || !strings.Contains(err.Error(), "job not found") {
		t.Errorf("info of a missing job: %v", err)
	}
}

func TestReRegisteringKeepsTheFirstVersionsSubmitTime(t *testing.T) {
	clk := newClock()
	s := nomadfake.New(t, nomadfake.WithClock(clk.Now))
	c := s.Client()
	first := clk.Now()

	r0 := mustRegister(t, c, webJob("web-v1", "web:1", 2, managed("web", "v1")), nil)
	clk.Advance(time.Hour)
	r1 := mustRegister(t, c, webJob("web-v1", "web:1", 2, managed("web", "v1")), nil)
	if r1.JobModifyIndex != r0.JobModifyIndex || r1.EvalID == "" || r1.EvalID == r0.EvalID {
		t.Errorf("an unchanged register: first %+v, second %+v", r0, r1)
	}
	clk.Advance(time.Hour)
	second := clk.Now()
	mustRegister(t, c, webJob("web-v1", "web:2", 2, managed("web", "v1")), nil)

	versions, diffs, _, err := c.Jobs().Versions("web-v1", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != 2 || *versions[0].Version != 1 || *versions[1].Version != 0 {
		t.Fatalf("versions = %d, want 1 and 0, newest first", len(versions))
	}
	if *versions[1].SubmitTime != first.UnixNano() || *versions[0].SubmitTime != second.UnixNano() {
		t.Errorf("submit times = %d, %d; want %d, %d", *versions[0].SubmitTime, *versions[1].SubmitTime,
			second.UnixNano(), first.UnixNano())
	}
	if len(diffs) != 1 || diffs[0].Type != "Edited" {
		t.Errorf("diffs = %+v", diffs)
	}

	_, _, _, err = c.Jobs().Versions("missing", false, nil)
	if status(err) != http.StatusNotFound || !strings.Contains(err.Error(), "job versions not found") {
		t.Errorf("versions of a missing job: %v", err)
	}
}

func TestDeregisterStopsAJobAndPurgeRemovesIt(t *testing.T) {
	s := nomadfake.New(t)
	c := s.Client()
	mustRegister(t, c, webJob("web-v1", "web:1", 1, managed("web", "v1")), nil)

	evalID, _, err := c.Jobs().Deregister("web-v1", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	job, _, err := c.Jobs().Info("web-v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !*job.Stop || *job.Status != "dead" || *job.Version != 1 {
		t.Errorf("stopped job: stop %v status %q version %d", *job.Stop, *job.Status, *job.Version)
	}
	if eval, _, err := c.Evaluations().Info(evalID, nil); err != nil || eval.TriggeredBy != "job-deregister" {
		t.Errorf("deregister evaluation = %+v, %v", eval, err)
	}
	stubs, _, err := c.Jobs().List(&api.QueryOptions{Filter: `Stop == true and Status == "dead"`})
	if got := ids(stubs); err != nil || !slices.Equal(got, []string{"web-v1"}) {
		t.Errorf("stopped jobs = %v, %v", got, err)
	}
	if j, ok := s.Job("default", "web-v1"); !ok || !*j.Stop {
		t.Errorf("Job() after a stop = %v, %v", j, ok)
	}

	if _, _, err := c.Jobs().DeregisterOpts("web-v1", &api.DeregisterOptions{Purge: true}, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Jobs().Info("web-v1", nil); status(err) != http.StatusNotFound {
		t.Errorf("info after a purge: %v", err)
	}
	if _, _, _, err := c.Jobs().Versions("web-v1", false, nil); status(err) != http.StatusNotFound {
		t.Errorf("versions after a purge: %v", err)
	}
	if got := s.JobIDs("default"); len(got) != 0 {
		t.Errorf("JobIDs after a purge = %v", got)
	}
	// As Nomad (recorded: a purge of a job already purged): no error, no
	// evaluation.
	for _, purge := range []bool{true, false} {
		if evalID, _, err := c.Jobs().Deregister("web-v1", purge, nil); err != nil || evalID != "" {
			t.Errorf("deregistering a missing job (purge %v): %q, %v", purge, evalID, err)
		}
	}
}

func TestNamespacesKeepJobsApart(t *testing.T) {
	s := nomadfake.New(t)
	c := s.Client()
	mustRegister(t, c, webJob("web-v1", "web:1", 1, nil), nil)
	mustRegister(t, c, webJob("web-v1", "web:1", 1, nil), &api.WriteOptions{Namespace: "apps"})
	// Without a namespace parameter, the job's own namespace is used.
	batch := webJob("nightly", "tool:1", 1, nil)
	batch.Namespace = new("batch")
	mustRegister(t, c, batch, nil)

	for ns, want := range map[string][]string{
		"default": {"web-v1"}, "apps": {"web-v1"}, "batch": {"nightly"}, "*": {"web-v1", "nightly", "web-v1"},
	} {
		stubs, _, err := c.Jobs().List(&api.QueryOptions{Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		got := ids(stubs)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("namespace %s: jobs = %v, want %v", ns, got, want)
		}
	}
	if _, _, err := c.Jobs().Info("nightly", nil); status(err) != http.StatusNotFound {
		t.Errorf("a job of another namespace is visible in default: %v", err)
	}
	if job, _, err := c.Jobs().Info("nightly", &api.QueryOptions{Namespace: "batch"}); err != nil || *job.Namespace != "batch" {
		t.Errorf("info in its namespace: %v", err)
	}
}

func TestEnforceIndexIsACheckAndSet(t *testing.T) {
	s := nomadfake.New(t)
	c := s.Client()
	if _, _, err := c.Jobs().EnforceRegister(webJob("web-v1", "web:1", 1, nil), 0, nil); err != nil {
		t.Fatalf("creating with index 0: %v", err)
	}
	_, _, err := c.Jobs().EnforceRegister(webJob("web-v1", "web:2", 1, nil), 0, nil)
	if err == nil || !strings.Contains(err.Error(), "Enforcing job modify index 0: job already exists") {
		t.Errorf("index 0 for an existing job: %v", err)
	}
	job, _, err := c.Jobs().Info("web-v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Jobs().EnforceRegister(webJob("web-v1", "web:2", 1, nil), *job.JobModifyIndex+100, nil)
	if err == nil || !strings.Contains(err.Error(), "conflicting job modify index") {
		t.Errorf("a stale index: %v", err)
	}
	if _, _, err := c.Jobs().EnforceRegister(webJob("web-v1", "web:2", 1, nil), *job.JobModifyIndex, nil); err != nil {
		t.Fatalf("the current index: %v", err)
	}
	if job, _ := s.Job("", "web-v1"); *job.Version != 1 {
		t.Errorf("version after the check-and-set = %d", *job.Version)
	}
}

func TestARegisterNomadWouldRejectIsAnError(t *testing.T) {
	s := nomadfake.New(t)
	c := s.Client()
	empty := api.NewServiceJob("empty", "empty", "global", 50)
	if _, _, err := c.Jobs().Register(empty, nil); status(err) != http.StatusInternalServerError ||
		!strings.Contains(err.Error(), "nomadfake: cannot model this job") {
		t.Errorf("a job without task groups: %v", err)
	}
	mustRegister(t, c, webJob("web-v1", "web:1", 1, nil), nil)
	batch := webJob("web-v1", "web:1", 1, nil)
	batch.Type = new("batch")
	if _, _, err := c.Jobs().Register(batch, nil); err == nil || !strings.Contains(err.Error(), "cannot update job from type") {
		t.Errorf("changing the type: %v", err)
	}
}

func TestAnInjectedFailureIsAnErrorAndIsCounted(t *testing.T) {
	s := nomadfake.New(t)
	c := s.Client()
	mustRegister(t, c, webJob("web-v1", "web:1", 1, nil), nil)

	s.FailNext(nomadfake.EndpointJobList, http.StatusInternalServerError, 2)
	for i := range 2 {
		if _, _, err := c.Jobs().List(nil); status(err) != http.StatusInternalServerError {
			t.Errorf("list %d: %v, want a 500", i, err)
		}
	}
	if stubs, _, err := c.Jobs().List(nil); err != nil || len(stubs) != 1 {
		t.Errorf("the list after the failures = %v, %v", stubs, err)
	}
	if n := s.Calls(nomadfake.EndpointJobList); n != 3 {
		t.Errorf("list calls = %d, want 3", n)
	}

	s.FailNext(nomadfake.EndpointJobDeregister, http.StatusServiceUnavailable, 1)
	if _, _, err := c.Jobs().Deregister("web-v1", true, nil); status(err) != http.StatusServiceUnavailable {
		t.Errorf("injected deregister failure: %v", err)
	}
	if _, ok := s.Job("default", "web-v1"); !ok {
		t.Error("a failed deregister changed the state")
	}
	if _, _, err := c.Jobs().Deregister("web-v1", true, nil); err != nil {
		t.Errorf("deregister after the failure: %v", err)
	}
	want := "DELETE /v1/job/web-v1?purge=true"
	if reqs := s.Requests(); !slices.Contains(reqs, "GET /v1/jobs") || !slices.Contains(reqs, want) {
		t.Errorf("requests = %q, want GET /v1/jobs and %q", reqs, want)
	}
}

func TestTheJobListFilterSubset(t *testing.T) {
	s := nomadfake.New(t)
	c := s.Client()
	mustRegister(t, c, webJob("web-v1", "web:1", 1, managed("web", "v1")), nil)
	mustRegister(t, c, webJob("web-v2", "web:2", 1, managed("web", "v2")), nil)
	mustRegister(t, c, webJob("other", "other:1", 1, nil), nil)
	if _, _, err := c.Jobs().Deregister("web-v1", false, nil); err != nil {
		t.Fatal(err)
	}

	accepted := map[string][]string{
		`Meta["strata.app"] == "web"`:                      {"web-v1", "web-v2"},
		`Meta.app == "web"`:                                nil,
		`Meta["strata.app"] != "web"`:                      {"other"},
		`Meta["strata.version"] == "v2" and Stop == false`: {"web-v2"},
		"ID == `other`":                                    {"other"},
		`Name != "other" and Type == "service"`:            {"web-v1", "web-v2"},
		`Status == "running"`:                              {"other", "web-v2"},
		`Stop == "true"`:                                   {"web-v1"},
		`Namespace == "default" and Meta["strata.managed"] == "true" and ID != "web-v2"`: {"web-v1"},
		``: {"other", "web-v1", "web-v2"},
	}
	for filter, want := range accepted {
		stubs, _, err := c.Jobs().List(&api.QueryOptions{Filter: filter})
		if err != nil {
			t.Errorf("filter %s: %v", filter, err)
			continue
		}
		if got := ids(stubs); !slices.Equal(got, want) {
			t.Errorf("filter %s: jobs %v, want %v", filter, got, want)
		}
	}

	for _, filter := range []string{
		`Meta["strata.app"] contains "we"`,
		`ID == "a" or ID == "b"`,
		`not ID == "a"`,
		`(ID == "a")`,
		`Version == "1"`,
		`Meta[app] == "web"`,
		`Meta.strata.app == "web"`,
		`ID ==`,
		`ID = "a"`,
		`Stop == maybe`,
		`"web" in Meta`,
		`ID matches "web-.*"`,
		`ID == "a" and`,
		`ID == "unterminated`,
	} {
		_, _, err := c.Jobs().List(&api.QueryOptions{Filter: filter})
		if status(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "failed to read filter expression") {
			t.Errorf("filter %s: %v, want a 400", filter, err)
		}
	}
}

func TestAnUnimplementedEndpointAnswers501(t *testing.T) {
	s := nomadfake.New(t)
	c := s.Client()
	mustRegister(t, c, webJob("web-v1", "web:1", 1, nil), nil)

	calls := map[string]func() error{
		"GET /v1/job/web-v1/summary": func() error { _, _, err := c.Jobs().Summary("web-v1", nil); return err },
		"PUT /v1/job/web-v1/evaluate": func() error {
			_, _, err := c.Jobs().ForceEvaluate("web-v1", nil)
			return err
		},
		"GET /v1/nodes": func() error { _, _, err := c.Nodes().List(nil); return err },
		"GET /v1/job/web-v1/versions": func() error {
			_, _, _, err := c.Jobs().VersionsOpts("web-v1", &api.VersionsOptions{DiffTag: "prod"}, nil)
			return err
		},
		"GET /v1/jobs": func() error { _, _, err := c.Jobs().List(&api.QueryOptions{Reverse: true}); return err },
	}
	for name, call := range calls {
		err := call()
		if status(err) != http.StatusNotImplemented {
			t.Errorf("%s: %v, want a 501", name, err)
		}
	}
	if err := calls["GET /v1/nodes"](); !strings.Contains(err.Error(), "GET /v1/nodes is not implemented") {
		t.Errorf("the 501 does not name the method and path: %v", err)
	}
}

func TestAPlanShowsWhatARegisterWouldChange(t *testing.T) {
	s := nomadfake.New(t)
	c := s.Client()
	base := func() *api.Job { return webJob("web", "web:1", 2, map[string]string{"strata.version": "v1"}) }

	plan, _, err := c.Jobs().Plan(base(), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Diff.Type != "Added" || plan.Annotations.DesiredTGUpdates["web"].Place != 2 ||
		plan.Diff.TaskGroups[0].Updates["create"] != 2 || plan.JobModifyIndex != 0 {
		t.Errorf("plan of a new job: diff %s, updates %+v", plan.Diff.Type, plan.Annotations.DesiredTGUpdates["web"])
	}
	if got := s.JobIDs(""); len(got) != 0 {
		t.Errorf("a plan stored a job: %v", got)
	}

	reg := mustRegister(t, c, base(), nil)
	plan, _, err = c.Jobs().Plan(base(), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Diff.Type != "None" || plan.Annotations.DesiredTGUpdates["web"].Ignore != 2 || plan.JobModifyIndex != reg.JobModifyIndex {
		t.Errorf("plan of the same job: diff %s, updates %+v", plan.Diff.Type, plan.Annotations.DesiredTGUpdates["web"])
	}

	image := base()
	image.TaskGroups[0].Tasks[0].SetConfig("image", "web:2")
	plan, _, err = c.Jobs().Plan(image, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	tg := plan.Diff.TaskGroups[0]
	task := tg.Tasks[0]
	if plan.Diff.Type != "Edited" || tg.Type != "Edited" || task.Type != "Edited" ||
		len(task.Objects) != 1 || task.Objects[0].Name != "Config" ||
		fmt.Sprint(*task.Objects[0].Fields[0]) != fmt.Sprint(api.FieldDiff{Type: "Edited", Name: "image", Old: "web:1", New: "web:2"}) ||
		!slices.Equal(task.Annotations, []string{"forces create/destroy update"}) {
		t.Errorf("plan of a new image: %s / %s / %+v", plan.Diff.Type, tg.Type, task)
	}
	// The group's update block has max_parallel 1: Nomad replaces one
	// allocation at a time and ignores the other for now (recorded:
	// created_meta).
	if u := plan.Annotations.DesiredTGUpdates["web"]; u.DestructiveUpdate != 1 || u.Ignore != 1 || u.Place != 0 {
		t.Errorf("updates for a new image = %+v", u)
	}

	priority := base()
	priority.Priority = new(60)
	plan, _, err = c.Jobs().Plan(priority, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Diff.Fields) != 1 || fmt.Sprint(*plan.Diff.Fields[0]) != fmt.Sprint(api.FieldDiff{Type: "Edited", Name: "Priority", Old: "50", New: "60"}) ||
		plan.Annotations.DesiredTGUpdates["web"].InPlaceUpdate != 2 {
		t.Errorf("plan of a new priority: fields %+v, updates %+v", plan.Diff.Fields, plan.Annotations.DesiredTGUpdates["web"])
	}

	scaled := base()
	scaled.Meta["strata.owner"] = "team-a"
	scaled.TaskGroups[0].Count = new(3)
	scaled.TaskGroups[0].Tasks[0].Env["PORT"] = "9090"
	plan, _, err = c.Jobs().Plan(scaled, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Diff.Fields) != 1 || plan.Diff.Fields[0].Name != "Meta[strata.owner]" || plan.Diff.Fields[0].Type != "Added" {
		t.Errorf("job fields for a new meta key = %+v", plan.Diff.Fields)
	}
	tg = plan.Diff.TaskGroups[0]
	if len(tg.Fields) != 1 || tg.Fields[0].Name != "Count" || tg.Fields[0].New != "3" {
		t.Errorf("group fields for a new count = %+v", tg.Fields)
	}
	if f := tg.Tasks[0].Fields; len(f) != 1 || f[0].Name != "Env[PORT]" || f[0].Old != "8080" || f[0].New != "9090" {
		t.Errorf("task fields for a new env = %+v", f)
	}
	if u := plan.Annotations.DesiredTGUpdates["web"]; u.Place != 1 || u.DestructiveUpdate != 1 || u.Ignore != 1 {
		t.Errorf("updates for a scale-up with a new env = %+v", u)
	}
	if got := tg.Updates; got["create"] != 1 || got["create/destroy update"] != 1 || got["ignore"] != 1 || len(got) != 3 {
		t.Errorf("group updates = %v", got)
	}

	stopped := base()
	stopped.Stop = new(true)
	plan, _, err = c.Jobs().Plan(stopped, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Diff != nil || plan.Annotations.DesiredTGUpdates["web"].Stop != 2 {
		t.Errorf("plan of a stop without a diff: diff %v, updates %+v", plan.Diff, plan.Annotations.DesiredTGUpdates["web"])
	}
}

func TestDeploymentsFollowRegistersAndTheTestDrivesThem(t *testing.T) {
	s := nomadfake.New(t)
	c := s.Client()
	reg := mustRegister(t, c, webJob("web-v1", "web:1", 2, nil), nil)

	d, _, err := c.Jobs().LatestDeployment("web-v1", nil)
	if err != nil || d == nil {
		t.Fatalf("latest deployment = %v, %v", d, err)
	}
	if d.Status != api.DeploymentStatusRunning || d.JobVersion != 0 || d.TaskGroups["web"].DesiredTotal != 2 {
		t.Errorf("new deployment = %+v", d)
	}
	if eval, _, err := c.Evaluations().Info(reg.EvalID, nil); err != nil || eval.DeploymentID != d.ID {
		t.Errorf("the register's evaluation does not name the deployment: %+v, %v", eval, err)
	}
	// Placed at once, as Nomad's scheduler does, health not yet known.
	if allocs, _, err := c.Jobs().Allocations("web-v1", false, nil); err != nil || len(allocs) != 2 ||
		allocs[0].ClientStatus != "running" || allocs[0].DeploymentStatus != nil {
		t.Errorf("allocations of a new deployment = %v, %v", allocs, err)
	}

	s.SetDeploymentHealth("web-v1", 2, 2, 1, 1)
	d = mustDeployment(t, s, d.ID)
	if st := d.TaskGroups["web"]; st.PlacedAllocs != 2 || st.HealthyAllocs != 1 || st.UnhealthyAllocs != 1 {
		t.Errorf("deployment state = %+v", st)
	}
	allocs, _, err := c.Jobs().Allocations("web-v1", false, nil)
	if err != nil || len(allocs) != 2 {
		t.Fatalf("allocations = %v, %v", allocs, err)
	}
	var healthy, unhealthy int
	for _, a := range allocs {
		switch {
		case a.DeploymentStatus.Healthy == nil:
		case *a.DeploymentStatus.Healthy && a.ClientStatus == "running":
			healthy++
		case !*a.DeploymentStatus.Healthy && a.ClientStatus == "failed":
			unhealthy++
		}
		if a.TaskGroup != "web" || a.JobVersion != 0 || a.DesiredStatus != "run" {
			t.Errorf("allocation = %+v", a)
		}
	}
	if healthy != 1 || unhealthy != 1 {
		t.Errorf("allocations: %d healthy, %d unhealthy; want 1 and 1", healthy, unhealthy)
	}
	stubs, _, _ := c.Jobs().List(nil)
	if sum := stubs[0].JobSummary.Summary["web"]; sum.Running != 1 || sum.Failed != 1 {
		t.Errorf("job summary = %+v", sum)
	}

	s.SetDeploymentHealth("web-v1", 2, 2, 2, 0)
	s.SetDeploymentStatus(d.ID, api.DeploymentStatusSuccessful, "Deployment completed successfully")
	if d = mustDeployment(t, s, d.ID); d.Status != "successful" || d.StatusDescription != "Deployment completed successfully" {
		t.Errorf("deployment after success = %+v", d)
	}
	if job, _ := s.Job("", "web-v1"); !*job.Stable || *job.Version != 0 {
		t.Errorf("a successful deployment leaves the version stable %v, version %d", *job.Stable, *job.Version)
	}

	mustRegister(t, c, webJob("web-v1", "web:2", 2, nil), nil)
	second, _, err := c.Jobs().LatestDeployment("web-v1", nil)
	if err != nil || second.ID == d.ID || second.JobVersion != 1 || second.Status != "running" {
		t.Fatalf("deployment of version 1 = %+v, %v", second, err)
	}
	mustRegister(t, c, webJob("web-v1", "web:3", 2, nil), nil)
	if second = mustDeployment(t, s, second.ID); second.Status != "cancelled" ||
		second.StatusDescription != "Cancelled due to newer version of job" {
		t.Errorf("a superseded deployment = %+v, %v", second, err)
	}
	if d = mustDeployment(t, s, d.ID); d.Status != "successful" {
		t.Errorf("a finished deployment changed: %+v, %v", d, err)
	}

	if _, _, err := c.Jobs().Deregister("web-v1", false, nil); err != nil {
		t.Fatal(err)
	}
	third, _, err := c.Jobs().LatestDeployment("web-v1", nil)
	if err != nil || third.Status != "cancelled" || third.StatusDescription != "Cancelled because job is stopped" {
		t.Errorf("the deployment of a stopped job = %+v, %v", third, err)
	}

	batch := webJob("nightly", "tool:1", 1, nil)
	batch.Type = new("batch")
	mustRegister(t, c, batch, nil)
	if d, _, err := c.Jobs().LatestDeployment("nightly", nil); d != nil || err != nil {
		t.Errorf("a batch job's deployment = %+v, %v; want nil, nil", d, err)
	}
	if _, ok := s.Deployment("nope"); ok {
		t.Errorf("a missing deployment was found")
	}
}

func TestABlockingQueryReturnsWhenTheStateChanges(t *testing.T) {
	s := nomadfake.New(t)
	c := s.Client()
	mustRegister(t, c, webJob("web-v1", "web:1", 1, nil), nil)
	d, qm, err := c.Jobs().LatestDeployment("web-v1", nil)
	if err != nil {
		t.Fatal(err)
	}

	type result struct {
		d   *api.Deployment
		qm  *api.QueryMeta
		err error
	}
	done := make(chan result, 1)
	go func() {
		d, qm, err := c.Jobs().LatestDeployment("web-v1", &api.QueryOptions{WaitIndex: qm.LastIndex, WaitTime: 10 * time.Second})
		done <- result{d, qm, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("the blocking query returned before any change: %+v", r)
	case <-time.After(100 * time.Millisecond):
	}
	s.SetDeploymentStatus(d.ID, api.DeploymentStatusFailed, "Failed due to unhealthy allocations")
	select {
	case r := <-done:
		if r.err != nil || r.d.Status != "failed" || r.qm.LastIndex <= qm.LastIndex {
			t.Errorf("blocking query = %+v, index %v, %v", r.d, r.qm, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the blocking query did not return after a change")
	}

	_, qm2, err := c.Jobs().Info("web-v1", &api.QueryOptions{WaitIndex: qm.LastIndex + 100, WaitTime: 20 * time.Millisecond})
	if err != nil || qm2.LastIndex > qm.LastIndex+100 {
		t.Errorf("a blocking query that times out = %+v, %v", qm2, err)
	}
}

func TestListParametersStrataDoesNotSendAre501(t *testing.T) {
	s := nomadfake.New(t)
	c := s.Client()
	mustRegister(t, c, webJob("web-v1", "web:1", 1, nil), nil)
	for _, q := range []*api.QueryOptions{{PerPage: 2}, {NextToken: "default.web-v1"}, {Prefix: "web"}} {
		if _, _, err := c.Jobs().List(q); status(err) != http.StatusNotImplemented {
			t.Errorf("list with %+v: %v, want 501", q, err)
		}
	}
}

func TestASeededJobIsVersionZeroWithItsSubmitTime(t *testing.T) {
	s := nomadfake.New(t)
	c := s.Client()
	seeded := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Like the sweeper's tests: only an ID, a type and meta.
	job := &api.Job{ID: new("web-v1"), Type: new("service"), Meta: managed("web", "v1")}
	s.AddJob(job, seeded)
	s.AddJob(webJob("web-v2", "web:2", 1, managed("web", "v2")), seeded.Add(time.Hour))
	if job.Version != nil || job.Namespace != nil {
		t.Error("AddJob changed the job it was given")
	}

	versions, _, _, err := c.Jobs().Versions("web-v1", false, nil)
	if err != nil || len(versions) != 1 || *versions[0].Version != 0 || *versions[0].SubmitTime != seeded.UnixNano() {
		t.Fatalf("versions of a seeded job = %v, %v", versions, err)
	}
	stubs, _, err := c.Jobs().List(&api.QueryOptions{Filter: `Meta["strata.managed"] == "true"`})
	if got := ids(stubs); err != nil || !slices.Equal(got, []string{"web-v1", "web-v2"}) {
		t.Errorf("seeded jobs listed = %v, %v", got, err)
	}
	if got := s.JobIDs("default"); !slices.Equal(got, []string{"web-v1", "web-v2"}) {
		t.Errorf("JobIDs = %v", got)
	}
	if d, _, err := c.Jobs().LatestDeployment("web-v2", nil); err != nil || d == nil || d.Status != "running" {
		t.Errorf("a seeded service job's deployment = %+v, %v", d, err)
	}
	if got := s.Calls(nomadfake.EndpointJobRegister); got != 0 {
		t.Errorf("seeding counted %d register calls", got)
	}
}

func TestConcurrentClientsAreSafe(t *testing.T) {
	s := nomadfake.New(t)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			c := s.Client()
			id := fmt.Sprintf("web-v%d", w)
			for i := range 10 {
				if _, _, err := c.Jobs().Register(webJob(id, fmt.Sprintf("web:%d", i), 1, managed("web", id)), nil); err != nil {
					t.Errorf("register: %v", err)
					return
				}
				s.SetDeploymentHealth(id, 1, 1, 1, 0)
				if _, _, err := c.Jobs().List(&api.QueryOptions{Filter: `Meta["strata.managed"] == "true"`}); err != nil {
					t.Errorf("list: %v", err)
				}
				if _, _, err := c.Jobs().Allocations(id, false, nil); err != nil {
					t.Errorf("allocations: %v", err)
				}
			}
			if _, _, err := c.Jobs().Deregister(id, w%2 == 0, nil); err != nil {
				t.Errorf("deregister: %v", err)
			}
		})
	}
	wg.Wait()
	if got := len(s.JobIDs("default")); got != 4 {
		t.Errorf("%d jobs left, want the 4 stopped ones", got)
	}
	if got := s.Calls(nomadfake.EndpointJobRegister); got != 80 {
		t.Errorf("register calls = %d, want 80", got)
	}
}

// recordingTB records the errors the fake reports instead of failing.
type recordingTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestMisusingTheFakeFailsTheTest(t *testing.T) {
	rec := &recordingTB{TB: t}
	s := nomadfake.New(rec)
	s.AddJob(webJob("web-v1", "web:1", 1, nil), time.Now())
	s.AddJob(webJob("web-v1", "web:1", 1, nil), time.Now())
	s.AddJob(&api.Job{}, time.Now())
	s.FailNext("GET /v1/nodes", 500, 1)
	s.FailNext(nomadfake.EndpointJobList, 200, 1)
	s.SetDeploymentStatus("nope", api.DeploymentStatusSuccessful, "")
	s.SetDeploymentStatus("nope", "done", "")
	s.SetDeploymentHealth("web-v1", 1, 1, 1, 1)
	s.SetDeploymentHealth("missing", 1, 1, 1, 0)
	want := []string{"already exists", "needs an ID", "unknown endpoint", "not an error status",
		"no deployment", "not a deployment status", "healthy+unhealthy <= placed", "has no deployment"}
	if len(rec.errs) != len(want) {
		t.Fatalf("errors = %q, want %d", rec.errs, len(want))
	}
	for i, w := range want {
		if !strings.Contains(rec.errs[i], w) {
			t.Errorf("error %d = %q, want %q", i, rec.errs[i], w)
		}
	}
	// Cancelling needs no status.
	s.FailNext(nomadfake.EndpointJobList, 0, 0)
	if len(rec.errs) != len(want) {
		t.Errorf("cancelling failures reported %q", rec.errs[len(want):])
	}
}
