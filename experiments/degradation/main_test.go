package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resnet-go/resnet/train"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runMain runs the program in-process and returns its exit status and output.
func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// quick is the -quick experiment made smaller still: the machine may be busy.
var quick = []string{"-quick", "-train-limit", "128", "-test-limit", "100"}

// whole is the quick experiment trained by one default call, shared by the tests that read it or
// compare a split run with it: training takes most of each test's time.
var whole struct {
	once   sync.Once
	dir    string
	stdout string
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if whole.dir != "" {
		os.RemoveAll(whole.dir)
	}
	os.Exit(code)
}

// wholeRun returns the directory of the shared single-process run, and its output. Tests that
// change it work on a copy.
func wholeRun(t *testing.T) (dir, stdout string) {
	t.Helper()
	whole.once.Do(func() {
		if whole.dir, whole.err = os.MkdirTemp("", "degradation-whole-"); whole.err != nil {
			return
		}
		var out, errb bytes.Buffer
		if code := run(context.Background(), append(quick, "-out", whole.dir), &out, &errb); code != 0 {
			whole.err = fmt.Errorf("exit status %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
		}
		whole.stdout = out.String()
	})
	require.NoError(t, whole.err)
	return whole.dir, whole.stdout
}

// TestQuickExperiment runs the -quick experiment end to end, then checks that a second run reuses
// it and that a run with other settings is refused.
func TestQuickExperiment(t *testing.T) {
	dir, _ := wholeRun(t)
	out := t.TempDir()
	require.NoError(t, os.CopyFS(out, os.DirFS(dir)))
	args := append(quick, "-out", out)

	nets := []string{"plain8", "resnet8", "plain14", "resnet14"}
	const epochs = 2

	// curves.csv: a header and one row per net per epoch.
	curves, err := os.ReadFile(filepath.Join(out, curvesFile))
	require.NoError(t, err)
	rows, err := csv.NewReader(bytes.NewReader(curves)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 1+len(nets)*epochs)
	assert.Equal(t, []string{"model", "depth", "plain", "epoch", "train_error", "test_error", "train_loss", "test_loss", "epoch_s"}, rows[0])
	perNet := map[string]int{}
	for _, r := range rows[1:] {
		perNet[r[0]]++
		assert.Equal(t, strings.HasPrefix(r[0], "plain"), r[2] == "true", "row %v", r)
		assert.NotEmpty(t, r[4], "train_error of %v", r)
	}
	for _, n := range nets {
		assert.Equal(t, epochs, perNet[n], "rows of %s", n)
	}

	// summary.json: the nets and the three claims, each with a verdict.
	raw, err := os.ReadFile(filepath.Join(out, summaryFile))
	require.NoError(t, err)
	var sum struct {
		Settings struct {
			Data          string `json:"data"`
			TrainExamples int    `json:"train_examples"`
			Epochs        int    `json:"epochs"`
		} `json:"settings"`
		Machine map[string]any   `json:"machine"`
		Nets    []map[string]any `json:"nets"`
		Claims  []map[string]any `json:"claims"`
	}
	require.NoError(t, json.Unmarshal(raw, &sum))
	assert.Equal(t, "synthetic", sum.Settings.Data)
	assert.Equal(t, 128, sum.Settings.TrainExamples)
	assert.Equal(t, epochs, sum.Settings.Epochs)
	assert.Contains(t, sum.Machine, "blas")
	require.Len(t, sum.Nets, len(nets))
	params := map[string]float64{}
	for _, n := range sum.Nets {
		params[n["model"].(string)] = n["params"].(float64)
		assert.Equal(t, false, n["reused"])
	}
	// Option-A shortcuts have no parameters: each pair is the same size.
	assert.Equal(t, params["plain8"], params["resnet8"])
	assert.Equal(t, params["plain14"], params["resnet14"])
	assert.Greater(t, params["plain14"], params["plain8"])
	require.Len(t, sum.Claims, 3)
	for _, c := range sum.Claims {
		assert.IsType(t, true, c["holds"], "claim %v", c)
		assert.IsType(t, true, c["holds_final_epoch"], "claim %v", c)
		assert.NotEmpty(t, c["statement"])
	}
	assert.Equal(t, "plain-14 has a higher training error than plain-8", sum.Claims[0]["statement"])

	// table.md names every net and states every claim.
	table, err := os.ReadFile(filepath.Join(out, tableFile))
	require.NoError(t, err)
	for _, name := range []string{"plain-8", "ResNet-8", "plain-14", "ResNet-14"} {
		assert.Contains(t, string(table), "| "+name+" |")
	}
	verdicts := strings.Count(string(table), "**holds**") + strings.Count(string(table), "**does not hold**")
	assert.Equal(t, 3, verdicts, "one verdict per claim:\n%s", table)

	// degradation.png is a whole PNG of the figure's size.
	f, err := os.Open(filepath.Join(out, figureFile))
	require.NoError(t, err)
	img, err := png.Decode(f)
	f.Close()
	require.NoError(t, err)
	assert.Equal(t, 1100, img.Bounds().Dx())
	assert.Equal(t, 450, img.Bounds().Dy())

	// Results are not replaced without -overwrite.
	code, stdout, stderr := runMain(t, args...)
	assert.Equal(t, 2, code, stdout)
	assert.Contains(t, stderr, "already holds results (summary.json); pass -overwrite")

	// A second run with the same settings reuses the finished runs: nothing is trained and the
	// numbers are the same.
	code, stdout, stderr = runMain(t, append(args, "-overwrite")...)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Equal(t, len(nets), strings.Count(stdout, "reusing the finished run"), stdout)
	assert.NotContains(t, stdout, "epoch   1/")
	again, err := os.ReadFile(filepath.Join(out, curvesFile))
	require.NoError(t, err)
	assert.Equal(t, string(curves), string(again))

	// Other settings in the same -out: refused, naming the run directory, before any training.
	code, _, stderr = runMain(t, "-quick", "-train-limit", "128", "-test-limit", "100", "-seed", "2", "-out", out, "-overwrite")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, filepath.Join(out, "runs", "plain8"))
	assert.Contains(t, stderr, "seed 1 there, 2 now")
	assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)

	// -replot redraws the same figure from the committed numbers alone.
	fig, err := os.ReadFile(filepath.Join(out, figureFile))
	require.NoError(t, err)
	require.NoError(t, os.Remove(filepath.Join(out, figureFile)))
	code, _, stderr = runMain(t, "-replot", "-out", out)
	require.Equal(t, 0, code, stderr)
	redrawn, err := os.ReadFile(filepath.Join(out, figureFile))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(fig, redrawn), "the redrawn figure differs")
	require.NoError(t, os.WriteFile(filepath.Join(out, curvesFile), []byte("a,b\n1,2\n"), 0o644))
	code, _, stderr = runMain(t, "-replot", "-out", out)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "not the curves of a degradation study")
}

