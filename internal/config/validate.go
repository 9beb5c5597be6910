package config

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/strata-dev/strata/internal/naming"
)

// validate checks the rules that span more than one key, in one pass after
// finalize has set the defaults, citing the key each problem is about. A key
// whose value was refused while decoding has been reported already; the
// rules here skip what depends on it.
func (d *decoder) validate(cfg *Config) {
	for _, a := range cfg.Apps {
		d.checkApp(a)
	}
	d.checkHAProxy(&cfg.HAProxy)
	d.checkSweeper(&cfg.Sweeper)
	d.checkJobIDs(cfg.Apps)
	d.checkBinds(cfg.Apps)
}

// checkCheck checks a health check's path and timing.
func (d *decoder) checkCheck(c *Check, path string) {
	if c.Path == "" && len(d.errsAt(join(path, "path"))) == 0 {
		d.failAt(d.fields[path].value, join(path, "path"), "missing; the HTTP path of the health check, like /healthz")
	}
	if d.given(join(path, "timeout")) && c.Timeout > c.Interval {
		d.failAt(d.valueNode(join(path, "timeout")), join(path, "timeout"), "%s is longer than the interval (%s)", c.Timeout, c.Interval)
	}
}

// checkHAProxy checks the haproxy section's driver against its image, and
// the template wait bounds.
func (d *decoder) checkHAProxy(h *HAProxy) {
	switch {
	case h.Driver == DriverDocker && h.Image == "":
		d.failAt(d.valueNode("haproxy.driver"), "haproxy.image", "missing; the docker driver needs an image holding both haproxy and strata")
	case h.Driver != DriverDocker && h.Image != "":
		d.failAt(d.valueNode("haproxy.image"), "haproxy.image", "only the docker driver takes an image; the %s driver runs command", h.Driver)
	}
	if h.WaitMin > h.WaitMax {
		d.failAt(later(d.valueNode("haproxy.wait_min"), d.valueNode("haproxy.wait_max")), "haproxy.wait_min", "%s is longer than wait_max (%s)", h.WaitMin, h.WaitMax)
	}
}

// checkSweeper checks the sweeper section's driver against its image.
func (d *decoder) checkSweeper(sw *Sweeper) {
	switch {
	case sw.Driver == DriverDocker && sw.Image == "":
		d.failAt(d.valueNode("sweeper.driver"), "sweeper.image", "missing; the docker driver needs an image holding strata")
	case sw.Driver != DriverDocker && sw.Image != "":
		d.failAt(d.valueNode("sweeper.image"), "sweeper.image", "only the docker driver takes an image")
	}
}

// later returns whichever node comes later in the file.
func later(nodes ...*yaml.Node) *yaml.Node {
	var out *yaml.Node
	for _, n := range nodes {
		if n != nil && (out == nil || n.Line > out.Line || (n.Line == out.Line && n.Column > out.Column)) {
			out = n
		}
	}
	return out
}

