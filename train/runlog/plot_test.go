package runlog

import (
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/plot"
)

// run is a made-up run of n epochs with validation every epoch and a test set every testEvery.
func run(n, testEvery int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		e := i + 1
		r := NewRecord(e, 391*e)
		r.LR = 0.1
		r.TrainLoss, r.TrainErr = 2/float64(e), 0.8/float64(e)
		r.ValLoss, r.ValErr = 2.2/float64(e), 0.85/float64(e)
		if testEvery > 0 && e%testEvery == 0 {
			r.TestLoss, r.TestErr = 2.3/float64(e), 0.9/float64(e)
		}
		recs[i] = r
	}
	return recs
}

func TestPlotCurves(t *testing.T) {
	noVal := run(5, 0)
	for i := range noVal {
		noVal[i].ValLoss, noVal[i].ValErr = math.NaN(), math.NaN()
	}
	// -lr 1000: the training loss stays finite but huge, evaluation is NaN.
	diverged := run(3, 1)
	for i := range diverged {
		diverged[i].TrainLoss, diverged[i].TestLoss, diverged[i].ValLoss = 2.7e24, math.NaN(), math.Inf(1)
	}
	extreme := run(3, 1)
	extreme[0].TrainLoss, extreme[1].TrainLoss, extreme[2].TrainLoss = -math.MaxFloat64, math.MaxFloat64, 1e300
	allNaN := run(2, 1)
	for i := range allNaN {
		allNaN[i] = NewRecord(i+1, 0)
	}
	tests := []struct {
		name    string
		records []Record
		title   string
	}{
		{"huge equal losses and NaN", diverged, "lr 1000"},
		{"extreme values", extreme, "extreme"},
		{"nothing measured", allNaN, "NaN"},
		{"full run", run(30, 1), "resnet20 on CIFAR-10"},
		{"test every 5 epochs", run(30, 5), "sparse test"},
		{"no test and no val", noVal, "train only"},
		{"one epoch", run(1, 1), "first epoch"},
		{"no records", nil, "empty"},
		{"no title", run(3, 1), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "curves.png")
			require.NoError(t, PlotCurves(tc.records, path, tc.title))

			f, err := os.Open(path)
			require.NoError(t, err)
			defer f.Close()
			img, err := png.Decode(f)
			require.NoError(t, err)
			assert.Equal(t, image.Rect(0, 0, 1300, 400), img.Bounds())
			// The three panels (loss, error, learning rate) have something drawn on them: axes at least.
			assert.Greater(t, darkPixels(img, 0, 433), 500, "loss panel")
			assert.Greater(t, darkPixels(img, 433, 866), 500, "error panel")
			assert.Greater(t, darkPixels(img, 866, 1300), 500, "learning-rate panel")

			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Len(t, entries, 1, "no temporary file left behind")
		})
	}
}

func darkPixels(img image.Image, x0, x1 int) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := x0; x < x1; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r+g+bl < 3*0x8000 {
				n++
			}
		}
	}
	return n
}

func TestPanelSkipsNaN(t *testing.T) {
	sparse := run(10, 5)
	noVal := run(4, 0)
	for i := range noVal {
		noVal[i].ValLoss = math.NaN()
	}
	tests := []struct {
		name      string
		records   []Record
		wantDrawn []string
		wantYMax  float64
	}{
		{"all series", run(4, 1), []string{"train", "val", "test"}, 2.3},
		{"test every 5 epochs", sparse, []string{"train", "val", "test"}, 2.2},
		{"all-NaN series left out", noVal, []string{"train"}, 2},
		{"no records", nil, nil, math.Inf(-1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, drawn, err := panel("cross-entropy loss", 1, lossSeries(), tc.records, false)
			require.NoError(t, err)
			assert.Equal(t, tc.wantDrawn, drawn)
			assert.InDelta(t, tc.wantYMax, p.Y.Max, 1e-12, "the y range covers the finite points only")
		})
	}
}

func TestPlotCurvesErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "missing", "curves.png")
	err := PlotCurves(run(3, 1), path, "x")
	require.Error(t, err)
	assert.ErrorContains(t, err, path)
}

func tickLabels(ts []plot.Tick) (labels []string) {
	for _, t := range ts {
		if t.Label != "" {
			labels = append(labels, t.Label)
		}
	}
	return labels
}

func TestEpochTicks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		want   []string
	}{
		{1, 5, []string{"1", "2", "3", "4", "5"}},
		{0.8, 3.2, []string{"1", "2", "3"}},
		{1, 15, []string{"2", "4", "6", "8", "10", "12", "14"}},
		{1, 160, []string{"20", "40", "60", "80", "100", "120", "140", "160"}},
		{1, 1, []string{"1"}},
	} {
		assert.Equal(t, tc.want, tickLabels(epochTicks{}.Ticks(tc.lo, tc.hi)), "%g to %g", tc.lo, tc.hi)
	}
}

func TestPowerTicks(t *testing.T) {
	assert.Equal(t, []string{"1e-05", "0.0001", "0.001", "0.01", "0.1"}, tickLabels(powerTicks{}.Ticks(6e-6, 0.1)))
	assert.Equal(t, []string{"1", "10", "100", "1000", "10⁴", "10⁵"}, tickLabels(powerTicks{}.Ticks(0.5, 1e5)))
	assert.Equal(t, []string{"0.3", "0.5"}, tickLabels(powerTicks{}.Ticks(0.25, 0.65)), "no power of ten in the range")
	assert.Equal(t, []string{"0.5", "1", "2", "3"}, tickLabels(powerTicks{}.Ticks(0.4, 3.5)), "one power of ten")
	assert.Equal(t, "10¹²", powerOfTen(12))
}