// A quick run never writes into the committed results; -h prints the flags on stdout.
func TestQuickNeverTouchesCommittedResults(t *testing.T) {
	for _, out := range []string{"results", "results-5k"} {
		code, _, stderr := runMain(t, "-quick", "-out", filepath.Join("..", "degradation", out), "-overwrite")
		assert.Equal(t, 2, code)
		assert.Contains(t, stderr, "committed results")
	}
	code, stdout, stderr := runMain(t, "-h")
	assert.Equal(t, 0, code)
	assert.Empty(t, stderr)
	assert.Contains(t, stdout, "usage: go run ./experiments/degradation [flags]")
}

// TestNets trains two of the four nets alone (as one process per core would), then lets a run
// without -nets train the other two and write the results: the curves equal those of the run that
// trained all four in one go, since each net depends only on its settings and seed.
func TestNets(t *testing.T) {
	whole, _ := wholeRun(t)
	split := t.TempDir()
	code, stdout, stderr := runMain(t, append(quick, "-out", split, "-nets", "resnet14, plain8")...)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stdout, "trained resnet14, plain8; run again without -nets")
	assert.True(t, strings.Index(stdout, "resnet14:") < strings.Index(stdout, "plain8:"), "in the order given:\n%s", stdout)
	for net, trained := range map[string]bool{"plain8": true, "resnet8": false, "plain14": false, "resnet14": true} {
		_, err := os.Stat(filepath.Join(split, "runs", net, train.CheckpointFile))
		assert.Equal(t, trained, err == nil, "%s: %v", net, err)
	}
	_, err := os.Stat(filepath.Join(split, curvesFile))
	assert.ErrorIs(t, err, os.ErrNotExist, "no results from a partial run")

	code, stdout, stderr = runMain(t, append(quick, "-out", split)...)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Equal(t, 2, strings.Count(stdout, "reusing the finished run"), stdout)
	want, got := readCurves(t, whole), readCurves(t, split)
	assert.Equal(t, want, got)
}

