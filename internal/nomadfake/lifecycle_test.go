package nomadfake_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/nomadfake"
)

// checkHeaders requires every header Nomad answered with (but the
// transport's own) on the fake's answer, and the same X-Nomad-Index where
// Nomad's was 0.
func checkHeaders(t *testing.T, ex exchange, got answer) {
	t.Helper()
	for k, v := range ex.ResponseHeaders {
		if got.header.Get(k) == "" {
			t.Errorf("%04d %s %s: no header %s (Nomad sent %q)", ex.Seq, ex.Method, ex.Path, k, v)
		}
		if k == "X-Nomad-Index" && v == "0" && got.header.Get(k) != "0" {
			t.Errorf("%04d %s %s: X-Nomad-Index %q, Nomad's 0", ex.Seq, ex.Method, ex.Path, got.header.Get(k))
		}
	}
	for k := range got.header {
		if strings.HasPrefix(k, "X-Nomad-") {
			if _, ok := ex.ResponseHeaders[k]; !ok {
				t.Errorf("%04d %s %s: header %s, which Nomad does not send here", ex.Seq, ex.Method, ex.Path, k)
			}
		}
	}
}

// replay sends a recorded exchange and compares status, error text,
// headers and shape.
func replay(t *testing.T, s *nomadfake.Server, file string) (exchange, answer) {
	t.Helper()
	ex := loadExchange(t, file)
	got := send(t, s, ex)
	checkStatusAndText(t, ex, got)
	checkHeaders(t, ex, got)
	if ex.Status < 300 && got.status < 300 {
		checkShape(t, file, decodeJSON(t, ex.ResponseBody), got.json(t))
	}
	return ex, got
}

// recordedCluster sets the fake up as the recordings' cluster was: the four
// examples/local jobs registered as the recorded `nomad job run` sent them,
// then web-v1 stopped and run again, so that it has three versions.
func recordedCluster(t *testing.T) *nomadfake.Server {
	s := nomadfake.New(t)
	for _, f := range []string{"plan/0001-PUT-jobs.json", "plan/0002-PUT-jobs.json", "plan/0003-PUT-jobs.json",
		"plan/0004-PUT-jobs.json", "plan/0212-DELETE-job_web-v1.json", "plan/0226-PUT-jobs.json"} {
		replay(t, s, f)
	}
	return s
}

func TestAMissingJobIs404JobNotFoundWithTheIndexHeaders(t *testing.T) {
	s := recordedCluster(t)
	replay(t, s, "lifecycle/0114-GET-job_nosuch.json")
}

func TestJobVersionsCarryNomadsDiffs(t *testing.T) {
	s := recordedCluster(t)
	for _, f := range []string{"lifecycle/0002-GET-job_web-v1_versions.json", "lifecycle/0115-GET-job_web-v1_versions.json"} {
		ex, got := replay(t, s, f)
		var want, have struct {
			Versions []*api.Job
			Diffs    []*api.JobDiff
		}
		if err := json.Unmarshal(ex.ResponseBody, &want); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(got.body, &have); err != nil {
			t.Fatal(err)
		}
		versions := func(js []*api.Job) string {
			var out []string
			for _, j := range js {
				out = append(out, fmt.Sprintf("v%d stop=%v", *j.Version, *j.Stop))
			}
			return strings.Join(out, ", ")
		}
		if w, h := versions(want.Versions), versions(have.Versions); w != h {
			t.Errorf("%s: versions %s, Nomad's %s", f, h, w)
		}
		if len(have.Diffs) != len(want.Diffs) {
			t.Fatalf("%s: %d diffs, Nomad's %d", f, len(have.Diffs), len(want.Diffs))
		}
		for i := range want.Diffs {
			if w, h := diffLines(want.Diffs[i]), diffLines(have.Diffs[i]); strings.Join(w, "\n") != strings.Join(h, "\n") {
				t.Errorf("%s: diff %d differs at %s", f, i, firstDifference(h, w))
			}
		}
	}
}

