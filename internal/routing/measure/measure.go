// Package measure takes the measurements that routing's benchmarks and
// churn tests report: how many HAProxy processes run and how much memory
// they hold (from the master's "show proc" and /proc), how many workers a
// test has seen at most, and how long a change in Consul takes to reach
// HAProxy's routing. Tests use it; strata's binary does not.
//
// Every loop is bounded in count and in time: a measurement that cannot
// finish returns an error saying what it last saw.
package measure

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/strata-dev/strata/internal/haproxy"
)

// Proc is one HAProxy process and its memory.
type Proc struct {
	// PID and Role are as "show proc" lists them.
	PID  int
	Role haproxy.Role
	// RSS is the resident set size (VmRSS of /proc/<pid>/status), in bytes.
	// Pages a worker shares with the master since its fork count in both.
	RSS int64
	// PSS is the proportional set size (Pss of /proc/<pid>/smaps_rollup), in
	// bytes: shared pages split between the processes sharing them, so the
	// PSS of all processes adds up to what they really hold. 0 when the
	// kernel does not provide smaps_rollup.
	PSS int64
}

// Footprint is what one HAProxy (its master and workers) holds.
type Footprint struct {
	// Procs are the master and the workers, in "show proc" order; programs
	// are left out.
	Procs []Proc
	// Reloads is the master's reload counter.
	Reloads int
}

// Workers is the number of worker processes, current and old.
func (f Footprint) Workers() int {
	n := 0
	for _, p := range f.Procs {
		if p.Role == haproxy.RoleCurrent || p.Role == haproxy.RoleOld {
			n++
		}
	}
	return n
}

// Processes is the number of HAProxy processes: the master and its workers.
func (f Footprint) Processes() int { return len(f.Procs) }

// RSS is the sum of the processes' resident set sizes, in bytes.
func (f Footprint) RSS() int64 {
	var n int64
	for _, p := range f.Procs {
		n += p.RSS
	}
	return n
}

// PSS is the sum of the processes' proportional set sizes, in bytes.
func (f Footprint) PSS() int64 {
	var n int64
	for _, p := range f.Procs {
		n += p.PSS
	}
	return n
}

// String is a one-line summary for logs and figures.
func (f Footprint) String() string {
	return fmt.Sprintf("%d processes (%d workers), RSS %.1f MiB, PSS %.1f MiB, %d reloads",
		f.Processes(), f.Workers(), float64(f.RSS())/(1<<20), float64(f.PSS())/(1<<20), f.Reloads)
}

// Measure lists HAProxy's master and workers through m's "show proc" and
// reads each one's memory from /proc. A process that exits between the two
// counts with no memory.
func Measure(ctx context.Context, m *haproxy.Master) (Footprint, error) {
	procs, err := m.Procs(ctx)
	if err != nil {
		return Footprint{}, fmt.Errorf("measure: listing HAProxy's processes: %w", err)
	}
	var f Footprint
	for _, p := range procs {
		if p.Role == haproxy.RoleMaster {
			f.Reloads = p.Reloads
		}
		if p.Role != haproxy.RoleMaster && !p.Worker() {
			continue
		}
		rss, err := statusKB(p.PID, "VmRSS:")
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return Footprint{}, fmt.Errorf("measure: %w", err)
		}
		pss, err := rollupKB(p.PID, "Pss:")
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return Footprint{}, fmt.Errorf("measure: %w", err)
		}
		f.Procs = append(f.Procs, Proc{PID: p.PID, Role: p.Role, RSS: rss << 10, PSS: pss << 10})
	}
	return f, nil
}

// statusKB reads a "<key> <n> kB" line of /proc/<pid>/status.
func statusKB(pid int, key string) (int64, error) {
	return fieldKB(fmt.Sprintf("/proc/%d/status", pid), key)
}

// rollupKB reads a "<key> <n> kB" line of /proc/<pid>/smaps_rollup.
func rollupKB(pid int, key string) (int64, error) {
	return fieldKB(fmt.Sprintf("/proc/%d/smaps_rollup", pid), key)
}

