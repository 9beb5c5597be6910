package nomadfake_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/nomadfake"
	"github.com/strata-dev/strata/internal/nomadrec"
)

// diffLines renders a job diff one line per field, object, group and task,
// indented by depth, in the diff's own order, so two diffs compare as text
// and a difference shows where it is.
func diffLines(d *api.JobDiff) []string {
	if d == nil {
		return []string{"<no diff>"}
	}
	var out []string
	var fields func(ind string, fs []*api.FieldDiff)
	fields = func(ind string, fs []*api.FieldDiff) {
		for _, f := range fs {
			out = append(out, fmt.Sprintf("%sfield %s %s %q -> %q %v", ind, f.Type, f.Name, f.Old, f.New, f.Annotations))
		}
	}
	var objects func(ind string, os []*api.ObjectDiff)
	objects = func(ind string, os []*api.ObjectDiff) {
		for _, o := range os {
			out = append(out, fmt.Sprintf("%sobject %s %s", ind, o.Type, o.Name))
			fields(ind+"  ", o.Fields)
			objects(ind+"  ", o.Objects)
		}
	}
	out = append(out, fmt.Sprintf("job %s %s", d.Type, d.ID))
	fields("  ", d.Fields)
	objects("  ", d.Objects)
	for _, g := range d.TaskGroups {
		var updates []string
		for k, v := range g.Updates {
			updates = append(updates, fmt.Sprintf("%s=%d", k, v))
		}
		sort.Strings(updates)
		out = append(out, fmt.Sprintf("  group %s %s updates %v", g.Type, g.Name, updates))
		fields("    ", g.Fields)
		objects("    ", g.Objects)
		for _, t := range g.Tasks {
			out = append(out, fmt.Sprintf("    task %s %s %v", t.Type, t.Name, t.Annotations))
			fields("      ", t.Fields)
			objects("      ", t.Objects)
		}
	}
	return out
}

// firstDifference describes where two line lists part.
func firstDifference(got, want []string) string {
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			lo := max(0, i-3)
			return fmt.Sprintf("line %d:\n  fake:  %s\n  Nomad: %s\ncontext (Nomad):\n  %s", i+1, shorten(g), shorten(w),
				strings.Join(shortenAll(want[lo:min(len(want), i+4)]), "\n  "))
		}
	}
	return ""
}

func shorten(s string) string {
	if len(s) > 240 {
		return s[:240] + "…"
	}
	return s
}

func shortenAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = shorten(s)
	}
	return out
}

// planAnswer is the part of Nomad's plan answer the comparison reads.
type planAnswer struct {
	Annotations        *api.PlanAnnotations
	FailedTGAllocs     map[string]*api.AllocationMetric
	JobModifyIndex     uint64
	Diff               *api.JobDiff
	NextPeriodicLaunch *string
	Warnings           string
}

// TestEveryRecordedPlanAnswersAsNomad replays the recorded plan session
// against the fake, in order: the registers and deregisters that set the
// cluster up (the four examples/local jobs running; web-v1 stopped; web-v2
// purged; each restored), and every plan, whose answer must be Nomad's:
// status, diff (types, fields, objects, groups, tasks, annotations, in
// Nomad's order), desired updates per group, warnings, failed allocations.
// The JobModifyIndex is the fake's own Raft-less index, so only whether it
// is 0 (no job) is compared, and NextPeriodicLaunch depends on the clock,
// so only whether there is one.
func TestEveryRecordedPlanAnswersAsNomad(t *testing.T) {
	files, err := nomadrec.Glob("plan/*.json")
	if err != nil {
		t.Fatal(err)
	}
	s := nomadfake.New(t)
	var plans int
	for _, name := range files {
		ex := loadExchange(t, name)
		switch {
		case ex.Method == "GET":
			continue
		case strings.HasSuffix(ex.Path, "/plan"):
			plans++
			t.Run(fmt.Sprintf("%04d %s %s", ex.Seq, ex.Scenario, ex.Path), func(t *testing.T) {
				checkPlan(t, s, ex)
			})
		default:
			got := send(t, s, ex)
			checkStatusAndText(t, ex, got)
			checkShape(t, name, decodeJSON(t, ex.ResponseBody), got.json(t))
		}
	}
	if plans < 100 {
		t.Errorf("only %d plans replayed", plans)
	}
}

func checkPlan(t *testing.T, s *nomadfake.Server, ex exchange) {
	got := send(t, s, ex)
	checkStatusAndText(t, ex, got)
	if ex.Status != 200 || got.status != 200 {
		return
	}
	checkShape(t, "plan answer", decodeJSON(t, ex.ResponseBody), got.json(t))
	var want, have planAnswer
	if err := json.Unmarshal(ex.ResponseBody, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got.body, &have); err != nil {
		t.Fatal(err)
	}
	if w, h := diffLines(want.Diff), diffLines(have.Diff); strings.Join(w, "\n") != strings.Join(h, "\n") {
		t.Errorf("diff differs at %s", firstDifference(h, w))
	}
	if w, h := updatesText(want.Annotations), updatesText(have.Annotations); w != h {
		t.Errorf("desired updates:\n  fake:  %s\n  Nomad: %s", h, w)
	}
	if have.Warnings != want.Warnings {
		t.Errorf("warnings %q, Nomad's %q", have.Warnings, want.Warnings)
	}
	if len(have.FailedTGAllocs) != len(want.FailedTGAllocs) {
		t.Errorf("failed allocations %v, Nomad's %v", have.FailedTGAllocs, want.FailedTGAllocs)
	}
	if (have.JobModifyIndex == 0) != (want.JobModifyIndex == 0) {
		t.Errorf("JobModifyIndex %d, Nomad's %d", have.JobModifyIndex, want.JobModifyIndex)
	}
	if (have.NextPeriodicLaunch == nil) != (want.NextPeriodicLaunch == nil) {
		t.Errorf("NextPeriodicLaunch %v, Nomad's %v", have.NextPeriodicLaunch, want.NextPeriodicLaunch)
	}
}

func updatesText(a *api.PlanAnnotations) string {
	if a == nil {
		return "<none>"
	}
	b, _ := json.Marshal(a.DesiredTGUpdates)
	return string(b)
}
