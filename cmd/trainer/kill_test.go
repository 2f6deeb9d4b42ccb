package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resnet-go/resnet/train"
	"github.com/resnet-go/resnet/train/checkpoint"
	"github.com/resnet-go/resnet/train/runlog"
)

// killRun is the run the kill test interrupts: 4 epochs of 2 steps with a validation set, about
// 2 s uninterrupted. killProc are the flags of every process: one worker, since a run is bit for
// bit reproducible only for a fixed worker count.
var (
	killRun = []string{"-model", "resnet8", "-data", "synthetic", "-train-limit", "96", "-val", "32",
		"-test-limit", "64", "-epochs", "4", "-batch", "32", "-eval-batch", "64", "-warmup", "0"}
	killProc = []string{"-workers", "1", "-quiet"}
)

const (
	killEpochs  = 4               // -epochs of killRun
	killsWant   = 20              // kills that must interrupt a live process
	killBudget  = 2 * time.Minute // for the kill loop
	killSeedEnv = "TRAINER_KILL_SEED"
)

// TestKillAndResume kills training processes with SIGKILL at random points, until killsWant
// kills have interrupted a live process, checks after every kill that the run directory is
// loadable (checkpoint, run.json, metrics.jsonl) and consistent with the uninterrupted run, and
// resumes to the end: every epoch's metrics, and the final weights, BN statistics and momentum
// buffers, equal the uninterrupted run's bit for bit. Half the kills come after a random delay
// spread over a process's life (start-up, data, graphs, epochs, checkpoint writes); the other
// half at the first sign of a chosen write (of the checkpoint or curves after a given epoch, of
// the metrics or run.json in start-up), at once or up to 5 ms later, which lands them inside
// writes that a delay hits rarely. A run that completes before its kill is checked and followed
// by a fresh one in a new directory.
// TRAINER_KILL_SEED=n repeats a schedule (the log names the seed; process timing still varies).
func TestKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts training processes for 10–40 s")
	}
	self, err := os.Executable()
	require.NoError(t, err)
	root := t.TempDir()

	// The uninterrupted run, in a process of its own as every run below.
	refDir := filepath.Join(root, "reference")
	began := time.Now()
	c := startTrainer(t, self, trainArgs(refDir, false)...)
	c.wait(t, time.Minute)
	refElapsed := time.Since(began)
	c.requireSuccess(t)
	ref, err := runlog.ReadRecords(filepath.Join(refDir, train.MetricsFile))
	require.NoError(t, err)
	require.Len(t, ref, killEpochs)
	refCfg, err := train.ReadConfig(filepath.Join(refDir, train.ConfigFile), train.Config{})
	require.NoError(t, err)
	// How long a process lives: start-up (flags, data, graphs, checkpoint) plus its epochs.
	perEpoch := time.Duration(ref[killEpochs-1].WallSec / killEpochs * float64(time.Second))
	startup := max(refElapsed-time.Duration(ref[killEpochs-1].WallSec*float64(time.Second)), 50*time.Millisecond)
	t.Logf("uninterrupted run: %v (start-up %v, %v an epoch)", refElapsed.Round(time.Millisecond),
		startup.Round(time.Millisecond), perEpoch.Round(time.Millisecond))

	seed := time.Now().UnixNano()
	if s := os.Getenv(killSeedEnv); s != "" {
		seed, err = strconv.ParseInt(s, 10, 64)
		require.NoError(t, err, killSeedEnv)
	}
	t.Logf("kill schedule seed %d (%s=%d repeats it)", seed, killSeedEnv, seed)
	rng := rand.New(rand.NewSource(seed))

	var (
		dirs      = 0
		dir       = filepath.Join(root, "run0")
		ckEpoch   = 0 // epoch of dir's checkpoint (0: none)
		hits      = 0 // kills that interrupted a live process
		finished  = 0 // processes that completed their run before their kill
		leftTemp  = 0 // kills that left a temporary file behind
		phases    = map[string]int{}
		completed []string // run directories whose run completed
		deadline  = time.Now().Add(killBudget)
	)
	// complete checks the run in dir, which a process completed, and moves on to a new directory.
	complete := func() {
		t.Helper()
		checkCompleted(t, dir, refDir, ref)
		if t.Failed() {
			t.FailNow()
		}
		completed = append(completed, dir)
		dirs++
		dir, ckEpoch = filepath.Join(root, fmt.Sprintf("run%d", dirs)), 0
	}
	for hits < killsWant && time.Now().Before(deadline) {
		if ckEpoch == killEpochs {
			// Killed after its last checkpoint: a resume has nothing left to train. Let it finish
			// (it tidies the directory) and start another run, so the kills fall on training.
			c := startTrainer(t, self, trainArgs(dir, true)...)
			c.wait(t, time.Minute)
			c.requireSuccess(t)
			complete()
			continue
		}
		before := tempFiles(t, dir)
		remaining := killEpochs - ckEpoch
		life := startup + time.Duration(remaining)*perEpoch
		var how string
		if rng.Intn(2) == 0 {
			// Over the whole life and a little beyond; a third of them in start-up, which is short.
			span := 1.1 * float64(life)
			if rng.Intn(3) == 0 {
				span = 1.5 * float64(startup)
			}
			delay := time.Duration(rng.Float64() * span)
			how = fmt.Sprintf("after %v", delay.Round(time.Millisecond))
			c = startTrainer(t, self, trainArgs(dir, ckEpoch > 0)...)
			c.killAfter(t, delay)
		} else {
			// One write of one file: the checkpoint (twice as often as the others) or the curves
			// after a later epoch; metrics.jsonl, metrics.csv (and run.json when fresh) in
			// start-up. Half the time at once, half a little into the write.
			files := []string{train.CheckpointFile, train.CheckpointFile, train.CurvesFile, runlog.JSONLName, runlog.CSVName}
			if ckEpoch == 0 {
				files = append(files, train.ConfigFile)
			}
			file, epoch := files[rng.Intn(len(files))], 0
			if file == train.CheckpointFile || file == train.CurvesFile {
				epoch = ckEpoch + 1 + rng.Intn(remaining)
			}
			var extra time.Duration
			if rng.Intn(2) == 0 {
				extra = time.Duration(rng.Int63n(int64(5 * time.Millisecond)))
			}
			how = fmt.Sprintf("writing %s", file)
			if epoch > 0 {
				how += fmt.Sprintf(" of epoch %d", epoch)
			}
			how += fmt.Sprintf(" +%v", extra.Round(100*time.Microsecond))
			base := writeSigs(t, dir, file)
			c = startTrainer(t, self, trainArgs(dir, ckEpoch > 0)...)
			c.killAtWrite(t, dir, file, epoch, base, extra, 2*life)
		}
		ws := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
		switch {
		case ws.Signaled() && ws.Signal() == syscall.SIGKILL:
			hits++
			var logged int
			ckEpoch, logged = checkKilledState(t, dir, ref, refCfg)
			if t.Failed() {
				t.FailNow()
			}
			left := newNames(tempFiles(t, dir), before)
			if len(left) > 0 {
				leftTemp++
			}
			phase := killPhase(c.stdout.String(), left, logged, ckEpoch)
			phases[phase]++
			t.Logf("kill %2d (%s, %s): %s; checkpoint of epoch %d, %d epochs logged",
				hits, filepath.Base(dir), how, phase, ckEpoch, logged)
		case ws.Exited() && ws.ExitStatus() == 0:
			// The run ended before its kill: check it and start another, so more kills happen.
			finished++
			t.Logf("run in %s completed before its kill (%s)", filepath.Base(dir), how)
			complete()
		default:
			t.Fatalf("trainer in %s ended with %v, neither killed nor successful:\n%s", dir, c.cmd.ProcessState, c.stderr.String())
		}
	}

	// Resume the last directory to the end (or start it, if no checkpoint survived).
	c = startTrainer(t, self, trainArgs(dir, ckEpoch > 0)...)
	c.wait(t, time.Minute)
	c.requireSuccess(t)
	if ckEpoch > 0 {
		assert.Contains(t, c.stdout.String(), fmt.Sprintf("continuing after epoch %d", ckEpoch))
	}
	checkCompleted(t, dir, refDir, ref)
	completed = append(completed, dir)

	names := make([]string, 0, len(phases))
	for p := range phases {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		t.Logf("%3d kills %s", phases[p], p)
	}
	t.Logf("%d kills hit a live process (%d left a temporary file), %d runs completed before their kill, %d run directories, %v",
		hits, leftTemp, finished, len(completed), time.Since(began).Round(time.Millisecond))
	require.GreaterOrEqual(t, hits, killsWant, "only %d kills interrupted a live process within %v", hits, killBudget)

	// Opening a run directory removes what killed writers left (checkpoint.ckpt.tmp-*, …), so a
	// completed run leaves none.
	for _, d := range completed {
		assert.Empty(t, tempFiles(t, d), "%s: temporary files of killed writes remain after the run completed", d)
	}
}

