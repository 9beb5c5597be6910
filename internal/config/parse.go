package config

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/strata-dev/strata/internal/naming"
)

// Keys accepted at each level of strata.yaml, in the order the reference
// documents them.
var (
	topKeys       = []string{"region", "datacenters", "namespace", "created", "output", "haproxy", "sweeper", "apps", "scope"}
	appKeys       = []string{"kind", "driver", "image", "command", "args", "ports", "service", "count", "resources", "env", "constraints", "node_pool", "update", "shutdown_delay", "kill_timeout", "max_versions", "versions", "live", "routing", "sweeper", "rollout"}
	retireKeys    = []string{"keep", "min_age", "drain_grace", "handoff_grace", "max_retire_per_run", "purge"}
	sweeperKeys   = []string{"cron", "driver", "image", "strata"}
	haproxyKeys   = []string{"driver", "image", "command", "strata", "node_pool", "resources", "wait_min", "wait_max", "mworker_max_reloads"}
	routingKeys   = []string{"bind", "host", "cookie", "server_cookie", "cookie_max_age", "secure", "pin_paths", "header", "max_versions", "max_servers"}
	portKeys      = []string{"static", "to"}
	serviceKeys   = []string{"port", "tags", "check"}
	checkKeys     = []string{"path", "interval", "timeout"}
	resourceKeys  = []string{"cpu", "memory", "memory_max"}
	constraintKey = []string{"attribute", "operator", "value"}
	rolloutKeys   = []string{"steps", "interval", "max_error_rate", "min_requests", "max_error_rate_ratio", "on_failure"}
	updateKeys    = []string{"max_parallel", "min_healthy_time", "healthy_deadline", "progress_deadline", "auto_revert"}
)

