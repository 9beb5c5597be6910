package planview_test

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/planview"
)

func TestFitMarkdown(t *testing.T) {
	long := func(name string, n int) string {
		return fmt.Sprintf("\n<details><summary>%s</summary>\n\n%s\n</details>\n", name, strings.Repeat("x", n))
	}
	for _, c := range []struct {
		name     string
		sections []planview.Section
		limit    int
		want     []string
		wantNot  []string
	}{
		{"a report within the limit is left whole",
			[]planview.Section{{Body: long("a", 100), Summary: "a"}, {Body: long("b", 100), Summary: "b"}}, 1000,
			[]string{"<summary>a</summary>", "<summary>b</summary>"}, []string{"shortened"}},
		{"past the limit, sections that do not fit are summarized in order",
			[]planview.Section{{Body: long("a", 300), Summary: "a left out"}, {Body: long("b", 700), Summary: "b left out"}}, 1000,
			[]string{"<summary>a</summary>", "- b left out", "shortened to fit in 1000 characters: 1 of 2 sections"}, []string{"<summary>b</summary>"}},
		{"a destructive section stays even after sections that do not fit",
			[]planview.Section{{Body: long("a", 700), Summary: "a left out"}, {Body: long("d", 300), Keep: true, Summary: "d left out"}}, 1000,
			[]string{"<summary>d</summary>", "- a left out"}, []string{"<summary>a</summary>", "d left out"}},
		{"kept sections too long for the limit lose the end of their long lines",
			[]planview.Section{{Body: long("d", 1500), Keep: true, Summary: "d left out"}}, 1000,
			[]string{"<summary>d</summary>", "(1200 more characters)"}, nil},
		{"kept sections that still do not fit are summarized too; the head never is",
			[]planview.Section{{Body: strings.Repeat(long("d", 200), 10), Keep: true, Summary: "d left out"}}, 1000,
			[]string{"- d left out", "| table |"}, []string{"<summary>d</summary>"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := planview.FitMarkdown("| table |\n", c.sections, c.limit)
			if n := utf8.RuneCountInString(got); n > c.limit {
				t.Errorf("%d characters, limit %d", n, c.limit)
			}
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("lacks %q:\n%s", w, got)
				}
			}
			for _, w := range c.wantNot {
				if strings.Contains(got, w) {
					t.Errorf("has %q:\n%s", w, got)
				}
			}
		})
	}
}

// TestMarkdownOfAWideChangeFitsInAGitHubComment plans the change issue 9
// measured at 93 KB: 40 apps × 8 versions with one env var added (the
// recorded add_env_var plan of web-v1, a destructive update), plus 320
// in-place updates. It fits, the table lists every job, and the destructive
// diffs are kept before any in-place one.
func TestMarkdownOfAWideChangeFitsInAGitHubComment(t *testing.T) {
	destructive := planned(t, "0084-PUT-job_web-v1_plan.json")
	inPlace := planned(t, "0085-PUT-job_web-v2_plan.json")
	inPlace.Plan = &api.JobPlanResponse{Diff: &api.JobDiff{Type: "Edited", ID: "x", TaskGroups: []*api.TaskGroupDiff{{
		Type: "Edited", Name: "web", Updates: map[string]uint64{"in-place update": 2},
		Objects: []*api.ObjectDiff{{Type: "Edited", Name: "Service", Fields: []*api.FieldDiff{{Type: "Edited", Name: "Tags", Old: strings.Repeat("a", 200), New: strings.Repeat("b", 200)}}}},
	}}}}
	var jobs []planview.Job
	for a := range 40 {
		for v := range 8 {
			d := destructive
			d.ID = fmt.Sprintf("app%02d-v%d", a, v)
			jobs = append(jobs, d)
			p := inPlace
			p.ID = fmt.Sprintf("other%02d-v%d", a, v)
			jobs = append(jobs, p)
		}
	}
	whole := planview.MarkdownWithin(1<<30, jobs, nil)
	if utf8.RuneCountInString(whole) <= planview.GitHubCommentLimit {
		t.Fatalf("the unguarded report has %d characters: not a test of the guard", utf8.RuneCountInString(whole))
	}
	got := planview.Markdown(jobs, nil)
	if n := utf8.RuneCountInString(got); n > planview.GitHubCommentLimit {
		t.Fatalf("%d characters, over GitHub's %d", n, planview.GitHubCommentLimit)
	}
	for _, j := range jobs {
		if !strings.Contains(got, "| `"+j.ID+"` |") {
			t.Errorf("the table lacks %s", j.ID)
		}
	}
	if !strings.Contains(got, "<summary><code>app00-v0</code>") || strings.Contains(got, "<summary><code>other00-v0</code>") {
		t.Error("the destructive diffs do not come before the in-place ones")
	}
	if !strings.Contains(got, "shortened to fit") {
		t.Error("no note that the report was shortened")
	}
}
