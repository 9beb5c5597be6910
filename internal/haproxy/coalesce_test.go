package haproxy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestHashFilesDependsOnNamesAndContentsButNotOrder(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "haproxy.cfg"), filepath.Join(dir, "versions.map")
	write := func(path, content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(a, "global\n")
	write(b, "live v1\n")
	hash := func(files ...string) string {
		t.Helper()
		h, err := hashFiles(files)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	ab := hash(a, b)
	if ba := hash(b, a); ba != ab {
		t.Errorf("the hash depends on the order of the files: %s != %s", ab, ba)
	}
	if again := hash(a, b, a); again != ab {
		t.Errorf("a file listed twice changes the hash")
	}
	if onlyA := hash(a); onlyA == ab {
		t.Errorf("dropping a file leaves the hash unchanged")
	}
	write(b, "live v2\n")
	if changed := hash(a, b); changed == ab {
		t.Errorf("changing a file leaves the hash unchanged")
	}
	// Moving a byte from one file to the other changes the hash too.
	write(a, "global\nl")
	write(b, "ive v1\n")
	if moved := hash(a, b); moved == ab {
		t.Errorf("moving content between files leaves the hash unchanged")
	}
	if _, err := hashFiles([]string{filepath.Join(dir, "missing.cfg")}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("hashing a missing file: %v, want a not-exist error", err)
	}
}

func TestLockWaitsForItsHolderAndGivesUpWithTheContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reload.lock")
	unlock, err := lock(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := lock(ctx, path); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a second lock while the first is held: %v, want DeadlineExceeded", err)
	}
	unlock()
	unlock2, err := lock(context.Background(), path)
	if err != nil {
		t.Fatalf("locking after the holder released: %v", err)
	}
	unlock2()
}

func TestReloadCoalescedReloadsNothingWhenTheFilesAreWhatWasLoaded(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte("global\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lockPath := filepath.Join(dir, "reload.lock")
	sum, err := hashFiles([]string{cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(lockPath+".hash", []byte(sum+"\n")); err != nil {
		t.Fatal(err)
	}
	// No master: any attempt to reach it would fail.
	m := &Master{Socket: filepath.Join(dir, "no-master.sock"), Timeout: 10 * time.Millisecond}
	reloaded, err := ReloadCoalesced(context.Background(), m, lockPath, []string{cfg}, 0)
	if err != nil || reloaded {
		t.Fatalf("ReloadCoalesced = %v, %v; want false, nil", reloaded, err)
	}
}

func TestReloadCoalescedStoresNothingWhenTheReloadFails(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte("global\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lockPath := filepath.Join(dir, "reload.lock")
	m := &Master{Socket: filepath.Join(dir, "no-master.sock"), Timeout: 10 * time.Millisecond}
	reloaded, err := ReloadCoalesced(context.Background(), m, lockPath, []string{cfg}, 0)
	if err == nil || reloaded {
		t.Fatalf("ReloadCoalesced = %v, %v; want false and an error", reloaded, err)
	}
	if _, err := os.Stat(lockPath + ".hash"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a hash was stored after a failed reload: %v", err)
	}
}

func TestReloadCoalescedNeedsFiles(t *testing.T) {
	m := &Master{Socket: "unused"}
	if _, err := ReloadCoalesced(context.Background(), m, filepath.Join(t.TempDir(), "l"), nil, 0); err == nil {
		t.Fatal("ReloadCoalesced without files succeeded")
	}
}
