package apply

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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
	var mu sync.Mutex
	var outcomes []error
	succeeded := make(chan struct{})
	changed := make(chan struct{}, 1)
	changed <- struct{}{}
	served := make(chan struct{})
	go func() {
		defer close(served)
		Serve(ctx, Options{Dir: dir, ConfigPath: filepath.Join(t.TempDir(), "haproxy.cfg")}, changed, func(_ Result, err error) {
			mu.Lock()
			defer mu.Unlock()
			outcomes = append(outcomes, err)
			if len(outcomes) == 1 {
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
}
