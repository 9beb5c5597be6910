//go:build unix

package haproxy_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/haproxy"
	"github.com/strata-dev/strata/internal/haproxy/haproxytest"
)

// rendered is an HAProxy whose configuration reads a versions map, the two
// files consul-template renders for strata.
type rendered struct {
	*haproxytest.Process
	backend string
	files   []string
	lock    string
}

func startRendered(t *testing.T) *rendered {
	t.Helper()
	r := &rendered{backend: okBackend(t)}
	r.Process = haproxytest.Start(t, r.config(1), haproxytest.WithFile("versions.map", "live v1\n"))
	r.files = []string{r.ConfigPath, filepath.Join(r.Dir, "versions.map")}
	r.lock = filepath.Join(r.Dir, "reload.lock")
	return r
}

// config has one backend per version up to n and reads the versions map.
func (r *rendered) config(n int) string {
	var extra []string
	extra = append(extra, "    http-request set-var(txn.live) str(live),map({{dir}}/versions.map,none)")
	for v := 1; v <= n; v++ {
		extra = append(extra, fmt.Sprintf("backend app-v%d", v), "    server s1 "+r.backend)
	}
	return configFor(r.backend, extra...)
}

func (r *rendered) reload(t *testing.T, settle time.Duration) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	reloaded, err := haproxy.ReloadCoalesced(ctx, r.Master(), r.lock, r.files, settle)
	if err != nil {
		t.Fatal(err)
	}
	return reloaded
}

// loaded returns the backends and the map the current worker runs with.
func (r *rendered) loaded(t *testing.T) (backends []string, liveMap string) {
	t.Helper()
	m := r.Master()
	cur := current(t, m)
	rows, err := m.Stat(context.Background(), cur.PID)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		if row.Type == haproxy.TypeBackend {
			backends = append(backends, row.PxName)
		}
	}
	out, err := m.Command(context.Background(), fmt.Sprintf("@!%d show map %s", cur.PID, r.files[1]))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		// Each entry reads "<reference> <key> <value>".
		if f := strings.Fields(line); len(f) == 3 && f[1] == "live" {
			liveMap = f[2]
		}
	}
	return backends, liveMap
}

func TestReloadCoalescedMakesOneReloadOfTwoRendersMomentsApart(t *testing.T) {
	t.Parallel()
	r := startRendered(t)
	m := r.Master()
	if !r.reload(t, 0) {
		t.Fatal("the first ReloadCoalesced, without a stored hash, did not reload")
	}
	before := master(t, m).Reloads

	// consul-template renders haproxy.cfg, and 15 ms later the versions
	// map; each render runs the reload script. The settle time decides only
	// whether the two renders make one reload or two, never whether one is
	// lost. Measured under go test -race with five HAProxy tests at once on
	// 2 cores, the 50 ms default let about one run in seventy reload twice,
	// because the test's goroutine stalled; this test gives the settle more
	// room (1 s; 250 ms still failed once in a full run beside other heavy
	// tests) so that it checks the coalescing, not the machine's load.
	const settle = 20 * haproxy.DefaultSettle
	var wg sync.WaitGroup
	results := make([]bool, 2)
	errs := make([]error, 2)
	call := func(i int) {
		defer wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		results[i], errs[i] = haproxy.ReloadCoalesced(ctx, m, r.lock, r.files, settle)
	}
	r.WriteConfig(r.config(2))
	wg.Add(2)
	go call(0)
	waitLocked(t, r.lock)
	time.Sleep(15 * time.Millisecond)
	r.WriteFile("versions.map", "live v2\n")
	go call(1)
	wg.Wait()

	for i, err := range errs {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if results[0] == results[1] {
		t.Errorf("reloaded = %v, want exactly one of the two calls to reload", results)
	}
	if got := master(t, m).Reloads; got != before+1 {
		t.Errorf("the master counts %d reloads since, want 1", got-before)
	}
	backends, live := r.loaded(t)
	if !strings.Contains(strings.Join(backends, " "), "app-v2") || live != "v2" {
		t.Errorf("the new worker runs backends %v and live=%s, want app-v2 and v2: both files", backends, live)
	}

	if r.reload(t, haproxy.DefaultSettle) {
		t.Error("ReloadCoalesced with unchanged files reloaded")
	}
	if got := master(t, m).Reloads; got != before+1 {
		t.Errorf("the master counts %d reloads since, want still 1", got-before)
	}
}

func TestReloadCoalescedWaitsForTheReloadInProgressAndSkipsWhatItLoaded(t *testing.T) {
	t.Parallel()
	r := startRendered(t)
	m := r.Master()
	if !r.reload(t, 0) {
		t.Fatal("the first ReloadCoalesced, without a stored hash, did not reload")
	}
	before := master(t, m).Reloads

	// Hold the lock as another reload would, while both templates render
	// and call; neither may reload before it is released.
	held := holdLock(t, r.lock)
	var wg sync.WaitGroup
	results := make(chan bool, 2)
	for i, write := range []func(){
		func() { r.WriteConfig(r.config(3)) },
		func() { r.WriteFile("versions.map", "live v3\n") },
	} {
		write()
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), patience)
			defer cancel()
			reloaded, err := haproxy.ReloadCoalesced(ctx, m, r.lock, r.files, haproxy.DefaultSettle)
			if err != nil {
				t.Errorf("call %d: %v", i, err)
			}
			results <- reloaded
		}()
	}
	if got := master(t, m).Reloads; got != before {
		t.Errorf("the master counts %d reloads while the lock was held, want 0", got-before)
	}
	held()
	wg.Wait()
	close(results)
	n := 0
	for reloaded := range results {
		if reloaded {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d calls reloaded, want 1", n)
	}
	if got := master(t, m).Reloads; got != before+1 {
		t.Errorf("the master counts %d reloads since, want 1", got-before)
	}
	if backends, live := r.loaded(t); !strings.Contains(strings.Join(backends, " "), "app-v3") || live != "v3" {
		t.Errorf("the new worker runs backends %v and live=%s, want app-v3 and v3", backends, live)
	}
}

