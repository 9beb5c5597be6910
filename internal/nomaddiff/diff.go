package nomaddiff

import (
	"fmt"
	"reflect"
	"slices"
	"sort"

	"github.com/hashicorp/nomad/api"
)

// Diff types, as Nomad names them.
const (
	TypeNone    = "None"
	TypeAdded   = "Added"
	TypeDeleted = "Deleted"
	TypeEdited  = "Edited"
)

// typeLess orders diff types as Nomad sorts them: Edited, Added, Deleted,
// None.
func typeLess(a, b string) bool {
	rank := func(t string) int {
		switch t {
		case TypeEdited:
			return 0
		case TypeAdded:
			return 1
		case TypeDeleted:
			return 2
		}
		return 3
	}
	if a == b {
		return false
	}
	return rank(a) < rank(b)
}

func fieldLess(f, o *api.FieldDiff) bool {
	switch {
	case reflect.DeepEqual(f, o):
		return false
	case f.Name != o.Name:
		return f.Name < o.Name
	case f.Type != o.Type:
		return typeLess(f.Type, o.Type)
	case f.Old != o.Old:
		return f.Old < o.Old
	}
	return f.New < o.New
}

func sortFields(fs []*api.FieldDiff) {
	sort.Slice(fs, func(i, j int) bool { return fieldLess(fs[i], fs[j]) })
}

// objectLess is Nomad's ObjectDiff.Less: by name, type, number of fields,
// number of objects, then field by field and object by object.
func objectLess(o, other *api.ObjectDiff) bool {
	switch {
	case reflect.DeepEqual(o, other):
		return false
	case o.Name != other.Name:
		return o.Name < other.Name
	case o.Type != other.Type:
		return typeLess(o.Type, other.Type)
	case len(o.Fields) != len(other.Fields):
		return len(o.Fields) < len(other.Fields)
	case len(o.Objects) != len(other.Objects):
		return len(o.Objects) < len(other.Objects)
	}
	for i := range o.Fields {
		if fieldLess(o.Fields[i], other.Fields[i]) {
			return true
		}
	}
	for i := range o.Objects {
		if objectLess(o.Objects[i], other.Objects[i]) {
			return true
		}
	}
	return false
}

// sortObjects sorts object diffs as Nomad does. Nomad's comparison is not
// a strict order for objects that differ only deep inside (it answers
// "less" for the first field that is less, ignoring one that is greater);
// a stable sort on a total order that agrees with it where it is
// consistent keeps the answer deterministic.
func sortObjects(os []*api.ObjectDiff) {
	sort.SliceStable(os, func(i, j int) bool {
		a, b := os[i], os[j]
		if objectLess(a, b) != objectLess(b, a) {
			return objectLess(a, b)
		}
		return fmt.Sprint(objectKey(a)) < fmt.Sprint(objectKey(b))
	})
}

func objectKey(o *api.ObjectDiff) []string {
	var out []string
	for _, f := range o.Fields {
		out = append(out, f.Name, f.Type, f.Old, f.New)
	}
	for _, c := range o.Objects {
		out = append(out, objectKey(c)...)
	}
	return out
}

func fieldDiff(old, new, name string, contextual bool) *api.FieldDiff {
	d := &api.FieldDiff{Name: name, Type: TypeNone}
	switch {
	case old == new:
		if !contextual {
			return nil
		}
		d.Old, d.New = old, new
	case old == "":
		d.Type, d.New = TypeAdded, new
	case new == "":
		d.Type, d.Old = TypeDeleted, old
	default:
		d.Type, d.Old, d.New = TypeEdited, old, new
	}
	return d
}

func fieldDiffs(old, new flat, contextual bool) []*api.FieldDiff {
	var out []*api.FieldDiff
	for k, o := range old {
		if d := fieldDiff(o, new[k], k, contextual); d != nil {
			out = append(out, d)
		}
	}
	for k, n := range new {
		if _, ok := old[k]; ok {
			continue
		}
		if d := fieldDiff("", n, k, contextual); d != nil {
			out = append(out, d)
		}
	}
	sortFields(out)
	return out
}

