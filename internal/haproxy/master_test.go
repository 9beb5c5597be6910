package haproxy

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"
)

func TestSessionsSumsTheCurrentAndOldWorkers(t *testing.T) {
	f := startFakeMaster(t,
		fakeWorker{pid: 201, sessions: map[string]int{"app-v1": 1, "app-v2": 4}},
		fakeWorker{pid: 200, old: true, sessions: map[string]int{"app-v1": 2, "app-v0": 0}},
	)
	got, err := f.master().Sessions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"app-v0": 0, "app-v1": 3, "app-v2": 4}; !maps.Equal(got, want) {
		t.Errorf("Sessions = %v, want %v", got, want)
	}
}

func TestSessionsCountsAWorkerThatExitedBeforeItWasAskedAsIdle(t *testing.T) {
	f := startFakeMaster(t,
		fakeWorker{pid: 201, sessions: map[string]int{"app-v1": 1}},
		fakeWorker{pid: 200, old: true, sessions: map[string]int{"app-v1": 5}},
	)
	f.onStat = func(f *fakeMaster, pid int) (string, bool) {
		if pid == 200 {
			f.exits(200) // the master answers "Can't find the target PID"
		}
		return "", false
	}
	got, err := f.master().Sessions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"app-v1": 1}; !maps.Equal(got, want) {
		t.Errorf("Sessions = %v, want %v (the old worker exited)", got, want)
	}
}

func TestSessionsCountsAWorkerThatExitedWhileAnsweringAsIdle(t *testing.T) {
	f := startFakeMaster(t,
		fakeWorker{pid: 201, sessions: map[string]int{"app-v1": 1}},
		fakeWorker{pid: 200, old: true, sessions: map[string]int{"app-v1": 5}},
	)
	f.onStat = func(f *fakeMaster, pid int) (string, bool) {
		if pid != 200 {
			return "", false
		}
		f.exits(200)
		return "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout\napp-v1,BACK", true
	}
	got, err := f.master().Sessions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"app-v1": 1}; !maps.Equal(got, want) {
		t.Errorf("Sessions = %v, want %v (the old worker exited)", got, want)
	}
}

func TestSessionsFailsWhenAWorkerThatIsStillRunningCannotBeRead(t *testing.T) {
	for _, tc := range []struct {
		name, answer string
	}{
		{"an error message", "Unknown command: 'show stat'\n"},
		{"an empty answer", ""},
		{"a cut answer", "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout\napp-v1,BACK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := startFakeMaster(t,
				fakeWorker{pid: 201, sessions: map[string]int{"app-v1": 0}},
				fakeWorker{pid: 200, old: true, sessions: map[string]int{"app-v1": 5}},
			)
			f.onStat = func(f *fakeMaster, pid int) (string, bool) { return tc.answer, pid == 200 }
			got, err := f.master().Sessions(context.Background())
			if err == nil {
				t.Fatalf("Sessions = %v, want an error: worker 200 is running and its sessions are unknown", got)
			}
			if !strings.Contains(err.Error(), "worker 200") {
				t.Errorf("error %q does not name worker 200", err)
			}
		})
	}
}

func TestSessionsCountsAgainWhenAnExitingWorkerIsStillListedAfterAnEmptyAnswer(t *testing.T) {
	// An old worker in the middle of exiting answers nothing, and "show
	// proc" still lists it right after; a moment later it is gone.
	f := startFakeMaster(t,
		fakeWorker{pid: 201, sessions: map[string]int{"app-v1": 1}},
		fakeWorker{pid: 200, old: true, sessions: map[string]int{"app-v1": 5}},
	)
	emptyAnswers := 0
	f.onStat = func(f *fakeMaster, pid int) (string, bool) {
		if pid != 200 {
			return "", false
		}
		emptyAnswers++
		return "", true
	}
	listedAfterEmpty := 0
	f.onShowProc = func(f *fakeMaster) {
		if emptyAnswers == 0 {
			return
		}
		// The "show proc" right after the empty answer still lists it.
		if listedAfterEmpty++; listedAfterEmpty == 2 {
			f.exits(200)
		}
	}
	got, err := f.master().Sessions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"app-v1": 1}; !maps.Equal(got, want) {
		t.Errorf("Sessions = %v, want %v (the old worker exited)", got, want)
	}
	if emptyAnswers == 0 {
		t.Error("worker 200 was never asked: the test played nothing")
	}
}

