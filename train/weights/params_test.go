package weights_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/graph"
	"github.com/resnet-go/resnet/resnet"
	"github.com/resnet-go/resnet/train/weights"
)

// store builds model with classes outputs into a new store of dtype, seeded by seed.
func store(t *testing.T, model string, classes int, dtype tensor.Dtype, seed int64) *graph.Params {
	t.Helper()
	spec, err := resnet.ByName(model, classes, 1)
	require.NoError(t, err)
	p, err := graph.NewParams(dtype, seed)
	require.NoError(t, err)
	_, err = resnet.Summarize(spec, p, 32, 32)
	require.NoError(t, err)
	return p
}

func TestFromParamsAndLoad(t *testing.T) {
	src := store(t, "resnet8", 10, tensor.Float32, 1)
	f := weights.FromParams(src, 42)
	counters := 0
	for _, tn := range f.Tensors {
		if tn.Dtype == weights.I64 {
			counters++
			assert.Equal(t, []int64{42}, tn.I64, tn.Name)
			assert.Empty(t, tn.Shape, tn.Name)
		}
	}
	assert.Equal(t, 7, counters, "one num_batches_tracked per BatchNorm of resnet8")

	t.Run("into float64, every tensor", func(t *testing.T) {
		dst := store(t, "resnet8", 10, tensor.Float64, 2)
		rep, err := weights.Load(dst, f, true)
		require.NoError(t, err)
		assert.True(t, rep.Clean())
		assert.Len(t, rep.Loaded, len(src.All()))
		for _, e := range src.All() {
			d, ok := dst.Get(e.Name)
			require.True(t, ok)
			for i, v := range e.Value.Data().([]float32) {
				require.Equal(t, float64(v), d.Value.Data().([]float64)[i], e.Name)
			}
		}
	})

	t.Run("strict lists every problem and loads nothing", func(t *testing.T) {
		dst := store(t, "resnet8", 5, tensor.Float32, 2)
		g := &weights.File{}
		for _, tn := range f.Tensors {
			switch tn.Name {
			case "layer1.0.conv1.weight": // missing
			case "bn1.weight":
				tn.Name = "bn1.gamma" // unexpected
				g.Tensors = append(g.Tensors, tn)
			default:
				g.Tensors = append(g.Tensors, tn)
			}
		}
		before := append([]float32(nil), mustGet(t, dst, "conv1.weight")...)
		rep, err := weights.Load(dst, g, true)
		require.Error(t, err)
		assert.Equal(t, "weights: the file does not fit the model: missing keys: bn1.weight, layer1.0.conv1.weight; unexpected keys: bn1.gamma; "+
			"shape mismatches: fc.weight [10 64] in the file, [5 64] in the model; fc.bias [10] in the file, [5] in the model", err.Error())
		assert.Empty(t, rep.Loaded)
		assert.Equal(t, before, mustGet(t, dst, "conv1.weight"), "nothing copied")

		rep, err = weights.Load(dst, g, false)
		require.NoError(t, err, "non-strict: the fine-tuning case")
		assert.Len(t, rep.Mismatched, 2)
		assert.NotEqual(t, before, mustGet(t, dst, "conv1.weight"), "what matches is copied")
	})
}

func mustGet(t *testing.T, p *graph.Params, name string) []float32 {
	e, ok := p.Get(name)
	require.True(t, ok, name)
	return append([]float32(nil), e.Value.Data().([]float32)...)
}
