package generator

import (
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/nomad/api"
	"github.com/zclconf/go-cty/cty"
)

// decodeHCL reads a jobspec back into an *api.Job, accepting exactly the
// blocks and attributes the writer emits, each in the place Nomad's jobspec
// puts it. Any other block or attribute is an error, and every expression
// must evaluate without variables: a string that turned into an
// interpolation, or a value that escaped its quotes into a new attribute or
// block, fails here.
//
// It is the test's independent reading of the files, not a Nomad parser:
// Nomad's own jobspec package is not open source and not used here. The
// layout it checks is Nomad's documented jobspec syntax.
func decodeHCL(src []byte) (*api.Job, error) {
	f, diags := hclparse.NewParser().ParseHCL(src, "job.nomad.hcl")
	if diags.HasErrors() {
		return nil, diags
	}
	root := &reader{body: f.Body.(*hclsyntax.Body), path: "file"}
	jobs := root.blocks("job", 1)
	if err := root.finish(); err != nil {
		return nil, err
	}
	if len(jobs) != 1 {
		return nil, fmt.Errorf("want exactly one job block, got %d", len(jobs))
	}
	jb := jobs[0]
	job := &api.Job{ID: new(jb.labels[0])}
	job.Name = jb.strPtr("name")
	job.Region = jb.strPtr("region")
	job.Namespace = jb.strPtr("namespace")
	job.Type = jb.strPtr("type")
	job.NodePool = jb.strPtr("node_pool")
	job.Datacenters = jb.strList("datacenters")
	job.Meta = jb.strMap("meta")
	for _, cb := range jb.blocks("constraint", 0) {
		job.Constraints = append(job.Constraints, &api.Constraint{
			LTarget: cb.str("attribute"), Operand: cb.str("operator"), RTarget: cb.str("value"),
		})
		jb.check(cb.finish())
	}
	for _, ub := range jb.blocks("update", 0) {
		job.Update = &api.UpdateStrategy{
			MaxParallel:      ub.intPtr("max_parallel"),
			MinHealthyTime:   ub.durPtr("min_healthy_time"),
			HealthyDeadline:  ub.durPtr("healthy_deadline"),
			ProgressDeadline: ub.durPtr("progress_deadline"),
			AutoRevert:       ub.boolPtr("auto_revert"),
		}
		jb.check(ub.finish())
	}
	for _, pb := range jb.blocks("periodic", 0) {
		job.Periodic = &api.PeriodicConfig{Specs: pb.strList("crons"), ProhibitOverlap: pb.boolPtr("prohibit_overlap")}
		jb.check(pb.finish())
	}
	for _, gb := range jb.blocks("group", 1) {
		job.TaskGroups = append(job.TaskGroups, decodeGroup(gb))
		jb.check(gb.finish())
	}
	if job.Name == nil {
		job.Name = new(*job.ID) // the writer omits a name equal to the ID
	}
	return job, jb.finish()
}