func TestSessionsFailsWhenTheMasterIsNotThere(t *testing.T) {
	m := &Master{Socket: "/nonexistent/strata/master.sock", Timeout: 20 * time.Millisecond}
	got, err := m.Sessions(context.Background())
	if err == nil {
		t.Fatalf("Sessions = %v, want an error", got)
	}
	var cliErr *CLIError
	if !errors.As(err, &cliErr) || cliErr.Command != "show proc" {
		t.Errorf("error %v is not a CLIError for show proc", err)
	}
}

func TestSessionsCountsAgainWhenAReloadStartsAWorkerMeanwhile(t *testing.T) {
	f := startFakeMaster(t,
		fakeWorker{pid: 200, sessions: map[string]int{"app-v1": 2}},
	)
	reloaded := false
	f.onStat = func(f *fakeMaster, pid int) (string, bool) {
		if !reloaded {
			reloaded = true
			f.reloadOK(300)
			// A session lands on the new worker, which the first pass
			// did not ask.
			f.workers[len(f.workers)-1].sessions["app-v2"] = 1
		}
		return "", false
	}
	got, err := f.master().Sessions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"app-v1": 2, "app-v2": 1}; !maps.Equal(got, want) {
		t.Errorf("Sessions = %v, want %v", got, want)
	}
}

func TestSessionsGivesUpWhenWorkersKeepStarting(t *testing.T) {
	f := startFakeMaster(t, fakeWorker{pid: 200, sessions: map[string]int{"app-v1": 0}})
	next := 300
	f.onStat = func(f *fakeMaster, pid int) (string, bool) {
		f.reloadOK(next)
		next++
		return "", false
	}
	got, err := f.master().Sessions(context.Background())
	if err == nil || !strings.Contains(err.Error(), "kept starting") {
		t.Fatalf("Sessions = %v, %v; want an error saying workers kept starting", got, err)
	}
}

func TestSessionsFailsWithoutACurrentWorker(t *testing.T) {
	f := startFakeMaster(t, fakeWorker{pid: 200, old: true, sessions: map[string]int{"app-v1": 0}})
	if got, err := f.master().Sessions(context.Background()); err == nil || !strings.Contains(err.Error(), "no current worker") {
		t.Fatalf("Sessions = %v, %v; want an error saying there is no current worker", got, err)
	}
}

func TestStatReportsAWorkerTheMasterDoesNotKnowAsGone(t *testing.T) {
	f := startFakeMaster(t, fakeWorker{pid: 200, sessions: map[string]int{"app-v1": 0}})
	_, err := f.master().Stat(context.Background(), 999)
	if !errors.Is(err, ErrProcessGone) {
		t.Fatalf("Stat(999) error = %v, want ErrProcessGone", err)
	}
}

func TestReloadReturnsTheWorkerTheReloadStarted(t *testing.T) {
	f := startFakeMaster(t, fakeWorker{pid: 200, sessions: map[string]int{"app-v1": 0}})
	f.onReload = func(f *fakeMaster) { f.reloadOK(300) }
	got, err := f.master().Reload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.PID != 300 || got.Role != RoleCurrent {
		t.Errorf("Reload = %+v, want the current worker 300", got)
	}
}

func TestReloadReportsAFailureTheMasterCounts(t *testing.T) {
	f := startFakeMaster(t, fakeWorker{pid: 200, sessions: map[string]int{"app-v1": 0}})
	f.onReload = func(f *fakeMaster) { f.reloads++; f.failed++ }
	_, err := f.master().Reload(context.Background())
	if !errors.Is(err, ErrReloadFailed) {
		t.Fatalf("Reload error = %v, want ErrReloadFailed", err)
	}
	if !strings.Contains(err.Error(), "200 keep serving") {
		t.Errorf("error %q does not say that worker 200 keeps serving", err)
	}
}

