package deploy_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/deploy"
	"github.com/strata-dev/strata/internal/nomadrec"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestAllocFailuresOfRecordedCrashLoops explains the allocations Nomad
// recorded for two crash-looping deployments (nomadrec's lifecycle/; see
// testdata/README.md).
func TestAllocFailuresOfRecordedCrashLoops(t *testing.T) {
	for _, name := range []string{"0183-GET-job_web-v8_allocations.json", "0185-GET-job_web-v9_allocations.json"} {
		t.Run(name, func(t *testing.T) {
			ex, err := nomadrec.Load("lifecycle/" + name)
			if err != nil {
				t.Fatal(err)
			}
			var allocs []*api.AllocationListStub
			if err := json.Unmarshal(ex.ResponseBody, &allocs); err != nil {
				t.Fatal(err)
			}
			got := deploy.AllocFailures(allocs, nil, false)
			golden := filepath.Join("testdata", strings.TrimSuffix(name, ".json")+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("AllocFailures differs from %s (go test -update):\n%s", golden, got)
			}
			for _, must := range []string{"Exit Code: 1", "restarts", "Terminated"} {
				if !strings.Contains(got, must) {
					t.Errorf("lacks %q:\n%s", must, got)
				}
			}
		})
	}
}

func TestAllocFailuresLeaveHealthyAllocationsOut(t *testing.T) {
	healthy, unhealthy := true, false
	allocs := []*api.AllocationListStub{
		{ID: "11111111-a", ClientStatus: "running", DeploymentStatus: &api.AllocDeploymentStatus{Healthy: &healthy}},
		{ID: "22222222-b", ClientStatus: "running", DeploymentStatus: &api.AllocDeploymentStatus{Healthy: &unhealthy}},
		{ID: "33333333-c", ClientStatus: "pending", TaskStates: map[string]*api.TaskState{"web": {State: "pending", Restarts: 1}}},
	}
	got := deploy.AllocFailures(allocs, nil, false)
	if strings.Contains(got, "11111111") || !strings.Contains(got, "22222222 (running, unhealthy)") || strings.Contains(got, "33333333") {
		t.Errorf("a failed deployment: %s", got)
	}
	if got := deploy.AllocFailures(allocs, nil, true); !strings.Contains(got, "33333333 (pending)") {
		t.Errorf("a timed-out deployment leaves out a restarting allocation: %s", got)
	}
}
