package planview

import (
	"fmt"
	"strings"

	"github.com/strata-dev/strata/internal/generator"
)

// Restart is a running job that a change restarts by replacing its
// allocations: a version of an app, or strata's HAProxy job. strata plan
// and strata diff both say what their restarts mean with RestartSentences,
// so the two commands word it the same.
type Restart struct {
	// ID is the Nomad job ID.
	ID string
	// App is the job's app (strata.app); empty for strata's own jobs.
	App string
	// Kind is the app's kind (strata.kind): "worker" or, when empty,
	// "web".
	Kind string
}

// RestartSentences says, per app in the order of its first restart, which
// running versions are restarted and what that cuts: "Restarts 3 running
// versions of web (web-v8, web-v9, web-v10), replacing their allocations:
// their sessions are cut". A worker's restart interrupts its work in
// progress instead. strata's HAProxy job gets a sentence of its own, since
// it holds every app's sessions; strata's other jobs (the sweeper) hold
// none and are left out.
func RestartSentences(restarts []Restart) []string {
	var apps []string
	byApp := map[string][]string{}
	kind := map[string]string{}
	var out []string
	for _, r := range restarts {
		if r.App == "" {
			if r.ID == generator.HAProxyJobID {
				out = append(out, fmt.Sprintf("Replaces the allocations of %s: every session HAProxy holds (websockets, streams) is cut, on every node", r.ID))
			}
			continue
		}
		if _, ok := byApp[r.App]; !ok {
			apps = append(apps, r.App)
			kind[r.App] = r.Kind
		}
		byApp[r.App] = append(byApp[r.App], r.ID)
	}
	for _, app := range apps {
		ids := byApp[app]
		cut := "their sessions are cut"
		if kind[app] == "worker" {
			cut = "their work in progress is interrupted"
		}
		if len(ids) == 1 {
			cut = strings.Replace(cut, "their", "its", 1)
			out = append(out, fmt.Sprintf("Restarts 1 running version of %s (%s), replacing its allocations: %s", app, ids[0], cut))
			continue
		}
		out = append(out, fmt.Sprintf("Restarts %d running versions of %s (%s), replacing their allocations: %s", len(ids), app, strings.Join(ids, ", "), cut))
	}
	return out
}
