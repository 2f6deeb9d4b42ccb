package main

import (
	"encoding/csv"
	"flag"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resnet-go/resnet/cmd/trainer/cli"
)

// The quick experiment writes every number and figure, and ratios.csv agrees with gradflow.csv.
func TestQuick(t *testing.T) {
	out := t.TempDir()
	require.NoError(t, run([]string{"-quick", "-out", out}, io.Discard))

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
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-depths", "21"}, `"21" is not a depth 6n+2`},
		{[]string{"-steps", "0"}, "-steps 0"},
		{[]string{"-warmup", "500", "-steps", "10"}, "-warmup 500"},
		{[]string{"-bogus"}, "flag provided but not defined"},
	} {
		err := run(c.args, io.Discard)
		var ue cli.UsageError
		require.ErrorAs(t, err, &ue)
		assert.ErrorContains(t, err, c.want)
	}
	err := run([]string{"-data", "fashion-mnist", "-data-dir", t.TempDir(), "-out", t.TempDir()}, io.Discard)
	assert.ErrorContains(t, err, "train-images-idx3-ubyte")
}

// Results are never replaced without -overwrite, and a quick run never writes into the committed
// results; -h prints the flags and is not an error.
func TestOutputIsGuarded(t *testing.T) {
	out := t.TempDir()
	require.NoError(t, run([]string{"-quick", "-out", out}, io.Discard))
	before, err := os.ReadFile(filepath.Join(out, "gradflow.csv"))
	require.NoError(t, err)

	err = run([]string{"-quick", "-out", out, "-seed", "2"}, io.Discard)
	assert.ErrorContains(t, err, "already holds results (gradflow.csv); pass -overwrite")
	after, err := os.ReadFile(filepath.Join(out, "gradflow.csv"))
	require.NoError(t, err)
	assert.Equal(t, before, after)
	require.NoError(t, run([]string{"-quick", "-out", out, "-seed", "2", "-overwrite"}, io.Discard))

	committed := filepath.Join("..", "gradflow", "results") // this package's own directory
	err = run([]string{"-quick", "-out", committed, "-overwrite"}, io.Discard)
	assert.ErrorContains(t, err, "committed results")

	var help strings.Builder
	assert.ErrorIs(t, run([]string{"-h"}, &help), flag.ErrHelp)
	assert.Contains(t, help.String(), "-overwrite")
	assert.Equal(t, 0, cli.Status("gradflow", flag.ErrHelp, io.Discard))
}

func readCSV(t *testing.T, path string) [][]string {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	return rows
}
