package data_test

import (
	"math"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/train/data"
)

// snap is a copy of a batch, which the loader reuses.
type snap struct {
	x               []float64
	labels, indices []int
	n               int
}

func snapshot(b *data.Batch) snap {
	var x []float64
	switch d := b.X.Data().(type) {
	case []float32:
		for _, v := range d {
			x = append(x, float64(v))
		}
	case []float64:
		x = append(x, d...)
	}
	return snap{x, append([]int(nil), b.Labels...), append([]int(nil), b.Indices...), b.N}
}

// epoch collects the batches of an epoch.
func epoch(t *testing.T, l *data.Loader, e int) []snap {
	t.Helper()
	it := l.Epoch(e)
	defer it.Close()
	var out []snap
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		out = append(out, snapshot(b))
	}
	require.Len(t, out, l.Batches())
	return out
}

// positions flattens an epoch into one image (as floats) per real row, in order.
func positions(batches []snap, size int) [][]float64 {
	var out [][]float64
	for _, b := range batches {
		for r := 0; r < b.n; r++ {
			out = append(out, b.x[r*size:(r+1)*size])
		}
	}
	return out
}

func TestLoaderCoversEachExampleOnce(t *testing.T) {
	const n, size = 10, 4
	s := indexed(n, 1, 2, 2, 3)
	for _, tc := range []struct {
		name              string
		batch             int
		shuffle, dropLast bool
		batches           int
	}{
		{"in order", 3, false, false, 4},
		{"in order, drop last", 3, false, true, 3},
		{"shuffled", 3, true, false, 4},
		{"shuffled, drop last", 3, true, true, 3},
		{"exact", 5, true, true, 2},
		{"one by one", 1, true, false, 10},
		{"one padded batch", 12, false, false, 1},
		{"whole set", 10, true, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := data.NewLoader(s, data.LoaderConfig{Batch: tc.batch, Shuffle: tc.shuffle, DropLast: tc.dropLast, Seed: 9})
			require.NoError(t, err)
			assert.Equal(t, tc.batches, l.Batches())
			seen := make([]int, n)
			var order []int
			for bi, b := range epoch(t, l, 0) {
				want := min(tc.batch, n-bi*tc.batch)
				assert.Equal(t, want, b.n, "batch %d", bi)
				assert.Len(t, b.indices, b.n)
				assert.Len(t, b.labels, tc.batch)
				assert.Len(t, b.x, tc.batch*size)
				for r, i := range b.indices {
					seen[i]++
					order = append(order, i)
					pix, label := s.Image(i)
					assert.Equal(t, label, b.labels[r])
					for j, v := range pix {
						assert.Equal(t, float64(float32(float64(v)/255)), b.x[r*size+j])
					}
				}
				for r := b.n; r < tc.batch; r++ {
					assert.Equal(t, 0, b.labels[r], "padding label")
					assert.Equal(t, make([]float64, size), b.x[r*size:(r+1)*size], "padding row")
				}
			}
			total := 0
			for i, k := range seen {
				assert.LessOrEqual(t, k, 1, "example %d", i)
				total += k
			}
			if tc.dropLast {
				assert.Equal(t, n/tc.batch*tc.batch, total)
			} else {
				assert.Equal(t, n, total)
			}
			if !tc.shuffle {
				for p, i := range order {
					assert.Equal(t, p, i, "without Shuffle the order is 0..Len-1")
				}
			}
		})
	}
}

func TestLoaderPermutation(t *testing.T) {
	s := indexed(50, 1, 2, 2, 5)
	l, err := data.NewLoader(s, data.LoaderConfig{Batch: 50, Shuffle: true, Seed: 3})
	require.NoError(t, err)
	e0, e1, e2 := epoch(t, l, 0)[0].indices, epoch(t, l, 1)[0].indices, epoch(t, l, 1)[0].indices
	assert.NotEqual(t, e0, e1, "each epoch has its own permutation")
	assert.Equal(t, e1, e2, "an epoch's permutation depends only on (Seed, epoch)")
	assert.Equal(t, rand.New(rand.NewSource(3*1_000_003+1)).Perm(50), e1, "the documented generator")
}

func TestLoaderReproducible(t *testing.T) {
	s := indexed(23, 3, 6, 5, 4)
	cfg := data.LoaderConfig{Batch: 4, Shuffle: true, Seed: 77, Augment: data.Augment{Pad: 2, Flip: true},
		Mean: []float64{0.4, 0.5, 0.6}, Std: []float64{0.2, 0.25, 0.3}}
	a, err := data.NewLoader(s, cfg)
	require.NoError(t, err)
	b, err := data.NewLoader(s, cfg)
	require.NoError(t, err)
	first := epoch(t, a, 5)
	assert.Equal(t, first, epoch(t, b, 5), "same seed and epoch, bit-identical batches")
	assert.Equal(t, first, epoch(t, a, 5), "again, through reused buffers")
	assert.NotEqual(t, first, epoch(t, a, 6))
	cfg.Seed = 78
	c, err := data.NewLoader(s, cfg)
	require.NoError(t, err)
	assert.NotEqual(t, first, epoch(t, c, 5), "another seed")
}

