package main

import (
	"encoding/csv"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// requireTorch fails (never skips) when the PyTorch side cannot run: the comparison is the point.
func requireTorch(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("/usr/bin/python3", "-c", "import torch, torchvision").CombinedOutput(); err != nil {
		t.Fatalf("the lock-step test needs /usr/bin/python3 with torch and torchvision; .ci/run (and make setup-test) "+
			"installs Debian's python3-torch python3-torchvision: %v: %s", err, out)
	}
}

func readTestCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	return rows
}

func num(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err, s)
	return v
}

// The quick run trains resnet8 on both sides in both precisions from the same weights and
// batches: in float64 the two must agree to rounding, which a wrong layer, a wrong recipe, a
// batch fed in another order or a weight loaded under the wrong name would all break.
func TestQuickAgrees(t *testing.T) {
	requireTorch(t)
	out := t.TempDir()
	require.NoError(t, run([]string{"-quick", "-out", out}, io.Discard))

	rows := readTestCSV(t, filepath.Join(out, "steps.csv"))
	require.Equal(t, stepsHeader, rows[0])
	loss := map[string]map[int][2]float64{"float32": {}, "float64": {}}
	for _, r := range rows[1:] {
		if r[2] == "loss" {
			k, err := strconv.Atoi(r[1])
			require.NoError(t, err)
			loss[r[0]][k] = [2]float64{num(t, r[3]), num(t, r[4])}
		}
		if r[2] == "lr" {
			assert.Equal(t, r[3], r[4], "the learning rates of step %s", r[1])
		}
	}
	require.Len(t, loss["float64"], 6)
	require.Len(t, loss["float32"], 6)
	rel := func(p [2]float64) float64 { return relDiff(p[0], p[1]) }
	l1, l5 := loss["float64"][1], loss["float64"][5]
	assert.Greater(t, l1[0], 1.0, "a loss near ln 10 at the start")
	assert.Less(t, rel(l1), 1e-9, "float64 step-1 loss, go %v torch %v", l1[0], l1[1])
	assert.Less(t, rel(l5), 1e-6, "float64 step-5 loss, go %v torch %v", l5[0], l5[1])
	assert.Less(t, rel(loss["float32"][1]), 1e-4, "float32 step-1 loss %v", loss["float32"][1])
	// The steps really train: the loss moves (the same batches are not just evaluated).
	assert.NotEqual(t, l1[0], loss["float64"][6][0])

	// Every parameter's step-1 gradient agrees in float64, and every tensor after the run.
	params := readTestCSV(t, filepath.Join(out, "params.csv"))
	require.Equal(t, paramsHeader, params[0])
	var n64 int
	for _, p := range params[1:] {
		if p[0] != "float64" {
			continue
		}
		n64++
		if p[2] != "" {
			assert.Less(t, num(t, p[2]), 1e-10, "float64 step-1 gradient of %s", p[1])
		}
		assert.Less(t, num(t, p[4]), 1e-9, "float64 %s after the run", p[1])
	}
	assert.Equal(t, 7+7*4+2, n64, "resnet8: 7 convs, 7 BNs (4 tensors each), fc (2); option-A shortcuts have none")

	// The control (-quick sets -control): Go from weights one ulp apart, on the same batches.
	ctrl := readTestCSV(t, filepath.Join(out, "control.csv"))
	require.Equal(t, controlHeader, ctrl[0])
	require.Len(t, ctrl, 1+2*6, "6 steps of each precision")
	var moved bool
	for _, r := range ctrl[1:] {
		if r[0] != "float64" {
			continue
		}
		k, err := strconv.Atoi(r[1])
		require.NoError(t, err)
		assert.Equal(t, "1", r[2], "-nudge's default: one ulp")
		assert.Equal(t, loss["float64"][k][0], num(t, r[3]), "the control's reference is the Go run, step %d", k)
		assert.Less(t, num(t, r[5]), 1e-12, "the nudge moves the loss by a rounding-size amount, step %d", k)
		moved = moved || num(t, r[5]) > 0
	}
	assert.True(t, moved, "the nudge changes the trajectory")

	md, err := os.ReadFile(filepath.Join(out, summaryFile))
	require.NoError(t, err)
	assert.Contains(t, string(md), "**Rounding**")
	assert.Contains(t, string(md), "Control (control.csv)")
	f, err := os.Open(filepath.Join(out, "lockstep.png"))
	require.NoError(t, err)
	defer f.Close()
	_, err = png.Decode(f)
	require.NoError(t, err)
}

// The verdict calls an early float64 split a defect, and a late one rounding.
func TestVerdict(t *testing.T) {
	f32 := facts{n: 300, loss1: 2e-7, grad1Max: 1e-5, split3: 40}
	good := facts{n: 300, loss1: 3e-16, grad1Max: 1e-13, med10: 5e-16, med100: 1e-12, split3: 150}
	bad := facts{n: 300, loss1: 3e-16, grad1Max: 1e-13, med10: 2e-3, med100: 3e-2, split3: 4}
	assert.Contains(t, verdict(map[string]facts{"float32": f32, "float64": good}), "**Rounding**")
	assert.Contains(t, verdict(map[string]facts{"float32": f32, "float64": bad}), "**A defect**")
	assert.True(t, strings.Contains(verdict(map[string]facts{"float32": f32}), "-dtype float64"))

	// With a control the yardstick is how soon Go parts from itself nudged by one ulp: a split at
	// step 8 is rounding for a net whose control parts at step 9, a defect for one whose control
	// holds for 30 steps; a difference at step 1 is a defect whatever the control.
	fast := facts{n: 10, loss1: 3e-14, grad1Max: 1e-11, med10: 7e-11, split3: 8, ctrlSteps: 10, ctrl3: 9}
	assert.Contains(t, verdict(map[string]facts{"float32": f32, "float64": fast}), "**Rounding**")
	slow := fast
	slow.n, slow.ctrlSteps, slow.ctrl3 = 40, 40, 30
	assert.Contains(t, verdict(map[string]facts{"float32": f32, "float64": slow}), "**A defect**: in float64 Go and PyTorch part at step 8")
	never := fast
	never.split3, never.ctrl3 = 9, 0 // the control never parts in its 10 steps
	assert.Contains(t, verdict(map[string]facts{"float64": never}), "**Rounding**")
	start := fast
	start.grad1Max = 1e-4
	assert.Contains(t, verdict(map[string]facts{"float64": start}), "differ at the first step")
}

// A quick run never writes into the committed results.
func TestQuickRefusesCommittedResults(t *testing.T) {
	err := run([]string{"-quick", "-out", filepath.Join("..", "lockstep", "results"), "-overwrite"}, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "committed")
}

// Settings that cannot run are usage errors naming the flag.
func TestBadFlags(t *testing.T) {
	for _, c := range []struct{ args, want string }{
		{"-nudge 0", "-nudge 0"},
		{"-threads 0", "-threads 0"},
		{"-dtype float16", `-dtype "float16"`},
	} {
		err := run(strings.Fields(c.args), io.Discard)
		require.Error(t, err, c.args)
		assert.Contains(t, err.Error(), c.want)
	}
}

// Results that cannot be merged stop the run before any training (a lost hour, otherwise).
func TestUnreadableResultsStopEarly(t *testing.T) {
	out := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(out, "control.csv"), []byte("dtype,step,go\n"), 0o644))
	err := run([]string{"-quick", "-out", out, "-script", filepath.Join(out, "missing.py")}, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "control.csv")
	_, statErr := os.Stat(filepath.Join(out, "steps.csv"))
	assert.True(t, os.IsNotExist(statErr), "nothing written")
}
