// Package deploy registers one version's job with Nomad and follows its
// deployment with Nomad's blocking queries until it is healthy, failed or
// out of time, explaining a failure or a timeout with what Nomad knows: the
// deployment's description, and the last task events of the allocations
// that failed or are unhealthy, as `nomad alloc status` shows them.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/nomad/api"
)

// Progress is what a deployment has done so far.
type Progress struct {
	Status      string
	Description string
	Desired     int
	Placed      int
	Healthy     int
	Unhealthy   int
}

func (p Progress) String() string {
	return fmt.Sprintf("%s: %d/%d healthy, %d placed, %d unhealthy", p.Status, p.Healthy, p.Desired, p.Placed, p.Unhealthy)
}

// Options tune Run.
type Options struct {
	// Namespace is where the job goes when it names none; "" means
	// "default". Every request carries it.
	Namespace string
	// Wait is the longest one blocking query waits for a change; 0 means
	// 5 minutes, Nomad's default. The context's deadline ends a wait
	// sooner.
	Wait time.Duration
	// OnProgress, when set, is called whenever the progress changes.
	OnProgress func(Progress)
}

// ErrFailed is returned, wrapped with the reason, when the deployment failed.
var ErrFailed = errors.New("deployment failed")

// reasonTimeout bounds the reads that explain a failure or a timeout, made
// after the caller's context may have ended.
const reasonTimeout = 15 * time.Second

// maxAllocs is how many failed allocations a failure shows in full.
const maxAllocs = 3

// maxEvents is how many of an allocation's last task events it shows.
const maxEvents = 4

// Run registers job and waits until its deployment succeeds (nil), fails
// (an error wrapping ErrFailed that says why), or ctx ends (an error
// wrapping ctx's, with the same explanation). A job without an update block
// gets no deployment from Nomad; then Run waits for its allocations instead.
// It reads with blocking queries: a request returns when Nomad's state
// changes, not on a timer.
func Run(ctx context.Context, nomad *api.Client, job *api.Job, opts Options) (Progress, error) {
	w := &watch{nomad: nomad, id: *job.ID, ns: opts.Namespace, wait: opts.Wait, opts: opts}
	if job.Namespace != nil && *job.Namespace != "" {
		w.ns = *job.Namespace
	}
	if w.ns == "" {
		w.ns = "default"
	}
	if w.wait <= 0 {
		w.wait = 5 * time.Minute
	}
	resp, _, err := nomad.Jobs().Register(job, (&api.WriteOptions{Namespace: w.ns}).WithContext(ctx))
	if err != nil {
		return Progress{}, fmt.Errorf("registering %s: %w", w.id, err)
	}
	w.reg = resp
	if resp.Warnings != "" {
		// Nomad's own warnings are worth the user's attention; they go
		// out with the first progress line.
		opts.report(Progress{Status: "registered", Description: "warnings: " + resp.Warnings})
	}
	// The first reads do not block: a job may get no deployment at all.
	p, err := w.follow(ctx)
	if err != nil && ctx.Err() != nil && !errors.Is(err, ErrFailed) {
		return p, w.timedOut(ctx, p)
	}
	return p, err
}

func (o Options) report(p Progress) {
	if o.OnProgress != nil {
		o.OnProgress(p)
	}
}

// watch follows one registered job.
type watch struct {
	nomad *api.Client
	id    string
	ns    string
	wait  time.Duration
	opts  Options
	reg   *api.JobRegisterResponse
	// last is the latest matching deployment seen.
	last *api.Deployment
}

func (w *watch) query(ctx context.Context, index uint64) *api.QueryOptions {
	return (&api.QueryOptions{Namespace: w.ns, WaitIndex: index, WaitTime: w.wait}).WithContext(ctx)
}

