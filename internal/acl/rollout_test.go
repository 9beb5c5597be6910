package acl

import (
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/generator"
)

// TestTheRolloutControllerGetsItsRoleOnlyWithARollout: the strata-rollout
// job's control task is bound to the strata-rollout role when an app has a
// rollout section (which renders consul-rollout.hcl), and no such role or
// binding exists otherwise.
func TestTheRolloutControllerGetsItsRoleOnlyWithARollout(t *testing.T) {
	noEnv := config.Options{LookupEnv: func(string) (string, bool) { return "", false }}
	withRollout := strings.Replace(testConfig, `    routing: { bind: ":8080" }`,
		"    routing: { bind: \":8080\" }\n    rollout: { steps: [10, 100], interval: 1m, max_error_rate: 1% }", 1)
	for _, c := range []struct {
		name, yaml string
		want       bool
	}{{"without a rollout", testConfig, false}, {"with a rollout", withRollout, true}} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := config.Parse("strata.yaml", []byte(c.yaml), noEnv)
			if err != nil {
				t.Fatal(err)
			}
			files, err := generator.Policies(cfg)
			if err != nil {
				t.Fatal(err)
			}
			d, err := ConsulDesired(files, "", "", WorkloadIdentity)
			if err != nil {
				t.Fatal(err)
			}
			bound := false
			for _, w := range d.Workloads {
				if w.Role == "strata-"+generator.RoleRollout {
					bound = w.JobID == generator.RolloutJobID && w.Task == "control"
				}
			}
			if bound != c.want {
				t.Errorf("rollout controller bound: %t, want %t (%+v)", bound, c.want, d.Workloads)
			}
		})
	}
}
