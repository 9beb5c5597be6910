package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/naming"
	"github.com/strata-dev/strata/internal/testenv"
)

const routedWeb = `apps:
  web:
    driver: raw_exec
    command: /usr/local/bin/strata
    args: [demo, serve, --version, "{{version}}"]
    ports: { http: {} }
    service: { check: { path: /healthz } }
    versions: [v1, v2]
    live: v2
    routing: { bind: "127.0.0.1:18090" }
`

func TestHAProxyCheckRendersFromConsulAndValidates(t *testing.T) {
	testenv.RequireBinary(t, "haproxy")
	consul := testenv.StartConsul(t)
	for i, v := range []string{"v1", "v2"} {
		err := consul.Client.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{
			ID: "_nomad-task-a" + v + "-web-web-web-http", Name: "web", Tags: []string{"strata", naming.VersionTag(v)},
			Address: "127.0.0.1", Port: 20100 + i, Meta: map[string]string{naming.ServiceMetaOrder: naming.SortKey(v)},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	cfg := writeConfig(t, dir, routedWeb)
	out := filepath.Join(dir, "haproxy")
	code, stdout, stderr := run(t, map[string]string{"CONSUL_HTTP_ADDR": consul.Addr}, "haproxy", "check", "-c", cfg, "--out", out)
	if code != ExitOK {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "Configuration file is valid") {
		t.Errorf("stdout: %s", stdout)
	}
	m, _ := os.ReadFile(filepath.Join(out, "versions.map"))
	if !strings.Contains(string(m), "web/v1 v1") || !strings.Contains(string(m), "web/v2 v2") {
		t.Errorf("versions.map:\n%s", m)
	}
}

func TestHAProxyRenderWithoutRoutedAppsSaysSo(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, webV1V2)
	code, _, stderr := run(t, nil, "haproxy", "render", "--once", "-c", cfg, "--out", filepath.Join(dir, "h"))
	if code != ExitError || !strings.Contains(stderr, "no app in") {
		t.Errorf("exit %d, stderr %s", code, stderr)
	}
}
