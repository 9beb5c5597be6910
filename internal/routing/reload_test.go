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

	"github.com/strata-dev/strata/internal/haproxy"

	"github.com/strata-dev/strata/internal/routing/routingtest"
)

func twoVersions(s *routingtest.Stack) {
	s.Backend("v1", 1, false)
	s.Backend("v2", 1, true)
	s.Backend("v2", 2, true)
}

func TestReloadUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Consul, HAProxy and 50 reloads; -short skips it")
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
	// HAProxy before the next: a lost or stale reload fails here.
	const reloads = 50
	startReloads := s.MasterReloads()
	for i := range reloads {
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
		t.Errorf("the stream opened before the first reload stopped flowing (%d ticks)", ticksAtEnd)
	}
	select {
	case err := <-rec.Done:
		t.Errorf("the stream ended: %v", err)
	default:
	}
	if failed.Load() != 0 {
		t.Errorf("%d of %d requests failed during %d reloads; first: %v", failed.Load(), sent.Load(), done, firstFailure.Load())
	}
	// Each change was seen live above; the master's own counter says each
	// took exactly one reload: none lost, none doubled.
	if done != reloads {
		t.Errorf("HAProxy's master counted %d reloads for %d changes", done, reloads)
	}
	t.Logf("%d requests, %d failed, %d reloads, stream ticks %d", sent.Load(), failed.Load(), done, rec.Ticks.Load())
}

// TestAVersionAppearingChangesBothFilesAndReloadsOnce is the measured
// failure of one signal per template: a new version changes haproxy.cfg (its
// backend) and versions.map (its allow-list entry) about 15 ms apart, and
// HAProxy 2.6 drops a second SIGUSR2 that arrives while it re-executes, so it
// kept serving a state with one file old (the new version answered 503).
// With the coalescing reload every cycle must end with both files live.
func TestAVersionAppearingChangesBothFilesAndReloadsOnce(t *testing.T) {
	var v3 string
	s := routingtest.Start(t, func(s *routingtest.Stack) {
		twoVersions(s)
		v3 = s.Backend("v3", 1, false)
	}, webApp())
	svc, _, err := s.Consul.Client.Agent().Service(v3, nil)
	if err != nil {
		t.Fatal(err)
	}
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
	// Settled: both files on disk are what HAProxy runs, in one worker.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if reloaded, err := haproxy.ReloadCoalesced(ctx, s.Proxy.Master(), filepath.Join(s.Dir, "reload.lock"),
		[]string{s.Proxy.ConfigPath, filepath.Join(s.Dir, "versions.map")}, 0); err != nil || reloaded {
		t.Errorf("after the cycles HAProxy was not running the final files (reloaded again: %v, %v)", reloaded, err)
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
