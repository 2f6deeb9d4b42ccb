package rundir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LockName is the lock file inside a run directory.
const LockName = ".lock"

// ErrInUse is returned (wrapped) when another process owns the directory.
var ErrInUse = errors.New("run directory is in use by another process")

// Lock is the ownership of a run directory.
type Lock struct {
	dir     string
	f       *os.File
	created bool // Lock made the directory
}

// Acquire creates dir when needed and locks it for this process, or fails at once with ErrInUse
// naming the owner. It then removes stale temporary files of atomic writes.
func Acquire(dir string) (*Lock, error) {
	_, statErr := os.Stat(dir)
	created := errors.Is(statErr, os.ErrNotExist)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("rundir: %w", err)
	}
	path := filepath.Join(dir, LockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("rundir: %w", err)
	}
	if err := tryLock(f); err != nil {
		f.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, fmt.Errorf("rundir: %s: %w%s", dir, ErrInUse, owner(path))
		}
		return nil, fmt.Errorf("rundir: locking %s: %w", path, err)
	}
	// A process that failed and removed the directory between our open and our lock leaves us
	// holding a lock on a file no longer in it: that is not ownership of the directory.
	if same, err := samePath(f, path); err != nil || !same {
		f.Close()
		return nil, fmt.Errorf("rundir: %s: %w (its lock file was replaced while locking)", dir, ErrInUse)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	l := &Lock{dir: dir, f: f, created: created}
	if err := removeStaleTemps(dir); err != nil {
		l.Release()
		return nil, err
	}
	return l, nil
}

// Dir is the locked directory.
func (l *Lock) Dir() string { return l.dir }

// Release gives the directory up; later calls do nothing.
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	l.f.Close() // closing the descriptor drops the flock
	l.f = nil
}

// Abandon releases a directory whose run failed before writing anything: when Acquire created
// it and it holds nothing but the lock file, both go, so a refused run leaves no trace. The
// lock file is removed while still held, so no other process can have locked it meanwhile.
func (l *Lock) Abandon() {
	if l == nil || l.f == nil {
		return
	}
	if l.created {
		if entries, err := os.ReadDir(l.dir); err == nil && len(entries) == 1 && entries[0].Name() == LockName {
			os.Remove(filepath.Join(l.dir, LockName))
			os.Remove(l.dir)
		}
	}
	l.Release()
}

// owner reads the process ID in the lock file, for the message.
func owner(path string) string {
	b, err := os.ReadFile(path)
	if pid := strings.TrimSpace(string(b)); err == nil && pid != "" {
		return " (process " + pid + ")"
	}
	return ""
}

// removeStaleTemps removes NAME.tmp-* files, the leftovers of atomic writes whose process died
// between creating the temporary file and renaming it.
func removeStaleTemps(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("rundir: %w", err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() && strings.Contains(e.Name(), ".tmp-") {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("rundir: removing a stale temporary file: %w", err)
			}
		}
	}
	return nil
}
