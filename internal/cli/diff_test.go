package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/strata-dev/strata/internal/jobdiff"
	"github.com/strata-dev/strata/internal/planview"

	"github.com/strata-dev/strata/internal/testenv"
)

var updateDiff = flag.Bool("update", false, "rewrite testdata/diff/*.golden with the output of strata diff")

// runDiff runs `strata diff` with the given arguments through Run.
func runDiff(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return run(t, env, append([]string{"diff"}, args...)...)
}

// gitRepo is a temporary git repository with its own identity and no user
// or system configuration, so commits work anywhere.
type gitRepo struct {
	t   *testing.T
	dir string
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	// Fails under CI=true when git is missing, skips elsewhere.
	testenv.RequireBinary(t, "git")
	r := &gitRepo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *gitRepo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", r.dir}, args...)...)
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=strata test", "GIT_AUTHOR_EMAIL=test@strata.invalid",
		"GIT_COMMITTER_NAME=strata test", "GIT_COMMITTER_EMAIL=test@strata.invalid",
		"GIT_AUTHOR_DATE=2026-11-01T00:00:00Z", "GIT_COMMITTER_DATE=2026-11-01T00:00:00Z",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// commit writes strata.yaml and commits it.
func (r *gitRepo) commit(text, message string) string {
	r.t.Helper()
	p := writeConfig(r.t, r.dir, text)
	r.git("add", "strata.yaml")
	r.git("commit", "-q", "-m", message)
	return p
}

// diffBase is a routed web app with three versions and a worker.
const diffBase = `created: "2026-11-01T00:00:00Z"
datacenters: [dc1]
apps:
  web:
    driver: docker
    image: "ghcr.io/acme/web:{{version}}"
    ports: { http: {} }
    service: { tags: [public], check: { path: /healthz } }
    count: 2
    resources: { cpu: 200, memory: 256 }
    env: { LOG_LEVEL: info }
    kill_timeout: 1h
    versions: [v8, v9, v10]
    live: v10
    routing: { bind: ":8080" }
  transcoder:
    kind: worker
    driver: docker
    image: "ghcr.io/acme/transcoder:{{version}}"
    versions: [v2]
`

// diffCases are changes to diffBase, each with golden text and markdown.
var diffCases = []struct {
	name   string
	change func(string) string
}{
	{"add-version", func(s string) string {
		return strings.Replace(s, "[v8, v9, v10]", "[v8, v9, v10, v11]", 1)
	}},
	{"remove-version", func(s string) string {
		return strings.Replace(s, "[v8, v9, v10]", "[v9, v10]", 1)
	}},
	{"change-resources", func(s string) string {
		return strings.Replace(s, "cpu: 200", "cpu: 300", 1)
	}},
	{"change-service-tag", func(s string) string {
		return strings.Replace(s, "tags: [public]", "tags: [public, beta]", 1)
	}},
	{"change-kill-timeout-and-count", func(s string) string {
		return strings.Replace(strings.Replace(s, "kill_timeout: 1h", "kill_timeout: 30m", 1), "count: 2", "count: 3", 1)
	}},
	{"move-routing-port", func(s string) string {
		return strings.Replace(s, `bind: ":8080"`, `bind: ":8081"`, 1)
	}},
	// The README's way to change a setting without restarting: the new
	// version carries it, the running ones keep their jobs.
	{"add-version-with-its-own-env", func(s string) string {
		return strings.Replace(s, "versions: [v8, v9, v10]", "versions:\n      - v8\n      - v9\n      - v10\n      - version: v11\n        env: { FEATURE_X: \"on\" }", 1)
	}},
}

func TestDiffBetweenTwoCommitsMatchesTheGoldenFiles(t *testing.T) {
	for _, tc := range diffCases {
		t.Run(tc.name, func(t *testing.T) {
			r := newGitRepo(t)
			cfg := r.commit(diffBase, "base")
			r.commit(tc.change(diffBase), tc.name)
			for _, format := range []string{"text", "markdown"} {
				code, out, errOut := runDiff(t, nil, "--config", cfg, "--base", "HEAD~1", "--head", "HEAD", "--format", format)
				if code != ExitOK {
					t.Fatalf("%s: exit %d, stderr %s", format, code, errOut)
				}
				ext := map[string]string{"text": ".txt", "markdown": ".md"}[format]
				golden(t, filepath.Join("testdata", "diff", tc.name+ext+".golden"), out)
			}
		})
	}
}

func TestDiffAgainstTheWorkingTreeIsTheDefaultHead(t *testing.T) {
	r := newGitRepo(t)
	cfg := r.commit(diffBase, "base")
	writeConfig(t, r.dir, diffCases[0].change(diffBase))
	code, out, errOut := runDiff(t, nil, "-c", cfg, "--base", "main")
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	golden(t, filepath.Join("testdata", "diff", "add-version.txt.golden"), out)
}

func TestDiffBetweenTwoDirectories(t *testing.T) {
	before, after := t.TempDir(), t.TempDir()
	writeConfig(t, before, diffBase)
	headFile := writeConfig(t, after, diffCases[2].change(diffBase))
	// A directory holding strata.yaml, and a path to the file itself.
	code, out, errOut := runDiff(t, nil, "--base", before, "--head", headFile)
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	golden(t, filepath.Join("testdata", "diff", "change-resources.txt.golden"), out)
}

func TestDiffAsJSONListsEveryJob(t *testing.T) {
	before, after := t.TempDir(), t.TempDir()
	writeConfig(t, before, diffBase)
	writeConfig(t, after, diffCases[3].change(diffBase))
	code, out, errOut := runDiff(t, nil, "--base", before, "--head", after, "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	var diffs []jobdiff.JobDiff
	if err := json.Unmarshal([]byte(out), &diffs); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	got := map[string]jobdiff.Status{}
	for _, d := range diffs {
		got[d.ID] = d.Status
	}
	want := map[string]jobdiff.Status{
		"strata-haproxy": jobdiff.Unchanged, "transcoder-v2": jobdiff.Unchanged,
		"strata-sweeper": jobdiff.Unchanged, // it carries only what the sweeper reads
		"web-v8":         jobdiff.Edited, "web-v9": jobdiff.Edited, "web-v10": jobdiff.Edited,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	golden(t, filepath.Join("testdata", "diff", "change-service-tag.json.golden"), out)
}

func TestDiffExitCodes(t *testing.T) {
	r := newGitRepo(t)
	cfg := r.commit(diffBase, "base")
	r.commit(diffCases[0].change(diffBase), "add v11")
	r.git("tag", "v11-added")
	r.commit(strings.Replace(diffBase, "[v8, v9, v10]", "[v8, V_9]", 1), "break it")

	cases := []struct {
		name    string
		args    []string
		code    int
		stderr  string
		noStdin bool
	}{
		{"changes exit 0 by default", []string{"--base", "HEAD~2", "--head", "v11-added"}, ExitOK, "", false},
		{"no change exits 0 with --detailed-exitcode", []string{"--base", "v11-added", "--head", "HEAD~1", "--detailed-exitcode"}, ExitOK, "", false},
		{"changes exit 2 with --detailed-exitcode", []string{"--base", "HEAD~2", "--head", "v11-added", "--detailed-exitcode"}, ExitChanges, "", false},
		{"an unknown revision exits 1 and says what it tried", []string{"--base", "no-such-branch", "--detailed-exitcode"},
			ExitError, `strata diff: base no-such-branch: "no-such-branch" is neither a file, a directory nor a git revision holding ` + cfg, false},
		{"an invalid head names the side", []string{"--base", "HEAD~1", "--head", "HEAD", "--detailed-exitcode"},
			ExitError, "strata diff: head HEAD: the configuration is not valid:\n  HEAD:strata.yaml:13:20: apps.web.versions[1]: \"V_9\" is not a valid version", false},
		{"an invalid working tree is the head", []string{"--base", "HEAD~1"},
			ExitError, "strata diff: head: the configuration is not valid:\n  " + cfg + ":13:20:", false},
		{"a missing --base is a usage error", nil, ExitUsage, "--base is required", false},
		{"a bad --format is a usage error, never 2, with --detailed-exitcode", []string{"--base", "HEAD", "--format", "yaml", "--detailed-exitcode"},
			ExitUsage, `--output "yaml": expected text, markdown, json`, false},
		{"an unknown flag is a usage error, never 2, with --detailed-exitcode", []string{"--base", "HEAD", "--detailed-exitcode", "--bogus"},
			ExitUsage, "unknown flag: --bogus", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runDiff(t, nil, append([]string{"-c", cfg}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr %s", code, tc.code, errOut)
			}
			if !strings.Contains(errOut, tc.stderr) {
				t.Errorf("stderr %q does not contain %q", errOut, tc.stderr)
			}
		})
	}
}

// TestDiffOfANewVersionWithItsOwnSettingsRestartsNothing: a setting given
// to a new version only leaves the running versions' jobs as they are, so
// --fail-on-restart passes; the same setting on the app restarts all three.
func TestDiffOfANewVersionWithItsOwnSettingsRestartsNothing(t *testing.T) {
	base, own, shared := t.TempDir(), t.TempDir(), t.TempDir()
	writeConfig(t, base, diffBase)
	writeConfig(t, own, diffCases[6].change(diffBase))
	writeConfig(t, shared, strings.Replace(strings.Replace(diffBase, "[v8, v9, v10]", "[v8, v9, v10, v11]", 1), "env: { LOG_LEVEL: info }", "env: { LOG_LEVEL: info, FEATURE_X: \"on\" }", 1))
	code, out, errOut := runDiff(t, nil, "--base", base, "--head", own, "--fail-on-restart", "--detailed-exitcode")
	if code != ExitChanges || strings.Contains(out, "Restarts") {
		t.Errorf("a new version's own env: exit %d, want %d, and no restart:\n%s%s", code, ExitChanges, out, errOut)
	}
	if !strings.Contains(out, "+ web-v11") || strings.Contains(out, "~ web-v") {
		t.Errorf("only web-v11 should be added, no version edited:\n%s", out)
	}
	code, out, errOut = runDiff(t, nil, "--base", base, "--head", shared, "--fail-on-restart")
	if code != ExitRestarts || !strings.Contains(out, "! Restarts 3 running versions of web (web-v8, web-v9, web-v10), replacing their allocations: their sessions are cut.") {
		t.Errorf("the app's env: exit %d, want %d:\n%s%s", code, ExitRestarts, out, errOut)
	}

	// Once only versions with the setting run, it moves to the app and no
	// job changes.
	onlyOwn, moved := t.TempDir(), t.TempDir()
	writeConfig(t, onlyOwn, strings.Replace(strings.Replace(diffCases[6].change(diffBase), "      - v8\n      - v9\n      - v10\n", "", 1), "live: v10", "live: v11", 1))
	writeConfig(t, moved, strings.Replace(strings.Replace(strings.Replace(diffBase, "[v8, v9, v10]", "[v11]", 1), "live: v10", "live: v11", 1), "env: { LOG_LEVEL: info }", "env: { LOG_LEVEL: info, FEATURE_X: \"on\" }", 1))
	code, out, errOut = runDiff(t, nil, "--base", onlyOwn, "--head", moved, "--fail-on-restart", "--detailed-exitcode")
	if code != ExitOK {
		t.Errorf("moving the setting to the app: exit %d, want %d:\n%s%s", code, ExitOK, out, errOut)
	}
}

// golden compares got with the file at path, or rewrites it with -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *updateDiff {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/cli -run Diff -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update to rewrite it after an intended change):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestDiffShowsACLPolicyChanges(t *testing.T) {
	base, head := t.TempDir(), t.TempDir()
	writeConfig(t, base, webV1V2)
	withAPI := webV1V2 + strings.Replace(strings.SplitN(webV1V2, "apps:\n", 2)[1], "  web:", "  api:", 1)
	writeConfig(t, head, withAPI)
	code, out, errOut := run(t, nil, "diff", "--base", base, "--head", head, "--detailed-exitcode")
	if code != ExitChanges {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"~ ACL policy consul-deployer.hcl", `+ key "strata/api/live" {`, "~ ACL policy consul-sweeper.hcl"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
}

// wideConfig is the wide case: apps web apps (40 in the issue) of
// 8 versions each, with env and image as given.
func wideConfig(apps int, env, image string) string {
	var b strings.Builder
	b.WriteString("created: \"2026-11-01T00:00:00Z\"\napps:\n")
	for i := range apps {
		fmt.Fprintf(&b, `  app%02d:
    driver: docker
    image: %q
    ports: { http: {} }
    service: { check: { path: /healthz } }
    env: { %s }
    versions: [v1, v2, v3, v4, v5, v6, v7, v8]
    live: v8
`, i, image, env)
	}
	return b.String()
}

// TestWideMarkdownDiffFitsInAGitHubComment: 40 apps × 8 versions with one
// env change made 93 KB of Markdown; it must fit in a GitHub comment and
// keep the table (every job) and every restart, whether the versions'
// changes are the same (one env value) or all differ (a new registry in
// every version's image). Past a table that alone would fill half the
// comment (99 apps), the table has a row per app.
func TestWideMarkdownDiffFitsInAGitHubComment(t *testing.T) {
	const image, longer = "ghcr.io/acme/app:{{version}}", "registry.example.com/acme/a-much-longer-repository-name/app:{{version}}"
	for _, tc := range []struct {
		name       string
		apps       int
		base, head string
	}{
		{"one env change to every app", 40, wideConfig(40, "LOG_LEVEL: info", image), wideConfig(40, "LOG_LEVEL: debug", image)},
		{"a change that differs in every version", 40, wideConfig(40, "LOG_LEVEL: info", image), wideConfig(40, "LOG_LEVEL: info", longer)},
		{"one env change to 99 apps", 99, wideConfig(99, "LOG_LEVEL: info", image), wideConfig(99, "LOG_LEVEL: debug", image)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, head := t.TempDir(), t.TempDir()
			writeConfig(t, base, tc.base)
			writeConfig(t, head, tc.head)
			code, out, errOut := runDiff(t, nil, "--base", base, "--head", head, "-o", "markdown")
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if n := utf8.RuneCountInString(out); n > planview.GitHubCommentLimit {
				t.Errorf("%d characters, more than a GitHub comment takes (%d)", n, planview.GitHubCommentLimit)
			}
			for i := range tc.apps {
				app := fmt.Sprintf("app%02d", i)
				if tc.apps > 40 {
					if row := fmt.Sprintf("| `%s` | v1, v2, v3, v4, v5, v6, v7, v8 | ~ edited (8) | **replaced** |", app); !strings.Contains(out, row) {
						t.Fatalf("the table lacks %s", row)
					}
				}
				for v := 1; v <= 8 && tc.apps <= 40; v++ {
					if row := fmt.Sprintf("| `%s-v%d` | ~ edited |", app, v); !strings.Contains(out, row) {
						t.Fatalf("the table lacks %s", row)
					}
				}
				cut := fmt.Sprintf("Restarts 8 running versions of %s (%s-v1, %s-v2, %s-v3, %s-v4, %s-v5, %s-v6, %s-v7, %s-v8)", app, app, app, app, app, app, app, app, app)
				if !strings.Contains(out, cut) {
					t.Fatalf("the restarts of %s are not said", app)
				}
			}
			if strings.Count(out, "```diff") != strings.Count(out, "```\n\n</details>") {
				t.Errorf("a diff block is left open")
			}
		})
	}
}
