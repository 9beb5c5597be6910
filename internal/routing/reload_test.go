package routing

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/haproxy"
)

func twoVersions(s *stack) {
	s.backend("v1", 1, false)
	s.backend("v2", 1, true)
	s.backend("v2", 2, true)
}

// stream opens a long-lived chunked stream pinned to version and counts the
// tick lines it receives until ctx ends or the stream does.
type stream struct {
	ticks atomic.Int64
	done  chan error
}

func (s *stack) openStream(ctx context.Context, version string) *stream {
	s.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+s.front+"/stream", nil)
	req.Header.Set("Cookie", "strata_version="+version)
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		s.t.Fatalf("opening a stream: %v", err)
	}
	st := &stream{done: make(chan error, 1)}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "version="+version) || strings.HasPrefix(sc.Text(), "tick=") {
				st.ticks.Add(1)
			}
		}
		st.done <- sc.Err()
	}()
	return st
}

func TestReloadUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Consul, HAProxy and 50 reloads; -short skips it")
	}
	s := startStack(t, twoVersions, webApp())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := s.openStream(ctx, "v1")

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
				resp, err := client.Get("http://" + s.front + "/")
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
	startReloads := s.masterReloads()
	for i := range reloads {
		path := fmt.Sprintf("/cohort-%d", i)
		s.put(fmt.Sprintf("strata/web/cohorts/c%02d", i), fmt.Sprintf(`{"version":"v2","opt_in":%q}`, path))
		s.eventually("reload "+path, func() (bool, string) {
			a := s.get(path, nil, nil)
			return a.status == 302, fmt.Sprintf("status %d", a.status)
		})
	}
	close(stopLoad)
	wg.Wait()
	done := s.masterReloads() - startReloads

	ticksAtEnd := rec.ticks.Load()
	time.Sleep(300 * time.Millisecond) // six ticks of the demo's 50 ms stream
	if rec.ticks.Load() <= ticksAtEnd {
		t.Errorf("the stream opened before the first reload stopped flowing (%d ticks)", ticksAtEnd)
	}
	select {
	case err := <-rec.done:
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
	t.Logf("%d requests, %d failed, %d reloads, stream ticks %d", sent.Load(), failed.Load(), done, rec.ticks.Load())
}

// TestAVersionAppearingChangesBothFilesAndReloadsOnce is the measured
// failure of one signal per template: a new version changes haproxy.cfg (its
// backend) and versions.map (its allow-list entry) about 15 ms apart, and
// HAProxy 2.6 drops a second SIGUSR2 that arrives while it re-executes, so it
// kept serving a state with one file old (the new version answered 503).
// With the coalescing reload every cycle must end with both files live.
func TestAVersionAppearingChangesBothFilesAndReloadsOnce(t *testing.T) {
	var v3 string
	s := startStack(t, func(s *stack) {
		twoVersions(s)
		v3 = s.backend("v3", 1, false)
	}, webApp())
	svc, _, err := s.consul.Client.Agent().Service(v3, nil)
	if err != nil {
		t.Fatal(err)
	}
	for cycle := range 12 {
		if err := s.consul.Client.Agent().ServiceDeregister(v3); err != nil {
			t.Fatal(err)
		}
		s.eventually(fmt.Sprintf("cycle %d: v3 gone, its cookie goes to live", cycle), func() (bool, string) {
			a := s.get("/", map[string]string{"strata_version": "v3"}, nil)
			return a.status == 200 && a.version == "v2", fmt.Sprintf("%d from %q", a.status, a.version)
		})
		s.register(v3, "v3", svc.Port, false)
		s.eventually(fmt.Sprintf("cycle %d: v3 back, its cookie reaches it", cycle), func() (bool, string) {
			a := s.get("/", map[string]string{"strata_version": "v3"}, nil)
			return a.status == 200 && a.version == "v3", fmt.Sprintf("%d from %q", a.status, a.version)
		})
	}
	// Settled: both files on disk are what HAProxy runs, in one worker.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if reloaded, err := haproxy.ReloadCoalesced(ctx, s.proxy.Master(), filepath.Join(s.dir, "reload.lock"),
		[]string{s.proxy.ConfigPath, filepath.Join(s.dir, "versions.map")}, 0); err != nil || reloaded {
		t.Errorf("after the cycles HAProxy was not running the final files (reloaded again: %v, %v)", reloaded, err)
	}
}

func TestConsulStoppedKeepsTheLastGoodConfiguration(t *testing.T) {
	s := startStack(t, twoVersions, webApp())
	if a := s.get("/", map[string]string{"strata_version": "v1"}, nil); a.version != "v1" {
		t.Fatalf("before: v1 cookie answered by %q", a.version)
	}
	before, err := os.ReadFile(filepath.Join(s.dir, "haproxy.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	reloads := s.renderCount()
	s.consul.Stop()
	// Give consul-template time to notice and retry a few times.
	time.Sleep(2 * time.Second)
	for range 20 {
		if a := s.get("/", map[string]string{"strata_version": "v1"}, nil); a.status != 200 || a.version != "v1" {
			t.Fatalf("with Consul down, v1 cookie: %d from %q", a.status, a.version)
		}
		if a := s.get("/", nil, nil); a.status != 200 || a.version != "v2" {
			t.Fatalf("with Consul down, new session: %d from %q", a.status, a.version)
		}
	}
	after, _ := os.ReadFile(filepath.Join(s.dir, "haproxy.cfg"))
	if !bytes.Equal(before, after) {
		t.Errorf("the configuration changed while Consul was down:\n%s", after)
	}
	if s.renderCount() != reloads {
		t.Errorf("HAProxy was reloaded %d times while Consul was down", s.renderCount()-reloads)
	}
}

// masterReloads is the reload counter of HAProxy's master.
func (s *stack) masterReloads() int {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	procs, err := s.proxy.Master().Procs(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, p := range procs {
		if p.Role == haproxy.RoleMaster {
			return p.Reloads
		}
	}
	s.t.Fatal("show proc lists no master")
	return 0
}
