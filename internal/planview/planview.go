// Package planview writes the results of Nomad's plan API for the jobs
// strata.yaml renders: as text in the layout of `nomad job plan`, as Markdown
// for a pull-request comment, or as JSON. Every job is reported, including
// those Nomad refused to plan (with Nomad's error) and Nomad's warnings, and
// a job the plan brings back after it was stopped or purged is called what it
// is.
package planview

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/nomad/api"
)

// Job is one job's plan, or why it could not be planned. Its JSON has
// strata's snake_case keys, and Nomad's plan response with Nomad's own key
// names under "plan".
type Job struct {
	ID string `json:"id"`
	// App and Version are the job's strata.app and strata.version meta;
	// empty for strata's own jobs.
	App     string `json:"app,omitempty"`
	Version string `json:"version,omitempty"`
	// Kind is the job's strata.kind meta (web or worker), which says what
	// a restart of it cuts; not in the JSON, whose jobs are Nomad's.
	Kind string `json:"-"`
	// Plan is Nomad's answer; nil when the plan failed.
	Plan *api.JobPlanResponse `json:"plan,omitempty"`
	// Error is Nomad's error when the job could not be planned.
	Error string `json:"error,omitempty"`
	// Return is set when the plan brings back a job that the cluster
	// stopped or purged.
	Return *Return `json:"return,omitempty"`
}

// Orphan is a managed job in the cluster that strata.yaml no longer has.
type Orphan struct {
	ID      string `json:"id"`
	App     string `json:"app"`
	Version string `json:"version"`
}

// Return describes a job the plan brings back.
type Return struct {
	// Was is ReturnStopped or ReturnPurged.
	Was string `json:"was"`
	// Evidence says, for a purged job, why a job absent from the cluster is
	// taken to have run before.
	Evidence string `json:"evidence,omitempty"`
	// Allocations is how many allocations running the job file creates.
	Allocations uint64 `json:"allocations"`
}

// What a returning job was.
const (
	// ReturnStopped is a job still in the cluster, stopped (by the sweeper
	// or nomad job stop).
	ReturnStopped = "stopped"
	// ReturnPurged is a job absent from the cluster that, by strata's
	// evidence, most likely ran before: Nomad forgets a purged job, so this
	// cannot be certain.
	ReturnPurged = "purged"
)

// Seen is one managed job of the cluster's job list.
type Seen struct {
	ID, App, Version string
	Stopped          bool
}

// Changed reports whether the plan changes the job's specification.
func (j Job) Changed() bool {
	return j.Plan != nil && j.Plan.Diff != nil && j.Plan.Diff.Type != "None"
}

// Warnings are Nomad's warnings about the job, empty when there are none.
func (j Job) Warnings() string {
	if j.Plan == nil {
		return ""
	}
	return strings.TrimSpace(j.Plan.Warnings)
}

// shown reports whether the job appears in the text and the details: it
// changes, or Nomad has something to say about it.
func (j Job) shown() bool {
	return j.Changed() || j.Error != "" || j.Warnings() != "" || (j.Plan != nil && len(j.Plan.FailedTGAllocs) > 0)
}

// creates is the number of allocations the plan creates.
func creates(p *api.JobPlanResponse) uint64 {
	var n uint64
	if p == nil || p.Diff == nil {
		return 0
	}
	for _, g := range p.Diff.TaskGroups {
		n += g.Updates["create"]
	}
	return n
}

