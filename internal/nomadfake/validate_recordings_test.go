package nomadfake_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/nomadfake"
	"github.com/strata-dev/strata/internal/nomadrec"
)

// TestRegisterAndPlanGiveNomadsVerdictOnEveryRecordedJob sends every job
// whose validation was recorded (the jobs strata renders from its example
// and test configurations, and the hand-edited jobs Nomad alone refuses)
// to the fake's register and plan: a job Nomad accepted is accepted with
// Nomad's warnings, a job Nomad refused is refused with status 500 and
// Nomad's text. Errors about a namespace or node pool that does not exist
// depend on the recorded cluster, which the fake does not model: those
// jobs are left out.
func TestRegisterAndPlanGiveNomadsVerdictOnEveryRecordedJob(t *testing.T) {
	files, err := nomadrec.Glob("validate/*-PUT-validate_job.json")
	if err != nil || len(files) < 50 {
		t.Fatalf("recordings: %d, %v", len(files), err)
	}
	var checked int
	for _, file := range files {
		ex := loadExchange(t, file)
		// The jobs Nomad parsed from the rendered HCL are the same jobs
		// again (generator's TestHCLParity holds them to the JSON).
		if strings.HasPrefix(ex.Scenario, "validate-parsed ") {
			continue
		}
		var req struct{ Job *api.Job }
		var verdict struct {
			Error    string
			Warnings string
		}
		if err := json.Unmarshal(ex.RequestBody, &req); err != nil || req.Job == nil {
			t.Fatalf("%s: no job: %v", file, err)
		}
		if err := json.Unmarshal(ex.ResponseBody, &verdict); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(verdict.Error, "nonexistent") {
			continue
		}
		checked++
		t.Run(ex.Scenario, func(t *testing.T) {
			s := nomadfake.New(t)
			plan, _ := json.Marshal(map[string]any{"Job": req.Job, "Diff": true})
			register, _ := json.Marshal(map[string]any{"Job": req.Job})
			for _, call := range []struct {
				what, path string
				body       []byte
			}{
				{"plan", "/v1/job/" + url.PathEscape(*req.Job.ID) + "/plan", plan},
				{"register", "/v1/jobs", register},
			} {
				got := sendRaw(t, s, "PUT", call.path, nil, call.body)
				if verdict.Error != "" {
					if got.status != 500 || string(got.body) != verdict.Error+"\n" && string(got.body) != verdict.Error {
						t.Errorf("%s: %d %q, Nomad refused it with %q", call.what, got.status, got.body, verdict.Error)
					}
					continue
				}
				if got.status != 200 {
					t.Errorf("%s: %d %s, Nomad accepted it", call.what, got.status, got.body)
					continue
				}
				var resp struct{ Warnings string }
				if err := json.Unmarshal(got.body, &resp); err != nil {
					t.Fatal(err)
				}
				if resp.Warnings != verdict.Warnings {
					t.Errorf("%s: warnings %q, Nomad's %q", call.what, resp.Warnings, verdict.Warnings)
				}
			}
		})
	}
	if checked < 50 {
		t.Errorf("only %d jobs checked", checked)
	}
}
