package nomaddiff

import (
	"reflect"
	"slices"
	"strconv"

	"github.com/hashicorp/nomad/api"
)

// Nomad's annotations of a plan's diff.
const (
	ForcesCreate            = "forces create"
	ForcesDestroy           = "forces destroy"
	ForcesInPlaceUpdate     = "forces in-place update"
	ForcesDestructiveUpdate = "forces create/destroy update"
)

// The names a task group diff's Updates gives the desired updates, as
// Nomad's plan answers them.
const (
	UpdateCreate      = "create"
	UpdateDestroy     = "destroy"
	UpdateInPlace     = "in-place update"
	UpdateDestructive = "create/destroy update"
	UpdateIgnore      = "ignore"
	UpdateCanary      = "canary"
)

// Plan returns what Nomad's plan endpoint answers for submitting job while
// Nomad holds old (nil when it holds none, for a new or purged job): the
// [Diff] with each task group's Updates and Nomad's annotations, and the
// desired updates per task group from [DesiredUpdates].
func Plan(old, job *api.Job) (*api.JobDiff, map[string]*api.DesiredUpdates) {
	updates := DesiredUpdates(old, job)
	d := Diff(old, job)
	Annotate(d, updates)
	return d, updates
}

// Annotate adds a plan's annotations to a diff, as Nomad's scheduler does:
// each task group's Updates from its desired updates; "forces create" or
// "forces destroy" on a changed Count and on the tasks of an added or
// removed group; on an edited task, "forces in-place update" when only its
// KillTimeout, LogConfig, services or constraints changed, and "forces
// create/destroy update" otherwise.
func Annotate(d *api.JobDiff, updates map[string]*api.DesiredUpdates) {
	for _, g := range d.TaskGroups {
		if u := updates[g.Name]; u != nil {
			g.Updates = UpdateCounts(u)
		}
		for _, f := range g.Fields {
			if f.Name != "Count" || f.Type == TypeNone {
				continue
			}
			oldCount, _ := strconv.ParseInt(f.Old, 10, 64)
			newCount, _ := strconv.ParseInt(f.New, 10, 64)
			switch {
			case oldCount < newCount:
				f.Annotations = append(f.Annotations, ForcesCreate)
			case oldCount > newCount:
				f.Annotations = append(f.Annotations, ForcesDestroy)
			}
		}
		for _, t := range g.Tasks {
			annotateTask(t, g)
		}
	}
}

func annotateTask(t *api.TaskDiff, g *api.TaskGroupDiff) {
	switch {
	case t.Type == TypeNone:
		return
	case g.Type == TypeAdded:
		t.Annotations = append(t.Annotations, ForcesCreate)
		return
	case g.Type == TypeDeleted:
		t.Annotations = append(t.Annotations, ForcesDestroy)
		return
	}
	destructive := false
	for _, f := range t.Fields {
		if f.Name != "KillTimeout" {
			destructive = true
		}
	}
	for _, o := range t.Objects {
		switch o.Name {
		case "LogConfig", "Service", "Constraint":
		default:
			destructive = true
		}
	}
	if destructive {
		t.Annotations = append(t.Annotations, ForcesDestructiveUpdate)
	} else {
		t.Annotations = append(t.Annotations, ForcesInPlaceUpdate)
	}
}

// UpdateCounts names a group's desired updates as a plan's diff names them
// in its task groups' Updates ("create", "create/destroy update", "ignore"
// ...), leaving out those that are zero.
func UpdateCounts(u *api.DesiredUpdates) map[string]uint64 {
	out := map[string]uint64{}
	for name, n := range map[string]uint64{
		UpdateCreate: u.Place, UpdateDestroy: u.Stop, UpdateInPlace: u.InPlaceUpdate,
		UpdateDestructive: u.DestructiveUpdate, UpdateIgnore: u.Ignore, UpdateCanary: u.Canary,
		"migrate": u.Migrate, "preempt": u.Preemptions, "reschedule-now": u.RescheduleNow,
		"reschedule-later": u.RescheduleLater, "disconnect": u.Disconnect, "reconnect": u.Reconnect,
	} {
		if n > 0 {
			out[name] = n
		}
	}
	return out
}

