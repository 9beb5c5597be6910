package planview_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/nomadrec"
	"github.com/strata-dev/strata/internal/planview"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// load reads one exchange recorded between a client and Nomad 2.0.6, by
// its path among the recordings (see internal/nomadrec).
func load(t *testing.T, name string) nomadrec.Exchange {
	t.Helper()
	ex, err := nomadrec.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

// planned is the job and Nomad's plan of one recorded plan request of the
// recordings' plan/.
func planned(t *testing.T, name string) planview.Job {
	t.Helper()
	r := load(t, "plan/"+name)
	var req struct{ Job api.Job }
	if err := json.Unmarshal(r.RequestBody, &req); err != nil {
		t.Fatalf("%s: request: %v", name, err)
	}
	var resp api.JobPlanResponse
	if err := json.Unmarshal(r.ResponseBody, &resp); err != nil {
		t.Fatalf("%s: response: %v", name, err)
	}
	return planview.Job{ID: *req.Job.ID, App: req.Job.Meta[naming.MetaApp], Version: req.Job.Meta[naming.MetaVersion], Plan: &resp}
}

// clusterJobs is the managed jobs of a job list recorded in plan/.
func clusterJobs(t *testing.T, name string) []planview.Seen {
	t.Helper()
	var stubs []api.JobListStub
	if err := json.Unmarshal(load(t, "plan/"+name).ResponseBody, &stubs); err != nil {
		t.Fatal(err)
	}
	var out []planview.Seen
	for _, s := range stubs {
		out = append(out, planview.Seen{ID: s.ID, App: s.Meta[naming.MetaApp], Version: s.Meta[naming.MetaVersion], Stopped: s.Stop})
	}
	return out
}

// TestJobDiffPrintsWhatNomadJobPlanPrints renders every recorded plan that
// `nomad job plan` made and compares it with what the command printed,
// before its "Scheduler dry-run" part: the same markers, alignment, task
// group lines and fields.
func TestJobDiffPrintsWhatNomadJobPlanPrints(t *testing.T) {
	files, err := nomadrec.Glob("plan/0*_plan.json")
	if err != nil {
		t.Fatal(err)
	}
	compared := 0
	for _, f := range files {
		r := load(t, f)
		change, job, ok := strings.Cut(r.Scenario, ": nomad job plan ")
		if !ok {
			continue
		}
		t.Run(change+"/"+job, func(t *testing.T) {
			printed, err := nomadrec.ReadFile("plan/cli/" + change + ".nomad-plan." + job + ".txt")
			if err != nil {
				t.Fatal(err)
			}
			want, _, ok := strings.Cut(string(printed), "\n\nScheduler dry-run:")
			if !ok {
				t.Fatalf("no dry-run part in %s", printed)
			}
			got := planview.JobDiff(planned(t, path.Base(f)).Plan.Diff)
			if got != want {
				t.Errorf("JobDiff differs from nomad job plan:\n--- got\n%s\n--- nomad job plan\n%s", got, want)
			}
		})
		compared++
	}
	if compared < 30 {
		t.Fatalf("only %d recorded nomad job plan outputs compared", compared)
	}
}

func TestUpdateLine(t *testing.T) {
	for _, c := range []struct {
		name    string
		updates map[string]uint64
		want    string
	}{
		{"a destructive update with an ignored allocation lists both, create/destroy before ignore", map[string]uint64{"ignore": 1, "create/destroy update": 1}, "1 create/destroy update, 1 ignore"},
		{"a create sorts before a create/destroy update", map[string]uint64{"create/destroy update": 1, "create": 1}, "1 create, 1 create/destroy update"},
		{"a count change creates and updates in place", map[string]uint64{"in-place update": 2, "create": 1}, "1 create, 2 in-place update"},
		{"zero counts are left out", map[string]uint64{"ignore": 2, "destroy": 0}, "2 ignore"},
		{"no updates is an empty line", nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := planview.UpdateLine(c.updates); got != c.want {
				t.Errorf("UpdateLine(%v) = %q, want %q", c.updates, got, c.want)
			}
		})
	}
}

