package nomaddiff

import (
	"slices"
	"testing"

	"github.com/hashicorp/nomad/api"
)

// TestServerDefaultsOfWorkloadIdentities: an unnamed identity becomes the
// task's default one with Nomad's audience, and a group whose tasks carry a
// Consul identity gets the client version constraint Nomad's
// implicit-identities hook adds; a group without one does not.
func TestServerDefaultsOfWorkloadIdentities(t *testing.T) {
	consul := &api.WorkloadIdentity{Name: "consul_default", Audience: []string{"consul.io"}}
	cases := []struct {
		name         string
		identities   []*api.WorkloadIdentity
		wantDefault  *api.WorkloadIdentity
		wantNamed    []string
		wantVersionC bool
	}{
		{"a task without identities gets the default one and no constraint", nil,
			&api.WorkloadIdentity{Name: "default", Audience: []string{"nomadproject.io"}}, nil, false},
		{"an unnamed identity exposed to the task becomes the default one", []*api.WorkloadIdentity{{Env: true, ChangeMode: "restart"}},
			&api.WorkloadIdentity{Name: "default", Audience: []string{"nomadproject.io"}, Env: true, ChangeMode: "restart"}, nil, false},
		{"a Consul identity stays named and needs Nomad 1.7 clients", []*api.WorkloadIdentity{{Env: true, ChangeMode: "restart"}, consul},
			&api.WorkloadIdentity{Name: "default", Audience: []string{"nomadproject.io"}, Env: true, ChangeMode: "restart"}, []string{"consul_default"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			job := &api.Job{ID: new("j"), TaskGroups: []*api.TaskGroup{{Name: new("g"), Tasks: []*api.Task{{Name: "t", Identities: tc.identities}}}}}
			got := ServerDefaults(job).TaskGroups[0]
			task := got.Tasks[0]
			if task.Identity == nil || task.Identity.Name != tc.wantDefault.Name || !slices.Equal(task.Identity.Audience, tc.wantDefault.Audience) ||
				task.Identity.Env != tc.wantDefault.Env || task.Identity.ChangeMode != tc.wantDefault.ChangeMode {
				t.Errorf("default identity %+v, want %+v", task.Identity, tc.wantDefault)
			}
			var named []string
			for _, w := range task.Identities {
				named = append(named, w.Name)
			}
			if !slices.Equal(named, tc.wantNamed) {
				t.Errorf("identities %q, want %q", named, tc.wantNamed)
			}
			has := slices.ContainsFunc(got.Constraints, func(c *api.Constraint) bool { return *c == *identityVersionConstraint })
			if has != tc.wantVersionC {
				t.Errorf("constraints %v", got.Constraints)
			}
			if tc.identities != nil && job.TaskGroups[0].Tasks[0].Identity != nil {
				t.Error("ServerDefaults changed its argument")
			}
		})
	}
}
