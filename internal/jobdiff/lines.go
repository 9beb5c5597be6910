package jobdiff

import (
	"fmt"
	"strings"
)

// lineDiff compares two texts line by line (longest common subsequence) and
// returns the removed ("- ") and added ("+ ") lines with up to context
// unchanged lines ("  ") around each run of changes; a gap between runs is
// shown as "  ...". Common leading and trailing lines are trimmed first, so
// the quadratic table only covers the part that changed.
func lineDiff(a, b []string, context int) []string {
	type op struct {
		kind byte // ' ', '-', '+'
		line string
	}
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	ma, mb := a[pre:len(a)-suf], b[pre:len(b)-suf]
	// lcs[i][j] is the length of the longest common subsequence of ma[i:], mb[j:].
	lcs := make([][]int, len(ma)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(mb)+1)
	}
	for i := len(ma) - 1; i >= 0; i-- {
		for j := len(mb) - 1; j >= 0; j-- {
			if ma[i] == mb[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var ops []op
	for _, l := range a[:pre] {
		ops = append(ops, op{' ', l})
	}
	i, j := 0, 0
	for i < len(ma) || j < len(mb) {
		switch {
		case i < len(ma) && j < len(mb) && ma[i] == mb[j]:
			ops = append(ops, op{' ', ma[i]})
			i++
			j++
		case i < len(ma) && (j == len(mb) || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, op{'-', ma[i]})
			i++
		default:
			ops = append(ops, op{'+', mb[j]})
			j++
		}
	}
	for _, l := range a[len(a)-suf:] {
		ops = append(ops, op{' ', l})
	}

	// Keep changed lines and the context around them.
	keep := make([]bool, len(ops))
	for k, o := range ops {
		if o.kind == ' ' {
			continue
		}
		for c := max(0, k-context); c <= min(len(ops)-1, k+context); c++ {
			keep[c] = true
		}
	}
	var out []string
	gap := false
	for k, o := range ops {
		if !keep[k] {
			gap = true
			continue
		}
		if gap && len(out) > 0 {
			out = append(out, "  ...")
		}
		gap = false
		out = append(out, fmt.Sprintf("%c %s", o.kind, o.line))
	}
	return out
}

// LineDiff compares two texts line by line and returns the changed lines
// ("- ", "+ ") with up to context unchanged lines ("  ") around them, and
// "  ..." for the gaps; nil when the texts are equal.
func LineDiff(a, b string, context int) []string {
	if a == b {
		return nil
	}
	return lineDiff(strings.Split(a, "\n"), strings.Split(b, "\n"), context)
}
