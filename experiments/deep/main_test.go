package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resnet-go/resnet/train"
	"github.com/resnet-go/resnet/train/runlog"
)

// TestMain lets the test binary stand in for the program when the study starts its tasks as
// processes of itself (-jobs).
func TestMain(m *testing.M) {
	if os.Getenv("DEEP_TEST_AS_MAIN") == "1" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Setenv("DEEP_TEST_AS_MAIN", "1") // for the children only: this process has started
	os.Exit(m.Run())
}

func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// tiny is a study of seconds: two seeds of ResNet-8 on both sides.
func tiny(out string, extra ...string) []string {
	return append([]string{"-quick", "-train-limit", "256", "-test-limit", "128", "-peer", "peer.py", "-out", out}, extra...)
}

// readRecords returns records.csv as rows keyed by task and epoch, without the wall times.
func readRecords(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, "epoch_s", rows[0][len(rows[0])-1])
	m := map[string][]string{}
	for _, r := range rows[1:] {
		m[r[0]+"/"+r[6]] = r[:len(r)-1]
	}
	return m
}

// The study runs its grid as separate processes, gathers the results, and the same grid run task
// by task in one process (as an array job runs it) gives the same numbers, bit for bit.
func TestStudyProcessesAndSingleTasksAgree(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runMain(t, tiny(out)...)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	names := []string{"go-resnet8-base-seed1", "torch-resnet8-base-seed1", "go-resnet8-base-seed2", "torch-resnet8-base-seed2"}
	for _, n := range names {
		st, ok, err := readStatus(filepath.Join(out, "runs", n))
		require.NoError(t, err, n)
		require.True(t, ok, n)
		assert.Equal(t, Status{Status: "done", Epochs: 2}, st, n)
	}
	assert.Contains(t, stdout, "| go | 2 | 0 | ")
	assert.Contains(t, stdout, "| torch | 2 | 0 |")
	assert.Contains(t, stdout, "Training loss at epoch 2, go − torch: ")
	whole := readRecords(t, filepath.Join(out, "results", recordsFile))
	assert.Len(t, whole, 4*2)

	code, stdout, _ = runMain(t, "-list", "-out", out)
	require.Equal(t, 0, code)
	assert.Equal(t, "0\t"+names[0]+"\n1\t"+names[1]+"\n2\t"+names[2]+"\n3\t"+names[3]+"\n", stdout)

	one := t.TempDir()
	require.Equal(t, 0, must(runMain(t, tiny(one, "-list")...)))
	for i := range names {
		code, stdout, stderr := runMain(t, "-out", one, "-peer", "peer.py", "-task", strconv.Itoa(i))
		require.Equal(t, 0, code, "task %d:\n%s\n%s", i, stdout, stderr)
	}
	require.Equal(t, 0, must(runMain(t, "-out", one, "-gather")))
	assert.Equal(t, whole, readRecords(t, filepath.Join(one, "results", recordsFile)))

	// Finished tasks are never run again.
	before, err := os.ReadFile(filepath.Join(out, "runs", names[0], "metrics.jsonl"))
	require.NoError(t, err)
	code, stdout, _ = runMain(t, "-out", out, "-task", "0")
	require.Equal(t, 0, code)
	assert.Contains(t, stdout, "already finished (done)")
	after, err := os.ReadFile(filepath.Join(out, "runs", names[0], "metrics.jsonl"))
	require.NoError(t, err)
	assert.Equal(t, before, after)
}

func must(code int, _, _ string) int { return code }

