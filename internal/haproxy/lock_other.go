//go:build !unix

package haproxy

import (
	"context"
	"errors"
	"fmt"
)

// lock is not implemented without flock(2); HAProxy's master-worker mode
// runs on unix systems only.
func lock(ctx context.Context, path string) (unlock func(), err error) {
	return nil, fmt.Errorf("locking %s: %w", path, errors.ErrUnsupported)
}