// TestTasks trains the quick experiment one task per call, as an array job does, then gathers
// it: the results are those of the single-process run (curves.csv byte for byte but for its
// wall-time column epoch_s; summary.json's nets and claims but for wall_s, reused and run_dir).
func TestTasks(t *testing.T) {
	ref, _ := wholeRun(t)
	out := t.TempDir()
	task := func(extra ...string) (int, string, string) {
		return runMain(t, append(append(quick, "-out", out), extra...)...)
	}

	code, stdout, stderr := runMain(t, append(quick, "-list")...)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "0\tplain8\n1\tresnet8\n2\tplain14\n3\tresnet14\n", stdout)

	// -task array picks the task of the array job's index, and trains that net only.
	t.Setenv("SLURM_ARRAY_TASK_ID", "2")
	code, stdout, stderr = task("-task", "array")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stdout, "task 2 plain14: finished")
	for net, trained := range map[string]bool{"plain8": false, "resnet8": false, "plain14": true, "resnet14": false} {
		_, err := os.Stat(filepath.Join(out, "runs", net, train.CheckpointFile))
		assert.Equal(t, trained, err == nil, "%s: %v", net, err)
	}
	for _, i := range []string{"0", "1"} {
		code, stdout, stderr = task("-task", i)
		require.Equal(t, 0, code, "-task %s\nstdout:\n%s\nstderr:\n%s", i, stdout, stderr)
	}
	_, err := os.Stat(filepath.Join(out, curvesFile))
	assert.ErrorIs(t, err, os.ErrNotExist, "a task writes no results")

	// -gather with a task missing: one line naming it and its -task, and no results.
	code, stdout, stderr = task("-gather")
	assert.Equal(t, 1, code, stdout)
	assert.Equal(t, "degradation: -gather: 1 of 4 runs in "+filepath.Join(out, "runs")+" are not finished: resnet14 (not started: -task 3)\n", stderr)
	_, err = os.Stat(filepath.Join(out, curvesFile))
	assert.ErrorIs(t, err, os.ErrNotExist)

	code, stdout, stderr = task("-task", "3")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)

	// A finished task is not trained again: its run is left as it was.
	run1 := filepath.Join(out, "runs", "resnet8")
	before := snapshot(t, run1)
	code, stdout, stderr = task("-task", "1")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Equal(t, "task 1 resnet8: already finished in "+run1+"; nothing to train\n", stdout)
	assert.Equal(t, before, snapshot(t, run1))

	// A task with other settings is refused before it trains: it would mix two experiments.
	code, _, stderr = task("-task", "1", "-seed", "2")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "holds a run with other settings (seed 1 there, 2 now)")

	code, stdout, stderr = task("-gather")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Equal(t, 4, strings.Count(stdout, "reusing the finished run"), stdout)
	assert.NotContains(t, stdout, "epoch   1/")
	assert.Equal(t, readCurves(t, ref), readCurves(t, out))
	assert.Equal(t, summaryNumbers(t, ref), summaryNumbers(t, out))
	for _, f := range []string{tableFile, figureFile} {
		_, err := os.Stat(filepath.Join(out, f))
		assert.NoError(t, err, f)
	}
}

// snapshot is every file of dir with its size and modification time.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		info, err := e.Info()
		require.NoError(t, err)
		files[e.Name()] = fmt.Sprintf("%d bytes, %s", info.Size(), info.ModTime().Format(time.RFC3339Nano))
	}
	return files
}

// summaryNumbers reads summary.json's nets and claims without what differs between two runs of
// the same experiment: the wall times, whether a run was reused, and where it lives.
func summaryNumbers(t *testing.T, dir string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, summaryFile))
	require.NoError(t, err)
	var sum map[string]any
	require.NoError(t, json.Unmarshal(raw, &sum))
	for _, n := range sum["nets"].([]any) {
		for _, k := range []string{"wall_s", "reused", "run_dir"} {
			delete(n.(map[string]any), k)
		}
	}
	return map[string]any{"nets": sum["nets"], "claims": sum["claims"], "settings": sum["settings"]}
}

// readCurves reads curves.csv without its wall-time column, which differs from run to run.
func readCurves(t *testing.T, dir string) [][]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, curvesFile))
	require.NoError(t, err)
	rows, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, "epoch_s", rows[0][len(rows[0])-1])
	for i := range rows {
		rows[i] = rows[i][:len(rows[i])-1]
	}
	return rows
}

