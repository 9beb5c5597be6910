package cli

import (
	"fmt"
	"strings"
	"testing"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/release"
	"github.com/strata-dev/strata/internal/testenv"
)

const releasedWeb = `apps:
  web:
    driver: raw_exec
    command: /usr/local/bin/strata
    args: [demo, serve, --version, "{{version}}"]
    ports: { http: {} }
    service: { check: { path: /healthz } }
    versions: [v1, v2, v3]
    live: v1
  transcoder:
    kind: worker
    driver: raw_exec
    command: /usr/local/bin/transcoder
    args: ["--version={{version}}"]
    versions: [v1]
`

// releaseEnv is a real Consul with web v1, v2 and v3 passing, and a
// strata.yaml naming them.
type releaseEnv struct {
	consul *testenv.Consul
	env    map[string]string
	cfg    string
}

func startRelease(t *testing.T) *releaseEnv {
	t.Helper()
	consul := testenv.StartConsul(t)
	for _, v := range []string{"v1", "v2", "v3"} {
		err := consul.Client.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{
			ID: "web-" + v, Name: "web", Address: "127.0.0.1", Port: 8000,
			Tags:  []string{naming.TagManaged, naming.VersionTag(v)},
			Check: &consulapi.AgentServiceCheck{CheckID: "ttl-web-" + v, TTL: "1h", Status: consulapi.HealthPassing},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return &releaseEnv{consul: consul, env: map[string]string{"CONSUL_HTTP_ADDR": consul.Addr}, cfg: writeConfig(t, t.TempDir(), releasedWeb)}
}

// strata runs one command line through Run, with the release
// environment and configuration.
func (r *releaseEnv) strata(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return run(t, r.env, append(args, "-c", r.cfg)...)
}

func (r *releaseEnv) live(t *testing.T) (string, []string) {
	t.Helper()
	live, hist, err := release.Live(t.Context(), r.consul.Client.KV(), "web")
	if err != nil {
		t.Fatal(err)
	}
	return live, hist
}

func TestPromoteAndRollbackCommands(t *testing.T) {
	r := startRelease(t)
	steps := []struct {
		name    string
		args    []string
		code    int
		says    string
		live    string
		history string
	}{
		{"promoting strata.yaml's live version changes nothing", []string{"promote", "web", "v1"}, ExitOK, "v1 is already live; nothing changed", "", "[]"},
		{"promote records strata.yaml's live version as the previous one", []string{"promote", "web", "v2"}, ExitOK, "v2 is live (was v1;", "v2", "[v1]"},
		{"promote moves on", []string{"promote", "web", "v3"}, ExitOK, "v3 is live (was v2;", "v3", "[v1 v2]"},
		{"promoting the live version again changes nothing", []string{"promote", "web", "v3"}, ExitOK, "already live", "v3", "[v1 v2]"},
		{"a version that does not run is refused", []string{"promote", "web", "v9"}, ExitError, "web v9 has no passing instance", "v3", "[v1 v2]"},
		{"an invalid version is a usage error", []string{"promote", "web", "V_9"}, ExitUsage, "not a valid version", "v3", "[v1 v2]"},
		{"an app strata.yaml does not name is refused", []string{"promote", "api", "v1"}, ExitUsage, `no app named "api" (apps: transcoder, web)`, "v3", "[v1 v2]"},
		{"a worker app is refused", []string{"promote", "transcoder", "v1"}, ExitUsage, "transcoder is a worker app", "v3", "[v1 v2]"},
		{"a missing version is a usage error", []string{"promote", "web"}, ExitUsage, "accepts 2 arg(s)", "v3", "[v1 v2]"},
		{"rollback returns to the previous version", []string{"rollback", "web"}, ExitOK, "rolled back from v3 to v2", "v2", "[v1]"},
		{"rollback again", []string{"rollback", "web"}, ExitOK, "rolled back from v2 to v1", "v1", "[]"},
		{"rollback with no history is refused", []string{"rollback", "web"}, ExitError, "nothing to roll back to", "v1", "[]"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			code, out, errOut := r.strata(t, s.args...)
			if code != s.code || !strings.Contains(out+errOut, s.says) {
				t.Errorf("exit %d, want %d saying %q\nstdout: %s\nstderr: %s", code, s.code, s.says, out, errOut)
			}
			live, hist := r.live(t)
			if live != s.live || fmt.Sprint(hist) != s.history {
				t.Errorf("live %q history %v, want %q %s", live, hist, s.live, s.history)
			}
		})
	}
}

func TestRollbackCommandSaysWhatItSkipped(t *testing.T) {
	r := startRelease(t)
	for _, v := range []string{"v2", "v3"} {
		if code, out, errOut := r.strata(t, "promote", "web", v); code != ExitOK {
			t.Fatalf("promote %s: %d %s%s", v, code, out, errOut)
		}
	}
	// history is [v1 v2]; v2 stops running.
	if err := r.consul.Client.Agent().ServiceDeregister("web-v2"); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := r.strata(t, "rollback", "web")
	if code != ExitOK || !strings.Contains(out, "rolled back from v3 to v1") || !strings.Contains(errOut, "skipped v2: no passing instance") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}

func TestPromoteNamesTheVersionRollbackWillUse(t *testing.T) {
	r := startRelease(t)
	if code, out, errOut := r.strata(t, "promote", "web", "v2"); code != ExitOK || !strings.Contains(out, "'strata rollback web' returns to v1") {
		t.Fatalf("promote v2: %d %s%s", code, out, errOut)
	}
	// v2, the live version, stops: a rollback after the next promote skips it.
	if err := r.consul.Client.Agent().ServiceDeregister("web-v2"); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := r.strata(t, "promote", "web", "v3")
	if code != ExitOK || !strings.Contains(out, "v3 is live (was v2; 'strata rollback web' returns to v1)") {
		t.Fatalf("promote v3: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	code, out, errOut = r.strata(t, "rollback", "web")
	if code != ExitOK || !strings.Contains(out, "rolled back from v3 to v1") {
		t.Errorf("rollback went elsewhere than promote said: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	// Nothing left to roll back to: promote says so instead of naming one.
	code, out, _ = r.strata(t, "promote", "web", "v3")
	if code != ExitOK || !strings.Contains(out, "'strata rollback web' returns to v1") {
		t.Errorf("promote v3 over v1: %s", out)
	}
	if err := r.consul.Client.Agent().ServiceDeregister("web-v1"); err != nil {
		t.Fatal(err)
	}
	r.strata(t, "rollback", "web") // refused: v1 no longer runs
	if _, err := r.consul.Client.KV().Delete(release.HistoryKey("web"), nil); err != nil {
		t.Fatal(err)
	}
	r.consul.Client.KV().Put(&consulapi.KVPair{Key: release.LiveKey("web"), Value: []byte("v2")}, nil)
	code, out, errOut = r.strata(t, "promote", "web", "v3")
	if code != ExitOK || !strings.Contains(out, "'strata rollback web' has nothing to return to") {
		t.Errorf("promote with no rollback target: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}

func TestPromoteAndRollbackEscapeWhatKVHolds(t *testing.T) {
	r := startRelease(t)
	kv := r.consul.Client.KV()
	kv.Put(&consulapi.KVPair{Key: release.LiveKey("web"), Value: []byte("v1\x1b]0;pwned\x07\nfake")}, nil)
	code, out, errOut := r.strata(t, "promote", "web", "v2")
	if code != ExitOK || strings.ContainsAny(out+errOut, "\x1b\x07") || !strings.Contains(out, `was "v1\x1b]0;pwned\a\nfake"`) {
		t.Errorf("promote over a hostile live value: exit %d\nstdout: %q\nstderr: %q", code, out, errOut)
	}
	kv.Put(&consulapi.KVPair{Key: release.HistoryKey("web"), Value: []byte(`["v1","v3\u001b[2J"]`)}, nil)
	code, out, errOut = r.strata(t, "rollback", "web")
	if code != ExitOK || strings.ContainsAny(out+errOut, "\x1b\x07") || !strings.Contains(errOut, `skipped "v3\x1b[2J": not a valid version`) ||
		!strings.Contains(out, "rolled back from v2 to v1") {
		t.Errorf("rollback over a hostile history: exit %d\nstdout: %q\nstderr: %q", code, out, errOut)
	}
}
