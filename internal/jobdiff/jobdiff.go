package jobdiff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/generator"
	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/nomaddiff"
	"github.com/strata-dev/strata/internal/planview"
)

// Status says what happened to a job between base and head.
type Status string

// The statuses of a job.
const (
	// Added means the job is only in head.
	Added Status = "added"
	// Removed means the job is only in base.
	Removed Status = "removed"
	// Edited means the job is in both and at least one field differs.
	Edited Status = "edited"
	// Unchanged means the job is in both, field for field the same.
	Unchanged Status = "unchanged"
)

// Impact says what Nomad would do to an edited job's running allocations;
// see the package documentation for the rule.
type Impact string

// The impacts of an edit.
const (
	// InPlace means the allocations keep running and are updated.
	InPlace Impact = "in place"
	// Destructive means the allocations are stopped and replaced.
	Destructive Impact = "destructive"
)

// JobDiff is what happened to one job.
type JobDiff struct {
	// ID is the Nomad job ID.
	ID string `json:"id"`
	// App, Version and Kind are the job's strata.app, strata.version and
	// strata.kind meta (head's, or base's for a removed job); empty for
	// strata's own jobs.
	App     string `json:"app,omitempty"`
	Version string `json:"version,omitempty"`
	Kind    string `json:"kind,omitempty"`
	// Status is added, removed, edited or unchanged.
	Status Status `json:"status"`
	// Impact is set for edited jobs only.
	Impact Impact `json:"impact,omitempty"`
	// Changes are the fields that differ, for edited jobs, in natural
	// order of their paths.
	Changes []Change `json:"changes,omitempty"`
	// Restarts is true when applying head replaces running allocations that
	// hold sessions or work: a version of an app edited destructively, or
	// strata's HAProxy job edited destructively or removed. A version
	// removed from strata.yaml is not: the sweeper retires it once idle.
	Restarts bool `json:"restarts"`
	// Warnings are things a reviewer must not miss, such as sessions cut.
	Warnings []string `json:"warnings,omitempty"`
	// Updates are, per task group, the allocation changes Nomad would plan
	// if base is what runs, by the names Nomad's plan gives them ("create",
	// "create/destroy update", "in-place update", "ignore", ...), for added
	// and edited jobs.
	Updates map[string]map[string]uint64 `json:"updates,omitempty"`
}

// Change is one field that differs between the base and head version of a job.
type Change struct {
	// Path names the field, e.g. TaskGroups[web].Tasks[web].Config.image.
	Path string `json:"path"`
	// Old is the base value as compact JSON, with null fields of objects
	// left out; nil when the field or element is new.
	Old json.RawMessage `json:"old,omitempty"`
	// New is the head value, likewise; nil when the field or element was
	// removed.
	New json.RawMessage `json:"new,omitempty"`
	// Destructive is true when this change alone makes Nomad replace the
	// job's allocations.
	Destructive bool `json:"destructive"`
	// Rendered is, for a template of strata's HAProxy job, the line diff
	// of the file it renders with no Consul data (what strata.yaml decides:
	// frontends, binds, cookies), each line starting with "- ", "+ " or
	// "  "; empty when the rendered files are the same.
	Rendered []string `json:"rendered,omitempty"`

	// duration is true when the field is a time.Duration (nanoseconds in
	// JSON), so that it is shown as 30s rather than 30000000000.
	duration bool
}

// HAProxyWarning is the warning added to strata's HAProxy job when a change
// replaces or stops its allocations.
const HAProxyWarning = "replacing the HAProxy job's allocations cuts every session it holds (websockets, streams) on every node"

