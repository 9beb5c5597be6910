package routing_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/strata-dev/strata/internal/routing/measure"
)

// churnEvents is how many routing changes a churn run makes.
const churnEvents = 200

// churnGap is the pause between two events: 200 events take about 20 s.
const churnGap = 100 * time.Millisecond

// churnVersions run throughout; v4 comes and goes.
var churnVersions = []string{"v1", "v2", "v3"}

// churnApp is the state a churn run starts from: v1, v2 (live) and v3, each
// with an instance whose HTTP check always passes and one whose TTL check
// flaps; v4's server runs but is not registered yet.
type churnApp struct {
	flappers map[string]string // version -> TTL check ID
	v4Port   int
}

func setupChurn(tb testing.TB, c *churnApp) func(d *design) {
	return func(d *design) {
		c.flappers = map[string]string{}
		for _, v := range churnVersions {
			d.backend(v, 1, v == "v2")
			_, check := d.ttlInstance(tb, "flapper-"+v, v, d.serve(v, 2), consulapi.HealthPassing)
			c.flappers[v] = check
		}
		c.v4Port = d.serve("v4", 1)
		if err := d.put("strata/web/live", "v2"); err != nil {
			tb.Fatal(err)
		}
	}
}

// churnEvent is event i of a churn run: a cycle of ten kinds of change.
// Every version named by a cookie in the request loop runs throughout or
// falls back to live, so no request has a reason to fail.
func (c *churnApp) churnEvent(tb testing.TB, d *design, i int) (string, error) {
	flapper := c.flappers[churnVersions[(i/10)%len(churnVersions)]]
	switch i % 10 {
	case 0:
		return "instance critical", d.consul.Agent().UpdateTTL(flapper, "", consulapi.HealthCritical)
	case 1:
		return "instance passing", d.consul.Agent().UpdateTTL(flapper, "", consulapi.HealthPassing)
	case 2:
		d.ttlInstance(tb, "v4-1", "v4", c.v4Port, consulapi.HealthPassing)
		return "version added", nil
	case 3:
		return "cohort set", d.put("strata/web/cohorts/beta", `{"version":"v3","opt_in":"/beta","opt_out":"/beta-out"}`)
	case 4:
		return "promote", d.promote("v3", "v2")
	case 5:
		return "drain", d.put("strata/web/draining/v1", "churn")
	case 6:
		return "version removed", d.consul.Agent().ServiceDeregister("v4-1")
	case 7:
		return "cohort rm", d.del("strata/web/cohorts/beta")
	case 8:
		return "rollback", d.promote("v2", "v3")
	default:
		return "undrain", d.del("strata/web/draining/v1")
	}
}

// churnResult is what one churn run saw.
type churnResult struct {
	design       string
	elapsed      time.Duration
	requests     int64
	failed       int64
	firstFailure string
	streams      int
	deadStreams  []string
	watch        measure.WatchResult
	after        measure.Footprint
}

