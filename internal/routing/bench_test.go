package routing_test

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/haproxy/haproxytest"

	"github.com/strata-dev/strata/internal/routing/routingtest"
)

// eightVersions runs 8 versions of 2 demo servers each.
func eightVersions(s *routingtest.Stack) {
	for i := 1; i <= 8; i++ {
		v := fmt.Sprintf("v%d", i)
		s.Backend(v, 1, i == 8)
		s.Backend(v, 2, i == 8)
	}
}

// minimalConfig is the baseline: one frontend, one backend with the same 16
// servers, nothing else.
func minimalConfig(servers []string) string {
	cfg := `global
    log stderr format short local0 warning
defaults
    mode http
    timeout connect 5s
    timeout client 1m
    timeout server 1m
frontend fe
    bind 127.0.0.1:{{port}}
    default_backend be
backend be
    balance roundrobin
`
	for i, s := range servers {
		cfg += fmt.Sprintf("    server s%d %s\n", i, s)
	}
	return cfg
}

// load sends n requests over 4 keep-alive connections, the Cookie header of
// each request cycling through cookies (none when empty), and fails on any
// answer but 200.
func load(b *testing.B, client *http.Client, url string, cookies []string, n int) time.Duration {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failure error
	start := time.Now()
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				req, _ := http.NewRequest("GET", url, nil)
				if len(cookies) > 0 {
					req.Header.Set("Cookie", cookies[i%len(cookies)])
				}
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					mu.Lock()
					failure = err
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if failure != nil {
		b.Fatal(failure)
	}
	return time.Since(start)
}

// BenchmarkDataPath compares requests per second through strata's generated
// configuration (8 versions of 2 servers, cookie map, sessions pinned to
// every version and to a server in it) with a minimal one-backend
// configuration in front of the same 16 servers: the same load generator,
// batches interleaved in the same run. The goal is a ratio of at least 0.95.
func BenchmarkDataPath(b *testing.B) {
	s := routingtest.Start(b, eightVersions, webApp())
	services, _, err := s.Consul.Client.Catalog().Service("web", "", nil)
	if err != nil {
		b.Fatal(err)
	}
	var servers []string
	for _, svc := range services {
		servers = append(servers, fmt.Sprintf("%s:%d", svc.ServiceAddress, svc.ServicePort))
	}
	base := haproxytest.Start(b, minimalConfig(servers))
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	// Sessions in their steady state, as a browser sends them: pinned to
	// one of the 8 versions and, from its first response on, to a server.
	var cookies []string
	for v := 1; v <= 8; v++ {
		version := fmt.Sprintf("v%d", v)
		a := s.Get("/", map[string]string{"strata_version": version}, nil)
		sc := a.Cookies["strata_server"]
		if a.Version != version || sc == nil {
			b.Fatalf("pinning to %s: answered by %q, server cookie %v", version, a.Version, sc)
		}
		cookies = append(cookies, "strata_version="+version+"; strata_server="+sc.Value)
	}
	baseURL := fmt.Sprintf("http://127.0.0.1:%d/", base.Port)
	strataURL := "http://" + s.Front + "/"
	// Warm both up.
	load(b, client, baseURL, nil, 200)
	load(b, client, strataURL, cookies, 200)

	const batch = 500
	var tBase, tStrata time.Duration
	b.ResetTimer()
	for b.Loop() {
		tBase += load(b, client, baseURL, nil, batch)
		tStrata += load(b, client, strataURL, cookies, batch)
	}
	n := float64(b.N * batch)
	b.ReportMetric(n/tBase.Seconds(), "baseline-req/s")
	b.ReportMetric(n/tStrata.Seconds(), "strata-req/s")
	b.ReportMetric(tBase.Seconds()/tStrata.Seconds(), "strata/baseline")
}

// BenchmarkConvergence measures, with strata's template settings (wait
// 50 ms to 1 s, no splay, a 50 ms settle before the reload), the time from a
// new version's instance turning passing in Consul to the first request
// HAProxy routes to it. The goal is at most 1 s.
func BenchmarkConvergence(b *testing.B) {
	s := routingtest.StartWait(b, twoVersions, webApp(), 50*time.Millisecond, time.Second)
	var worst time.Duration
	var total time.Duration
	i := 0
	for b.Loop() {
		i++
		v := fmt.Sprintf("n%d", i)
		b.StopTimer()
		// A new version's instance, registered the way Nomad does, its
		// check still critical: HAProxy must not route to it yet.
		port := s.Serve(v, 1)
		id := fmt.Sprintf("_nomad-task-conv-%d-web-web-web-http", i)
		check := id + "-ttl"
		err := s.Consul.Client.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{
			ID: id, Name: "web", Tags: []string{"strata", "strata-version=" + v}, Address: "127.0.0.1", Port: port,
			Check: &consulapi.AgentServiceCheck{CheckID: check, TTL: "1h", Status: consulapi.HealthCritical},
		})
		if err != nil {
			b.Fatal(err)
		}
		if a := s.Get("/", map[string]string{"strata_version": v}, nil); a.Version == v {
			b.Fatalf("%s routed while critical", v)
		}
		b.StartTimer()
		start := time.Now()
		if err := s.Consul.Client.Agent().UpdateTTL(check, "", consulapi.HealthPassing); err != nil {
			b.Fatal(err)
		}
		for attempt := 0; ; attempt++ {
			a := s.Get("/", map[string]string{"strata_version": v}, nil)
			if a.Version == v {
				break
			}
			if attempt > 2000 {
				b.Fatalf("%s never routed", v)
			}
			time.Sleep(2 * time.Millisecond)
		}
		d := time.Since(start)
		total += d
		worst = max(worst, d)
	}
	b.ReportMetric(float64(worst.Milliseconds()), "worst-ms")
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "mean-ms")
}
