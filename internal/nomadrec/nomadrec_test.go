package nomadrec_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/nomadrec"
)

func TestEveryRecordedExchangeLoads(t *testing.T) {
	exchanges, err := nomadrec.LoadAll("*/*.json")
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]int{}
	for _, ex := range exchanges {
		dir, base, _ := strings.Cut(ex.File, "/")
		dirs[dir]++
		if ex.Seq == 0 || ex.Scenario == "" || ex.Method == "" || !strings.HasPrefix(ex.Path, "/v1/") || ex.Status == 0 {
			t.Errorf("%s: an incomplete exchange: %+v", ex.File, ex)
		}
		// The file name is NNNN-METHOD-path.json, from the exchange itself.
		if want := fmt.Sprintf("%04d-%s-", ex.Seq, ex.Method); !strings.HasPrefix(base, want) {
			t.Errorf("%s: seq %d, method %s", ex.File, ex.Seq, ex.Method)
		}
		if ex.ResponseBody == nil && ex.ResponseText == "" && ex.Status != 200 {
			t.Errorf("%s: no answer", ex.File)
		}
	}
	for _, dir := range []string{"validate", "plan", "lifecycle"} {
		if dirs[dir] == 0 {
			t.Errorf("no exchange in %s/", dir)
		}
	}
}

func TestLoadReadsEveryField(t *testing.T) {
	ex, err := nomadrec.Load("lifecycle/0118-GET-jobs.json")
	if err != nil {
		t.Fatal(err)
	}
	if ex.File != "lifecycle/0118-GET-jobs.json" || ex.Seq != 118 || ex.Method != "GET" || ex.Path != "/v1/jobs" {
		t.Errorf("request: %+v", ex)
	}
	if ex.Query.Get("index") != "100" || ex.Query.Get("wait") != "2s" {
		t.Errorf("query %v: the recorded blocking query has index 100 and wait 2s", ex.Query)
	}
	if ex.ResponseHeaders["X-Nomad-Index"] != "100" {
		t.Errorf("response headers %v", ex.ResponseHeaders)
	}
	text, err := nomadrec.Load("lifecycle/0114-GET-job_nosuch.json")
	if err != nil {
		t.Fatal(err)
	}
	if text.Status != 404 || text.ResponseText == "" || text.ResponseBody != nil {
		t.Errorf("an error Nomad answered as text: status %d, text %q, body %s", text.Status, text.ResponseText, text.ResponseBody)
	}
}

func TestLoadAndGlobNameWhatIsMissing(t *testing.T) {
	for _, c := range []struct {
		name string
		err  func() error
		want string
	}{
		{"a file that was not copied is an error naming it", func() error { _, err := nomadrec.Load("plan/9999-GET-nothing.json"); return err }, "plan/9999-GET-nothing.json"},
		{"a file that is not an exchange is an error naming it", func() error { _, err := nomadrec.Load("cases/minimal.yaml"); return err }, "cases/minimal.yaml"},
		{"a pattern nothing matches is an error, not an empty list", func() error { _, err := nomadrec.Glob("plan/*.nothing"); return err }, "no recording matches plan/*.nothing"},
		{"a malformed pattern is an error", func() error { _, err := nomadrec.Glob("plan/[.json"); return err }, "plan/[.json"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.err()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one naming %q", err, c.want)
			}
		})
	}
}

func TestGlobIsInRecordedOrder(t *testing.T) {
	names, err := nomadrec.Glob("plan/*.json")
	if err != nil {
		t.Fatal(err)
	}
	last := 0
	for _, name := range names {
		ex, err := nomadrec.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		if ex.Seq <= last {
			t.Errorf("%s (seq %d) after seq %d", name, ex.Seq, last)
		}
		last = ex.Seq
	}
}

// TestValidateSummaryNamesRecordedJobs: every SUMMARY.tsv row is a job
// whose rendered JSON Nomad validated in the recordings, and every such
// validation has its row.
func TestValidateSummaryNamesRecordedJobs(t *testing.T) {
	rows, err := nomadrec.ValidateSummary()
	if err != nil {
		t.Fatal(err)
	}
	validated := map[string]bool{}
	exchanges, err := nomadrec.LoadAll("validate/*-PUT-validate_job.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range exchanges {
		if target, ok := strings.CutPrefix(ex.Scenario, "validate "); ok {
			validated[target] = true
		}
	}
	for _, r := range rows {
		if r.Strata == "" || r.NomadJSON == "" || r.Parse == "" || r.NomadParsedHCL == "" {
			t.Errorf("an incomplete row: %+v", r)
		}
		// A configuration strata refused has no rendered job.
		if strings.HasPrefix(r.Strata, "INVALID") {
			continue
		}
		if !validated[r.Config+"/"+r.Job] {
			t.Errorf("%s/%s: in SUMMARY.tsv, but no recorded validation", r.Config, r.Job)
		}
		delete(validated, r.Config+"/"+r.Job)
	}
	for target := range validated {
		t.Errorf("%s: validated, but not in SUMMARY.tsv", target)
	}
}

// TestEveryEdgeCaseConfigurationIsThere: each "edge/<case>" configuration
// the validations were rendered from is in cases/.
func TestEveryEdgeCaseConfigurationIsThere(t *testing.T) {
	rows, err := nomadrec.ValidateSummary()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if name, ok := strings.CutPrefix(r.Config, "edge/"); ok {
			if _, err := nomadrec.ReadFile("cases/" + name + ".yaml"); err != nil {
				t.Error(err)
			}
		}
	}
}

// TestOnlyTestsImportIt: no package of the module imports nomadrec outside
// its tests, so the strata binary never carries the recordings.
func TestOnlyTestsImportIt(t *testing.T) {
	// go test runs this test, so the go command is there: on PATH, or in
	// the GOROOT the test was built with.
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goTool, "list", "-e", "-f", `{{.ImportPath}}: {{join .Imports " "}}`, "github.com/strata-dev/strata/...")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const self = "github.com/strata-dev/strata/internal/nomadrec"
	var packages int
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ": ")
		packages++
		for _, imp := range strings.Fields(imports) {
			if imp == self {
				t.Errorf("%s imports nomadrec outside its tests", pkg)
			}
		}
	}
	if packages < 10 {
		t.Fatalf("go list found %d packages:\n%s", packages, out)
	}
}
