package release

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/template"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/routing/grammar"
)

// Cohort is one strata/<app>/cohorts/<name> entry: a GET on OptIn pins the
// session to Version, a GET on OptOut unpins it.
type Cohort struct {
	App     string `json:"app"`
	Name    string `json:"name"`
	Version string `json:"version"`
	OptIn   string `json:"opt_in"`
	OptOut  string `json:"opt_out,omitempty"`
	// Routed says HAProxy routes the cohort's opt-in path.
	Routed bool `json:"routed"`
	// Problem says why HAProxy ignores the cohort ("ignored: ...") or only
	// its opt-out path ("opt-out ignored: ..."); empty when it routes as
	// written.
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
	if !grammar.CohortName(name) {
		return fail(ErrInvalid, "%s: %q is not a valid cohort name (%s)", app, name, grammar.CohortNameGrammar)
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
		if p.path == "/" {
			return fail(ErrInvalid, "%s: cohort %s: %s path cannot be \"/\": it redirects to / and would loop", app, name, p.flag)
		}
		if !grammar.Path(p.path) {
			return fail(ErrInvalid, "%s: cohort %s: %s path %q is not valid (%s)", app, name, p.flag, p.path, grammar.PathGrammar)
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

// ListCohorts returns app's cohorts sorted by name, each with what HAProxy
// does with it: Routed and Problem come from JudgeCohorts, the rules
// templates/haproxy.cfg.ctmpl applies. A cohort HAProxy ignores is listed
// with the reason, never hidden.
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
	entries := make([]CohortEntry, 0, len(pairs))
	for _, p := range pairs {
		entries = append(entries, CohortEntry{Name: strings.TrimPrefix(p.Key, CohortPrefix(app)), Value: p.Value})
	}
	out := JudgeCohorts(entries, run, drain)
	for i := range out {
		out[i].App = app
	}
	return out, nil
}

// CohortEntry is one key under strata/<app>/cohorts/ as Consul holds it:
// the rest of the key and the raw value.
type CohortEntry struct {
	Name  string
	Value []byte
}

// JudgeCohorts decides what HAProxy's template does with each cohort, by the
// same rules in the same order as templates/haproxy.cfg.ctmpl: entries are
// taken in name order; a cohort is ignored when its name is not valid, its
// value is not a JSON object with a valid version, that version does not
// run (run: it has a server) or is draining (drain), or its opt-in path is
// not valid or an earlier routed cohort's path. A routed cohort loses only
// its opt-out path when that path is not valid or is already taken (its own
// opt-in path included). Values are read the way the template reads them:
// each field printed as text, an absent or empty opt_out meaning none.
func JudgeCohorts(entries []CohortEntry, run, drain map[string]bool) []Cohort {
	entries = slices.Clone(entries)
	slices.SortFunc(entries, func(a, b CohortEntry) int { return strings.Compare(a.Name, b.Name) })
	claimed := map[string]string{}
	out := make([]Cohort, 0, len(entries))
	for _, e := range entries {
		c := Cohort{Name: e.Name}
		var decoded any
		jerr := json.Unmarshal(e.Value, &decoded)
		fields, isObject := decoded.(map[string]any)
		// The template prints each field (a number becomes its digits); an
		// absent field prints as <nil>, outside every grammar, shown here
		// as empty.
		text := func(k string) string {
			if v := fields[k]; v != nil {
				return fmt.Sprint(v)
			}
			return ""
		}
		if isObject && jerr == nil {
			c.Version, c.OptIn = text("version"), text("opt_in")
			if truth, _ := template.IsTrue(fields["opt_out"]); truth {
				c.OptOut = text("opt_out")
			}
		}
		switch {
		case !grammar.CohortName(c.Name):
			c.Problem = "ignored: the name is not valid (" + grammar.CohortNameGrammar + ")"
		case jerr != nil || !isObject:
			c.Problem = `ignored: the value is not a JSON object {"version", "opt_in", "opt_out"}`
		case !grammar.Version(c.Version):
			c.Problem = "ignored: " + Quote(c.Version) + " is not a valid version"
		case !run[c.Version]:
			c.Problem = "ignored: " + c.Version + " has no passing instance with an IP address and a port"
		case drain[c.Version]:
			c.Problem = "ignored: " + c.Version + " is draining"
		case c.OptIn == "/":
			c.Problem = `ignored: its opt-in path is "/", which would redirect to itself`
		case !grammar.Path(c.OptIn):
			c.Problem = "ignored: its opt-in path " + Quote(c.OptIn) + " is not valid"
		case claimed[c.OptIn] != "":
			c.Problem = "ignored: its opt-in path is cohort " + claimed[c.OptIn] + "'s"
		default:
			c.Routed = true
			claimed[c.OptIn] = c.Name
			switch {
			case c.OptOut == "":
			case !grammar.Path(c.OptOut):
				c.Problem = "opt-out ignored: the path " + Quote(c.OptOut) + " is not valid"
			case claimed[c.OptOut] != "":
				c.Problem = "opt-out ignored: the path is cohort " + claimed[c.OptOut] + "'s"
			default:
				claimed[c.OptOut] = c.Name
			}
		}
		out = append(out, c)
	}
	return out
}