var (
	portLabelRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]{0,31}$`)
	envNameRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	nodePoolRE  = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)
	tagRE       = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)
	pathRE      = regexp.MustCompile(`^/[\x21-\x7e]*$`)
	// placeholderRE finds {{ … }} spellings of the version placeholder that
	// are not exactly {{version}}, to catch "{{ version }}" and "{{Version}}".
	placeholderRE = regexp.MustCompile(`\{\{\s*[A-Za-z_]+\s*\}\}`)
)

// ReservedApp is the app name strata keeps for its own jobs' IDs.
const ReservedApp = "strata"

// ReservedApps are the app names strata keeps for itself: ReservedApp, and
// the IDs and Consul service names of its own jobs (naming.HAProxyJobID,
// HAProxyService, LBStatsService, SweeperJobID). An app's Consul service
// is named after it, and the sweeper finds every HAProxy by these services.
var ReservedApps = []string{ReservedApp, naming.HAProxyJobID, naming.LBStatsService, naming.SweeperJobID}

// constraintOperators are the operators Nomad's constraint block accepts.
var constraintOperators = []string{"=", "!=", ">", ">=", "<", "<=", "distinct_hosts", "distinct_property", "regexp", "set_contains", "set_contains_all", "set_contains_any", "version", "semver", "is_set", "is_not_set"}

// parseApps decodes the apps mapping. Apps come back sorted by name.
func (d *decoder) parseApps(n *yaml.Node) []*App {
	fields, ok := d.mapping(n, "apps", nil)
	if !ok {
		return nil
	}
	var apps []*App
	for _, f := range fields {
		name := f.key.Value
		path := join("apps", name)
		if !naming.ValidApp(name) {
			d.failAt(f.key, path, "%q is not a valid app name (%s)", name, naming.AppGrammar)
			continue
		}
		if slices.Contains(ReservedApps, name) {
			d.failAt(f.key, path, "%q is reserved for strata's own jobs and services (%s); name the app otherwise", name, strings.Join(ReservedApps, ", "))
			continue
		}
		if a := d.parseApp(name, f.value, path); a != nil {
			apps = append(apps, a)
		}
	}
	slices.SortFunc(apps, func(a, b *App) int { return strings.Compare(a.Name, b.Name) })
	return apps
}

func (d *decoder) parseApp(name string, n *yaml.Node, path string) *App {
	if isNull(n) {
		d.failAt(n, path, "empty app; it needs at least driver and versions")
		return nil
	}
	known := appKeys
	if d.scope == ScopeSweeper {
		known = sweeperScopeAppKeys
	}
	fields, ok := d.mapping(n, path, known)
	if !ok {
		return nil
	}
	a := &App{Name: name}
	var retireNode *yaml.Node
	if d.versionNodes == nil {
		d.versionNodes = map[string]map[string]*yaml.Node{}
	}
	d.versionNodes[name] = map[string]*yaml.Node{}
	for _, f := range fields {
		key, v, p := f.key.Value, f.value, join(path, f.key.Value)
		if isNull(v) {
			continue
		}
		switch key {
		case "kind":
			if s, ok := d.str(v, p); ok {
				switch Kind(s) {
				case KindWeb, KindWorker:
					a.Kind = Kind(s)
				default:
					d.failAt(v, p, "%q is not a kind; expected web or worker", s)
				}
			}
		case "driver":
			a.Driver, _ = d.driver(v, p)
		case "image":
			a.Image, _ = d.str(v, p)
			d.checkPlaceholders(v, p, a.Image)
		case "command":
			a.Command, _ = d.str(v, p)
			d.checkPlaceholders(v, p, a.Command)
		case "args":
			if items, ok := d.sequence(v, p); ok {
				for i, it := range items {
					if s, ok := d.str(it, index(p, i)); ok {
						d.checkPlaceholders(it, index(p, i), s)
						a.Args = append(a.Args, s)
					}
				}
			}
		case "ports":
			a.Ports = d.parsePorts(v, p)
		case "service":
			a.Service = d.parseService(v, p)
		case "count":
			if c, ok := d.integer(v, p); ok {
				if c < 1 {
					d.failAt(v, p, "%d instances; expected at least 1", c)
				} else {
					a.Count = &c
				}
			}
		case "resources":
			a.Resources = d.parseResources(v, p)
		case "env":
			a.Env = d.parseEnv(v, p)
		case "constraints":
			a.Constraints = d.parseConstraints(v, p)
		case "node_pool":
			a.NodePool, _ = d.nodePool(v, p)
		case "update":
			a.Update = d.parseUpdate(v, p)
		case "shutdown_delay":
			if t, ok := d.duration(v, p); ok {
				a.ShutdownDelay = &t
			}
		case "kill_timeout":
			if t, ok := d.duration(v, p); ok {
				a.KillTimeout = &t
				if t > NomadMaxKillTimeout {
					d.warnAt(v, p, "%s is longer than the %s a Nomad client allows by default: each client cuts it to its max_kill_timeout unless the client configuration raises it (client { max_kill_timeout = %q })", t, NomadMaxKillTimeout, durationText(v.Value))
				}
			}
		case "max_versions":
			if m, ok := d.integer(v, p); ok {
				if m < 1 {
					d.failAt(v, p, "%d; expected at least 1", m)
				} else {
					a.MaxVersions = m
				}
			}
		case "versions":
			items, ok := d.sequence(v, p)
			if !ok {
				break
			}
			seen := map[string]int{}
			for i, it := range items {
				ip := index(p, i)
				s, node, settings, ok := d.parseVersionEntry(it, ip)
				if !ok {
					continue
				}
				if !naming.ValidVersion(s) {
					d.failAt(node, ip, "%q is not a valid version (%s)", s, naming.VersionGrammar)
					continue
				}
				if first, dup := seen[s]; dup {
					d.failAt(node, ip, "version %q is listed twice (also at %s)", s, index(p, first))
					continue
				}
				seen[s] = i
				a.Versions = append(a.Versions, s)
				d.versionNodes[name][s] = node
				if settings != nil {
					if a.VersionSettings == nil {
						a.VersionSettings = map[string]*VersionSettings{}
					}
					a.VersionSettings[s] = settings
				}
			}
		case "live":
			a.Live, _ = d.str(v, p)
		case "routing":
			a.Routing = d.parseRouting(v, p)
		case "sweeper":
			retireNode = v
		case "rollout":
			a.Rollout = d.parseRollout(v, p)
		}
	}
	a.Retire = d.parseRetire(retireNode, join(path, "sweeper"))
	naming.SortVersions(a.Versions)
	return a
}

// versionKeys are the keys of a versions entry written as a mapping:
// "version", the version's name, and the settings it may hold for itself
// (overridableKeys).
var versionKeys = append([]string{"version"}, overridableKeys...)

// overridableKeys are the app settings a version may set for itself: the
// ones a running version's allocations are replaced for when they change
// (its task's config, env and resources), so that a new setting can go to
// new versions while the running ones keep their jobs byte for byte. The
// others are applied in place (count, kill_timeout, update, service ...) or
// are the app's as a whole (driver, ports, routing ...).
var overridableKeys = []string{"image", "command", "args", "env", "resources"}

// parseVersionEntry decodes one entry of an app's versions: a version name,
// or a mapping of its name (version) and settings that override the app's
// for that version only. It returns the name, the node to cite for it, and
// the settings (nil for a plain name); ok is false when no name could be
// read.
func (d *decoder) parseVersionEntry(n *yaml.Node, path string) (name string, node *yaml.Node, settings *VersionSettings, ok bool) {
	if n == nil || n.Kind != yaml.MappingNode {
		name, ok = d.str(n, path)
		return name, n, nil, ok
	}
	fields, ok := d.mapping(n, path, nil)
	if !ok {
		return "", n, nil, false
	}
	settings = &VersionSettings{path: path}
	for _, f := range fields {
		key, v, p := f.key.Value, f.value, join(path, f.key.Value)
		if !slices.Contains(versionKeys, key) {
			if slices.Contains(appKeys, key) {
				d.failAt(f.key, p, "%s cannot be set for one version: only %s can (the settings whose change replaces a running version's allocations); set %s on the app", key, strings.Join(overridableKeys, ", "), key)
			} else {
				d.failAt(f.key, p, "unknown key; expected one of: %s", strings.Join(versionKeys, ", "))
			}
			continue
		}
		if isNull(v) {
			if key == "version" {
				d.failAt(v, p, "missing; the version's name, like version: v10")
				ok = false
			}
			continue
		}
		switch key {
		case "version":
			name, ok = d.str(v, p)
			node = v
		case "image":
			if s, good := d.str(v, p); good {
				d.checkPlaceholders(v, p, s)
				settings.Image = &s
			}
		case "command":
			if s, good := d.str(v, p); good {
				d.checkPlaceholders(v, p, s)
				settings.Command = &s
			}
		case "args":
			if items, good := d.sequence(v, p); good {
				settings.Args = []string{}
				for i, it := range items {
					if s, good := d.str(it, index(p, i)); good {
						d.checkPlaceholders(it, index(p, i), s)
						settings.Args = append(settings.Args, s)
					}
				}
			}
		case "env":
			settings.Env = d.parseEnv(v, p)
		case "resources":
			settings.Resources = d.parseResources(v, p)
		}
	}
	if node == nil {
		if _, given := d.fields[join(path, "version")]; !given {
			d.failAt(n, join(path, "version"), "missing; a version written as a mapping names itself, like version: v10")
		}
		return "", n, nil, false
	}
	return name, node, settings, ok
}

// errsAt returns the problems already recorded for a key path or below it.
func (d *decoder) errsAt(path string) Errors {
	var out Errors
	for _, e := range d.errs {
		if e.Key == path || strings.HasPrefix(e.Key, path+"[") || strings.HasPrefix(e.Key, path+".") {
			out = append(out, e)
		}
	}
	return out
}

func (a *App) mentionsVersion() bool {
	if strings.Contains(a.Image, VersionPlaceholder) || strings.Contains(a.Command, VersionPlaceholder) {
		return true
	}
	for _, s := range a.Args {
		if strings.Contains(s, VersionPlaceholder) {
			return true
		}
	}
	for _, v := range a.Env {
		if strings.Contains(v, VersionPlaceholder) {
			return true
		}
	}
	return false
}

// durationText is a duration as the user wrote it, for advice to copy.
func durationText(s string) string { return strings.TrimSpace(s) }

// checkPlaceholders rejects near-misses of {{version}}, which would
// otherwise reach Nomad unreplaced.
func (d *decoder) checkPlaceholders(n *yaml.Node, path, s string) {
	for _, m := range placeholderRE.FindAllString(s, -1) {
		if m != VersionPlaceholder {
			d.failAt(n, path, "%q is not a placeholder strata knows; write %s", m, VersionPlaceholder)
		}
	}
}

func labelList(ports []Port) string {
	if len(ports) == 0 {
		return "no ports are declared"
	}
	ls := make([]string, len(ports))
	for i, p := range ports {
		ls[i] = p.Label
	}
	return "ports: " + strings.Join(ls, ", ")
}

func (d *decoder) parsePorts(n *yaml.Node, path string) []Port {
	fields, _ := d.mapping(n, path, nil)
	var out []Port
	statics := map[int]string{}
	for _, f := range fields {
		label, p := f.key.Value, join(path, f.key.Value)
		if !portLabelRE.MatchString(label) {
			d.failAt(f.key, p, "%q is not a valid port label (a letter or '_', then letters, digits, '_'; at most 32)", label)
			continue
		}
		port := Port{Label: label}
		pf, ok := d.mapping(f.value, p, portKeys)
		if !ok {
			continue
		}
		for _, g := range pf {
			gp := join(p, g.key.Value)
			if isNull(g.value) {
				continue
			}
			v, ok := d.integer(g.value, gp)
			if !ok {
				continue
			}
			if v < 1 || v > 65535 {
				d.failAt(g.value, gp, "%d is not a port number (1-65535)", v)
				continue
			}
			if g.key.Value == "static" {
				if other, dup := statics[v]; dup {
					d.failAt(g.value, gp, "static port %d is also used by port %q", v, other)
					continue
				}
				statics[v] = label
				port.Static = v
				if d.staticNodes == nil {
					d.staticNodes = map[string]*yaml.Node{}
				}
				d.staticNodes[gp] = g.value
			} else {
				port.To = v
			}
		}
		out = append(out, port)
	}
	slices.SortFunc(out, func(a, b Port) int { return strings.Compare(a.Label, b.Label) })
	return out
}

func (d *decoder) parseService(n *yaml.Node, path string) *Service {
	s := &Service{}
	ok := d.each(n, path, serviceKeys, func(key, p string, v *yaml.Node) {
		switch key {
		case "port":
			s.Port, _ = d.str(v, p)
		case "tags":
			items, _ := d.sequence(v, p)
			seen := map[string]bool{}
			for i, it := range items {
				tp := index(p, i)
				t, ok := d.str(it, tp)
				switch {
				case !ok:
				case !tagRE.MatchString(t):
					d.failAt(it, tp, "%q is not a valid tag (printable ASCII without spaces, at most 255)", t)
				case t == naming.TagManaged || strings.HasPrefix(t, naming.VersionTagPrefix):
					d.failAt(it, tp, "%q is reserved: strata adds %q and %q itself", t, naming.TagManaged, naming.VersionTagPrefix+"<version>")
				case seen[t]:
					d.failAt(it, tp, "tag %q is listed twice", t)
				default:
					seen[t] = true
					s.Tags = append(s.Tags, t)
				}
			}
		case "check":
			s.Check = d.parseCheck(v, p)
		}
	})
	if !ok {
		return nil
	}
	return s
}

func (d *decoder) parseCheck(n *yaml.Node, path string) *Check {
	c := &Check{}
	ok := d.each(n, path, checkKeys, func(key, p string, v *yaml.Node) {
		switch key {
		case "path":
			if s, ok := d.str(v, p); ok {
				if pathRE.MatchString(s) {
					c.Path = s
				} else {
					d.failAt(v, p, "%q is not an HTTP path (it starts with '/' and has no spaces)", s)
				}
			}
		case "interval", "timeout":
			t, ok := d.duration(v, p)
			switch {
			case !ok:
			case t < time.Second:
				d.failAt(v, p, "%s is shorter than Nomad's minimum of 1s", t)
			case key == "interval":
				c.Interval = t
			default:
				c.Timeout = t
			}
		}
	})
	if !ok {
		return nil
	}
	return c
}

func (d *decoder) parseResources(n *yaml.Node, path string) *Resources {
	r := &Resources{}
	ok := d.each(n, path, resourceKeys, func(key, p string, node *yaml.Node) {
		v, ok := d.integer(node, p)
		switch {
		case !ok:
		case key == "cpu" && v < 1:
			d.failAt(node, p, "%d MHz; expected a positive number of MHz", v)
		case key == "cpu":
			r.CPU = &v
		case v < 10:
			d.failAt(node, p, "%d MB; expected at least 10 MB (Nomad's minimum)", v)
		case key == "memory":
			r.Memory = &v
		default:
			r.MemoryMax = &v
		}
	})
	if !ok {
		return nil
	}
	return r
}

func (d *decoder) parseEnv(n *yaml.Node, path string) map[string]string {
	fields, ok := d.mapping(n, path, nil)
	if !ok {
		return nil
	}
	env := map[string]string{}
	for _, f := range fields {
		name, p := f.key.Value, join(path, f.key.Value)
		if !envNameRE.MatchString(name) {
			d.failAt(f.key, p, "%q is not a valid environment variable name (letters, digits, '_'; not starting with a digit)", name)
			continue
		}
		if isNull(f.value) {
			env[name] = ""
			continue
		}
		if s, ok := d.str(f.value, p); ok {
			d.checkPlaceholders(f.value, p, s)
			env[name] = s
		}
	}
	return env
}

func (d *decoder) parseConstraints(n *yaml.Node, path string) []Constraint {
	items, ok := d.sequence(n, path)
	if !ok {
		return nil
	}
	var out []Constraint
	for i, it := range items {
		p := index(path, i)
		fields, ok := d.mapping(it, p, constraintKey)
		if !ok {
			continue
		}
		var c Constraint
		var valueNode *yaml.Node
		for _, f := range fields {
			if isNull(f.value) {
				continue
			}
			s, ok := d.str(f.value, join(p, f.key.Value))
			if !ok {
				continue
			}
			switch f.key.Value {
			case "attribute":
				c.Attribute = s
			case "operator":
				if !slices.Contains(constraintOperators, s) {
					d.failAt(f.value, join(p, "operator"), "%q is not a Nomad constraint operator; expected one of %s", s, strings.Join(constraintOperators, " "))
					continue
				}
				c.Operator = s
			case "value":
				c.Value, valueNode = s, f.value
			}
		}
		if c.Operator == "regexp" && valueNode != nil {
			// Nomad compiles the value with Go's regexp package.
			if _, err := regexp.Compile(c.Value); err != nil {
				d.failAt(valueNode, join(p, "value"), "%q is not a regular expression: %s", c.Value, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
			}
		}
		switch c.Operator {
		case "distinct_hosts":
		case "is_set", "is_not_set":
			if c.Attribute == "" {
				d.failAt(it, join(p, "attribute"), "missing; the %s operator needs an attribute", c.Operator)
			}
		default:
			if c.Attribute == "" {
				d.failAt(it, join(p, "attribute"), "missing; like ${attr.kernel.name} or ${node.class}")
			}
			if c.Value == "" && c.Operator != "distinct_property" {
				d.failAt(it, join(p, "value"), "missing; the value to compare the attribute with")
			}
		}
		out = append(out, c)
	}
	return out
}

func (d *decoder) parseUpdate(n *yaml.Node, path string) *Update {
	u := &Update{}
	ok := d.each(n, path, updateKeys, func(key, p string, v *yaml.Node) {
		switch key {
		case "max_parallel":
			if m, ok := d.integer(v, p); ok {
				if m < 0 {
					d.failAt(v, p, "%d; expected 0 or more", m)
				} else {
					u.MaxParallel = &m
				}
			}
		case "auto_revert":
			if b, ok := d.boolean(v, p); ok {
				u.AutoRevert = &b
			}
		default:
			t, ok := d.duration(v, p)
			if !ok {
				return
			}
			switch key {
			case "min_healthy_time":
				u.MinHealthyTime = &t
			case "healthy_deadline":
				u.HealthyDeadline = &t
			case "progress_deadline":
				u.ProgressDeadline = &t
			}
		}
	})
	if !ok {
		return nil
	}
	return u
}

// driver decodes a task driver strata writes configuration for.
func (d *decoder) driver(n *yaml.Node, path string) (string, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return "", false
	}
	switch s {
	case DriverDocker, DriverExec, DriverRawExec:
		return s, true
	}
	d.failAt(n, path, "%q is not a supported driver; expected docker, exec or raw_exec", s)
	return "", false
}

// absPath decodes an absolute file path.
func (d *decoder) absPath(n *yaml.Node, path string) (string, bool) {
	s, ok := d.str(n, path)
	if ok && !filepath.IsAbs(s) {
		d.failAt(n, path, "%q is not an absolute path", s)
		return "", false
	}
	return s, ok
}

// nodePool decodes a Nomad node pool name.
func (d *decoder) nodePool(n *yaml.Node, path string) (string, bool) {
	s, ok := d.str(n, path)
	if ok && !nodePoolRE.MatchString(s) {
		d.failAt(n, path, "%q is not a valid node pool name (letters, digits, '_', '-'; at most 128)", s)
		return "", false
	}
	return s, ok
}

// parseHAProxy decodes the haproxy section; n may be nil (absent).
func (d *decoder) parseHAProxy(n *yaml.Node) HAProxy {
	var h HAProxy
	if n != nil {
		d.each(n, "haproxy", haproxyKeys, func(key, p string, v *yaml.Node) {
			switch key {
			case "driver":
				if s, ok := d.driver(v, p); ok {
					h.Driver = s
				}
			case "image":
				h.Image, _ = d.str(v, p)
			case "command":
				h.Command, _ = d.absPath(v, p)
			case "strata":
				if s, ok := d.absPath(v, p); ok {
					h.Strata = s
				}
			case "node_pool":
				h.NodePool, _ = d.nodePool(v, p)
			case "resources":
				h.Resources = d.parseResources(v, p)
			case "mworker_max_reloads":
				if m, ok := d.integer(v, p); ok {
					switch {
					case m < 0:
						d.failAt(v, p, "%d; expected 0 (no bound, the default) or more", m)
					case m > 0:
						h.MworkerMaxReloads = m
						// Checked on HAProxy 2.6.12 with a bound of 1: a
						// held TCP session survived one reload, and the
						// second sent its worker SIGTERM (exit 143) and
						// cut it.
						d.warnAt(v, p, "HAProxy sends SIGTERM to an old worker once it is more than %d reloads old, and the sessions it still serves are cut: a session that lives through %d reloads is cut at the next one. strata reloads only when routing settings change or an app's instances outgrow routing.max_servers; leave mworker_max_reloads unset (no bound) unless the number of old HAProxy processes must be capped", m, m)
					}
				}
			case "wait_min", "wait_max":
				if t, ok := d.duration(v, p); ok {
					if key == "wait_min" {
						h.WaitMin = t
					} else {
						h.WaitMax = t
					}
				}
			}
		})
	}
	return h
}

// parseRetire decodes an app's sweeper section; n may be nil.
func (d *decoder) parseRetire(n *yaml.Node, path string) Retire {
	var r Retire
	if n == nil {
		return r
	}
	d.each(n, path, retireKeys, func(key, p string, v *yaml.Node) {
		switch key {
		case "keep", "max_retire_per_run":
			m, ok := d.integer(v, p)
			switch {
			case !ok:
			case key == "keep" && m < 1:
				d.failAt(v, p, "%d; keep at least the newest version (1)", m)
			case m < 0:
				d.failAt(v, p, "%d; expected 0 (no bound) or more", m)
			case key == "keep":
				r.Keep = m
			default:
				r.MaxRetirePerRun = m
			}
		case "purge":
			r.Purge, _ = d.boolean(v, p)
		default:
			t, ok := d.duration(v, p)
			if !ok {
				return
			}
			switch key {
			case "min_age":
				r.MinAge = t
			case "drain_grace":
				r.DrainGrace = t
			case "handoff_grace":
				r.HandoffGrace = t
			}
		}
	})
	return r
}

// parseSweeper decodes the global sweeper section; n may be nil.
func (d *decoder) parseSweeper(n *yaml.Node) Sweeper {
	var sw Sweeper
	if n != nil {
		d.each(n, "sweeper", sweeperKeys, func(key, p string, v *yaml.Node) {
			switch key {
			case "driver":
				if s, ok := d.driver(v, p); ok {
					sw.Driver = s
				}
				return
			case "strata":
				if s, ok := d.absPath(v, p); ok {
					sw.Strata = s
				}
				return
			}
			str, ok := d.str(v, p)
			if !ok {
				return
			}
			switch key {
			case "cron":
				if len(strings.Fields(str)) < 5 || len(strings.Fields(str)) > 7 {
					d.failAt(v, p, "%q is not a cron expression (5 to 7 fields, like \"*/5 * * * *\")", str)
					return
				}
				sw.Cron = str
			case "image":
				sw.Image = str
			}
		})
	}
	return sw
}
