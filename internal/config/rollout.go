package config

import (
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// parseRollout decodes an app's rollout section, checking each value on
// its own; finalize sets min_requests and on_failure, and checkRollout
// reports what is missing and what the app's kind forbids.
func (d *decoder) parseRollout(n *yaml.Node, path string) *Rollout {
	r := &Rollout{}
	ok := d.each(n, path, rolloutKeys, func(key, p string, v *yaml.Node) {
		switch key {
		case "steps":
			r.Steps = d.rolloutSteps(v, p)
		case "interval":
			if t, ok := d.duration(v, p); ok {
				if t <= 0 {
					d.failAt(v, p, "%s; each step needs time to be judged, like 10m", t)
				} else {
					r.Interval = t
				}
			}
		case "max_error_rate":
			if f, ok := d.errorRate(v, p); ok {
				r.MaxErrorRate = f
			}
		case "min_requests":
			if m, ok := d.integer(v, p); ok {
				if m < 1 {
					d.failAt(v, p, "%d; expected at least 1 (a step with fewer candidate requests waits)", m)
				} else {
					r.MinRequests = m
				}
			}
		case "max_error_rate_ratio":
			f, ok := d.number(v, p)
			switch {
			case !ok:
			case !(f > 0) || math.IsInf(f, 0):
				d.failAt(v, p, "%s; expected a number above 0, like 2 (at most twice the stable version's error rate)", v.Value)
			default:
				r.MaxErrorRateRatio = f
			}
		case "on_failure":
			if s, ok := d.str(v, p); ok {
				switch s {
				case RolloutStay, RolloutReturn:
					r.OnFailure = s
				default:
					d.failAt(v, p, "%q is not a choice; expected %s (sessions pinned to the failed candidate stay on it) or %s (they go back to the live version at their next request)", s, RolloutStay, RolloutReturn)
				}
			}
		}
	})
	if !ok {
		return nil
	}
	return r
}

// rolloutSteps decodes the steps: whole percentages 1..100, strictly
// increasing, the last 100. It returns nil when any is refused.
func (d *decoder) rolloutSteps(n *yaml.Node, path string) []int {
	items, ok := d.sequence(n, path)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.failAt(n, path, "empty; list the candidate's percentages of new sessions, ending with 100, like [5, 25, 50, 100]")
		return nil
	}
	var steps []int
	good := true
	prev, prevAt := 0, -1
	for i, it := range items {
		ip := index(path, i)
		s, ok := d.integer(it, ip)
		switch {
		case !ok:
			good = false
		case s < 1 || s > 100:
			d.failAt(it, ip, "%d%%; a step is a percentage of new sessions from 1 to 100", s)
			good = false
		case prevAt >= 0 && s <= prev:
			d.failAt(it, ip, "%d%% after %d%% (%s); steps must increase", s, prev, index(path, prevAt))
			good = false
		default:
			prev, prevAt = s, i
			steps = append(steps, s)
		}
	}
	if !good {
		return nil
	}
	if last := steps[len(steps)-1]; last != 100 {
		d.failAt(items[len(items)-1], index(path, len(items)-1), "the last step is %d%%; it must be 100, where the candidate has every new session before it becomes live", last)
		return nil
	}
	return steps
}

// errorRate decodes an error rate as a fraction: a percentage ("1%",
// "0.5%") or a number from 0 to 1 (0.01).
func (d *decoder) errorRate(n *yaml.Node, path string) (float64, bool) {
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		if pct, ok := strings.CutSuffix(strings.TrimSpace(n.Value), "%"); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
			if err == nil && f >= 0 && f <= 100 {
				return f / 100, true
			}
			d.failAt(n, path, "%q is not a percentage from 0%% to 100%%", n.Value)
			return 0, false
		}
	}
	f, ok := d.number(n, path)
	switch {
	case !ok:
		return 0, false
	case !(f >= 0 && f <= 1):
		d.failAt(n, path, "%s is not a fraction from 0 to 1; write a percentage as %q", n.Value, n.Value+"%")
		return 0, false
	case f == 1:
		d.warnAt(n, path, "%s is 100%%: the candidate never fails on its error rate; for one percent write \"1%%\" or 0.01", n.Value)
	}
	return f, true
}

// number decodes a finite number, whole or not.
func (d *decoder) number(n *yaml.Node, path string) (float64, bool) {
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float" || n.Tag == "!!str") {
		if f, err := strconv.ParseFloat(strings.TrimSpace(n.Value), 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, true
		}
	}
	d.failAt(n, path, "%s is not a number", describeNull(n))
	return 0, false
}

// checkRollout checks an app's rollout section against its kind and
// routing, and reports the keys it needs that are missing.
func (d *decoder) checkRollout(a *App, f appFields, path string, kindKnown bool) {
	r := a.Rollout
	if r == nil {
		return
	}
	p := join(path, "rollout")
	switch {
	case a.Kind == KindWorker && kindKnown:
		d.failAt(f.at("rollout"), p, "a worker has no sessions to split between versions; remove rollout or set kind: web")
		return
	case a.Routing == nil && a.Kind == KindWeb && kindKnown && len(d.errsAt(join(path, "routing"))) == 0:
		d.failAt(f.at("rollout"), p, "the app has no routing: a rollout shares new sessions through strata's HAProxy; add routing or remove rollout")
	}
	at := f.atValue("rollout")
	missing := func(key string) bool {
		return d.valueNode(join(p, key)) == nil && len(d.errsAt(join(p, key))) == 0
	}
	if missing("steps") {
		d.failAt(at, join(p, "steps"), "missing; the candidate's percentages of new sessions, ending with 100, like [5, 25, 50, 100]")
	}
	if missing("interval") {
		d.failAt(at, join(p, "interval"), "missing; how long each step lasts before it is judged, like 10m")
	}
	if missing("max_error_rate") {
		d.failAt(at, join(p, "max_error_rate"), "missing; the most 5xx responses the candidate may give, as a share of its requests in a step, like 1%%")
	}
}