// MarkReturns sets Return on each job the plan brings back: a job the
// cluster holds stopped (Nomad keeps a stopped job in its list with Stop
// set), and a job Nomad plans as new although it ran before, which means it
// was purged. Nomad forgets a purged job entirely, so the evidence that it
// ran is strata's: the version is its app's live version in strata.yaml
// (live), or a newer version of the app is in the cluster. A new version
// has neither and is left alone.
func MarkReturns(jobs []Job, cluster []Seen, live map[string]string, compare func(a, b string) int) {
	byID := map[string]Seen{}
	for _, s := range cluster {
		byID[s.ID] = s
	}
	for i := range jobs {
		j := &jobs[i]
		if j.Plan == nil || j.Plan.Diff == nil || j.App == "" {
			continue
		}
		n := creates(j.Plan)
		seen, inCluster := byID[j.ID]
		switch {
		case inCluster && seen.Stopped && j.Plan.Diff.Type == "Edited" && n > 0:
			j.Return = &Return{Was: ReturnStopped, Allocations: n}
		case !inCluster && j.Plan.Diff.Type == "Added":
			evidence := ""
			if live[j.App] == j.Version {
				evidence = fmt.Sprintf("it is %s's live version in strata.yaml", j.App)
			} else {
				var newer []string
				for _, s := range cluster {
					if s.App == j.App && compare(s.Version, j.Version) > 0 {
						newer = append(newer, s.ID)
					}
				}
				if len(newer) > 0 {
					slices.Sort(newer)
					evidence = fmt.Sprintf("%s, newer, is in the cluster", strings.Join(newer, ", "))
				}
			}
			if evidence != "" {
				j.Return = &Return{Was: ReturnPurged, Evidence: evidence, Allocations: n}
			}
		}
	}
}

// Sentence says what the return means, in one line.
func (r Return) Sentence(id string) string {
	if r.Was == ReturnStopped {
		return fmt.Sprintf("%s was stopped (by the sweeper or nomad job stop): running its job file starts %s again", id, allocs(r.Allocations))
	}
	return fmt.Sprintf("%s is not in the cluster, though %s: it was retired and purged (or never ran); running its job file creates it anew with %s", id, r.Evidence, allocs(r.Allocations))
}

func allocs(n uint64) string {
	if n == 1 {
		return "1 allocation"
	}
	return fmt.Sprintf("%d allocations", n)
}

// Text writes the plans and the orphans as text: each job that changes, or
// about which Nomad warns or failed, in the layout of `nomad job plan`, then
// what the plan means for jobs it brings back, the orphans and a summary.
func Text(jobs []Job, orphans []Orphan) string {
	var b strings.Builder
	for _, j := range jobs {
		if !j.shown() {
			continue
		}
		writeJobText(&b, j)
		b.WriteString("\n")
	}
	if countChanged(jobs) == 0 && countFailed(jobs) == 0 {
		b.WriteString("No changes: every job in strata.yaml matches the cluster.\n")
	}
	for _, cut := range SessionCuts(jobs) {
		fmt.Fprintf(&b, "! %s.\n", cut)
	}
	for _, o := range orphans {
		fmt.Fprintf(&b, "- Job %q (%s %s) is in the cluster but not in strata.yaml: the sweeper retires it once idle.\n", o.ID, o.App, o.Version)
	}
	b.WriteString(summary(jobs, orphans))
	b.WriteString("\n")
	return b.String()
}

// writeJobText writes one job: its diff, then Nomad's notes.
func writeJobText(b *strings.Builder, j Job) {
	if j.Error != "" {
		fmt.Fprintf(b, "! Job: %q could not be planned:\n%s\n", j.ID, indent(j.Error, "    "))
		return
	}
	b.WriteString(JobDiff(j.Plan.Diff))
	b.WriteString("\n")
	if j.Return != nil {
		fmt.Fprintf(b, "! %s.\n", j.Return.Sentence(j.ID))
	}
	for _, n := range InPlaceDespiteAnnotation(j.Plan) {
		fmt.Fprintf(b, "! %s.\n", n)
	}
	if f := placementFailures(j.Plan); f != "" {
		b.WriteString(f)
	}
	if w := j.Warnings(); w != "" {
		fmt.Fprintf(b, "Job Warnings:\n%s\n", w)
	}
}

func summary(jobs []Job, orphans []Orphan) string {
	s := fmt.Sprintf("%d of %d jobs change; %d not in strata.yaml", countChanged(jobs), len(jobs), len(orphans))
	if n := countFailed(jobs); n > 0 {
		s += fmt.Sprintf("; %d could not be planned", n)
	}
	if n := countWarned(jobs); n > 0 {
		s += fmt.Sprintf("; %d with warnings", n)
	}
	return s + "."
}