// checkApp validates what depends on more than one key.
//
// A key that is present but invalid has been reported already, so checks
// here that a value is missing look at whether the key is present
// (absent), not at whether a value was decoded.
func (d *decoder) checkApp(a *App) {
	path := join("apps", a.Name)
	n := d.fields[path].value
	f := appFields{app: n, keys: map[string]*yaml.Node{}, values: map[string]*yaml.Node{}}
	for _, key := range appKeys {
		if fl, ok := d.fields[join(path, key)]; ok {
			f.keys[key], f.values[key] = fl.key, fl.value
		}
	}
	kindKnown := len(d.errsAt(join(path, "kind"))) == 0
	if d.scope == ScopeSweeper {
		d.checkVersions(a, f, path, kindKnown)
		return
	}
	at, absent := f.at, f.absent
	switch a.Driver {
	case "":
		if absent("driver") {
			d.failAt(n, join(path, "driver"), "missing; expected docker, exec or raw_exec")
		}
	case DriverDocker:
		if absent("image") {
			d.failAt(at("driver"), join(path, "image"), "missing; the docker driver needs an image, like registry.example.com/%s:%s", a.Name, VersionPlaceholder)
		}
	default:
		if a.Image != "" {
			d.failAt(at("image"), join(path, "image"), "only the docker driver takes an image; the %s driver runs command", a.Driver)
		}
		if absent("command") {
			d.failAt(at("driver"), join(path, "command"), "missing; the %s driver needs a command to run", a.Driver)
		}
	}
	if a.Driver != "" && (a.Image != "" || a.Command != "") && !a.mentionsVersion() {
		d.failAt(at("driver"), path, "no %s in image, command, args or env: every version would run the same thing", VersionPlaceholder)
	}

	labels := map[string]bool{}
	for _, p := range a.Ports {
		labels[p.Label] = true
	}
	if s := a.Service; s != nil {
		if s.Port == "" {
			d.failAt(at("service"), join(path, "service.port"), "missing; name the port label the service uses (%s)", labelList(a.Ports))
		} else if !labels[s.Port] {
			d.failAt(at("service"), join(path, "service.port"), "%q is not a port label of this app (%s)", s.Port, labelList(a.Ports))
		}
	}
	if a.Kind == KindWeb && kindKnown {
		switch {
		case a.Service == nil:
			d.failAt(n, join(path, "service"), "missing; a web app needs a Consul service for HAProxy to route to (or set kind: worker)")
		case a.Service.Check == nil:
			d.failAt(at("service"), join(path, "service.check"), "missing; a web app needs an HTTP health check (only passing instances are routed)")
		}
	}
	if a.Routing != nil && a.Kind == KindWorker {
		d.failAt(at("routing"), join(path, "routing"), "a worker has no connections to route; remove routing or set kind: web")
	}
	if r := a.Resources; r != nil && r.Memory != nil && r.MemoryMax != nil && *r.MemoryMax < *r.Memory {
		d.failAt(at("resources"), join(path, "resources.memory_max"), "%d MB is less than memory (%d MB)", *r.MemoryMax, *r.Memory)
	}
	if s := a.Service; s != nil && s.Check != nil {
		d.checkCheck(s.Check, join(path, "service.check"))
	}
	d.checkVersionSettings(a)
	if a.Routing != nil {
		d.checkRouting(a, f, join(path, "routing"))
	}
	d.checkRollout(a, f, path, kindKnown)
	if u := a.Update; u != nil {
		d.checkUpdate(u, a.KillTimeout, at("update"), join(path, "update"))
	}
	d.checkVersions(a, f, path, kindKnown)
}

// appFields are the nodes of one app's mapping, for positioned errors: the
// mapping itself, and the key and value node of every key present, valid or
// not.
type appFields struct {
	app          *yaml.Node
	keys, values map[string]*yaml.Node
}

// at is key's key node, or the app's mapping when the key is absent.
func (f appFields) at(key string) *yaml.Node {
	if k, ok := f.keys[key]; ok {
		return k
	}
	return f.app
}

// atValue is key's value node when it has one, else at(key).
func (f appFields) atValue(key string) *yaml.Node {
	if v, ok := f.values[key]; ok && !isNull(v) {
		return v
	}
	return f.at(key)
}

// absent reports whether key is missing or null.
func (f appFields) absent(key string) bool {
	v, ok := f.values[key]
	return !ok || isNull(v)
}

// checkVersionSettings checks the settings versions set for themselves
// against the app's driver, and each version's resources as they add up.
func (d *decoder) checkVersionSettings(a *App) {
	for _, v := range a.Versions {
		s := a.VersionSettings[v]
		if s == nil {
			continue
		}
		if s.Image != nil && a.Driver != "" && a.Driver != DriverDocker {
			d.failAt(d.keyNode(join(s.path, "image")), join(s.path, "image"), "only the docker driver takes an image; the %s driver runs command", a.Driver)
		}
		if r := a.ForVersion(v).Resources; r != nil && r.Memory != nil && r.MemoryMax != nil && *r.MemoryMax < *r.Memory && len(d.errsAt(join(s.path, "resources"))) == 0 && s.Resources != nil {
			d.failAt(d.keyNode(join(s.path, "resources")), join(s.path, "resources.memory_max"), "%d MB is less than memory (%d MB) for version %s", *r.MemoryMax, *r.Memory, v)
		}
	}
}

