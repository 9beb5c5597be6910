package nomaddiff

import (
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// Nomad's source these tests follow (hashicorp/nomad, as the code search
// holds it; no recording has a task consul block):
//   - scheduler/util.go, tasksUpdated: "task identity" compares a task's
//     Identity and Identities; consulUpdated compares a group's and each
//     task's consul block: a different namespace always replaces
//     allocations, a different cluster or partition when both blocks exist,
//     and "if either are nil, we can treat this as a non-destructive
//     update".
//   - nomad/job_endpoint_hook_implicit_identities.go, handleConsulTask:
//     with consul.task_identity configured, a task with a consul block (or
//     in a group with one) gets that identity named consul_<cluster>,
//     unless it has one of that name; the group then gets the
//     ${attr.nomad.version} >= 1.7.0-a constraint.
//   - nomad/job_endpoint_hook_consul.go, mutateImpl: a consul block without
//     a cluster gets the default one; jobImpliedConstraints adds the Consul
//     version constraint for Consul services only, not for a consul block.
//   - scheduler/annotate.go, annotateTask: any task object other than
//     LogConfig, Service and Constraint annotates "forces create/destroy
//     update", the Consul object included, whatever the scheduler decides.

// taskIdentity is the consul.task_identity strata's README recommends.
var taskIdentity = &api.WorkloadIdentity{Audience: []string{"consul.io"}, TTL: time.Hour}

func TestConsulUpdatedFollowsNomadsScheduler(t *testing.T) {
	def := &api.Consul{Cluster: "default"}
	cases := []struct {
		name string
		a, b *api.Consul
		want bool
	}{
		{"adding an empty block is not destructive by itself", nil, def, false},
		{"removing an empty block is not destructive by itself", def, nil, false},
		{"an unchanged block is not destructive", def, &api.Consul{Cluster: "default"}, false},
		{"adding a block with a namespace is destructive", nil, &api.Consul{Cluster: "default", Namespace: "web"}, true},
		{"a changed namespace is destructive", def, &api.Consul{Cluster: "default", Namespace: "web"}, true},
		{"a changed cluster is destructive", def, &api.Consul{Cluster: "eu"}, true},
		{"a changed partition is destructive", def, &api.Consul{Cluster: "default", Partition: "p"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ConsulUpdated(tc.a, tc.b); got != tc.want {
				t.Errorf("ConsulUpdated = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestServerDefaultsOfAConsulBlock(t *testing.T) {
	cases := []struct {
		name          string
		server        Server
		group, task   *api.Consul
		identities    []*api.WorkloadIdentity
		wantCluster   string
		wantNamed     []string
		wantConstrain bool
	}{
		{"without task_identity an empty block gets the default cluster and nothing else", Server{}, nil, &api.Consul{}, nil,
			"default", nil, false},
		{"with task_identity the task gets consul_default and the group needs Nomad 1.7", Server{taskIdentity}, nil, &api.Consul{}, nil,
			"default", []string{"consul_default"}, true},
		{"a task without a block gets nothing", Server{taskIdentity}, nil, nil, nil,
			"", nil, false},
		{"a group block gives its tasks the identity", Server{taskIdentity}, &api.Consul{}, nil, nil,
			"", []string{"consul_default"}, true},
		{"a named cluster names the identity", Server{taskIdentity}, nil, &api.Consul{Cluster: "eu"}, nil,
			"eu", []string{"consul_eu"}, true},
		{"a task's own consul_default identity is kept", Server{taskIdentity}, nil, &api.Consul{},
			[]*api.WorkloadIdentity{{Name: "consul_default", Audience: []string{"other"}}},
			"default", []string{"consul_default"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			job := &api.Job{ID: new("j"), TaskGroups: []*api.TaskGroup{{Name: new("g"), Consul: tc.group,
				Tasks: []*api.Task{{Name: "t", Consul: tc.task, Identities: tc.identities}}}}}
			g := tc.server.Defaults(job).TaskGroups[0]
			task := g.Tasks[0]
			var cluster string
			if task.Consul != nil {
				cluster = task.Consul.Cluster
			}
			if cluster != tc.wantCluster {
				t.Errorf("task cluster %q, want %q", cluster, tc.wantCluster)
			}
			var named []string
			for _, w := range task.Identities {
				named = append(named, w.Name)
				if w.Name == "consul_default" && tc.identities == nil && (!slices.Equal(w.Audience, []string{"consul.io"}) || w.TTL != time.Hour) {
					t.Errorf("implicit identity %+v, want the configured one", w)
				}
				if tc.identities != nil && !slices.Equal(w.Audience, []string{"other"}) {
					t.Errorf("the task's own identity was replaced: %+v", w)
				}
			}
			if !slices.Equal(named, tc.wantNamed) {
				t.Errorf("identities %q, want %q", named, tc.wantNamed)
			}
			has := slices.ContainsFunc(g.Constraints, func(c *api.Constraint) bool { return *c == *identityVersionConstraint })
			if has != tc.wantConstrain {
				t.Errorf("constraints %v, want the 1.7.0-a one: %v", g.Constraints, tc.wantConstrain)
			}
			if slices.ContainsFunc(g.Constraints, func(c *api.Constraint) bool { return c.LTarget == consulVersionConstraint.LTarget }) {
				t.Errorf("a consul block added the Consul version constraint: %v", g.Constraints)
			}
			if taskIdentity.Name != "" {
				t.Error("Defaults changed the configured identity")
			}
		})
	}
}

// TestPlanOfAConsulBlockOnAnHAProxyLikeJob plans strata's change of the
// last session, an empty consul block added to a running system job's
// task, against servers without and with consul.task_identity.
func TestPlanOfAConsulBlockOnAnHAProxyLikeJob(t *testing.T) {
	job := func(c *api.Consul) *api.Job {
		j := &api.Job{ID: new("strata-haproxy"), Type: new(api.JobTypeSystem), TaskGroups: []*api.TaskGroup{{
			Name: new("haproxy"), Count: new(1),
			Tasks: []*api.Task{{Name: "haproxy", Driver: "raw_exec", Consul: c,
				Templates: []*api.Template{{DestPath: new("local/haproxy.cfg"), EmbeddedTmpl: new("x")}}}},
		}}}
		j.Canonicalize()
		return j
	}
	cases := []struct {
		name            string
		server          Server
		old, new        *api.Consul
		wantDestructive bool
		wantIdentity    string // the Identity object's type in the diff, "" for none
	}{
		{"adding consul {} without task_identity is applied in place", Server{}, nil, &api.Consul{}, false, ""},
		{"adding consul {} with task_identity replaces the allocation", Server{taskIdentity}, nil, &api.Consul{}, true, TypeAdded},
		{"removing consul {} with task_identity replaces the allocation", Server{taskIdentity}, &api.Consul{}, nil, true, TypeDeleted},
		{"a namespace replaces the allocation without task_identity", Server{}, &api.Consul{}, &api.Consul{Namespace: "edge"}, true, ""},
		{"an unchanged block changes nothing", Server{taskIdentity}, &api.Consul{}, &api.Consul{}, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old, cur := tc.server.Defaults(job(tc.old)), tc.server.Defaults(job(tc.new))
			d, updates := Plan(old, cur)
			u := updates["haproxy"]
			if got := u.DestructiveUpdate == 1; got != tc.wantDestructive {
				t.Errorf("desired updates %+v, want destructive %v", u, tc.wantDestructive)
			}
			if !tc.wantDestructive && SpecChanged(old, cur) && u.InPlaceUpdate != 1 {
				t.Errorf("desired updates %+v, want an in-place update", u)
			}
			var td *api.TaskDiff
			for _, g := range d.TaskGroups {
				for _, x := range g.Tasks {
					td = x
				}
			}
			var identity, consul string
			for _, o := range td.Objects {
				switch o.Name {
				case "Identity":
					if o.Type != TypeEdited {
						identity = o.Type
					}
				case "Consul":
					consul = o.Type
				}
			}
			if identity != tc.wantIdentity {
				t.Errorf("Identity object %q, want %q", identity, tc.wantIdentity)
			}
			if (tc.old == nil) != (tc.new == nil) && consul == "" {
				t.Error("no Consul object in the diff")
			}
			// Nomad annotates a task whose Consul object changed as
			// destructive even when the scheduler updates it in place.
			if consul != "" && !slices.Contains(td.Annotations, ForcesDestructiveUpdate) {
				t.Errorf("annotations %q", td.Annotations)
			}
		})
	}
}

// TestDestructiveTaskFieldOfAConsulBlock: strata diff, which sees no
// server configuration, counts a consul block change as replacing
// allocations; the scheduler's own list does not hold it.
func TestDestructiveTaskFieldOfAConsulBlock(t *testing.T) {
	if !DestructiveTaskField("Consul") || !DestructiveTaskField("Identities") {
		t.Error("a consul block or identities change is not destructive")
	}
	if slices.Contains(destructiveTaskFields, "Consul") {
		t.Error("the scheduler's field list holds Consul: Nomad compares it with consulUpdated")
	}
}
