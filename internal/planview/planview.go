// Package planview writes Nomad plan results the way `nomad job plan` shows
// them, as text or as Markdown for a pull-request comment.
package planview

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/nomad/api"
)

// Job is one job's plan.
type Job struct {
	ID   string
	Plan *api.JobPlanResponse
}

// Orphan is a managed job in the cluster that strata.yaml no longer has.
type Orphan struct {
	ID, App, Version string
}

// Changed reports whether the plan changes the job.
func (j Job) Changed() bool {
	return j.Plan != nil && j.Plan.Diff != nil && j.Plan.Diff.Type != "None"
}

func mark(typ string) string {
	switch typ {
	case "Added":
		return "+"
	case "Deleted":
		return "-"
	case "Edited":
		return "~"
	}
	return " "
}

// Text writes the plans and the orphans as text.
func Text(jobs []Job, orphans []Orphan) string {
	var b strings.Builder
	changed := 0
	for _, j := range jobs {
		if !j.Changed() {
			continue
		}
		changed++
		writeJob(&b, j, "")
		b.WriteString("\n")
	}
	if changed == 0 {
		b.WriteString("No changes: every job in strata.yaml matches the cluster.\n")
	}
	for _, o := range orphans {
		fmt.Fprintf(&b, "- Job %q (%s %s) is in the cluster but not in strata.yaml: the sweeper retires it once idle.\n", o.ID, o.App, o.Version)
	}
	fmt.Fprintf(&b, "%d of %d jobs change; %d not in strata.yaml.\n", changed, len(jobs), len(orphans))
	return b.String()
}

// Markdown writes the plans as a pull-request comment: a summary table, then
// each changed job's diff in a collapsed block.
func Markdown(jobs []Job, orphans []Orphan) string {
	var b strings.Builder
	b.WriteString("### strata plan\n\n| Job | Change | Allocations |\n|---|---|---|\n")
	changed := 0
	for _, j := range jobs {
		if !j.Changed() {
			continue
		}
		changed++
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", j.ID, j.Plan.Diff.Type, updates(j.Plan))
	}
	for _, o := range orphans {
		fmt.Fprintf(&b, "| `%s` | not in strata.yaml | retired by the sweeper once idle |\n", o.ID)
	}
	if changed == 0 && len(orphans) == 0 {
		b.WriteString("| – | no changes | |\n")
	}
	for _, j := range jobs {
		if !j.Changed() {
			continue
		}
		fmt.Fprintf(&b, "\n<details><summary><code>%s</code>: %s</summary>\n\n```diff\n", j.ID, j.Plan.Diff.Type)
		var d strings.Builder
		writeJob(&d, j, "")
		b.WriteString(d.String())
		b.WriteString("```\n</details>\n")
	}
	return b.String()
}

// updates summarises what the scheduler would do with allocations.
func updates(p *api.JobPlanResponse) string {
	if p.Annotations == nil {
		return ""
	}
	var parts []string
	groups := make([]string, 0, len(p.Annotations.DesiredTGUpdates))
	for g := range p.Annotations.DesiredTGUpdates {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	for _, g := range groups {
		u := p.Annotations.DesiredTGUpdates[g]
		for _, c := range []struct {
			n    uint64
			what string
		}{{u.Place, "create"}, {u.DestructiveUpdate, "create/destroy update"}, {u.InPlaceUpdate, "in-place update"}, {u.Stop, "destroy"}, {u.Canary, "canary"}} {
			if c.n > 0 {
				parts = append(parts, fmt.Sprintf("%s: %d %s", g, c.n, c.what))
			}
		}
	}
	for g, m := range p.FailedTGAllocs {
		parts = append(parts, fmt.Sprintf("%s: placement failed (%d nodes evaluated)", g, m.NodesEvaluated))
	}
	return strings.Join(parts, ", ")
}

func writeJob(b *strings.Builder, j Job, indent string) {
	d := j.Plan.Diff
	fmt.Fprintf(b, "%s%s Job: %q\n", indent, mark(d.Type), j.ID)
	writeFields(b, d.Fields, indent+"  ")
	writeObjects(b, d.Objects, indent+"  ")
	for _, g := range d.TaskGroups {
		if g.Type == "None" {
			continue
		}
		fmt.Fprintf(b, "%s  %s Task Group: %q", indent, mark(g.Type), g.Name)
		if u := j.Plan.Annotations; u != nil {
			if du := u.DesiredTGUpdates[g.Name]; du != nil {
				fmt.Fprintf(b, " (%s)", strings.TrimPrefix(updates(&api.JobPlanResponse{Annotations: &api.PlanAnnotations{DesiredTGUpdates: map[string]*api.DesiredUpdates{g.Name: du}}}), g.Name+": "))
			}
		}
		b.WriteString("\n")
		writeFields(b, g.Fields, indent+"    ")
		writeObjects(b, g.Objects, indent+"    ")
		for _, t := range g.Tasks {
			if t.Type == "None" {
				continue
			}
			fmt.Fprintf(b, "%s    %s Task: %q", indent, mark(t.Type), t.Name)
			if len(t.Annotations) > 0 {
				fmt.Fprintf(b, " (%s)", strings.Join(t.Annotations, ", "))
			}
			b.WriteString("\n")
			writeFields(b, t.Fields, indent+"      ")
			writeObjects(b, t.Objects, indent+"      ")
		}
	}
	if len(j.Plan.FailedTGAllocs) > 0 {
		fmt.Fprintf(b, "%s  ! placement failures: %s\n", indent, updates(&api.JobPlanResponse{FailedTGAllocs: j.Plan.FailedTGAllocs}))
	}
}

func writeFields(b *strings.Builder, fs []*api.FieldDiff, indent string) {
	for _, f := range fs {
		switch f.Type {
		case "None":
		case "Added":
			fmt.Fprintf(b, "%s+ %s: %q\n", indent, f.Name, f.New)
		case "Deleted":
			fmt.Fprintf(b, "%s- %s: %q\n", indent, f.Name, f.Old)
		default:
			fmt.Fprintf(b, "%s~ %s: %q => %q\n", indent, f.Name, f.Old, f.New)
		}
	}
}

func writeObjects(b *strings.Builder, os []*api.ObjectDiff, indent string) {
	for _, o := range os {
		if o.Type == "None" {
			continue
		}
		fmt.Fprintf(b, "%s%s %s {\n", indent, mark(o.Type), o.Name)
		writeFields(b, o.Fields, indent+"  ")
		writeObjects(b, o.Objects, indent+"  ")
		fmt.Fprintf(b, "%s  }\n", indent)
	}
}
