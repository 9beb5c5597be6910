package routing_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/haproxy"
	"github.com/strata-dev/strata/internal/routing/apply"
	"github.com/strata-dev/strata/internal/routing/routingtest"
)

// startTask starts a stack whose HAProxy runs under `strata haproxy run`,
// with args as more flags, and setup's backends.
func startTask(t *testing.T, args []string, setup func(*routingtest.Stack)) *routingtest.Stack {
	t.Helper()
	if testing.Short() {
		t.Skip("starts Consul and HAProxy and builds strata; -short skips it")
	}
	strata := buildStrata(t)
	return routingtest.Start(t, func(s *routingtest.Stack) {
		s.Strata, s.StrataArgs = strata, args
		setup(s)
	}, webApp())
}

// TestTheHAProxyTaskAppliesAtEachSignal runs HAProxy as the HAProxy task
// runs it, under `strata haproxy run`, and signals it at each render as
// Nomad's template blocks do (change_mode = "signal"): promotions, cohorts
// and new instances reach HAProxy at run time, with no reload and no new
// process; HAProxy's own signals are passed on to it (SIGUSR2 reloads it,
// and the stream survives); and the soft stop at the end (SIGUSR1, passed
// on) ends HAProxy and strata both.
func TestTheHAProxyTaskAppliesAtEachSignal(t *testing.T) {
	s := startTask(t, nil, twoVersions)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream := s.OpenStream(ctx, "v1")

	s.Put("strata/web/live", "v1")
	s.Eventually("the promotion", func() (bool, string) {
		a := s.Get("/", nil, nil)
		return a.Version == "v1", a.Version
	})
	s.Put("strata/web/cohorts/beta", `{"version":"v2","opt_in":"/beta"}`)
	s.Eventually("the cohort", func() (bool, string) {
		a := s.Get("/beta", nil, nil)
		return a.Status == 302, fmt.Sprint(a.Status)
	})
	s.Backend("v3", 1, false)
	s.Eventually("the new version", func() (bool, string) {
		a := s.Get("/", map[string]string{"strata_version": "v3"}, nil)
		return a.Version == "v3", a.Version
	})
	if n, r := workers(t, s.Proxy.Master()), s.MasterReloads(); n != 1 || r != 0 {
		t.Errorf("%d workers and %d reloads after the changes, want 1 and 0", n, r)
	}
	// The files on disk equal what HAProxy runs.
	if got, want := runningState(t, s.Dir), writtenState(t, s.Dir); got != want {
		t.Errorf("HAProxy runs:\n%s\nthe files say:\n%s", got, want)
	}
	// No apply step failed: strata logs each failure.
	if out := s.Proxy.Output(); strings.Contains(out, "trying again") {
		t.Errorf("an apply step failed:\n%s", out)
	}

	// HAProxy's own signals reach it through strata.
	if err := s.Proxy.Signal(syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	s.Eventually("the reload SIGUSR2 asks for", func() (bool, string) {
		r := s.MasterReloads()
		return r == 1, fmt.Sprintf("%d reloads", r)
	})
	streamFlows(t, s, stream)
	if a := s.Get("/beta", nil, nil); a.Status != 302 {
		t.Errorf("the cohort after the reload: %d", a.Status)
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "admin.sock")); err != nil {
		t.Errorf("the admin socket after the reload: %v", err)
	}

	// Nomad stops the task: HAProxy's soft stop, through strata, ends both.
	cancel() // the stream
	if err := s.Proxy.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	if exited, err := s.Proxy.Exited(30 * time.Second); !exited || err != nil {
		t.Errorf("after SIGUSR1, strata haproxy run exited: %v, with %v; want exit status 0", exited, err)
	}
}

// TestTheHAProxyTaskPutsBackWhatWasChangedByHand: every --reconcile, with no
// signal and no change in Consul, `strata haproxy run` makes an apply step,
// which puts back what was changed through the admin socket by hand.
func TestTheHAProxyTaskPutsBackWhatWasChangedByHand(t *testing.T) {
	s := startTask(t, []string{"--reconcile", "200ms"}, twoVersions)
	s.Eventually("new sessions on the live v2", func() (bool, string) {
		a := s.Get("/", nil, nil)
		return a.Version == "v2", a.Version
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rt := &haproxy.Runtime{Socket: filepath.Join(s.Dir, "admin.sock")}
	if _, err := rt.Exec(ctx, "set map "+filepath.Join(s.Dir, apply.LiveMap)+" web v1"); err != nil {
		t.Fatal(err)
	}
	s.Eventually("the hand-made change undone", func() (bool, string) {
		a := s.Get("/", nil, nil)
		return a.Version == "v2", "new sessions go to " + a.Version
	})
	if got, want := runningState(t, s.Dir), writtenState(t, s.Dir); got != want {
		t.Errorf("HAProxy runs:\n%s\nthe files say:\n%s", got, want)
	}
}
