package generator

import (
	"maps"
	"regexp"
	"slices"
	"testing"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/config"
)

// TestStrataTasksCarryTheIdentitiesTheyNeed: the sweeper exposes its
// default identity and reaches Nomad's Task API with it; no task carries an
// explicit Consul identity (Nomad's client would fail the allocation when
// its Consul login fails, on any cluster without Consul ACLs: the implicit
// one from consul.task_identity serves clusters with them), and the sweeper
// sets no CONSUL_HTTP_TOKEN_FILE (a missing file fails Consul's client);
// lbstats gets nothing; and every identity keeps Nomad's rules
// (WorkloadIdentity Validate and Warnings: a valid name, no TTL on the
// default identity, one audience and a TTL on the others, an identity in
// the environment only with change_mode "restart").
func TestStrataTasksCarryTheIdentitiesTheyNeed(t *testing.T) {
	cfg, err := config.Parse("strata.yaml", []byte(policyConfig), config.Options{LookupEnv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	sw, err := SweeperJob(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hp, err := HAProxyJob(cfg)
	if err != nil {
		t.Fatal(err)
	}
	names := func(task *api.Task) []string {
		var out []string
		for _, w := range task.Identities {
			out = append(out, w.Name)
		}
		return out
	}
	cases := []struct {
		name string
		task *api.Task
		want []string
		env  map[string]string
	}{
		{"the sweeper sees its default identity and has no explicit Consul one", sw.TaskGroups[0].Tasks[0], []string{""},
			map[string]string{"NOMAD_ADDR": "unix://${NOMAD_SECRETS_DIR}/api.sock"}},
		{"HAProxy's templates carry no explicit Consul identity", hp.TaskGroups[0].Tasks[0], nil, nil},
		{"lbstats reads no Consul and gets no identity", hp.TaskGroups[0].Tasks[1], nil, nil},
	}
	validName := regexp.MustCompile(`^[a-zA-Z0-9-_]{1,128}$`)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(tc.task); !slices.Equal(got, tc.want) {
				t.Errorf("identities %q, want %q", got, tc.want)
			}
			if !maps.Equal(tc.task.Env, tc.env) {
				t.Errorf("env %v, want %v", tc.task.Env, tc.env)
			}
			for _, w := range tc.task.Identities {
				name := w.Name
				if name == "" {
					name = "default"
				}
				if !validName.MatchString(name) {
					t.Errorf("identity %q: invalid name", name)
				}
				if name == "default" {
					if w.TTL != 0 {
						t.Errorf("default identity with a TTL, which Nomad refuses")
					}
				} else if len(w.Audience) != 1 || w.TTL <= 0 {
					t.Errorf("identity %s: audience %q, TTL %v: Nomad warns", name, w.Audience, w.TTL)
				}
				if w.Env && w.ChangeMode != "restart" {
					t.Errorf("identity %s in the environment without change_mode restart: Nomad warns", name)
				}
			}
		})
	}
}
