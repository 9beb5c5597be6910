// Package deploy registers one version's job with Nomad and follows its
// deployment until it is healthy, failed or out of time, explaining a
// failure with what Nomad knows: the deployment's description, and the
// events of the allocations that failed.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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
	// Poll is the pause between two reads of the deployment; 0 means 1 s.
	Poll time.Duration
	// OnProgress, when set, is called whenever the progress changes.
	OnProgress func(Progress)
}

// ErrFailed is returned, wrapped with the reason, when the deployment failed.
var ErrFailed = errors.New("deployment failed")

// Run registers job and waits until its deployment succeeds (nil), fails
// (an error wrapping ErrFailed that says why), or ctx ends (its error). A
// job without an update block gets no deployment from Nomad; then Run waits
// for its allocations instead.
func Run(ctx context.Context, nomad *api.Client, job *api.Job, opts Options) (Progress, error) {
	poll := opts.Poll
	if poll <= 0 {
		poll = time.Second
	}
	q := &api.WriteOptions{}
	if job.Namespace != nil {
		q.Namespace = *job.Namespace
	}
	resp, _, err := nomad.Jobs().Register(job, q.WithContext(ctx))
	if err != nil {
		return Progress{}, fmt.Errorf("registering %s: %w", *job.ID, err)
	}
	if resp.Warnings != "" {
		// Nomad's own warnings are worth the user's attention; they go
		// out with the first progress line.
		opts.report(Progress{Status: "registered", Description: "warnings: " + resp.Warnings})
	}
	rq := (&api.QueryOptions{Namespace: q.Namespace}).WithContext(ctx)
	var last Progress
	for {
		p, done, err := check(nomad, *job.ID, resp, rq)
		if err != nil {
			return p, err
		}
		if p != last {
			opts.report(p)
			last = p
		}
		if done {
			return p, nil
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("%s: gave up waiting (%s): %w", *job.ID, last, ctx.Err())
		case <-time.After(poll):
		}
	}
}

func (o Options) report(p Progress) {
	if o.OnProgress != nil {
		o.OnProgress(p)
	}
}

// check reads the deployment (or the allocations) once.
func check(nomad *api.Client, id string, resp *api.JobRegisterResponse, q *api.QueryOptions) (Progress, bool, error) {
	d, _, err := nomad.Jobs().LatestDeployment(id, q)
	if err != nil {
		return Progress{}, false, fmt.Errorf("reading the deployment of %s: %w", id, err)
	}
	if d != nil && d.JobSpecModifyIndex == resp.JobModifyIndex {
		p := Progress{Status: d.Status, Description: d.StatusDescription}
		for _, s := range d.TaskGroups {
			p.Desired += s.DesiredTotal
			p.Placed += s.PlacedAllocs
			p.Healthy += s.HealthyAllocs
			p.Unhealthy += s.UnhealthyAllocs
		}
		switch d.Status {
		case api.DeploymentStatusSuccessful:
			return p, true, nil
		case api.DeploymentStatusFailed, api.DeploymentStatusCancelled:
			return p, true, fmt.Errorf("%s: %w: %s%s", id, ErrFailed, d.StatusDescription, allocFailures(nomad, id, q))
		}
		return p, false, nil
	}
	// No deployment for this version: follow the allocations.
	eval, _, err := nomad.Evaluations().Info(resp.EvalID, q)
	if err != nil {
		return Progress{}, false, fmt.Errorf("reading evaluation %s: %w", resp.EvalID, err)
	}
	if eval.Status != "complete" {
		return Progress{Status: "evaluating", Description: eval.StatusDescription}, false, nil
	}
	allocs, _, err := nomad.Jobs().Allocations(id, false, q)
	if err != nil {
		return Progress{}, false, fmt.Errorf("reading the allocations of %s: %w", id, err)
	}
	p := Progress{Status: "running"}
	job, _, err := nomad.Jobs().Info(id, q)
	if err != nil {
		return Progress{}, false, fmt.Errorf("reading %s: %w", id, err)
	}
	for _, tg := range job.TaskGroups {
		if tg.Count != nil {
			p.Desired += *tg.Count
		}
	}
	for _, a := range allocs {
		if job.Version == nil || a.JobVersion != *job.Version {
			continue
		}
		p.Placed++
		switch a.ClientStatus {
		case "running":
			p.Healthy++
		case "failed", "lost":
			p.Unhealthy++
		}
	}
	if p.Unhealthy > 0 {
		p.Status = api.DeploymentStatusFailed
		return p, true, fmt.Errorf("%s: %w: %d allocations failed%s", id, ErrFailed, p.Unhealthy, allocFailures(nomad, id, q))
	}
	if p.Desired > 0 && p.Healthy >= p.Desired {
		p.Status = api.DeploymentStatusSuccessful
		return p, true, nil
	}
	return p, false, nil
}

// allocFailures lists the last events of the job's failed allocations, as
// "\n  alloc <id> task <t>: <event>" lines, at most five.
func allocFailures(nomad *api.Client, id string, q *api.QueryOptions) string {
	allocs, _, err := nomad.Jobs().Allocations(id, false, q)
	if err != nil {
		return fmt.Sprintf("\n  (the allocations could not be read: %v)", err)
	}
	var lines []string
	for _, a := range allocs {
		if a.ClientStatus != "failed" && a.ClientStatus != "lost" && (a.DeploymentStatus == nil || a.DeploymentStatus.Healthy == nil || *a.DeploymentStatus.Healthy) {
			continue
		}
		tasks := make([]string, 0, len(a.TaskStates))
		for t := range a.TaskStates {
			tasks = append(tasks, t)
		}
		slices.Sort(tasks)
		for _, t := range tasks {
			st := a.TaskStates[t]
			if len(st.Events) == 0 {
				continue
			}
			ev := st.Events[len(st.Events)-1]
			msg := ev.DisplayMessage
			if msg == "" {
				msg = ev.Message
			}
			lines = append(lines, fmt.Sprintf("\n  alloc %.8s task %s: %s: %s", a.ID, t, ev.Type, msg))
		}
		if len(lines) == 0 {
			lines = append(lines, fmt.Sprintf("\n  alloc %.8s: %s", a.ID, a.ClientStatus))
		}
	}
	if len(lines) > 5 {
		lines = append(lines[:5], fmt.Sprintf("\n  … and %d more", len(lines)-5))
	}
	return strings.Join(lines, "")
}
