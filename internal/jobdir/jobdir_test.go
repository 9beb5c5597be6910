package jobdir

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/strata-dev/strata/generator"
)

func hclFile(job, body string) generator.File {
	app := strings.SplitN(job, "-", 2)[0]
	return generator.File{Path: app + "/" + job + ".nomad.hcl", JobID: job, Data: []byte(generator.Header + "\n\njob \"" + job + "\" {" + body + "}\n")}
}

func jsonFile(job, extra string) generator.File {
	app := strings.SplitN(job, "-", 2)[0]
	return generator.File{Path: app + "/" + job + ".json", JobID: job, Data: []byte(`{"Job":{"ID":"` + job + `","Meta":{"strata.managed":"true"` + extra + `}}}` + "\n")}
}

func set(jobs ...string) []generator.File {
	var out []generator.File
	for _, j := range jobs {
		out = append(out, hclFile(j, ""), jsonFile(j, ""))
	}
	return out
}

// snapshot reads every file under dir, so a test can tell that nothing
// changed.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			out[rel+"/"] = ""
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[rel] = string(data)
		return nil
	})
	return out
}

func actions(changes []Change) map[string]Action {
	out := map[string]Action{}
	for _, c := range changes {
		out[c.JobID] = c.Action
	}
	return out
}

func TestSyncCreatesThenLeavesUnchangedFilesAlone(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "jobs")
	changes, err := Sync(dir, set("web-v1", "web-v2"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(changes); !reflect.DeepEqual(got, map[string]Action{"web-v1": Created, "web-v2": Created}) {
		t.Fatalf("first sync: %v", got)
	}
	if changes[0].JobID != "web-v1" || !reflect.DeepEqual(changes[0].Paths, []string{"web/web-v1.json", "web/web-v1.nomad.hcl"}) {
		t.Errorf("change = %+v", changes[0])
	}
	before, _ := os.Stat(filepath.Join(dir, "web", "web-v1.nomad.hcl"))

	changes, err = Sync(dir, set("web-v1", "web-v2"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(changes); !reflect.DeepEqual(got, map[string]Action{"web-v1": Unchanged, "web-v2": Unchanged}) {
		t.Fatalf("second sync: %v", got)
	}
	after, _ := os.Stat(filepath.Join(dir, "web", "web-v1.nomad.hcl"))
	if !os.SameFile(before, after) {
		t.Error("an unchanged file was rewritten")
	}
}

func TestSyncReplacesAChangedFileByRename(t *testing.T) {
	dir := t.TempDir()
	if _, err := Sync(dir, set("web-v1"), Options{}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "web", "web-v1.nomad.hcl")
	before, _ := os.Stat(path)
	files := []generator.File{hclFile("web-v1", "\n  type = \"service\"\n"), jsonFile("web-v1", "")}
	changes, err := Sync(dir, files, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(changes)["web-v1"]; got != Updated {
		t.Fatalf("action = %s", got)
	}
	after, _ := os.Stat(path)
	if os.SameFile(before, after) {
		t.Error("the file was rewritten in place, not replaced by a rename")
	}
	if data, _ := os.ReadFile(path); !strings.Contains(string(data), `type = "service"`) {
		t.Errorf("content not updated: %s", data)
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "web", ".strata-*")); len(matches) > 0 {
		t.Errorf("temporary files left: %v", matches)
	}
}

func TestSyncRemovesGeneratedFilesOfJobsNoLongerRendered(t *testing.T) {
	dir := t.TempDir()
	if _, err := Sync(dir, set("web-v1", "web-v2", "api-v1"), Options{}); err != nil {
		t.Fatal(err)
	}
	// Files a person put there, which strata must not touch.
	mine := map[string]string{
		"web/notes.md":              "mine",
		"web/web-v0.nomad.hcl":      "job \"web-v0\" {}\n",
		"web/hand.json":             `{"Job":{"ID":"hand"}}`,
		"README.md":                 "top-level file",
		"web/web-v3.nomad.hcl.orig": generator.Header,
	}
	for p, data := range mine {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	changes, err := Sync(dir, set("web-v2"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Action{"api-v1": Removed, "web-v1": Removed, "web-v2": Unchanged}
	if got := actions(changes); !reflect.DeepEqual(got, want) {
		t.Fatalf("actions = %v, want %v", got, want)
	}
	for p, data := range mine {
		got, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil || string(got) != data {
			t.Errorf("%s was touched: %q, %v", p, got, err)
		}
	}
	for _, gone := range []string{"web/web-v1.nomad.hcl", "web/web-v1.json", "api"} {
		if _, err := os.Stat(filepath.Join(dir, gone)); !os.IsNotExist(err) {
			t.Errorf("%s still exists", gone)
		}
	}
}

func TestSyncRefusesToOverwriteAFileItDidNotGenerate(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "web"), 0o755)
	os.WriteFile(filepath.Join(dir, "web", "web-v2.nomad.hcl"), []byte("job \"web-v2\" {}\n"), 0o644)
	before := snapshot(t, dir)
	_, err := Sync(dir, set("web-v1", "web-v2"), Options{})
	if err == nil || !strings.Contains(err.Error(), "was not generated by strata") || !strings.Contains(err.Error(), "web-v2.nomad.hcl") {
		t.Fatalf("err = %v", err)
	}
	if after := snapshot(t, dir); !reflect.DeepEqual(before, after) {
		t.Errorf("a refused sync changed the directory:\nbefore %v\nafter  %v", before, after)
	}
}

func TestAFailedWriteLeavesTheDirectoryAsItWas(t *testing.T) {
	dir := t.TempDir()
	if _, err := Sync(dir, set("api-v1", "web-v1"), Options{}); err != nil {
		t.Fatal(err)
	}
	// "zzz" cannot become a directory: a file is in the way. The api and
	// web files sort before it, so their new versions are already written to
	// temporary files when the failure happens.
	os.WriteFile(filepath.Join(dir, "zzz"), []byte("in the way"), 0o644)
	before := snapshot(t, dir)
	files := []generator.File{hclFile("api-v1", "\n  x = 1\n"), jsonFile("api-v1", ""), hclFile("web-v1", "\n  x = 1\n"), jsonFile("web-v1", ""), hclFile("zzz-v1", "")}
	if _, err := Sync(dir, files, Options{}); err == nil {
		t.Fatal("sync into a blocked directory succeeded")
	}
	if after := snapshot(t, dir); !reflect.DeepEqual(before, after) {
		t.Errorf("a failed sync changed the directory:\nbefore %v\nafter  %v", before, after)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	dir := t.TempDir()
	if _, err := Sync(dir, set("web-v1"), Options{}); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	changes, err := Sync(dir, set("web-v2"), Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(changes); !reflect.DeepEqual(got, map[string]Action{"web-v1": Removed, "web-v2": Created}) {
		t.Errorf("actions = %v", got)
	}
	if after := snapshot(t, dir); !reflect.DeepEqual(before, after) {
		t.Error("a dry run changed the directory")
	}
}

func TestChangesAreSortedNaturally(t *testing.T) {
	changes, err := Sync(t.TempDir(), set("web-v10", "web-v9", "api-v2"), Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range changes {
		ids = append(ids, c.JobID)
	}
	if want := []string{"api-v2", "web-v9", "web-v10"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("order = %v, want %v", ids, want)
	}
}
