package haproxy

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
	"time"
)

// DefaultSettle is the settle time strata passes to [ReloadCoalesced]: long
// enough for the templates rendered from one Consul change to finish writing,
// short enough not to delay a reload noticeably.
const DefaultSettle = 50 * time.Millisecond

// maxLockWait bounds the wait for the reload lock, whatever ctx allows.
const maxLockWait = 2 * time.Minute

// lockRetry is the pause between two attempts to take the reload lock.
const lockRetry = 2 * time.Millisecond

// ReloadCoalesced reloads HAProxy through m unless the last confirmed reload
// already loaded exactly the given files, and says whether it reloaded. It is
// what Nomad's template change_mode = "script" runs, once per re-rendered
// template.
//
// It takes an exclusive lock on lockPath (creating the file), waiting for it
// until ctx ends, at most two minutes; sleeps settle so that sibling
// templates finish writing; hashes files (their names and contents); and
// compares the hash with the one stored in lockPath+".hash". When they are
// equal it returns false. Otherwise it runs [Master.Reload], and once the
// reload is confirmed stores the hash (atomically) and returns true. A reload
// that fails stores nothing, so the next call tries again. See the package
// documentation for why this never loses a reload.
func ReloadCoalesced(ctx context.Context, m *Master, lockPath string, files []string, settle time.Duration) (reloaded bool, err error) {
	if len(files) == 0 {
		return false, errors.New("haproxy coalesced reload: no files to hash")
	}
	unlock, err := lock(ctx, lockPath)
	if err != nil {
		return false, fmt.Errorf("haproxy coalesced reload: %w", err)
	}
	defer unlock()

	if settle > 0 && !sleep(ctx, settle) {
		return false, fmt.Errorf("haproxy coalesced reload: settling: %w", ctx.Err())
	}
	sum, err := hashFiles(files)
	if err != nil {
		return false, fmt.Errorf("haproxy coalesced reload: %w", err)
	}
	hashPath := lockPath + ".hash"
	stored, err := os.ReadFile(hashPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("haproxy coalesced reload: reading the hash of the last reload: %w", err)
	}
	if strings.TrimSpace(string(stored)) == sum {
		return false, nil
	}
	if _, err := m.Reload(ctx); err != nil {
		return false, fmt.Errorf("haproxy coalesced reload of %s: %w", strings.Join(files, ", "), err)
	}
	if err := writeFileAtomic(hashPath, []byte(sum+"\n")); err != nil {
		return true, fmt.Errorf("haproxy coalesced reload: reloaded, but storing the hash of %s failed, so the next call will reload again: %w",
			strings.Join(files, ", "), err)
	}
	return true, nil
}

// hashFiles returns the hex SHA-256 of the files' names and contents, in
// sorted order of their cleaned names, so that the order callers list them in
// does not matter.
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

// writeFileAtomic writes b to a temporary file beside path, syncs it and
// renames it over path, so that a reader sees the old or the new content,
// never a part.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o600)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
