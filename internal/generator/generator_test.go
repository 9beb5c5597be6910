package generator

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/naming"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenCases are the configurations in testdata; each renders into
// testdata/golden/<case>/.
var goldenCases = []string{"minimal", "full", "docker", "raw_exec", "worker"}

func loadCase(t testing.TB, name string) *config.Config {
	t.Helper()
	cfg, err := config.Load(config.Options{
		Path:      filepath.Join("testdata", name+".yaml"),
		LookupEnv: func(string) (string, bool) { return "", false },
	})
	if err != nil {
		t.Fatalf("loading %s: %v", name, err)
	}
	return cfg
}

func TestGolden(t *testing.T) {
	for _, name := range goldenCases {
		t.Run(name, func(t *testing.T) {
			cfg := loadCase(t, name)
			files, err := Render(cfg)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join("testdata", "golden", name)
			if *update {
				os.RemoveAll(dir)
			}
			want := map[string]bool{}
			for _, f := range files {
				p := filepath.Join(dir, filepath.FromSlash(f.Path))
				want[p] = true
				if *update {
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(p, f.Data, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				golden, err := os.ReadFile(p)
				if err != nil {
					t.Fatalf("%v (run go test ./internal/generator -update to create it)", err)
				}
				if !bytes.Equal(golden, f.Data) {
					t.Errorf("%s differs from its golden file (run go test ./internal/generator -update and review the diff):\n%s", f.Path, firstDiff(golden, f.Data))
				}
			}
			// No golden file may be left over from a job that is gone.
			filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() && !want[p] {
					t.Errorf("golden file %s is not rendered any more", p)
				}
				return nil
			})
		})
	}
}

// firstDiff shows the first line where two outputs differ.
func firstDiff(want, got []byte) string {
	wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := range max(len(wl), len(gl)) {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + w + "\n  got:  " + g
		}
	}
	return "(no line differs)"
}

func TestRenderingTwiceGivesIdenticalBytes(t *testing.T) {
	for _, name := range goldenCases {
		cfg := loadCase(t, name)
		a, err := Render(cfg)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Render(loadCase(t, name))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: two renders differ", name)
		}
	}
}

// TestHCLAndJSONDescribeTheSameJob reads each job back from its HCL and from
// its JSON and compares both with the value that was generated.
func TestHCLAndJSONDescribeTheSameJob(t *testing.T) {
	for _, name := range goldenCases {
		cfg := loadCase(t, name)
		for _, job := range Jobs(cfg) {
			checkRoundTrip(t, job)
		}
		own, err := OwnJobs(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range own {
			checkRoundTrip(t, j)
		}
	}
}

func checkRoundTrip(t testing.TB, job *api.Job) {
	t.Helper()
	h, err := HCL(job)
	if err != nil {
		t.Fatal(err)
	}
	if formatted := hclwrite.Format(h); !bytes.Equal(formatted, h) {
		t.Fatalf("%s: HCL is not canonically formatted:\n%s", *job.ID, firstDiff(formatted, h))
	}
	if _, diags := hclparse.NewParser().ParseHCL(h, *job.ID+".nomad.hcl"); diags.HasErrors() {
		t.Fatalf("%s: HCL does not parse: %v\n%s", *job.ID, diags, h)
	}
	fromHCL, err := decodeHCL(h)
	if err != nil {
		t.Fatalf("%s: reading the HCL back: %v\n%s", *job.ID, err, h)
	}
	if !reflect.DeepEqual(fromHCL, job) {
		a, _ := json.MarshalIndent(job, "", " ")
		b, _ := json.MarshalIndent(fromHCL, "", " ")
		t.Fatalf("%s: the HCL describes another job:\n%s", *job.ID, firstDiff(a, b))
	}

	j, err := JSON(job)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Job *api.Job }
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%s: JSON does not decode into api.Job: %v", *job.ID, err)
	}
	if !reflect.DeepEqual(doc.Job, job) {
		a, _ := json.MarshalIndent(job, "", " ")
		b, _ := json.MarshalIndent(doc.Job, "", " ")
		t.Fatalf("%s: the JSON describes another job:\n%s", *job.ID, firstDiff(a, b))
	}
}

