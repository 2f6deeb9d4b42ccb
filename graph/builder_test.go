package graph_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/graph"
)

func newStore(t *testing.T, dt tensor.Dtype) *graph.Params {
	t.Helper()
	p, err := graph.NewParams(dt, 42)
	require.NoError(t, err)
	return p
}

func TestScopedNames(t *testing.T) {
	p := newStore(t, tensor.Float32)
	b := graph.NewBuilder(G.NewGraph(), p, graph.Config{})
	x := b.Input("x", 2, 3, 8, 8)
	blk := b.Scope("layer2").Scopef("%d", 0)
	y := blk.Conv2d("conv1", x, 4, 3, 2, 1)
	y = blk.BatchNorm2d("bn1", y)
	ds := blk.Scope("downsample")
	ds.Conv2d("0", x, 4, 1, 2, 0)
	require.NoError(t, b.Err())
	assert.Equal(t, tensor.Shape{2, 4, 4, 4}, y.Shape())
	var names []string
	for _, e := range p.All() {
		names = append(names, e.Name+"/"+e.Kind.String())
	}
	assert.Equal(t, []string{"layer2.0.conv1.weight/param", "layer2.0.bn1.weight/param", "layer2.0.bn1.bias/param",
		"layer2.0.bn1.running_mean/buffer", "layer2.0.bn1.running_var/buffer", "layer2.0.downsample.0.weight/param"}, names)
	assert.Len(t, b.Trainable(), 4)
	assert.Equal(t, 4*3*9+4+4+4*3, p.Count())
}

func TestStickyError(t *testing.T) {
	p := newStore(t, tensor.Float32)
	b := graph.NewBuilder(G.NewGraph(), p, graph.Config{})
	x := b.Input("x", 2, 3)
	y := b.Scope("layer1").Conv2d("conv1", x, 4, 3, 1, 1) // 2-D input: fails
	assert.Nil(t, y)
	z := b.BatchNorm2d("bn1", y) // no-op after the failure
	assert.Nil(t, z)
	require.Error(t, b.Err())
	assert.Contains(t, b.Err().Error(), "layer1: conv1: input shape (2,3), want (N,C,H,W)")
	assert.Empty(t, p.All(), "nothing is created after a failure")
}

// Two graphs over one store share its tensors: the training graph and an evaluation graph at
// another batch size see the same weights and statistics.
func TestStoreSharedAcrossGraphs(t *testing.T) {
	p := newStore(t, tensor.Float64)
	build := func(batch int, mode graph.Mode) *graph.Builder {
		b := graph.NewBuilder(G.NewGraph(), p, graph.Config{Mode: mode})
		x := b.Input("x", batch, 3, 6, 6)
		b.BatchNormReLU("bn1", b.Conv2d("conv1", x, 5, 3, 1, 1))
		require.NoError(t, b.Err())
		return b
	}
	train, eval := build(8, graph.Train), build(2, graph.Eval)
	require.Len(t, p.All(), 5)
	for i, bd := range train.Trainable() {
		other := eval.Trainable()[i]
		assert.Same(t, bd.Param, other.Param)
		assert.Same(t, bd.Node.Value().(*tensor.Dense), other.Node.Value().(*tensor.Dense), "nodes hold the store's tensor, not a copy")
	}
}

func TestInitialisation(t *testing.T) {
	p := newStore(t, tensor.Float64)
	b := graph.NewBuilder(G.NewGraph(), p, graph.Config{ZeroInitResidual: true})
	x := b.Input("x", 2, 64, 8, 8)
	y := b.Conv2d("conv", x, 128, 3, 1, 1)
	b.BatchNorm2d("bn", y)
	b.ResidualBatchNorm2d("bn_last", y)
	b.Linear("fc", b.GlobalAvgPool(y), 10)
	require.NoError(t, b.Err())

	w, _ := p.Get("conv.weight")
	var sum, sq float64
	d := w.Value.Data().([]float64)
	for _, v := range d {
		sum += v
		sq += v * v
	}
	n := float64(len(d))
	std := math.Sqrt(sq/n - (sum/n)*(sum/n))
	assert.InEpsilon(t, math.Sqrt(2.0/(128*9)), std, 0.03, "Kaiming normal, fan_out")

	for name, want := range map[string]float64{"bn.weight": 1, "bn.bias": 0, "bn.running_mean": 0, "bn.running_var": 1, "bn_last.weight": 0} {
		e, ok := p.Get(name)
		require.True(t, ok)
		for _, v := range e.Value.Data().([]float64) {
			require.Equal(t, want, v, name)
		}
	}
	fc, _ := p.Get("fc.weight")
	bound := 1 / math.Sqrt(128)
	for _, v := range fc.Value.Data().([]float64) {
		require.LessOrEqual(t, math.Abs(v), bound)
	}
	assert.Equal(t, tensor.Shape{10, 128}, fc.Value.Shape())
}

