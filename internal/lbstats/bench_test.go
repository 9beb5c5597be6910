//go:build unix

package lbstats_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/haproxy/haproxytest"
	"github.com/strata-dev/strata/internal/lbstats"
)

// BenchmarkCollect measures one count of an HAProxy shaped like strata's
// defaults for 10 apps (8 slots each, 16 pre-allocated servers per slot:
// 80 backends, 1,280 servers, 80 slots.map entries) with two workers, the
// old one holding a stream, in the same run:
//
//   - full-stat: the count before slots, "show proc", then every worker's
//     whole "show stat" (1,280 server rows), then "show proc": the baseline;
//   - sessions: Master.Sessions, every worker's BACKEND rows alone;
//   - collect: Collect, every worker's BACKEND rows and its slots.map, read
//     before and after them.
func BenchmarkCollect(b *testing.B) {
	const apps, slotsPerApp, servers = 10, 8, 16
	backend := streamingBackend(b)
	var cfg, slotsMap strings.Builder
	cfg.WriteString(`global
    stats socket {{admin}} mode 600 level admin expose-fd listeners
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:{{port}}
    http-request set-var(txn.slot) str(),map({{dir}}/slots.map) if FALSE
    default_backend be_app0_1
`)
	for a := range apps {
		for n := 1; n <= slotsPerApp; n++ {
			fmt.Fprintf(&cfg, "backend be_app%d_%d\n    server-template s 1-%d strata.invalid:1 init-addr last,0.0.0.0 disabled\n", a, n, servers)
			fmt.Fprintf(&slotsMap, "be_app%d_%d app%d/v%d\n", a, n, a, n)
		}
	}
	cfg.WriteString("backend be_app0_1_stream\n    server s1 " + backend + "\n")
	p := haproxytest.Start(b, strings.Replace(cfg.String(), "default_backend be_app0_1\n", "default_backend be_app0_1_stream\n", 1),
		haproxytest.WithFile("slots.map", slotsMap.String()))
	m := p.Master()
	holdStream(b, p.Port)
	if _, err := p.Reload(context.Background()); err != nil {
		b.Fatal(err)
	}
	r, err := lbstats.Collect(context.Background(), m, time.Now, "node-1")
	if err != nil {
		b.Fatal(err)
	}
	if r.Workers != 2 || len(r.Versions) != apps {
		b.Fatalf("the HAProxy under test has %d workers and %d apps, want 2 and %d", r.Workers, len(r.Versions), apps)
	}
	fullStat := func() {
		procs, err := m.Procs(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range procs {
			if p.Worker() {
				if _, err := m.Stat(context.Background(), p.PID); err != nil {
					b.Fatal(err)
				}
			}
		}
		if _, err := m.Procs(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	var tCollect, tSessions, tFull time.Duration
	for b.Loop() {
		start := time.Now()
		fullStat()
		tFull += time.Since(start)
		start = time.Now()
		if _, err := lbstats.Collect(context.Background(), m, time.Now, "node-1"); err != nil {
			b.Fatal(err)
		}
		tCollect += time.Since(start)
		start = time.Now()
		if _, err := m.Sessions(context.Background()); err != nil {
			b.Fatal(err)
		}
		tSessions += time.Since(start)
	}
	n := float64(b.N)
	b.ReportMetric(tFull.Seconds()*1e3/n, "full-stat-ms")
	b.ReportMetric(tSessions.Seconds()*1e3/n, "sessions-ms")
	b.ReportMetric(tCollect.Seconds()*1e3/n, "collect-ms")
	b.ReportMetric(tCollect.Seconds()/tFull.Seconds(), "collect/full-stat")
	b.ReportMetric(tCollect.Seconds()/tSessions.Seconds(), "collect/sessions")
}

// holdStream opens a streaming request through HAProxy at port that stays
// open until the benchmark ends (openStream's gives up after patience).
func holdStream(b *testing.B, port int) {
	b.Helper()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	if _, err := fmt.Fprintf(c, "GET /recording HTTP/1.1\r\nHost: bench\r\n\r\n"); err != nil {
		b.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(patience))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
		b.Fatalf("streaming through HAProxy: %q, %v", line, err)
	}
	c.SetReadDeadline(time.Time{})
}
