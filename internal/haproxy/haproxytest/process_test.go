//go:build unix

package haproxytest_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/haproxy"
	"github.com/strata-dev/strata/internal/haproxy/haproxytest"
	"github.com/strata-dev/strata/internal/testenv"
)

// config is a minimal configuration that answers every request itself.
const config = `global
    stats socket {{admin}} mode 600 level admin expose-fd listeners
defaults
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:{{port}}
    http-request return status 200 content-type text/plain string "ok"
`

func alive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

func TestStartRunsAWorkerAndCleanupStopsEveryProcess(t *testing.T) {
	t.Parallel()
	var pids []int
	var dir string
	t.Run("running", func(t *testing.T) {
		p := haproxytest.Start(t, config)
		dir = p.Dir
		procs, err := p.Master().Procs(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var workers int
		for _, pr := range procs {
			pids = append(pids, pr.PID)
			if pr.Role == haproxy.RoleCurrent {
				workers++
			}
		}
		if procs[0].PID != p.PID || workers != 1 {
			t.Errorf("show proc lists %+v, want master %d and one current worker", procs, p.PID)
		}
		if _, err := os.Stat(p.AdminSocket); err != nil {
			t.Errorf("the admin socket of {{admin}}: %v", err)
		}
		conn, err := dialTCP(p.Port)
		if err != nil {
			t.Fatalf("HAProxy does not listen on {{port}}: %v", err)
		}
		conn.Close()
	})
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("HAProxy process %d is still running after the test's cleanup", pid)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the directory %s is still there after the test's cleanup: %v", dir, err)
	}
}

func TestCleanupStopsAnOldWorkerThatHoldsAConnection(t *testing.T) {
	t.Parallel()
	var pids []int
	var conn net.Conn
	// The connection stays open until the subtest's cleanup has stopped
	// HAProxy.
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	t.Run("running", func(t *testing.T) {
		p := haproxytest.Start(t, config)
		// A connection in the middle of sending its request keeps its
		// worker alive through a soft stop, until its client timeout.
		var err error
		conn, err = dialTCP(p.Port)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n")); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
		procs, err := p.Master().Procs(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, pr := range procs {
			pids = append(pids, pr.PID)
		}
		if len(procs) != 3 || procs[2].Role != haproxy.RoleOld {
			t.Fatalf("show proc lists %+v, want a master, a current and an old worker", procs)
		}
	})
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("HAProxy process %d is still running after the test's cleanup", pid)
		}
	}
}

func TestWriteFileReplacesThePlaceholders(t *testing.T) {
	t.Parallel()
	p := haproxytest.Start(t, config,
		haproxytest.WithFile("before.txt", "dir={{dir}} admin={{admin}}\n"))
	for _, name := range []string{"before.txt", "after.txt"} {
		path := filepath.Join(p.Dir, name)
		if name == "after.txt" {
			path = p.WriteFile(name, "dir={{dir}} admin={{admin}}\n")
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if want := "dir=" + p.Dir + " admin=" + p.AdminSocket + "\n"; string(b) != want {
			t.Errorf("%s = %q, want %q", name, b, want)
		}
	}
}

func TestCheckReturnsHAProxysComplaint(t *testing.T) {
	t.Parallel()
	if err := haproxytest.Check(t, config); err != nil {
		t.Errorf("Check on a valid configuration: %v", err)
	}
	err := haproxytest.Check(t, config+"    bogus_keyword on\n")
	if err == nil || !strings.Contains(err.Error(), "bogus_keyword") {
		t.Errorf("Check on an invalid configuration = %v, want HAProxy's complaint about bogus_keyword", err)
	}
}

// recorder stands in for a testing.TB to see how Start fails. Like the real
// one, its Fatalf ends the calling goroutine, so call it through run.
type recorder struct {
	testing.TB
	failed bool
	msg    string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = true
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) run(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		r.TB.Fatal("Start neither returned nor failed within 30s")
	}
}

func TestStartFailsWithHAProxysOutputWhenTheConfigurationDoesNotLoad(t *testing.T) {
	t.Parallel()
	testenv.RequireBinary(t, "haproxy")
	r := &recorder{TB: t}
	r.run(func() {
		haproxytest.Start(r, config+"    bogus_keyword on\n")
	})
	if !r.failed {
		t.Fatal("Start returned for a configuration that does not load")
	}
	if !strings.Contains(r.msg, "exited while starting") || !strings.Contains(r.msg, "bogus_keyword") {
		t.Errorf("Start failed with %q, want it to say HAProxy exited and quote its complaint", r.msg)
	}
}
