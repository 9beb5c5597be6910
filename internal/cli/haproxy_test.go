package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
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
	// A short $TMPDIR of the test's own, to see what check leaves there.
	tmp, err := os.MkdirTemp("/tmp", "h")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	env := map[string]string{"CONSUL_HTTP_ADDR": consul.Addr}
	t.Setenv("TMPDIR", tmp)
	code, stdout, stderr := run(t, env, "haproxy", "check", "-c", cfg)
	if code != ExitOK {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "haproxy -c accepts the configuration rendered from Consul") || !strings.Contains(stdout, "Configuration file is valid") {
		t.Errorf("stdout: %s", stdout)
	}
	for _, d := range []string{dir, tmp} {
		if entries, _ := os.ReadDir(d); d == tmp && len(entries) != 0 || d == dir && len(entries) != 1 {
			t.Errorf("check left files in %s: %v", d, entries)
		}
	}

	t.Run("an interrupted check reports nothing checked, even beside an earlier render", func(t *testing.T) {
		// A stale, valid render where the old check wrote its files.
		stale := filepath.Join(dir, "haproxy")
		os.MkdirAll(stale, 0o755)
		os.WriteFile(filepath.Join(stale, "haproxy.cfg"), []byte("global\n"), 0o644)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var out, errOut bytes.Buffer
		c := &CLI{Stdout: &out, Stderr: &errOut, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
		code := c.RunContext(ctx, []string{"haproxy", "check", "-c", cfg})
		if code == ExitOK || !strings.Contains(errOut.String(), "interrupted") || strings.Contains(out.String(), "valid") {
			t.Errorf("exit %d\nstdout %s\nstderr %s", code, out.String(), errOut.String())
		}
		if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
			t.Errorf("an interrupted check left %v", entries)
		}
	})
	t.Run("a configuration HAProxy rejects is shown with its line numbers", func(t *testing.T) {
		fake := filepath.Join(t.TempDir(), "haproxy")
		os.WriteFile(fake, []byte("#!/bin/sh\necho \"[ALERT] parsing [$3:3] : unknown keyword\"\nexit 1\n"), 0o755)
		code, stdout, stderr := run(t, env, "haproxy", "check", "-c", cfg, "--haproxy", fake)
		if code != ExitError || !strings.Contains(stderr, "haproxy -c rejects the configuration rendered from Consul") ||
			!strings.Contains(stderr, "unknown keyword") || !strings.Contains(stderr, "    3  ") || strings.Contains(stdout, "accepts") {
			t.Errorf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
		}
	})
	t.Run("the global --out is refused instead of meaning something else", func(t *testing.T) {
		code, _, stderr := run(t, env, "haproxy", "check", "-c", cfg, "--out", filepath.Join(dir, "x"))
		if code != ExitUsage || !strings.Contains(stderr, "--out is the directory of generated jobs") {
			t.Errorf("exit %d, stderr %s", code, stderr)
		}
	})
	t.Run("render writes into --dir", func(t *testing.T) {
		out := filepath.Join(dir, "rendered")
		code, stdout, stderr := run(t, env, "haproxy", "render", "--once", "-c", cfg, "--dir", out)
		m, _ := os.ReadFile(filepath.Join(out, "versions.map"))
		if code != ExitOK || !regexp.MustCompile(`(?m)^web/v1 be_web_\d+$`).Match(m) || !regexp.MustCompile(`(?m)^web/v2 be_web_\d+$`).Match(m) {
			t.Errorf("exit %d\nstdout %s\nstderr %s\nversions.map:\n%s", code, stdout, stderr, m)
		}
	})
	t.Run("a --stats-bind that would inject a line is a usage error", func(t *testing.T) {
		code, _, stderr := run(t, env, "haproxy", "render", "--once", "-c", cfg, "--dir", filepath.Join(dir, "inj"), "--stats-bind", "127.0.0.1:8404\n    bind :1")
		if code != ExitUsage || !strings.Contains(stderr, "--stats-bind") || !strings.Contains(stderr, "not host:port") {
			t.Errorf("exit %d, stderr %s", code, stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "inj")); err == nil {
			t.Errorf("a refused render created its directory")
		}
	})
}

func TestHAProxyRenderOnceWithConsulDownFails(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the bounded retries; -short skips it")
	}
	dir := t.TempDir()
	cfg := writeConfig(t, dir, routedWeb)
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePorts(t, 1)[0])
	code, _, stderr := run(t, map[string]string{"CONSUL_HTTP_ADDR": addr}, "haproxy", "render", "--once", "-c", cfg, "--dir", filepath.Join(dir, "h"))
	if code != ExitError || !strings.Contains(stderr, addr) || !strings.Contains(stderr, "CONSUL_HTTP_ADDR") || !strings.Contains(stderr, "no Consul agent answers there") {
		t.Errorf("exit %d, stderr %s", code, stderr)
	}
}

func TestHAProxyRenderWithoutRoutedAppsSaysSo(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, webV1V2)
	code, _, stderr := run(t, nil, "haproxy", "render", "--once", "-c", cfg, "--dir", filepath.Join(dir, "h"))
	if code != ExitError || !strings.Contains(stderr, "no app in") {
		t.Errorf("exit %d, stderr %s", code, stderr)
	}
}
