package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resnet-go/resnet/cmd/trainer/cli"
	"github.com/resnet-go/resnet/train"
)

// whole is the quick study measured by one default call, shared by the tests that read it or
// compare a split run with it: measuring takes most of each test's time.
var whole struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if whole.dir != "" {
		os.RemoveAll(whole.dir)
	}
	os.Exit(code)
}

// wholeRun returns the directory of the shared single-process run. Tests that change it work on
// a copy.
func wholeRun(t *testing.T) string {
	t.Helper()
	whole.once.Do(func() {
		if whole.dir, whole.err = os.MkdirTemp("", "gradflow-whole-"); whole.err == nil {
			whole.err = run([]string{"-quick", "-out", whole.dir}, io.Discard)
		}
	})
	require.NoError(t, whole.err)
	return whole.dir
}

// The quick experiment writes every number and figure, and ratios.csv agrees with gradflow.csv.
func TestQuick(t *testing.T) {
	out := wholeRun(t)

	rows := readCSV(t, filepath.Join(out, "gradflow.csv"))
	require.Equal(t, []string{"model", "depth", "plain", "phase", "bn_mode", "step", "kind", "layer", "index", "value"}, rows[0])
	// Per net and phase: 1 block input per block, 1 conv per 3×3 layer plus the stem, a response per BN in
	// both BN modes. resnet8: 3 blocks, 7 convs, 7 BNs → 3 + 7 + 7 + 7 = 24; resnet14: 6 + 13 + 13 + 13 = 45.
	counts := map[string]int{}
	first := map[string]float64{}
	last := map[string]float64{}
	for _, r := range rows[1:] {
		counts[r[0]+"/"+r[3]]++
		if r[6] == "input_grad" && r[3] == "init" {
			v, err := strconv.ParseFloat(r[9], 64)
			require.NoError(t, err)
			assert.Greater(t, v, 0.0, "gradient norm of %v", r)
			if r[8] == "0" {
				first[r[0]] = v
			}
			last[r[0]] = v
		}
	}
	for _, m := range []string{"plain8", "resnet8"} {
		assert.Equal(t, 24, counts[m+"/init"], m)
		assert.Equal(t, 24, counts[m+"/trained"], m)
	}
	for _, m := range []string{"plain14", "resnet14"} {
		assert.Equal(t, 45, counts[m+"/init"], m)
	}

	ratios := readCSV(t, filepath.Join(out, "ratios.csv"))
	require.Len(t, ratios, 5)
	for _, r := range ratios[1:] {
		v, err := strconv.ParseFloat(r[4], 64)
		require.NoError(t, err)
		assert.InDelta(t, first[r[0]]/last[r[0]], v, 1e-5*v, r[0])
	}

	for _, f := range []string{"input-grad.png", "weight-grad.png", "response-std.png"} {
		fh, err := os.Open(filepath.Join(out, f))
		require.NoError(t, err)
		img, err := png.Decode(fh)
		fh.Close()
		require.NoError(t, err, f)
		assert.Greater(t, img.Bounds().Dx(), 500, f)
	}
	md, err := os.ReadFile(filepath.Join(out, "summary.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "| resnet14 | 172218 | 6 |")
}

func TestBadFlags(t *testing.T) {
	t.Setenv("SLURM_ARRAY_TASK_ID", "7")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-depths", "21"}, `"21" is not a depth 6n+2`},
		{[]string{"-depths", "8,14,8"}, `-depths "8,14,8": 8 is given twice`},
		{[]string{"-steps", "0"}, "-steps 0"},
		{[]string{"-warmup", "500", "-steps", "10"}, "-warmup 500"},
		{[]string{"-bogus"}, "flag provided but not defined"},
		{[]string{"-task", "99"}, "-task 99: the study has tasks 0 to 5 (see -list)"},
		{[]string{"-quick", "-task", "4"}, "-task 4: the study has tasks 0 to 3 (see -list)"},
		{[]string{"-task", "x"}, `-task "x": want a task number (see -list) or array`},
		{[]string{"-task", "array"}, "-task array (task 7): the study has tasks 0 to 5 (see -list)"},
		{[]string{"-task", "0", "-gather"}, "-gather and -task: choose one"},
		{[]string{"-list", "-gather"}, "-list measures nothing"},
		{[]string{"-replot", "-task", "0"}, "-replot only redraws the figures"},
	} {
		var stdout strings.Builder
		err := run(append(c.args, "-out", t.TempDir()), &stdout)
		var ue cli.UsageError
		require.ErrorAs(t, err, &ue, "%v", c.args)
		assert.ErrorContains(t, err, c.want)
		assert.Empty(t, stdout.String(), "%v", c.args)
		var stderr strings.Builder
		assert.Equal(t, 2, cli.Status("gradflow", err, &stderr), "%v", c.args)
		assert.Equal(t, 1, strings.Count(stderr.String(), "\n"), "%v: one line: %q", c.args, stderr.String())
	}
	err := run([]string{"-data", "fashion-mnist", "-data-dir", t.TempDir(), "-out", t.TempDir()}, io.Discard)
	assert.ErrorContains(t, err, "train-images-idx3-ubyte")
}

// Results are never replaced without -overwrite, and a quick run never writes into the committed
// results; -h prints the flags and is not an error.
func TestOutputIsGuarded(t *testing.T) {
	out := t.TempDir()
	require.NoError(t, os.CopyFS(out, os.DirFS(wholeRun(t))))
	before, err := os.ReadFile(filepath.Join(out, "gradflow.csv"))
	require.NoError(t, err)

	err = run([]string{"-quick", "-out", out, "-seed", "2"}, io.Discard)
	assert.ErrorContains(t, err, "already holds results (gradflow.csv); pass -overwrite")
	// -overwrite replaces the results, never the tasks: other settings are refused, in one line.
	err = run([]string{"-quick", "-out", out, "-seed", "2", "-overwrite"}, io.Discard)
	assert.EqualError(t, err, filepath.Join(out, "settings.json")+" records a study with other settings (-seed 1 there, 2 now); give its flags, or choose another -out")
	after, err := os.ReadFile(filepath.Join(out, "gradflow.csv"))
	require.NoError(t, err)
	assert.Equal(t, before, after)
	// With the same settings the results are gathered again from the tasks, measuring nothing.
	var stdout strings.Builder
	require.NoError(t, run([]string{"-quick", "-out", out, "-overwrite"}, &stdout))
	assert.Equal(t, 4, strings.Count(stdout.String(), "not recomputed"), stdout.String())
	after, err = os.ReadFile(filepath.Join(out, "gradflow.csv"))
	require.NoError(t, err)
	assert.Equal(t, before, after)

	committed := filepath.Join("..", "gradflow", "results") // this package's own directory
	err = run([]string{"-quick", "-out", committed, "-overwrite"}, io.Discard)
	assert.ErrorContains(t, err, "committed results")

	var help strings.Builder
	assert.ErrorIs(t, run([]string{"-h"}, &help), flag.ErrHelp)
	assert.Contains(t, help.String(), "-overwrite")
	assert.Equal(t, 0, cli.Status("gradflow", flag.ErrHelp, io.Discard))
}

// TestTasks measures the quick study one task per call, as an array job does, then gathers it:
// the results are those of the single-process run (gradflow.csv byte for byte, ratios.csv but for
// its wall-time column, seconds).
func TestTasks(t *testing.T) {
	ref := wholeRun(t)
	out := t.TempDir()
	task := func(extra ...string) (string, error) {
		var stdout strings.Builder
		err := run(append([]string{"-quick", "-out", out}, extra...), &stdout)
		return stdout.String(), err
	}
	taskFile := func(net string) string { return filepath.Join(out, "tasks", net+".json") }

	stdout, err := task("-list")
	require.NoError(t, err)
	assert.Equal(t, "0\tplain8\n1\tresnet8\n2\tplain14\n3\tresnet14\n", stdout)

	// -task array picks the task of the array job's index, and measures that net only.
	t.Setenv("SLURM_ARRAY_TASK_ID", "2")
	_, err = task("-task", "array")
	require.NoError(t, err)
	for net, measured := range map[string]bool{"plain8": false, "resnet8": false, "plain14": true, "resnet14": false} {
		_, err := os.Stat(taskFile(net))
		assert.Equal(t, measured, err == nil, "%s: %v", net, err)
	}
	for _, i := range []string{"0", "1"} {
		_, err = task("-task", i)
		require.NoError(t, err, "-task %s", i)
	}
	_, err = os.Stat(filepath.Join(out, "gradflow.csv"))
	assert.ErrorIs(t, err, os.ErrNotExist, "a task writes no results")

	// -gather with a task missing: one line naming it and its -task, and no results.
	_, err = task("-gather")
	assert.EqualError(t, err, "-gather: 1 of 4 tasks are not measured in "+filepath.Join(out, "tasks")+": resnet14 (-task 3)")
	var ue cli.UsageError
	assert.False(t, errors.As(err, &ue), "exit status 1, not 2")
	_, err = os.Stat(filepath.Join(out, "gradflow.csv"))
	assert.ErrorIs(t, err, os.ErrNotExist)

	// A task with other settings is refused before it measures: it would mix two studies.
	_, err = task("-task", "3", "-seed", "2")
	assert.ErrorContains(t, err, "records a study with other settings (-seed 1 there, 2 now)")
	_, err = os.Stat(taskFile("resnet14"))
	assert.ErrorIs(t, err, os.ErrNotExist)

	_, err = task("-task", "3")
	require.NoError(t, err)

	// A finished task is not measured again: its file is left as it was.
	before := stat(t, taskFile("resnet8"))
	stdout, err = task("-task", "1")
	require.NoError(t, err)
	assert.Equal(t, "task 1 resnet8: already measured in "+taskFile("resnet8")+"; not recomputed\n", stdout)
	assert.Equal(t, before, stat(t, taskFile("resnet8")))

	_, err = task("-gather")
	require.NoError(t, err)
	for _, f := range []string{"gradflow.csv", "summary.md", "settings.json", "input-grad.png", "weight-grad.png", "response-std.png"} {
		_, err := os.Stat(filepath.Join(out, f))
		assert.NoError(t, err, f)
	}
	want, err := os.ReadFile(filepath.Join(ref, "gradflow.csv"))
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(out, "gradflow.csv"))
	require.NoError(t, err)
	assert.True(t, string(want) == string(got), "gradflow.csv differs from the single-process run's")
	assert.Equal(t, withoutSeconds(t, filepath.Join(ref, "ratios.csv")), withoutSeconds(t, filepath.Join(out, "ratios.csv")))
}

