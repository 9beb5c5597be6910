package release

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/naming"
)

// CohortNamePattern is the grammar of a cohort's name, the last segment of
// its key; the HAProxy template ignores keys outside it.
const CohortNamePattern = `^[a-z0-9-]{1,64}$`

// PathPattern is the grammar of an opt-in or opt-out path, the same one the
// HAProxy template checks before using a path.
const PathPattern = `^/[A-Za-z0-9._~/-]{0,255}$`

var (
	cohortNameRE = regexp.MustCompile(CohortNamePattern)
	pathRE       = regexp.MustCompile(PathPattern)
)

// Cohort is one strata/<app>/cohorts/<name> entry: a GET on OptIn pins the
// session to Version, a GET on OptOut unpins it.
type Cohort struct {
	App     string `json:"app"`
	Name    string `json:"name"`
	Version string `json:"version"`
	OptIn   string `json:"opt_in"`
	OptOut  string `json:"opt_out,omitempty"`
	// Problem says why HAProxy ignores the cohort, or why it ignores one of
	// its paths; empty when it routes as written.
	Problem string `json:"problem,omitempty"`
}

// cohortValue is the JSON stored in Consul, the template's contract.
type cohortValue struct {
	Version string `json:"version"`
	OptIn   string `json:"opt_in"`
	OptOut  string `json:"opt_out,omitempty"`
}

// SetCohort creates or replaces cohort name of app: a GET on optIn pins the
// session to version (a redirect to / with the version cookie), a GET on
// optOut (optional) unpins it. It refuses names and paths outside their
// grammars, "/" as a path (it would redirect to itself), a path another
// cohort of the app already uses, and a version without a passing instance
// or draining. The write is a check-and-set on the value it read.
func SetCohort(ctx context.Context, kv KV, catalog Catalog, app, name, version, optIn, optOut string) error {
	if err := checkApp(app); err != nil {
		return err
	}
	if !cohortNameRE.MatchString(name) {
		return fail(ErrInvalid, "%s: %q is not a valid cohort name (lowercase letters, digits, '-'; 1 to 64)", app, name)
	}
	if err := checkVersion(app, version); err != nil {
		return err
	}
	if optIn == "" {
		return fail(ErrInvalid, "%s: cohort %s needs an opt-in path, like /try-%s", app, name, version)
	}
	for _, p := range []struct{ flag, path string }{{"opt-in", optIn}, {"opt-out", optOut}} {
		if p.path == "" {
			continue
		}
		if !pathRE.MatchString(p.path) {
			return fail(ErrInvalid, "%s: cohort %s: %s path %q is not valid (starts with '/', then letters, digits, '.', '_', '~', '/', '-'; at most 256)", app, name, p.flag, p.path)
		}
		if p.path == "/" {
			return fail(ErrInvalid, "%s: cohort %s: %s path cannot be \"/\": it redirects to / and would loop", app, name, p.flag)
		}
	}
	if optIn == optOut {
		return fail(ErrInvalid, "%s: cohort %s: opt-in and opt-out are both %q", app, name, optIn)
	}
	if err := requireRunning(ctx, catalog, app, version); err != nil {
		return err
	}
	value, _ := json.Marshal(cohortValue{Version: version, OptIn: optIn, OptOut: optOut})
	for n := range attempts {
		pairs, _, err := kv.List(CohortPrefix(app), (&consulapi.QueryOptions{}).WithContext(ctx))
		if err != nil {
			return fmt.Errorf("reading %s: %w", CohortPrefix(app), err)
		}
		var index uint64
		for _, p := range pairs {
			other := strings.TrimPrefix(p.Key, CohortPrefix(app))
			if other == name {
				index = p.ModifyIndex
				continue
			}
			var v cohortValue
			if json.Unmarshal(p.Value, &v) != nil {
				continue
			}
			for _, mine := range []string{optIn, optOut} {
				if mine != "" && (mine == v.OptIn || mine == v.OptOut) {
					return fail(ErrInvalid, "%s: cohort %s: path %s is already cohort %s's; choose another or remove that cohort", app, name, mine, other)
				}
			}
		}
		ok, failed, err := commit(ctx, kv, consulapi.KVTxnOps{
			notExistsOp(DrainingKey(app, version)),
			casOp(CohortKey(app, name), value, index),
		})
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if failed == 0 {
			return drainingError(app, version)
		}
		if err := backoff(ctx, n); err != nil {
			return err
		}
	}
	return fail(ErrConflict, "%s: %s kept changing (%d attempts); try again", app, CohortKey(app, name), attempts)
}