// trainArgs are the arguments of a fresh run into dir or, with resume, of its continuation.
func trainArgs(dir string, resume bool) []string {
	if resume {
		return append([]string{"train", "-resume", "-out", dir}, killProc...)
	}
	return append(append([]string{"train", "-out", dir}, killRun...), killProc...)
}

// child is a trainer process: the test binary run as main (see TestMain).
type child struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{} // closed when the process has been waited for
}

func startTrainer(t *testing.T, self string, args ...string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(self, args...), done: make(chan struct{})}
	c.cmd.Env = append(os.Environ(), "TRAINER_TEST_AS_MAIN=1")
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	require.NoError(t, c.cmd.Start())
	go func() {
		c.cmd.Wait() // the exit status is read from ProcessState
		close(c.done)
	}()
	t.Cleanup(func() { // a failed test leaves no process behind
		select {
		case <-c.done:
		default:
			c.cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

// kill sends SIGKILL (unless the process has already exited) and waits for the process, so that
// the next process finds the directory unlocked.
func (c *child) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("kill: %v", err)
	}
	<-c.done
}

// killAfter kills the process after delay, or lets it end before.
func (c *child) killAfter(t *testing.T, delay time.Duration) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(delay):
		c.kill(t)
	}
}

// killAtWrite kills the process at the first sign of a write of file in dir once the run has
// logged epoch `after` in metrics.jsonl (0: from the start), and extra later: a file whose name
// begins with file (file itself or its file.tmp-*) that is new or has changed size or time since
// base. It kills after limit if it sees none, and lets a process that ends first be.
func (c *child) killAtWrite(t *testing.T, dir, file string, after int, base map[string]writeSig, extra, limit time.Duration) {
	t.Helper()
	end := time.Now().Add(limit)
	for {
		select {
		case <-c.done:
			return
		default:
		}
		if time.Now().After(end) {
			c.kill(t)
			return
		}
		// Listing before counting: when the epoch is not yet logged, the listing was taken
		// before its checkpoint and curves were begun, and is the base to compare with.
		now := writeSigs(t, dir, file)
		if after > 0 && loggedEpochs(dir) < after {
			base = now
		} else if changed(base, now) {
			if extra > 0 {
				time.Sleep(extra)
			}
			c.kill(t)
			return
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// writeSig is what shows that a file is being written.
type writeSig struct{ size, mtime int64 }

// writeSigs returns the files of dir whose names begin with prefix.
func writeSigs(t *testing.T, dir, prefix string) map[string]writeSig {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	sigs := map[string]writeSig{}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		if info, err := e.Info(); err == nil { // it may have been renamed since the listing
			sigs[e.Name()] = writeSig{info.Size(), info.ModTime().UnixNano()}
		}
	}
	return sigs
}

// changed reports a file of now that is not in base or differs from it; files that vanished
// (renamed over, or stale temporary files removed at start-up) do not count.
func changed(base, now map[string]writeSig) bool {
	for name, s := range now {
		if b, ok := base[name]; !ok || b != s {
			return true
		}
	}
	return false
}

// loggedEpochs counts the complete lines of dir's metrics.jsonl.
func loggedEpochs(dir string) int {
	b, _ := os.ReadFile(filepath.Join(dir, train.MetricsFile))
	return bytes.Count(b, []byte("\n"))
}

func (c *child) wait(t *testing.T, limit time.Duration) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(limit):
		t.Fatalf("trainer %v still running after %v:\n%s", c.cmd.Args[1:], limit, c.stderr.String())
	}
}

