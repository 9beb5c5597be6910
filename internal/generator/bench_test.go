package generator

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/strata-dev/strata/internal/config"
)

// benchConfig is 1,000 web apps of 8 versions each: 8,000 jobs.
func benchConfig(b *testing.B) *config.Config {
	b.Helper()
	var sb strings.Builder
	sb.WriteString("created: \"2026-11-01T00:00:00Z\"\ndatacenters: [dc1, dc2]\napps:\n")
	for i := range 1000 {
		fmt.Fprintf(&sb, `  app%d:
    driver: docker
    image: "registry.example.com/app%d:{{version}}"
    args: ["--listen=:${NOMAD_PORT_http}", "--version={{version}}"]
    ports: { http: {}, metrics: { to: 9090 } }
    service:
      port: http
      tags: [public, team-%d]
      check: { path: /healthz, interval: 5s, timeout: 2s }
    count: 2
    resources: { cpu: 200, memory: 256 }
    env: { APP_VERSION: "{{version}}", LOG_LEVEL: info }
    constraints: [{ attribute: "${attr.kernel.name}", value: linux }]
    update: { min_healthy_time: 10s, healthy_deadline: 3m, auto_revert: true }
    shutdown_delay: 30s
    kill_timeout: 1h
    versions: [v1, v2, v3, v4, v5, v6, v7, v8]
    live: v8
`, i, i, i%7)
	}
	cfg, err := config.Parse("bench.yaml", []byte(sb.String()), config.Options{LookupEnv: noEnv})
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// BenchmarkRender is the whole render of 8,000 jobs in memory: building the
// api.Job values, HCL and JSON. Compare it with BenchmarkRenderBaselineMarshal
// from the same run: the goal is within 3x of it.
func BenchmarkRender(b *testing.B) {
	cfg := benchConfig(b)
	b.ReportAllocs()
	for b.Loop() {
		files, err := Render(cfg)
		if err != nil || len(files) != 16000+2 { // 8,000 versions and the sweeper job
			b.Fatal(err, len(files))
		}
	}
}

// BenchmarkRenderBaselineMarshal only runs json.Marshal over the same
// api.Job values, built before the timer starts.
func BenchmarkRenderBaselineMarshal(b *testing.B) {
	jobs := Jobs(benchConfig(b))
	b.ReportAllocs()
	for b.Loop() {
		for _, j := range jobs {
			if _, err := json.Marshal(j); err != nil {
				b.Fatal(err)
			}
		}
	}
}
