package jobdiff

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/strata-dev/strata/internal/generator"
	"github.com/strata-dev/strata/internal/planview"
)

// Text writes diffs for a terminal or a CI log: a summary line, the running
// versions the change restarts (planview.RestartSentences), then each
// job that is not unchanged with its field changes, one per line. A change
// that replaces allocations ends in [replaces allocations]; a multi-line
// string (a template) is shown as a line diff.
func Text(diffs []JobDiff) string {
	var b strings.Builder
	b.WriteString(summary(diffs) + "\n")
	if cuts := planview.RestartSentences(Restarts(diffs)); len(cuts) > 0 {
		b.WriteByte('\n')
		for _, cut := range cuts {
			fmt.Fprintf(&b, "! %s.\n", cut)
		}
	}
	width := 0
	for _, d := range diffs {
		if d.Status != Unchanged {
			width = max(width, len(d.ID))
		}
	}
	for _, d := range diffs {
		if d.Status == Unchanged {
			continue
		}
		b.WriteByte('\n')
		fmt.Fprintf(&b, "%s %-*s  %s\n", marker(d.Status), width, d.ID, describe(d))
		for _, w := range d.Warnings {
			fmt.Fprintf(&b, "    warning: %s\n", w)
		}
		for _, c := range d.Changes {
			note := ""
			if c.Destructive {
				note = "  [replaces allocations]"
			}
			if len(c.Rendered) > 0 {
				fmt.Fprintf(&b, "    %s:%s\n      %s %s\n", c.Path, note, templateFile(c.Path), renderedNote)
				for _, l := range c.Rendered {
					b.WriteString("      " + l + "\n")
				}
				continue
			}
			if lines, ok := multiline(c); ok {
				fmt.Fprintf(&b, "    %s:%s\n", c.Path, note)
				if d.ID == generator.HAProxyJobID {
					fmt.Fprintf(&b, "      %s\n", templateSourceNote)
				}
				for _, l := range lines {
					b.WriteString("      " + l + "\n")
				}
				continue
			}
			switch {
			case c.Old == nil:
				fmt.Fprintf(&b, "    %s: added %s%s\n", c.Path, show(c.New, c.duration), note)
			case c.New == nil:
				fmt.Fprintf(&b, "    %s: removed %s%s\n", c.Path, show(c.Old, c.duration), note)
			default:
				fmt.Fprintf(&b, "    %s: %s -> %s%s\n", c.Path, show(c.Old, c.duration), show(c.New, c.duration), note)
			}
		}
	}
	return b.String()
}

// Markdown writes diffs for a pull request comment or a GitHub job summary:
// a table of the jobs that change with their counts of fields added (+),
// removed (-) and changed (~), the running versions the change restarts
// (planview.RestartSentences), warnings as a GitHub alert, then a collapsed
// <details> per edited job holding its changes in a diff block (one for
// all the jobs whose changes are the same, as an env change to every
// version of an app), then the extra sections (ACL policies). It fits in a
// GitHub comment (planview.GitHubCommentLimit): past it, diffs are
// summarized by planview.FitMarkdown, the table, the restarts and every
// destructive change's diff first.
func Markdown(diffs []JobDiff, extra ...planview.Section) string {
	return MarkdownWithin(planview.GitHubCommentLimit, diffs, extra...)
}