func (c *child) requireSuccess(t *testing.T) {
	t.Helper()
	require.True(t, c.cmd.ProcessState.Success(), "trainer %v: %v\n%s", c.cmd.Args[1:], c.cmd.ProcessState, c.stderr.String())
}

// tempFiles lists the temporary files of atomic writes in dir (none when dir does not exist).
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			names = append(names, e.Name())
		}
	}
	return names
}

func newNames(now, before []string) []string {
	var out []string
	for _, n := range now {
		if !slices.Contains(before, n) {
			out = append(out, n)
		}
	}
	return out
}

// killPhase says where a kill landed, from what the process printed and left.
func killPhase(stdout string, leftTemp []string, logged, ckEpoch int) string {
	switch {
	case len(leftTemp) > 0:
		name, _, _ := strings.Cut(leftTemp[0], ".tmp-")
		return "while writing " + name
	case !strings.HasPrefix(stdout, "training ") && !strings.HasPrefix(stdout, "resuming "):
		return "in start-up (flags, data, graphs, checkpoint)"
	case logged > ckEpoch:
		return "between logging an epoch and saving its checkpoint"
	default:
		return "in training or evaluation"
	}
}

// checkKilledState checks the run directory a kill left: a checkpoint, when there is one, loads
// and matches the uninterrupted run at its epoch; run.json holds the run's settings;
// metrics.jsonl reads and holds the checkpoint's epochs (and at most the one after, logged but
// not yet checkpointed), each equal to the uninterrupted run's. It returns the checkpoint's epoch
// (0: none) and the number of epochs logged.
func checkKilledState(t *testing.T, dir string, ref []runlog.Record, refCfg train.Config) (ckEpoch, logged int) {
	t.Helper()
	ckPath := filepath.Join(dir, train.CheckpointFile)
	_, err := os.Stat(ckPath)
	hasCk := err == nil
	if hasCk {
		ck, err := train.LoadCheckpoint(ckPath)
		require.NoError(t, err, "the checkpoint a kill left does not load")
		ckEpoch = ck.State.Epoch
		require.True(t, ckEpoch >= 1 && ckEpoch <= len(ref), "%s: checkpoint of epoch %d", ckPath, ckEpoch)
		assert.Equal(t, ref[ckEpoch-1].Step, ck.State.Step, "%s: steps after epoch %d", ckPath, ckEpoch)
		assert.Equal(t, refCfg, ck.State.Config, "%s: settings", ckPath)
	} else {
		require.ErrorIs(t, err, fs.ErrNotExist)
	}

	cfgPath := filepath.Join(dir, train.ConfigFile)
	if _, err := os.Stat(cfgPath); err == nil || hasCk {
		cfg, err := train.ReadConfig(cfgPath, train.Config{})
		require.NoError(t, err)
		assert.Equal(t, refCfg, cfg, "%s", cfgPath)
	}

	mPath := filepath.Join(dir, train.MetricsFile)
	if _, err := os.Stat(mPath); err == nil || hasCk {
		recs, err := runlog.ReadRecords(mPath)
		require.NoError(t, err)
		logged = len(recs)
		require.GreaterOrEqual(t, logged, ckEpoch, "%s lacks epochs of the checkpoint", mPath)
		require.LessOrEqual(t, logged, ckEpoch+1, "%s: more than one epoch beyond the checkpoint's %d", mPath, ckEpoch)
		for i, r := range recs {
			sameRecord(t, mPath, r, ref[i])
		}
	}
	return ckEpoch, logged
}

