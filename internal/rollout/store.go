package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/release"
)

// KV is the part of Consul's KV API a rollout uses; *consulapi.KV
// satisfies it, and it is release.KV, so that the final promotion goes
// through release's transaction.
type KV = release.KV

// Catalog answers which instances of a service pass their checks;
// *consulapi.Health satisfies it.
type Catalog = release.Catalog

// Errors the operations return, for errors.Is.
var (
	// ErrNoRollout: strata/<app>/rollout does not exist.
	ErrNoRollout = errors.New("no rollout")
	// ErrActive: a rollout of the app is already running or paused.
	ErrActive = errors.New("rollout in progress")
	// ErrNotActive: the rollout is over (succeeded, failed, aborted), or
	// not in the state the operation needs.
	ErrNotActive = errors.New("rollout not in progress")
	// ErrInvalid: an argument outside its grammar, or settings that are
	// not valid.
	ErrInvalid = errors.New("invalid argument")
)

// attempts bounds how often an operation that lost a check-and-set race is
// re-read and tried again.
const attempts = 20

// Read returns app's rollout and the key's ModifyIndex. found is false,
// with no error, when the key does not exist.
func Read(ctx context.Context, kv KV, app string) (st State, index uint64, found bool, err error) {
	p, _, err := kv.Get(Key(app), (&consulapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return State{}, 0, false, fmt.Errorf("reading %s: %w", Key(app), err)
	}
	if p == nil {
		return State{}, 0, false, nil
	}
	st, err = Parse(app, p.Value)
	if err != nil {
		return State{}, p.ModifyIndex, true, err
	}
	return st, p.ModifyIndex, true, nil
}

// casOp stores st at Key(st.App) if the key still has index (0: is still
// absent).
func casOp(st State, index uint64) *consulapi.KVTxnOp {
	return &consulapi.KVTxnOp{Verb: consulapi.KVCAS, Key: Key(st.App), Value: st.Encode(), Index: index}
}

// Write stores st if strata/<app>/rollout still has index (0: is still
// absent). ok is false, with no error, when another writer changed it
// first: the caller re-reads and decides again.
func Write(ctx context.Context, kv KV, st State, index uint64) (ok bool, err error) {
	ok, _, _, err = kv.Txn(consulapi.KVTxnOps{casOp(st, index)}, (&consulapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return false, fmt.Errorf("writing %s: %w", Key(st.App), err)
	}
	return ok, nil
}

func backoff(ctx context.Context, n int) error {
	d := time.Duration(1+rand.IntN(5*(n+1))) * time.Millisecond
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// Start begins a rollout of version of app with settings: version gets
// settings.Steps[0] percent of new sessions at once, and the controller
// takes the first step's baseline at its next pass. The live version (or
// configuredLive while strata/<app>/live is not set) is the stable one. It
// refuses an invalid version, one that is not running or is draining, the
// live version itself, an app with no live version, and an app whose
// rollout is running or paused; a finished rollout is replaced.
func Start(ctx context.Context, kv KV, catalog Catalog, app, version, configuredLive string, settings Settings, now time.Time, by string) (State, error) {
	if !naming.ValidApp(app) {
		return State{}, fmt.Errorf("%w: %q is not a valid app name (%s)", ErrInvalid, app, naming.AppGrammar)
	}
	if !naming.ValidVersion(version) {
		return State{}, fmt.Errorf("%w: %s: %q is not a valid version (%s)", ErrInvalid, app, version, naming.VersionGrammar)
	}
	if err := settings.Check(); err != nil {
		return State{}, fmt.Errorf("%w: apps.%s.rollout: %v", ErrInvalid, app, err)
	}
	if err := release.RequireRunning(ctx, kv, catalog, app, version); err != nil {
		return State{}, err
	}
	for n := range attempts {
		cur, idx, found, err := Read(ctx, kv, app)
		if err != nil && !found {
			return State{}, err
		}
		if err == nil && found && cur.State.Active() {
			return State{}, fmt.Errorf("%w: %s: a rollout of %s is %s (step %d of %d, %d%%): abort it first (strata rollout abort %s)",
				ErrActive, app, cur.Candidate, cur.State, cur.Step+1, len(cur.Settings.Steps), cur.Weight, app)
		}
		live, _, err := release.Live(ctx, kv, app)
		if err != nil {
			return State{}, err
		}
		if live == "" {
			live = configuredLive
		}
		if live == "" {
			return State{}, fmt.Errorf("%s: no live version (%s is not set and strata.yaml names none): promote one first", app, release.LiveKey(app))
		}
		if live == version {
			return State{}, fmt.Errorf("%w: %s: %s is already live: a rollout needs another version", ErrInvalid, app, version)
		}
		now = now.UTC()
		st := State{App: app, Candidate: version, Stable: live, Weight: settings.Steps[0], Step: 0, State: Running,
			StepStarted: now, Started: now, Settings: settings, History: []Entry{}}
		st.Settings.Steps = append([]int(nil), settings.Steps...)
		st.Reason = fmt.Sprintf("started: %s gets %d%% of new sessions; the controller measures step 1 from its next pass", version, st.Weight)
		st.record(Entry{At: now, Step: 0, Weight: st.Weight, Decision: ActionStart, Why: st.Reason, By: by})
		ok, err := Write(ctx, kv, st, idx)
		if err != nil {
			return State{}, err
		}
		if ok {
			return st, nil
		}
		if err := backoff(ctx, n); err != nil {
			return State{}, err
		}
	}
	return State{}, fmt.Errorf("%s: %s kept changing while starting a rollout (%d attempts); try again", app, Key(app), attempts)
}

// Pause stops the controller's decisions; the weight stays.
func Pause(ctx context.Context, kv KV, app string, now time.Time, by string) (State, error) {
	return change(ctx, kv, app, func(st *State) error {
		if st.State != Running {
			return fmt.Errorf("%w: %s: the rollout of %s is %s, not running", ErrNotActive, app, st.Candidate, st.State)
		}
		st.State = Paused
		st.Reason = fmt.Sprintf("paused at step %d of %d (%d%%): the weight stays, nothing is decided until strata rollout resume %s", st.Step+1, len(st.Settings.Steps), st.Weight, app)
		st.record(Entry{At: now.UTC(), Step: st.Step, Weight: st.Weight, Decision: ActionPause, Why: st.Reason, By: by})
		return nil
	})
}

// Resume continues a paused rollout. Its step starts over: the controller
// takes a new baseline, so what happened while paused is not judged.
func Resume(ctx context.Context, kv KV, app string, now time.Time, by string) (State, error) {
	return change(ctx, kv, app, func(st *State) error {
		if st.State != Paused {
			return fmt.Errorf("%w: %s: the rollout of %s is %s, not paused", ErrNotActive, app, st.Candidate, st.State)
		}
		st.State = Running
		st.Baseline = nil
		st.StepStarted = now.UTC()
		st.Reason = fmt.Sprintf("resumed at step %d of %d (%d%%): the step starts over at the controller's next pass", st.Step+1, len(st.Settings.Steps), st.Weight)
		st.record(Entry{At: now.UTC(), Step: st.Step, Weight: st.Weight, Decision: ActionResume, Why: st.Reason, By: by})
		return nil
	})
}

// Abort ends a running or paused rollout: weight 0, the stable version
// stays live; with on_failure "return", the candidate's pinned sessions
// return to live. A stored rollout that is JSON but not a valid one (edited
// by hand: the template may still route its weight) is aborted too: its
// state becomes "aborted" and its weight 0, its other fields kept.
func Abort(ctx context.Context, kv KV, app string, now time.Time, by string) (State, error) {
	if _, _, found, err := Read(ctx, kv, app); found && err != nil {
		return abortInvalid(ctx, kv, app, err)
	}
	return change(ctx, kv, app, func(st *State) error {
		if !st.State.Active() {
			return fmt.Errorf("%w: %s: the rollout of %s is already %s", ErrNotActive, app, st.Candidate, st.State)
		}
		st.State, st.Weight = Aborted, 0
		st.Reason = fmt.Sprintf("aborted at step %d of %d: weight 0, %s stays live", st.Step+1, len(st.Settings.Steps), st.Stable)
		if st.Settings.OnFailure == OnFailureReturn {
			st.Return = true
			st.Reason += ", and sessions pinned to " + st.Candidate + " go back to " + st.Stable + " (on_failure: return)"
		}
		st.record(Entry{At: now.UTC(), Step: st.Step, Weight: 0, Decision: ActionAbort, Why: st.Reason, By: by})
		return nil
	})
}

// change applies f to app's rollout with check-and-set, retrying a lost
// race on the newly read state.
func change(ctx context.Context, kv KV, app string, f func(*State) error) (State, error) {
	if !naming.ValidApp(app) {
		return State{}, fmt.Errorf("%w: %q is not a valid app name (%s)", ErrInvalid, app, naming.AppGrammar)
	}
	for n := range attempts {
		st, idx, found, err := Read(ctx, kv, app)
		if err != nil {
			return State{}, err
		}
		if !found {
			return State{}, fmt.Errorf("%w: %s: no rollout (%s is not set): start one with strata rollout start %s <version>", ErrNoRollout, app, Key(app), app)
		}
		if err := f(&st); err != nil {
			return State{}, err
		}
		ok, err := Write(ctx, kv, st, idx)
		if err != nil {
			return State{}, err
		}
		if ok {
			return st, nil
		}
		if err := backoff(ctx, n); err != nil {
			return State{}, err
		}
	}
	return State{}, fmt.Errorf("%s: %s kept changing (%d attempts); try again", app, Key(app), attempts)
}

// List returns the apps that have a rollout key, from one KV listing of
// strata/.
func List(ctx context.Context, kv KV) ([]string, error) {
	pairs, _, err := kv.List("strata/", (&consulapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("listing strata/: %w", err)
	}
	var apps []string
	for _, p := range pairs {
		parts := strings.Split(p.Key, "/")
		if len(parts) == 3 && parts[2] == "rollout" && naming.ValidApp(parts[1]) {
			apps = append(apps, parts[1])
		}
	}
	return apps, nil
}

// abortInvalid sets state "aborted" and weight 0 in a stored rollout that
// Parse refuses (why), keeping its other fields, with check-and-set. It
// returns why's error when the value is not a JSON object at all: HAProxy
// routes no weight from it then.
func abortInvalid(ctx context.Context, kv KV, app string, why error) (State, error) {
	for n := range attempts {
		p, _, err := kv.Get(Key(app), (&consulapi.QueryOptions{}).WithContext(ctx))
		if err != nil {
			return State{}, fmt.Errorf("reading %s: %w", Key(app), err)
		}
		if p == nil {
			return State{}, fmt.Errorf("%w: %s: no rollout (%s is not set)", ErrNoRollout, app, Key(app))
		}
		var raw map[string]any
		if json.Unmarshal(p.Value, &raw) != nil || raw == nil {
			return State{}, why
		}
		reason := fmt.Sprintf("aborted: the stored rollout was not valid (%v): weight 0", why)
		raw["state"], raw["weight"], raw["reason"] = string(Aborted), 0, reason
		b, _ := json.Marshal(raw)
		ok, _, _, err := kv.Txn(consulapi.KVTxnOps{{Verb: consulapi.KVCAS, Key: Key(app), Value: b, Index: p.ModifyIndex}}, (&consulapi.QueryOptions{}).WithContext(ctx))
		if err != nil {
			return State{}, fmt.Errorf("writing %s: %w", Key(app), err)
		}
		if ok {
			return State{App: app, State: Aborted, Reason: reason}, nil
		}
		if err := backoff(ctx, n); err != nil {
			return State{}, err
		}
	}
	return State{}, fmt.Errorf("%s: %s kept changing (%d attempts); try again", app, Key(app), attempts)
}
