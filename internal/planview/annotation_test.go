package planview

import (
	"strings"
	"testing"

	"github.com/hashicorp/nomad/api"
)

// TestInPlaceDespiteAnnotation: Nomad annotates a task whose consul block
// changed "forces create/destroy update" (scheduler/annotate.go) while its
// scheduler may update the group in place (tasksUpdated, consulUpdated);
// the plan then says no allocation is replaced. When the scheduler does
// replace allocations, or nothing is annotated so, it says nothing.
func TestInPlaceDespiteAnnotation(t *testing.T) {
	plan := func(updates map[string]uint64, annotation string) *api.JobPlanResponse {
		return &api.JobPlanResponse{Diff: &api.JobDiff{ID: "strata-haproxy", Type: "Edited", TaskGroups: []*api.TaskGroupDiff{{
			Name: "haproxy", Type: "Edited", Updates: updates,
			Tasks: []*api.TaskDiff{{Name: "haproxy", Type: "Edited", Annotations: []string{annotation},
				Objects: []*api.ObjectDiff{{Name: "Consul", Type: "Added"}}}},
		}}}}
	}
	cases := []struct {
		name string
		p    *api.JobPlanResponse
		want string
	}{
		{"an annotated task updated in place", plan(map[string]uint64{"in-place update": 1, "create": 1}, "forces create/destroy update"),
			`Nomad marks task "haproxy" of strata-haproxy "forces create/destroy update" for its changed Consul, but its scheduler updates group "haproxy" in place: no allocation is replaced and no session is cut`},
		{"an annotated task replaced", plan(map[string]uint64{"create/destroy update": 1}, "forces create/destroy update"), ""},
		{"a task updated in place and annotated so", plan(map[string]uint64{"in-place update": 1}, "forces in-place update"), ""},
		{"no plan", nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(InPlaceDespiteAnnotation(tc.p), "\n")
			if got != tc.want {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
			if tc.p != nil && tc.want != "" {
				text := Text([]Job{{ID: "strata-haproxy", Plan: tc.p}}, nil)
				if !strings.Contains(text, "! "+tc.want+".") {
					t.Errorf("Text lacks the note:\n%s", text)
				}
			}
		})
	}
}