// checkCompleted checks a run that completed: every epoch's metrics, the final weights, BN
// statistics and momentum buffers, and the checkpoint's state equal the uninterrupted run's.
func checkCompleted(t *testing.T, dir, refDir string, ref []runlog.Record) {
	t.Helper()
	mPath := filepath.Join(dir, train.MetricsFile)
	recs, err := runlog.ReadRecords(mPath)
	require.NoError(t, err)
	require.Len(t, recs, len(ref), "%s", mPath)
	for i := range ref {
		sameRecord(t, mPath, recs[i], ref[i])
	}

	want, err := train.LoadCheckpoint(filepath.Join(refDir, train.CheckpointFile))
	require.NoError(t, err)
	got, err := train.LoadCheckpoint(filepath.Join(dir, train.CheckpointFile))
	require.NoError(t, err)
	want.State.WallSec, got.State.WallSec = 0, 0
	assert.Equal(t, want.State, got.State, "%s: checkpoint state", dir)

	wf, err := checkpoint.Load(want.Path)
	require.NoError(t, err)
	gf, err := checkpoint.Load(got.Path)
	require.NoError(t, err)
	require.Len(t, gf.Tensors, len(wf.Tensors), "%s: tensors in the checkpoint", dir)
	for i, w := range wf.Tensors {
		g := gf.Tensors[i]
		require.Equal(t, w.Name, g.Name, "%s: tensor %d", dir, i)
		assert.True(t, slices.Equal(w.F32, g.F32) && slices.Equal(w.F64, g.F64),
			"%s: %s differs from the uninterrupted run's", dir, w.Name)
	}
}

// sameRecord asserts that an epoch's record equals the uninterrupted run's bit for bit, wall
// times and throughput aside.
func sameRecord(t *testing.T, path string, got, want runlog.Record) {
	t.Helper()
	require.Equal(t, want.Epoch, got.Epoch, "%s: epochs out of order", path)
	assert.Equal(t, want.Step, got.Step, "%s: epoch %d step", path, want.Epoch)
	for _, f := range []struct {
		name      string
		got, want float64
	}{
		{"lr", got.LR, want.LR},
		{"train_loss", got.TrainLoss, want.TrainLoss},
		{"train_error", got.TrainErr, want.TrainErr},
		{"val_loss", got.ValLoss, want.ValLoss},
		{"val_error", got.ValErr, want.ValErr},
		{"test_loss", got.TestLoss, want.TestLoss},
		{"test_error", got.TestErr, want.TestErr},
	} {
		assert.Equal(t, math.Float64bits(f.want), math.Float64bits(f.got),
			"%s: epoch %d %s %v, uninterrupted %v", path, want.Epoch, f.name, f.got, f.want)
	}
}