// runChurn makes churnEvents changes on d while a bounded request loop runs
// and streams long-lived streams are open (the first before the first event,
// the others spread over the run, each pinned to a version in turn, as
// sessions start at any time), waits until HAProxy routes the final state,
// and measures what is left.
func runChurn(tb testing.TB, d *design, c *churnApp, streams int) churnResult {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := churnResult{design: d.name, streams: streams}
	start := time.Now()

	var opened []*stream
	openEvery := churnEvents / streams
	opened = append(opened, d.openStream(tb, ctx, "v1"))

	w, err := measure.StartWatch(ctx, d.master, 20*time.Millisecond, 5000)
	if err != nil {
		tb.Fatal(err)
	}

	// The request loop: 4 clients, a new connection per request, sessions
	// new and pinned to every version, until the events are done or 100,000
	// requests were sent.
	var sent, failed atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	pins := []string{"", "v1", "v2", "v3", "v4"}
	for worker := range 4 {
		wg.Go(func() {
			for i := worker; sent.Load() < 100000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				sent.Add(1)
				a := d.get("/", pins[i%len(pins)])
				if a.err != nil || a.status != 200 {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("pinned to %q: %s", pins[i%len(pins)], a))
				}
			}
		})
	}

	for i := range churnEvents {
		if i > 0 && i%openEvery == 0 && len(opened) < streams {
			opened = append(opened, d.openStream(tb, ctx, churnVersions[len(opened)%len(churnVersions)]))
		}
		if what, err := c.churnEvent(tb, d, i); err != nil {
			tb.Fatalf("%s: event %d (%s): %v", d.name, i, what, err)
		}
		time.Sleep(churnGap)
	}

	// The final state: v2 live, v1 pinnable again, no cohort, no v4.
	settled := func() (bool, string) {
		if a := d.get("/", ""); a.version != "v2" {
			return false, "a new session: " + a.String()
		}
		if a := d.get("/", "v1"); a.version != "v1" {
			return false, "pinned to v1: " + a.String()
		}
		if a := d.get("/beta", ""); a.status != 200 {
			return false, "/beta: " + a.String()
		}
		if a := d.get("/", "v4"); a.version != "v2" {
			return false, "pinned to v4: " + a.String()
		}
		return true, ""
	}
	if _, err := measure.Convergence(func() error { return nil }, settled, 20*time.Millisecond, 500, 15*time.Second); err != nil {
		tb.Errorf("%s: the final state: %v", d.name, err)
	}
	close(stop)
	wg.Wait()
	r.watch = w.Stop()
	r.requests, r.failed = sent.Load(), failed.Load()
	if f := firstFailure.Load(); f != nil {
		r.firstFailure = f.(string)
	}
	for _, st := range opened {
		if ok, why := st.alive(2 * time.Second); !ok {
			r.deadStreams = append(r.deadStreams, why)
		}
	}
	r.after = settledFootprint(tb, d)
	r.elapsed = time.Since(start)
	return r
}

// settledFootprint measures d's HAProxy once its worker count holds still
// over two samples 200 ms apart (old workers without a session exit within
// moments of a reload), at most 25 samples.
func settledFootprint(tb testing.TB, d *design) measure.Footprint {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var last measure.Footprint
	for attempt := range 25 {
		f, err := measure.Measure(ctx, d.master)
		if err != nil {
			tb.Fatalf("%s: %v", d.name, err)
		}
		if attempt > 0 && f.Workers() == last.Workers() {
			return f
		}
		last = f
		time.Sleep(200 * time.Millisecond)
	}
	return last
}

func (r churnResult) String() string {
	return fmt.Sprintf("%s design: %d events in %s; %d requests, %d failed; %d streams, %d dead; workers: %d before, %d started (at most %d new alive at once), %d reloads; after: %s",
		r.design, churnEvents, r.elapsed.Round(time.Millisecond), r.requests, r.failed, r.streams, len(r.deadStreams),
		len(r.watch.Before), len(r.watch.New), r.watch.MaxNewWorkers, r.watch.Reloads, r.after)
}

// BenchmarkChurnFootprint runs the 200-event churn with 10 long-lived
// streams open (opened along the run, as sessions start at any time) on
// the frozen reload design and on the current design, in the same run, and
// reports what HAProxy holds afterwards: processes (master and workers),
// total RSS and PSS in MiB, and the reloads the churn caused. A reload
// leaves the worker that serves a stream alive until the stream ends, so the
// reload design keeps up to one worker per stream; the goal is one worker.
// Each iteration is a whole run (about 25 s per design):
//
//	go test ./internal/routing -run '^$' -bench ChurnFootprint -benchtime 1x
func BenchmarkChurnFootprint(b *testing.B) {
	for _, ds := range designs {
		b.Run(ds.name, func(b *testing.B) {
			var r churnResult
			for b.Loop() {
				var c churnApp
				d := ds.start(b, setupChurn(b, &c))
				r = runChurn(b, d, &c, 10)
			}
			b.Log(r)
			if r.failed != 0 || len(r.deadStreams) != 0 {
				b.Logf("%s: %d requests failed (first: %s); dead streams: %v", ds.name, r.failed, r.firstFailure, r.deadStreams)
			}
			b.ReportMetric(float64(r.after.Processes()), "processes")
			b.ReportMetric(float64(r.after.RSS())/(1<<20), "rss-MiB")
			b.ReportMetric(float64(r.after.PSS())/(1<<20), "pss-MiB")
			b.ReportMetric(float64(r.watch.Reloads), "reloads")
			b.ReportMetric(float64(r.failed), "failed-requests")
			b.ReportMetric(float64(len(r.deadStreams)), "dead-streams")
		})
	}
}
