package nomaddiff

import (
	"fmt"
	"testing"

	"github.com/hashicorp/nomad/api"
)

// TestDiffOfTaskConsulBlock: a task's consul block is diffed as Nomad's
// Task.Diff does it, one primitive object "Consul" with its fields
// flattened (contextual: unchanged fields listed as None).
func TestDiffOfTaskConsulBlock(t *testing.T) {
	job := func(c *api.Consul) *api.Job {
		return &api.Job{ID: new("j"), TaskGroups: []*api.TaskGroup{{Name: new("g"), Tasks: []*api.Task{{Name: "t", Consul: c}}}}}
	}
	def := &api.Consul{Cluster: "default"}
	cases := []struct {
		name     string
		old, new *api.Consul
		want     string
	}{
		{"an added consul block is an added object with its cluster added", nil, def,
			"Added[Added Cluster \"\"->\"default\"; None Namespace \"\"->\"\"; None Partition \"\"->\"\"]"},
		{"a removed consul block is a deleted object", def, nil,
			"Deleted[Deleted Cluster \"default\"->\"\"; None Namespace \"\"->\"\"; None Partition \"\"->\"\"]"},
		// Nomad's fieldDiff calls a field that was "" added, and its
		// primitiveObjectDiff types the object by its fields.
		{"a namespace set where there was none is an added field of an added object", def, &api.Consul{Cluster: "default", Namespace: "web"},
			"Added[None Cluster \"default\"->\"default\"; Added Namespace \"\"->\"web\"; None Partition \"\"->\"\"]"},
		{"a changed cluster edits the object", def, &api.Consul{Cluster: "eu"},
			"Edited[Edited Cluster \"default\"->\"eu\"; None Namespace \"\"->\"\"; None Partition \"\"->\"\"]"},
		{"an unchanged consul block gives no object", def, &api.Consul{Cluster: "default"}, ""},
		{"no consul block on either side gives no object", nil, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := Diff(job(tc.old), job(tc.new))
			var got string
			for _, g := range d.TaskGroups {
				for _, td := range g.Tasks {
					for _, o := range td.Objects {
						if o.Name != "Consul" {
							continue
						}
						got = o.Type + "["
						for i, f := range o.Fields {
							if i > 0 {
								got += "; "
							}
							got += fmt.Sprintf("%s %s %q->%q", f.Type, f.Name, f.Old, f.New)
						}
						got += "]"
					}
				}
			}
			if got != tc.want {
				t.Errorf("Consul object %s, want %s", got, tc.want)
			}
		})
	}
}
