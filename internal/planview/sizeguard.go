package planview

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// GitHubCommentLimit is the most characters a GitHub issue or pull-request
// comment accepts.
const GitHubCommentLimit = 65536

// Section is one part of a Markdown report that a size guard may shorten.
type Section struct {
	// Body is the section's Markdown, ending with a newline.
	Body string
	// Keep marks a section that stays whatever the size, such as a
	// destructive change; a long one may still lose the end of its longest
	// lines.
	Keep bool
	// Summary is the one line that stands for the section when it is left
	// out.
	Summary string
}

// longLine is how many characters a line of a kept section keeps when the
// kept sections alone are too long.
const longLine = 300

// FitMarkdown joins head, which always stays whole (a title and the summary
// table), and the sections, within limit characters (runes, as GitHub
// counts). Sections stay in order while they fit; every Keep section stays;
// a section that does not fit is left out, and listed by its Summary at the
// end (as many as fit) under a note saying the report was shortened. When the kept sections
// alone overflow, their lines are cut to 300 characters, and past that they
// too become summaries: the head, with its table, is never cut. It is small
// and independent of plan so that any Markdown report (strata diff's too)
// can use it.
func FitMarkdown(head string, sections []Section, limit int) string {
	size := func(s string) int { return utf8.RuneCountInString(s) }
	total := size(head)
	for _, s := range sections {
		total += size(s.Body)
	}
	if total <= limit {
		var b strings.Builder
		b.WriteString(head)
		for _, s := range sections {
			b.WriteString(s.Body)
		}
		return b.String()
	}
	// Room for the note and its last line.
	const reserve = 400
	budget := limit - size(head) - reserve
	bodies := make([]string, len(sections))
	for i, s := range sections {
		if s.Keep {
			bodies[i] = s.Body
			budget -= size(s.Body)
		}
	}
	if budget < 0 {
		// The kept sections alone overflow: cut their long lines.
		budget = limit - size(head) - reserve
		for i, s := range sections {
			if s.Keep {
				bodies[i] = cutLines(s.Body, longLine)
				budget -= size(bodies[i])
			}
		}
		if budget < 0 {
			budget = limit - size(head) - reserve
			for i, s := range sections {
				if !s.Keep {
					continue
				}
				if n := size(bodies[i]); n <= budget {
					budget -= n
				} else {
					bodies[i] = ""
				}
			}
		}
	}
	for i, s := range sections {
		if s.Keep {
			continue
		}
		if n := size(s.Body); n <= budget {
			bodies[i] = s.Body
			budget -= n
		}
	}
	var b strings.Builder
	b.WriteString(head)
	var left []string
	for i, s := range sections {
		if bodies[i] == "" {
			left = append(left, s.Summary)
			continue
		}
		b.WriteString(bodies[i])
	}
	if len(left) > 0 {
		fmt.Fprintf(&b, "\n> [!NOTE]\n> This report was shortened to fit in %d characters: %d of %d sections are left out. Run the command locally for all of it.\n\n", limit, len(left), len(sections))
		// The summaries, while they fit; the table above lists every job
		// anyway.
		for i, l := range left {
			line := "- " + l + "\n"
			if size(line) > budget {
				fmt.Fprintf(&b, "- … and %d more\n", len(left)-i)
				break
			}
			b.WriteString(line)
			budget -= size(line)
		}
	}
	return b.String()
}

// cutLines cuts every line longer than n characters, saying how much was
// left out.
func cutLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if r := []rune(l); len(r) > n {
			lines[i] = string(r[:n]) + fmt.Sprintf("… (%d more characters)", len(r)-n)
		}
	}
	return strings.Join(lines, "\n")
}
