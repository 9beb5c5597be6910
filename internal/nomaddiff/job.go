package nomaddiff

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/hashicorp/nomad/api"
)

// Diff returns the diff Nomad's plan endpoint answers for job against old,
// the version Nomad holds (nil when it holds none): Nomad's contextual
// job diff, with the same types, field names, flattened fields (Meta[key],
// Env[key], Config's args[0]), object names, set semantics (datacenters,
// constraints, tags, networks) and order. It carries no desired updates or
// annotations; [Plan] adds them. Both jobs should be canonicalized
// (api.Job.Canonicalize, with a namespace, datacenters and node pool, as
// Nomad's agent does); Diff fills what Nomad's server adds on top (a task's
// default workload identity, a service's Consul cluster and namespace) on
// copies, and changes neither job.
func Diff(old, job *api.Job) *api.JobDiff {
	old, job = ServerDefaults(old), ServerDefaults(job)
	d := &api.JobDiff{Type: TypeNone}
	var oldFlat flat
	switch {
	case job == nil && old == nil:
		return d
	case old == nil:
		d.Type, d.ID = TypeAdded, deref(job.ID)
	case job == nil:
		d.Type, d.ID = TypeDeleted, deref(old.ID)
		oldFlat = jobFlat(old)
	default:
		d.ID = deref(job.ID)
		oldFlat = jobFlat(old)
	}
	var o, n api.Job
	if old != nil {
		o = *old
	}
	if job != nil {
		n = *job
	}
	d.Fields = fieldDiffs(oldFlat, jobFlat(job), false)
	if s := stringSetDiff(o.Datacenters, n.Datacenters, "Datacenters", true); s != nil && s.Type != TypeNone {
		d.Objects = append(d.Objects, s)
	}
	d.Objects = append(d.Objects, constraintDiffs(o.Constraints, n.Constraints)...)
	d.TaskGroups = groupDiffs(o.TaskGroups, n.TaskGroups, namespace(old, job))
	if p := periodicDiff(o.Periodic, n.Periodic); p != nil {
		d.Objects = append(d.Objects, p)
	}
	if d.Type == TypeNone && changed(d.Fields, d.Objects) {
		d.Type = TypeEdited
	}
	if d.Type == TypeNone {
		for _, g := range d.TaskGroups {
			if g.Type != TypeNone {
				d.Type = TypeEdited
			}
		}
	}
	return d
}

func changed(fields []*api.FieldDiff, objects []*api.ObjectDiff) bool {
	for _, f := range fields {
		if f.Type != TypeNone {
			return true
		}
	}
	for _, o := range objects {
		if o.Type != TypeNone {
			return true
		}
	}
	return false
}

func namespace(old, job *api.Job) string {
	for _, j := range []*api.Job{job, old} {
		if j != nil && j.Namespace != nil && *j.Namespace != "" {
			return *j.Namespace
		}
	}
	return api.DefaultNamespace
}

// consulVersionConstraint is the constraint Nomad's server adds to a task
// group with Consul services.
var consulVersionConstraint = &api.Constraint{LTarget: "${attr.consul.version}", RTarget: ">= 1.8.0", Operand: "semver"}

// identityVersionConstraint is the constraint Nomad's server adds to a task
// group with workload identities besides the default one
// (jobImplicitIdentitiesHook).
var identityVersionConstraint = &api.Constraint{LTarget: "${attr.nomad.version}", RTarget: ">= 1.7.0-a", Operand: "semver"}

// usesIdentities reports whether a task of tg has a named identity other
// than the default one, or a service of tg has an identity.
func usesIdentities(tg *api.TaskGroup) bool {
	named := func(ws []*api.WorkloadIdentity) bool {
		return slices.ContainsFunc(ws, func(w *api.WorkloadIdentity) bool { return w.Name != "" && w.Name != "default" })
	}
	services := func(ss []*api.Service) bool {
		return slices.ContainsFunc(ss, func(s *api.Service) bool { return s.Identity != nil })
	}
	if services(tg.Services) {
		return true
	}
	return slices.ContainsFunc(tg.Tasks, func(t *api.Task) bool { return named(t.Identities) || services(t.Services) })
}