func countChanged(jobs []Job) int {
	n := 0
	for _, j := range jobs {
		if j.Changed() {
			n++
		}
	}
	return n
}

func countFailed(jobs []Job) int {
	n := 0
	for _, j := range jobs {
		if j.Error != "" {
			n++
		}
	}
	return n
}

func countWarned(jobs []Job) int {
	n := 0
	for _, j := range jobs {
		if j.Warnings() != "" {
			n++
		}
	}
	return n
}

// placementFailures writes the task groups Nomad could not place, as the
// dry-run part of `nomad job plan` does.
func placementFailures(p *api.JobPlanResponse) string {
	if len(p.FailedTGAllocs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("- WARNING: Failed to place all allocations.\n")
	for _, g := range sortedKeys(p.FailedTGAllocs) {
		m := p.FailedTGAllocs[g]
		noun := "allocation"
		if m.CoalescedFailures > 0 {
			noun += "s"
		}
		fmt.Fprintf(&b, "  Task Group %q (failed to place %d %s):\n", g, m.CoalescedFailures+1, noun)
		for _, line := range allocMetrics(m) {
			fmt.Fprintf(&b, "    * %s\n", line)
		}
	}
	return b.String()
}

// allocMetrics explains why allocations were not placed, as `nomad alloc
// status` and `nomad job plan` do.
func allocMetrics(m *api.AllocationMetric) []string {
	var out []string
	if m.NodesEvaluated == 0 {
		out = append(out, "No nodes were eligible for evaluation")
	}
	for _, dc := range sortedKeys(m.NodesAvailable) {
		if m.NodesAvailable[dc] == 0 {
			out = append(out, fmt.Sprintf("No nodes are available in datacenter %q", dc))
		}
	}
	for _, c := range sortedKeys(m.ClassFiltered) {
		out = append(out, fmt.Sprintf("Class %q: %d nodes excluded by filter", c, m.ClassFiltered[c]))
	}
	for _, c := range sortedKeys(m.ConstraintFiltered) {
		out = append(out, fmt.Sprintf("Constraint %q: %d nodes excluded by filter", c, m.ConstraintFiltered[c]))
	}
	if m.NodesExhausted > 0 {
		out = append(out, fmt.Sprintf("Resources exhausted on %d nodes", m.NodesExhausted))
	}
	for _, c := range sortedKeys(m.ClassExhausted) {
		out = append(out, fmt.Sprintf("Class %q exhausted on %d nodes", c, m.ClassExhausted[c]))
	}
	for _, d := range sortedKeys(m.DimensionExhausted) {
		out = append(out, fmt.Sprintf("Dimension %q exhausted on %d nodes", d, m.DimensionExhausted[d]))
	}
	for _, q := range m.QuotaExhausted {
		out = append(out, fmt.Sprintf("Quota limit hit %q", q))
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}

// Markdown writes the plans as a pull-request comment: a summary table with
// every job that changes or could not be planned, the jobs the plan brings
// back, Nomad's warnings and errors, then each job's diff in a collapsed
// block, and the extra sections (the HAProxy configuration change). It fits
// in a GitHub comment: past GitHubCommentLimit characters, diffs are
// summarized, except those of destructive changes (see FitMarkdown).
func Markdown(jobs []Job, orphans []Orphan, extra ...Section) string {
	return MarkdownWithin(GitHubCommentLimit, jobs, orphans, extra...)
}

// MarkdownWithin is Markdown within limit characters.
func MarkdownWithin(limit int, jobs []Job, orphans []Orphan, extra ...Section) string {
	var b strings.Builder
	b.WriteString("### strata plan\n\n")
	b.WriteString(summary(jobs, orphans))
	b.WriteString("\n\n")
	b.WriteString(MarkdownTable(jobs, orphans))
	if cuts := SessionCuts(jobs); len(cuts) > 0 {
		b.WriteString("\n#### Sessions this plan cuts\n\n")
		for _, cut := range cuts {
			fmt.Fprintf(&b, "- %s.\n", mdEscape(cut))
		}
	}
	var notes []string
	for _, j := range jobs {
		if j.Return != nil {
			notes = append(notes, fmt.Sprintf("- **`%s`**: %s.", j.ID, mdEscape(j.Return.Sentence(j.ID))))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(&b, "\n#### Jobs this plan brings back\n\n%s\n", strings.Join(notes, "\n"))
	}
	var failed, warned []Job
	for _, j := range jobs {
		if j.Error != "" {
			failed = append(failed, j)
		}
		if j.Warnings() != "" {
			warned = append(warned, j)
		}
	}
	if len(failed) > 0 {
		b.WriteString("\n#### Could not be planned\n")
		for _, j := range failed {
			fmt.Fprintf(&b, "\n`%s`:\n\n%s", j.ID, fence("", j.Error))
		}
	}
	if len(warned) > 0 {
		b.WriteString("\n#### Nomad's warnings\n")
		for _, j := range warned {
			fmt.Fprintf(&b, "\n`%s`:\n\n%s", j.ID, fence("", j.Warnings()))
		}
	}
	var sections []Section
	for _, j := range jobs {
		if j.Plan == nil || !j.shown() {
			continue
		}
		var d strings.Builder
		d.WriteString(JobDiff(j.Plan.Diff))
		d.WriteString("\n")
		for _, n := range InPlaceDespiteAnnotation(j.Plan) {
			fmt.Fprintf(&d, "! %s.\n", n)
		}
		if f := placementFailures(j.Plan); f != "" {
			d.WriteString(f)
		}
		sections = append(sections, Section{
			Body:    fmt.Sprintf("\n<details><summary><code>%s</code>: %s</summary>\n\n%s</details>\n", j.ID, j.Plan.Diff.Type, fence("diff", d.String())),
			Keep:    j.Destructive(),
			Summary: fmt.Sprintf("`%s`: %s (%s): diff left out", j.ID, j.Plan.Diff.Type, mdEscape(groupUpdates(j.Plan))),
		})
	}
	return FitMarkdown(b.String(), append(sections, extra...), limit)
}

// SessionCuts says, per app, which running versions the plan restarts by
// replacing their allocations, and what that cuts (RestartSentences: "Restarts
// 2 running versions of web (web-v1, web-v2), replacing their allocations:
// their sessions are cut"), and the same of strata's HAProxy job, which
// holds every app's sessions. Apps are in the order of their first job.
func SessionCuts(jobs []Job) []string {
	return RestartSentences(Restarts(jobs))
}

// Restarts are the jobs whose running allocations the plan replaces or
// stops, in the order of jobs.
func Restarts(jobs []Job) []Restart {
	var out []Restart
	for _, j := range jobs {
		if j.Destructive() {
			out = append(out, Restart{ID: j.ID, App: j.App, Kind: j.Kind})
		}
	}
	return out
}

// Destructive reports whether the plan replaces or stops running
// allocations, or removes the job: changes that cut sessions.
func (j Job) Destructive() bool {
	if j.Plan == nil || j.Plan.Diff == nil {
		return false
	}
	if j.Plan.Diff.Type == "Deleted" {
		return true
	}
	for _, g := range j.Plan.Diff.TaskGroups {
		if g.Updates["create/destroy update"] > 0 || g.Updates["destroy"] > 0 {
			return true
		}
	}
	return false
}

// MarkdownTable is the summary table of Markdown: one row per job that
// changes, could not be planned or has Nomad's warnings, and one per
// orphan; a destructive change says it replaces allocations. FitMarkdown
// keeps it whole.
func MarkdownTable(jobs []Job, orphans []Orphan) string {
	var b strings.Builder
	b.WriteString("| Job | Change | Allocations |\n|---|---|---|\n")
	rows := 0
	for _, j := range jobs {
		switch {
		case j.Error != "":
			fmt.Fprintf(&b, "| `%s` | **could not be planned** | |\n", j.ID)
		case j.shown():
			change := j.Plan.Diff.Type
			if j.Return != nil {
				change += " (" + j.Return.Was + " before)"
			}
			if j.Destructive() {
				change += ", **replaces allocations**"
			}
			if j.Warnings() != "" {
				change += ", with warnings"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", j.ID, change, mdEscape(groupUpdates(j.Plan)))
		default:
			continue
		}
		rows++
	}
	for _, o := range orphans {
		fmt.Fprintf(&b, "| `%s` | not in strata.yaml | retired by the sweeper once idle |\n", o.ID)
		rows++
	}
	if rows == 0 {
		b.WriteString("| – | no changes | |\n")
	}
	return b.String()
}

// groupUpdates is each task group's allocation changes, as `web: 1 create,
// 1 ignore`, groups in the diff's order, then placement failures.
func groupUpdates(p *api.JobPlanResponse) string {
	var parts []string
	if p.Diff != nil {
		for _, g := range p.Diff.TaskGroups {
			if line := UpdateLine(g.Updates); line != "" {
				parts = append(parts, g.Name+": "+line)
			}
		}
	}
	for _, g := range sortedKeys(p.FailedTGAllocs) {
		parts = append(parts, fmt.Sprintf("%s: failed to place %d", g, p.FailedTGAllocs[g].CoalescedFailures+1))
	}
	return strings.Join(parts, "; ")
}

// fence wraps text in a Markdown code fence longer than any run of
// backticks inside it.
func fence(lang, text string) string {
	ticks := "```"
	for strings.Contains(text, ticks) {
		ticks += "`"
	}
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	return ticks + lang + "\n" + text + ticks + "\n"
}

// mdEscape keeps text from breaking a Markdown table cell.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// NomadError is the text of an error from Nomad's API for a person: Nomad's
// own answer and its status ("Nomad answered 500: 1 error occurred: ..."),
// without the blank lines Nomad's multi-error text ends with; other errors
// (a connection refused) as they are.
func NomadError(err error) string {
	var ue api.UnexpectedResponseError
	if !errors.As(err, &ue) || !ue.HasBody() {
		return err.Error()
	}
	var lines []string
	for _, l := range strings.Split(ue.Body(), "\n") {
		if l = strings.TrimRight(l, " \t\r"); l != "" {
			lines = append(lines, l)
		}
	}
	return fmt.Sprintf("Nomad answered %d: %s", ue.StatusCode(), strings.Join(lines, "\n"))
}

// InPlaceDespiteAnnotation says of each task Nomad annotates "forces
// create/destroy update" while its scheduler updates the task's group in
// place, that no allocation is replaced. Nomad's annotateTask
// (scheduler/annotate.go) marks so any changed task object but LogConfig,
// Service and Constraint, a consul block included, whereas its scheduler
// (tasksUpdated) applies a consul block added or removed in place when the
// servers set no consul.task_identity: the plan's updates decide, and a
// reader of the annotation alone would expect sessions cut.
func InPlaceDespiteAnnotation(p *api.JobPlanResponse) []string {
	if p == nil || p.Diff == nil {
		return nil
	}
	var out []string
	for _, g := range p.Diff.TaskGroups {
		if g.Updates["in-place update"] == 0 || g.Updates["create/destroy update"] > 0 || g.Updates["canary"] > 0 || g.Updates["destroy"] > 0 {
			continue
		}
		for _, t := range g.Tasks {
			if !slices.Contains(t.Annotations, "forces create/destroy update") {
				continue
			}
			var objects []string
			for _, o := range t.Objects {
				if o.Type != "None" && !slices.Contains(objects, o.Name) {
					objects = append(objects, o.Name)
				}
			}
			what := "its change"
			if len(objects) > 0 {
				what = "its changed " + strings.Join(objects, ", ")
			}
			out = append(out, fmt.Sprintf("Nomad marks task %q of %s \"forces create/destroy update\" for %s, but its scheduler updates group %q in place: no allocation is replaced and no session is cut", t.Name, p.Diff.ID, what, g.Name))
		}
	}
	return out
}