// MarkdownWithin is Markdown within limit characters.
func MarkdownWithin(limit int, diffs []JobDiff, extra ...planview.Section) string {
	var b strings.Builder
	b.WriteString("### strata diff\n\n")
	b.WriteString(summary(diffs) + "\n")
	changed := 0
	for _, d := range diffs {
		if d.Status != Unchanged {
			changed++
		}
	}
	if changed == 0 {
		return planview.FitMarkdown(b.String(), extra, limit)
	}
	table := markdownTable(diffs)
	// A table too long for the comment by itself gets one row per app and
	// kind of change instead of one per job.
	if utf8.RuneCountInString(table) > limit/2 {
		table = compactTable(diffs)
	}
	b.WriteString(table)
	if cuts := planview.RestartSentences(Restarts(diffs)); len(cuts) > 0 {
		b.WriteString("\n#### Sessions this change cuts\n\n")
		for _, cut := range cuts {
			fmt.Fprintf(&b, "- **%s.**\n", cut)
		}
	}
	for _, d := range diffs {
		for _, w := range d.Warnings {
			fmt.Fprintf(&b, "\n> [!WARNING]\n> `%s`: %s.\n", d.ID, w)
		}
	}
	var sections []planview.Section
	for _, g := range sameChanges(diffs) {
		d := g[0]
		n := "fields"
		if len(d.Changes) == 1 {
			n = "field"
		}
		ids := make([]string, len(g))
		for i, e := range g {
			ids[i] = "<code>" + e.ID + "</code>"
		}
		who := strings.Join(ids, ", ")
		if len(g) > 1 {
			n += " each"
		}
		var body strings.Builder
		fmt.Fprintf(&body, "\n<details><summary>%s: %d %s, %s</summary>\n\n```diff\n", who, len(d.Changes), n, impactText(d.Impact))
		for _, c := range d.Changes {
			note := ""
			if c.Destructive {
				note = " replaces allocations"
			}
			fmt.Fprintf(&body, "@@ %s @@%s\n", fence(c.Path), note)
			if len(c.Rendered) > 0 {
				fmt.Fprintf(&body, "# %s %s\n", fence(templateFile(c.Path)), renderedNote)
				for _, l := range c.Rendered {
					body.WriteString(fence(l) + "\n")
				}
				continue
			}
			if lines, ok := multiline(c); ok {
				if d.ID == generator.HAProxyJobID {
					fmt.Fprintf(&body, "# %s\n", templateSourceNote)
				}
				for _, l := range lines {
					body.WriteString(fence(l) + "\n")
				}
				continue
			}
			if c.Old != nil {
				body.WriteString("- " + fence(show(c.Old, c.duration)) + "\n")
			}
			if c.New != nil {
				body.WriteString("+ " + fence(show(c.New, c.duration)) + "\n")
			}
		}
		body.WriteString("```\n\n</details>\n")
		plain := make([]string, len(g))
		for i, e := range g {
			plain[i] = "`" + e.ID + "`"
		}
		sections = append(sections, planview.Section{
			Body:    body.String(),
			Keep:    d.Impact == Destructive,
			Summary: fmt.Sprintf("%s: %d %s, %s: diff left out", strings.Join(plain, ", "), len(d.Changes), n, impactText(d.Impact)),
		})
	}
	return planview.FitMarkdown(b.String(), append(sections, extra...), limit)
}

// markdownTable is one row per job that changes.
func markdownTable(diffs []JobDiff) string {
	var b strings.Builder
	b.WriteString("\n| Job | Change | Fields (+ / - / ~) | Allocations |\n|---|---|---|---|\n")
	for _, d := range diffs {
		if d.Status == Unchanged {
			continue
		}
		fields := ""
		if d.Status == Edited {
			add, del, mod := counts(d.Changes)
			fields = fmt.Sprintf("+%d / -%d / ~%d", add, del, mod)
		}
		fmt.Fprintf(&b, "| `%s` | %s %s | %s | %s |\n", d.ID, marker(d.Status), d.Status, fields, allocations(d)+planned(d.Updates, ": "))
	}
	return b.String()
}

// compactTable is the table with one row per app, status and impact,
// naming the versions: for a change too wide for a row per job.
func compactTable(diffs []JobDiff) string {
	type row struct {
		app    string
		status Status
		allocs string
		ids    []string
	}
	var rows []*row
	index := map[string]*row{}
	for _, d := range diffs {
		if d.Status == Unchanged {
			continue
		}
		name, label := d.App, d.Version
		if name == "" {
			name, label = d.ID, d.ID
		}
		key := name + "\x00" + string(d.Status) + "\x00" + allocations(d)
		r, ok := index[key]
		if !ok {
			r = &row{app: name, status: d.Status, allocs: allocations(d)}
			index[key] = r
			rows = append(rows, r)
		}
		r.ids = append(r.ids, label)
	}
	var b strings.Builder
	b.WriteString("\n| App | Versions | Change | Allocations |\n|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| `%s` | %s | %s %s (%d) | %s |\n", r.app, strings.Join(r.ids, ", "), marker(r.status), r.status, len(r.ids), r.allocs)
	}
	return b.String()
}

// allocations says what happens to a job's allocations, for the table.
func allocations(d JobDiff) string {
	switch d.Status {
	case Added:
		return "placed"
	case Removed:
		return "**stopped**"
	case Edited:
		if d.Impact == Destructive {
			return "**replaced**"
		}
		return "updated in place"
	}
	return ""
}