// DesiredUpdates returns what Nomad's scheduler plans for each task group
// when job is submitted while Nomad holds old (nil for none), assuming
// old's allocations are all running, one per count, on one client node (as
// in the recordings):
//
//   - a periodic or parameterized job launches nothing itself; Nomad plans
//     one launch of it: Place every group's count;
//   - a system job runs one allocation on each node; Nomad 2.0.6 plans a
//     Place for the node besides the update of the allocation already
//     there (the recordings show {"Place": 1, "Ignore": 1} for an unchanged
//     HAProxy job on one node);
//   - a new job, a purged one, a stopped one run again, or a new group:
//     Place its count;
//   - a job being stopped, or a removed group: Stop the old count;
//   - otherwise the difference in count is placed or stopped, and of the
//     allocations kept: none changes when the job's specification did not
//     (Ignore); when a task changed in a way that needs new allocations
//     (see [TasksUpdated]), as many are replaced at once as the group's
//     update max_parallel allows (DestructiveUpdate, the rest Ignore), or
//     the canaries are placed (Canary, the rest Ignore); anything else is
//     applied in place (InPlaceUpdate).
func DesiredUpdates(old, job *api.Job) map[string]*api.DesiredUpdates {
	out := map[string]*api.DesiredUpdates{}
	specChanged := old != nil && valueKey(specOnly(old)) != valueKey(specOnly(job))
	oldRunning := old != nil && !boolOf(old.Stop)
	newRunning := !boolOf(job.Stop)
	typ := deref(job.Type)
	for _, tg := range job.TaskGroups {
		name := deref(tg.Name)
		u := &api.DesiredUpdates{}
		out[name] = u
		count := uint64(derefInt(tg.Count))
		if job.IsPeriodic() || job.IsParameterized() {
			if newRunning {
				u.Place = count
			}
			continue
		}
		var o *api.TaskGroup
		if oldRunning {
			o = findGroup(old, name)
		}
		if typ == api.JobTypeSystem || typ == api.JobTypeSysbatch {
			// One node: one allocation.
			if !newRunning {
				if o != nil {
					u.Stop = 1
				}
				continue
			}
			u.Place = 1
			switch {
			case o == nil:
			case TasksUpdated(old, job, name):
				u.DestructiveUpdate = 1
			case specChanged:
				u.InPlaceUpdate = 1
			default:
				u.Ignore = 1
			}
			continue
		}
		var oc uint64
		if o != nil {
			oc = uint64(derefInt(o.Count))
		}
		if !newRunning {
			u.Stop = oc
			continue
		}
		if oc == 0 {
			u.Place = count
			continue
		}
		kept := min(oc, count)
		if count > oc {
			u.Place = count - oc
		} else {
			u.Stop = oc - count
		}
		switch {
		case !specChanged:
			u.Ignore = kept
		case TasksUpdated(old, job, name):
			if canary := derefInt(updateOf(tg).Canary); canary > 0 {
				u.Canary, u.Ignore = uint64(canary), kept
				continue
			}
			limit := kept
			if mp := derefInt(updateOf(tg).MaxParallel); mp > 0 {
				limit = min(kept, uint64(mp))
			}
			u.DestructiveUpdate, u.Ignore = limit, kept-limit
		default:
			u.InPlaceUpdate = kept
		}
	}
	if old != nil && oldRunning {
		for _, tg := range old.TaskGroups {
			name := deref(tg.Name)
			if _, ok := out[name]; ok {
				continue
			}
			if typ == api.JobTypeSystem || typ == api.JobTypeSysbatch {
				out[name] = &api.DesiredUpdates{Stop: 1}
			} else {
				out[name] = &api.DesiredUpdates{Stop: uint64(derefInt(tg.Count))}
			}
		}
	}
	return out
}

func updateOf(tg *api.TaskGroup) *api.UpdateStrategy {
	if tg.Update == nil {
		return &api.UpdateStrategy{}
	}
	return tg.Update
}

func boolOf(b *bool) bool { return b != nil && *b }

func findGroup(job *api.Job, name string) *api.TaskGroup {
	if job == nil {
		return nil
	}
	for _, tg := range job.TaskGroups {
		if deref(tg.Name) == name {
			return tg
		}
	}
	return nil
}

// specOnly is a job without what the server sets, for comparing
// specifications as Nomad's Job.SpecChanged does.
func specOnly(job *api.Job) *api.Job {
	c := *job
	c.Status, c.StatusDescription, c.Stable, c.Version, c.SubmitTime = nil, nil, nil, nil, nil
	c.CreateIndex, c.ModifyIndex, c.JobModifyIndex, c.VersionTag = nil, nil, nil, nil
	return &c
}

// SpecChanged reports whether job's specification differs from old's,
// leaving out what the server sets (status, version, indexes, submit
// time), as Nomad's Job.SpecChanged: registering an unchanged job makes
// no new version.
func SpecChanged(old, job *api.Job) bool {
	return valueKey(specOnly(old)) != valueKey(specOnly(job))
}

