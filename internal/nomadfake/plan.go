package nomadfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"

	"github.com/hashicorp/nomad/api"
)

// Diff types, as Nomad names them.
const (
	diffAdded   = "Added"
	diffDeleted = "Deleted"
	diffEdited  = "Edited"
	diffNone    = "None"
)

// serverFields lists the job fields the server sets, which are not part of
// its specification (Nomad's Job.SpecChanged ignores the same).
func serverFields() []string {
	return []string{
		"Status", "StatusDescription", "Stable", "Version", "SubmitTime",
		"CreateIndex", "ModifyIndex", "JobModifyIndex", "VersionTag",
	}
}

// specChanged reports whether the specification of job differs from old's.
func specChanged(old, job *api.Job) bool {
	return !reflect.DeepEqual(specMap(old, serverFields()), specMap(job, serverFields()))
}

// specMap is a job (or any value) as JSON, decoded into maps with numbers
// kept exact, without the given top-level keys. nil gives nil.
func specMap(v any, drop []string) map[string]any {
	if v == nil || reflect.ValueOf(v).IsNil() {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("nomadfake: encoding for a diff: %v", err))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		panic(fmt.Sprintf("nomadfake: decoding for a diff: %v", err))
	}
	for _, k := range drop {
		delete(m, k)
	}
	return m
}

// diffJobs compares two versions of a job; old is nil for a new job. With
// updates (from a plan) each task group diff carries its desired updates and
// each task its annotation.
func diffJobs(old, job *api.Job, updates map[string]*api.DesiredUpdates) *api.JobDiff {
	// Update is pushed into the task groups by canonicalization, and ID
	// names the diff, so neither is compared at the job level, as in Nomad.
	drop := append([]string{"ID", "Update", "TaskGroups", "NomadTokenID", "Dispatched"}, serverFields()...)
	d := &api.JobDiff{ID: *job.ID}
	d.Fields, d.Objects = diffObject(specMap(old, drop), specMap(job, drop))

	destructive := map[string]bool{}
	for _, name := range groupNames(old, job) {
		o, n := findGroup(old, name), findGroup(job, name)
		if o != nil && n != nil {
			destructive[name] = destructiveChange(old, job, o, n)
		}
		gd := diffGroup(o, n, destructive[name])
		if u := updates[name]; u != nil {
			gd.Updates = updateCounts(u)
		}
		d.TaskGroups = append(d.TaskGroups, gd)
	}

	switch {
	case old == nil:
		d.Type = diffAdded
	case len(d.Fields) > 0 || len(d.Objects) > 0:
		d.Type = diffEdited
	default:
		d.Type = diffNone
		for _, g := range d.TaskGroups {
			if g.Type != diffNone {
				d.Type = diffEdited
			}
		}
	}
	return d
}

// groupNames lists the task groups of job, then those only old has.
func groupNames(old, job *api.Job) []string {
	var names []string
	seen := map[string]bool{}
	for _, j := range []*api.Job{job, old} {
		if j == nil {
			continue
		}
		for _, tg := range j.TaskGroups {
			if !seen[*tg.Name] {
				seen[*tg.Name] = true
				names = append(names, *tg.Name)
			}
		}
	}
	return names
}

func diffGroup(o, n *api.TaskGroup, destructive bool) *api.TaskGroupDiff {
	drop := []string{"Name", "Tasks"}
	gd := &api.TaskGroupDiff{}
	var om, nm map[string]any
	var oTasks, nTasks []*api.Task
	if o != nil {
		gd.Name, om, oTasks = *o.Name, specMap(o, drop), o.Tasks
	}
	if n != nil {
		gd.Name, nm, nTasks = *n.Name, specMap(n, drop), n.Tasks
	}
	gd.Fields, gd.Objects = diffObject(om, nm)

	var names []string
	seen := map[string]bool{}
	for _, ts := range [][]*api.Task{nTasks, oTasks} {
		for _, t := range ts {
			if !seen[t.Name] {
				seen[t.Name] = true
				names = append(names, t.Name)
			}
		}
	}
	find := func(ts []*api.Task, name string) *api.Task {
		for _, t := range ts {
			if t.Name == name {
				return t
			}
		}
		return nil
	}
	edited := len(gd.Fields) > 0 || len(gd.Objects) > 0
	for _, name := range names {
		td := diffTask(find(oTasks, name), find(nTasks, name), destructive)
		edited = edited || td.Type != diffNone
		gd.Tasks = append(gd.Tasks, td)
	}
	switch {
	case o == nil:
		gd.Type = diffAdded
	case n == nil:
		gd.Type = diffDeleted
	case edited:
		gd.Type = diffEdited
	default:
		gd.Type = diffNone
	}
	return gd
}

