package rollout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/release"
)

// Controller advances every app's rollout: one Pass reads every rollout in
// Consul KV, gathers the lbstats reports once, decides each running
// rollout and writes the decision with check-and-set. Any number of
// controllers may run at once (see the package documentation).
type Controller struct {
	// Consul holds the rollouts, the catalog and the live versions.
	Consul *consulapi.Client
	// HTTP fetches the lbstats reports; nil means lbstats' default.
	HTTP *http.Client
	// ID names the controller in the history (host and PID, say).
	ID string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives a line per decision and per failure; nil discards.
	Log io.Writer
}

// Result is what a pass did with one app's rollout.
type Result struct {
	App      string
	Decision Decision
	// Applied says the decision was written (and, for a success, the
	// candidate promoted in the same transaction).
	Applied bool
	// Lost says another writer (a controller, an operator) changed the
	// rollout after it was read: nothing was written, the next pass
	// decides on what is stored then.
	Lost bool
	// Err is a failure to read or write.
	Err error
}

func (c *Controller) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Controller) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, format+"\n", args...)
	}
}

// Pass makes one pass over every rollout. It returns an error only when the
// rollouts cannot be listed; each app's outcome is in its Result.
func (c *Controller) Pass(ctx context.Context) ([]Result, error) {
	kv, health := c.Consul.KV(), c.Consul.Health()
	apps, err := List(ctx, kv)
	if err != nil {
		return nil, err
	}
	type running struct {
		st  State
		idx uint64
	}
	var todo []running
	var results []Result
	for _, app := range apps {
		st, idx, found, err := Read(ctx, kv, app)
		if err != nil {
			results = append(results, Result{App: app, Err: err})
			c.logf("%s: %v", app, err)
			continue
		}
		if found && st.State == Running {
			todo = append(todo, running{st, idx})
		}
	}
	if len(todo) == 0 {
		return results, nil
	}
	reports := GatherReports(ctx, c.Consul, c.HTTP, c.now())
	for _, r := range todo {
		res := c.decide(ctx, kv, health, r.st, r.idx, reports)
		if ctx.Err() != nil {
			break
		}
		results = append(results, res)
	}
	return results, nil
}

// decide decides one rollout and writes the decision.
func (c *Controller) decide(ctx context.Context, kv KV, health Catalog, st State, idx uint64, reports Reports) Result {
	app := st.App
	sample, problems := reports.SampleOf(app)
	obs := Observation{Now: c.now(), Sample: sample, Problems: problems}
	switch err := release.RequireRunning(ctx, kv, health, app, st.Candidate); {
	case err == nil:
		obs.CandidateRunning = true
	case errors.Is(err, release.ErrNotRunning), errors.Is(err, release.ErrDraining):
	default:
		obs.Problems = append(obs.Problems, err.Error())
	}
	if err := ctx.Err(); err != nil {
		// Stopping: what failed to be read is this controller's doing,
		// not the fleet's; decide nothing.
		return Result{App: app, Err: err}
	}
	d := Decide(st, obs, c.ID)
	res := Result{App: app, Decision: d}
	if !d.Write {
		return res
	}
	if d.Action == ActionSucceed {
		_, err := release.PromoteWith(ctx, kv, health, app, st.Candidate, st.Stable, consulapi.KVTxnOps{casOp(d.Next, idx)})
		switch {
		case errors.Is(err, release.ErrPrecondition):
			res.Lost = true
		case err != nil:
			res.Err = fmt.Errorf("%s: promoting %s: %w", app, st.Candidate, err)
		default:
			res.Applied = true
		}
	} else {
		ok, err := Write(ctx, kv, d.Next, idx)
		res.Applied, res.Lost, res.Err = ok, err == nil && !ok, err
	}
	switch {
	case res.Err != nil:
		c.logf("%s: %s: %v", app, d.Action, res.Err)
	case res.Lost:
		c.logf("%s: %s not written: %s changed since it was read (another controller or an operator); deciding again next pass", app, d.Action, Key(app))
	default:
		c.logf("%s: %s: %s", app, d.Action, d.Why)
	}
	return res
}

// Run makes a pass every interval until ctx ends, then returns nil. A pass
// that fails is logged; the next one tries again.
func (c *Controller) Run(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		return fmt.Errorf("rollout controller: pass interval %s, want > 0", every)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := c.Pass(ctx); err != nil && ctx.Err() == nil {
			c.logf("pass failed: %v", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
