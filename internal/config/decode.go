package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// maxNodes bounds how many YAML nodes one document may expand to through
// aliases, so a small file of nested aliases cannot make decoding explode.
const maxNodes = 1 << 20

// decoder walks a YAML node tree, decoding values and collecting every
// problem with its file position and key path.
type decoder struct {
	file  string
	errs  Errors
	warns Errors
	// scope is ScopeSweeper for a file of the sweeper's scope, else "".
	scope   string
	visited int
	// merging holds the mappings whose merge keys are being expanded, to
	// catch a mapping that merges itself.
	merging map[*yaml.Node]bool
	// exhaustedReported is set once the node budget has been reported.
	exhaustedReported bool
	// versionNodes remembers where each app's versions are, for problems
	// found across apps.
	versionNodes map[string]map[string]*yaml.Node
	// bindNodes are the routing.bind values, for the same reason.
	bindNodes map[string]*yaml.Node
	// staticNodes are the ports.<label>.static values, by key path.
	staticNodes map[string]*yaml.Node
	// fields are the keys written in the file, by key path, with their
	// key and value nodes: finalize sets a default where a key is not
	// given, and validate cites the key a cross-field problem is about.
	fields map[string]field
}

func (d *decoder) failAt(n *yaml.Node, key, format string, args ...any) {
	d.errs = append(d.errs, d.problem(n, key, format, args...))
}

// warnAt records a warning: a setting strata renders, but that will not
// work as written on a cluster with Nomad's defaults.
func (d *decoder) warnAt(n *yaml.Node, key, format string, args ...any) {
	d.warns = append(d.warns, d.problem(n, key, format, args...))
}

func (d *decoder) problem(n *yaml.Node, key, format string, args ...any) *Error {
	e := &Error{Source: d.file, Key: key, Msg: fmt.Sprintf(format, args...)}
	if n != nil && n.Line > 0 {
		e.Source = fmt.Sprintf("%s:%d:%d", d.file, n.Line, n.Column)
		e.line, e.col = n.Line, n.Column
	}
	return e
}

// resolve follows aliases and counts nodes against maxNodes.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.visited++
	return n
}

func (d *decoder) exhausted() bool { return d.visited > maxNodes }

// reportExhausted reports the node budget running out, once per document.
func (d *decoder) reportExhausted(n *yaml.Node, path string) {
	if !d.exhaustedReported {
		d.exhaustedReported = true
		d.failAt(n, path, "the document expands to more than %d nodes through aliases", maxNodes)
	}
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.DocumentNode:
		return "a document"
	}
	return strconv.Quote(n.Value)
}

// field is a key of a mapping: its key node and its (alias-resolved) value.
type field struct {
	key   *yaml.Node
	value *yaml.Node
}

// mapping returns the fields of a mapping node, in document order, reporting
// duplicate keys and, when known is not nil, keys outside it. Merge keys
// (<<: *anchor) are expanded; keys written in the mapping itself win.
func (d *decoder) mapping(n *yaml.Node, path string, known []string) ([]field, bool) {
	n = d.resolve(n)
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		d.failAt(n, path, "expected a mapping, got %s", describe(n))
		return nil, false
	}
	var own, merged []field
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], d.resolve(n.Content[i+1])
		if d.exhausted() {
			d.reportExhausted(n, path)
			return nil, false
		}
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			if d.merging == nil {
				d.merging = map[*yaml.Node]bool{}
			}
			if d.merging[n] {
				d.failAt(k, path, "a merge key (<<) includes the mapping it is in")
				return nil, false
			}
			d.merging[n] = true
			merged = append(merged, d.mergeSources(v, path)...)
			delete(d.merging, n)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.failAt(k, path, "keys must be plain strings, got %s", describe(k))
			continue
		}
		if prev, ok := seen[k.Value]; ok {
			d.failAt(k, join(path, k.Value), "duplicate key (first at line %d)", prev.Line)
			continue
		}
		seen[k.Value] = k
		if known != nil && !slices.Contains(known, k.Value) {
			d.failAt(k, join(path, k.Value), "unknown key; expected one of: %s", strings.Join(known, ", "))
			continue
		}
		own = append(own, field{k, v})
	}
	for _, f := range merged {
		if _, ok := seen[f.key.Value]; ok {
			continue
		}
		seen[f.key.Value] = f.key
		if known != nil && !slices.Contains(known, f.key.Value) {
			d.failAt(f.key, join(path, f.key.Value), "unknown key; expected one of: %s", strings.Join(known, ", "))
			continue
		}
		own = append(own, f)
	}
	if d.fields == nil {
		d.fields = map[string]field{}
	}
	for _, f := range own {
		d.fields[join(path, f.key.Value)] = f
	}
	return own, true
}