func TestTheFilteredJobListHoldsOnlyManagedJobsWithTheirMeta(t *testing.T) {
	s := recordedCluster(t)
	for _, f := range []string{"lifecycle/0001-GET-jobs.json", "lifecycle/0116-GET-jobs.json"} {
		_, got := replay(t, s, f)
		var stubs []*api.JobListStub
		if err := json.Unmarshal(got.body, &stubs); err != nil {
			t.Fatal(err)
		}
		var listed []string
		for _, st := range stubs {
			listed = append(listed, st.ID)
			if st.Meta["strata.managed"] != "true" {
				t.Errorf("%s: %s listed without its meta: %v", f, st.ID, st.Meta)
			}
		}
		if strings.Join(listed, " ") != "web-v1 web-v2" {
			t.Errorf("%s: listed %v, want the managed jobs web-v1 web-v2", f, listed)
		}
	}
}

func TestABlockingQueryThatTimesOutAnswersTheSameIndex(t *testing.T) {
	s := recordedCluster(t)
	_, first := replay(t, s, "lifecycle/0117-GET-jobs.json")
	index := first.header.Get("X-Nomad-Index")
	ex := loadExchange(t, "lifecycle/0118-GET-jobs.json")
	// Nomad was asked to wait 2s; the fake is asked 50ms, the outcome is
	// the same: nothing changed, so the same index and the same list.
	got := sendRaw(t, s, ex.Method, ex.Path, url.Values{"index": {index}, "wait": {"50ms"}}, nil)
	checkStatusAndText(t, ex, got)
	checkHeaders(t, ex, got)
	if got.header.Get("X-Nomad-Index") != index {
		t.Errorf("a timed-out blocking query answered index %s, not %s", got.header.Get("X-Nomad-Index"), index)
	}
	if string(got.body) != string(first.body) {
		t.Errorf("a timed-out blocking query answered a different list")
	}
}

func TestStoppingPurgingAndPurgingAgainAnswerAsNomad(t *testing.T) {
	s := recordedCluster(t)
	replay(t, s, "lifecycle/0003-PUT-jobs.json")
	_, stop := replay(t, s, "lifecycle/0134-DELETE-job_web-v3.json")
	_, purge := replay(t, s, "lifecycle/0135-DELETE-job_web-v3.json")
	for _, a := range []answer{stop, purge} {
		var resp api.JobDeregisterResponse
		if err := json.Unmarshal(a.body, &resp); err != nil || resp.EvalID == "" {
			t.Errorf("a deregister made no evaluation: %s", a.body)
		}
	}
	replay(t, s, "lifecycle/0136-GET-job_web-v3.json")
	ex, again := replay(t, s, "lifecycle/0137-DELETE-job_web-v3.json")
	// Nothing in this answer depends on the cluster: it must be Nomad's,
	// byte for byte as JSON.
	if w, h := fmt.Sprint(decodeJSON(t, ex.ResponseBody)), fmt.Sprint(again.json(t)); w != h {
		t.Errorf("purging a purged job answered\n%s\nNomad answered\n%s", h, w)
	}
	if again.status != http.StatusOK {
		t.Errorf("status %d", again.status)
	}
}

func TestARegisterNomadRefusesIsRefusedWithNomadsText(t *testing.T) {
	s := nomadfake.New(t)
	replay(t, s, "lifecycle/0140-PUT-jobs.json")
	if ids := s.JobIDs(""); len(ids) != 0 {
		t.Errorf("a refused job was stored: %v", ids)
	}
}

