package reloaddesign

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/strata-dev/strata/internal/haproxy"
)

// settle is haproxy.DefaultSettle at the frozen commit.
const settle = 50 * time.Millisecond

// lockRetry and maxLockWait are the frozen lock's pacing.
const (
	lockRetry   = 2 * time.Millisecond
	maxLockWait = 2 * time.Minute
)

// reloadCoalesced is haproxy.ReloadCoalesced at the frozen commit: under an
// exclusive lock on lockPath, after settle, it reloads HAProxy through m
// unless the last confirmed reload loaded exactly files (by a hash of their
// names and contents, kept in lockPath+".hash"), and says whether it did.
func reloadCoalesced(ctx context.Context, m *haproxy.Master, lockPath string, files []string) (bool, error) {
	unlock, err := lock(ctx, lockPath)
	if err != nil {
		return false, fmt.Errorf("reloaddesign: coalesced reload: %w", err)
	}
	defer unlock()
	if !sleep(ctx, settle) {
		return false, fmt.Errorf("reloaddesign: coalesced reload: settling: %w", ctx.Err())
	}
	sum, err := hashFiles(files)
	if err != nil {
		return false, fmt.Errorf("reloaddesign: coalesced reload: %w", err)
	}
	hashPath := lockPath + ".hash"
	stored, err := os.ReadFile(hashPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("reloaddesign: coalesced reload: reading the hash of the last reload: %w", err)
	}
	if strings.TrimSpace(string(stored)) == sum {
		return false, nil
	}
	if _, err := m.Reload(ctx); err != nil {
		return false, fmt.Errorf("reloaddesign: coalesced reload of %s: %w", strings.Join(files, ", "), err)
	}
	if err := os.WriteFile(hashPath, []byte(sum+"\n"), 0o600); err != nil {
		return true, fmt.Errorf("reloaddesign: coalesced reload: storing the hash: %w", err)
	}
	return true, nil
}

// hashFiles is the hex SHA-256 of the files' sorted names and contents.
func hashFiles(files []string) (string, error) {
	names := make([]string, 0, len(files))
	for _, f := range files {
		names = append(names, filepath.Clean(f))
	}
	slices.Sort(names)
	names = slices.Compact(names)
	h := sha256.New()
	var n [8]byte
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			return "", fmt.Errorf("hashing the files HAProxy reads: %w", err)
		}
		binary.BigEndian.PutUint64(n[:], uint64(len(name)))
		h.Write(n[:])
		h.Write([]byte(name))
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// lock takes an exclusive flock(2) on path, polling until ctx ends or
// maxLockWait passes.
func lock(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the lock: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, maxLockWait)
	defer cancel()
	fd := int(f.Fd())
	for attempt := 0; attempt < int(maxLockWait/lockRetry)+1; attempt++ {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(fd, syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if !sleep(ctx, lockRetry) {
			break
		}
	}
	f.Close()
	return nil, fmt.Errorf("waiting for the lock %s: %w", path, context.DeadlineExceeded)
}

// sleep waits for d or until ctx ends, and reports whether ctx is live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
