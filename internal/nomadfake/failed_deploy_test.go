package nomadfake_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/nomadfake"
)

// registerRecorded sends a recorded register to the fake and checks it is
// accepted as Nomad accepted it.
func registerRecorded(t *testing.T, s *nomadfake.Server, file string) {
	t.Helper()
	ex := loadExchange(t, file)
	got := send(t, s, ex)
	checkStatusAndText(t, ex, got)
	checkShape(t, file, decodeJSON(t, ex.ResponseBody), got.json(t))
}

func decodeAs[T any](t *testing.T, raw []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

var restartDelay = regexp.MustCompile(`in [0-9.]+(ms|s|m)+`)

// eventLines are a task event as `nomad alloc status` shows it.
func eventLines(st *api.TaskState) []string {
	var out []string
	for _, e := range st.Events {
		// "Alloc Unhealthy" comes from the deployment's health watcher at
		// the healthy deadline, not from the task: where it falls among
		// the task's events depends on timing, so it is not compared.
		if e.Type == "Alloc Unhealthy" {
			continue
		}
		// Nomad adds jitter to the restart delay: "Task restarting in
		// 15.020298714s".
		out = append(out, e.Type+": "+restartDelay.ReplaceAllString(e.DisplayMessage, "in <delay>"))
	}
	return out
}

// checkDeployment compares the fake's latest deployment of a job with a
// recorded one.
func checkDeployment(t *testing.T, s *nomadfake.Server, file string) {
	t.Helper()
	ex := loadExchange(t, file)
	got := send(t, s, ex)
	checkStatusAndText(t, ex, got)
	checkShape(t, file, decodeJSON(t, ex.ResponseBody), got.json(t))
	want, have := decodeAs[*api.Deployment](t, ex.ResponseBody), decodeAs[*api.Deployment](t, got.body)
	if have.Status != want.Status || have.StatusDescription != want.StatusDescription {
		t.Errorf("%s: deployment %s %q, Nomad's %s %q", file, have.Status, have.StatusDescription, want.Status, want.StatusDescription)
	}
	for name, w := range want.TaskGroups {
		h := have.TaskGroups[name]
		if h == nil {
			t.Errorf("%s: no task group %s in the fake's deployment", file, name)
			continue
		}
		if h.DesiredTotal != w.DesiredTotal || h.PlacedAllocs != w.PlacedAllocs || h.HealthyAllocs != w.HealthyAllocs ||
			h.UnhealthyAllocs != w.UnhealthyAllocs || h.ProgressDeadline != w.ProgressDeadline {
			t.Errorf("%s: task group %s: fake %+v, Nomad %+v", file, name, *h, *w)
		}
	}
}

// allocSummary is what strata reads of an allocation in its list.
func allocSummary(a *api.AllocationListStub, byID map[string]*api.AllocationListStub) string {
	healthy := "unknown"
	if a.DeploymentStatus != nil && a.DeploymentStatus.Healthy != nil {
		healthy = fmt.Sprint(*a.DeploymentStatus.Healthy)
	}
	next := "-"
	if n := byID[a.NextAllocation]; n != nil {
		next = n.Name
	} else if a.NextAllocation != "" {
		next = "missing " + a.NextAllocation
	}
	var rescheduled int
	if a.RescheduleTracker != nil {
		rescheduled = len(a.RescheduleTracker.Events)
	}
	var tasks []string
	for name, st := range a.TaskStates {
		tasks = append(tasks, fmt.Sprintf("%s %s failed=%v restarts=%d", name, st.State, st.Failed, st.Restarts))
	}
	sort.Strings(tasks)
	return fmt.Sprintf("%s desired=%s client=%s (%s) healthy=%s next=%s rescheduled=%d %s",
		a.Name, a.DesiredStatus, a.ClientStatus, a.ClientDescription, healthy, next, rescheduled, strings.Join(tasks, ", "))
}

// checkAllocations compares the fake's allocation list with a recorded one.
// Nomad lists allocations by ID, which is random, so both lists are
// compared sorted by what they say.
func checkAllocations(t *testing.T, s *nomadfake.Server, file string) []*api.AllocationListStub {
	t.Helper()
	ex := loadExchange(t, file)
	got := send(t, s, ex)
	checkStatusAndText(t, ex, got)
	checkShape(t, file, decodeJSON(t, ex.ResponseBody), got.json(t))
	want, have := decodeAs[[]*api.AllocationListStub](t, ex.ResponseBody), decodeAs[[]*api.AllocationListStub](t, got.body)
	summaries := func(list []*api.AllocationListStub) []string {
		byID := map[string]*api.AllocationListStub{}
		for _, a := range list {
			byID[a.ID] = a
		}
		var out []string
		for _, a := range list {
			out = append(out, allocSummary(a, byID))
		}
		sort.Strings(out)
		return out
	}
	if w, h := summaries(want), summaries(have); !slices.Equal(w, h) {
		t.Errorf("%s: allocations differ\nfake:\n  %s\nNomad:\n  %s", file, strings.Join(h, "\n  "), strings.Join(w, "\n  "))
	}
	return have
}

func TestADeploymentFailedByItsProgressDeadlineAnswersAsNomad(t *testing.T) {
	s := nomadfake.New(t)
	registerRecorded(t, s, "lifecycle/0141-PUT-jobs.json")
	d, _, err := s.Client().Jobs().LatestDeployment("web-v8", nil)
	if err != nil || d == nil {
		t.Fatalf("deployment = %v, %v", d, err)
	}
	events := nomadfake.CrashLoopEvents(time.Unix(0, d.CreateTime), 1, 2, 15*time.Second, 30*time.Minute)
	s.FailDeployment("web-v8", "Failed due to progress deadline", events)

	checkDeployment(t, s, "lifecycle/0182-GET-job_web-v8_deployment.json")
	have := checkAllocations(t, s, "lifecycle/0183-GET-job_web-v8_allocations.json")

	recorded := decodeAs[[]*api.AllocationListStub](t, loadExchange(t, "lifecycle/0183-GET-job_web-v8_allocations.json").ResponseBody)
	want := eventLines(recorded[0].TaskStates["web"])
	for _, a := range have {
		got := eventLines(a.TaskStates["web"])
		if len(got) < len(want) || !slices.Equal(got[len(got)-len(want):], want) {
			t.Errorf("%s: task events\n  %s\nNomad's end with\n  %s", a.Name, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}
}

func TestADeploymentRescheduledUntilItsDeadlineListsEveryAllocationAsNomad(t *testing.T) {
	s := nomadfake.New(t)
	registerRecorded(t, s, "lifecycle/0020-PUT-jobs.json")
	s.SetDeploymentHealth("web-v9", 2, 10, 0, 10)
	s.FailDeployment("web-v9", "Failed due to progress deadline", nil)

	checkDeployment(t, s, "lifecycle/0184-GET-job_web-v9_deployment.json")
	allocs := checkAllocations(t, s, "lifecycle/0185-GET-job_web-v9_allocations.json")

	// Every allocation reads back, as one allocation, with its job.
	c := s.Client()
	for _, stub := range allocs {
		a, _, err := c.Allocations().Info(stub.ID, nil)
		if err != nil {
			t.Fatalf("allocation %s: %v", stub.ID, err)
		}
		if a.ID != stub.ID || a.Job == nil || *a.Job.ID != "web-v9" || a.TaskStates["web"].State != "dead" || a.DeploymentID == "" {
			t.Errorf("allocation %s reads back as %+v", stub.ID, a)
		}
	}
	ex := loadExchange(t, "lifecycle/0032-GET-allocation_a569a635-d4df-7f0f-1fc1-e164b9edf18c.json")
	// The recorded allocation was pending, never rescheduled, its health
	// not yet known: Nomad left out its DeploymentStatus and
	// RescheduleTracker (nil) and its NextAllocation (empty). Compare the
	// shape of one that was not replaced, without those two.
	last := allocs[slices.IndexFunc(allocs, func(a *api.AllocationListStub) bool { return a.NextAllocation == "" })]
	got := sendRaw(t, s, "GET", "/v1/allocation/"+last.ID, nil, nil)
	if got.status != ex.Status {
		t.Errorf("allocation info: status %d", got.status)
	}
	info := got.json(t).(map[string]any)
	delete(info, "DeploymentStatus")
	delete(info, "RescheduleTracker")
	checkShape(t, "allocation info", decodeJSON(t, ex.ResponseBody), info)

	missing := sendRaw(t, s, "GET", "/v1/allocation/"+strings.Repeat("0", 8)+"-0000-0000-0000-000000000000", url.Values{}, nil)
	if missing.status != 404 || strings.TrimSpace(string(missing.body)) != "alloc not found" {
		t.Errorf("a missing allocation: %d %q", missing.status, missing.body)
	}
}
