package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLocalDown(t *testing.T) {
	t.Run("a directory without a recorded cluster is left alone", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "keep"), []byte("x"), 0o644)
		code, out, errOut := run(t, nil, "local", "down", "--dir", dir)
		if code != 0 || !strings.Contains(out, "no cluster recorded in "+dir) {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		if _, err := os.Stat(filepath.Join(dir, "keep")); err != nil {
			t.Fatalf("local down removed a file of a directory without a cluster: %v", err)
		}
	})
	t.Run("an unreadable state file is an error naming it", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "state.json"), []byte("{not json"), 0o644)
		code, _, errOut := run(t, nil, "local", "down", "--dir", dir)
		if code != 1 || !strings.Contains(errOut, filepath.Join(dir, "state.json")) {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
	})
	t.Run("up takes no arguments", func(t *testing.T) {
		if code, _, _ := run(t, nil, "local", "up", "extra"); code != 64 {
			t.Fatalf("exit %d, want 64", code)
		}
	})
}
