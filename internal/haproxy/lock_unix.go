//go:build unix

package haproxy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lock takes an exclusive flock(2) on path, creating the file, and returns
// the function that releases it. flock has no timeout, so lock polls it
// without blocking until ctx ends or maxLockWait passes.
func lock(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the lock: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, maxLockWait)
	defer cancel()
	fd := int(f.Fd())
	maxAttempts := int(maxLockWait/lockRetry) + 1
	for attempt := 0; attempt < maxAttempts; attempt++ {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				// Closing the file releases the lock too; unlocking first
				// makes it explicit.
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
	why := ctx.Err()
	if why == nil {
		why = context.DeadlineExceeded
	}
	return nil, fmt.Errorf("waiting for the lock %s, held by another reload: %w", path, why)
}