// primitiveObjectDiff is Nomad's diff of an object of primitive fields: nil
// when nothing changed.
func primitiveObjectDiff(old, new flat, name string, contextual bool) *api.ObjectDiff {
	d := &api.ObjectDiff{Name: name, Fields: fieldDiffs(old, new, contextual)}
	var added, deleted, edited bool
	for _, f := range d.Fields {
		switch f.Type {
		case TypeEdited:
			edited = true
		case TypeDeleted:
			deleted = true
		case TypeAdded:
			added = true
		}
	}
	switch {
	case edited || added && deleted:
		d.Type = TypeEdited
	case added:
		d.Type = TypeAdded
	case deleted:
		d.Type = TypeDeleted
	default:
		return nil
	}
	return d
}

// objectType is the type of an object diff with nested content, from
// whether each side exists.
func objectType(oldNil, newNil bool) string {
	switch {
	case oldNil:
		return TypeAdded
	case newNil:
		return TypeDeleted
	}
	return TypeEdited
}

// setFields are the string lists Nomad's diff compares as sets.
var setFields = []string{"Datacenters", "Tags", "CanaryTags", "Audience", "Specs"}

// IsSetField reports whether Nomad's diff compares the string list field
// name (as nomad/api names it) as a set: an element added or removed is a
// change, an element moved is not.
func IsSetField(name string) bool { return slices.Contains(setFields, name) }

// stringSetDiff is Nomad's diff of a list compared as a set (datacenters,
// tags, audiences): nil when both are empty.
func stringSetDiff(old, new []string, name string, contextual bool) *api.ObjectDiff {
	oldSet, newSet := map[string]bool{}, map[string]bool{}
	for _, s := range old {
		oldSet[s] = true
	}
	for _, s := range new {
		newSet[s] = true
	}
	d := &api.ObjectDiff{Type: TypeNone, Name: name}
	var added, removed bool
	for s := range oldSet {
		if !newSet[s] {
			d.Fields = append(d.Fields, fieldDiff(s, "", name, contextual))
			removed = true
		} else if contextual {
			d.Fields = append(d.Fields, fieldDiff(s, s, name, contextual))
		}
	}
	for s := range newSet {
		if !oldSet[s] {
			d.Fields = append(d.Fields, fieldDiff("", s, name, contextual))
			added = true
		}
	}
	sortFields(d.Fields)
	switch {
	case added && removed:
		d.Type = TypeEdited
	case added:
		d.Type = TypeAdded
	case removed:
		d.Type = TypeDeleted
	case len(d.Fields) == 0:
		return nil
	}
	return d
}

// setDiff diffs two lists of objects as sets: elements are matched by key
// (an identity, or the whole value), and diff makes the diff of a matched
// pair, or of an element with nil.
func setDiff[T any](old, new []T, key func(T) string, diff func(o, n *T) *api.ObjectDiff) []*api.ObjectDiff {
	oldSet, newSet := map[string]*T{}, map[string]*T{}
	var oldKeys, newKeys []string
	for i := range old {
		k := key(old[i])
		if _, ok := oldSet[k]; !ok {
			oldKeys = append(oldKeys, k)
		}
		oldSet[k] = &old[i]
	}
	for i := range new {
		k := key(new[i])
		if _, ok := newSet[k]; !ok {
			newKeys = append(newKeys, k)
		}
		newSet[k] = &new[i]
	}
	var out []*api.ObjectDiff
	for _, k := range oldKeys {
		if d := diff(oldSet[k], newSet[k]); d != nil {
			out = append(out, d)
		}
	}
	for _, k := range newKeys {
		if _, ok := oldSet[k]; ok {
			continue
		}
		if d := diff(nil, newSet[k]); d != nil {
			out = append(out, d)
		}
	}
	sortObjects(out)
	return out
}

// valueKey identifies a value by its content, as Nomad's hashstructure key.
func valueKey(v any) string { return fmt.Sprintf("%#v", deepValue(reflect.ValueOf(v))) }

func deepValue(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return deepValue(v.Elem())
	case reflect.Struct:
		out := make([]any, v.NumField())
		for i := range v.NumField() {
			out[i] = deepValue(v.Field(i))
		}
		return out
	case reflect.Slice, reflect.Array:
		out := make([]any, v.Len())
		for i := range v.Len() {
			out[i] = deepValue(v.Index(i))
		}
		return out
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		out := make([]any, 0, 2*len(keys))
		for _, k := range keys {
			out = append(out, fmt.Sprint(k), deepValue(v.MapIndex(k)))
		}
		return out
	case reflect.Invalid:
		return nil
	}
	return v.Interface()
}
