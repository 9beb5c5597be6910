package apply

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/applystats"
	"github.com/strata-dev/strata/internal/routing"
)

// TestServeRetriesAFailedStepUntilItSucceeds: a step that fails (here an
// intent that does not parse) is tried again without a new change, and the
// first one that succeeds ends the retries.
func TestServeRetriesAFailedStepUntilItSucceeds(t *testing.T) {
	dir := t.TempDir()
	sum := strings.Repeat("c", 64)
	structured(t, dir, sum, sum, "global\n")
	intent := filepath.Join(dir, routing.IntentFile)
	if err := os.WriteFile(intent, []byte("app web 2 2\nbackend evil\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	statsCopy := filepath.Join(t.TempDir(), applystats.CopyName)
	var mu sync.Mutex
	var outcomes []error
	succeeded := make(chan struct{})
	changed := make(chan struct{}, 1)
	changed <- struct{}{}
	served := make(chan struct{})
	go func() {
		defer close(served)
		Serve(ctx, Options{Dir: dir, ConfigPath: filepath.Join(t.TempDir(), "haproxy.cfg"), StatsCopy: statsCopy}, changed, func(_ Result, err error) {
			mu.Lock()
			defer mu.Unlock()
			outcomes = append(outcomes, err)
			if len(outcomes) == 1 {
				// The failure is counted, and the copy for lbstats says so.
				st, ok, rerr := applystats.ReadFile(statsCopy)
				if rerr != nil || !ok || st.Failures != 1 || !st.Failing || !strings.Contains(st.LastError, "unknown item") {
					t.Errorf("after the failed step, the counters read %+v, %v, %v; want 1 failure, failing, and why", st, ok, rerr)
				}
				// Mend the file after the first failure; no change is
				// signalled: only a retry can apply it.
				if werr := os.WriteFile(intent, []byte("app web 2 2\nlive web none\n"), 0o644); werr != nil {
					t.Error(werr)
				}
			}
			if err == nil {
				close(succeeded)
			}
		})
	}()
	select {
	case <-succeeded:
	case <-ctx.Done():
		t.Fatal("no step succeeded")
	}
	cancel()
	<-served
	mu.Lock()
	defer mu.Unlock()
	if len(outcomes) != 2 || outcomes[0] == nil || !strings.Contains(outcomes[0].Error(), "unknown item") || outcomes[1] != nil {
		t.Errorf("outcomes %v, want the parse error, then success", outcomes)
	}
	// Success clears the failing state and keeps the count.
	for _, path := range []string{filepath.Join(dir, StatsFile), statsCopy} {
		st, ok, err := applystats.ReadFile(path)
		if err != nil || !ok || st.Failures != 1 || st.Failing || st.LastError != "" || st.Applies != 1 {
			t.Errorf("%s after the retry: %+v, %v, %v; want 1 failure, 1 apply, not failing", path, st, ok, err)
		}
	}
}