func diffTask(o, n *api.Task, destructive bool) *api.TaskDiff {
	drop := []string{"Name"}
	td := &api.TaskDiff{}
	var om, nm map[string]any
	if o != nil {
		td.Name, om = o.Name, specMap(o, drop)
	}
	if n != nil {
		td.Name, nm = n.Name, specMap(n, drop)
	}
	td.Fields, td.Objects = diffObject(om, nm)
	switch {
	case o == nil:
		td.Type, td.Annotations = diffAdded, []string{"forces create"}
	case n == nil:
		td.Type, td.Annotations = diffDeleted, []string{"forces destroy"}
	case len(td.Fields) > 0 || len(td.Objects) > 0:
		td.Type, td.Annotations = diffEdited, []string{"forces in-place update"}
		if destructive {
			td.Annotations = []string{"forces create/destroy update"}
		}
	default:
		td.Type = diffNone
	}
	return td
}

// isFlatMap reports whether key names a string map whose entries are
// diffed as fields named Key[entry], as Nomad does.
func isFlatMap(key string) bool { return key == "Meta" || key == "Env" }

// diffObject compares two JSON objects; either may be nil (absent).
func diffObject(o, n map[string]any) ([]*api.FieldDiff, []*api.ObjectDiff) {
	var fields []*api.FieldDiff
	var objects []*api.ObjectDiff
	keys := make([]string, 0, len(o)+len(n))
	for k := range o {
		keys = append(keys, k)
	}
	for k := range n {
		if _, ok := o[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		ov, nv := o[k], n[k]
		if reflect.DeepEqual(ov, nv) {
			continue
		}
		om, oIsMap := asMap(ov)
		nm, nIsMap := asMap(nv)
		oa, oIsArr := asArray(ov)
		na, nIsArr := asArray(nv)
		switch {
		case oIsMap && nIsMap && isFlatMap(k):
			fields = append(fields, diffFlatMap(k, om, nm)...)
		case oIsMap && nIsMap:
			if od := diffNamedObject(k, om, nm); od != nil {
				objects = append(objects, od)
			}
		case oIsArr && nIsArr:
			f, ob := diffArray(k, oa, na)
			fields, objects = append(fields, f...), append(objects, ob...)
		default:
			if fd := fieldDiff(k, scalar(ov), scalar(nv)); fd != nil {
				fields = append(fields, fd)
			}
		}
	}
	return fields, objects
}

func diffNamedObject(name string, o, n map[string]any) *api.ObjectDiff {
	fields, objects := diffObject(o, n)
	if len(fields) == 0 && len(objects) == 0 {
		return nil
	}
	od := &api.ObjectDiff{Type: diffEdited, Name: name, Fields: fields, Objects: objects}
	switch {
	case o == nil:
		od.Type = diffAdded
	case n == nil:
		od.Type = diffDeleted
	}
	return od
}

func diffFlatMap(name string, o, n map[string]any) []*api.FieldDiff {
	var fields []*api.FieldDiff
	keys := make([]string, 0, len(o)+len(n))
	for k := range o {
		keys = append(keys, k)
	}
	for k := range n {
		if _, ok := o[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if fd := fieldDiff(fmt.Sprintf("%s[%s]", name, k), scalar(o[k]), scalar(n[k])); fd != nil {
			fields = append(fields, fd)
		}
	}
	return fields
}

// diffArray compares lists element by element: scalars as fields named
// Key[i], objects as object diffs named Key.
func diffArray(name string, o, n []any) ([]*api.FieldDiff, []*api.ObjectDiff) {
	var fields []*api.FieldDiff
	var objects []*api.ObjectDiff
	for i := range max(len(o), len(n)) {
		var ov, nv any
		if i < len(o) {
			ov = o[i]
		}
		if i < len(n) {
			nv = n[i]
		}
		if reflect.DeepEqual(ov, nv) {
			continue
		}
		om, oIsMap := asMap(ov)
		nm, nIsMap := asMap(nv)
		if oIsMap && nIsMap {
			if od := diffNamedObject(name, om, nm); od != nil {
				objects = append(objects, od)
			}
			continue
		}
		if fd := fieldDiff(fmt.Sprintf("%s[%d]", name, i), scalar(ov), scalar(nv)); fd != nil {
			fields = append(fields, fd)
		}
	}
	return fields, objects
}

// asMap reports whether v is a JSON object or absent (nil map).
func asMap(v any) (map[string]any, bool) {
	if v == nil {
		return nil, true
	}
	m, ok := v.(map[string]any)
	return m, ok
}

// asArray reports whether v is a JSON array or absent.
func asArray(v any) ([]any, bool) {
	if v == nil {
		return nil, true
	}
	a, ok := v.([]any)
	return a, ok
}

// scalar renders a JSON value as a diff shows it; absent is "".
func scalar(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

func fieldDiff(name, o, n string) *api.FieldDiff {
	switch {
	case o == n:
		return nil
	case o == "":
		return &api.FieldDiff{Type: diffAdded, Name: name, New: n}
	case n == "":
		return &api.FieldDiff{Type: diffDeleted, Name: name, Old: o}
	}
	return &api.FieldDiff{Type: diffEdited, Name: name, Old: o, New: n}
}

// desiredUpdates is the plan's annotation per task group, by the rule in the
// package documentation.
func desiredUpdates(old, job *api.Job) map[string]*api.DesiredUpdates {
	changed := old != nil && specChanged(old, job)
	oldRunning := old != nil && !*old.Stop
	newRunning := !*job.Stop
	out := map[string]*api.DesiredUpdates{}
	for _, name := range groupNames(old, job) {
		o, n := findGroup(old, name), findGroup(job, name)
		var oc, nc uint64
		if o != nil && oldRunning {
			oc = uint64(*o.Count)
		}
		if n != nil && newRunning {
			nc = uint64(*n.Count)
		}
		u := &api.DesiredUpdates{}
		switch {
		case oc == 0:
			u.Place = nc
		case nc == 0:
			u.Stop = oc
		default:
			kept := min(oc, nc)
			if nc > oc {
				u.Place = nc - oc
			} else {
				u.Stop = oc - nc
			}
			switch {
			case destructiveChange(old, job, o, n):
				if n.Update != nil && n.Update.Canary != nil && *n.Update.Canary > 0 {
					u.Canary, u.Ignore = uint64(*n.Update.Canary), kept
				} else {
					u.DestructiveUpdate = kept
				}
			case changed:
				u.InPlaceUpdate = kept
			default:
				u.Ignore = kept
			}
		}
		out[name] = u
	}
	return out
}

// destructiveChange reports whether allocations of group o must be replaced
// to run group n: the rule in the package documentation.
func destructiveChange(oldJob, job *api.Job, o, n *api.TaskGroup) bool {
	if !sameJSON(oldJob.Meta, job.Meta) || !sameJSON(o.Meta, n.Meta) ||
		!sameJSON(o.Networks, n.Networks) || !sameJSON(o.Volumes, n.Volumes) ||
		!sameJSON(o.EphemeralDisk, n.EphemeralDisk) || len(o.Tasks) != len(n.Tasks) {
		return true
	}
	for _, ot := range o.Tasks {
		var nt *api.Task
		for _, t := range n.Tasks {
			if t.Name == ot.Name {
				nt = t
			}
		}
		if nt == nil {
			return true
		}
		if ot.Driver != nt.Driver || ot.User != nt.User ||
			!sameJSON(ot.Config, nt.Config) || !sameJSON(ot.Env, nt.Env) || !sameJSON(ot.Meta, nt.Meta) ||
			!sameJSON(ot.Resources, nt.Resources) || !sameJSON(ot.Artifacts, nt.Artifacts) ||
			!sameJSON(ot.Templates, nt.Templates) || !sameJSON(ot.Vault, nt.Vault) {
			return true
		}
	}
	return false
}

// sameJSON compares values by their JSON, an empty map or list being the
// same as none.
func sameJSON(a, b any) bool {
	enc := func(v any) string {
		out, err := json.Marshal(v)
		if err != nil {
			panic(fmt.Sprintf("nomadfake: encoding for a comparison: %v", err))
		}
		switch s := string(out); s {
		case "{}", "[]":
			return "null"
		default:
			return s
		}
	}
	return enc(a) == enc(b)
}

// updateCounts is a task group diff's Updates: the desired updates Nomad's
// CLI prints, by the names it uses.
func updateCounts(u *api.DesiredUpdates) map[string]uint64 {
	out := map[string]uint64{}
	for name, n := range map[string]uint64{
		"create": u.Place, "destroy": u.Stop, "in-place update": u.InPlaceUpdate,
		"create/destroy update": u.DestructiveUpdate, "ignore": u.Ignore, "canary": u.Canary,
	} {
		if n > 0 {
			out[name] = n
		}
	}
	return out
}