func usesConsulServices(tg *api.TaskGroup) bool {
	consul := func(ss []*api.Service) bool {
		return slices.ContainsFunc(ss, func(s *api.Service) bool { return s.Provider == "" || s.Provider == "consul" })
	}
	if consul(tg.Services) {
		return true
	}
	return slices.ContainsFunc(tg.Tasks, func(t *api.Task) bool { return consul(t.Services) })
}

// Server is what of a Nomad server's agent configuration changes how it
// stores a job. The zero value is a server without consul.task_identity,
// as the recorded cluster was (no recorded job carries an implicit
// identity).
type Server struct {
	// ConsulTaskIdentity is the servers' consul.task_identity, nil when
	// not configured. Nomad's implicit-identities hook
	// (nomad/job_endpoint_hook_implicit_identities.go, handleConsulTask)
	// adds a copy of it, named consul_<cluster>, to every task that has a
	// consul block, or whose group has one, and no identity of that name.
	ConsulTaskIdentity *api.WorkloadIdentity
}

// ServerDefaults is Server{}.Defaults: job as a server without
// consul.task_identity stores it.
func ServerDefaults(job *api.Job) *api.Job { return Server{}.Defaults(job) }

// Defaults returns a copy of job, canonicalized by the API client, as
// Nomad's server stores it (the recorded GET /v1/job answers show it):
// a task group with Consul services gets the constraint
// ${attr.consul.version} semver ">= 1.8.0", and one with identities besides
// the default one ${attr.nomad.version} semver ">= 1.7.0-a", in that order;
// every task gets the default workload identity (name "default", audience
// "nomadproject.io") unless it has one (an unnamed identity in Identities
// is moved there, with that name and audience); a consul block of a task
// or group names the cluster "default" unless it names one (jobConsulHook's
// mutateImpl), and a task with a consul block, or in a group with one, gets
// s.ConsulTaskIdentity when set (see [Server]); every service the
// provider "consul" and the Consul cluster "default" unless it names them, every check without a name `service:
// "<service>" check`, and every port without a host network the "default"
// one. Fields Nomad's structs cannot leave unset become their zero value
// (a task's DiskMB, IOPS, MemoryMaxMB and SecretsMB, a group's
// PreventRescheduleOnLost), and the job-level update block keeps only what
// Nomad keeps of it, MaxParallel and Stagger (the rest went to the
// groups). job itself is not changed; nil gives nil.
func (s Server) Defaults(job *api.Job) *api.Job {
	if job == nil {
		return nil
	}
	out := *job
	if out.DispatchIdempotencyToken == nil {
		out.DispatchIdempotencyToken = new("")
	}
	if u := job.Update; u != nil {
		zero := time.Duration(0)
		out.Update = &api.UpdateStrategy{
			Stagger: u.Stagger, MaxParallel: u.MaxParallel, HealthCheck: new(""),
			MinHealthyTime: &zero, HealthyDeadline: &zero, ProgressDeadline: &zero,
			Canary: new(0), AutoRevert: new(false), AutoPromote: new(false),
		}
	}
	out.TaskGroups = make([]*api.TaskGroup, len(job.TaskGroups))
	for i, tg := range job.TaskGroups {
		g := *tg
		if g.PreventRescheduleOnLost == nil {
			g.PreventRescheduleOnLost = new(false)
		}
		g.Consul = defaultConsul(tg.Consul)
		g.Services = defaultServices(tg.Services)
		g.Networks = defaultNetworks(tg.Networks)
		g.Tasks = make([]*api.Task, len(tg.Tasks))
		for j, t := range tg.Tasks {
			c := *t
			// Nomad's WorkloadIdentity.Canonicalize names an unnamed
			// identity "default" and gives the default identity only
			// Nomad's audience; the default one is the task's Identity.
			c.Identities = nil
			for _, w := range t.Identities {
				id := *w
				if id.Name == "" {
					id.Name = "default"
				}
				if id.Name == "default" {
					id.Audience = []string{"nomadproject.io"}
					if c.Identity == nil {
						c.Identity = &id
						continue
					}
				}
				c.Identities = append(c.Identities, &id)
			}
			if c.Identity == nil {
				c.Identity = &api.WorkloadIdentity{Name: "default", Audience: []string{"nomadproject.io"}}
			}
			c.Consul = defaultConsul(t.Consul)
			c.Identities = s.implicitConsulIdentity(c.Identities, c.Consul, g.Consul)
			c.Services = defaultServices(t.Services)
			if t.Resources != nil {
				r := *t.Resources
				for _, p := range []**int{&r.DiskMB, &r.IOPS, &r.MemoryMaxMB, &r.SecretsMB} {
					if *p == nil {
						*p = new(0)
					}
				}
				c.Resources = &r
			}
			g.Tasks[j] = &c
		}
		if usesConsulServices(tg) && !slices.ContainsFunc(tg.Constraints, func(c *api.Constraint) bool {
			return *c == *consulVersionConstraint
		}) {
			g.Constraints = append(slices.Clone(tg.Constraints), consulVersionConstraint)
		}
		// Nomad's implicit-identities hook, after the one above: a group
		// whose tasks carry identities of their own (a Consul one, say,
		// its own or the one the hook added) needs clients of Nomad 1.7 or
		// later.
		if usesIdentities(&g) && !slices.ContainsFunc(g.Constraints, func(c *api.Constraint) bool {
			return *c == *identityVersionConstraint
		}) {
			g.Constraints = append(slices.Clone(g.Constraints), identityVersionConstraint)
		}
		out.TaskGroups[i] = &g
	}
	return &out
}