func TestBadInput(t *testing.T) {
	out := t.TempDir()
	require.Equal(t, 0, must(runMain(t, tiny(out, "-list")...)))
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-out", out, "-seeds", "1-3"}, 2, "records another study; drop the grid flags to continue it"},
		{[]string{"-out", t.TempDir(), "-list"}, 2, "holds no study (study.json): create it with its grid flags and -list, or give them here"},
		{[]string{"-out", t.TempDir(), "-task", "0"}, 2, "holds no study"},
		{[]string{"-out", t.TempDir(), "-gather"}, 2, "holds no study"},
		{[]string{"-out", out, "-task", "9"}, 2, "-task 9: the study has tasks 0 to 3"},
		{[]string{"-out", out, "-task", "0", "-gather"}, 2, "-gather and -task: choose one"},
		{[]string{"-out", t.TempDir(), "-recipes", "fast"}, 2, `unknown recipe "fast": want base, paper, warmup3, zeroinit`},
		{[]string{"-out", t.TempDir(), "-sides", "jax"}, 2, `unknown side "jax"`},
		{[]string{"-out", t.TempDir(), "-seeds", "3-1"}, 2, `-seeds "3-1": "3-1" is not a seed or a range`},
		{[]string{"-out", t.TempDir(), "-seeds", "1,1"}, 2, "seed 1 is given twice"},
		{[]string{"-out", t.TempDir(), "-models", "resnet7"}, 2, `unknown model "resnet7"`},
		{[]string{"-out", t.TempDir(), "-data", "cifar10"}, 2, "the PyTorch peer reads fashion-mnist only"},
		{[]string{"-out", t.TempDir(), "-epochs", "4", "-stop-after", "5"}, 2, "-stop-after 5: want 0 (the whole schedule) to -epochs 4"},
		{[]string{"-quick", "-out", t.TempDir(), "-results", filepath.Join("..", "deep", "results-seeds")}, 2, "a -quick run writes elsewhere"},
	} {
		code, _, stderr := runMain(t, tc.args...)
		assert.Equal(t, tc.code, code, "%v: %s", tc.args, stderr)
		assert.Contains(t, stderr, tc.want, "%v", tc.args)
		assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
	}
}

// The statistics of the tables, against values worked by hand.
func TestStatistics(t *testing.T) {
	d, se, lo, hi, ok := welch([]float64{1, 2, 3}, []float64{2, 4, 6})
	require.True(t, ok)
	assert.InDelta(t, -2, d, 1e-12)
	assert.InDelta(t, math.Sqrt(1.0/3+4.0/3), se, 1e-12)
	// Welch df = (5/3)² / ((1/3)²/2 + (4/3)²/2) = 2.9412; t(0.975, 2.9412) = 3.21876 (SciPy).
	assert.InDelta(t, -2-3.21876*se, lo, 1e-4)
	assert.InDelta(t, -2+3.21876*se, hi, 1e-4)
	_, _, _, _, ok = welch([]float64{1}, []float64{1, 2})
	assert.False(t, ok)

	above, p, ok := rankTest([]float64{1, 2, 3}, []float64{4, 5, 6})
	require.True(t, ok)
	assert.Equal(t, 0.0, above)
	// U = 0, mean 4.5, sd √(9·7/12) = 2.2913: z = −1.964, p = 0.0495.
	assert.InDelta(t, 0.0495, p, 2e-4)
	above, p, _ = rankTest([]float64{1, 2}, []float64{1, 2})
	assert.Equal(t, 0.5, above)
	assert.InDelta(t, 1, p, 1e-12)

	assert.Equal(t, 2.5, median([]float64{4, 1, 3, 2}))
	assert.Equal(t, 3.0, median([]float64{5, 1, 3}))
	assert.True(t, math.IsNaN(median(nil)))
}