// RemoveCohort deletes cohort name of app. Sessions already pinned to its
// version stay there; new ones can no longer opt in.
func RemoveCohort(ctx context.Context, kv KV, app, name string) error {
	if err := checkApp(app); err != nil {
		return err
	}
	for n := range attempts {
		p, err := get(ctx, kv, CohortKey(app, name))
		if err != nil {
			return err
		}
		if p == nil {
			return fail(ErrNoCohort, "%s: no cohort named %q (%s is not set); strata cohort ls %s lists them", app, name, CohortKey(app, name), app)
		}
		ok, _, err := commit(ctx, kv, consulapi.KVTxnOps{
			{Verb: consulapi.KVDeleteCAS, Key: p.Key, Index: p.ModifyIndex},
		})
		if err != nil || ok {
			return err
		}
		if err := backoff(ctx, n); err != nil {
			return err
		}
	}
	return fail(ErrConflict, "%s: %s kept changing (%d attempts); try again", app, CohortKey(app, name), attempts)
}

// ListCohorts returns app's cohorts sorted by name. An entry HAProxy ignores
// (a bad name, value, version or path, or a version that does not run or is
// draining) is listed with the reason in Problem, never hidden.
func ListCohorts(ctx context.Context, kv KV, catalog Catalog, app string) ([]Cohort, error) {
	if err := checkApp(app); err != nil {
		return nil, err
	}
	pairs, _, err := kv.List(CohortPrefix(app), (&consulapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", CohortPrefix(app), err)
	}
	if len(pairs) == 0 {
		return nil, nil
	}
	run, err := passing(ctx, catalog, app)
	if err != nil {
		return nil, err
	}
	drain, err := drainingSet(ctx, kv, app)
	if err != nil {
		return nil, err
	}
	var out []Cohort
	for _, p := range pairs {
		c := Cohort{App: app, Name: strings.TrimPrefix(p.Key, CohortPrefix(app))}
		var v cohortValue
		jerr := json.Unmarshal(p.Value, &v)
		c.Version, c.OptIn, c.OptOut = v.Version, v.OptIn, v.OptOut
		var problems []string
		switch {
		case !cohortNameRE.MatchString(c.Name):
			problems = append(problems, "ignored: the name is not valid (lowercase letters, digits, '-'; 1 to 64)")
		case jerr != nil:
			problems = append(problems, fmt.Sprintf("ignored: the value is not JSON {\"version\", \"opt_in\", \"opt_out\"} (%v)", jerr))
		case !naming.ValidVersion(c.Version):
			problems = append(problems, fmt.Sprintf("ignored: version %q is not valid", c.Version))
		case !run[c.Version]:
			problems = append(problems, "ignored: "+c.Version+" has no passing instance")
		case drain[c.Version]:
			problems = append(problems, "ignored: "+c.Version+" is draining")
		}
		if jerr == nil {
			if !pathRE.MatchString(c.OptIn) {
				problems = append(problems, fmt.Sprintf("opt-in path %q is not valid: nobody can opt in", c.OptIn))
			}
			if c.OptOut != "" && !pathRE.MatchString(c.OptOut) {
				problems = append(problems, fmt.Sprintf("opt-out path %q is not valid: ignored", c.OptOut))
			}
		}
		c.Problem = strings.Join(problems, "; ")
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Cohort) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