// scenario is one recorded `strata plan --format text` run: the plan
// requests strata made and the job list it read, in the recordings' plan/.
type scenario struct {
	name  string
	plans []string
	list  string
	// edit changes the recorded jobs, to show what the recordings lack.
	edit func(t *testing.T, jobs []planview.Job) []planview.Job
}

var scenarios = []scenario{
	{name: "baseline_no_change", plans: []string{"0011-PUT-job_web-v1_plan.json", "0012-PUT-job_web-v2_plan.json", "0013-PUT-job_strata-haproxy_plan.json", "0014-PUT-job_strata-sweeper_plan.json"}, list: "0015-GET-jobs.json"},
	{name: "add_version_v3", plans: []string{"0028-PUT-job_web-v1_plan.json", "0029-PUT-job_web-v2_plan.json", "0030-PUT-job_web-v3_plan.json", "0031-PUT-job_strata-haproxy_plan.json", "0032-PUT-job_strata-sweeper_plan.json"}, list: "0033-GET-jobs.json"},
	{name: "add_env_var", plans: []string{"0084-PUT-job_web-v1_plan.json", "0085-PUT-job_web-v2_plan.json", "0086-PUT-job_strata-haproxy_plan.json", "0087-PUT-job_strata-sweeper_plan.json"}, list: "0088-GET-jobs.json"},
	{name: "created_meta", plans: []string{"0174-PUT-job_web-v1_plan.json", "0175-PUT-job_web-v2_plan.json", "0176-PUT-job_strata-haproxy_plan.json", "0177-PUT-job_strata-sweeper_plan.json"}, list: "0178-GET-jobs.json"},
	{name: "routing_bind_8080_to_8081", plans: []string{"0189-PUT-job_web-v1_plan.json", "0190-PUT-job_web-v2_plan.json", "0191-PUT-job_strata-haproxy_plan.json", "0192-PUT-job_strata-sweeper_plan.json"}, list: "0193-GET-jobs.json"},
	{name: "stopped_web_v1", plans: []string{"0219-PUT-job_web-v1_plan.json", "0220-PUT-job_web-v2_plan.json", "0221-PUT-job_strata-haproxy_plan.json", "0222-PUT-job_strata-sweeper_plan.json"}, list: "0223-GET-jobs.json"},
	{name: "purged_web_v2", plans: []string{"0236-PUT-job_web-v1_plan.json", "0237-PUT-job_web-v2_plan.json", "0238-PUT-job_strata-haproxy_plan.json", "0239-PUT-job_strata-sweeper_plan.json"}, list: "0240-GET-jobs.json"},
	{
		// No recorded plan has a warning: web-v3's plan is given the
		// warning Nomad's validation gave for memory_max (the plan
		// endpoint returns the same warnings as validation).
		name: "warning_memory_max", plans: []string{"0028-PUT-job_web-v1_plan.json", "0029-PUT-job_web-v2_plan.json", "0030-PUT-job_web-v3_plan.json"}, list: "0033-GET-jobs.json",
		edit: func(t *testing.T, jobs []planview.Job) []planview.Job {
			var v struct{ Warnings string }
			if err := json.Unmarshal(load(t, "validate/0108-PUT-validate_job.json").ResponseBody, &v); err != nil || v.Warnings == "" {
				t.Fatalf("no warning recorded: %v", err)
			}
			jobs[2].Plan.Warnings = v.Warnings
			return jobs
		},
	},
	{
		// web-v2 is refused with the error text Nomad gave when strata
		// registered a job with a kill_timeout above its progress
		// deadline (the plan endpoint validates as register does); web-v1
		// is still planned and shown.
		name: "failed_web_v2", plans: []string{"0084-PUT-job_web-v1_plan.json", "0085-PUT-job_web-v2_plan.json"}, list: "0088-GET-jobs.json",
		edit: func(t *testing.T, jobs []planview.Job) []planview.Job {
			r := load(t, "lifecycle/0140-PUT-jobs.json")
			jobs[1].Plan = nil
			jobs[1].Error = planview.NomadError(unexpected(t, r.Status, r.ResponseText))
			return jobs
		},
	},
}

