package planview

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/nomad/api"
)

// JobDiff writes a job's diff exactly as `nomad job plan` prints it without
// -verbose and without colour: markers "+", "-" and "+/-", names and values
// aligned per block, every task group with the allocation changes the
// scheduler planned for it ("(1 create, 1 create/destroy update)", update
// types in Nomad's order, ignore included), and every field of an edited
// block, changed or not. The job's fields are shown only when the job is
// edited, and an added or deleted task only by name, as Nomad does. The
// result has no trailing newline.
func JobDiff(d *api.JobDiff) string {
	var b strings.Builder
	marker, _ := diffMarker(d.Type)
	fmt.Fprintf(&b, "%sJob: %q\n", marker, d.ID)
	longestField, longestMarker := longestPrefixes(d.Fields, d.Objects)
	for _, g := range d.TaskGroups {
		if _, l := diffMarker(g.Type); l > longestMarker {
			longestMarker = l
		}
	}
	if d.Type == "Edited" {
		if fo := fieldsAndObjects(d.Fields, d.Objects, 0, longestField, longestMarker); fo != "" {
			b.WriteString(fo)
			b.WriteString("\n")
		}
	}
	for _, g := range d.TaskGroups {
		_, l := diffMarker(g.Type)
		b.WriteString(groupDiff(g, longestMarker-l))
		b.WriteString("\n")
	}
	return strings.TrimSpace(b.String())
}

// UpdateLine is a task group's planned allocation changes as Nomad prints
// them after the group's name, without the parentheses: "1 create, 1
// create/destroy update". Update types are sorted by name, as Nomad sorts
// them; zero counts are left out.
func UpdateLine(updates map[string]uint64) string {
	types := make([]string, 0, len(updates))
	for t, n := range updates {
		if n > 0 {
			types = append(types, t)
		}
	}
	slices.Sort(types)
	parts := make([]string, len(types))
	for i, t := range types {
		parts[i] = fmt.Sprintf("%d %s", updates[t], t)
	}
	return strings.Join(parts, ", ")
}

func groupDiff(g *api.TaskGroupDiff, prefix int) string {
	var b strings.Builder
	marker, _ := diffMarker(g.Type)
	fmt.Fprintf(&b, "%s%sTask Group: %q", marker, strings.Repeat(" ", prefix), g.Name)
	if line := UpdateLine(g.Updates); line != "" {
		fmt.Fprintf(&b, " (%s)", line)
	}
	b.WriteString("\n")
	longestField, longestMarker := longestPrefixes(g.Fields, g.Objects)
	for _, t := range g.Tasks {
		if _, l := diffMarker(t.Type); l > longestMarker {
			longestMarker = l
		}
	}
	start := prefix + 2
	if g.Type == "Edited" {
		if fo := fieldsAndObjects(g.Fields, g.Objects, start, longestField, longestMarker); fo != "" {
			b.WriteString(fo)
			b.WriteString("\n")
		}
	}
	for _, t := range g.Tasks {
		_, l := diffMarker(t.Type)
		b.WriteString(taskDiff(t, start, longestMarker-l))
		b.WriteString("\n")
	}
	return b.String()
}

func taskDiff(t *api.TaskDiff, start, prefix int) string {
	marker, _ := diffMarker(t.Type)
	out := fmt.Sprintf("%s%s%sTask: %q", strings.Repeat(" ", start), marker, strings.Repeat(" ", prefix), t.Name)
	if len(t.Annotations) > 0 {
		out += fmt.Sprintf(" (%s)", strings.Join(t.Annotations, ", "))
	}
	if t.Type != "Edited" {
		return out
	}
	longestField, longestMarker := longestPrefixes(t.Fields, t.Objects)
	return out + "\n" + fieldsAndObjects(t.Fields, t.Objects, start+2, longestField, longestMarker)
}

func objectDiff(o *api.ObjectDiff, start, prefix int) string {
	marker, markerLen := diffMarker(o.Type)
	out := fmt.Sprintf("%s%s%s%s {\n", strings.Repeat(" ", start), marker, strings.Repeat(" ", prefix), o.Name)
	longestField, longestMarker := longestPrefixes(o.Fields, o.Objects)
	out += fieldsAndObjects(o.Fields, o.Objects, start+prefix+2, longestField, longestMarker)
	return out + "\n" + strings.Repeat(" ", start+markerLen+prefix) + "}"
}

func fieldDiff(f *api.FieldDiff, start, prefix, valuePrefix int) string {
	marker, _ := diffMarker(f.Type)
	out := fmt.Sprintf("%s%s%s%s: %s", strings.Repeat(" ", start), marker, strings.Repeat(" ", prefix), f.Name, strings.Repeat(" ", valuePrefix))
	switch f.Type {
	case "Added":
		out += fmt.Sprintf("%q", f.New)
	case "Deleted":
		out += fmt.Sprintf("%q", f.Old)
	case "Edited":
		out += fmt.Sprintf("%q => %q", f.Old, f.New)
	default:
		out += fmt.Sprintf("%q", f.New)
	}
	if len(f.Annotations) > 0 {
		out += fmt.Sprintf(" (%s)", strings.Join(f.Annotations, ", "))
	}
	return out
}

// fieldsAndObjects writes fields then objects, one per line, without a
// trailing newline.
func fieldsAndObjects(fields []*api.FieldDiff, objects []*api.ObjectDiff, start, longestField, longestMarker int) string {
	lines := make([]string, 0, len(fields)+len(objects))
	for _, f := range fields {
		_, l := diffMarker(f.Type)
		lines = append(lines, fieldDiff(f, start, longestMarker-l, longestField-len(f.Name)))
	}
	for _, o := range objects {
		_, l := diffMarker(o.Type)
		lines = append(lines, objectDiff(o, start, longestMarker-l))
	}
	return strings.Join(lines, "\n")
}

func longestPrefixes(fields []*api.FieldDiff, objects []*api.ObjectDiff) (longestField, longestMarker int) {
	for _, f := range fields {
		longestField = max(longestField, len(f.Name))
		_, l := diffMarker(f.Type)
		longestMarker = max(longestMarker, l)
	}
	for _, o := range objects {
		_, l := diffMarker(o.Type)
		longestMarker = max(longestMarker, l)
	}
	return longestField, longestMarker
}

// diffMarker is the marker Nomad prints before an element of each diff
// type, and its width.
func diffMarker(typ string) (string, int) {
	switch typ {
	case "Added":
		return "+ ", 2
	case "Deleted":
		return "- ", 2
	case "Edited":
		return "+/- ", 4
	}
	return "", 0
}