func decodeGroup(gb *reader) *api.TaskGroup {
	g := &api.TaskGroup{Name: new(gb.labels[0])}
	g.Count = gb.intPtr("count")
	g.ShutdownDelay = gb.durPtr("shutdown_delay")
	for _, rb := range gb.blocks("restart", 0) {
		g.RestartPolicy = &api.RestartPolicy{Attempts: rb.intPtr("attempts"), Mode: rb.strPtr("mode")}
		gb.check(rb.finish())
	}
	for _, rb := range gb.blocks("reschedule", 0) {
		g.ReschedulePolicy = &api.ReschedulePolicy{Attempts: rb.intPtr("attempts"), Unlimited: rb.boolPtr("unlimited")}
		gb.check(rb.finish())
	}
	for _, nb := range gb.blocks("network", 0) {
		n := &api.NetworkResource{Mode: nb.str("mode")}
		for _, pb := range nb.blocks("port", 1) {
			p := api.Port{Label: pb.labels[0]}
			if v := pb.intPtr("static"); v != nil {
				p.Value = *v
			}
			if v := pb.intPtr("to"); v != nil {
				p.To = *v
			}
			if p.Value != 0 {
				n.ReservedPorts = append(n.ReservedPorts, p)
			} else {
				n.DynamicPorts = append(n.DynamicPorts, p)
			}
			nb.check(pb.finish())
		}
		g.Networks = append(g.Networks, n)
		gb.check(nb.finish())
	}
	for _, sb := range gb.blocks("service", 0) {
		s := &api.Service{Name: sb.str("name"), PortLabel: sb.str("port"), Tags: sb.strList("tags")}
		for _, mb := range sb.blocks("meta", 0) {
			s.Meta = map[string]string{}
			for name := range mb.body.Attributes {
				s.Meta[name] = mb.str(name)
			}
			sb.check(mb.finish())
		}
		for _, cb := range sb.blocks("check", 0) {
			c := api.ServiceCheck{Type: cb.str("type"), Path: cb.str("path")}
			if d := cb.durPtr("interval"); d != nil {
				c.Interval = *d
			}
			if d := cb.durPtr("timeout"); d != nil {
				c.Timeout = *d
			}
			s.Checks = append(s.Checks, c)
			sb.check(cb.finish())
		}
		g.Services = append(g.Services, s)
		gb.check(sb.finish())
	}
	for _, tb := range gb.blocks("task", 1) {
		t := &api.Task{Name: tb.labels[0], Driver: tb.str("driver"), KillTimeout: tb.durPtr("kill_timeout"), Config: map[string]any{}}
		for _, lb := range tb.blocks("lifecycle", 0) {
			t.Lifecycle = &api.TaskLifecycle{Hook: lb.str("hook")}
			if b := lb.boolPtr("sidecar"); b != nil {
				t.Lifecycle.Sidecar = *b
			}
			tb.check(lb.finish())
		}
		for _, cb := range tb.blocks("config", 0) {
			for name := range cb.body.Attributes {
				t.Config[name] = cb.any(name)
			}
			tb.check(cb.finish())
		}
		for _, eb := range tb.blocks("env", 0) {
			t.Env = map[string]string{}
			for name := range eb.body.Attributes {
				t.Env[name] = eb.str(name)
			}
			tb.check(eb.finish())
		}
		for _, ib := range tb.blocks("identity", 0) {
			id := &api.WorkloadIdentity{Name: ib.str("name"), Audience: ib.strList("aud"), ChangeMode: ib.str("change_mode")}
			for _, f := range []struct {
				name string
				to   *bool
			}{{"env", &id.Env}, {"file", &id.File}} {
				if b := ib.boolPtr(f.name); b != nil {
					*f.to = *b
				}
			}
			if d := ib.durPtr("ttl"); d != nil {
				id.TTL = *d
			}
			// Nomad's parse keeps every identity block in Identities,
			// the unnamed default one included.
			t.Identities = append(t.Identities, id)
			tb.check(ib.finish())
		}
		for _, cb := range tb.blocks("consul", 0) {
			t.Consul = &api.Consul{Cluster: cb.str("cluster"), Namespace: cb.str("namespace"), Partition: cb.str("partition")}
			tb.check(cb.finish())
		}
		for _, mb := range tb.blocks("template", 0) {
			tm := &api.Template{
				DestPath: mb.strPtr("destination"), ChangeMode: mb.strPtr("change_mode"),
				ChangeSignal: mb.strPtr("change_signal"),
				Splay:        mb.durPtr("splay"), EmbeddedTmpl: mb.strPtr("data"),
				LeftDelim: mb.strPtr("left_delimiter"), RightDelim: mb.strPtr("right_delimiter"),
			}
			for _, wb := range mb.blocks("wait", 0) {
				tm.Wait = &api.WaitConfig{Min: wb.durPtr("min"), Max: wb.durPtr("max")}
				mb.check(wb.finish())
			}
			for _, cb := range mb.blocks("change_script", 0) {
				tm.ChangeScript = &api.ChangeScript{
					Command: cb.strPtr("command"), Args: cb.strList("args"),
					Timeout: cb.durPtr("timeout"), FailOnError: cb.boolPtr("fail_on_error"),
				}
				mb.check(cb.finish())
			}
			t.Templates = append(t.Templates, tm)
			tb.check(mb.finish())
		}
		for _, rb := range tb.blocks("resources", 0) {
			t.Resources = &api.Resources{CPU: rb.intPtr("cpu"), MemoryMB: rb.intPtr("memory"), MemoryMaxMB: rb.intPtr("memory_max")}
			tb.check(rb.finish())
		}
		g.Tasks = append(g.Tasks, t)
		gb.check(tb.finish())
	}
	return g
}

// reader reads one body, remembering what it consumed so finish can report
// anything left over.
type reader struct {
	body   *hclsyntax.Body
	path   string
	labels []string
	used   map[string]bool
	errs   []error
}

func (r *reader) fail(format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf(r.path+": "+format, args...))
}

func (r *reader) check(err error) {
	if err != nil {
		r.errs = append(r.errs, err)
	}
}

func (r *reader) value(name string) (cty.Value, bool) {
	attr, ok := r.body.Attributes[name]
	if !ok {
		return cty.NilVal, false
	}
	if r.used == nil {
		r.used = map[string]bool{}
	}
	r.used[name] = true
	v, diags := attr.Expr.Value(nil)
	if diags.HasErrors() {
		r.fail("%s: %s", name, diags.Error())
		return cty.NilVal, false
	}
	if !literal(attr.Expr) {
		r.fail("%s: is not a literal: an interpolation or expression survived escaping", name)
	}
	return v, true
}