// defaultConsul is a consul block with the cluster Nomad's jobConsulHook
// gives one that names none, "default" (api.Consul.Canonicalize does the
// same on the client side).
func defaultConsul(c *api.Consul) *api.Consul {
	if c == nil {
		return nil
	}
	d := *c
	if d.Cluster == "" {
		d.Cluster = "default"
	}
	return &d
}

// implicitConsulIdentity is ids with the identity Nomad's
// jobImplicitIdentitiesHook.handleConsulTask adds: when the task or its
// group has a consul block and the servers configure consul.task_identity,
// a copy of it named by the task's block (Consul.IdentityName:
// consul_<cluster>, consul_default without a task block), unless the task
// has an identity of that name.
func (s Server) implicitConsulIdentity(ids []*api.WorkloadIdentity, task, group *api.Consul) []*api.WorkloadIdentity {
	if s.ConsulTaskIdentity == nil || (task == nil && group == nil) {
		return ids
	}
	name := "consul_default"
	if task != nil && task.Cluster != "" {
		name = "consul_" + task.Cluster
	}
	if slices.ContainsFunc(ids, func(w *api.WorkloadIdentity) bool { return w.Name == name }) {
		return ids
	}
	id := *s.ConsulTaskIdentity
	id.Name = name
	id.Audience = slices.Clone(id.Audience)
	return append(slices.Clone(ids), &id)
}

// defaultNetworks gives every port without a host network the "default"
// one, as Nomad's server does.
func defaultNetworks(in []*api.NetworkResource) []*api.NetworkResource {
	if in == nil {
		return nil
	}
	out := make([]*api.NetworkResource, len(in))
	for i, n := range in {
		c := *n
		c.ReservedPorts, c.DynamicPorts = slices.Clone(n.ReservedPorts), slices.Clone(n.DynamicPorts)
		for _, ports := range [][]api.Port{c.ReservedPorts, c.DynamicPorts} {
			for j := range ports {
				if ports[j].HostNetwork == "" {
					ports[j].HostNetwork = "default"
				}
			}
		}
		out[i] = &c
	}
	return out
}

func defaultServices(in []*api.Service) []*api.Service {
	if in == nil {
		return nil
	}
	out := make([]*api.Service, len(in))
	for i, s := range in {
		c := *s
		if c.Provider == "" {
			c.Provider = "consul"
		}
		if c.Cluster == "" && c.Provider == "consul" {
			c.Cluster = "default"
		}
		c.Checks = slices.Clone(s.Checks)
		for j := range c.Checks {
			if c.Checks[j].Name == "" {
				c.Checks[j].Name = fmt.Sprintf("service: %q check", c.Name)
			}
		}
		out[i] = &c
	}
	return out
}

func constraintDiffs(old, new []*api.Constraint) []*api.ObjectDiff {
	return setDiff(old, new, func(c *api.Constraint) string { return valueKey(constraintFlat(c)) },
		func(o, n **api.Constraint) *api.ObjectDiff {
			return primitiveObjectDiff(constraintFlat(ptrOrNil(o)), constraintFlat(ptrOrNil(n)), "Constraint", true)
		})
}

func ptrOrNil[T any](p **T) *T {
	if p == nil {
		return nil
	}
	return *p
}

