package deploy_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/deploy"
	"github.com/strata-dev/strata/internal/generator"
	"github.com/strata-dev/strata/internal/nomadfake"
)

const web = `apps:
  web:
    driver: raw_exec
    command: /usr/local/bin/strata
    args: [demo, serve, --version, "{{version}}"]
    ports: { http: {} }
    service: { check: { path: /healthz } }
    count: 2
    update: { max_parallel: 1, healthy_deadline: 2m }
    versions: [v1, v2]
    live: v1
`

func job(t *testing.T, version string) *api.Job {
	t.Helper()
	cfg, err := config.Parse("strata.yaml", []byte(web), config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	return generator.Job(cfg, cfg.Apps[0], version)
}

// drive plays Nomad's scheduler: once the deployment exists, it reports
// the health counts, then the final status. nomadfake stands in for Nomad,
// which cannot run here.
func drive(t *testing.T, nomad *nomadfake.Server, id, status, description string) {
	client := nomad.Client()
	for range 500 {
		d, _, err := client.Jobs().LatestDeployment(id, nil)
		if err == nil && d != nil {
			nomad.SetDeploymentHealth(id, 2, 1, 1, 0)
			time.Sleep(20 * time.Millisecond)
			if status == api.DeploymentStatusSuccessful {
				nomad.SetDeploymentHealth(id, 2, 2, 2, 0)
			} else {
				nomad.SetDeploymentHealth(id, 2, 2, 1, 1)
			}
			time.Sleep(20 * time.Millisecond)
			nomad.SetDeploymentStatus(d.ID, status, description)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Errorf("no deployment for %s", id)
}

func TestADeploymentThatBecomesHealthy(t *testing.T) {
	nomad := nomadfake.New(t)
	var mu sync.Mutex
	var seen []string
	var wg sync.WaitGroup
	wg.Go(func() { drive(t, nomad, "web-v2", api.DeploymentStatusSuccessful, "Deployment completed successfully") })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := deploy.Run(ctx, nomad.Client(), job(t, "v2"), deploy.Options{OnProgress: func(p deploy.Progress) {
		mu.Lock()
		seen = append(seen, p.String())
		mu.Unlock()
	}})
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != api.DeploymentStatusSuccessful || p.Healthy != 2 || p.Desired != 2 {
		t.Errorf("final progress %+v", p)
	}
	if len(seen) < 2 || !strings.Contains(strings.Join(seen, "\n"), "1/2 healthy") {
		t.Errorf("progress shown: %q", seen)
	}
	if _, ok := nomad.Job("default", "web-v2"); !ok {
		t.Error("the job was not registered")
	}
}

// TestADeploymentThatFailsSaysWhy fails the deployment the way Nomad failed
// strata deploy web v8 --command /usr/bin/false (the recorded crash loop):
// the error has the deployment's description, the failed allocations' last
// task events newest first with their restarts, and how to remove the job.
func TestADeploymentThatFailsSaysWhy(t *testing.T) {
	nomad := nomadfake.New(t)
	var wg sync.WaitGroup
	wg.Go(func() {
		waitForDeployment(t, nomad, "web-v2")
		nomad.FailDeployment("web-v2", "Failed due to progress deadline", nil)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := deploy.Run(ctx, nomad.Client(), job(t, "v2"), deploy.Options{})
	wg.Wait()
	if !errors.Is(err, deploy.ErrFailed) {
		t.Fatalf("err = %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"web-v2: deployment failed: Failed due to progress deadline",
		"(failed, unhealthy)",
		`task "web" is "dead", 2 restarts`,
		"Not Restarting  Exceeded allowed attempts 2 in interval 30m0s and mode is \"fail\"",
		"Terminated      Exit Code: 1",
		"the same events as",
		"remove it with: nomad job stop -purge web-v2",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the failure lacks %q:\n%s", want, msg)
		}
	}
	// Newest first, as nomad alloc status shows them.
	if strings.Index(msg, "Not Restarting") > strings.Index(msg, "Terminated") {
		t.Errorf("events are not newest first:\n%s", msg)
	}
}

// TestADeploymentThatNeverEndsTimesOutWithTheReason leaves the deployment
// running with crash-looping allocations until the deadline: the error
// says so, with Nomad's description and the allocations' events.
func TestADeploymentThatNeverEndsTimesOutWithTheReason(t *testing.T) {
	nomad := nomadfake.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		waitForDeployment(t, nomad, "web-v2")
		nomad.SetDeploymentHealth("web-v2", 2, 2, 0, 2)
		nomad.SetTaskEvents("web-v2", nomadfake.CrashLoopEvents(time.Date(2026, 11, 30, 19, 29, 10, 0, time.UTC), 1, 1, 15*time.Second, 30*time.Minute))
	})
	_, err := deploy.Run(ctx, nomad.Client(), job(t, "v2"), deploy.Options{})
	wg.Wait()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"gave up waiting (running: 0/2 healthy, 2 placed, 2 unhealthy; Nomad says: Deployment is running)",
		"Exit Code: 1", "remove it with: nomad job stop -purge web-v2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the timeout lacks %q:\n%v", want, err)
		}
	}
}

