package nomadrules

import (
	"encoding/json"
	"path"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/nomadrec"
)

// recordedCluster is the agent the recordings were made on: only the
// default namespace, and a node pool "spot" besides the built-in ones.
var recordedCluster = Cluster{Namespaces: []string{"default"}, NodePools: []string{"spot"}}

// TestRecordedValidations runs every job Nomad validated in the recordings
// through the rules and expects Nomad's answer, text included.
func TestRecordedValidations(t *testing.T) {
	exchanges, err := nomadrec.LoadAll("validate/*-PUT-validate_job.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(exchanges) < 100 {
		t.Fatalf("found %d recorded validations; expected the 143 of nomadrec's validate/", len(exchanges))
	}
	var rejected, warned int
	for _, ex := range exchanges {
		t.Run(path.Base(ex.File)+" "+ex.Scenario, func(t *testing.T) {
			var req api.JobValidateRequest
			if err := json.Unmarshal(ex.RequestBody, &req); err != nil {
				t.Fatal(err)
			}
			var want api.JobValidateResponse
			if err := json.Unmarshal(ex.ResponseBody, &want); err != nil {
				t.Fatal(err)
			}
			got := recordedCluster.Validate(req.Job)
			if !reflect.DeepEqual(*got.Response(), want) {
				t.Errorf("rules answer\n%#v\nNomad answered\n%#v", *got.Response(), want)
			}
			// Without a cluster, only the job's own rules apply.
			own := Validate(req.Job)
			var ownText string
			if err := own.Err(); err != nil {
				ownText = err.Error()
			}
			for _, e := range want.ValidationErrors {
				if strings.Contains(e, "nonexistent namespace") || strings.Contains(e, "nonexistent node pool") {
					continue
				}
				if !strings.Contains(ownText, e) {
					t.Errorf("Validate without a cluster misses %q", e)
				}
			}
		})
		if strings.Contains(string(ex.ResponseBody), `"ValidationErrors": [`) {
			rejected++
		}
		if !strings.Contains(string(ex.ResponseBody), `"Warnings": ""`) {
			warned++
		}
	}
	// The recordings hold both verdicts; a test of only accepted jobs
	// would prove little.
	if rejected == 0 || warned == 0 {
		t.Fatalf("%d rejected and %d warned jobs in the recordings; expected some of each", rejected, warned)
	}
}

func job(mod func(j *api.Job)) *api.Job {
	j := &api.Job{
		ID:          new("hello-v1"),
		Name:        new("hello-v1"),
		Type:        new(api.JobTypeService),
		Datacenters: []string{"dc1"},
		TaskGroups: []*api.TaskGroup{{
			Name:  new("hello"),
			Tasks: []*api.Task{{Name: "hello", Driver: "raw_exec", Config: map[string]any{"command": "/bin/hello"}}},
		}},
	}
	mod(j)
	return j
}

