package generator

import (
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/naming"
)

// RolloutJobID is the ID of the rollout controller's job
// (naming.RolloutJobID).
const RolloutJobID = naming.RolloutJobID

// Bounds of the controller's pass interval (rolloutEvery).
const (
	minRolloutEvery = time.Second
	maxRolloutEvery = 15 * time.Second
)

// RolloutJob builds the job that runs `strata rollout control`, or nil when
// no app has a rollout section.
//
// It is a service job, not a periodic one: a step lasts an interval of
// minutes or seconds, and a decision due should be taken within seconds,
// while Nomad's cron runs a periodic job at most once a minute and starts a
// new allocation each time. A service restarts on failure and is
// rescheduled on another node when its node is lost, and it resumes from
// Consul KV, where a rollout keeps all its state. One copy runs (count 1);
// more may run at once, on purpose or while Nomad replaces one, because
// every decision is a check-and-set on the rollout's ModifyIndex: only one
// controller's write of a decision can succeed, so a Consul lock would add
// nothing but a lock to lose.
//
// The controller reads no strata.yaml (a rollout carries its settings), so
// the job changes only with the sweeper's task settings (driver, image,
// strata binary, which it shares) and with the shortest interval of any
// app's rollout, which sets how often it passes (rolloutEvery).
func RolloutJob(cfg *config.Config) (*api.Job, error) {
	var shortest time.Duration
	for _, a := range cfg.Apps {
		if a.Rollout != nil && (shortest == 0 || a.Rollout.Interval < shortest) {
			shortest = a.Rollout.Interval
		}
	}
	if shortest == 0 {
		return nil, nil
	}
	s := cfg.Sweeper
	job := &api.Job{
		ID:          new(RolloutJobID),
		Name:        new(RolloutJobID),
		Type:        new(api.JobTypeService),
		Datacenters: append([]string(nil), cfg.Datacenters...),
		Meta:        map[string]string{naming.MetaComponent: "rollout"},
	}
	if cfg.Region != "" {
		job.Region = new(cfg.Region)
	}
	if cfg.Namespace != "" {
		job.Namespace = new(cfg.Namespace)
	}
	task := &api.Task{Name: "control", Driver: s.Driver, Config: map[string]any{}}
	args := []any{"rollout", "control", "--every", rolloutEvery(shortest).String()}
	if s.Driver == config.DriverDocker {
		task.Config["image"] = s.Image
		task.Config["command"] = s.Strata
		task.Config["args"] = args
		// The lbstats sidecars listen on every node's address.
		task.Config["network_mode"] = "host"
	} else {
		task.Config["command"] = s.Strata
		task.Config["args"] = args
	}
	// Consul only, with the token Nomad gives the task when the cluster
	// configures consul.task_identity (see identity.go); no Nomad access.
	task.Consul = consulBlock()
	job.TaskGroups = []*api.TaskGroup{{
		Name:  new("rollout"),
		Count: new(1),
		Tasks: []*api.Task{task},
	}}
	return job, nil
}

// rolloutEvery is the controller's pass interval: a tenth of the shortest
// step interval, so a due step is judged within 10% of its time, between
// one and fifteen seconds.
func rolloutEvery(shortest time.Duration) time.Duration {
	return min(max((shortest/10).Round(time.Second), minRolloutEvery), maxRolloutEvery)
}
