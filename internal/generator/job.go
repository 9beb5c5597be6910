package generator

import (
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/naming"
)

// Job builds the Nomad job that runs one version of app, with the settings
// the version sets for itself (config.App.ForVersion). The version must be
// one the configuration lists or one a caller has validated with
// naming.ValidVersion.
func Job(cfg *config.Config, app *config.App, version string) *api.Job {
	app = app.ForVersion(version)
	id := naming.JobID(app.Name, version)
	job := &api.Job{
		ID:          new(id),
		Name:        new(id),
		Type:        new(api.JobTypeService),
		Datacenters: slices.Clone(cfg.Datacenters),
		Meta: map[string]string{
			naming.MetaManaged: "true",
			naming.MetaApp:     app.Name,
			naming.MetaVersion: version,
			naming.MetaKind:    string(app.Kind),
		},
	}
	if cfg.Region != "" {
		job.Region = new(cfg.Region)
	}
	if cfg.Namespace != "" {
		job.Namespace = new(cfg.Namespace)
	}
	if cfg.Created != "" {
		job.Meta[naming.MetaCreated] = cfg.Created
	}
	if app.NodePool != "" {
		job.NodePool = new(app.NodePool)
	}
	for _, c := range app.Constraints {
		job.Constraints = append(job.Constraints, &api.Constraint{LTarget: c.Attribute, Operand: c.Operator, RTarget: c.Value})
	}
	if u := app.Update; u != nil {
		job.Update = &api.UpdateStrategy{
			MaxParallel:      u.MaxParallel,
			MinHealthyTime:   u.MinHealthyTime,
			HealthyDeadline:  u.HealthyDeadline,
			ProgressDeadline: u.ProgressDeadline,
			AutoRevert:       u.AutoRevert,
		}
	}
	job.TaskGroups = []*api.TaskGroup{group(app, version)}
	return job
}

func group(app *config.App, version string) *api.TaskGroup {
	g := &api.TaskGroup{
		Name:          new(app.Name),
		Count:         app.Count,
		ShutdownDelay: app.ShutdownDelay,
	}
	if len(app.Ports) > 0 {
		nw := &api.NetworkResource{Mode: "host"}
		for _, p := range app.Ports {
			port := api.Port{Label: p.Label, Value: p.Static, To: p.To}
			if p.Static != 0 {
				nw.ReservedPorts = append(nw.ReservedPorts, port)
			} else {
				nw.DynamicPorts = append(nw.DynamicPorts, port)
			}
		}
		g.Networks = []*api.NetworkResource{nw}
	}
	if s := app.Service; s != nil {
		svc := &api.Service{
			Name:      app.Name,
			PortLabel: s.Port,
			Tags:      append([]string{naming.TagManaged, naming.VersionTag(version)}, s.Tags...),
			// The routing templates sort versions by this key, and take the
			// configured live version from it while strata/<app>/live is
			// unset: changing either is an in-place service update, never a
			// change to the HAProxy job.
			Meta: map[string]string{naming.ServiceMetaOrder: naming.SortKey(version)},
		}
		if version == app.Live {
			svc.Meta[naming.ServiceMetaLive] = "true"
		}
		if c := s.Check; c != nil {
			svc.Checks = []api.ServiceCheck{{Type: "http", Path: c.Path, Interval: c.Interval, Timeout: c.Timeout}}
		}
		g.Services = []*api.Service{svc}
	}
	g.Tasks = []*api.Task{task(app, version)}
	return g
}

func task(app *config.App, version string) *api.Task {
	sub := func(s string) string { return strings.ReplaceAll(s, config.VersionPlaceholder, version) }
	t := &api.Task{
		Name:        app.Name,
		Driver:      app.Driver,
		Config:      map[string]any{},
		KillTimeout: app.KillTimeout,
	}
	// Config values are []any, not []string, so the job read back from its
	// JSON is deeply equal to the one built here.
	if app.Image != "" {
		t.Config["image"] = sub(app.Image)
	}
	if app.Command != "" {
		t.Config["command"] = sub(app.Command)
	}
	if len(app.Args) > 0 {
		args := make([]any, len(app.Args))
		for i, a := range app.Args {
			args[i] = sub(a)
		}
		t.Config["args"] = args
	}
	if app.Driver == config.DriverDocker && len(app.Ports) > 0 {
		// The docker driver publishes only the port labels it is given.
		labels := make([]any, len(app.Ports))
		for i, p := range app.Ports {
			labels[i] = p.Label
		}
		t.Config["ports"] = labels
	}
	if len(app.Env) > 0 {
		t.Env = make(map[string]string, len(app.Env))
		for _, k := range slices.Sorted(maps.Keys(app.Env)) {
			t.Env[k] = sub(app.Env[k])
		}
	}
	if r := app.Resources; r != nil && (r.CPU != nil || r.Memory != nil || r.MemoryMax != nil) {
		t.Resources = &api.Resources{CPU: r.CPU, MemoryMB: r.Memory, MemoryMaxMB: r.MemoryMax}
	}
	return t
}

// Jobs builds every job the configuration describes: apps by name, each
// app's versions oldest first.
func Jobs(cfg *config.Config) []*api.Job {
	var jobs []*api.Job
	for _, app := range cfg.Apps {
		for _, v := range app.Versions {
			jobs = append(jobs, Job(cfg, app, v))
		}
	}
	return jobs
}
