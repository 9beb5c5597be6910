package apply

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/routing"
)

// structured writes a routing directory's two rendered files, each naming
// the settings it was rendered from (intentSum, cfgSum); cfgBody follows
// haproxy.cfg's structure line.
func structured(t *testing.T, dir, intentSum, cfgSum, cfgBody string) {
	t.Helper()
	intent := "structure " + intentSum + "\napp web 2 2\nlive web none\n"
	if err := os.WriteFile(filepath.Join(dir, routing.IntentFile), []byte(intent), 0o644); err != nil {
		t.Fatal(err)
	}
	writeCfg(t, dir, cfgSum, cfgBody)
}

func writeCfg(t *testing.T, dir, sum, body string) {
	t.Helper()
	cfg := "# strata-structure " + sum + "\n" + body
	if err := writeAtomic(filepath.Join(dir, routing.ConfigFile), []byte(cfg)); err != nil {
		t.Fatal(err)
	}
}

// installed is the configuration Apply installed for HAProxy.
func installed(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestApplyWaitsForTheSiblingTemplate: while routing.intent and haproxy.cfg
// name different settings, Apply waits for the one still to be written and
// then installs it; when they agree it does not wait at all (a Settle of an
// hour would hang the test); when they never agree it goes on after Settle
// with what it has.
func TestApplyWaitsForTheSiblingTemplate(t *testing.T) {
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// applyOnce renders the two files and applies them, and returns the
	// configuration Apply installed.
	applyOnce := func(t *testing.T, intentSum, cfgSum, body string, settle time.Duration) string {
		t.Helper()
		dir := t.TempDir()
		target := filepath.Join(t.TempDir(), "haproxy.cfg")
		structured(t, dir, intentSum, cfgSum, body)
		if _, err := Apply(ctx, Options{Dir: dir, ConfigPath: target, Settle: settle}); err != nil {
			t.Fatal(err)
		}
		return installed(t, target)
	}

	t.Run("they agree: no wait", func(t *testing.T) {
		if got := applyOnce(t, a, a, "global # a\n", time.Hour); !strings.Contains(got, "global # a") {
			t.Errorf("installed %q", got)
		}
	})

	t.Run("haproxy.cfg is written after Apply began: it waits for it", func(t *testing.T) {
		dir := t.TempDir()
		target := filepath.Join(t.TempDir(), "haproxy.cfg")
		structured(t, dir, b, a, "global # old\n")
		done := make(chan error, 1)
		go func() {
			_, err := Apply(ctx, Options{Dir: dir, ConfigPath: target, Settle: time.Hour})
			done <- err
		}()
		// Apply is waiting: it holds the lock and has installed nothing.
		time.Sleep(50 * time.Millisecond)
		select {
		case err := <-done:
			t.Fatalf("Apply returned (%v) before haproxy.cfg named the intent's settings", err)
		default:
		}
		writeCfg(t, dir, b, "global # new\n")
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := installed(t, target); !strings.Contains(got, "global # new") {
			t.Errorf("installed %q, want the configuration written while Apply waited", got)
		}
	})

	t.Run("they never agree: it goes on after Settle", func(t *testing.T) {
		if got := applyOnce(t, b, a, "global # only\n", 20*time.Millisecond); !strings.Contains(got, "global # only") {
			t.Errorf("installed %q", got)
		}
	})
}