// The peer follows train.Schedule step for step: warm-ups linear and constant, one ended early,
// and each shape, with the rounding of warm-up lengths and milestones.
func TestPeerScheduleIsGos(t *testing.T) {
	cases := []struct {
		cfg      string // the settings peer.Schedule reads
		s        train.Schedule
		endAfter int // EndWarmup(endAfter) when > 0
	}{
		{`{"schedule": "step", "lr": 0.1, "milestones": [0.5, 0.75], "gamma": 0.1, "warmup_epochs": 1, "epochs": 8}`,
			train.Schedule{Kind: "step", Base: 0.1, Milestones: []float64{0.5, 0.75}, Gamma: 0.1, Warmup: 39, Total: 8 * 39}, 0},
		{`{"schedule": "step", "lr": 0.1, "milestones": [0.5, 0.75], "gamma": 0.1, "warmup_epochs": 1, "warmup_lr": 0.01, "epochs": 8}`,
			train.Schedule{Kind: "step", Base: 0.1, Milestones: []float64{0.5, 0.75}, Gamma: 0.1, Warmup: 39, WarmupLR: 0.01, Total: 8 * 39}, 13},
		{`{"schedule": "cosine", "lr": 0.05, "warmup_epochs": 0.5, "epochs": 3}`,
			train.Schedule{Kind: "cosine", Base: 0.05, Warmup: 20, Total: 3 * 39}, 0},
		{`{"schedule": "constant", "lr": 0.1, "warmup_epochs": 0, "epochs": 2}`,
			train.Schedule{Kind: "constant", Base: 0.1, Total: 2 * 39}, 0},
	}
	for _, c := range cases {
		script := fmt.Sprintf(`import json, peer
s = peer.Schedule(json.loads(%q), 39)
if %d: s.end_warmup(%d)
print(json.dumps([s.at(i) for i in range(s.total)]))`, c.cfg, c.endAfter, c.endAfter)
		out, err := exec.Command("/usr/bin/python3", "-c", script).CombinedOutput()
		require.NoError(t, err, "%s", out)
		var got []float64
		require.NoError(t, json.Unmarshal(out, &got), "%s", out)
		s := c.s
		if c.endAfter > 0 {
			s = s.EndWarmup(c.endAfter)
		}
		require.Len(t, got, s.Total, c.cfg)
		for i, lr := range got {
			require.InDelta(t, s.At(i), lr, 1e-15, "%s: step %d", c.cfg, i)
		}
	}
}

// The table over groups counts setbacks and diverged runs and averages what the others reached.
func TestCompareTable(t *testing.T) {
	s := Study{Models: []string{"resnet8"}, Recipes: []string{"base", "paper"}, Seeds: []int64{1, 2}, Sides: []string{sideGo}, Epochs: 3}
	rec := func(epoch int, trainLoss, testLoss, trainErr, testErr float64) runlog.Record {
		r := runlog.NewRecord(epoch, epoch*10)
		r.TrainLoss, r.TestLoss, r.TrainErr, r.TestErr = trainLoss, testLoss, trainErr, testErr
		return r
	}
	done := Status{Status: "done", Epochs: 3}
	rs := []result{
		{Task: Task{Model: "resnet8", Recipe: "base", Seed: 1, Side: sideGo}, ok: true, status: done,
			records: []runlog.Record{rec(1, 2, 5, 0.5, 0.5), rec(2, 2.5, 1, 0.4, 0.4), rec(3, 1, 1, 0.2, 0.3)}},
		{Task: Task{Model: "resnet8", Recipe: "base", Seed: 2, Side: sideGo}, ok: true, status: done,
			records: []runlog.Record{rec(1, 2, 7, 0.5, 0.5), rec(2, 1.5, 1, 0.4, 0.4), rec(3, 2, 1, 0.4, 0.5)}},
		{Task: Task{Model: "resnet8", Recipe: "paper", Seed: 1, Side: sideGo}, ok: true, status: Status{Status: "diverged", Epochs: 1},
			records: []runlog.Record{rec(1, 2, 9, 0.5, 0.5)}},
		{Task: Task{Model: "resnet8", Recipe: "paper", Seed: 2, Side: sideGo}}, // not finished
		// a torch run still in its first epoch: the cell ran, nothing to average
		{Task: Task{Model: "resnet8", Recipe: "base", Seed: 1, Side: sideTorch}, records: []runlog.Record{}},
	}
	s.Sides = []string{sideGo, sideTorch}
	ran, idle := groups(s, rs)
	require.Empty(t, idle)
	got := compare(ran, s.Sides, rs, 3)
	assert.Contains(t, got, "| resnet8 | base | go | 2 (0) | 6 | 7 | 2 | 1.5000 | 30.0% | 40.0% |")
	assert.Contains(t, got, "| resnet8 | paper | go | 1 (1) | 9 | 9 | 0 | – | – | – |")
	assert.Contains(t, got, "| resnet8 | base | torch | 0 (0) | – | – | 0 | – | – | – |")
}