func TestLoaderNormalisation(t *testing.T) {
	s := indexed(3, 3, 4, 4, 2)
	mean, std := []float64{0.5, 0.25, 0.1}, []float64{0.2, 0.3, 0.4}
	for _, tc := range []struct {
		name  string
		dtype tensor.Dtype
		value func(v uint8, c int) float64
	}{
		{"float32 by default", tensor.Dtype{}, func(v uint8, c int) float64 {
			return float64(float32((float64(v)/255 - mean[c]) / std[c]))
		}},
		{"float64", tensor.Float64, func(v uint8, c int) float64 { return (float64(v)/255 - mean[c]) / std[c] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := data.NewLoader(s, data.LoaderConfig{Batch: 4, Mean: mean, Std: std, Dtype: tc.dtype})
			require.NoError(t, err)
			it := l.Epoch(0)
			defer it.Close()
			b, ok := it.Next()
			require.True(t, ok)
			want := tc.dtype
			if want == (tensor.Dtype{}) {
				want = tensor.Float32
			}
			assert.Equal(t, want, b.X.Dtype())
			assert.Equal(t, tensor.Shape{4, 3, 4, 4}, b.X.Shape())
			x := snapshot(b).x
			for r := 0; r < 3; r++ {
				pix, _ := s.Image(r)
				for j, v := range pix {
					assert.Equal(t, tc.value(v, j/16), x[r*48+j], "row %d value %d", r, j)
				}
			}
			assert.Equal(t, make([]float64, 48), x[3*48:], "the padding row stays zero, not -mean/std")
		})
	}
}

// badSet is a Dataset whose image sizes or labels may be wrong.
type badSet struct {
	size, label int
}

func (b badSet) Len() int                   { return 2 }
func (b badSet) Shape() (int, int, int)     { return 1, 2, 2 }
func (b badSet) Classes() int               { return 3 }
func (b badSet) Image(i int) ([]uint8, int) { return make([]uint8, b.size), b.label }

func TestNewLoaderErrors(t *testing.T) {
	s := indexed(5, 2, 2, 2, 2)
	for _, tc := range []struct {
		name string
		d    data.Dataset
		cfg  data.LoaderConfig
		want string
	}{
		{"batch 0", s, data.LoaderConfig{}, "batch size 0: want at least 1"},
		{"drop last leaves nothing", s, data.LoaderConfig{Batch: 6, DropLast: true}, "dropping the last partial batch of 5 examples in batches of 6 leaves no batch"},
		{"one mean", s, data.LoaderConfig{Batch: 2, Mean: []float64{0.5}, Std: []float64{1, 1}}, "1 means and 2 standard deviations for 2 channels"},
		{"mean without std", s, data.LoaderConfig{Batch: 2, Mean: []float64{0.5, 0.5}}, "2 means and 0 standard deviations"},
		{"zero std", s, data.LoaderConfig{Batch: 2, Mean: []float64{0, 0}, Std: []float64{1, 0}}, "standard deviation 0 of channel 1"},
		{"negative std", s, data.LoaderConfig{Batch: 2, Mean: []float64{0, 0}, Std: []float64{-1, 1}}, "standard deviation -1 of channel 0"},
		{"NaN mean", s, data.LoaderConfig{Batch: 2, Mean: []float64{0, math.NaN()}, Std: []float64{1, 1}}, "mean NaN of channel 1 is not finite"},
		{"int dtype", s, data.LoaderConfig{Batch: 2, Dtype: tensor.Int}, "dtype int: want float32 or float64"},
		{"negative pad", s, data.LoaderConfig{Batch: 2, Augment: data.Augment{Pad: -1}}, "crop padding -1"},
		{"empty", &data.Images{C: 1, H: 2, W: 2, NumClasses: 2}, data.LoaderConfig{Batch: 2}, "the dataset is empty"},
		{"no shape", &data.Images{NumClasses: 2, Labels: []uint8{0}}, data.LoaderConfig{Batch: 2}, "images of 0x0x0"},
		{"nil", nil, data.LoaderConfig{Batch: 2}, "no dataset"},
		{"short image", badSet{size: 3}, data.LoaderConfig{Batch: 2}, "example 0 has 3 bytes, want 1x2x2 = 4"},
		{"label out of range", badSet{size: 4, label: 3}, data.LoaderConfig{Batch: 2}, "label 3 of example 0 is outside [0, 3)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := data.NewLoader(tc.d, tc.cfg)
			require.Error(t, err)
			assert.Nil(t, l)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
