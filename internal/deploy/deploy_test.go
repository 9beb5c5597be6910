package deploy_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/generator"
	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/deploy"
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
	p, err := deploy.Run(ctx, nomad.Client(), job(t, "v2"), deploy.Options{Poll: 5 * time.Millisecond, OnProgress: func(p deploy.Progress) {
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

func TestADeploymentThatFailsSaysWhy(t *testing.T) {
	nomad := nomadfake.New(t)
	var wg sync.WaitGroup
	wg.Go(func() { drive(t, nomad, "web-v2", api.DeploymentStatusFailed, "Failed due to unhealthy allocations") })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := deploy.Run(ctx, nomad.Client(), job(t, "v2"), deploy.Options{Poll: 5 * time.Millisecond})
	wg.Wait()
	if !errors.Is(err, deploy.ErrFailed) || !strings.Contains(err.Error(), "Failed due to unhealthy allocations") {
		t.Fatalf("err = %v", err)
	}
}

func TestADeploymentThatNeverEndsTimesOut(t *testing.T) {
	nomad := nomadfake.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := deploy.Run(ctx, nomad.Client(), job(t, "v2"), deploy.Options{Poll: 10 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "gave up waiting") {
		t.Fatalf("err = %v", err)
	}
}

func TestARegistrationNomadRefusesIsAnError(t *testing.T) {
	nomad := nomadfake.New(t)
	nomad.FailNext(nomadfake.EndpointJobRegister, 500, 1)
	_, err := deploy.Run(context.Background(), nomad.Client(), job(t, "v2"), deploy.Options{Poll: time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "registering web-v2") {
		t.Fatalf("err = %v", err)
	}
}
