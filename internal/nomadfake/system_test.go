package nomadfake_test

import (
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/nomadfake"
)

// TestSystemJobAllocationsAreOnePerNode: a system job's allocations are
// where the test placed them, one per node with its name and status, and
// stop with the job.
func TestSystemJobAllocationsAreOnePerNode(t *testing.T) {
	s := nomadfake.New(t)
	id := "strata-haproxy"
	s.AddJob(&api.Job{ID: &id, Name: &id, Type: new(api.JobTypeSystem), TaskGroups: []*api.TaskGroup{
		{Name: new("haproxy"), Tasks: []*api.Task{{Name: "haproxy", Driver: "raw_exec"}, {Name: "lbstats", Driver: "raw_exec"}}}}}, time.Now())
	s.SetSystemAllocations("default", id, map[string]string{"node-a": "running", "node-b": "running", "node-c": "lost"})
	c := s.Client()
	allocs, _, err := c.Jobs().Allocations(id, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range allocs {
		got[a.NodeName] = a.ClientStatus + "/" + a.DesiredStatus
		if a.Name != "strata-haproxy.haproxy[0]" || a.JobType != api.JobTypeSystem || len(a.TaskStates) != 2 {
			t.Errorf("allocation %s on %s: name %q, type %q, %d task states", a.ID, a.NodeName, a.Name, a.JobType, len(a.TaskStates))
		}
	}
	if want := map[string]string{"node-a": "running/run", "node-b": "running/run", "node-c": "lost/stop"}; len(got) != 3 ||
		got["node-a"] != want["node-a"] || got["node-b"] != want["node-b"] || got["node-c"] != want["node-c"] {
		t.Errorf("allocations %v, want %v", got, want)
	}
	if _, _, err := c.Jobs().Deregister(id, false, nil); err != nil {
		t.Fatal(err)
	}
	allocs, _, _ = c.Jobs().Allocations(id, false, nil)
	for _, a := range allocs {
		if a.DesiredStatus != api.AllocDesiredStatusStop || a.ClientStatus == api.AllocClientStatusRunning {
			t.Errorf("after the job stopped, %s: %s/%s", a.NodeName, a.ClientStatus, a.DesiredStatus)
		}
	}
}
