package config

import "time"

// DefaultConstraintOperator is the operator of a constraint that names none.
const DefaultConstraintOperator = "="

// finalizeApp sets an app's defaults that depend on its other settings, in
// one pass after every key is decoded and checked:
//
//   - shutdown_delay: DefaultShutdownDelay for an app with a service, so
//     HAProxy drops an instance before it is signalled;
//   - update.progress_deadline: see progressDeadline;
//   - a constraint's operator: "=", which Nomad's HCL parser assumes but
//     its API does not (a JSON job with an empty operand is refused).
func finalizeApp(a *App) {
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