// stat is a file's size and modification time.
func stat(t *testing.T, path string) string {
	t.Helper()
	info, err := os.Stat(path)
	require.NoError(t, err)
	return fmt.Sprintf("%d bytes, %s", info.Size(), info.ModTime().Format(time.RFC3339Nano))
}

// withoutSeconds reads ratios.csv without its wall-time column, which differs from run to run.
func withoutSeconds(t *testing.T, path string) [][]string {
	t.Helper()
	rows := readCSV(t, path)
	require.Equal(t, "seconds", rows[0][len(rows[0])-1])
	for i := range rows {
		rows[i] = rows[i][:len(rows[i])-1]
	}
	return rows
}

// A task file holds every value exactly, and a diverged net's non-finite losses too.
func TestTaskFileRoundTrip(t *testing.T) {
	s := settings{Data: "synthetic", Depths: []int{8}, Steps: 3, Batch: 4, LR: 0.1, Seed: 1, Out: t.TempDir()}
	tk := s.tasks()[1]
	r := netResult{Model: tk.Model, Depth: 8, Params: 12, Seconds: 1.25, Diverged: 3,
		Losses: []float64{2.302585092994046, 1e-300, math.Inf(1)},
		Rows: []row{{Phase: "init", Mode: "train", ProbeRow: train.ProbeRow{Kind: train.InputGrad, Layer: "layer1.0", Value: 0.1 + 0.2}},
			{Phase: "trained", Mode: "eval", ProbeRow: train.ProbeRow{Step: 3, Kind: train.ResponseStd, Layer: "bn1", Depth: 2, Value: math.NaN()}}}}
	require.NoError(t, writeTask(s, tk, r))
	got, _, err := readTask(s, tk)
	require.NoError(t, err)
	assert.Equal(t, r.Losses, got.Losses)
	assert.Equal(t, r.Rows[0], got.Rows[0])
	assert.True(t, math.IsNaN(got.Rows[1].Value))
	got.Rows[1].Value, r.Rows[1].Value = 0, 0
	assert.Equal(t, r, got)

	s.Seed = 2
	_, _, err = readTask(s, tk)
	assert.ErrorContains(t, err, "was measured with other settings (-seed 1 there, 2 now)")
}

func readCSV(t *testing.T, path string) [][]string {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	return rows
}