// checkVersions checks an app's versions and live version.
func (d *decoder) checkVersions(a *App, f appFields, path string, kindKnown bool) {
	n, nodes, atValue, absent := f.app, f.keys, f.atValue, f.absent
	if len(a.Versions) == 0 {
		if _, present := nodes["versions"]; !present {
			d.failAt(n, join(path, "versions"), "missing; list the versions to run, like [v1, v2]")
		} else if len(d.errsAt(join(path, "versions"))) == 0 {
			d.failAt(atValue("versions"), join(path, "versions"), "empty; list at least one version")
		}
	}
	// The sweeper's scope leaves max_versions out: the full file was
	// checked against it.
	if d.scope != ScopeSweeper && len(a.Versions) > a.MaxVersions {
		d.failAt(atValue("versions"), join(path, "versions"), "%d versions listed, more than max_versions (%d); remove old ones or raise max_versions", len(a.Versions), a.MaxVersions)
	}
	switch {
	case len(d.errsAt(join(path, "versions"))) > 0:
		// The live version may be one of those that were rejected.
	case a.Live != "" && !slices.Contains(a.Versions, a.Live):
		d.failAt(atValue("live"), join(path, "live"), "%q is not in versions (%s)", a.Live, strings.Join(a.Versions, ", "))
	case absent("live") && a.Kind == KindWeb && kindKnown && len(a.Versions) > 0:
		d.failAt(n, join(path, "live"), "missing; name the version new sessions get (one of %s)", strings.Join(a.Versions, ", "))
	}
}

// checkUpdate checks the update policy's durations against each other and
// against the task's kill_timeout as Nomad will, with Nomad's defaults for
// those not set: Nomad refuses min_healthy_time >= healthy_deadline,
// healthy_deadline >= progress_deadline, and a kill_timeout longer than the
// progress deadline (a progress deadline of 0 turns the last two off). n is
// the update key, for a value that is not in the file.
func (d *decoder) checkUpdate(u *Update, killTimeout *time.Duration, n *yaml.Node, path string) {
	at := func(key string) *yaml.Node {
		if v := d.valueNode(join(path, key)); v != nil {
			return v
		}
		return n
	}
	mht, hd := NomadMinHealthyTime, NomadHealthyDeadline
	if u.MinHealthyTime != nil {
		mht = *u.MinHealthyTime
	}
	if u.HealthyDeadline != nil {
		hd = *u.HealthyDeadline
	}
	if (u.MinHealthyTime != nil || u.HealthyDeadline != nil) && mht >= hd {
		key, msg := "min_healthy_time", fmt.Sprintf("%s must be shorter than healthy_deadline (%s)", mht, hd)
		if u.HealthyDeadline == nil {
			msg = fmt.Sprintf("%s must be shorter than healthy_deadline (Nomad's default %s); set a longer healthy_deadline", mht, hd)
		}
		d.failAt(at(key), join(path, key), "%s", msg)
	}
	pd := u.ProgressDeadline
	if pd == nil || *pd == 0 {
		return
	}
	if *pd <= hd {
		msg := fmt.Sprintf("%s must be longer than healthy_deadline (%s)", *pd, hd)
		if u.HealthyDeadline == nil {
			msg = fmt.Sprintf("%s must be longer than healthy_deadline (Nomad's default %s)", *pd, hd)
		}
		d.failAt(at("progress_deadline"), join(path, "progress_deadline"), "%s", msg)
	}
	if killTimeout != nil && *pd < *killTimeout {
		d.failAt(at("progress_deadline"), join(path, "progress_deadline"),
			"%s is shorter than kill_timeout (%s): Nomad refuses a task that may take longer to stop than its group's progress deadline; set at least %s, or remove it and strata sets kill_timeout + healthy_deadline (%s)",
			*pd, *killTimeout, *killTimeout, *killTimeout+hd)
	}
}

// checkJobIDs reports two (app, version) pairs that would share a Nomad job
// ID, such as app "web-a" version "v1" and app "web" version "a-v1".
func (d *decoder) checkJobIDs(apps []*App) {
	owner := map[string]string{}
	for _, a := range apps {
		for _, v := range a.Versions {
			id := naming.JobID(a.Name, v)
			if prev, ok := owner[id]; ok {
				d.failAt(d.versionNodes[a.Name][v], join(join("apps", a.Name), "versions"), "version %q makes job ID %q, which %s already has", v, id, prev)
				continue
			}
			owner[id] = fmt.Sprintf("apps.%s version %q", a.Name, v)
		}
	}
}

