package generator

import (
	"fmt"
	"strings"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/naming"
)

// SweeperJobID is the ID of the sweeper's periodic job (naming.SweeperJobID).
const SweeperJobID = naming.SweeperJobID

// Delimiters that make the sweeper's template copy strata.yaml literally: the
// file holds {{version}}, which consul-template would otherwise execute.
const (
	literalLeft  = "[[strata-literal:"
	literalRight = ":strata-literal]]"
)

// SweeperJob builds the periodic batch job that runs `strata sweep` on the
// configured schedule, never two at once and never restarted or
// rescheduled after a failure, with the part of strata.yaml the sweeper
// reads (config.SweeperYAML) delivered by a template block, so the pass
// uses the policies this render saw and the job changes only when they do.
func SweeperJob(cfg *config.Config) (*api.Job, error) {
	text := string(cfg.SweeperYAML())
	if strings.Contains(text, literalLeft) || strings.Contains(text, literalRight) {
		return nil, fmt.Errorf("generator: %s holds %q or %q, which the sweeper job uses as template delimiters", cfg.File, literalLeft, literalRight)
	}
	s := cfg.Sweeper
	job := &api.Job{
		ID:          new(SweeperJobID),
		Name:        new(SweeperJobID),
		Type:        new(api.JobTypeBatch),
		Datacenters: append([]string(nil), cfg.Datacenters...),
		Meta:        map[string]string{naming.MetaComponent: "sweeper"},
		// crons, not the deprecated cron; and a pass never overlaps the
		// last one (KV writes are check-and-set besides).
		Periodic: &api.PeriodicConfig{Specs: []string{s.Cron}, ProhibitOverlap: new(true)},
	}
	if cfg.Region != "" {
		job.Region = new(cfg.Region)
	}
	if cfg.Namespace != "" {
		job.Namespace = new(cfg.Namespace)
	}
	task := &api.Task{Name: "sweep", Driver: s.Driver, Config: map[string]any{}}
	args := []any{"sweep", "--config", "${NOMAD_TASK_DIR}/strata.yaml"}
	if s.Driver == config.DriverDocker {
		task.Config["image"] = s.Image
		task.Config["command"] = s.Strata
		task.Config["args"] = args
		task.Config["network_mode"] = "host"
	} else {
		task.Config["command"] = s.Strata
		task.Config["args"] = args
	}
	// Nomad through the Task API with the task's own identity
	// (NOMAD_TOKEN), which works with ACLs or without. Consul with the
	// client's default, or with the token Nomad gives the task when the
	// cluster configures consul.task_identity (no explicit Consul identity,
	// a consul block so Nomad adds the implicit one: see identity.go). The sweeper needs no secret, and gets what the roles
	// strata acl apply binds to strata-sweeper allow.
	task.Identities = []*api.WorkloadIdentity{nomadIdentity()}
	task.Consul = consulBlock()
	task.Env = map[string]string{"NOMAD_ADDR": TaskAPIAddr}
	task.Templates = []*api.Template{{
		EmbeddedTmpl: new(text),
		DestPath:     new("local/strata.yaml"),
		LeftDelim:    new(literalLeft),
		RightDelim:   new(literalRight),
	}}
	job.TaskGroups = []*api.TaskGroup{{
		Name: new("sweeper"),
		// A failed pass is not retried: the next cron run is the retry.
		// Nomad's batch defaults would restart it three times and
		// reschedule it once, and with prohibit_overlap every cron launch
		// in the meantime is skipped. Attempts 0 needs mode "fail" (Nomad
		// calls "delay" with 0 attempts ambiguous); a reschedule policy
		// with 0 attempts and unlimited false disables rescheduling.
		RestartPolicy:    &api.RestartPolicy{Attempts: new(0), Mode: new(api.RestartPolicyModeFail)},
		ReschedulePolicy: &api.ReschedulePolicy{Attempts: new(0), Unlimited: new(false)},
		Tasks:            []*api.Task{task},
	}}
	return job, nil
}
