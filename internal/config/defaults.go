package config

import "time"

// DefaultConstraintOperator is the operator of a constraint that names none.
const DefaultConstraintOperator = "="

// finalize sets every default, in one pass after the whole file is decoded
// and before the rules across keys are checked (validate): a default
// applies where the file does not give a key a valid value. The global
// settings that the environment and flags override get theirs from viper
// (layerGlobals), which owns that layering.
func (d *decoder) finalize(cfg *Config) {
	h := &cfg.HAProxy
	if h.Driver == "" {
		h.Driver = DefaultHAProxyDriver
	}
	if h.Strata == "" {
		h.Strata = DefaultStrataBinary
	}
	if h.Driver != DriverDocker && h.Image == "" && h.Command == "" {
		h.Command = DefaultHAProxyCommand
	}
	if !d.given("haproxy.wait_min") {
		h.WaitMin = DefaultTemplateWaitMin
	}
	if !d.given("haproxy.wait_max") {
		h.WaitMax = DefaultTemplateWaitMax
	}
	sw := &cfg.Sweeper
	if sw.Cron == "" {
		sw.Cron = DefaultSweepCron
	}
	if sw.Driver == "" {
		sw.Driver = DriverRawExec
	}
	if sw.Strata == "" {
		sw.Strata = DefaultStrataBinary
	}
	for _, a := range cfg.Apps {
		d.finalizeApp(a)
	}
}

// DefaultRetire is the retirement policy of an app of the given kind that
// sets none.
func DefaultRetire(kind Kind) Retire {
	r := Retire{Keep: DefaultKeepWeb, MinAge: DefaultMinAge, DrainGrace: DefaultDrainGrace, HandoffGrace: DefaultHandoffGrace, MaxRetirePerRun: DefaultMaxRetirePerRun}
	if kind == KindWorker {
		r.Keep = DefaultKeepWorker
	}
	return r
}

// finalizeApp sets an app's defaults, some of which depend on its other
// settings:
//
//   - kind: web; max_versions: DefaultMaxVersions;
//   - the sweeper section: DefaultRetire of the app's kind, key by key;
//   - service.port: the app's only port, when it has one;
//   - service.check.interval and .timeout: DefaultCheckInterval, and
//     DefaultCheckTimeout but never longer than the interval;
//   - routing.cookie and .server_cookie: DefaultCookie, DefaultServerCookie;
//   - routing.max_versions: the app's max_versions, within MinVersionSlots
//     and MaxVersionSlots; routing.max_servers: DefaultServerSlots;
//   - rollout.min_requests: DefaultRolloutMinRequests; rollout.on_failure:
//     DefaultRolloutOnFailure;
//   - shutdown_delay: DefaultShutdownDelay for an app with a service, so
//     HAProxy drops an instance before it is signalled;
//   - update.progress_deadline: see progressDeadline;
//   - a constraint's operator: "=", which Nomad's HCL parser assumes but
//     its API does not (a JSON job with an empty operand is refused).
func (d *decoder) finalizeApp(a *App) {
	path := join("apps", a.Name)
	if a.Kind == "" {
		a.Kind = KindWeb
	}
	if a.MaxVersions == 0 {
		a.MaxVersions = DefaultMaxVersions
	}
	def, r, rp := DefaultRetire(a.Kind), &a.Retire, join(path, "sweeper")
	if !d.given(join(rp, "keep")) {
		r.Keep = def.Keep
	}
	if !d.given(join(rp, "min_age")) {
		r.MinAge = def.MinAge
	}
	if !d.given(join(rp, "drain_grace")) {
		r.DrainGrace = def.DrainGrace
	}
	if !d.given(join(rp, "handoff_grace")) {
		r.HandoffGrace = def.HandoffGrace
	}
	if !d.given(join(rp, "max_retire_per_run")) {
		r.MaxRetirePerRun = def.MaxRetirePerRun
	}
	if s := a.Service; s != nil {
		if s.Port == "" && len(a.Ports) == 1 {
			s.Port = a.Ports[0].Label
		}
		if c := s.Check; c != nil {
			cp := join(path, "service.check")
			if !d.given(join(cp, "interval")) {
				c.Interval = DefaultCheckInterval
			}
			if !d.given(join(cp, "timeout")) {
				// The default timeout never exceeds the interval the
				// user chose.
				c.Timeout = min(DefaultCheckTimeout, c.Interval)
			}
		}
	}
	if r := a.Routing; r != nil {
		if r.Cookie == "" {
			r.Cookie = DefaultCookie
		}
		if r.ServerCookie == "" {
			r.ServerCookie = DefaultServerCookie
		}
		if !d.given(join(path, "routing.max_versions")) {
			// A slot for every version the app may list, so listing
			// one never needs a reload.
			r.MaxVersions = min(max(a.MaxVersions, MinVersionSlots), MaxVersionSlots)
		}
		if !d.given(join(path, "routing.max_servers")) {
			r.MaxServers = DefaultServerSlots
		}
	}
	if ro := a.Rollout; ro != nil {
		if !d.given(join(path, "rollout.min_requests")) {
			ro.MinRequests = DefaultRolloutMinRequests
		}
		if ro.OnFailure == "" {
			ro.OnFailure = DefaultRolloutOnFailure
		}
	}
	for i := range a.Constraints {
		if a.Constraints[i].Operator == "" {
			a.Constraints[i].Operator = DefaultConstraintOperator
		}
	}
	if a.Service != nil && a.ShutdownDelay == nil {
		sd := DefaultShutdownDelay
		a.ShutdownDelay = &sd
	}
	if pd, ok := progressDeadline(a); ok {
		if a.Update == nil {
			a.Update = &Update{}
		}
		a.Update.ProgressDeadline = &pd
	}
}

// progressDeadline derives the progress deadline of an app that sets none:
// kill_timeout + healthy_deadline (each Nomad's default when unset), when
// that is longer than Nomad's default progress deadline (10m); otherwise
// Nomad's default stands and ok is false.
//
// A deployment replaces an allocation by stopping the old one, which may
// take the whole kill_timeout while its sessions finish, then starting the
// new one, which has healthy_deadline to become healthy. Nomad's progress
// deadline has to cover both, and Nomad refuses a kill_timeout longer than
// it: an hour-long kill_timeout with the default 10m deadline is rejected.
func progressDeadline(a *App) (pd time.Duration, ok bool) {
	if a.Update != nil && a.Update.ProgressDeadline != nil {
		return 0, false
	}
	kill, hd := NomadKillTimeout, NomadHealthyDeadline
	if a.KillTimeout != nil {
		kill = *a.KillTimeout
	}
	if a.Update != nil && a.Update.HealthyDeadline != nil {
		hd = *a.Update.HealthyDeadline
	}
	if kill+hd <= NomadProgressDeadline {
		return 0, false
	}
	return kill + hd, true
}