// Compare matches base and head jobs by ID and says what happened to each,
// in natural order of job IDs (web-v9 before web-v10).
func Compare(base, head []*api.Job) []JobDiff {
	byID := func(jobs []*api.Job) map[string]*api.Job {
		m := make(map[string]*api.Job, len(jobs))
		for _, j := range jobs {
			if j != nil {
				m[jobID(j)] = j
			}
		}
		return m
	}
	b, h := byID(base), byID(head)
	var ids []string
	for id := range b {
		ids = append(ids, id)
	}
	for id := range h {
		if _, ok := b[id]; !ok {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, naming.CompareVersions)

	out := make([]JobDiff, 0, len(ids))
	for _, id := range ids {
		bj, inBase := b[id]
		hj, inHead := h[id]
		d := JobDiff{ID: id}
		for _, j := range []*api.Job{hj, bj} {
			if j != nil {
				d.App, d.Version, d.Kind = j.Meta[naming.MetaApp], j.Meta[naming.MetaVersion], j.Meta[naming.MetaKind]
				break
			}
		}
		switch {
		case !inBase:
			d.Status = Added
			d.Updates = updates(nil, hj)
		case !inHead:
			d.Status = Removed
		default:
			// Any difference makes Nomad register a new version, even one
			// that lists no field (tags that only moved).
			if reflect.DeepEqual(decode(bj), decode(hj)) {
				d.Status = Unchanged
				break
			}
			d.Changes = diffJobs(bj, hj)
			if id == generator.HAProxyJobID {
				for i, c := range d.Changes {
					if strings.HasSuffix(c.Path, ".EmbeddedTmpl") {
						d.Changes[i].Rendered = renderedDiff(c)
					}
				}
			}
			d.Updates = updates(canonical(bj), canonical(hj))
			d.Status = Edited
			d.Impact = InPlace
			for _, c := range d.Changes {
				if c.Destructive {
					d.Impact = Destructive
					break
				}
			}
		}
		if id == generator.HAProxyJobID && (d.Status == Removed || d.Impact == Destructive) {
			d.Warnings = append(d.Warnings, HAProxyWarning)
			d.Restarts = true
		}
		if d.App != "" && d.Impact == Destructive {
			d.Restarts = true
		}
		out = append(out, d)
	}
	return out
}

// Restarts are the jobs whose running allocations head replaces (Restarts
// set), in the order of diffs, for planview.RestartSentences.
func Restarts(diffs []JobDiff) []planview.Restart {
	var out []planview.Restart
	for _, d := range diffs {
		if d.Restarts {
			out = append(out, planview.Restart{ID: d.ID, App: d.App, Kind: d.Kind})
		}
	}
	return out
}

// canonical is a copy of job as Nomad's agent receives it, canonicalized.
func canonical(job *api.Job) *api.Job {
	data, err := json.Marshal(job)
	if err != nil {
		panic(fmt.Sprintf("jobdiff: encoding a job: %v", err))
	}
	var c api.Job
	if err := json.Unmarshal(data, &c); err != nil {
		panic(fmt.Sprintf("jobdiff: decoding a job: %v", err))
	}
	c.Canonicalize()
	return &c
}

// updates is Nomad's plan of head against base (nil: a new job) per task
// group, from internal/nomaddiff.
func updates(base, head *api.Job) map[string]map[string]uint64 {
	if base == nil {
		head = canonical(head)
	}
	out := map[string]map[string]uint64{}
	for name, u := range nomaddiff.DesiredUpdates(diffServer.Defaults(base), diffServer.Defaults(head)) {
		out[name] = nomaddiff.UpdateCounts(u)
	}
	return out
}

// diffServer is the Nomad server strata diff assumes, seeing no cluster:
// one that configures consul.task_identity, the setup strata acl documents,
// as nomaddiff.DestructiveTaskField assumes for the changes it marks. Its
// allocation counts (Updates) therefore agree with the changes it marks
// destructive: a consul block added to a task brings the implicit Consul
// identity, which replaces the task's allocations.
var diffServer = nomaddiff.Server{ConsulTaskIdentity: &api.WorkloadIdentity{
	Name: generator.ConsulIdentityName, Audience: []string{generator.ConsulAudience},
}}

func jobID(j *api.Job) string {
	if j.ID == nil {
		return ""
	}
	return *j.ID
}

// diffJobs walks the JSON of two versions of a job.
func diffJobs(a, b *api.Job) []Change {
	w := &walker{}
	w.walk(nil, reflect.TypeOf(api.Job{}), decode(a), decode(b), true, true)
	slices.SortStableFunc(w.changes, func(x, y Change) int { return naming.CompareVersions(x.Path, y.Path) })
	return w.changes
}

// decode turns a job into generic JSON values; numbers stay json.Number so
// that large integers keep every digit.
func decode(job *api.Job) any {
	data, err := json.Marshal(job)
	if err != nil {
		// An api.Job always encodes; if one ever does not, show why.
		return map[string]any{"EncodingError": err.Error()}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	dec.Decode(&v)
	return v
}

// seg is one step of a path: a struct field or map key, or a list element.
type seg struct {
	name string
	elem bool // a list element, named by its key or index
	key  bool // a map key (not a struct field)
}

type walker struct {
	changes []Change
}

// walk compares a and b, the values at path whose Go type is t (nil when not
// known, as inside a task's Config). aok and bok say whether each side has a
// value there at all (a map key or list element may be missing).
func (w *walker) walk(path []seg, t reflect.Type, a, b any, aok, bok bool) {
	if aok && bok && reflect.DeepEqual(a, b) {
		return
	}
	if !aok || !bok {
		w.emit(path, t, a, b, aok, bok)
		return
	}
	t = deref(t)
	am, aIsMap := a.(map[string]any)
	bm, bIsMap := b.(map[string]any)
	if (aIsMap || a == nil) && (bIsMap || b == nil) {
		// A struct that is null on one side has all its fields null there;
		// a map that is null has no keys.
		nullFields := t != nil && t.Kind() == reflect.Struct
		isStruct := nullFields
		keys := make([]string, 0, len(am)+len(bm))
		for k := range am {
			keys = append(keys, k)
		}
		for k := range bm {
			if _, ok := am[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			av, ak := am[k]
			bv, bk := bm[k]
			if a == nil && nullFields {
				ak = true
			}
			if b == nil && nullFields {
				bk = true
			}
			w.walk(append(slices.Clip(path), seg{name: k, key: !isStruct}), fieldType(t, k), av, bv, ak, bk)
		}
		return
	}
	al, aIsList := a.([]any)
	bl, bIsList := b.([]any)
	if (aIsList || a == nil) && (bIsList || b == nil) {
		var et reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			et = t.Elem()
		}
		if len(path) > 0 && !path[len(path)-1].elem && nomaddiff.IsSetField(path[len(path)-1].name) && allStrings(al) && allStrings(bl) {
			w.setDiff(path, t, al, bl)
			return
		}
		if field := listKey(al, bl); field != "" {
			names := func(l []any) (map[string]any, []string) {
				m := map[string]any{}
				var order []string
				for _, e := range l {
					n := e.(map[string]any)[field].(string)
					m[n] = e
					order = append(order, n)
				}
				return m, order
			}
			am, aorder := names(al)
			bm, border := names(bl)
			seen := map[string]bool{}
			for _, n := range append(border, aorder...) {
				if seen[n] {
					continue
				}
				seen[n] = true
				av, ak := am[n]
				bv, bk := bm[n]
				w.walk(append(slices.Clip(path), seg{name: n, elem: true}), et, av, bv, ak, bk)
			}
			return
		}
		for i := range max(len(al), len(bl)) {
			var av, bv any
			ak, bk := i < len(al), i < len(bl)
			if ak {
				av = al[i]
			}
			if bk {
				bv = bl[i]
			}
			w.walk(append(slices.Clip(path), seg{name: strconv.Itoa(i), elem: true}), et, av, bv, ak, bk)
		}
		return
	}
	w.emit(path, t, a, b, true, true)
}

// allStrings reports whether every element of l is a string.
func allStrings(l []any) bool {
	for _, e := range l {
		if _, ok := e.(string); !ok {
			return false
		}
	}
	return true
}

// setDiff compares a list Nomad compares as a set (tags, datacenters): one
// change per element removed, then one per element added, each at the
// list's path; an element that only moved is no change.
func (w *walker) setDiff(path []seg, t reflect.Type, a, b []any) {
	in := func(l []any, s any) bool { return slices.Contains(l, s) }
	var removed, added []string
	for _, e := range a {
		if !in(b, e) && !slices.Contains(removed, e.(string)) {
			removed = append(removed, e.(string))
		}
	}
	for _, e := range b {
		if !in(a, e) && !slices.Contains(added, e.(string)) {
			added = append(added, e.(string))
		}
	}
	slices.Sort(removed)
	slices.Sort(added)
	for _, e := range removed {
		w.emit(path, t, e, nil, true, false)
	}
	for _, e := range added {
		w.emit(path, t, nil, e, false, true)
	}
}

func (w *walker) emit(path []seg, t reflect.Type, a, b any, aok, bok bool) {
	c := Change{
		Path:        pathString(path),
		Destructive: destructive(path),
		duration:    deref(t) == reflect.TypeOf(time.Duration(0)),
	}
	if aok {
		c.Old = compact(a)
	}
	if bok {
		c.New = compact(b)
	}
	w.changes = append(w.changes, c)
}

// listKey returns the field that names every element of both lists, each
// name unique in its list, or "" when elements must go by index. Name
// (groups, tasks, services), Label (ports) and DestPath (templates) are
// tried in that order.
func listKey(lists ...[]any) string {
	for _, field := range [...]string{"Name", "Label", "DestPath"} {
		ok, found := true, false
		for _, l := range lists {
			seen := map[string]bool{}
			for _, e := range l {
				m, isMap := e.(map[string]any)
				n, isStr := m[field].(string)
				if !isMap || !isStr || n == "" || seen[n] {
					ok = false
					break
				}
				seen[n] = true
				found = true
			}
		}
		if ok && found {
			return field
		}
	}
	return ""
}

func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// fieldType is the Go type of the JSON field or map value key of t, or nil.
func fieldType(t reflect.Type, key string) reflect.Type {
	t = deref(t)
	if t == nil {
		return nil
	}
	switch t.Kind() {
	case reflect.Map:
		return t.Elem()
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			name := f.Name
			if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag != "" && tag != "-" {
				name = tag
			}
			if name == key {
				return f.Type
			}
		}
	}
	return nil
}

// compact encodes v as one line of JSON, leaving out the null fields of
// objects, and without escaping <, > and &.
func compact(v any) json.RawMessage {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(prune(v))
	return json.RawMessage(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

func prune(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			if e != nil {
				out[k] = prune(e)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = prune(e)
		}
		return out
	}
	return v
}

// pathString writes a path: fields and identifier-like keys after dots,
// other keys quoted in brackets, list elements by name or index in brackets.
func pathString(path []seg) string {
	var b strings.Builder
	for i, s := range path {
		switch {
		case s.elem:
			b.WriteString("[" + s.name + "]")
		case s.key && !identifier(s.name):
			b.WriteString("[" + strconv.Quote(s.name) + "]")
		default:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.name)
		}
	}
	return b.String()
}

func identifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case '0' <= r && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// destructive applies the package's rule to one changed path.
func destructive(path []seg) bool {
	field := func(i int) string {
		if i < len(path) && !path[i].elem {
			return path[i].name
		}
		return ""
	}
	if nomaddiff.DestructiveJobField(field(0)) {
		return true
	}
	if field(0) != "TaskGroups" {
		return false
	}
	// TaskGroups, TaskGroups[g]: groups added or removed.
	if len(path) <= 2 {
		return true
	}
	if nomaddiff.DestructiveGroupField(field(2)) {
		return true
	}
	if field(2) != "Tasks" {
		return false
	}
	// Tasks, Tasks[t]: tasks added or removed.
	if len(path) <= 4 {
		return true
	}
	return nomaddiff.DestructiveTaskField(field(4))
}