// TestDeployWaitsWithBlockingQueriesInTheJobsNamespace checks the requests
// against those the recordings show (register, the deployment, then the
// allocations of the failed version) and that each deployment read is a
// blocking query and every request names the namespace.
func TestDeployWaitsWithBlockingQueriesInTheJobsNamespace(t *testing.T) {
	nomad := nomadfake.New(t)
	j := job(t, "v2")
	j.Namespace = nil
	var wg sync.WaitGroup
	wg.Go(func() {
		waitForDeployment(t, nomad, "web-v2")
		nomad.SetDeploymentHealth("web-v2", 2, 1, 1, 0)
		nomad.SetDeploymentHealth("web-v2", 2, 2, 1, 1)
		nomad.FailDeployment("web-v2", "Failed due to unhealthy allocations", nil)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	before := len(nomad.Requests())
	_, err := deploy.Run(ctx, nomad.Client(), j, deploy.Options{Namespace: "default"})
	wg.Wait()
	if !errors.Is(err, deploy.ErrFailed) {
		t.Fatalf("err = %v", err)
	}
	var paths []string
	deploymentReads := 0
	for _, r := range nomad.Requests()[before:] {
		if !strings.Contains(r, "namespace=default") {
			t.Errorf("a request without the namespace: %s", r)
		}
		if strings.HasPrefix(r, "GET /v1/job/web-v2/deployment") {
			// The first read does not block: a job may have no deployment.
			if deploymentReads++; deploymentReads > 1 && !strings.Contains(r, "index=") {
				t.Errorf("a deployment read that does not block: %s", r)
			}
		}
		path, _, _ := strings.Cut(r, "?")
		if len(paths) == 0 || paths[len(paths)-1] != path {
			paths = append(paths, path)
		}
	}
	// The recorded strata deploy web v8 made these requests, the
	// deployment read repeatedly (lifecycle/0141 to 0183).
	want := []string{"PUT /v1/jobs", "GET /v1/job/web-v2/deployment", "GET /v1/job/web-v2/allocations"}
	if strings.Join(paths, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(paths, "\n"), strings.Join(want, "\n"))
	}
	// Blocking: one read per change of the deployment, not one a second.
	if n := nomad.Calls(nomadfake.EndpointJobLatestDeployment); n > 6 {
		t.Errorf("%d reads of the deployment for 3 changes", n)
	}
}

func TestARegistrationNomadRefusesIsAnError(t *testing.T) {
	nomad := nomadfake.New(t)
	nomad.FailNext(nomadfake.EndpointJobRegister, 500, 1)
	_, err := deploy.Run(context.Background(), nomad.Client(), job(t, "v2"), deploy.Options{})
	if err == nil || !strings.Contains(err.Error(), "registering web-v2") {
		t.Fatalf("err = %v", err)
	}
}

// waitForDeployment waits until the job is registered, which gives it its
// deployment in nomadfake; it asks the fake directly, so the requests the
// fake records are the code's under test.
func waitForDeployment(t *testing.T, nomad *nomadfake.Server, id string) {
	for range 1000 {
		if _, ok := nomad.Job("default", id); ok {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Errorf("no deployment for %s", id)
}

// TestAJobWithoutADeploymentIsFollowedThroughItsAllocations registers a
// batch job, which Nomad gives no deployment: Run waits for the
// evaluation, then follows the allocations, with no wait on a deployment
// that never comes.
func TestAJobWithoutADeploymentIsFollowedThroughItsAllocations(t *testing.T) {
	nomad := nomadfake.New(t)
	j := job(t, "v2")
	j.Type = new("batch")
	j.Update = nil
	for _, g := range j.TaskGroups {
		g.Update = nil
		g.Services = nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var seen []string
	_, err := deploy.Run(ctx, nomad.Client(), j, deploy.Options{OnProgress: func(p deploy.Progress) { seen = append(seen, p.String()) }})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if nomad.Calls(nomadfake.EndpointEvaluationInfo) == 0 || nomad.Calls(nomadfake.EndpointJobAllocations) == 0 {
		t.Errorf("requests: %q", nomad.Requests())
	}
	if len(seen) == 0 || !strings.HasPrefix(seen[len(seen)-1], "running: 0/2 healthy") {
		t.Errorf("progress %q, want the allocations followed", seen)
	}
}