// Conv2dBias: weight as Conv2d's, bias (out) U(−1/√fan_in, 1/√fan_in) as nn.Conv2d, both in the
// layer table; the bias is added to every output plane.
func TestConv2dBias(t *testing.T) {
	p := newStore(t, tensor.Float64)
	g := G.NewGraph()
	b := graph.NewBuilder(g, p, graph.Config{})
	x := b.Input("x", 2, 16, 5, 5)
	y := b.Scope("layer1").Conv2dBias("conv1", x, 64, 3, 2, 1)
	require.NoError(t, b.Err())
	assert.Equal(t, tensor.Shape{2, 64, 3, 3}, y.Shape())
	var names []string
	for _, e := range p.All() {
		names = append(names, e.Name)
	}
	assert.Equal(t, []string{"layer1.conv1.weight", "layer1.conv1.bias"}, names)
	l := b.Layers()[0]
	assert.Equal(t, graph.Layer{Name: "layer1.conv1", Op: "conv3x3/2+bias", Out: tensor.Shape{2, 64, 3, 3},
		Params: 64*16*9 + 64, MACs: 64 * 9 * 16 * 9}, l)
	assert.Equal(t, l.Params, p.Count())

	bias, _ := p.Get("layer1.conv1.bias")
	assert.Equal(t, tensor.Shape{64}, bias.Value.Shape())
	bound := 1 / math.Sqrt(16*9)
	var big int
	for _, v := range bias.Value.Data().([]float64) {
		require.LessOrEqual(t, math.Abs(v), bound)
		if math.Abs(v) > bound/2 {
			big++
		}
	}
	assert.Greater(t, big, 16, "uniform over the whole bound, not a narrower one")

	// zero weights: the output is the bias, plane by plane
	w, _ := p.Get("layer1.conv1.weight")
	clear(w.Value.Data().([]float64))
	require.NoError(t, G.Let(x, tensor.New(tensor.WithShape(2, 16, 5, 5), tensor.WithBacking(make([]float64, 2*16*25)))))
	var out G.Value
	G.Read(y, &out)
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	require.NoError(t, vm.RunAll())
	bd, od := bias.Value.Data().([]float64), out.Data().([]float64)
	for i, v := range od {
		require.Equal(t, bd[i/9%64], v)
	}
}

func TestLinearForward(t *testing.T) {
	p := newStore(t, tensor.Float64)
	g := G.NewGraph()
	b := graph.NewBuilder(g, p, graph.Config{})
	x := b.Input("x", 2, 3)
	y := b.Linear("fc", x, 2)
	require.NoError(t, b.Err())
	w, _ := p.Get("fc.weight")
	bias, _ := p.Get("fc.bias")
	copy(w.Value.Data().([]float64), []float64{1, 2, 3, 4, 5, 6})
	copy(bias.Value.Data().([]float64), []float64{0.5, -1})
	require.NoError(t, G.Let(x, tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float64{1, 0, -1, 2, 1, 0}))))
	var out G.Value
	G.Read(y, &out)
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	require.NoError(t, vm.RunAll())
	assert.Equal(t, []float64{1 - 3 + 0.5, 4 - 6 - 1, 2 + 2 + 0.5, 8 + 5 - 1}, out.Data().([]float64))
}

func TestBadInput(t *testing.T) {
	_, err := graph.NewParams(tensor.Int, 1)
	assert.ErrorContains(t, err, "unsupported dtype int")

	p := newStore(t, tensor.Float32)
	b := graph.NewBuilder(G.NewGraph(), p, graph.Config{})
	x := b.Input("x", 2, 3, 8, 8)
	b.AssertDims(x, -1, 4, 8, 8)
	assert.ErrorContains(t, b.Err(), "shape (2, 3, 8, 8), want [-1 4 8 8]")

	b = graph.NewBuilder(G.NewGraph(), p, graph.Config{})
	x = b.Input("x", 2, 3, 8, 8)
	b.AddReLU(x, b.Conv2d("c", x, 4, 3, 1, 1))
	assert.ErrorContains(t, b.Err(), "residual join: branch (2,3,8,8) and shortcut (2,4,8,8) differ")
}

// The BatchNorm layer refuses, in training mode only, an input with one value per channel:
// its batch statistics would be undefined (PyTorch raises the same).
func TestBatchNormNeedsValuesPerChannel(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mode  graph.Mode
		shape []int
		want  string
	}{
		{"train, batch 1 of 1×1 maps", graph.Train, []int{1, 4, 1, 1}, "in training mode BatchNorm layer4.0.bn1 sees one value per channel (input (1, 4, 1, 1))"},
		{"train, batch 2 of 1×1 maps", graph.Train, []int{2, 4, 1, 1}, ""},
		{"train, batch 1 of 2×1 maps", graph.Train, []int{1, 4, 2, 1}, ""},
		{"eval, batch 1 of 1×1 maps", graph.Eval, []int{1, 4, 1, 1}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := graph.NewBuilder(G.NewGraph(), newStore(t, tensor.Float32), graph.Config{Mode: tc.mode})
			x := b.Input("x", tc.shape...)
			y := b.Scope("layer4").Scope("0").BatchNormReLU("bn1", x)
			if tc.want == "" {
				require.NoError(t, b.Err())
				assert.Equal(t, x.Shape(), y.Shape())
				return
			}
			assert.Nil(t, y)
			assert.ErrorContains(t, b.Err(), tc.want)
		})
	}
}
