package apply

import (
	"context"
	"syscall"
	"time"
)

// ChangeSignal is the signal the HAProxy job's template blocks send the
// HAProxy task (change_mode = "signal") when routing.intent or haproxy.cfg
// is rendered again; `strata haproxy run`, the task's command, runs an apply
// step at each one (Serve) and never passes it on to HAProxy.
// ChangeSignalName is its name in the jobspec's change_signal.
const (
	ChangeSignal     = syscall.SIGHUP
	ChangeSignalName = "SIGHUP"
)

// Serve timings: how long one apply step may take, and how a failed one is
// retried.
const (
	// StepTimeout bounds one apply step: the lock, the settle, the
	// runtime changes and, when haproxy.cfg changed, a confirmed reload.
	StepTimeout = 30 * time.Second
	// RetryMin and RetryMax bound the wait before a failed step is tried
	// again; it doubles from one to the other.
	RetryMin = 250 * time.Millisecond
	RetryMax = 10 * time.Second
)

// Serve runs an apply step each time changed delivers, until ctx ends: the
// long-running form of the change script, for a process that outlives the
// renders (`strata haproxy run`, the HAProxy task's command, which Nomad's
// templates signal). changed should hold at most one pending value (a
// channel with a buffer of one, written without blocking), so that changes
// arriving during a step cause exactly one more step after it, which reads
// the files as they are then. A failed step is logged on opts.Log and tried
// again after RetryMin, doubling up to RetryMax, until one succeeds; a
// change arriving meanwhile is applied at once. done, when not nil, gets
// the outcome of every step.
func Serve(ctx context.Context, opts Options, changed <-chan struct{}, done func(Result, error)) {
	var retry <-chan time.Time
	backoff := RetryMin
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-retry:
		}
		sctx, cancel := context.WithTimeout(ctx, StepTimeout)
		res, err := Apply(sctx, opts)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if done != nil {
			done(res, err)
		}
		if err != nil {
			logf(opts.Log, "strata: routing: %v; trying again in %s", err, backoff)
			retry = time.After(backoff)
			backoff = min(2*backoff, RetryMax)
			continue
		}
		retry, backoff = nil, RetryMin
	}
}