// The fields, by their Go (and JSON) names in nomad/api, whose change makes
// Nomad replace a task group's allocations, following its scheduler
// (tasksUpdated in scheduler/util.go): Nomad gives every task the job's,
// the group's and the task's meta combined, so a change to any of them
// replaces every allocation. A task's identities are compared whole
// ("task identity": Identity, and Identities, where Nomad's servers put
// the implicit Consul identity). A consul block is not among them: Nomad
// compares it with consulUpdated (see [ConsulUpdated]).
var (
	destructiveJobFields   = []string{"Meta"}
	destructiveGroupFields = []string{"Networks", "Volumes", "EphemeralDisk", "Meta"}
	destructiveTaskFields  = []string{
		"Driver", "User", "Config", "Env", "Meta", "Resources", "Artifacts", "Templates",
		"Vault", "Lifecycle", "Identity", "Identities", "VolumeMounts",
	}
)

// DestructiveJobField reports whether a change to the job's field name
// (as nomad/api names it) replaces its allocations.
func DestructiveJobField(name string) bool { return slices.Contains(destructiveJobFields, name) }

// DestructiveGroupField reports whether a change to a task group's field
// name (as nomad/api names it) replaces the group's allocations; adding or
// removing a task does too.
func DestructiveGroupField(name string) bool { return slices.Contains(destructiveGroupFields, name) }

// DestructiveTaskField reports whether a change to a task's field name (as
// nomad/api names it) replaces its group's allocations. It answers for a
// change seen without the servers' configuration (strata diff compares job
// files): a task's Consul block counts as destructive, because on a
// cluster whose servers configure consul.task_identity, the setup strata
// acl documents, adding or removing the block adds or removes the implicit
// Consul identity (a "task identity" change), and a changed namespace, or
// cluster or partition, replaces allocations on any cluster
// ([ConsulUpdated]). Only adding or removing it on a cluster without
// consul.task_identity is applied in place.
func DestructiveTaskField(name string) bool {
	return name == "Consul" || slices.Contains(destructiveTaskFields, name)
}

// ConsulUpdated reports whether a change from consul block a to b (of a
// task, or of a group) replaces allocations, as Nomad's consulUpdated
// (scheduler/util.go) decides: a different namespace always (a missing
// block has none); a different cluster or partition when both blocks
// exist. Adding or removing a block is otherwise not destructive by
// itself; on a cluster with consul.task_identity the identity it brings is
// ([Server]).
func ConsulUpdated(a, b *api.Consul) bool {
	ns := func(c *api.Consul) string {
		if c == nil {
			return ""
		}
		return c.Namespace
	}
	if ns(a) != ns(b) {
		return true
	}
	return a != nil && b != nil && (a.Cluster != b.Cluster || a.Partition != b.Partition)
}

// TasksUpdated reports whether the allocations of task group name must be
// replaced to run job's version of it instead of old's: the group is new
// or gone, a task was added or removed, a field named by
// [DestructiveJobField] or [DestructiveGroupField], or a task field Nomad's
// tasksUpdated compares (an empty map or list is the same as none)
// changed, or a group's or task's consul block changed as [ConsulUpdated]
// says. Both jobs should be as the server stores them ([Server.Defaults]):
// the implicit Consul identity is a task identity.
func TasksUpdated(old, job *api.Job, name string) bool {
	o, n := findGroup(old, name), findGroup(job, name)
	if o == nil || n == nil || len(o.Tasks) != len(n.Tasks) {
		return true
	}
	if fieldsDiffer(old, job, destructiveJobFields) || fieldsDiffer(o, n, destructiveGroupFields) || ConsulUpdated(o.Consul, n.Consul) {
		return true
	}
	for _, ot := range o.Tasks {
		i := slices.IndexFunc(n.Tasks, func(t *api.Task) bool { return t.Name == ot.Name })
		if i < 0 || fieldsDiffer(ot, n.Tasks[i], destructiveTaskFields) || ConsulUpdated(ot.Consul, n.Tasks[i].Consul) {
			return true
		}
	}
	return false
}

// fieldsDiffer compares the named fields of two structs of one type.
func fieldsDiffer[T any](a, b *T, names []string) bool {
	av, bv := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for _, name := range names {
		x, y := av.FieldByName(name), bv.FieldByName(name)
		if !x.IsValid() {
			panic("nomaddiff: no field " + name)
		}
		if valueKey(emptyAsNil(x)) != valueKey(emptyAsNil(y)) {
			return true
		}
	}
	return false
}

// emptyAsNil is a field's value, an empty map or list as nil.
func emptyAsNil(v reflect.Value) any {
	if (v.Kind() == reflect.Map || v.Kind() == reflect.Slice) && v.Len() == 0 {
		return nil
	}
	return v.Interface()
}