func TestJobCarriesTheContract(t *testing.T) {
	cfg := loadCase(t, "full")
	app := cfg.App("recorder")
	job := Job(cfg, app, "1.9.10")
	if *job.ID != "recorder-1.9.10" || *job.Name != "recorder-1.9.10" {
		t.Errorf("ID/Name = %s/%s", *job.ID, *job.Name)
	}
	wantMeta := map[string]string{
		"strata.managed": "true", "strata.app": "recorder", "strata.version": "1.9.10",
		"strata.kind": "web", "strata.created": "2026-11-01T12:30:00+01:00",
	}
	if !reflect.DeepEqual(job.Meta, wantMeta) {
		t.Errorf("meta = %v, want %v", job.Meta, wantMeta)
	}
	svc := job.TaskGroups[0].Services[0]
	if svc.Name != "recorder" || !reflect.DeepEqual(svc.Tags[:2], []string{"strata", "strata-version=1.9.10"}) {
		t.Errorf("service %s tags %v", svc.Name, svc.Tags)
	}
	if got := job.TaskGroups[0].Tasks[0].Config["image"]; got != "registry.example.com/media/recorder:1.9.10" {
		t.Errorf("image = %v", got)
	}
	if got := job.TaskGroups[0].Tasks[0].Env["APP_VERSION"]; got != "1.9.10" {
		t.Errorf("APP_VERSION = %q", got)
	}
	if job.TaskGroups[0].Tasks[0].Config["ports"] == nil {
		t.Error("docker task does not publish its port labels")
	}
}

func TestOnlyConfiguredFieldsAreSet(t *testing.T) {
	cfg := loadCase(t, "minimal")
	job := Job(cfg, cfg.Apps[0], "v1")
	if job.Region != nil || job.Namespace != nil || job.Datacenters != nil || job.NodePool != nil || job.Update != nil {
		t.Errorf("a minimal job sets fields Nomad has defaults for: %+v", job)
	}
	g := job.TaskGroups[0]
	if g.Count != nil || g.Tasks[0].Resources != nil || g.Tasks[0].KillTimeout != nil || g.Tasks[0].Env != nil {
		t.Errorf("a minimal group sets fields Nomad has defaults for")
	}
	if _, ok := job.Meta[naming.MetaCreated]; ok {
		t.Error("strata.created is set without a created timestamp")
	}
	// The one default strata adds: a service group gets a shutdown_delay,
	// so Nomad deregisters the instance before killing it.
	if g.ShutdownDelay == nil || *g.ShutdownDelay != config.DefaultShutdownDelay {
		t.Errorf("shutdown_delay = %v, want %v", g.ShutdownDelay, config.DefaultShutdownDelay)
	}
}

func TestHCLRefusesFieldsItCannotWrite(t *testing.T) {
	cfg := loadCase(t, "minimal")
	job := Job(cfg, cfg.Apps[0], "v1")
	job.Priority = new(70)
	if _, err := HCL(job); err == nil || !strings.Contains(err.Error(), "Job.Priority") {
		t.Fatalf("HCL with an unwritten field: err = %v", err)
	}
	job.Priority = nil
	job.TaskGroups[0].Tasks[0].User = "nobody"
	if _, err := HCL(job); err == nil || !strings.Contains(err.Error(), "Job.TaskGroups[0].Tasks[0].User") {
		t.Fatalf("HCL with an unwritten nested field: err = %v", err)
	}
}

func TestFormatDuration(t *testing.T) {
	for in, want := range map[string]string{"30s": "30s", "5m": "5m", "1h": "1h", "1h30m": "1h30m", "1h0m30s": "1h0m30s", "1.5s": "1.5s", "0s": "0s", "90m": "1h30m"} {
		d, _ := time.ParseDuration(in)
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%s) = %s, want %s", in, got, want)
		}
	}
}