func TestReloadWaitsForTheWorkerWhenTheCounterMovesFirst(t *testing.T) {
	f := startFakeMaster(t, fakeWorker{pid: 200, sessions: map[string]int{"app-v1": 0}})
	showProcsAfterReload := -1
	f.onReload = func(f *fakeMaster) {
		f.reloads++
		showProcsAfterReload = 0
	}
	// The new worker shows up on the third show proc after the reload.
	f.onShowProc = func(f *fakeMaster) {
		if showProcsAfterReload < 0 {
			return
		}
		showProcsAfterReload++
		if showProcsAfterReload == 3 {
			f.workers[0].old = true
			f.workers = append(f.workers, fakeWorker{pid: 300})
		}
	}
	got, err := f.master().Reload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.PID != 300 {
		t.Errorf("Reload = %+v, want worker 300", got)
	}
	if showProcsAfterReload != 3 {
		t.Errorf("Reload asked show proc %d times after reloading, want 3", showProcsAfterReload)
	}
}

func TestReloadReportsAReloadThatNeverShowsUp(t *testing.T) {
	f := startFakeMaster(t, fakeWorker{pid: 200, sessions: map[string]int{"app-v1": 0}})
	m := f.master()
	m.ReloadTimeout = 50 * time.Millisecond
	_, err := m.Reload(context.Background())
	if !errors.Is(err, ErrReloadUnconfirmed) {
		t.Fatalf("Reload error = %v, want ErrReloadUnconfirmed", err)
	}
	if !strings.Contains(err.Error(), "current worker(s) 200") {
		t.Errorf("error %q does not show the last show proc", err)
	}
}

func TestReloadStopsWhenTheContextIsCancelled(t *testing.T) {
	f := startFakeMaster(t, fakeWorker{pid: 200, sessions: map[string]int{"app-v1": 0}})
	ctx, cancel := context.WithCancel(context.Background())
	f.onReload = func(*fakeMaster) { cancel() }
	_, err := f.master().Reload(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Reload error = %v, want context.Canceled", err)
	}
}

func TestReloadNoticesThatHAProxyWasRestarted(t *testing.T) {
	f := startFakeMaster(t, fakeWorker{pid: 200, sessions: map[string]int{"app-v1": 0}})
	f.onReload = func(f *fakeMaster) { f.pid = 101 }
	_, err := f.master().Reload(context.Background())
	if err == nil || !strings.Contains(err.Error(), "restarted") {
		t.Fatalf("Reload error = %v, want one saying HAProxy was restarted", err)
	}
}

func TestCommandSendsOneLineOnly(t *testing.T) {
	f := startFakeMaster(t, fakeWorker{pid: 200})
	if _, err := f.master().Command(context.Background(), "show proc\nreload"); err == nil {
		t.Fatal("Command accepted two lines")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.commands) != 0 {
		t.Errorf("the master received %q", f.commands)
	}
}

func TestCommandReturnsTheAnswerAsIs(t *testing.T) {
	f := startFakeMaster(t, fakeWorker{pid: 200})
	got, err := f.master().Command(context.Background(), "show foo")
	if err != nil {
		t.Fatal(err)
	}
	if got != "Unknown command: 'show foo'\n" {
		t.Errorf("Command = %q", got)
	}
}

func TestProcsAsksAgainWhenTheMasterClosesWithoutAWord(t *testing.T) {
	f := startFakeMaster(t, fakeWorker{pid: 200})
	f.silent = queryAttempts - 1
	procs, err := f.master().Procs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(procs) != 2 {
		t.Errorf("Procs = %+v, want the master and worker 200", procs)
	}
}

func TestProcsGivesUpOnAMasterThatNeverAnswers(t *testing.T) {
	f := startFakeMaster(t, fakeWorker{pid: 200})
	f.silent = queryAttempts
	if procs, err := f.master().Procs(context.Background()); err == nil {
		t.Fatalf("Procs = %+v, want an error", procs)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.commands) != queryAttempts {
		t.Errorf("the master received %d commands, want %d", len(f.commands), queryAttempts)
	}
}
