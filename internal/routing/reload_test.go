package routing_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/routing/apply"
	"github.com/strata-dev/strata/internal/routing/routingtest"
)

func twoVersions(s *routingtest.Stack) {
	s.Backend("v1", 1, false)
	s.Backend("v2", 1, true)
	s.Backend("v2", 2, true)
}

// TestChangesUnderLoad makes 50 routing changes under load with a stream
// open: each must be live in HAProxy before the next, no request may fail,
// the stream must keep flowing, and HAProxy must not reload once: the
// changes go through the runtime API.
func TestChangesUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Consul, HAProxy and 50 changes; -short skips it")
	}
	s := routingtest.Start(t, twoVersions, webApp())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := s.OpenStream(ctx, "v1")

	// A bounded load: 4 clients, new connection per request, until the
	// reloads are done or 200,000 requests have been sent.
	var sent, failed atomic.Int64
	var firstFailure atomic.Value
	stopLoad := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for range 4 {
		wg.Go(func() {
			for sent.Load() < 200000 {
				select {
				case <-stopLoad:
					return
				default:
				}
				sent.Add(1)
				resp, err := client.Get("http://" + s.Front + "/")
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
				}
			}
		})
	}

	// 50 re-renders, each from a KV change, each checked to be live in
	// HAProxy before the next: a lost or stale apply fails here.
	const changes = 50
	startReloads := s.MasterReloads()
	for i := range changes {
		path := fmt.Sprintf("/cohort-%d", i)
		s.Put(fmt.Sprintf("strata/web/cohorts/c%02d", i), fmt.Sprintf(`{"version":"v2","opt_in":%q}`, path))
		s.Eventually("reload "+path, func() (bool, string) {
			a := s.Get(path, nil, nil)
			return a.Status == 302, fmt.Sprintf("status %d", a.Status)
		})
	}
	close(stopLoad)
	wg.Wait()
	done := s.MasterReloads() - startReloads

	ticksAtEnd := rec.Ticks.Load()
	time.Sleep(300 * time.Millisecond) // six ticks of the demo's 50 ms stream
	if rec.Ticks.Load() <= ticksAtEnd {
		t.Errorf("the stream opened before the first change stopped flowing (%d ticks)", ticksAtEnd)
	}
	select {
	case err := <-rec.Done:
		t.Errorf("the stream ended: %v", err)
	default:
	}
	if failed.Load() != 0 {
		t.Errorf("%d of %d requests failed during %d reloads; first: %v", failed.Load(), sent.Load(), done, firstFailure.Load())
	}
	// Each change was seen live above; the master's own counter says none
	// took a reload.
	if done != 0 {
		t.Errorf("HAProxy's master counted %d reloads for %d changes, want 0", done, changes)
	}
	t.Logf("%d requests, %d failed, %d reloads, stream ticks %d", sent.Load(), failed.Load(), done, rec.Ticks.Load())
}

// TestAVersionLeavingAndComingBackTwelveTimes is the measured failure of
// one signal per template, kept for the design that replaced it: a version
// leaving or appearing changes the maps and the servers together, and every
// cycle must end with both live, without a reload: the apply step changes
// them through the runtime API, and the files on disk equal what HAProxy
// runs.
func TestAVersionLeavingAndComingBackTwelveTimes(t *testing.T) {
	var v3 string
	s := routingtest.Start(t, func(s *routingtest.Stack) {
		twoVersions(s)
		v3 = s.Backend("v3", 1, false)
	}, webApp())
	svc, _, err := s.Consul.Client.Agent().Service(v3, nil)
	if err != nil {
		t.Fatal(err)
	}
	reloads := s.MasterReloads()
	for cycle := range 12 {
		if err := s.Consul.Client.Agent().ServiceDeregister(v3); err != nil {
			t.Fatal(err)
		}
		s.Eventually(fmt.Sprintf("cycle %d: v3 gone, its cookie goes to live", cycle), func() (bool, string) {
			a := s.Get("/", map[string]string{"strata_version": "v3"}, nil)
			return a.Status == 200 && a.Version == "v2", fmt.Sprintf("%d from %q", a.Status, a.Version)
		})
		s.Register(v3, "v3", svc.Port, false)
		s.Eventually(fmt.Sprintf("cycle %d: v3 back, its cookie reaches it", cycle), func() (bool, string) {
			a := s.Get("/", map[string]string{"strata_version": "v3"}, nil)
			return a.Status == 200 && a.Version == "v3", fmt.Sprintf("%d from %q", a.Status, a.Version)
		})
	}
	if got := s.MasterReloads(); got != reloads {
		t.Errorf("HAProxy reloaded %d times over 24 changes, want 0", got-reloads)
	}
	// Settled: applying again finds HAProxy running exactly the files.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := apply.Apply(ctx, s.ApplyOptions())
	if err != nil || res.Reloaded || len(res.Commands) != 0 {
		t.Errorf("after the cycles HAProxy was not running the final files: reloaded %v, commands %q, %v", res.Reloaded, res.Commands, err)
	}
}

func TestConsulStoppedKeepsTheLastGoodConfiguration(t *testing.T) {
	s := routingtest.Start(t, twoVersions, webApp())
	if a := s.Get("/", map[string]string{"strata_version": "v1"}, nil); a.Version != "v1" {
		t.Fatalf("before: v1 cookie answered by %q", a.Version)
	}
	before, err := os.ReadFile(filepath.Join(s.Dir, "haproxy.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	reloads := s.RenderCount()
	s.Consul.Stop()
	// Give consul-template time to notice and retry a few times.
	time.Sleep(2 * time.Second)
	for range 20 {
		if a := s.Get("/", map[string]string{"strata_version": "v1"}, nil); a.Status != 200 || a.Version != "v1" {
			t.Fatalf("with Consul down, v1 cookie: %d from %q", a.Status, a.Version)
		}
		if a := s.Get("/", nil, nil); a.Status != 200 || a.Version != "v2" {
			t.Fatalf("with Consul down, new session: %d from %q", a.Status, a.Version)
		}
	}
	after, _ := os.ReadFile(filepath.Join(s.Dir, "haproxy.cfg"))
	if !bytes.Equal(before, after) {
		t.Errorf("the configuration changed while Consul was down:\n%s", after)
	}
	if s.RenderCount() != reloads {
		t.Errorf("HAProxy was reloaded %d times while Consul was down", s.RenderCount()-reloads)
	}
}