func periodicDiff(old, new *api.PeriodicConfig) *api.ObjectDiff {
	if old == nil && new == nil {
		return nil
	}
	d := primitiveObjectDiff(periodicFlat(old), periodicFlat(new), "Periodic", true)
	var oldSpecs, newSpecs []string
	if old != nil {
		oldSpecs = old.Specs
	}
	if new != nil {
		newSpecs = new.Specs
	}
	specs := stringSetDiff(oldSpecs, newSpecs, "Specs", true)
	if d == nil && (specs == nil || specs.Type == TypeNone) {
		return nil
	}
	if d == nil {
		d = &api.ObjectDiff{Name: "Periodic", Type: objectType(old == nil, new == nil),
			Fields: fieldDiffs(periodicFlat(old), periodicFlat(new), true)}
	}
	if specs != nil {
		d.Objects = append(d.Objects, specs)
	}
	return d
}

func groupDiffs(old, new []*api.TaskGroup, ns string) []*api.TaskGroupDiff {
	byName := func(gs []*api.TaskGroup) map[string]*api.TaskGroup {
		m := map[string]*api.TaskGroup{}
		for _, g := range gs {
			m[deref(g.Name)] = g
		}
		return m
	}
	oldMap, newMap := byName(old), byName(new)
	var out []*api.TaskGroupDiff
	for name, o := range oldMap {
		out = append(out, groupDiff(o, newMap[name], ns))
	}
	for name, n := range newMap {
		if _, ok := oldMap[name]; !ok {
			out = append(out, groupDiff(nil, n, ns))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func groupDiff(old, new *api.TaskGroup, ns string) *api.TaskGroupDiff {
	d := &api.TaskGroupDiff{Type: TypeNone}
	var oldFlat, newFlat flat
	switch {
	case old == nil:
		d.Type, d.Name = TypeAdded, deref(new.Name)
		newFlat = groupFlat(new)
	case new == nil:
		d.Type, d.Name = TypeDeleted, deref(old.Name)
		oldFlat = groupFlat(old)
	default:
		d.Name = deref(new.Name)
		oldFlat, newFlat = groupFlat(old), groupFlat(new)
		// Nomad diffs these pointers only when both groups exist.
		optional := func(f flat, name string, v *time.Duration) {
			if v == nil {
				f[name] = ""
			} else {
				f.dur(name, *v)
			}
		}
		optional(oldFlat, "ShutdownDelay", old.ShutdownDelay)
		optional(newFlat, "ShutdownDelay", new.ShutdownDelay)
		optional(oldFlat, "StopAfterClientDisconnect", old.StopAfterClientDisconnect)
		optional(newFlat, "StopAfterClientDisconnect", new.StopAfterClientDisconnect)
		optional(oldFlat, "MaxClientDisconnect", old.MaxClientDisconnect)
		optional(newFlat, "MaxClientDisconnect", new.MaxClientDisconnect)
	}
	var o, n api.TaskGroup
	if old != nil {
		o = *old
	}
	if new != nil {
		n = *new
	}
	d.Fields = fieldDiffs(oldFlat, newFlat, false)
	d.Objects = append(d.Objects, constraintDiffs(o.Constraints, n.Constraints)...)
	for _, od := range []*api.ObjectDiff{
		primitiveObjectDiff(restartFlat(o.RestartPolicy), restartFlat(n.RestartPolicy), "RestartPolicy", true),
		primitiveObjectDiff(migrateFlat(o.Migrate), migrateFlat(n.Migrate), "Migrate", true),
		primitiveObjectDiff(rescheduleFlat(o.ReschedulePolicy), rescheduleFlat(n.ReschedulePolicy), "ReschedulePolicy", true),
		primitiveObjectDiff(diskFlat(o.EphemeralDisk), diskFlat(n.EphemeralDisk), "EphemeralDisk", true),
		primitiveObjectDiff(updateFlat(o.Update), updateFlat(n.Update), "Update", true),
	} {
		if od != nil {
			d.Objects = append(d.Objects, od)
		}
	}
	d.Objects = append(d.Objects, networkDiffs(o.Networks, n.Networks)...)
	d.Objects = append(d.Objects, serviceDiffs(o.Services, n.Services, ns)...)
	d.Tasks = taskDiffs(o.Tasks, n.Tasks, ns)
	if d.Type == TypeNone && (changed(d.Fields, d.Objects) || !equalGroups(old, new)) {
		d.Type = TypeEdited
	}
	return d
}

// equalGroups stands for Nomad's reflect.DeepEqual of the two groups: a
// group is Edited when anything in it differs, even a field the diff does
// not list (then its diff shows no field).
func equalGroups(a, b *api.TaskGroup) bool { return valueKey(a) == valueKey(b) }

func networkDiffs(old, new []*api.NetworkResource) []*api.ObjectDiff {
	return setDiff(old, new, func(n *api.NetworkResource) string { return valueKey(n) },
		func(o, n **api.NetworkResource) *api.ObjectDiff { return networkDiff(ptrOrNil(o), ptrOrNil(n)) })
}

func networkDiff(old, new *api.NetworkResource) *api.ObjectDiff {
	if valueKey(old) == valueKey(new) {
		return nil
	}
	d := &api.ObjectDiff{Name: "Network", Type: objectType(old == nil, new == nil)}
	d.Fields = fieldDiffs(networkFlat(old), networkFlat(new), true)
	var o, n api.NetworkResource
	if old != nil {
		o = *old
	}
	if new != nil {
		n = *new
	}
	d.Objects = append(d.Objects, portDiffs(o.ReservedPorts, n.ReservedPorts, false)...)
	d.Objects = append(d.Objects, portDiffs(o.DynamicPorts, n.DynamicPorts, true)...)
	return d
}

func portDiffs(old, new []api.Port, dynamic bool) []*api.ObjectDiff {
	name, fl := "Static Port", staticPortFlat
	if dynamic {
		name, fl = "Dynamic Port", dynamicPortFlat
	}
	byLabel := func(ps []api.Port) map[string]*api.Port {
		m := map[string]*api.Port{}
		for i := range ps {
			m[ps[i].Label] = &ps[i]
		}
		return m
	}
	oldMap, newMap := byLabel(old), byLabel(new)
	var out []*api.ObjectDiff
	for label, o := range oldMap {
		if d := primitiveObjectDiff(fl(o), fl(newMap[label]), name, true); d != nil {
			out = append(out, d)
		}
	}
	for label, n := range newMap {
		if _, ok := oldMap[label]; ok {
			continue
		}
		if d := primitiveObjectDiff(nil, fl(n), name, true); d != nil {
			out = append(out, d)
		}
	}
	sortObjects(out)
	return out
}

func serviceDiffs(old, new []*api.Service, ns string) []*api.ObjectDiff {
	return setDiff(old, new, func(s *api.Service) string { return s.Name },
		func(o, n **api.Service) *api.ObjectDiff { return serviceDiff(ptrOrNil(o), ptrOrNil(n), ns) })
}

func serviceDiff(old, new *api.Service, ns string) *api.ObjectDiff {
	if valueKey(old) == valueKey(new) {
		return nil
	}
	d := &api.ObjectDiff{Name: "Service", Type: objectType(old == nil, new == nil)}
	d.Fields = fieldDiffs(serviceFlat(old, ns), serviceFlat(new, ns), true)
	var o, n api.Service
	if old != nil {
		o = *old
	}
	if new != nil {
		n = *new
	}
	if s := stringSetDiff(o.Tags, n.Tags, "Tags", true); s != nil {
		d.Objects = append(d.Objects, s)
	}
	if s := stringSetDiff(o.CanaryTags, n.CanaryTags, "CanaryTags", true); s != nil {
		d.Objects = append(d.Objects, s)
	}
	d.Objects = append(d.Objects, setDiff(o.Checks, n.Checks, func(c api.ServiceCheck) string { return c.Name },
		func(o, n *api.ServiceCheck) *api.ObjectDiff {
			if valueKey(o) == valueKey(n) {
				return nil
			}
			od := &api.ObjectDiff{Name: "Check", Type: objectType(o == nil, n == nil)}
			od.Fields = fieldDiffs(checkFlat(o), checkFlat(n), true)
			return od
		})...)
	return d
}

func taskDiffs(old, new []*api.Task, ns string) []*api.TaskDiff {
	byName := func(ts []*api.Task) map[string]*api.Task {
		m := map[string]*api.Task{}
		for _, t := range ts {
			m[t.Name] = t
		}
		return m
	}
	oldMap, newMap := byName(old), byName(new)
	var out []*api.TaskDiff
	for name, o := range oldMap {
		out = append(out, taskDiff(o, newMap[name], ns))
	}
	for name, n := range newMap {
		if _, ok := oldMap[name]; !ok {
			out = append(out, taskDiff(nil, n, ns))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func taskDiff(old, new *api.Task, ns string) *api.TaskDiff {
	d := &api.TaskDiff{Type: TypeNone}
	switch {
	case old == nil:
		d.Type, d.Name = TypeAdded, new.Name
	case new == nil:
		d.Type, d.Name = TypeDeleted, old.Name
	default:
		d.Name = new.Name
		if valueKey(old) != valueKey(new) {
			d.Type = TypeEdited
		}
	}
	var o, n api.Task
	if old != nil {
		o = *old
	}
	if new != nil {
		n = *new
	}
	d.Fields = fieldDiffs(taskFlat(old), taskFlat(new), false)
	d.Objects = append(d.Objects, constraintDiffs(o.Constraints, n.Constraints)...)
	if valueKey(o.Config) != valueKey(n.Config) {
		cd := &api.ObjectDiff{Name: "Config", Type: objectType(len(o.Config) == 0, len(n.Config) == 0)}
		cd.Fields = fieldDiffs(configFlat(o.Config), configFlat(n.Config), true)
		d.Objects = append(d.Objects, cd)
	}
	if valueKey(o.Resources) != valueKey(n.Resources) {
		rd := &api.ObjectDiff{Name: "Resources", Type: objectType(o.Resources == nil, n.Resources == nil)}
		rd.Fields = fieldDiffs(resourcesFlat(o.Resources), resourcesFlat(n.Resources), true)
		var on, nn []*api.NetworkResource
		if o.Resources != nil {
			on = o.Resources.Networks
		}
		if n.Resources != nil {
			nn = n.Resources.Networks
		}
		rd.Objects = networkDiffs(on, nn)
		d.Objects = append(d.Objects, rd)
	}
	if ld := primitiveObjectDiff(logFlat(o.LogConfig), logFlat(n.LogConfig), "LogConfig", true); ld != nil {
		d.Objects = append(d.Objects, ld)
	}
	d.Objects = append(d.Objects, serviceDiffs(o.Services, n.Services, ns)...)
	// The task's consul block, after its services and before its
	// templates, as Nomad's Task.Diff orders them.
	if cd := primitiveObjectDiff(consulFlat(o.Consul), consulFlat(n.Consul), "Consul", true); cd != nil {
		d.Objects = append(d.Objects, cd)
	}
	d.Objects = append(d.Objects, setDiff(o.Templates, n.Templates, func(t *api.Template) string { return deref(t.DestPath) },
		func(o, n **api.Template) *api.ObjectDiff {
			ot, nt := ptrOrNil(o), ptrOrNil(n)
			if valueKey(ot) == valueKey(nt) {
				return nil
			}
			td := &api.ObjectDiff{Name: "Template", Type: objectType(ot == nil, nt == nil)}
			td.Fields = fieldDiffs(templateFlat(ot), templateFlat(nt), true)
			return td
		})...)
	if id := identityDiff(o.Identity, n.Identity); id != nil {
		d.Objects = append(d.Objects, id)
	}
	// The other identities (the implicit Consul one among them), matched
	// by name, after the default one, as Nomad's idSliceDiffs.
	d.Objects = append(d.Objects, setDiff(o.Identities, n.Identities, func(w *api.WorkloadIdentity) string { return w.Name },
		func(o, n **api.WorkloadIdentity) *api.ObjectDiff { return identityDiff(ptrOrNil(o), ptrOrNil(n)) })...)
	return d
}

// identityDiff is Nomad's idDiff: an "Identity" object with its fields and
// its audience as a set, nil when nothing differs.
func identityDiff(o, n *api.WorkloadIdentity) *api.ObjectDiff {
	if valueKey(o) == valueKey(n) {
		return nil
	}
	id := &api.ObjectDiff{Name: "Identity", Type: objectType(o == nil, n == nil)}
	id.Fields = fieldDiffs(identityFlat(o), identityFlat(n), true)
	var oa, na []string
	if o != nil {
		oa = o.Audience
	}
	if n != nil {
		na = n.Audience
	}
	if s := stringSetDiff(oa, na, "Audience", true); s != nil {
		id.Objects = append(id.Objects, s)
	}
	return id
}
