package jobdiff

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"

	cttemplate "github.com/hashicorp/consul-template/template"

	"github.com/strata-dev/strata/internal/routing/apply"
)

// renderedNote heads the diff of an HAProxy file rendered from the job's
// templates.
const renderedNote = "as rendered with no Consul data (no instances, no KV; ${NOMAD_…} left as written):"

// renderOffline executes one of the HAProxy job's templates the way
// consul-template does in Nomad's template block, but with no Consul data:
// what remains is what strata.yaml decides (frontends, binds, cookies,
// settings), which is what a change to strata.yaml changes. Nomad's
// variables stay as ${NAME}. The structure line, a digest of the settings,
// is left out: the diff shows the settings that changed instead.
func renderOffline(text string) (string, error) {
	tmpl, err := cttemplate.NewTemplate(&cttemplate.NewTemplateInput{Contents: text})
	if err != nil {
		return "", err
	}
	res, err := tmpl.Execute(&cttemplate.ExecuteInput{
		Brain: cttemplate.NewBrain(),
		Env:   []string{"NOMAD_TASK_DIR=${NOMAD_TASK_DIR}", "NOMAD_ADDR_stats=${NOMAD_ADDR_stats}"},
	})
	if err != nil {
		return "", err
	}
	return apply.WithoutStructure(string(res.Output)), nil
}

// renderedDiff is the line diff of an HAProxy template change as rendered
// by renderOffline; nil when the rendered files are the same (the change
// is in what only Consul's data brings out) or either side does not
// render.
func renderedDiff(c Change) []string {
	var before, after string
	if c.Old != nil && json.Unmarshal(c.Old, &before) != nil {
		return nil
	}
	if c.New != nil && json.Unmarshal(c.New, &after) != nil {
		return nil
	}
	render := func(s string) (string, bool) {
		if s == "" {
			return "", true
		}
		out, err := renderOffline(s)
		return out, err == nil
	}
	b, okb := render(before)
	a, oka := render(after)
	if !okb || !oka || a == b {
		return nil
	}
	return lineDiff(splitLines(b), splitLines(a), 2)
}

// settingsLineRE matches the lines by which strata's templates bind their
// settings: {{- $s := parseJSON "<JSON as a Go string>" -}}.
var settingsLineRE = regexp.MustCompile(`^(\{\{-?\s*\$\w+\s*:=\s*parseJSON)\s+("(?:[^"\\]|\\.)*")\s*(-?\}\})$`)

// expandSettings writes each settings line of a template as its JSON,
// indented one key a line, so that a diff of two templates shows the
// setting that changed rather than one long line.
func expandSettings(lines []string) []string {
	var out []string
	for _, l := range lines {
		m := settingsLineRE.FindStringSubmatch(l)
		if m == nil {
			out = append(out, l)
			continue
		}
		text, err := strconv.Unquote(m[2])
		var buf bytes.Buffer
		if err != nil || json.Indent(&buf, []byte(text), "    ", "  ") != nil {
			out = append(out, l)
			continue
		}
		out = append(out, m[1]+" (JSON, one key a line)")
		out = append(out, strings.Split("    "+buf.String(), "\n")...)
		out = append(out, m[3])
	}
	return out
}