// templateSourceNote heads the source diff of an HAProxy template whose
// rendered file is the same with no Consul data.
const templateSourceNote = "template source (the file it renders with no Consul data is the same):"

// sameChanges groups the edited jobs whose changes are the same, path for
// path and value for value, in the order of their first job.
func sameChanges(diffs []JobDiff) [][]JobDiff {
	var groups [][]JobDiff
	index := map[string]int{}
	for _, d := range diffs {
		if d.Status != Edited {
			continue
		}
		key, err := json.Marshal(struct {
			Impact  Impact
			Changes []Change
		}{d.Impact, d.Changes})
		if err != nil {
			key = []byte(d.ID)
		}
		if i, ok := index[string(key)]; ok {
			groups[i] = append(groups[i], d)
			continue
		}
		index[string(key)] = len(groups)
		groups = append(groups, []JobDiff{d})
	}
	return groups
}

// fence keeps a line from closing the diff block it is in.
func fence(s string) string {
	return strings.ReplaceAll(s, "```", "`\u200b``")
}

func summary(diffs []JobDiff) string {
	n := map[Status]int{}
	for _, d := range diffs {
		n[d.Status]++
	}
	if n[Added]+n[Removed]+n[Edited] == 0 {
		return fmt.Sprintf("No job changes (%d unchanged).", n[Unchanged])
	}
	return fmt.Sprintf("%d added, %d removed, %d edited, %d unchanged.", n[Added], n[Removed], n[Edited], n[Unchanged])
}

func marker(s Status) string {
	switch s {
	case Added:
		return "+"
	case Removed:
		return "-"
	case Edited:
		return "~"
	}
	return " "
}

func describe(d JobDiff) string {
	switch d.Status {
	case Added:
		return "added" + planned(d.Updates, "; Nomad plans ")
	case Removed:
		return "removed (allocations stopped)"
	}
	n := "fields"
	if len(d.Changes) == 1 {
		n = "field"
	}
	return fmt.Sprintf("edited, %d %s: %s%s", len(d.Changes), n, impactText(d.Impact), planned(d.Updates, "; Nomad plans "))
}

// planned writes the allocation changes Nomad would plan per task group
// as its plan prints them, "web (1 create/destroy update, 1 ignore)",
// after prefix; "" when there are none.
func planned(updates map[string]map[string]uint64, prefix string) string {
	groups := make([]string, 0, len(updates))
	for g := range updates {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	parts := make([]string, 0, len(groups))
	for _, g := range groups {
		if line := planview.UpdateLine(updates[g]); line != "" {
			parts = append(parts, fmt.Sprintf("%s (%s)", g, line))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return prefix + strings.Join(parts, ", ")
}

func impactText(i Impact) string {
	if i == Destructive {
		return "destructive (allocations replaced)"
	}
	return "in place"
}

func counts(cs []Change) (add, del, mod int) {
	for _, c := range cs {
		switch {
		case c.Old == nil:
			add++
		case c.New == nil:
			del++
		default:
			mod++
		}
	}
	return add, del, mod
}

// show renders a value: compact JSON, durations as Go durations (30s).
func show(raw json.RawMessage, duration bool) string {
	if duration {
		if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
			return generator.FormatDuration(time.Duration(n))
		}
	}
	return string(raw)
}

// multiline returns a line diff of a change between two strings when either
// spans several lines, each line starting with "- ", "+ " or "  ". The
// settings line of a strata template is shown as indented JSON
// (expandSettings).
func multiline(c Change) ([]string, bool) {
	var before, after string
	if c.Old != nil && json.Unmarshal(c.Old, &before) != nil {
		return nil, false
	}
	if c.New != nil && json.Unmarshal(c.New, &after) != nil {
		return nil, false
	}
	if !strings.Contains(before, "\n") && !strings.Contains(after, "\n") {
		return nil, false
	}
	return lineDiff(expandSettings(splitLines(before)), expandSettings(splitLines(after)), 2), true
}

// templateFile is the file a template change renders, from its path
// (Templates[local/haproxy.cfg].EmbeddedTmpl: haproxy.cfg).
func templateFile(path string) string {
	_, rest, ok := strings.Cut(path, "Templates[")
	if !ok {
		return "the file"
	}
	dest, _, _ := strings.Cut(rest, "]")
	return dest[strings.LastIndex(dest, "/")+1:]
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