// follow blocks on the job's latest deployment until it ends; a job that
// gets no deployment is followed through its allocations.
func (w *watch) follow(ctx context.Context) (Progress, error) {
	var last Progress
	var index uint64
	// A job registered without an evaluation (periodic, parameterized)
	// has nothing to wait for but its allocations.
	evalDone := w.reg.EvalID == ""
	report := func(p Progress) {
		if p != last {
			w.opts.report(p)
			last = p
		}
	}
	for {
		d, qm, err := w.nomad.Jobs().LatestDeployment(w.id, w.query(ctx, index))
		if err != nil {
			return last, fmt.Errorf("reading the deployment of %s: %w", w.id, err)
		}
		index = nextIndex(index, qm.LastIndex)
		if d != nil && d.JobSpecModifyIndex == w.reg.JobModifyIndex {
			w.last = d
			p := progressOf(d)
			report(p)
			switch d.Status {
			case api.DeploymentStatusSuccessful:
				return p, nil
			case api.DeploymentStatusFailed, api.DeploymentStatusCancelled:
				return p, w.failed(ctx, p)
			}
			continue
		}
		if evalDone {
			// The scheduler placed this version, and it has no deployment
			// (any more): follow its allocations.
			return w.followAllocations(ctx, report)
		}
		// No deployment for this version yet: wait, blocking on the
		// evaluation, until the scheduler has placed the job.
		var evalIndex uint64
		for {
			eval, em, err := w.nomad.Evaluations().Info(w.reg.EvalID, w.query(ctx, evalIndex))
			if err != nil {
				return last, fmt.Errorf("reading evaluation %s: %w", w.reg.EvalID, err)
			}
			evalIndex = nextIndex(evalIndex, em.LastIndex)
			if eval.Status == "complete" {
				break
			}
			if eval.Status == "failed" || eval.Status == "canceled" {
				return last, fmt.Errorf("%s: %w: Nomad's evaluation %s %s: %s", w.id, ErrFailed, eval.ID, eval.Status, eval.StatusDescription)
			}
			report(Progress{Status: "evaluating", Description: eval.StatusDescription})
		}
		// The deployment is created with the placement: a job without one
		// now gets none.
		evalDone = true
		index = 0
	}
}

// nextIndex is the index of the next blocking query: Nomad's answer, reset
// when it went backwards, as Nomad's documentation asks.
func nextIndex(prev, answer uint64) uint64 {
	if answer < prev {
		return 0
	}
	return answer
}

func progressOf(d *api.Deployment) Progress {
	p := Progress{Status: d.Status, Description: d.StatusDescription}
	for _, s := range d.TaskGroups {
		p.Desired += s.DesiredTotal
		p.Placed += s.PlacedAllocs
		p.Healthy += s.HealthyAllocs
		p.Unhealthy += s.UnhealthyAllocs
	}
	return p
}

// followAllocations waits, with blocking queries on the job's allocations,
// until every desired allocation of the registered version runs, or one
// fails.
func (w *watch) followAllocations(ctx context.Context, report func(Progress)) (Progress, error) {
	job, _, err := w.nomad.Jobs().Info(w.id, w.query(ctx, 0))
	if err != nil {
		return Progress{}, fmt.Errorf("reading %s: %w", w.id, err)
	}
	desired := 0
	for _, tg := range job.TaskGroups {
		if tg.Count != nil {
			desired += *tg.Count
		}
	}
	var index uint64
	for {
		allocs, qm, err := w.nomad.Jobs().Allocations(w.id, false, w.query(ctx, index))
		if err != nil {
			return Progress{}, fmt.Errorf("reading the allocations of %s: %w", w.id, err)
		}
		index = nextIndex(index, qm.LastIndex)
		p := Progress{Status: "running", Desired: desired}
		for _, a := range allocs {
			if job.Version == nil || a.JobVersion != *job.Version {
				continue
			}
			p.Placed++
			switch a.ClientStatus {
			case api.AllocClientStatusRunning:
				p.Healthy++
			case api.AllocClientStatusFailed, api.AllocClientStatusLost:
				p.Unhealthy++
			}
		}
		switch {
		case p.Unhealthy > 0:
			p.Status = api.DeploymentStatusFailed
			report(p)
			return p, fmt.Errorf("%s: %w: %d allocations failed%s", w.id, ErrFailed, p.Unhealthy, w.explain(ctx, job.Version, false))
		case desired > 0 && p.Healthy >= desired:
			p.Status = api.DeploymentStatusSuccessful
			report(p)
			return p, nil
		}
		report(p)
	}
}