// A grid run in part: the cells with no run are named once and left out of the tables, and the
// depth table compares each family's depths per recipe and side.
func TestPartialGridAndDepths(t *testing.T) {
	s := Study{Models: []string{"resnet8", "resnet14", "plain8", "plain14"}, Recipes: []string{"base", "zeroinit"},
		Seeds: []int64{1, 2}, Sides: []string{sideGo, sideTorch}, Epochs: 2}
	rec := func(epoch int, trainErr float64) runlog.Record {
		r := runlog.NewRecord(epoch, epoch*10)
		r.TrainLoss, r.TestLoss, r.TrainErr, r.TestErr = 1, 1, trainErr, trainErr
		return r
	}
	done := Status{Status: "done", Epochs: 2}
	run := func(model, recipe string, seed int64, side string, err2 float64) result {
		return result{Task: Task{Model: model, Recipe: recipe, Seed: seed, Side: side}, ok: true, status: done,
			records: []runlog.Record{rec(1, 0.5), rec(2, err2)}}
	}
	rs := []result{
		run("resnet8", "base", 1, sideGo, 0.30), run("resnet8", "base", 2, sideGo, 0.20),
		run("resnet14", "base", 1, sideGo, 0.10), run("resnet14", "base", 2, sideGo, 0.20),
		run("resnet8", "base", 1, sideTorch, 0.10), run("resnet14", "base", 1, sideTorch, 0.40),
		{Task: Task{Model: "resnet14", Recipe: "base", Seed: 2, Side: sideTorch}, ok: true, status: Status{Status: "diverged", Epochs: 1},
			records: []runlog.Record{rec(1, 0.9)}},
		run("plain8", "zeroinit", 1, sideGo, 0.25),
		{Task: Task{Model: "plain14", Recipe: "zeroinit", Seed: 1, Side: sideGo}}, // not started
	}
	ran, idle := groups(s, rs)
	assert.Equal(t, []group{{"resnet8", "base"}, {"resnet14", "base"}, {"plain8", "zeroinit"}}, ran)
	assert.Equal(t, []group{{"resnet8", "zeroinit"}, {"resnet14", "zeroinit"}, {"plain8", "base"}, {"plain14", "base"}, {"plain14", "zeroinit"}}, idle)

	md := summary(s, rs)
	assert.Contains(t, md, "Cells of the grid not run, left out below: resnet8 × zeroinit, resnet14 × zeroinit, plain8 × base, plain14 × base, plain14 × zeroinit.")
	assert.Equal(t, 3, strings.Count(md, "\n## resnet")+strings.Count(md, "\n## plain"), "one section per cell that ran")
	assert.NotContains(t, md, "## plain14")
	// Each run's mean over epochs 1–2 (epoch 1 at 50%). resnet: Go 37.5% → 32.5% (holds), PyTorch
	// 30% → 45% (its diverged run left out: does not hold); plain has one depth that ran, no row.
	assert.Contains(t, md, "epochs 1–2")
	assert.Contains(t, md, "| resnet | base | go | 8: 37.5 ± 3.5% (2), 14: 32.5 ± 3.5% (2) | 14 ≤ 8: holds (-5.0 points) |")
	assert.Contains(t, md, "| resnet | base | torch | 8: 30.0% (1), 14: 45.0% (1) | 14 ≤ 8: does not hold (+15.0 points) |")
	assert.NotContains(t, md, "| plain |")

	assert.Equal(t, []family{{name: "resnet", recipe: "base", depths: []int{8, 14}}}, families(ran))
	png, err := figure(s, rs, 2) // a row per cell that ran, and one for the resnet family's depths
	require.NoError(t, err)
	assert.NotEmpty(t, png)

	fam, d, ok := familyDepth("preresnet110")
	assert.True(t, ok)
	assert.Equal(t, "preresnet", fam)
	assert.Equal(t, 110, d)
	_, _, ok = familyDepth("resnet")
	assert.False(t, ok)
}
