package jobdir

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/strata-dev/strata/internal/generator"
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
		if d.Type()&os.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			out[rel+" ->"] = target
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

// faultyFS is the real fileSystem with failures injected: fail is asked
// before every change and its error, if any, returned instead.
type faultyFS struct {
	fileSystem
	fail func(op, name string) error
}

func (f faultyFS) Mkdir(name string, perm os.FileMode) error {
	if err := f.fail("mkdir", name); err != nil {
		return err
	}
	return f.fileSystem.Mkdir(name, perm)
}

func (f faultyFS) OpenFile(name string, flag int, perm os.FileMode) (file, error) {
	if err := f.fail("create", name); err != nil {
		return nil, err
	}
	return f.fileSystem.OpenFile(name, flag, perm)
}

func (f faultyFS) Rename(from, to string) error {
	if err := f.fail("rename", from+" -> "+to); err != nil {
		return err
	}
	return f.fileSystem.Rename(from, to)
}

func (f faultyFS) Remove(name string) error {
	if err := f.fail("remove", name); err != nil {
		return err
	}
	return f.fileSystem.Remove(name)
}

// faulty returns Options whose file system fails the nth call of op
// (counting from 1) with permission denied, and every later one too when
// sticky is set.
func faulty(op string, nth int, sticky bool) Options {
	calls := 0
	return Options{openFS: func(dir string) (fileSystem, error) {
		real, err := openRoot(dir)
		if err != nil {
			return nil, err
		}
		return faultyFS{real, func(o, name string) error {
			if o != op {
				return nil
			}
			calls++
			if calls == nth || sticky && calls > nth {
				return &os.PathError{Op: o, Path: name, Err: os.ErrPermission}
			}
			return nil
		}}, nil
	}}
}

// TestAFailedSyncChangesNothing injects a failure at every point of a
// sync that creates, updates and removes files, and checks that the
// directory is exactly as it was: no file rewritten, no temporary file or
// backup, no new directory.
func TestAFailedSyncChangesNothing(t *testing.T) {
	// Before: api-v1 and web-v1. After: api-v1 changed, web-v1 removed,
	// web-v2 and db-v1 (a new app directory) created.
	next := []generator.File{hclFile("api-v1", "\n  x = 1\n"), jsonFile("api-v1", ""), hclFile("db-v1", ""), jsonFile("db-v1", "")}
	next = append(next, set("web-v2")...)
	cases := []struct {
		name   string
		op     string
		nth    int
		sticky bool
	}{
		{"the first temporary file cannot be created", "create", 1, false},
		{"a later temporary file cannot be created", "create", 4, false},
		{"a backup cannot be created", "create", 7, false},
		{"a new app directory cannot be created", "mkdir", 1, false},
		{"the first rename fails", "rename", 1, false},
		{"a rename fails after others succeeded", "rename", 4, false},
		{"a removal fails after every rename succeeded", "remove", 1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := Sync(dir, set("api-v1", "web-v1"), Options{}); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, dir)
			_, err := Sync(dir, next, faulty(tc.op, tc.nth, tc.sticky))
			if err == nil || !strings.Contains(err.Error(), "permission denied") || !strings.Contains(err.Error(), "nothing was changed") {
				t.Fatalf("err = %v", err)
			}
			if after := snapshot(t, dir); !reflect.DeepEqual(before, after) {
				t.Errorf("a failed sync changed the directory:\nbefore %v\nafter  %v", before, after)
			}
			// And the same sync without the failure works.
			if _, err := Sync(dir, next, Options{}); err != nil {
				t.Fatal(err)
			}
			if got := snapshot(t, dir)["db/db-v1.json"]; got == "" {
				t.Error("the sync after the failure did not write db-v1")
			}
		})
	}
}

// TestARollbackThatFailsNamesTheBackup makes the rename fail, and then the
// restores too: the error names every file it could not restore and the
// backup that holds its previous content, which is left in place.
func TestARollbackThatFailsNamesTheBackup(t *testing.T) {
	dir := t.TempDir()
	if _, err := Sync(dir, set("api-v1", "web-v1"), Options{}); err != nil {
		t.Fatal(err)
	}
	previous := snapshot(t, dir)
	files := []generator.File{jsonFile("api-v1", `,"x":"1"`), hclFile("api-v1", "\n  x = 1\n"), jsonFile("web-v1", `,"x":"1"`), hclFile("web-v1", "")}
	// Renames: api-v1.json, api-v1.nomad.hcl, web-v1.json (fails), then
	// the restores, which fail too.
	_, err := Sync(dir, files, faulty("rename", 3, true))
	if err == nil || !strings.Contains(err.Error(), "restoring the files changed before it failed") {
		t.Fatalf("err = %v", err)
	}
	_, rest, ok := strings.Cut(err.Error(), "its previous content is in ")
	end := strings.Index(rest, ".bak")
	if !ok || end < 0 {
		t.Fatalf("the error names no backup: %v", err)
	}
	backup := rest[:end+len(".bak")]
	data, rerr := os.ReadFile(backup)
	if rerr != nil || !slices.Contains(slices.Collect(maps.Values(previous)), string(data)) {
		t.Errorf("backup %s (%v) does not hold a file's previous content: %q", backup, rerr, data)
	}
	if !strings.Contains(err.Error(), filepath.Join(dir, "api", "api-v1.json")) {
		t.Errorf("the error does not name api-v1.json: %v", err)
	}
}