// failed explains a failed or cancelled deployment.
func (w *watch) failed(ctx context.Context, p Progress) error {
	var version *uint64
	if w.last != nil {
		version = &w.last.JobVersion
	}
	return fmt.Errorf("%s: %w: %s%s", w.id, ErrFailed, p.Description, w.explain(ctx, version, false))
}

// timedOut explains a deployment still going when ctx ended.
func (w *watch) timedOut(ctx context.Context, p Progress) error {
	var version *uint64
	if w.last != nil {
		version = &w.last.JobVersion
	}
	state := p.String()
	if p.Description != "" {
		state += "; Nomad says: " + p.Description
	}
	return fmt.Errorf("%s: gave up waiting (%s)%s: %w", w.id, state, w.explain(ctx, version, true), ctx.Err())
}

// explain lists the failed or unhealthy allocations of the job's version
// (all versions when version is nil) with their last task events, and how
// to remove the job. With pending, allocations still starting that have
// restarted or failed a task count too: a deployment that timed out has
// those.
func (w *watch) explain(parent context.Context, version *uint64, pending bool) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), reasonTimeout)
	defer cancel()
	var b strings.Builder
	allocs, _, err := w.nomad.Jobs().Allocations(w.id, false, w.query(ctx, 0))
	if err != nil {
		fmt.Fprintf(&b, "\n  (the allocations could not be read: %v)", err)
	} else {
		b.WriteString(AllocFailures(allocs, version, pending))
	}
	fmt.Fprintf(&b, "\n  remove it with: %s", RemoveCommand(w.id, w.ns))
	return b.String()
}

// RemoveCommand is the command that removes a job strata deployed, with
// its history: strata has none of its own (the sweeper retires only idle
// versions, later).
func RemoveCommand(id, namespace string) string {
	if namespace == "" || namespace == "default" {
		return "nomad job stop -purge " + id
	}
	return fmt.Sprintf("nomad job stop -purge -namespace %s %s", namespace, id)
}

// AllocFailures describes the allocations of a job version (every version
// when version is nil) that failed, were lost or are unhealthy, newest
// first, each with its tasks' last events in `nomad alloc status` order
// (newest first) and restart counts; with pending, allocations whose tasks
// restarted or failed while still starting count too. An allocation whose
// events repeat an earlier one's says so instead; past a few, a count of
// the rest. Each line starts with "\n  ", to follow an error's first line.
func AllocFailures(allocs []*api.AllocationListStub, version *uint64, pending bool) string {
	var bad []*api.AllocationListStub
	for _, a := range allocs {
		if version != nil && a.JobVersion != *version {
			continue
		}
		if troubled(a, pending) {
			bad = append(bad, a)
		}
	}
	slices.SortStableFunc(bad, func(x, y *api.AllocationListStub) int {
		if x.CreateTime != y.CreateTime {
			return int(y.CreateTime - x.CreateTime)
		}
		return strings.Compare(x.ID, y.ID)
	})
	// Nomad's short IDs are 8 characters; whole IDs when those collide.
	short := func(id string) string { return id[:min(8, len(id))] }
	prefixes := map[string]bool{}
	for _, a := range bad {
		if prefixes[short(a.ID)] {
			short = func(id string) string { return id }
			break
		}
		prefixes[short(a.ID)] = true
	}
	var b strings.Builder
	seen := map[string]string{}
	for i, a := range bad {
		if i == maxAllocs {
			fmt.Fprintf(&b, "\n  … and %d more allocations", len(bad)-maxAllocs)
			break
		}
		fmt.Fprintf(&b, "\n  allocation %s %s", short(a.ID), allocState(a))
		key := eventKinds(a)
		if prev, ok := seen[key]; ok {
			fmt.Fprintf(&b, ": the same events as %s", short(prev))
			continue
		}
		seen[key] = a.ID
		b.WriteString(taskEvents(a))
	}
	return b.String()
}