// TestCIFAR10 runs the experiment on CIFAR-10 files given with -data-dir (generated here: the
// real ones cannot be downloaded on this machine), as the archive unpacks them.
func TestCIFAR10(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cifar-10-batches-bin")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	writeBatch := func(name string, n int, seed byte) {
		rec := make([]byte, 0, n*(1+3*32*32))
		for i := 0; i < n; i++ {
			label := byte(i % 10)
			rec = append(rec, label)
			for j := 0; j < 3*32*32; j++ {
				rec = append(rec, label*20+byte(j)%7+seed) // learnable: brightness follows the label
			}
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), rec, 0o644))
	}
	for b := 1; b <= 5; b++ {
		writeBatch(fmt.Sprintf("data_batch_%d.bin", b), 20, byte(b))
	}
	writeBatch("test_batch.bin", 30, 0)

	out := t.TempDir()
	code, stdout, stderr := runMain(t, "-data", "cifar10", "-data-dir", filepath.Dir(dir), "-depths", "8,14",
		"-epochs", "1", "-batch", "25", "-out", out)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stdout, "100 training and 30 test images of 3×32×32")
	raw, err := os.ReadFile(filepath.Join(out, summaryFile))
	require.NoError(t, err)
	var sum struct {
		Settings struct {
			Data  string `json:"data"`
			Input []int  `json:"input"`
		} `json:"settings"`
		Nets []map[string]any `json:"nets"`
	}
	require.NoError(t, json.Unmarshal(raw, &sum))
	assert.Equal(t, "cifar10", sum.Settings.Data)
	assert.Equal(t, []int{3, 32, 32}, sum.Settings.Input)
	assert.Len(t, sum.Nets, 4)
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-depths", "21"},
		{"-depths", "20"},
		{"-depths", "20,20"},
		{"-depths", "20,x"},
		{"-epochs", "0"},
		{"-batch", "1"},
		{"-lr", "0"},
		{"-data", "imagenet"},
		{"-workers", "-1"},
		{"-nets", "plain57"},
		{"-nets", "plain20,plain20"},
		{"-depths", "8,14", "-nets", "resnet20"},
		{"-task", "99"},
		{"-task", "4", "-depths", "8,14"},
		{"-task", "x"},
		{"-task", "-1"},
		{"-task", "0", "-nets", "plain20"},
		{"-task", "0", "-gather"},
		{"-gather", "-nets", "plain20"},
		{"-list", "-task", "0"},
		{"-replot", "-gather"},
		{"-no-such-flag"},
		{"stray"},
	} {
		code, stdout, stderr := runMain(t, append(args, "-out", t.TempDir())...)
		assert.Equal(t, 2, code, "%v", args)
		assert.Empty(t, stdout, "%v", args)
		assert.True(t, strings.HasPrefix(stderr, "degradation: "), "%v: %q", args, stderr)
		assert.Equal(t, 1, strings.Count(stderr, "\n"), "%v: one line: %q", args, stderr)
	}
	_, _, stderr := runMain(t, "-depths", "21")
	assert.Contains(t, stderr, "21 is not a CIFAR depth 6n+2")
	_, _, stderr = runMain(t, "-nets", "plain57")
	assert.Contains(t, stderr, `"plain57" is not a net of this experiment (plain20, resnet20, plain56, resnet56)`)
	_, _, stderr = runMain(t, "-task", "99")
	assert.Equal(t, "degradation: -task 99: the experiment has tasks 0 to 3 (see -list)\n", stderr)
	_, _, stderr = runMain(t, "-task", "x")
	assert.Equal(t, "degradation: -task \"x\": want a task number (see -list) or array\n", stderr)
	t.Setenv("SLURM_ARRAY_TASK_ID", "7")
	code, _, stderr := runMain(t, "-task", "array")
	assert.Equal(t, 2, code)
	assert.Equal(t, "degradation: -task array (task 7): the experiment has tasks 0 to 3 (see -list)\n", stderr)
}

func TestMissingData(t *testing.T) {
	code, _, stderr := runMain(t, "-data", "fashion-mnist", "-data-dir", t.TempDir(), "-out", t.TempDir())
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "not found")
	assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
}

func TestParseDepths(t *testing.T) {
	ds, err := parseDepths("56, 20,110")
	require.NoError(t, err)
	assert.Equal(t, []int{20, 56, 110}, ds)
}