// checkRouting checks an app's routing section across its keys and against
// the app's versions and instance count.
func (d *decoder) checkRouting(a *App, f appFields, path string) {
	r := a.Routing
	if d.valueNode(join(path, "bind")) == nil && len(d.errsAt(join(path, "bind"))) == 0 {
		d.failAt(d.fields[path].value, join(path, "bind"), "missing; the address HAProxy serves this app on, like :8080")
	}
	if r.Cookie == r.ServerCookie {
		d.failAt(d.valueNode(join(path, "server_cookie")), join(path, "server_cookie"), "%q is also the version cookie; use another name", r.ServerCookie)
	}
	if len(a.Versions) > r.MaxVersions && len(a.Versions) <= a.MaxVersions && len(d.errsAt(join(path, "max_versions"))) == 0 {
		how := "raise routing.max_versions"
		if !d.given(join(path, "max_versions")) {
			how = fmt.Sprintf("set routing.max_versions (at most %d)", MaxVersionSlots)
		}
		d.failAt(f.atValue("versions"), join(join("apps", a.Name), "versions"), "%d versions listed, more than routing.max_versions (%d), the version slots HAProxy has for the app; remove old ones or %s", len(a.Versions), r.MaxVersions, how)
	}
	if a.Count != nil && *a.Count > r.MaxServers {
		at := d.valueNode(join(path, "max_servers"))
		if at == nil {
			at = f.atValue("count")
		}
		d.warnAt(at, join(path, "max_servers"), "%d servers per version slot, fewer than count (%d): HAProxy reloads to make room whenever a version runs more instances than that; raise routing.max_servers to at least %d", r.MaxServers, *a.Count, *a.Count)
	}
}

// checkBinds reports apps that HAProxy could not tell apart, and an app's
// static port that is one HAProxy binds: HAProxy's system job reserves
// every bind port on every node, so Nomad could place neither beside the
// other.
//
// Apps share a port only on the same listener (Routing.Listener: ":80",
// "*:80" and "0.0.0.0:80" are one), where one frontend picks the app by
// Host header: each of them needs a host, and no two the same one. An
// exact host may sit beside a wildcard that covers it; the exact one wins.
func (d *decoder) checkBinds(apps []*App) {
	owner := map[string]*App{} // by port: the first app on it
	shared := map[string][]*App{}
	for _, a := range apps {
		if a.Routing == nil || a.Routing.Bind == "" {
			continue
		}
		_, port, _ := net.SplitHostPort(a.Routing.Bind)
		bindKey := "apps." + a.Name + ".routing.bind"
		if prev, ok := owner[port]; ok && prev.Routing.Listener() != a.Routing.Listener() {
			d.failAt(d.bindNodes[bindKey], bindKey, "port %s is also the bind port of app %s, on another address (%s): apps share a port only on the same address, told apart by routing.host (\":%s\", \"*:%s\" and \"0.0.0.0:%s\" are the same)", port, prev.Name, prev.Routing.Bind, port, port, port)
			continue
		}
		if _, ok := owner[port]; !ok {
			owner[port] = a
		}
		l := a.Routing.Listener()
		shared[l] = append(shared[l], a)
	}
	for _, l := range slices.Sorted(maps.Keys(shared)) {
		group := shared[l]
		if len(group) < 2 {
			continue
		}
		hosts := map[string]string{}
		for _, a := range group {
			path := "apps." + a.Name + ".routing"
			if a.Routing.Host == "" {
				if len(d.errsAt(join(path, "host"))) == 0 {
					d.failAt(d.bindNodes[join(path, "bind")], join(path, "host"), "missing; %s shares %s with %s, and one address serves several apps only by host name: give each a host", a.Name, l, others(group, a))
				}
				continue
			}
			if prev, dup := hosts[a.Routing.Host]; dup {
				d.failAt(d.valueNode(join(path, "host")), join(path, "host"), "%q is also the host of app %s on %s; each app on one address needs its own", a.Routing.Host, prev, l)
				continue
			}
			hosts[a.Routing.Host] = a.Name
		}
	}
	for _, a := range apps {
		for _, p := range a.Ports {
			if p.Static == 0 {
				continue
			}
			if bindApp, ok := owner[strconv.Itoa(p.Static)]; ok {
				key := "apps." + a.Name + ".ports." + p.Label + ".static"
				d.failAt(d.staticNodes[key], key, "port %d is also apps.%s.routing.bind, which HAProxy listens on on every node; Nomad cannot place both on one node: use another port", p.Static, bindApp.Name)
			}
		}
	}
}

// others names the apps of a group other than a, for messages.
func others(group []*App, a *App) string {
	var names []string
	for _, b := range group {
		if b != a {
			names = append(names, b.Name)
		}
	}
	return strings.Join(names, ", ")
}