// TestRules names each rule with a job that breaks it and one that keeps it.
func TestRules(t *testing.T) {
	hour := time.Hour
	cases := []struct {
		name     string
		job      *api.Job
		errors   []string
		warnings []string
	}{
		{
			name: "a constraint without an operand is missing it and of an unknown type",
			job: job(func(j *api.Job) {
				j.Constraints = []*api.Constraint{{LTarget: "${attr.kernel.name}", RTarget: "linux"}}
			}),
			errors: []string{"Constraint 1 validation failed: 2 errors occurred:\n\t* Missing constraint operand\n\t* Unknown constraint type \"\"\n\n"},
		},
		{
			name: "a constraint with = is valid",
			job: job(func(j *api.Job) {
				j.Constraints = []*api.Constraint{{LTarget: "${attr.kernel.name}", Operand: "=", RTarget: "linux"}}
			}),
		},
		{
			name: "a kill timeout longer than the default progress deadline is refused",
			job: job(func(j *api.Job) {
				j.TaskGroups[0].Tasks[0].KillTimeout = &hour
			}),
			errors: []string{"Task group hello validation failed: 1 error occurred:\n\t* Task hello validation failed: 1 error occurred:\n\t* KillTimout (1h0m0s) longer than the group's ProgressDeadline (10m0s)\n\n\n\n"},
		},
		{
			name: "a kill timeout equal to the progress deadline is valid",
			job: job(func(j *api.Job) {
				j.TaskGroups[0].Tasks[0].KillTimeout = &hour
				j.Update = &api.UpdateStrategy{ProgressDeadline: &hour}
			}),
		},
		{
			name: "a progress deadline of 0 turns the kill timeout rule off",
			job: job(func(j *api.Job) {
				j.TaskGroups[0].Tasks[0].KillTimeout = &hour
				j.Update = &api.UpdateStrategy{ProgressDeadline: new(time.Duration(0))}
			}),
		},
		{
			name: "a batch job has no progress deadline to outlast",
			job: job(func(j *api.Job) {
				j.Type = new(api.JobTypeBatch)
				j.TaskGroups[0].Tasks[0].KillTimeout = &hour
			}),
		},
		{
			name: "memory below 10 MB is refused",
			job: job(func(j *api.Job) {
				j.TaskGroups[0].Tasks[0].Resources = &api.Resources{MemoryMB: new(5)}
			}),
			errors: []string{"Task group hello validation failed: 1 error occurred:\n\t* Task hello validation failed: 1 error occurred:\n\t* 1 error occurred:\n\t* 1 error occurred:\n\t* minimum MemoryMB value is 10; got 5\n\n\n\n\n\n\n\n"},
		},
		{
			name: "memory_max below memory is refused, and warned about",
			job: job(func(j *api.Job) {
				j.TaskGroups[0].Tasks[0].Resources = &api.Resources{MemoryMB: new(256), MemoryMaxMB: new(128)}
			}),
			errors:   []string{"Task group hello validation failed: 1 error occurred:\n\t* Task hello validation failed: 1 error occurred:\n\t* 1 error occurred:\n\t* MemoryMaxMB value (128) should be larger than MemoryMB value (256)\n\n\n\n\n\n"},
			warnings: []string{`Memory oversubscription is not enabled; Task "hello.hello" memory_max value will be ignored. Update the Scheduler Configuration to allow oversubscription.`},
		},
		{
			name: "min_healthy_time not shorter than healthy_deadline is refused",
			job: job(func(j *api.Job) {
				j.Update = &api.UpdateStrategy{MinHealthyTime: new(5 * time.Minute), HealthyDeadline: new(time.Minute)}
			}),
			errors: []string{"Task group hello validation failed: 1 error occurred:\n\t* Minimum healthy time must be less than healthy deadline: 5m0s > 1m0s\n\n"},
		},
		{
			name: "healthy_deadline not shorter than progress_deadline is refused",
			job: job(func(j *api.Job) {
				j.Update = &api.UpdateStrategy{HealthyDeadline: new(20 * time.Minute)}
			}),
			errors: []string{"Task group hello validation failed: 1 error occurred:\n\t* Healthy deadline must be less than progress deadline: 20m0s > 10m0s\n\n"},
		},
		{
			name: "a group service without a shutdown delay is warned about",
			job: job(func(j *api.Job) {
				j.TaskGroups[0].Services = []*api.Service{{Name: "hello"}}
			}),
			warnings: []string{`group "hello" defines services, but neither the group nor any of its tasks have shutdown_delay set`},
		},
		{
			name: "a task's shutdown delay is enough for the group's services",
			job: job(func(j *api.Job) {
				j.TaskGroups[0].Services = []*api.Service{{Name: "hello"}}
				j.TaskGroups[0].Tasks[0].ShutdownDelay = 5 * time.Second
			}),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, _ := json.Marshal(c.job)
			got := Validate(c.job)
			if !reflect.DeepEqual(got.Errors, c.errors) {
				t.Errorf("errors\n%q\nwant\n%q", got.Errors, c.errors)
			}
			if !reflect.DeepEqual(got.Warnings, c.warnings) {
				t.Errorf("warnings\n%q\nwant\n%q", got.Warnings, c.warnings)
			}
			if after, _ := json.Marshal(c.job); string(after) != string(before) {
				t.Errorf("Validate changed the job")
			}
		})
	}
}

func TestClusterRules(t *testing.T) {
	j := job(func(j *api.Job) { j.Namespace = new("media"); j.NodePool = new("edge") })
	got := Cluster{Namespaces: []string{"default"}, NodePools: []string{}}.Validate(j)
	want := []string{`job "hello-v1" is in nonexistent namespace "media"`, `job "hello-v1" is in nonexistent node pool "edge"`}
	if !reflect.DeepEqual(got.Errors, want) {
		t.Errorf("errors %q, want %q", got.Errors, want)
	}
	if got := Validate(j); got.Err() != nil {
		t.Errorf("the zero Cluster checked the cluster: %v", got.Err())
	}
}

func TestWarningsText(t *testing.T) {
	if got := (Result{Warnings: []string{"a", "b"}}).WarningsText(); got != "2 warnings:\n\n* a\n* b" {
		t.Errorf("got %q", got)
	}
	if got := (Result{}).WarningsText(); got != "" {
		t.Errorf("got %q", got)
	}
}

func TestOneLine(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"nested causes read as a path", "Task group web validation failed: 1 error occurred:\n\t* Task web validation failed: 1 error occurred:\n\t* KillTimout (1h0m0s) longer than the group's ProgressDeadline (10m0s)\n\n\n\n",
			"Task group web validation failed: Task web validation failed: KillTimout (1h0m0s) longer than the group's ProgressDeadline (10m0s)"},
		{"sibling causes are separated by semicolons", "Constraint 1 validation failed: 2 errors occurred:\n\t* Missing constraint operand\n\t* Unknown constraint type \"\"\n\n",
			"Constraint 1 validation failed: Missing constraint operand; Unknown constraint type \"\""},
		{"a plain error is unchanged", `job "a" is in nonexistent namespace "b"`, `job "a" is in nonexistent namespace "b"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := OneLine(tc.in); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