// TestApplyIsAllOrNothingAcrossDirectories fails the second directory of
// one Apply: the first is left as it was.
func TestApplyIsAllOrNothingAcrossDirectories(t *testing.T) {
	root := t.TempDir()
	jobs, policies := filepath.Join(root, "jobs"), filepath.Join(root, "policies")
	if _, err := Sync(jobs, set("web-v1"), Options{}); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, root)
	first, err := Plan(jobs, set("web-v1", "web-v2"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	second, err := Plan(policies, []generator.File{{Path: "p.hcl", JobID: "p", Data: []byte(generator.Header + "\n")}}, faulty("create", 1, false))
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(first, second); err == nil {
		t.Fatal("Apply succeeded")
	}
	if after := snapshot(t, root); !reflect.DeepEqual(before, after) {
		t.Errorf("a failed Apply changed files:\nbefore %v\nafter  %v", before, after)
	}
}

// TestSymbolicLinksInsideTheOutputAreRefused links an app's directory, and
// a file, to places outside the output directory: Sync refuses both and
// writes nothing, anywhere.
func TestSymbolicLinksInsideTheOutputAreRefused(t *testing.T) {
	for _, tc := range []struct{ name, link, target string }{
		{"an app directory that is a link", "web", "outside"},
		{"a job file that is a link", "web/web-v1.json", "outside/web-v1.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "jobs")
			outside := filepath.Join(root, "outside")
			os.MkdirAll(filepath.Join(dir, "web"), 0o755)
			os.MkdirAll(outside, 0o755)
			link := filepath.Join(dir, filepath.FromSlash(tc.link))
			os.Remove(link)
			if err := os.Symlink(filepath.Join(root, tc.target), link); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, root)
			_, err := Sync(dir, set("web-v1"), Options{})
			if err == nil || !strings.Contains(err.Error(), link+" is a symbolic link") {
				t.Fatalf("err = %v", err)
			}
			if after := snapshot(t, root); !reflect.DeepEqual(before, after) {
				t.Errorf("a refused sync changed files:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

// TestAnUnwritableDirectoryChangesNothing is the failure as a user meets
// it, with file permissions (TestAFailedSyncChangesNothing covers the same
// paths by injection). Root ignores permissions, so as root the test hands
// its directory to nobody and runs as nobody (effective user ID only).
func TestAnUnwritableDirectoryChangesNothing(t *testing.T) {
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		// t.TempDir's parent is root's alone; nobody needs a path it
		// can walk.
		var err error
		if dir, err = os.MkdirTemp("", "jobdir-nobody"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	if _, err := Sync(dir, set("api-v1", "web-v1"), Options{}); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		actAsNobody(t, dir)
	}
	if err := os.Chmod(filepath.Join(dir, "web"), 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(dir, "web"), 0o755) })
	before := snapshot(t, dir)
	// api-v1 changes (api/ is writable) and web-v1 goes (web/ is not):
	// the removal fails, after the api files would have been replaced.
	files := []generator.File{hclFile("api-v1", "\n  x = 1\n"), jsonFile("api-v1", "")}
	if _, err := Sync(dir, files, Options{}); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("err = %v", err)
	}
	if after := snapshot(t, dir); !reflect.DeepEqual(before, after) {
		t.Errorf("a failed sync changed the directory:\nbefore %v\nafter  %v", before, after)
	}
}

// actAsNobody gives dir and everything in it to the user nobody (65534) and
// sets the process's effective user ID to it until the test ends; the real
// user ID stays root, so the cleanup can take root back. Tests of this
// package do not run in parallel, so no other test runs meanwhile.
func actAsNobody(t *testing.T, dir string) {
	t.Helper()
	const nobody = 65534
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, nobody, nobody)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Setreuid(-1, nobody); err != nil {
		t.Fatalf("acting as nobody: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Setreuid(-1, 0); err != nil {
			panic(fmt.Sprintf("taking root back: %v", err))
		}
	})
}
