package rundir

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// holderEnv makes the test binary a process that locks a directory, says so, and waits to be
// killed: the kernel must then drop the lock.
const holderEnv = "RUNDIR_TEST_HOLD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(holderEnv); dir != "" {
		if _, err := Acquire(dir); err != nil {
			os.Stdout.WriteString("error: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("locked\n")
		select {}
	}
	os.Exit(m.Run())
}

func TestSecondOwnerRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	l, err := Acquire(dir)
	require.NoError(t, err)
	_, err = Acquire(dir)
	require.ErrorIs(t, err, ErrInUse)
	assert.Contains(t, err.Error(), dir)
	assert.Contains(t, err.Error(), "(process "+strconv.Itoa(os.Getpid())+")")

	l.Release()
	l.Release() // twice is harmless
	l2, err := Acquire(dir)
	require.NoError(t, err, "a released directory can be taken again")
	l2.Release()
}

func TestKilledOwnerReleases(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holderEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "locked\n", line)

	_, err = Acquire(dir)
	require.ErrorIs(t, err, ErrInUse)
	assert.Contains(t, err.Error(), "(process "+strconv.Itoa(cmd.Process.Pid)+")")

	require.NoError(t, cmd.Process.Kill())
	cmd.Wait()
	l, err := Acquire(dir)
	require.NoError(t, err, "a killed owner's lock is gone")
	l.Release()
}

func TestStaleTempsRemoved(t *testing.T) {
	dir := t.TempDir()
	files := map[string]bool{ // name: kept
		"checkpoint.ckpt":            true,
		"checkpoint.ckpt.tmp-123456": false,
		"metrics.jsonl.tmp-99":       false,
		"metrics.jsonl":              true,
		"notes.tmp":                  true,
		"run.json":                   true,
	}
	for name := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644))
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub.tmp-1"), 0o755)) // not a file: kept

	l, err := Acquire(dir)
	require.NoError(t, err)
	defer l.Release()
	for name, kept := range files {
		_, err := os.Stat(filepath.Join(dir, name))
		assert.Equal(t, kept, err == nil, name)
	}
	assert.DirExists(t, filepath.Join(dir, "sub.tmp-1"))
}

func TestAbandon(t *testing.T) {
	t.Run("a directory Acquire made and nothing wrote goes", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "run")
		l, err := Acquire(dir)
		require.NoError(t, err)
		l.Abandon()
		assert.NoDirExists(t, dir)
	})
	t.Run("a directory that existed stays", func(t *testing.T) {
		dir := t.TempDir()
		l, err := Acquire(dir)
		require.NoError(t, err)
		l.Abandon()
		assert.DirExists(t, dir)
	})
	t.Run("a directory with files stays", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "run")
		l, err := Acquire(dir)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "run.json"), []byte("{}"), 0o644))
		l.Abandon()
		assert.FileExists(t, filepath.Join(dir, "run.json"))
		l2, err := Acquire(dir)
		require.NoError(t, err, "an abandoned directory is released")
		l2.Release()
	})
}