func fieldKB(path, key string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) >= 2 && string(f[0]) == key {
			n, err := strconv.ParseInt(string(f[1]), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: %s %q is not a number", path, key, f[1])
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("%s: no %s line", path, key)
}

// Watch samples an HAProxy's workers while a test runs, to tell whether any
// change started a worker process. Workers alive when it starts (serving
// sessions from before the test) are "before"; every other worker PID seen
// counts as new.
type Watch struct {
	m        *haproxy.Master
	before   map[int]bool
	stop     chan struct{}
	done     chan struct{}
	mu       sync.Mutex
	seen     map[int]bool // new worker PIDs seen
	maxNew   int          // most new workers alive at one sample
	maxAll   int          // most workers alive at one sample
	samples  int
	failures int
	lastErr  error
	reloads0 int
	reloads  int
}

// StartWatch lists m's workers now, then samples "show proc" every interval
// until Stop, at most maxSamples times.
func StartWatch(ctx context.Context, m *haproxy.Master, interval time.Duration, maxSamples int) (*Watch, error) {
	procs, err := m.Procs(ctx)
	if err != nil {
		return nil, fmt.Errorf("measure: listing HAProxy's workers before the test: %w", err)
	}
	w := &Watch{m: m, before: map[int]bool{}, seen: map[int]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	for _, p := range procs {
		if p.Worker() {
			w.before[p.PID] = true
		}
		if p.Role == haproxy.RoleMaster {
			w.reloads0, w.reloads = p.Reloads, p.Reloads
		}
	}
	w.maxAll = len(w.before)
	go w.run(interval, maxSamples)
	return w, nil
}

func (w *Watch) run(interval time.Duration, maxSamples int) {
	defer close(w.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for i := 0; i < maxSamples; i++ {
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
		w.sample()
	}
}

func (w *Watch) sample() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	procs, err := w.m.Procs(ctx)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.samples++
	if err != nil {
		w.failures++
		w.lastErr = err
		return
	}
	alive, fresh := 0, 0
	for _, p := range procs {
		if p.Role == haproxy.RoleMaster {
			w.reloads = p.Reloads
		}
		if !p.Worker() {
			continue
		}
		alive++
		if !w.before[p.PID] {
			fresh++
			w.seen[p.PID] = true
		}
	}
	w.maxNew = max(w.maxNew, fresh)
	w.maxAll = max(w.maxAll, alive)
}

// WatchResult is what a Watch saw.
type WatchResult struct {
	// Before are the workers alive when the watch started.
	Before []int
	// New are the other worker PIDs seen, sorted.
	New []int
	// MaxWorkers is the most workers alive at one sample, before ones
	// included; MaxNewWorkers the most of the new ones.
	MaxWorkers, MaxNewWorkers int
	// Reloads is how much the master's reload counter grew.
	Reloads int
	// Samples is how many samples were taken, Failures how many of them
	// could not read "show proc", LastError the last such error.
	Samples, Failures int
	LastError         error
}

// Stop takes a last sample, ends the watch and returns what it saw.
func (w *Watch) Stop() WatchResult {
	close(w.stop)
	<-w.done
	w.sample()
	w.mu.Lock()
	defer w.mu.Unlock()
	r := WatchResult{MaxWorkers: w.maxAll, MaxNewWorkers: w.maxNew, Reloads: w.reloads - w.reloads0,
		Samples: w.samples, Failures: w.failures, LastError: w.lastErr}
	for pid := range w.before {
		r.Before = append(r.Before, pid)
	}
	for pid := range w.seen {
		r.New = append(r.New, pid)
	}
	slices.Sort(r.Before)
	slices.Sort(r.New)
	return r
}

// Convergence times a change: it runs change, then polls routed until it
// reports true, and returns the time from just before change to the first
// poll that saw the result. It polls every interval, at most maxPolls times
// and until timeout passes; past either bound it returns an error with what
// routed last said.
func Convergence(change func() error, routed func() (bool, string), interval time.Duration, maxPolls int, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	if err := change(); err != nil {
		return 0, fmt.Errorf("measure: making the change: %w", err)
	}
	deadline := start.Add(timeout)
	var last string
	for poll := 0; poll < maxPolls; poll++ {
		ok, got := routed()
		if ok {
			return time.Since(start), nil
		}
		last = got
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(interval)
	}
	return 0, fmt.Errorf("measure: not converged after %s (%d polls at most): last %s", time.Since(start).Round(time.Millisecond), maxPolls, last)
}

// clockTicks is the unit of the CPU times in /proc/<pid>/stat (USER_HZ):
// 100 a second on every Linux architecture Go supports.
const clockTicks = 100

// CPU returns the processor time (user and system) used so far by the
// process pid and by its direct children that still run: for HAProxy's
// master, the master and its workers. A benchmark takes it before and after
// a batch of requests to compare the work two proxies do per request,
// which is steadier than their throughput on a machine the load generator
// shares. A worker that exits between the two takes its time with it.
func CPU(pid int) (time.Duration, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("measure: %w", err)
	}
	var ticks int64
	found := false
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // it exited meanwhile
		}
		// The command name, in parentheses, may hold spaces: the fields
		// counted here follow its closing parenthesis.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(b[i+1:])
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(string(f[1]))
		if p != pid && ppid != pid {
			continue
		}
		found = found || p == pid
		ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
		st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
		if err1 != nil || err2 != nil {
			return 0, fmt.Errorf("measure: /proc/%d/stat: utime %q, stime %q are not numbers", p, f[11], f[12])
		}
		ticks += ut + st
	}
	if !found {
		return 0, fmt.Errorf("measure: no process %d", pid)
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}