// keyNode returns the key node of a key path written in the file, or nil.
func (d *decoder) keyNode(path string) *yaml.Node { return d.fields[path].key }

// valueNode returns the value node of a key path written in the file with
// a value (not null), or nil.
func (d *decoder) valueNode(path string) *yaml.Node {
	if f, ok := d.fields[path]; ok && !isNull(f.value) {
		return f.value
	}
	return nil
}

// given reports whether the file gives a key path a value that decoded
// without a problem: a default applies otherwise.
func (d *decoder) given(path string) bool {
	return d.valueNode(path) != nil && len(d.errsAt(path)) == 0
}

// each calls fn for every key of a mapping node that has a value (null
// values count as unset), with the key's path. It returns false when n is
// not a mapping.
func (d *decoder) each(n *yaml.Node, path string, known []string, fn func(key, path string, v *yaml.Node)) bool {
	fields, ok := d.mapping(n, path, known)
	if !ok {
		return false
	}
	for _, f := range fields {
		if !isNull(f.value) {
			fn(f.key.Value, join(path, f.key.Value), f.value)
		}
	}
	return true
}

// mergeSources returns the fields a merge key brings in: one mapping or a
// list of them, earlier ones winning.
func (d *decoder) mergeSources(v *yaml.Node, path string) []field {
	var sources []*yaml.Node
	switch v.Kind {
	case yaml.MappingNode:
		sources = []*yaml.Node{v}
	case yaml.SequenceNode:
		for _, s := range v.Content {
			sources = append(sources, d.resolve(s))
		}
	default:
		d.failAt(v, path, "a merge key (<<) needs a mapping or a list of mappings, got %s", describe(v))
		return nil
	}
	var out []field
	seen := map[string]bool{}
	for _, s := range sources {
		fs, ok := d.mapping(s, path, nil)
		if !ok {
			continue
		}
		for _, f := range fs {
			if !seen[f.key.Value] {
				seen[f.key.Value] = true
				out = append(out, f)
			}
		}
	}
	return out
}

// sequence returns the items of a list node (alias-resolved).
func (d *decoder) sequence(n *yaml.Node, path string) ([]*yaml.Node, bool) {
	n = d.resolve(n)
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		d.failAt(n, path, "expected a list, got %s", describe(n))
		return nil, false
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = d.resolve(c)
	}
	if d.exhausted() {
		d.reportExhausted(n, path)
		return nil, false
	}
	return out, true
}

// str decodes a scalar as the text the user wrote, so 1.10 stays "1.10" and
// is not read as the number 1.1.
func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.failAt(n, path, "expected a string, got %s", describeNull(n))
		return "", false
	}
	return n.Value, true
}

func describeNull(n *yaml.Node) string {
	if isNull(n) {
		return "nothing"
	}
	return describe(n)
}

func (d *decoder) strList(n *yaml.Node, path string) ([]string, bool) {
	items, ok := d.sequence(n, path)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		s, ok := d.str(it, index(path, i))
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

func (d *decoder) integer(n *yaml.Node, path string) (int, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		var v int64
		if err := n.Decode(&v); err == nil && v >= math.MinInt32 && v <= math.MaxInt32 {
			return int(v), true
		}
	}
	d.failAt(n, path, "%s is not a whole number", describeNull(n))
	return 0, false
}

func (d *decoder) boolean(n *yaml.Node, path string) (bool, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		var v bool
		if err := n.Decode(&v); err == nil {
			return v, true
		}
	}
	d.failAt(n, path, "%s is not true or false", describeNull(n))
	return false, false
}

// duration decodes a Go duration such as "30s" or "5m". Nomad's own
// minimum of zero applies; callers check tighter bounds.
func (d *decoder) duration(n *yaml.Node, path string) (time.Duration, bool) {
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		if v, err := time.ParseDuration(n.Value); err == nil && v >= 0 {
			return v, true
		}
	}
	d.failAt(n, path, "%s is not a duration (like 30s, 5m or 1h30m)", describeNull(n))
	return 0, false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }
