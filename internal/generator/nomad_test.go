package generator

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/nomadrules"
)

// acceptedConfigs are the configurations whose every job Nomad must accept:
// the bundled examples and the golden cases.
var acceptedConfigs = []string{
	"../../strata.yaml",
	"../../examples/local/strata.yaml",
	"testdata/minimal.yaml",
	"testdata/full.yaml",
	"testdata/docker.yaml",
	"testdata/raw_exec.yaml",
	"testdata/worker.yaml",
}

// TestNomadAcceptsEveryRenderedJob runs Nomad's validation rules on every
// job rendered from the bundled examples and the golden cases, as JSON (the
// body strata plan and deploy send) and as Nomad reads it back.
func TestNomadAcceptsEveryRenderedJob(t *testing.T) {
	for _, path := range acceptedConfigs {
		t.Run(filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path), func(t *testing.T) {
			cfg, err := config.Load(config.Options{Path: path, LookupEnv: noEnv})
			if err != nil {
				t.Fatal(err)
			}
			files, err := Render(cfg)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, f := range files {
				if filepath.Ext(f.Path) != ".json" {
					continue
				}
				n++
				var req api.JobValidateRequest
				if err := json.Unmarshal(f.Data, &req); err != nil {
					t.Fatalf("%s: %v", f.Path, err)
				}
				if err := nomadrules.Validate(req.Job).Err(); err != nil {
					t.Errorf("Nomad would refuse %s: %v", f.Path, err)
				}
			}
			if n == 0 {
				t.Fatal("no jobs rendered")
			}
		})
	}
}

// TestConstraintWithoutOperatorIsEquals: Nomad's HCL parser reads a
// constraint without an operator as "=", but its API refuses an empty
// operand, so both files say "=".
func TestConstraintWithoutOperatorIsEquals(t *testing.T) {
	cfg, err := config.Parse("strata.yaml", []byte(`
apps:
  w:
    kind: worker
    driver: docker
    image: "img:{{version}}"
    constraints:
      - attribute: "${attr.kernel.name}"
        value: linux
    versions: [v1]
`), config.Options{LookupEnv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	job := Job(cfg, cfg.Apps[0], "v1")
	if got := job.Constraints[0].Operand; got != "=" {
		t.Errorf("Operand = %q, want =", got)
	}
	h, err := HCL(job)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(h, []byte(`operator  = "="`)) {
		t.Errorf("the HCL constraint has no operator:\n%s", h)
	}
	if err := nomadrules.Validate(job).Err(); err != nil {
		t.Errorf("Nomad would refuse the job: %v", err)
	}
}

// TestSweeperFailedPassWaitsForTheNextRun: a failed sweep is neither
// restarted nor rescheduled once Nomad fills in its batch defaults (3
// restarts, 1 reschedule), and two passes never overlap.
func TestSweeperFailedPassWaitsForTheNextRun(t *testing.T) {
	cfg := loadCase(t, "minimal")
	job, err := SweeperJob(cfg)
	if err != nil {
		t.Fatal(err)
	}
	data, err := JSON(job)
	if err != nil {
		t.Fatal(err)
	}
	var req api.JobValidateRequest
	if err := json.Unmarshal(data, &req); err != nil {
		t.Fatal(err)
	}
	j := req.Job
	j.Canonicalize()
	g := j.TaskGroups[0]
	if r := g.RestartPolicy; *r.Attempts != 0 || *r.Mode != api.RestartPolicyModeFail {
		t.Errorf("restart policy: %d attempts, mode %s; want 0 attempts, mode fail", *r.Attempts, *r.Mode)
	}
	if r := g.ReschedulePolicy; *r.Attempts != 0 || *r.Unlimited {
		t.Errorf("reschedule policy: %d attempts, unlimited %v; want 0 attempts, not unlimited", *r.Attempts, *r.Unlimited)
	}
	if !*j.Periodic.ProhibitOverlap {
		t.Error("two passes may overlap")
	}
	if err := nomadrules.Validate(req.Job).Err(); err != nil {
		t.Errorf("Nomad would refuse the sweeper job: %v", err)
	}
}

// TestOwnNamesAreReservedApps: an app is named like its Consul service, so
// config must refuse every name of strata's own jobs and services.
func TestOwnNamesAreReservedApps(t *testing.T) {
	for _, name := range []string{HAProxyJobID, HAProxyService, LBStatsService, SweeperJobID} {
		if !slices.Contains(config.ReservedApps, name) {
			t.Errorf("config.ReservedApps lacks %q", name)
		}
	}
}

// TestSweeperJobChangesOnlyWithWhatTheSweeperReads: the sweeper job embeds
// the part of strata.yaml the sweeper reads, so an edit elsewhere (a
// comment, an app's env or image) leaves it byte-identical and an edit to
// what it reads (retirement settings, versions, live) changes it.
func TestSweeperJobChangesOnlyWithWhatTheSweeperReads(t *testing.T) {
	base, err := os.ReadFile("../../strata.yaml")
	if err != nil {
		t.Fatal(err)
	}
	render := func(t *testing.T, text string) string {
		t.Helper()
		cfg, err := config.Parse("strata.yaml", []byte(text), config.Options{LookupEnv: noEnv})
		if err != nil {
			t.Fatal(err)
		}
		job, err := SweeperJob(cfg)
		if err != nil {
			t.Fatal(err)
		}
		h, err := HCL(job)
		if err != nil {
			t.Fatal(err)
		}
		j, err := JSON(job)
		if err != nil {
			t.Fatal(err)
		}
		return string(h) + string(j)
	}
	edit := func(t *testing.T, old, new string) string {
		t.Helper()
		if !strings.Contains(string(base), old) {
			t.Fatalf("strata.yaml has no %q", old)
		}
		return strings.Replace(string(base), old, new, 1)
	}
	want := render(t, string(base))
	for _, tc := range []struct {
		name, old, new string
		changes        bool
	}{
		{"a comment-only edit leaves it unchanged", "# The bundled example", "# The bundled, commented example", false},
		{"an app's env leaves it unchanged", "LOG_LEVEL: info", "LOG_LEVEL: debug", false},
		{"an app's resources and count leave it unchanged", "count: 2", "count: 4", false},
		{"the created meta leaves it unchanged", `created: "2026-11-01T00:00:00Z"`, `created: "2026-12-01T00:00:00Z"`, false},
		{"a retirement setting changes it", "    live: v10\n", "    live: v10\n    sweeper: { keep: 3 }\n", true},
		{"a new version changes it", "versions: [v8, v9, v10]", "versions: [v8, v9, v10, v11]", true},
		{"the live version changes it", "live: v10", "live: v9", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := render(t, edit(t, tc.old, tc.new))
			if changed := got != want; changed != tc.changes {
				t.Errorf("sweeper job changed: %v, want %v:\n%s", changed, tc.changes, firstDiff([]byte(want), []byte(got)))
			}
		})
	}
}
