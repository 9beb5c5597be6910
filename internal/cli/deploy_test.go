package cli

import (
	"strings"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	"github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/nomadfake"
	"github.com/strata-dev/strata/internal/testenv"
)

// TestDeployCommand deploys against nomadfake, which stands in for Nomad
// (it cannot run here); a goroutine plays the scheduler.
func TestDeployCommand(t *testing.T) {
	nomad := nomadfake.New(t)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, strings.Replace(routedWeb, "    routing:", "    update: { max_parallel: 1 }\n    routing:", 1))
	done := make(chan struct{})
	go func() {
		defer close(done)
		client := nomad.Client()
		for range 1000 {
			if d, _, err := client.Jobs().LatestDeployment("web-v3", nil); err == nil && d != nil {
				nomad.SetDeploymentHealth("web-v3", 1, 1, 1, 0)
				nomad.SetDeploymentStatus(d.ID, api.DeploymentStatusSuccessful, "Deployment completed successfully")
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	code, out, errOut := run(t, map[string]string{"NOMAD_ADDR": nomad.Addr()}, "deploy", "web", "v3", "-c", cfg)
	<-done
	if code != ExitOK || !strings.Contains(out, "web-v3: healthy (1/1)") || !strings.Contains(errOut, "v3 is not in") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	j, ok := nomad.Job("default", "web-v3")
	if !ok || j.Meta["strata.version"] != "v3" {
		t.Fatalf("registered %+v", j)
	}
	for _, bad := range [][]string{{"deploy", "nope", "v1"}, {"deploy", "web", "V_1"}, {"deploy", "web", "v1", "--image", "x"}} {
		if code, _, errOut := run(t, map[string]string{"NOMAD_ADDR": nomad.Addr()}, append(bad, "-c", cfg)...); code != ExitUsage {
			t.Errorf("%v: exit %d %s", bad, code, errOut)
		}
	}
}

// TestDeployWithPromote makes the version live once healthy, on a real
// Consul (nomadfake stands in for Nomad), and says what rollback would
// return to, by rollback's rule, with what KV held quoted.
func TestDeployWithPromote(t *testing.T) {
	for _, tc := range []struct {
		name string
		live string // strata/web/live before, "" for unset
		want string
	}{
		{"the version strata.yaml names live is what rollback returns to", "",
			"web-v3: live (was v2; 'strata rollback web' returns to v2)\n"},
		{"an odd live value in KV is shown quoted, and rollback has nothing to return to", "v2\x1b[2J",
			"web-v3: live (was \"v2\\x1b[2J\"; 'strata rollback web' has nothing to return to)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			consul := testenv.StartConsul(t)
			nomad := nomadfake.New(t)
			for _, v := range []string{"v2", "v3"} {
				consul.Client.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{ID: "web-" + v, Name: "web",
					Tags: []string{"strata", "strata-version=" + v}, Address: "127.0.0.1", Port: 1,
					Check: &consulapi.AgentServiceCheck{TTL: "1h", Status: consulapi.HealthPassing}})
			}
			if tc.live != "" {
				if _, err := consul.Client.KV().Put(&consulapi.KVPair{Key: "strata/web/live", Value: []byte(tc.live)}, nil); err != nil {
					t.Fatal(err)
				}
			}
			dir := t.TempDir()
			cfg := writeConfig(t, dir, strings.Replace(routedWeb, "    routing:", "    update: { max_parallel: 1 }\n    routing:", 1))
			go func() {
				client := nomad.Client()
				for range 1000 {
					if d, _, err := client.Jobs().LatestDeployment("web-v3", nil); err == nil && d != nil {
						nomad.SetDeploymentHealth("web-v3", 1, 1, 1, 0)
						nomad.SetDeploymentStatus(d.ID, api.DeploymentStatusSuccessful, "Deployment completed successfully")
						return
					}
					time.Sleep(5 * time.Millisecond)
				}
			}()
			env := map[string]string{"NOMAD_ADDR": nomad.Addr(), "CONSUL_HTTP_ADDR": consul.Addr}
			code, out, errOut := run(t, env, "deploy", "web", "v3", "--promote", "-c", cfg)
			if code != ExitOK || !strings.HasSuffix(out, tc.want) || strings.Contains(out, "\x1b") {
				t.Fatalf("exit %d\n%q\nwant it to end with %q\n%s", code, out, tc.want, errOut)
			}
			kv, _, _ := consul.Client.KV().Get("strata/web/live", nil)
			if kv == nil || string(kv.Value) != "v3" {
				t.Fatalf("strata/web/live = %v", kv)
			}
		})
	}
}

// TestDeployThatFailsSaysWhyAndHowToRemoveIt fails the deployment as Nomad
// failed strata deploy web v8 --command /usr/bin/false: the command exits 1
// with the deployment's description, the allocations' task events and the
// command that removes the job.
func TestDeployThatFailsSaysWhyAndHowToRemoveIt(t *testing.T) {
	nomad := nomadfake.New(t)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, strings.Replace(routedWeb, "    routing:", "    update: { max_parallel: 1 }\n    routing:", 1))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 1000 {
			if _, ok := nomad.Job("default", "web-v8"); ok {
				nomad.FailDeployment("web-v8", "Failed due to progress deadline", nil)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	code, out, errOut := run(t, map[string]string{"NOMAD_ADDR": nomad.Addr()}, "deploy", "web", "v8", "--command", "/usr/bin/false", "-c", cfg)
	<-done
	if code != ExitError {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"web-v8: deployment failed: Failed due to progress deadline", "Terminated      Exit Code: 1",
		"Not Restarting", "remove it with: nomad job stop -purge web-v8"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}