func (s scenario) jobs(t *testing.T) ([]planview.Job, []planview.Seen) {
	var jobs []planview.Job
	for _, p := range s.plans {
		jobs = append(jobs, planned(t, p))
	}
	if s.edit != nil {
		jobs = s.edit(t, jobs)
	}
	cluster := clusterJobs(t, s.list)
	// examples/local/strata.yaml, which the recordings planned, has live v2.
	planview.MarkReturns(jobs, cluster, map[string]string{"web": "v2"}, naming.CompareVersions)
	return jobs, cluster
}

// TestGolden writes every scenario in each format and compares it with
// testdata/golden; -update rewrites them.
func TestGolden(t *testing.T) {
	for _, s := range scenarios {
		jobs, _ := s.jobs(t)
		var js bytes.Buffer
		enc := json.NewEncoder(&js)
		enc.SetIndent("", "  ")
		if err := enc.Encode(jobs); err != nil {
			t.Fatal(err)
		}
		for ext, out := range map[string]string{
			"txt":  planview.Text(jobs, nil),
			"md":   planview.Markdown(jobs, nil),
			"json": js.String(),
		} {
			golden := filepath.Join("testdata", "golden", s.name+"."+ext)
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if out != string(want) {
				t.Errorf("%s differs from %s; run go test -update and review the diff:\n%s", s.name+"."+ext, golden, out)
			}
		}
	}
}

