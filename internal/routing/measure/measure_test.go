package measure_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/haproxy"
	"github.com/strata-dev/strata/internal/haproxy/haproxytest"
	"github.com/strata-dev/strata/internal/routing/measure"
)

const tcpConfig = `global
    log stderr format short local0 warning
defaults
    mode tcp
    timeout connect 1s
    timeout client 1m
    timeout server 1m
frontend fe
    bind 127.0.0.1:{{port}}
    default_backend be
backend be
    server s1 127.0.0.1:9
`

func TestMeasureCountsTheMasterAndWorkersAndTheirMemory(t *testing.T) {
	p := haproxytest.Start(t, tcpConfig)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f, err := measure.Measure(ctx, p.Master())
	if err != nil {
		t.Fatal(err)
	}
	if f.Processes() != 2 || f.Workers() != 1 || f.Procs[0].PID != p.PID || f.Procs[0].Role != haproxy.RoleMaster {
		t.Fatalf("footprint %+v, want the master %d and one worker", f.Procs, p.PID)
	}
	for _, pr := range f.Procs {
		if pr.RSS <= 0 || pr.PSS <= 0 || pr.PSS > pr.RSS {
			t.Errorf("process %d: RSS %d, PSS %d; want 0 < PSS <= RSS", pr.PID, pr.RSS, pr.PSS)
		}
	}
	if !strings.Contains(f.String(), "2 processes (1 workers)") {
		t.Errorf("String() = %q", f.String())
	}
}

func TestWatchSeesAWorkerAReloadStartsAndTheOldOneKeptByASession(t *testing.T) {
	p := haproxytest.Start(t, tcpConfig)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m := p.Master()
	// A connection the current worker holds keeps it alive after a reload.
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p.Port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	w, err := measure.StartWatch(ctx, m, 5*time.Millisecond, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	r := w.Stop()
	if len(r.Before) != 1 || len(r.New) != 1 || r.MaxNewWorkers != 1 || r.Reloads != 1 || r.Failures != 0 {
		t.Errorf("watch result %+v, want 1 worker before, 1 new, 1 reload, no failures", r)
	}
	if r.MaxWorkers != 2 {
		t.Errorf("at most %d workers at once, want 2: the old one holds a connection", r.MaxWorkers)
	}
}

func TestConvergenceTimesUntilTheFirstPollThatSeesTheChange(t *testing.T) {
	t.Parallel()
	polls := 0
	d, err := measure.Convergence(func() error { return nil }, func() (bool, string) {
		polls++
		return polls == 3, fmt.Sprintf("poll %d", polls)
	}, time.Millisecond, 10, time.Minute)
	if err != nil || polls != 3 || d < 2*time.Millisecond {
		t.Errorf("Convergence = %s, %v after %d polls; want success on the 3rd poll, after 2 intervals at least", d, err, polls)
	}

	polls = 0
	_, err = measure.Convergence(func() error { return nil }, func() (bool, string) {
		polls++
		return false, fmt.Sprintf("poll %d", polls)
	}, time.Millisecond, 5, time.Minute)
	if err == nil || polls != 5 || !strings.Contains(err.Error(), "last poll 5") {
		t.Errorf("Convergence that never converges = %v after %d polls; want an error after 5 naming the last poll", err, polls)
	}

	boom := errors.New("boom")
	if _, err := measure.Convergence(func() error { return boom }, nil, time.Millisecond, 5, time.Minute); !errors.Is(err, boom) {
		t.Errorf("Convergence with a failing change = %v, want it wrapped", err)
	}
}

// TestCPUCountsAProcessAndItsChildren: a child that burns processor time
// shows in its parent's CPU, and a process that does not exist is an error.
func TestCPUCountsAProcessAndItsChildren(t *testing.T) {
	before, err := measure.CPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// A child of this process spinning until it has used 300 ms of CPU.
	cmd := exec.Command("sh", "-c", "while :; do :; done")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var after time.Duration
	for range 200 {
		time.Sleep(20 * time.Millisecond)
		if after, err = measure.CPU(os.Getpid()); err != nil {
			t.Fatal(err)
		}
		if after-before >= 300*time.Millisecond {
			break
		}
	}
	if after-before < 300*time.Millisecond {
		t.Errorf("CPU went from %v to %v while a child spun for 4 s at most", before, after)
	}
	if _, err := measure.CPU(1 << 30); err == nil {
		t.Error("CPU of a process that does not exist: no error")
	}
}
