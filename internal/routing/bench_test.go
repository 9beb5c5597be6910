package routing_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/haproxy"
	"github.com/strata-dev/strata/internal/haproxy/haproxytest"
	"github.com/strata-dev/strata/internal/routing/measure"
)

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

// pinnedCookies returns, for each of the 8 versions, the Cookie header of a
// session in its steady state, as a browser sends it: pinned to the version
// and, from its first response on, to a server; and the address of each
// server they are pinned to.
func pinnedCookies(b *testing.B, d *design) (cookies, servers []string) {
	for v := 1; v <= 8; v++ {
		version := fmt.Sprintf("v%d", v)
		req, _ := http.NewRequest("GET", "http://"+d.front+"/", nil)
		req.Header.Set("Cookie", versionCookie+"="+version)
		resp, err := oneShot.Do(req)
		if err != nil {
			b.Fatalf("%s: pinning to %s: %v", d.name, version, err)
		}
		resp.Body.Close()
		var sc *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == serverCookie {
				sc = c
			}
		}
		if got := resp.Header.Get("X-Strata-Demo-Version"); got != version || sc == nil {
			b.Fatalf("%s: pinning to %s: answered by %q, server cookie %v", d.name, version, got, sc)
		}
		cookies = append(cookies, versionCookie+"="+version+"; "+serverCookie+"="+sc.Value)
		name := resp.Header.Get("X-Strata-Demo-Name")
		port, ok := d.ports[name]
		if !ok {
			b.Fatalf("%s: pinning to %s: answered by %q, an instance the benchmark did not start", d.name, version, name)
		}
		servers = append(servers, fmt.Sprintf("127.0.0.1:%d", port))
	}
	return cookies, servers
}

// cookieConfig is minimalConfig with the in-version stickiness strata's
// slots have (the same server cookie, dynamic, with the same key): one
// backend that pins a session to its server as strata does, without slots
// and maps.
func cookieConfig(servers []string) string {
	return strings.Replace(minimalConfig(servers), "    balance roundrobin\n",
		"    balance roundrobin\n    cookie "+serverCookie+" insert indirect nocache dynamic httponly\n    dynamic-cookie-key strata-web\n", 1)
}