// unexpected is the error nomad/api returns for an answer with status and
// body: made by the client itself from a test server's answer.
func unexpected(t *testing.T, status int, body string) error {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	defer srv.Close()
	client, err := api.NewClient(&api.Config{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = client.Jobs().Plan(&api.Job{ID: new(string)}, true, nil)
	if err == nil {
		t.Fatal("no error for an answer with status", status)
	}
	return err
}

func TestNomadErrorKeepsNomadsTextWithoutItsTrailingBlankLines(t *testing.T) {
	r := load(t, "lifecycle/0140-PUT-jobs.json")
	got := planview.NomadError(unexpected(t, r.Status, r.ResponseText))
	want := "Nomad answered 500: 1 error occurred:\n\t* Task group web validation failed: 1 error occurred:\n\t* Task web validation failed: 1 error occurred:\n\t* KillTimout (30s) longer than the group's ProgressDeadline (20s)"
	if got != want {
		t.Errorf("NomadError = %q, want %q", got, want)
	}
}

func TestMarkReturns(t *testing.T) {
	plan := func(typ string, creates uint64) *api.JobPlanResponse {
		return &api.JobPlanResponse{Diff: &api.JobDiff{Type: typ, TaskGroups: []*api.TaskGroupDiff{{Type: "None", Name: "web", Updates: map[string]uint64{"create": creates}}}}}
	}
	for _, c := range []struct {
		name    string
		job     planview.Job
		cluster []planview.Seen
		live    string
		want    string
	}{
		{"a stopped job run again starts its allocations again",
			planview.Job{ID: "web-v1", App: "web", Version: "v1", Plan: plan("Edited", 2)},
			[]planview.Seen{{ID: "web-v1", App: "web", Version: "v1", Stopped: true}}, "v2", "stopped"},
		{"a running job that changes is not a return",
			planview.Job{ID: "web-v1", App: "web", Version: "v1", Plan: plan("Edited", 1)},
			[]planview.Seen{{ID: "web-v1", App: "web", Version: "v1"}}, "v2", ""},
		{"a new version, newest of its app and not live, is just new",
			planview.Job{ID: "web-v3", App: "web", Version: "v3", Plan: plan("Added", 2)},
			[]planview.Seen{{ID: "web-v1", App: "web", Version: "v1"}, {ID: "web-v2", App: "web", Version: "v2"}}, "v2", ""},
		{"an absent version older than one in the cluster was purged",
			planview.Job{ID: "web-v9", App: "web", Version: "v9", Plan: plan("Added", 2)},
			[]planview.Seen{{ID: "web-v10", App: "web", Version: "v10", Stopped: true}}, "v10", "purged"},
		{"an absent version that strata.yaml makes live was purged",
			planview.Job{ID: "web-v2", App: "web", Version: "v2", Plan: plan("Added", 2)},
			[]planview.Seen{{ID: "web-v1", App: "web", Version: "v1"}}, "v2", "purged"},
		{"a newer version of another app is no evidence",
			planview.Job{ID: "web-v2", App: "web", Version: "v2", Plan: plan("Added", 2)},
			[]planview.Seen{{ID: "api-v7", App: "api", Version: "v7"}}, "v1", ""},
		{"a job Nomad refused to plan is not a return",
			planview.Job{ID: "web-v2", App: "web", Version: "v2", Error: "Nomad answered 500"},
			nil, "v2", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			jobs := []planview.Job{c.job}
			planview.MarkReturns(jobs, c.cluster, map[string]string{"web": c.live}, naming.CompareVersions)
			got := ""
			if jobs[0].Return != nil {
				got = jobs[0].Return.Was
				if jobs[0].Return.Allocations != 2 {
					t.Errorf("allocations %d, want 2", jobs[0].Return.Allocations)
				}
			}
			if got != c.want {
				t.Errorf("return %q, want %q", got, c.want)
			}
		})
	}
}

func TestSessionCuts(t *testing.T) {
	destructive := func(id, app string) planview.Job {
		return planview.Job{ID: id, App: app, Kind: "web", Plan: &api.JobPlanResponse{Diff: &api.JobDiff{Type: "Edited", TaskGroups: []*api.TaskGroupDiff{{Name: "g", Updates: map[string]uint64{"create/destroy update": 1, "ignore": 1}}}}}}
	}
	inPlace := planview.Job{ID: "web-v3", App: "web", Plan: &api.JobPlanResponse{Diff: &api.JobDiff{Type: "Edited", TaskGroups: []*api.TaskGroupDiff{{Name: "g", Updates: map[string]uint64{"in-place update": 2}}}}}}
	for _, c := range []struct {
		name string
		jobs []planview.Job
		want []string
	}{
		{"an in-place update cuts no session", []planview.Job{inPlace}, nil},
		{"destructive updates of two versions of one app are one sentence",
			[]planview.Job{destructive("web-v1", "web"), inPlace, destructive("web-v2", "web")},
			[]string{"Restarts 2 running versions of web (web-v1, web-v2), replacing their allocations: their sessions are cut"}},
		{"one version is said in the singular",
			[]planview.Job{destructive("api-v7", "api")},
			[]string{"Restarts 1 running version of api (api-v7), replacing its allocations: its sessions are cut"}},
		{"a worker's restart interrupts its work, not sessions",
			[]planview.Job{func() planview.Job { j := destructive("transcoder-v2", "transcoder"); j.Kind = "worker"; return j }()},
			[]string{"Restarts 1 running version of transcoder (transcoder-v2), replacing its allocations: its work in progress is interrupted"}},
		{"the sweeper's restart cuts nothing", []planview.Job{destructive("strata-sweeper", "")}, nil},
		{"the HAProxy job cuts every app's sessions",
			[]planview.Job{destructive("strata-haproxy", "")},
			[]string{"Replaces the allocations of strata-haproxy: every session HAProxy holds (websockets, streams) is cut, on every node"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := planview.SessionCuts(c.jobs)
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("SessionCuts = %q, want %q", got, c.want)
			}
		})
	}
}