func troubled(a *api.AllocationListStub, pending bool) bool {
	switch {
	case a.ClientStatus == api.AllocClientStatusFailed || a.ClientStatus == api.AllocClientStatusLost:
		return true
	case a.DeploymentStatus != nil && a.DeploymentStatus.Healthy != nil && !*a.DeploymentStatus.Healthy:
		return true
	case pending && a.ClientStatus != api.AllocClientStatusComplete:
		for _, t := range a.TaskStates {
			if t != nil && (t.Restarts > 0 || t.Failed) {
				return true
			}
		}
	}
	return false
}

// allocState is an allocation's client status, its health in the
// deployment, and its tasks' restarts.
func allocState(a *api.AllocationListStub) string {
	parts := []string{a.ClientStatus}
	if a.DeploymentStatus != nil && a.DeploymentStatus.Healthy != nil && !*a.DeploymentStatus.Healthy {
		parts = append(parts, "unhealthy")
	}
	if a.NextAllocation != "" {
		parts = append(parts, "replaced")
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// taskEvents writes each task's state, restarts and last events, newest
// first, as the Recent Events table of `nomad alloc status`.
func taskEvents(a *api.AllocationListStub) string {
	tasks := make([]string, 0, len(a.TaskStates))
	for t := range a.TaskStates {
		tasks = append(tasks, t)
	}
	slices.Sort(tasks)
	var b strings.Builder
	for _, t := range tasks {
		st := a.TaskStates[t]
		if st == nil {
			continue
		}
		fmt.Fprintf(&b, "\n    task %q is %q, %s", t, st.State, restarts(st.Restarts))
		if len(st.Events) == 0 {
			continue
		}
		var tw strings.Builder
		w := tabwriter.NewWriter(&tw, 0, 8, 2, ' ', 0)
		events := st.Events[max(0, len(st.Events)-maxEvents):]
		for i := len(events) - 1; i >= 0; i-- {
			e := events[i]
			msg := e.DisplayMessage
			if msg == "" {
				msg = e.Message
			}
			fmt.Fprintf(w, "      %s\t%s\t%s\n", time.Unix(0, e.Time).UTC().Format(time.RFC3339), e.Type, msg)
		}
		w.Flush()
		b.WriteString("\n")
		b.WriteString(strings.TrimRight(tw.String(), "\n"))
	}
	return b.String()
}

// eventKinds is what an allocation's tasks went through, without times:
// allocations of one crash loop share it.
func eventKinds(a *api.AllocationListStub) string {
	var b strings.Builder
	for _, t := range slices.Sorted(maps.Keys(a.TaskStates)) {
		st := a.TaskStates[t]
		if st == nil {
			continue
		}
		fmt.Fprintf(&b, "%s %s %d;", t, st.State, st.Restarts)
		for _, e := range st.Events[max(0, len(st.Events)-maxEvents):] {
			if e.Type == api.TaskRestarting {
				// "Task restarting in 16.2s": the delay is jittered.
				fmt.Fprintf(&b, "%s;", e.Type)
				continue
			}
			fmt.Fprintf(&b, "%s %s %s;", e.Type, e.DisplayMessage, e.Message)
		}
	}
	return b.String()
}

func restarts(n uint64) string {
	if n == 1 {
		return "1 restart"
	}
	return fmt.Sprintf("%d restarts", n)
}