// waitLocked waits until another call holds the reload lock at path.
func waitLocked(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for i := 0; i < int(patience/time.Millisecond); i++ {
		fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_CREAT|syscall.O_CLOEXEC, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		err = syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		syscall.Close(fd) // releases the lock if this probe took it
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("nobody took the lock %s within %v", path, patience)
}

// holdLock takes the reload lock as another process would and returns the
// function that releases it.
func holdLock(t *testing.T, path string) func() {
	t.Helper()
	fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_CREAT|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	var once sync.Once
	release := func() { once.Do(func() { syscall.Close(fd) }) }
	t.Cleanup(release)
	return release
}

func TestReloadCoalescedNeverLosesAReload(t *testing.T) {
	t.Parallel()
	r := startRendered(t)
	m := r.Master()
	before := master(t, m).Reloads
	start := time.Now()
	const renders = 20
	for i := 1; i <= renders; i++ {
		if i%2 == 0 {
			r.WriteConfig(r.config(i))
		}
		r.WriteFile("versions.map", fmt.Sprintf("live v%d\n", i))
		if !r.reload(t, haproxy.DefaultSettle) {
			t.Fatalf("render %d: ReloadCoalesced did not reload changed files", i)
		}
		backends, live := r.loaded(t)
		if live != fmt.Sprintf("v%d", i) {
			t.Errorf("render %d: the current worker runs live=%s", i, live)
		}
		if want := fmt.Sprintf("app-v%d", i/2*2); i >= 2 && !strings.Contains(strings.Join(backends, " "), want) {
			t.Errorf("render %d: the current worker runs backends %v, want %s", i, backends, want)
		}
	}
	t.Logf("%d coalesced reloads in %v", renders, time.Since(start))
	mp := master(t, m)
	if mp.Reloads != before+renders || mp.FailedReloads != 0 {
		t.Errorf("master %+v: %d reloads since, want %d, none failed", mp, mp.Reloads-before, renders)
	}
}

func TestReloadCoalescedReportsABrokenConfigEveryTime(t *testing.T) {
	t.Parallel()
	r := startRendered(t)
	m := r.Master()
	serving := current(t, m)
	r.WriteConfig(r.config(1) + "    bogus_keyword on\n")
	for i := 0; i < 2; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		reloaded, err := haproxy.ReloadCoalesced(ctx, m, r.lock, r.files, 0)
		cancel()
		if reloaded || !errors.Is(err, haproxy.ErrReloadFailed) {
			t.Fatalf("call %d with a broken configuration = %v, %v; want false and ErrReloadFailed", i, reloaded, err)
		}
	}
	if got := current(t, m); got.PID != serving.PID {
		t.Errorf("current worker %d, want %d still serving", got.PID, serving.PID)
	}
	if got := get(t, r.Port); got != "ok\n" {
		t.Errorf("GET through HAProxy = %q", got)
	}
	r.WriteConfig(r.config(1))
	if !r.reload(t, 0) {
		t.Error("ReloadCoalesced after the fix did not reload")
	}
}