// literal reports whether an expression is built only of literal values,
// lists and objects: no ${…}, %{…}, references or function calls.
func literal(e hclsyntax.Expression) bool {
	ok := true
	hclsyntax.VisitAll(e, func(n hclsyntax.Node) hcl.Diagnostics {
		switch n := n.(type) {
		case *hclsyntax.LiteralValueExpr, *hclsyntax.TupleConsExpr, *hclsyntax.ObjectConsExpr:
		case *hclsyntax.ObjectConsKeyExpr:
			if n.ForceNonLiteral {
				ok = false
			}
		case *hclsyntax.ScopeTraversalExpr:
			// An object key written as a bare name: meta = { foo = "x" }.
		case *hclsyntax.TemplateExpr:
			for _, p := range n.Parts {
				if _, lit := p.(*hclsyntax.LiteralValueExpr); !lit {
					ok = false
				}
			}
		default:
			ok = false
		}
		return nil
	})
	return ok
}

func (r *reader) str(name string) string {
	v, ok := r.value(name)
	if !ok {
		return ""
	}
	if v.Type() != cty.String {
		r.fail("%s: want a string, got %s", name, v.Type().FriendlyName())
		return ""
	}
	return v.AsString()
}

func (r *reader) strPtr(name string) *string {
	if _, ok := r.body.Attributes[name]; !ok {
		return nil
	}
	return new(r.str(name))
}

func (r *reader) intPtr(name string) *int {
	v, ok := r.value(name)
	if !ok {
		return nil
	}
	if v.Type() != cty.Number {
		r.fail("%s: want a number", name)
		return nil
	}
	i, acc := v.AsBigFloat().Int64()
	if acc != big.Exact {
		r.fail("%s: not a whole number", name)
	}
	return new(int(i))
}

func (r *reader) boolPtr(name string) *bool {
	v, ok := r.value(name)
	if !ok {
		return nil
	}
	if v.Type() != cty.Bool {
		r.fail("%s: want a bool", name)
		return nil
	}
	return new(v.True())
}

func (r *reader) durPtr(name string) *time.Duration {
	s := r.strPtr(name)
	if s == nil {
		return nil
	}
	d, err := time.ParseDuration(*s)
	if err != nil {
		r.fail("%s: %v", name, err)
		return nil
	}
	return &d
}

func (r *reader) strList(name string) []string {
	v, ok := r.value(name)
	if !ok {
		return nil
	}
	if !v.Type().IsListType() && !v.Type().IsTupleType() {
		r.fail("%s: want a list", name)
		return nil
	}
	out := []string{}
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.Type() != cty.String {
			r.fail("%s: want strings", name)
			return nil
		}
		out = append(out, e.AsString())
	}
	return out
}

func (r *reader) strMap(name string) map[string]string {
	v, ok := r.value(name)
	if !ok {
		return nil
	}
	if !v.Type().IsObjectType() {
		r.fail("%s: want an object", name)
		return nil
	}
	out := map[string]string{}
	for k, e := range v.AsValueMap() {
		if e.Type() != cty.String {
			r.fail("%s.%s: want a string", name, k)
			continue
		}
		out[k] = e.AsString()
	}
	return out
}

// any reads a task config value: a string, bool, number or list of them.
func (r *reader) any(name string) any {
	v, ok := r.value(name)
	if !ok {
		return nil
	}
	return ctyToAny(v)
}

func ctyToAny(v cty.Value) any {
	switch {
	case v.Type() == cty.String:
		return v.AsString()
	case v.Type() == cty.Bool:
		return v.True()
	case v.Type() == cty.Number:
		i, _ := v.AsBigFloat().Int64()
		return int(i)
	case v.Type().IsTupleType() || v.Type().IsListType():
		out := []any{}
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			out = append(out, ctyToAny(e))
		}
		return out
	}
	return fmt.Sprintf("unsupported %s", v.Type().FriendlyName())
}

// blocks returns the child blocks of one type, each with exactly nLabels
// labels, marking them used.
func (r *reader) blocks(typ string, nLabels int) []*reader {
	var out []*reader
	for i, b := range r.body.Blocks {
		if b.Type != typ {
			continue
		}
		if r.used == nil {
			r.used = map[string]bool{}
		}
		r.used[fmt.Sprintf("block#%d", i)] = true
		if len(b.Labels) != nLabels {
			r.fail("%s block with %d labels, want %d", typ, len(b.Labels), nLabels)
			continue
		}
		out = append(out, &reader{body: b.Body, path: r.path + "." + typ + labelSuffix(b.Labels), labels: b.Labels})
	}
	return out
}

func labelSuffix(labels []string) string {
	if len(labels) == 0 {
		return ""
	}
	return fmt.Sprintf("%q", labels)
}

// finish reports unread attributes and blocks and errors found on the way.
func (r *reader) finish() error {
	for name := range r.body.Attributes {
		if !r.used[name] {
			r.fail("unexpected attribute %q", name)
		}
	}
	for i, b := range r.body.Blocks {
		if !r.used[fmt.Sprintf("block#%d", i)] {
			r.fail("unexpected block %q", b.Type)
		}
	}
	if len(r.errs) == 0 {
		return nil
	}
	msgs := make([]string, len(r.errs))
	for i, e := range r.errs {
		msgs[i] = e.Error()
	}
	slices.Sort(msgs)
	return fmt.Errorf("%s", strings.Join(msgs, "\n"))
}
