package nomadfake_test

import (
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/nomadfake"
)

// TestWithConsulTaskIdentity: a server configured with consul.task_identity
// stores a task with a consul block with the implicit consul_default
// identity, and plans adding the block as replacing the allocations; a
// server without it stores no identity and plans an in-place update. No
// recording covers this: it follows Nomad's source (nomaddiff.Server).
func TestWithConsulTaskIdentity(t *testing.T) {
	job := func(c *api.Consul) *api.Job {
		return &api.Job{ID: new("cache"), Name: new("cache"), Type: new(api.JobTypeService), TaskGroups: []*api.TaskGroup{{
			Name: new("cache"), Count: new(1),
			Tasks: []*api.Task{{Name: "redis", Driver: "raw_exec", Config: map[string]any{"command": "/bin/true"}, Consul: c,
				Resources: &api.Resources{CPU: new(100), MemoryMB: new(64)}}},
		}}}
	}
	for _, tc := range []struct {
		name         string
		opts         []nomadfake.Option
		wantIdentity bool
	}{
		{"with consul.task_identity", []nomadfake.Option{nomadfake.WithConsulTaskIdentity(&api.WorkloadIdentity{Audience: []string{"consul.io"}, TTL: time.Hour})}, true},
		{"without it", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := nomadfake.New(t, tc.opts...)
			jobs := s.Client().Jobs()
			if _, _, err := jobs.Register(job(nil), nil); err != nil {
				t.Fatal(err)
			}
			plan, _, err := jobs.Plan(job(&api.Consul{}), true, nil)
			if err != nil {
				t.Fatal(err)
			}
			u := plan.Annotations.DesiredTGUpdates["cache"]
			if (u.DestructiveUpdate == 1) != tc.wantIdentity || (u.InPlaceUpdate == 1) == tc.wantIdentity {
				t.Errorf("desired updates %+v", u)
			}
			if _, _, err := jobs.Register(job(&api.Consul{}), nil); err != nil {
				t.Fatal(err)
			}
			stored, _, err := jobs.Info("cache", nil)
			if err != nil {
				t.Fatal(err)
			}
			task := stored.TaskGroups[0].Tasks[0]
			if task.Consul == nil || task.Consul.Cluster != "default" {
				t.Errorf("stored consul block %+v, want cluster default", task.Consul)
			}
			has := len(task.Identities) == 1 && task.Identities[0].Name == "consul_default" && task.Identities[0].TTL == time.Hour
			if has != tc.wantIdentity {
				t.Errorf("stored identities %+v, want consul_default: %v", task.Identities, tc.wantIdentity)
			}
		})
	}
}
