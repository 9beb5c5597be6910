package haproxy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrReloadFailed is wrapped by the error [Master.Reload] returns when the
// master reports that the reload failed, which on HAProxy 2.6 means the new
// configuration did not load: the previous workers keep serving the previous
// configuration, and the master's stderr says what is wrong.
var ErrReloadFailed = errors.New("haproxy reload failed")

// ErrReloadUnconfirmed is wrapped by the error [Master.Reload] returns when
// neither a new worker nor a failure showed up in time. The reload may still
// happen, or may have been lost.
var ErrReloadUnconfirmed = errors.New("haproxy reload not confirmed")

// Reload reloads HAProxy through the master CLI's "reload" command and waits
// until it is confirmed: it returns the new current worker once "show proc"
// shows the master's reload counter moved past its value before the reload
// and a current worker that was not current before.
//
// When the master reports the reload as failed instead (its "[failed: N]"
// grew), Reload returns an error wrapping [ErrReloadFailed]; the previous
// worker keeps serving. When neither happens before ctx ends or
// [Master.ReloadTimeout] passes, it returns an error wrapping
// [ErrReloadUnconfirmed] (or the context's error) that shows what "show proc"
// last said.
//
// Reload assumes nobody else reloads this HAProxy meanwhile; see
// [ReloadCoalesced].
func (m *Master) Reload(ctx context.Context) (Proc, error) {
	ctx, cancel := context.WithTimeout(ctx, m.reloadTimeout())
	defer cancel()

	before, err := m.Procs(ctx)
	if err != nil {
		return Proc{}, fmt.Errorf("haproxy reload: reading the processes before reloading: %w", err)
	}
	master0 := masterOf(before)
	current0 := pidsOf(before, RoleCurrent)

	out, sent, err := m.exchange(ctx, "reload")
	if err != nil && !sent {
		return Proc{}, fmt.Errorf("haproxy reload: the reload was not sent: %w", err)
	}
	// HAProxy 2.6 answers nothing: the connection ends when the master
	// re-executes itself, sometimes with a reset (err != nil here), so only
	// "show proc" can tell whether the reload happened. Newer versions
	// answer "Success=1" or "Success=0" followed by the startup logs.
	if strings.HasPrefix(out, "Success=0") {
		return Proc{}, fmt.Errorf("%w: the master at %s answered:\n%s", ErrReloadFailed, m.Socket, strings.TrimSpace(out))
	}

	interval := m.pollInterval()
	maxPolls := int(m.reloadTimeout()/interval) + 1
	var last []Proc
	var lastErr error
	for poll := 0; poll < maxPolls; poll++ {
		procs, err := m.Procs(ctx)
		if err == nil {
			last, lastErr = procs, nil
			master := masterOf(procs)
			if master.PID != master0.PID {
				return Proc{}, fmt.Errorf("haproxy reload: the master's PID changed from %d to %d: HAProxy was restarted, not reloaded", master0.PID, master.PID)
			}
			if master.Reloads > master0.Reloads {
				for _, p := range procs {
					if p.Role == RoleCurrent && !current0[p.PID] {
						return p, nil
					}
				}
				if master.FailedReloads > master0.FailedReloads {
					return Proc{}, fmt.Errorf("%w: the master at %s counts %d failed reload(s) since the last successful one; "+
						"the configuration did not load, HAProxy's output says why, and the previous worker(s) %s keep serving",
						ErrReloadFailed, m.Socket, master.FailedReloads, pidList(procs, RoleCurrent))
				}
			}
		} else if ctx.Err() == nil {
			lastErr = err
		}
		if !sleep(ctx, interval) {
			break
		}
	}
	why := ErrReloadUnconfirmed
	if errors.Is(ctx.Err(), context.Canceled) {
		why = context.Canceled
	}
	msg := fmt.Sprintf("no new worker and no failure reported by the master at %s (its reload counter was %d before)",
		m.Socket, master0.Reloads)
	if last != nil {
		msg += fmt.Sprintf("; last show proc: reload counter %d [failed: %d], current worker(s) %s",
			masterOf(last).Reloads, masterOf(last).FailedReloads, pidList(last, RoleCurrent))
	}
	if lastErr != nil {
		return Proc{}, fmt.Errorf("%w: %s; last error: %w", why, msg, lastErr)
	}
	return Proc{}, fmt.Errorf("%w: %s", why, msg)
}

// pidList formats the PIDs of the processes with role r, for messages.
func pidList(procs []Proc, r Role) string {
	var pids []string
	for _, p := range procs {
		if p.Role == r {
			pids = append(pids, fmt.Sprint(p.PID))
		}
	}
	if len(pids) == 0 {
		return "(none)"
	}
	return strings.Join(pids, ", ")
}

// sleep waits for d or until ctx ends, and reports whether ctx is still
// live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
