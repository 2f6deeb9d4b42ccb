//go:build mpi && cgo

package main

import (
	"context"
	"encoding/gob"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resnet-go/resnet/graph/ops"
	"github.com/resnet-go/resnet/train"
	"github.com/resnet-go/resnet/train/dist"
)

// These tests run the test binary as the ranks of an MPI job on this machine (make mpi-test).

// mpiWorkerEnv makes the test binary a rank of TestMPIMatchesAccumulation's job: the value is
// the directory it writes its weights to.
const mpiWorkerEnv = "TRAINER_TEST_MPI_WORKER"

// mpiConfig is a run of a few seconds: 2 epochs of 6 steps of ResNet-8, global batch 16.
func mpiConfig() train.Config {
	c := train.DefaultConfig()
	c.Model, c.Data, c.TrainLimit, c.Val, c.TestLimit = "resnet8", "synthetic", 128, 32, 64
	c.Epochs, c.Batch, c.EvalBatch, c.WarmupEpochs = 2, 16, 64, 0
	c.Pad, c.Flip = 2, true // the ranks must draw the same augmentation
	return c
}

// startMPI starts mpirun with np copies of the test binary, given env and args.
func startMPI(t *testing.T, np int, env []string, args ...string) *child {
	t.Helper()
	mpirun, err := exec.LookPath("mpirun")
	require.NoError(t, err, "mpirun (Debian: openmpi-bin)")
	self, err := os.Executable()
	require.NoError(t, err)
	line := []string{"-np", strconv.Itoa(np), "--oversubscribe", "--allow-run-as-root"}
	for _, e := range env {
		line = append(line, "-x", e)
	}
	c := &child{cmd: exec.Command(mpirun, append(append(line, self), args...)...), done: make(chan struct{})}
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	require.NoError(t, c.cmd.Start())
	go func() {
		c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			c.cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

// weights are the tensors of a store (parameters and buffers) by name.
type weights map[string][]float32

func tensorsOf(res *train.Result) weights {
	w := weights{}
	for _, p := range res.Params.All() {
		w[p.Name] = append([]float32(nil), p.Value.Data().([]float32)...)
	}
	return w
}

// Two MPI ranks reach the weights of one process accumulating two micro-batches, and hold the
// same weights as each other. Tolerance: none, bit for bit. Each micro-batch's gradient is
// computed by the same code on the same 8 rows with one worker, and MPI's sum of two ranks is one
// float32 addition per value, as the graph's accumulation of two micro-batches is (addition is
// commutative, so the order MPI chooses does not matter); both then divide by 2 and apply the
// same update. With more than two ranks MPI may add in a tree, a different order: then only
// float32 rounding (about 1e-7 relative per step) would separate them.
func TestMPIMatchesAccumulation(t *testing.T) {
	if out := os.Getenv(mpiWorkerEnv); out != "" {
		mpiWorker(t, out)
		return
	}
	ops.SetWorkers(1)
	t.Cleanup(func() { ops.SetWorkers(0) })
	acc, err := train.Run(context.Background(), mpiConfig(), train.Options{Dir: t.TempDir(), Accumulate: 2})
	require.NoError(t, err)
	want := tensorsOf(acc)

	out := t.TempDir()
	c := startMPI(t, 2, []string{mpiWorkerEnv + "=" + out}, "-test.run", "^TestMPIMatchesAccumulation$", "-test.v")
	c.wait(t, 3*time.Minute)
	require.True(t, c.cmd.ProcessState.Success(), "%s\n%s", c.stdout.String(), c.stderr.String())
	var ranks [2]weights
	for r := range ranks {
		f, err := os.Open(filepath.Join(out, fmt.Sprintf("rank%d.gob", r)))
		require.NoError(t, err)
		require.NoError(t, gob.NewDecoder(f).Decode(&ranks[r]))
		f.Close()
	}
	for name, w := range want {
		if strings.HasSuffix(name, "running_mean") || strings.HasSuffix(name, "running_var") {
			// Per-rank BN statistics, as in DDP: each rank's follow its own micro-batch.
			assert.NotEqual(t, ranks[0][name], ranks[1][name], name)
			continue
		}
		assert.Equal(t, w, ranks[0][name], "accumulation vs rank 0: %s", name)
		assert.Equal(t, ranks[0][name], ranks[1][name], "rank 0 vs rank 1: %s", name)
	}
}

// mpiWorker is one rank of TestMPIMatchesAccumulation: it trains mpiConfig with the others and
// writes its weights to out.
func mpiWorker(t *testing.T, out string) {
	comm, err := dist.MPI()
	require.NoError(t, err)
	defer comm.Close()
	require.Equal(t, 2, comm.Size())
	ops.SetWorkers(1)
	res, err := train.Run(context.Background(), mpiConfig(), train.Options{Dir: filepath.Join(out, "run"), Comm: comm})
	require.NoError(t, err)
	require.Len(t, res.Records, 2, "every rank records every epoch")
	f, err := os.Create(filepath.Join(out, fmt.Sprintf("rank%d.gob", comm.Rank())))
	require.NoError(t, err)
	require.NoError(t, gob.NewEncoder(f).Encode(tensorsOf(res)))
	require.NoError(t, f.Close())
}

// A rank killed in the middle of a run (after the first epoch's checkpoint) stops the job with
// mpirun's message and a non-zero status, and leaves a checkpoint that resumes on one process.
func TestMPIRankKilled(t *testing.T) {
	for _, victim := range []int{1, 0} {
		t.Run(fmt.Sprintf("rank %d", victim), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			// Enough epochs that the job is still training when its first checkpoint appears.
			args := []string{"train", "-dist", "mpi", "-out", dir, "-model", "resnet8", "-data", "synthetic",
				"-train-limit", "256", "-test-limit", "64", "-epochs", "6", "-batch", "32", "-eval-batch", "64",
				"-warmup", "0", "-workers", "1", "-quiet"}
			c := startMPI(t, 2, []string{"TRAINER_TEST_AS_MAIN=1"}, args...)
			deadline := time.Now().Add(2 * time.Minute)
			for {
				if ck, err := train.LoadCheckpoint(dir); err == nil && ck.State.Epoch >= 1 {
					break
				}
				select {
				case <-c.done:
					t.Fatalf("the job ended before its first checkpoint:\n%s\n%s", c.stdout.String(), c.stderr.String())
				default:
				}
				require.True(t, time.Now().Before(deadline), "no checkpoint after 2 minutes:\n%s", c.stderr.String())
				time.Sleep(20 * time.Millisecond)
			}
			pids := rankPIDs(t, c.cmd.Process.Pid)
			require.Len(t, pids, 2, "the ranks of mpirun %d", c.cmd.Process.Pid)
			require.NoError(t, syscall.Kill(pids[victim], syscall.SIGKILL))
			c.wait(t, time.Minute)

			assert.False(t, c.cmd.ProcessState.Success(), "mpirun's status")
			out := c.stdout.String() + c.stderr.String()
			// (Open MPI 4.1 prints "PID 0" there.)
			assert.Regexp(t, fmt.Sprintf(`mpirun noticed that process rank %d with PID \d+ on node .* exited on signal 9`, victim), out)
			assert.Contains(t, c.stdout.String(), "data-parallel over 2 ranks, 1 micro-batch of 16 each; 300032 bytes all-reduced per step")

			ck, err := train.LoadCheckpoint(dir)
			require.NoError(t, err, "the last checkpoint is intact")
			require.Less(t, ck.State.Epoch, 6, "killed before the end")
			code, stdout, stderr := runCLI("train", "-resume", "-out", dir, "-workers", "1", "-quiet")
			require.Equal(t, 0, code, stderr)
			assert.Contains(t, stdout, fmt.Sprintf("continuing after epoch %d", ck.State.Epoch))
			ck, err = train.LoadCheckpoint(dir)
			require.NoError(t, err)
			assert.Equal(t, 6, ck.State.Epoch)
		})
	}
}

// rankPIDs returns the processes mpirun started, by MPI rank: its children, which carry their
// rank in OMPI_COMM_WORLD_RANK.
func rankPIDs(t *testing.T, mpirun int) map[int]int {
	t.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*/stat")
	require.NoError(t, err)
	out := map[int]int{}
	for _, stat := range procs {
		b, err := os.ReadFile(stat)
		if err != nil {
			continue // gone
		}
		// pid (comm) state ppid …: comm may hold spaces, so read after its closing parenthesis.
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) < 2 || fields[1] != strconv.Itoa(mpirun) {
			continue
		}
		env, err := os.ReadFile(filepath.Join(filepath.Dir(stat), "environ"))
		if err != nil {
			continue
		}
		for _, kv := range strings.Split(string(env), "\x00") {
			if v, ok := strings.CutPrefix(kv, "OMPI_COMM_WORLD_RANK="); ok {
				rank, _ := strconv.Atoi(v)
				pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(stat)))
				out[rank] = pid
			}
		}
	}
	return out
}