// BenchmarkDataPath compares requests per second through strata's generated
// configuration, current design and frozen reload design (8 versions of 2
// servers, sessions pinned to every version and to a server in it), with
// one-backend configurations in front of the same 8 servers the pinned
// sessions reach: the same load generator, batches interleaved in the same
// run, in an order that rotates. Two baselines:
//
//   - baseline: one backend, round robin, nothing else; requests carry no
//     cookie.
//   - baseline-cookie: the same backend with strata's in-version stickiness
//     (cookie insert indirect, dynamic, the same key), sent the same cookies
//     as strata: what slots and maps add is runtime/baseline-cookie.
//
// It reports both designs' ratios to both (the goal is at least 0.95), the
// medians of the per-round ratios, which a burst of load elsewhere on the
// machine moves less, and the processor time each HAProxy spends per
// request (measure.CPU: cpu-us/req, and runtime-cpu/baseline...), steadier
// still on a machine the load generator shares. runtime/baseline16 is
// against one backend spread over all 16 servers: round robin over twice
// the servers costs the baseline itself 20-40 % on 2.6.12, so that ratio
// flatters strata.
func BenchmarkDataPath(b *testing.B) {
	eight := func(d *design) {
		for i := 1; i <= 8; i++ {
			v := fmt.Sprintf("v%d", i)
			d.backend(v, 1, i == 8)
			d.backend(v, 2, i == 8)
		}
	}
	runtime := startRuntime(b, eight)
	reload := startReload(b, eight)
	runtimeCookies, pinned := pinnedCookies(b, runtime)
	reloadCookies, _ := pinnedCookies(b, reload)
	var all []string
	for _, port := range runtime.ports {
		all = append(all, fmt.Sprintf("127.0.0.1:%d", port))
	}
	base := haproxytest.Start(b, minimalConfig(pinned))
	baseCookie := haproxytest.Start(b, cookieConfig(pinned))
	base16 := haproxytest.Start(b, minimalConfig(all))
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	pidOf := func(m *haproxy.Master) int {
		procs, err := m.Procs(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range procs {
			if p.Role == haproxy.RoleMaster {
				return p.PID
			}
		}
		b.Fatalf("the master at %s does not list itself", m.Socket)
		return 0
	}
	type target struct {
		name, url string
		cookies   []string
		pid       int
		took, cpu time.Duration
		ratios    []float64 // baseline's batch time / this one's, per round
	}
	targets := []*target{
		{name: "baseline", url: fmt.Sprintf("http://127.0.0.1:%d/", base.Port), pid: base.PID},
		{name: "baseline-cookie", url: fmt.Sprintf("http://127.0.0.1:%d/", baseCookie.Port), cookies: runtimeCookies, pid: baseCookie.PID},
		{name: "baseline16", url: fmt.Sprintf("http://127.0.0.1:%d/", base16.Port), pid: base16.PID},
		{name: "runtime", url: "http://" + runtime.front + "/", cookies: runtimeCookies, pid: pidOf(runtime.master)},
		{name: "reload", url: "http://" + reload.front + "/", cookies: reloadCookies, pid: pidOf(reload.master)},
	}
	// Warm them all up.
	for _, t := range targets {
		load(b, client, t.url, t.cookies, 200)
	}
	cpu := func(pid int) time.Duration {
		d, err := measure.CPU(pid)
		if err != nil {
			b.Fatal(err)
		}
		return d
	}

	const batch = 200
	round := 0
	b.ResetTimer()
	for b.Loop() {
		took := make([]time.Duration, len(targets))
		for i := range targets {
			j := (i + round) % len(targets)
			t := targets[j]
			c := cpu(t.pid)
			took[j] = load(b, client, t.url, t.cookies, batch)
			t.cpu += cpu(t.pid) - c
			t.took += took[j]
		}
		for j, t := range targets {
			t.ratios = append(t.ratios, took[0].Seconds()/took[j].Seconds())
		}
		round++
	}
	n := float64(b.N * batch)
	byName := map[string]*target{}
	for _, t := range targets {
		byName[t.name] = t
		b.ReportMetric(n/t.took.Seconds(), t.name+"-req/s")
		b.ReportMetric(float64(t.cpu.Microseconds())/n, t.name+"-cpu-us/req")
	}
	for _, design := range []string{"runtime", "reload"} {
		d := byName[design]
		for _, bl := range []string{"baseline", "baseline-cookie"} {
			base := byName[bl]
			b.ReportMetric(base.took.Seconds()/d.took.Seconds(), design+"/"+bl)
			b.ReportMetric(d.cpu.Seconds()/base.cpu.Seconds(), design+"-cpu/"+bl+"-cpu")
		}
		b.ReportMetric(median(d.ratios), design+"/baseline-median")
		cookie := byName["baseline-cookie"]
		var perRound []float64
		for i := range d.ratios {
			perRound = append(perRound, d.ratios[i]/cookie.ratios[i])
		}
		b.ReportMetric(median(perRound), design+"/baseline-cookie-median")
	}
	b.ReportMetric(byName["baseline16"].took.Seconds()/byName["runtime"].took.Seconds(), "runtime/baseline16")
	b.ReportMetric(byName["reload"].took.Seconds()/byName["runtime"].took.Seconds(), "runtime/reload")
}

// median is the middle value of xs (the mean of the two middle ones for an
// even count); it sorts xs.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}

// quiet is how long BenchmarkConvergence lets pass after its last write to
// Consul before it times a change. consul-template, in strata and inside
// Nomad's clients alike, lets each watched query return at most once per
// 100 ms plus up to 20 ms of dither (minDelayBetweenUpdates in its
// watch/view.go): a change that follows another to the same query within
// that window waits for it, whatever the design. The benchmark times an
// isolated change, as a deploy or a promote is.
const quiet = 150 * time.Millisecond

// BenchmarkConvergence measures, for each kind of routing change, the time
// from the write in Consul to the first request HAProxy routes accordingly,
// for the frozen reload design and the current design in the same run,
// with the template timers strata set for each (the reload design wait
// 50 ms to 1 s, the current one config's defaults, 20 ms to 1 s). Each
// iteration makes one change, times it, then undoes it untimed (and waits
// until HAProxy shows that too), so the state stays the same size however
// many iterations run. It reports ms/event (the mean) and worst-ms. The
// issue's goal: about 400 ms before, at most 100 ms after. The current
// design also times a rollout weight change (weight; issue 13), which the
// reload design did not have. runtime-task is the current design as the
// HAProxy task runs it: HAProxy under `strata haproxy run`, which applies
// at each template signal, instead of the apply step called in the
// benchmark's own process.
//
//	go test ./internal/routing -run '^$' -bench Convergence -benchtime 20x
func BenchmarkConvergence(b *testing.B) {
	strata := buildStrata(b)
	all := append(designs[:len(designs):len(designs)], struct {
		name  string
		start func(testing.TB, func(*design)) *design
	}{"runtime-task", func(tb testing.TB, setup func(*design)) *design { return startRuntimeTask(tb, strata, setup) }})
	for _, ds := range all {
		b.Run(ds.name, func(b *testing.B) {
			var extraCheck string
			d := ds.start(b, func(d *design) {
				d.backend("v1", 1, false)
				d.backend("v2", 1, true)
				_, extraCheck = d.ttlInstance(b, "extra-v1", "v1", d.serve("v1", 2), consulapi.HealthCritical)
			})
			poll := func(b *testing.B, change func() error, routed func() (bool, string)) time.Duration {
				b.Helper()
				b.StopTimer()
				time.Sleep(quiet)
				b.StartTimer()
				took, err := measure.Convergence(change, routed, time.Millisecond, 5000, 15*time.Second)
				if err != nil {
					b.Fatalf("%s: %v", d.name, err)
				}
				return took
			}
			untimed := func(b *testing.B, what string, change func() error, routed func() (bool, string)) {
				b.Helper()
				b.StopTimer()
				defer b.StartTimer()
				if _, err := measure.Convergence(change, routed, 5*time.Millisecond, 3000, 15*time.Second); err != nil {
					b.Fatalf("%s: undoing %s: %v", d.name, what, err)
				}
			}
			report := func(b *testing.B, total, worst time.Duration) {
				b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/event")
				b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
			}
			// hits reports whether one of two requests pinned to v1 reaches
			// the extra instance (round robin over two servers).
			hits := func() (bool, string) {
				var got []string
				for range 2 {
					a := d.get("/", "v1")
					if a.server == "v1-2" {
						return true, ""
					}
					got = append(got, a.String())
				}
				return false, fmt.Sprint(got)
			}

			b.Run("instance_passing", func(b *testing.B) {
				var total, worst time.Duration
				for b.Loop() {
					took := poll(b, func() error { return d.consul.Agent().UpdateTTL(extraCheck, "", consulapi.HealthPassing) }, hits)
					total, worst = total+took, max(worst, took)
					untimed(b, "the instance", func() error { return d.consul.Agent().UpdateTTL(extraCheck, "", consulapi.HealthCritical) }, func() (bool, string) {
						for range 4 {
							if ok, got := hits(); ok {
								return false, got
							}
						}
						return true, ""
					})
				}
				report(b, total, worst)
			})

			b.Run("promote", func(b *testing.B) {
				var total, worst time.Duration
				live := "v2"
				for b.Loop() {
					next := map[string]string{"v1": "v2", "v2": "v1"}[live]
					took := poll(b, func() error { return d.promote(next, live) }, func() (bool, string) {
						a := d.get("/", "")
						return a.version == next, "a new session: " + a.String()
					})
					live = next
					total, worst = total+took, max(worst, took)
				}
				report(b, total, worst)
			})

			b.Run("cohort", func(b *testing.B) {
				var total, worst time.Duration
				i := 0
				for b.Loop() {
					i++
					key, path := fmt.Sprintf("strata/web/cohorts/c%d", i), fmt.Sprintf("/c%d", i)
					took := poll(b, func() error { return d.put(key, fmt.Sprintf(`{"version":"v1","opt_in":%q}`, path)) }, func() (bool, string) {
						a := d.get(path, "")
						return a.status == 302, path + ": " + a.String()
					})
					total, worst = total+took, max(worst, took)
					untimed(b, "the cohort", func() error { return d.del(key) }, func() (bool, string) {
						a := d.get(path, "")
						return a.status == 200, path + ": " + a.String()
					})
				}
				report(b, total, worst)
			})

			b.Run("new_version", func(b *testing.B) {
				var total, worst time.Duration
				i := 0
				for b.Loop() {
					i++
					v := fmt.Sprintf("n%d", i)
					b.StopTimer()
					// A new version's instance, registered the way Nomad does,
					// its check still critical: HAProxy must not route to it.
					id, check := d.ttlInstance(b, "new-"+v, v, d.serve(v, 1), consulapi.HealthCritical)
					if a := d.get("/", v); a.version == v {
						b.Fatalf("%s: %s routed while critical", d.name, v)
					}
					b.StartTimer()
					took := poll(b, func() error { return d.consul.Agent().UpdateTTL(check, "", consulapi.HealthPassing) }, func() (bool, string) {
						a := d.get("/", v)
						return a.version == v, "pinned to " + v + ": " + a.String()
					})
					total, worst = total+took, max(worst, took)
					untimed(b, "the version", func() error { return d.consul.Agent().ServiceDeregister(id) }, func() (bool, string) {
						a := d.get("/", v)
						return a.version != v && a.status == 200, "pinned to " + v + ": " + a.String()
					})
				}
				report(b, total, worst)
			})

			// weight: a rollout's share of new sessions (issue 13), beside
			// promote: strata/web/rollout goes from weight 0 to 100 for the
			// candidate v1 while v2 is live, timed until a new session lands
			// on v1; back to 0 untimed.
			b.Run("weight", func(b *testing.B) {
				if d.name == "reload" {
					b.Skip("the reload design has no rollout weights")
				}
				rollout := func(weight int) func() error {
					return func() error {
						return d.put("strata/web/rollout", fmt.Sprintf(`{"candidate":"v1","stable":"v2","weight":%d,"step":1,"state":"running"}`, weight))
					}
				}
				newSessionOn := func(v string) func() (bool, string) {
					return func() (bool, string) {
						a := d.get("/", "")
						return a.version == v, "a new session: " + a.String()
					}
				}
				untimed(b, "the live version", func() error { return d.promote("v2", "v1") }, newSessionOn("v2"))
				var total, worst time.Duration
				for b.Loop() {
					took := poll(b, rollout(100), newSessionOn("v1"))
					total, worst = total+took, max(worst, took)
					untimed(b, "the weight", rollout(0), newSessionOn("v2"))
				}
				report(b, total, worst)
			})
		})
	}
}
