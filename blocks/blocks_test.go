package blocks_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/resnet-go/resnet/blocks"
	"github.com/resnet-go/resnet/graph"
	"github.com/resnet-go/resnet/graph/gradcheck"
)

// build makes a float64 graph with one block applied to a random input of shape in.
func build(t *testing.T, c blocks.Config, in []int, cfg graph.Config) (*G.ExprGraph, *G.Node, *G.Node, *graph.Builder) {
	t.Helper()
	p, err := graph.NewParams(tensor.Float64, 7)
	require.NoError(t, err)
	g := G.NewGraph()
	b := graph.NewBuilder(g, p, cfg)
	x := b.InputWithGrad("x", in...)
	y := blocks.Build(b, x, c)
	require.NoError(t, b.Err())
	require.NoError(t, gradcheck.Fill(x, 3, 1))
	return g, x, y, b
}

func TestBlockGradients(t *testing.T) {
	cases := []struct {
		name  string
		cfg   blocks.Config
		in    []int
		out   []int
		names []string // trainable parameters, in order
	}{
		{"basic identity", blocks.Config{Kind: blocks.Basic, Planes: 4, Stride: 1}, []int{2, 4, 5, 5}, []int{2, 4, 5, 5},
			[]string{"conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight", "bn2.bias"}},
		{"basic projection", blocks.Config{Kind: blocks.Basic, Planes: 6, Stride: 2, Shortcut: blocks.Projection}, []int{2, 3, 6, 6}, []int{2, 6, 3, 3},
			[]string{"conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight", "bn2.bias",
				"downsample.0.weight", "downsample.1.weight", "downsample.1.bias"}},
		{"basic option A", blocks.Config{Kind: blocks.Basic, Planes: 6, Stride: 2, Shortcut: blocks.ZeroPad}, []int{2, 4, 6, 6}, []int{2, 6, 3, 3},
			[]string{"conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight", "bn2.bias"}},
		{"bottleneck projection", blocks.Config{Kind: blocks.Bottleneck, Planes: 2, Stride: 2, Shortcut: blocks.Projection}, []int{2, 4, 6, 6}, []int{2, 8, 3, 3},
			[]string{"conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight", "bn2.bias", "conv3.weight", "bn3.weight", "bn3.bias",
				"downsample.0.weight", "downsample.1.weight", "downsample.1.bias"}},
		{"plain basic", blocks.Config{Kind: blocks.Basic, Planes: 6, Stride: 2, Plain: true}, []int{2, 3, 6, 6}, []int{2, 6, 3, 3},
			[]string{"conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight", "bn2.bias"}},
		{"plain bottleneck", blocks.Config{Kind: blocks.Bottleneck, Planes: 2, Stride: 1, Plain: true}, []int{2, 8, 4, 4}, []int{2, 8, 4, 4},
			[]string{"conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight", "bn2.bias", "conv3.weight", "bn3.weight", "bn3.bias"}},
		// the lesson's blocks: every convolution with a bias, projections named shortcut
		{"basic projection, bias", blocks.Config{Kind: blocks.Basic, Planes: 6, Stride: 2, Shortcut: blocks.Projection, ConvBias: true, ShortcutName: "shortcut"},
			[]int{2, 3, 6, 6}, []int{2, 6, 3, 3},
			[]string{"conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "conv2.weight", "conv2.bias", "bn2.weight", "bn2.bias",
				"shortcut.0.weight", "shortcut.0.bias", "shortcut.1.weight", "shortcut.1.bias"}},
		{"basic identity, bias", blocks.Config{Kind: blocks.Basic, Planes: 4, Stride: 1, ConvBias: true, ShortcutName: "shortcut"}, []int{2, 4, 5, 5}, []int{2, 4, 5, 5},
			[]string{"conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "conv2.weight", "conv2.bias", "bn2.weight", "bn2.bias"}},
		{"bottleneck projection, bias", blocks.Config{Kind: blocks.Bottleneck, Planes: 2, Stride: 2, Shortcut: blocks.Projection, ConvBias: true, ShortcutName: "shortcut"},
			[]int{2, 4, 6, 6}, []int{2, 8, 3, 3},
			[]string{"conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "conv2.weight", "conv2.bias", "bn2.weight", "bn2.bias",
				"conv3.weight", "conv3.bias", "bn3.weight", "bn3.bias",
				"shortcut.0.weight", "shortcut.0.bias", "shortcut.1.weight", "shortcut.1.bias"}},
		{"basic projection, bias, torchvision name", blocks.Config{Kind: blocks.Basic, Planes: 6, Stride: 2, Shortcut: blocks.Projection, ConvBias: true},
			[]int{2, 3, 6, 6}, []int{2, 6, 3, 3},
			[]string{"conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "conv2.weight", "conv2.bias", "bn2.weight", "bn2.bias",
				"downsample.0.weight", "downsample.0.bias", "downsample.1.weight", "downsample.1.bias"}},
		{"plain bottleneck, bias", blocks.Config{Kind: blocks.Bottleneck, Planes: 2, Stride: 2, Plain: true, ConvBias: true, ShortcutName: "shortcut"},
			[]int{2, 4, 6, 6}, []int{2, 8, 3, 3},
			[]string{"conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "conv2.weight", "conv2.bias", "bn2.weight", "bn2.bias",
				"conv3.weight", "conv3.bias", "bn3.weight", "bn3.bias"}},
		// pre-activation blocks (He et al. 2016b): BN before each conv, a projection of conv alone
		{"preact basic identity", blocks.Config{Kind: blocks.Basic, Planes: 4, Stride: 1, PreAct: true}, []int{2, 4, 5, 5}, []int{2, 4, 5, 5},
			[]string{"bn1.weight", "bn1.bias", "conv1.weight", "bn2.weight", "bn2.bias", "conv2.weight"}},
		{"preact basic projection", blocks.Config{Kind: blocks.Basic, Planes: 6, Stride: 2, Shortcut: blocks.Projection, PreAct: true},
			[]int{2, 3, 6, 6}, []int{2, 6, 3, 3},
			[]string{"bn1.weight", "bn1.bias", "conv1.weight", "bn2.weight", "bn2.bias", "conv2.weight", "downsample.0.weight"}},
		{"preact basic option A", blocks.Config{Kind: blocks.Basic, Planes: 6, Stride: 2, Shortcut: blocks.ZeroPad, PreAct: true},
			[]int{2, 4, 6, 6}, []int{2, 6, 3, 3},
			[]string{"bn1.weight", "bn1.bias", "conv1.weight", "bn2.weight", "bn2.bias", "conv2.weight"}},
		{"preact bottleneck identity", blocks.Config{Kind: blocks.Bottleneck, Planes: 2, Stride: 1, PreAct: true}, []int{2, 8, 4, 4}, []int{2, 8, 4, 4},
			[]string{"bn1.weight", "bn1.bias", "conv1.weight", "bn2.weight", "bn2.bias", "conv2.weight", "bn3.weight", "bn3.bias", "conv3.weight"}},
		{"preact bottleneck projection", blocks.Config{Kind: blocks.Bottleneck, Planes: 2, Stride: 2, Shortcut: blocks.Projection, PreAct: true},
			[]int{2, 4, 6, 6}, []int{2, 8, 3, 3},
			[]string{"bn1.weight", "bn1.bias", "conv1.weight", "bn2.weight", "bn2.bias", "conv2.weight", "bn3.weight", "bn3.bias", "conv3.weight",
				"downsample.0.weight"}},
		{"preact plain bottleneck", blocks.Config{Kind: blocks.Bottleneck, Planes: 2, Stride: 2, Plain: true, PreAct: true},
			[]int{2, 4, 6, 6}, []int{2, 8, 3, 3},
			[]string{"bn1.weight", "bn1.bias", "conv1.weight", "bn2.weight", "bn2.bias", "conv2.weight", "bn3.weight", "bn3.bias", "conv3.weight"}},
		{"preact basic projection, bias", blocks.Config{Kind: blocks.Basic, Planes: 6, Stride: 2, Shortcut: blocks.Projection, PreAct: true,
			ConvBias: true, ShortcutName: "shortcut"}, []int{2, 3, 6, 6}, []int{2, 6, 3, 3},
			[]string{"bn1.weight", "bn1.bias", "conv1.weight", "conv1.bias", "bn2.weight", "bn2.bias", "conv2.weight", "conv2.bias",
				"shortcut.0.weight", "shortcut.0.bias"}},
	}
	for _, c := range cases {
		// In training mode the BatchNorm after a convolution cancels its bias (gradient 0); in
		// evaluation mode the bias shifts the output, so the bias cases run in both.
		modes := []graph.Mode{graph.Train}
		if c.cfg.ConvBias {
			modes = append(modes, graph.Eval)
		}
		for _, mode := range modes {
			t.Run(c.name+"/"+mode.String(), func(t *testing.T) {
				g, x, y, b := build(t, c.cfg, c.in, graph.Config{Mode: mode})
				assert.Equal(t, tensor.Shape(c.out), y.Shape())
				var names []string
				wrt := G.Nodes{x}
				for _, bd := range b.Trainable() {
					names = append(names, bd.Param.Name)
					wrt = append(wrt, bd.Node)
				}
				assert.Equal(t, c.names, names)
				loss, err := gradcheck.WeightedSum(y, 11)
				require.NoError(t, err)
				res, err := gradcheck.Check(g, loss, wrt, 1e-6, 25)
				require.NoError(t, err)
				assert.LessOrEqual(t, res.MaxRelErr, 1e-5, "worst: %s (%d checked)", res.Worst, res.Checked)
			})
		}
	}
}

// With γ = 0 on the last BatchNorm (ZeroInitResidual) and β = 0, the branch outputs 0 and the
// block is relu(x): the gradient reaching x is the upstream gradient through the identity
// shortcut alone, ∂L/∂x = ∂L/∂y·[x > 0]. A plain block built the same way has no such path.
func TestIdentityShortcutCarriesGradient(t *testing.T) {
	for _, plain := range []bool{false, true} {
		c := blocks.Config{Kind: blocks.Basic, Planes: 4, Stride: 1, Plain: plain}
		g, x, y, _ := build(t, c, []int{2, 4, 5, 5}, graph.Config{ZeroInitResidual: true})
		loss, err := gradcheck.WeightedSum(y, 5)
		require.NoError(t, err)
		grads, err := G.Grad(loss, x)
		require.NoError(t, err)
		var dx, r G.Value
		G.Read(grads[0], &dx)
		vm := G.NewTapeMachine(g)
		require.NoError(t, vm.RunAll())
		vm.Close()
		// r is the gradient of the loss with respect to y (see gradcheck.WeightedSum).
		for _, n := range g.AllNodes() {
			if n.Name() == "r5" {
				r = n.Value()
			}
		}
		require.NotNil(t, r)
		xs, rs, ds := x.Value().Data().([]float64), r.Data().([]float64), dx.Data().([]float64)
		var maxDiff float64
		for i := range xs {
			want := 0.0
			if xs[i] > 0 {
				want = rs[i]
			}
			maxDiff = max(maxDiff, abs(ds[i]-want))
		}
		if plain {
			assert.Greater(t, maxDiff, 0.1, "a plain block has no identity path")
		} else {
			assert.Less(t, maxDiff, 1e-12, "∂L/∂x of a zero-initialised residual block is ∂L/∂y·[x>0]")
		}
	}
}

// A pre-activation block's shortcut is a pure identity (He et al. 2016b): with its last
// convolution at 0 (ZeroInitResidual) the block outputs its input exactly, negative values
// included, since no ReLU follows the addition, and ∂L/∂x = ∂L/∂y exactly. Learning still starts:
// the zero convolution has a gradient (its input is not 0), where a last BN at γ = 0 before a
// ReLU would leave the branch without one. The plain twin's convolution is not zeroed.
func TestPreActIdentityShortcut(t *testing.T) {
	for _, c := range []blocks.Config{
		{Kind: blocks.Basic, Planes: 4, Stride: 1, PreAct: true},
		{Kind: blocks.Bottleneck, Planes: 1, Stride: 1, PreAct: true},
		{Kind: blocks.Basic, Planes: 4, Stride: 1, PreAct: true, Plain: true},
	} {
		t.Run(fmt.Sprintf("%v plain=%t", c.Kind, c.Plain), func(t *testing.T) {
			g, x, y, b := build(t, c, []int{2, 4, 5, 5}, graph.Config{ZeroInitResidual: true})
			loss, err := gradcheck.WeightedSum(y, 5)
			require.NoError(t, err)
			last := "conv2.weight"
			if c.Kind == blocks.Bottleneck {
				last = "conv3.weight"
			}
			var lastW *G.Node
			for _, bd := range b.Trainable() {
				if bd.Param.Name == last {
					lastW = bd.Node
				}
			}
			require.NotNil(t, lastW)
			grads, err := G.Grad(loss, x, lastW)
			require.NoError(t, err)
			var out, dx, dw G.Value
			G.Read(y, &out)
			G.Read(grads[0], &dx)
			G.Read(grads[1], &dw)
			vm := G.NewTapeMachine(g)
			defer vm.Close()
			require.NoError(t, vm.RunAll())
			var r G.Value // ∂L/∂y (see gradcheck.WeightedSum)
			for _, n := range g.AllNodes() {
				if n.Name() == "r5" {
					r = n.Value()
				}
			}
			require.NotNil(t, r)
			xs, ys := x.Value().Data().([]float64), out.Data().([]float64)
			w := lastW.Value().Data().([]float64)
			if c.Plain {
				assert.NotEqual(t, make([]float64, len(w)), w, "a plain block's last convolution starts as any other")
				return
			}
			assert.Equal(t, make([]float64, len(w)), w, "ZeroInitResidual zeroes the last convolution")
			assert.Equal(t, xs, ys, "y = x exactly: no ReLU after the addition")
			assert.Less(t, slices.Min(xs), 0.0, "the input has negative values, which a ReLU would have cut")
			assert.Equal(t, r.Data().([]float64), dx.Data().([]float64), "∂L/∂x = ∂L/∂y exactly")
			assert.Greater(t, slices.Max(dw.Data().([]float64)), 0.0, "the zero convolution learns")
		})
	}
}

// ZeroInitResidual changes only the tensor it zeroes: the others draw the same random numbers.
func TestPreActZeroInitDrawsTheSameWeights(t *testing.T) {
	c := blocks.Config{Kind: blocks.Bottleneck, Planes: 2, Stride: 2, Shortcut: blocks.Projection, PreAct: true}
	_, _, _, plain := build(t, c, []int{2, 4, 6, 6}, graph.Config{})
	_, _, _, zero := build(t, c, []int{2, 4, 6, 6}, graph.Config{ZeroInitResidual: true})
	a, z := plain.Params().All(), zero.Params().All()
	require.Equal(t, len(a), len(z))
	for i := range a {
		if a[i].Name == "conv3.weight" {
			assert.NotEqual(t, a[i].Value.Data(), z[i].Value.Data())
			continue
		}
		assert.Equal(t, a[i].Value.Data(), z[i].Value.Data(), a[i].Name)
	}
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

func TestBadConfig(t *testing.T) {
	p, err := graph.NewParams(tensor.Float32, 1)
	require.NoError(t, err)
	b := graph.NewBuilder(G.NewGraph(), p, graph.Config{})
	x := b.Input("x", 1, 3, 8, 8)
	assert.Nil(t, blocks.Build(b, x, blocks.Config{Planes: 0, Stride: 1}))
	assert.ErrorContains(t, b.Err(), "planes 0")
}