func TestRegisterAndPlanCarryNomadsWarnings(t *testing.T) {
	ex := loadExchange(t, "validate/0108-PUT-validate_job.json")
	var validate struct {
		Job      *api.Job
		Warnings string
	}
	if err := json.Unmarshal(ex.RequestBody, &validate); err != nil {
		t.Fatal(err)
	}
	var verdict struct{ Warnings string }
	if err := json.Unmarshal(ex.ResponseBody, &verdict); err != nil {
		t.Fatal(err)
	}
	if verdict.Warnings == "" {
		t.Fatal("the recording has no warning")
	}
	s := nomadfake.New(t)
	c := s.Client()
	plan, _, err := c.Jobs().Plan(validate.Job, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Warnings != verdict.Warnings {
		t.Errorf("plan warnings %q, Nomad's %q", plan.Warnings, verdict.Warnings)
	}
	resp, _, err := c.Jobs().Register(validate.Job, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Warnings != verdict.Warnings {
		t.Errorf("register warnings %q, Nomad's %q", resp.Warnings, verdict.Warnings)
	}
}

// TestAJobReadsBackAsNomadStoresIt compares the fake's GET /v1/job/<id>
// with Nomad's, value by value, for the HAProxy job as `nomad job run`
// registered it: the defaults Nomad's server adds (the Consul constraint, a
// workload identity, check names, host networks, zero resources) included.
// Indexes, times and stability are the cluster's own; a service's
// Namespace is a field nomad/api lacks.
func TestAJobReadsBackAsNomadStoresIt(t *testing.T) {
	s := recordedCluster(t)
	ex, got := replay(t, s, "plan/0010-GET-job_strata-haproxy.json")
	var want, have map[string]any
	if err := json.Unmarshal(ex.ResponseBody, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got.body, &have); err != nil {
		t.Fatal(err)
	}
	skip := map[string]bool{".CreateIndex": true, ".ModifyIndex": true, ".JobModifyIndex": true, ".SubmitTime": true, ".Stable": true}
	var walk func(path string, w, h any)
	walk = func(path string, w, h any) {
		if skip[path] {
			return
		}
		wm, ok1 := w.(map[string]any)
		hm, ok2 := h.(map[string]any)
		if ok1 && ok2 {
			for k := range wm {
				if _, ok := hm[k]; !ok && strings.HasSuffix(path, "]") && k == "Namespace" {
					continue
				}
				walk(path+"."+k, wm[k], hm[k])
			}
			return
		}
		wl, ok1 := w.([]any)
		hl, ok2 := h.([]any)
		if ok1 && ok2 && len(wl) == len(hl) {
			for i := range wl {
				walk(fmt.Sprintf("%s[%d]", path, i), wl[i], hl[i])
			}
			return
		}
		if !reflect.DeepEqual(w, h) && !(w == nil && isEmpty(h)) {
			wb, _ := json.Marshal(w)
			hb, _ := json.Marshal(h)
			t.Errorf("%s: fake %s, Nomad %s", path, shorten(string(hb)), shorten(string(wb)))
		}
	}
	walk("", want, have)
}

// TestADeploysEvaluationAndDeploymentAnswerAsNomad follows `strata deploy
// web v3` as recorded: the register's evaluation, the running deployment,
// then the successful one. Nomad placed and checked the allocations; here
// the test does, as Nomad's deployment watcher would.
func TestADeploysEvaluationAndDeploymentAnswerAsNomad(t *testing.T) {
	s := recordedCluster(t)
	_, reg := replay(t, s, "lifecycle/0003-PUT-jobs.json")
	var resp api.JobRegisterResponse
	if err := json.Unmarshal(reg.body, &resp); err != nil {
		t.Fatal(err)
	}
	ex := loadExchange(t, "lifecycle/0005-GET-evaluation_691b5658-b9f3-4641-2adc-91003b74ad89.json")
	got := sendRaw(t, s, ex.Method, "/v1/evaluation/"+resp.EvalID, ex.Query, nil)
	checkStatusAndText(t, ex, got)
	checkHeaders(t, ex, got)
	// Nomad's scheduler names the deployment on the evaluation when it
	// processes it; the recording caught it pending, the fake's is done.
	eval := got.json(t).(map[string]any)
	delete(eval, "DeploymentID")
	checkShape(t, "evaluation", decodeJSON(t, ex.ResponseBody), eval)
	want, have := decodeAs[*api.Evaluation](t, ex.ResponseBody), decodeAs[*api.Evaluation](t, got.body)
	if have.JobID != want.JobID || have.TriggeredBy != want.TriggeredBy || have.Type != want.Type ||
		have.Priority != want.Priority || have.Namespace != want.Namespace {
		t.Errorf("evaluation %+v, Nomad's %+v", have, want)
	}

	checkDeployment(t, s, "lifecycle/0006-GET-job_web-v3_deployment.json")
	d, _, err := s.Client().Jobs().LatestDeployment("web-v3", nil)
	if err != nil || d == nil {
		t.Fatalf("deployment: %v, %v", d, err)
	}
	s.SetDeploymentHealth("web-v3", 2, 2, 2, 0)
	s.SetDeploymentStatus(d.ID, api.DeploymentStatusSuccessful, "Deployment completed successfully")
	checkDeployment(t, s, "lifecycle/0019-GET-job_web-v3_deployment.json")
}
