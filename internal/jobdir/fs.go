package jobdir

import (
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
)

// fileSystem is what Plan and Apply do to an output directory, with names
// relative to it and slash-separated. The real one is an os.Root, which
// refuses any name that leaves the directory; tests wrap it to inject
// failures.
type fileSystem interface {
	Lstat(name string) (fs.FileInfo, error)
	ReadDir(name string) ([]fs.DirEntry, error)
	ReadFile(name string) ([]byte, error)
	Mkdir(name string, perm fs.FileMode) error
	OpenFile(name string, flag int, perm fs.FileMode) (file, error)
	Rename(oldname, newname string) error
	Remove(name string) error
	// SyncDir flushes a directory's entries (renames, removals) to disk.
	SyncDir(name string) error
	Close() error
}

// file is a file open for writing.
type file interface {
	io.Writer
	Sync() error
	Close() error
}

// rootFS is a fileSystem on an os.Root.
type rootFS struct{ *os.Root }

func openRoot(dir string) (fileSystem, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return rootFS{r}, nil
}

func (r rootFS) ReadDir(name string) ([]fs.DirEntry, error) {
	f, err := r.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, err
}

func (r rootFS) OpenFile(name string, flag int, perm fs.FileMode) (file, error) {
	return r.Root.OpenFile(name, flag, perm)
}

func (r rootFS) SyncDir(name string) error {
	f, err := r.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
