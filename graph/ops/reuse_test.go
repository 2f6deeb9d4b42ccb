package ops

import (
	"fmt"
	"math/rand"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// smallNet builds a network that uses every op of the package on x (2,3,12,12) and one-hot
// targets (2,5), and returns the loss and the parameters (the first node is x).
func smallNet(t *testing.T, g *G.ExprGraph, dt tensor.Dtype, seed int64) (loss *G.Node, params []*G.Node, stats []*BNStats) {
	rng := rand.New(rand.NewSource(seed))
	must := func(n *G.Node, err error) *G.Node {
		t.Helper()
		require.NoError(t, err)
		return n
	}
	param := func(name string, lo, hi float64, shape ...int) *G.Node {
		n := G.NodeFromAny(g, randOf(rng, dt, lo, hi, shape...), G.WithName(name))
		params = append(params, n)
		return n
	}
	bn := func(x *G.Node, name string, relu bool) *G.Node {
		c := x.Shape()[1]
		st := newStats(dt, c, true)
		stats = append(stats, st)
		gm, bt := param(name+".g", 0.5, 1.5, c), param(name+".b", -0.2, 0.2, c)
		if relu {
			return must(BatchNormReLU(x, gm, bt, st))
		}
		return must(BatchNorm(x, gm, bt, st))
	}
	p1 := ConvParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	x := param("x", -1, 1, 2, 3, 12, 12)
	h := must(Conv2d(x, param("w0", -0.5, 0.5, 4, 3, 7, 7), ConvParams{StrideH: 2, StrideW: 2, PadH: 3, PadW: 3}))
	h = bn(h, "bn0", true)          // (2,4,6,6)
	h = must(MaxPool2d(h, 3, 2, 1)) // (2,4,3,3)
	r := must(Conv2d(h, param("w1", -0.5, 0.5, 4, 4, 3, 3), p1))
	r = bn(r, "bn1", false)
	h = must(AddReLU(r, must(ShortcutA(h, 1, 4)))) // identity shortcut
	r = must(Conv2d(h, param("w2", -0.5, 0.5, 8, 4, 3, 3), ConvParams{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}))
	r = bn(r, "bn2", false)
	h = must(AddReLU(r, must(ShortcutA(h, 2, 8)))) // (2,8,2,2)
	h = must(Conv2dBias(h, param("w3", -0.5, 0.5, 8, 8, 1, 1), param("b3", -0.5, 0.5, 8), ConvParams{StrideH: 1, StrideW: 1}))
	h = must(ReLU(h))
	f := must(GlobalAvgPool(h)) // (2,8)
	f = bn(f, "bn3", false)
	logits := must(G.Mul(f, param("fc", -0.5, 0.5, 8, 5)))
	tv := tensor.New(tensor.Of(dt), tensor.WithShape(2, 5))
	if dt == tensor.Float32 {
		tv.Float32s()[1], tv.Float32s()[8] = 1, 1
	} else {
		tv.Float64s()[1], tv.Float64s()[8] = 1, 1
	}
	targets := G.NodeFromAny(g, tv, G.WithName("targets"))
	loss = must(SoftmaxCrossEntropy(logits, targets))
	return loss, params, stats
}

// runNet runs a training step of smallNet (forward and backward) n times and returns the loss and
// the gradients of the last run; before run i, setup(i, params) may change input values.
func runNet(t *testing.T, dt tensor.Dtype, n int, setup func(i int, params []*G.Node)) (float64, [][]float64) {
	g := G.NewGraph()
	loss, params, _ := smallNet(t, g, dt, 11)
	grads, err := G.Grad(loss, params...)
	require.NoError(t, err)
	m := G.NewTapeMachine(g, G.BindDualValues(params...))
	defer m.Close()
	var outs []*tensor.Dense
	for i := 0; i < n; i++ {
		if setup != nil {
			setup(i, params)
		}
		m.Reset()
		require.NoError(t, m.RunAll())
		// every op output is the op's own buffer: the same tensor on every run
		var now []*tensor.Dense
		for _, nd := range g.AllNodes() {
			if strings.HasPrefix(fmt.Sprintf("%T", nd.Op()), "*ops.") {
				if d, ok := nd.Value().(*tensor.Dense); ok {
					now = append(now, d)
				}
			}
		}
		if outs != nil {
			require.Equal(t, len(outs), len(now))
			for j := range now {
				assert.Same(t, outs[j], now[j], "op output %d re-allocated", j)
			}
		}
		outs = now
	}
	gv := make([][]float64, len(grads))
	for i, gn := range grads {
		gv[i] = f64(gn.Value())
	}
	return scalarValue(t, loss.Value()), gv
}

func TestOutputBuffersReused(t *testing.T) {
	// Run 1 with the initial x, run 2 with a different x: the second run's loss and gradients
	// must equal those of a fresh graph run once on the second x.
	x2 := randTensor(rand.New(rand.NewSource(12)), -1, 1, 2, 3, 12, 12)
	set := func(i int, params []*G.Node) {
		if i == 1 || i == -1 {
			setData(params[0].Value().(*tensor.Dense), x2.Float64s())
		}
	}
	for _, dt := range dtypes {
		t.Run(dt.String(), func(t *testing.T) {
			l2, g2 := runNet(t, dt, 2, set)
			lf, gf := runNet(t, dt, 1, func(_ int, p []*G.Node) { set(-1, p) })
			// the BN running statistics differ between the two graphs, but training-mode outputs
			// do not depend on them
			assert.InDelta(t, lf, l2, 1e-12)
			for i := range gf {
				assertClose(t, gf[i], g2[i], tolFor(dt), fmt.Sprintf("gradient %d", i))
			}
		})
	}
}

func TestFloat32MatchesFloat64(t *testing.T) {
	l32, g32 := runNet(t, tensor.Float32, 1, nil)
	l64, g64 := runNet(t, tensor.Float64, 1, nil)
	assert.InDelta(t, l64, l32, 1e-5)
	for i := range g64 {
		assertClose(t, g64[i], g32[i], 2e-4, fmt.Sprintf("gradient %d", i))
	}
}

func TestNoReallocationAcrossRuns(t *testing.T) {
	// Ops own their outputs: a training step of a basic block on 1 MiB activations allocates
	// only Gorgonia's and the goroutines' bookkeeping, far less than one activation.
	rng := rand.New(rand.NewSource(16))
	g := G.NewGraph()
	s := []int{16, 16, 32, 32}
	in := func(name string, shape ...int) *G.Node {
		return G.NodeFromAny(g, randOf(rng, tensor.Float32, -1, 1, shape...), G.WithName(name))
	}
	x, w1, w2 := in("x", s...), in("w1", 16, 16, 3, 3), in("w2", 16, 16, 3, 3)
	g1, b1, g2, b2 := in("g1", 16), in("b1", 16), in("g2", 16), in("b2", 16)
	p := ConvParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	h := G.Must(BatchNormReLU(G.Must(Conv2d(x, w1, p)), g1, b1, newStats(tensor.Float32, 16, true)))
	h = G.Must(BatchNorm(G.Must(Conv2d(h, w2, p)), g2, b2, newStats(tensor.Float32, 16, true)))
	y := G.Must(AddReLU(h, x))
	wrt := G.Nodes{w1, g1, b1, w2, g2, b2}
	_, err := G.Backpropagate(G.Nodes{y}, G.Nodes{in("dy", s...)}, wrt)
	require.NoError(t, err)
	m := G.NewTapeMachine(g, G.BindDualValues(wrt...))
	defer m.Close()
	require.NoError(t, m.RunAll())
	const steps = 5
	var ms1, ms2 runtimeMem
	ms1.read()
	for i := 0; i < steps; i++ {
		m.Reset()
		require.NoError(t, m.RunAll())
	}
	ms2.read()
	perStep := (ms2.total - ms1.total) / steps
	t.Logf("bytes allocated per step: %d (one activation: %d)", perStep, 4*16*16*32*32)
	assert.Less(t, perStep, uint64(4*16*16*32*32/4))
}

// TestUsePreallocDo calls UsePreallocDo of each forward op directly. (Within a TapeMachine run
// our ops, which do not return pointers, get registers of their own, so the machine offers a
// prealloc only in unusual programs; RunAll without Reset runs nothing. Hence the direct test.)
func TestUsePreallocDo(t *testing.T) {
	rng := rand.New(rand.NewSource(13))
	type built struct {
		y    *G.Node
		vals []G.Value
	}
	cases := []struct {
		name  string
		build func(g *G.ExprGraph) built
	}{
		{"Conv2d", func(g *G.ExprGraph) built {
			xv, wv := randTensor(rng, -1, 1, 2, 3, 5, 5), randTensor(rng, -1, 1, 3, 3, 3, 3)
			y, _ := Conv2d(G.NodeFromAny(g, xv, G.WithName("x")), G.NodeFromAny(g, wv, G.WithName("w")), ConvParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1})
			return built{y, []G.Value{xv, wv}}
		}},
		{"Conv2dBias", func(g *G.ExprGraph) built {
			xv, wv, bv := randTensor(rng, -1, 1, 2, 3, 5, 5), randTensor(rng, -1, 1, 3, 3, 3, 3), randTensor(rng, -1, 1, 3)
			y, _ := Conv2dBias(G.NodeFromAny(g, xv, G.WithName("x")), G.NodeFromAny(g, wv, G.WithName("w")),
				G.NodeFromAny(g, bv, G.WithName("b")), ConvParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1})
			return built{y, []G.Value{xv, wv, bv}}
		}},
		{"BatchNorm", func(g *G.ExprGraph) built {
			xv, gv, bv := randTensor(rng, -1, 1, 2, 3, 5, 5), randTensor(rng, -1, 1, 3), randTensor(rng, -1, 1, 3)
			y, _ := BatchNorm(G.NodeFromAny(g, xv, G.WithName("x")), G.NodeFromAny(g, gv, G.WithName("g")), G.NodeFromAny(g, bv, G.WithName("b")), newStats(tensor.Float64, 3, false))
			return built{y, []G.Value{xv, gv, bv}}
		}},
		{"ReLU", func(g *G.ExprGraph) built {
			xv := randTensor(rng, -1, 1, 2, 3, 5, 5)
			y, _ := ReLU(G.NodeFromAny(g, xv, G.WithName("x")))
			return built{y, []G.Value{xv}}
		}},
		{"AddReLU", func(g *G.ExprGraph) built {
			av, bv := randTensor(rng, -1, 1, 2, 3, 5, 5), randTensor(rng, -1, 1, 2, 3, 5, 5)
			y, _ := AddReLU(G.NodeFromAny(g, av, G.WithName("a")), G.NodeFromAny(g, bv, G.WithName("b")))
			return built{y, []G.Value{av, bv}}
		}},
		{"Add", func(g *G.ExprGraph) built {
			av, bv := randTensor(rng, -1, 1, 2, 3, 5, 5), randTensor(rng, -1, 1, 2, 3, 5, 5)
			y, _ := Add(G.NodeFromAny(g, av, G.WithName("a")), G.NodeFromAny(g, bv, G.WithName("b")))
			return built{y, []G.Value{av, bv}}
		}},
		{"MaxPool2d", func(g *G.ExprGraph) built {
			xv := randTensor(rng, -1, 1, 2, 3, 6, 6)
			y, _ := MaxPool2d(G.NodeFromAny(g, xv, G.WithName("x")), 3, 1, 1)
			return built{y, []G.Value{xv}}
		}},
		{"GlobalAvgPool", func(g *G.ExprGraph) built {
			xv := randTensor(rng, -1, 1, 2, 3, 6, 6)
			y, _ := GlobalAvgPool(G.NodeFromAny(g, xv, G.WithName("x")))
			return built{y, []G.Value{xv}}
		}},
		{"ShortcutA", func(g *G.ExprGraph) built {
			xv := randTensor(rng, -1, 1, 2, 3, 6, 6)
			y, _ := ShortcutA(G.NodeFromAny(g, xv, G.WithName("x")), 1, 3)
			return built{y, []G.Value{xv}}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := G.NewGraph()
			b := tc.build(g)
			require.NotNil(t, b.y)
			op, ok := b.y.Op().(G.UsePreallocDoer)
			require.True(t, ok)
			shape := b.y.Shape()
			want, err := b.y.Op().Do(b.vals...)
			require.NoError(t, err)
			wantData := f64(want)
			// wrong shape, wrong dtype, a scalar: errors
			wrong := append(shape.Clone(), 1)
			for _, p := range []G.Value{
				tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(wrong...)),
				tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(shape...)),
				G.NewF64(1),
			} {
				_, err := op.UsePreallocDo(p, b.vals...)
				assert.Error(t, err, "prealloc %T %v", p, p.Shape())
			}
			// a fitting tensor is used
			p := tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(shape...))
			got, err := op.UsePreallocDo(p, b.vals...)
			require.NoError(t, err)
			assert.Same(t, p, got)
			assertClose(t, wantData, f64(got), 0, "prealloc result")
			// Do returns the op's own tensor, the same one every call
			again, err := b.y.Op().Do(b.vals...)
			require.NoError(t, err)
			assert.Same(t, want, again)
			// an input of the output's shape as prealloc: refused by the non-elementwise ops,
			// computed in place by the elementwise ones
			if in := b.vals[0].(*tensor.Dense); in.Shape().Eq(shape) {
				cp := in.Clone().(*tensor.Dense)
				vals := append([]G.Value{cp}, b.vals[1:]...)
				got, err := op.UsePreallocDo(cp, vals...)
				if strings.Contains(tc.name, "ReLU") || tc.name == "Add" {
					require.NoError(t, err)
					assert.Same(t, cp, got)
					assertClose(t, wantData, f64(got), 0, "in place")
				} else {
					assert.ErrorContains(t, err, "overlaps")
				}
			}
		})
	}
}

func TestConstructionErrors(t *testing.T) {
	g := G.NewGraph()
	n := func(name string, shape ...int) *G.Node {
		return G.NewTensor(g, tensor.Float64, len(shape), G.WithShape(shape...), G.WithName(name))
	}
	x4 := n("x4", 2, 3, 8, 8)
	x3 := n("x3", 2, 3, 8)
	st3 := newStats(tensor.Float64, 3, true)
	cases := []struct {
		name string
		f    func() (*G.Node, error)
		want string
	}{
		{"conv channels", func() (*G.Node, error) { return Conv2d(x4, n("w", 4, 2, 3, 3), ConvParams{StrideH: 1, StrideW: 1}) }, "(4, 2, 3, 3)"},
		{"conv 3-D", func() (*G.Node, error) { return Conv2d(x3, n("w1", 4, 3, 3, 3), ConvParams{StrideH: 1, StrideW: 1}) }, "4-D"},
		{"conv stride 0", func() (*G.Node, error) { return Conv2d(x4, n("w2", 4, 3, 3, 3), ConvParams{}) }, "stride"},
		{"conv too large", func() (*G.Node, error) { return Conv2d(x4, n("w3", 4, 3, 9, 9), ConvParams{StrideH: 1, StrideW: 1}) }, "larger"},
		{"conv bias nil", func() (*G.Node, error) {
			return Conv2dBias(x4, n("w4", 4, 3, 3, 3), nil, ConvParams{StrideH: 1, StrideW: 1})
		}, "nil bias"},
		{"conv bias shape", func() (*G.Node, error) {
			return Conv2dBias(x4, n("w5", 4, 3, 3, 3), n("cb3", 3), ConvParams{StrideH: 1, StrideW: 1})
		}, "want (4)"},
		{"conv bias dtype", func() (*G.Node, error) {
			cb := G.NewTensor(g, tensor.Float32, 1, G.WithShape(4), G.WithName("cb4"))
			return Conv2dBias(x4, n("w6", 4, 3, 3, 3), cb, ConvParams{StrideH: 1, StrideW: 1})
		}, "bias is float32"},
		{"bn gamma", func() (*G.Node, error) { return BatchNorm(x4, n("g4", 4), n("b3", 3), st3) }, "(4)"},
		{"bn stats", func() (*G.Node, error) {
			return BatchNorm(x4, n("g3", 3), n("b3b", 3), newStats(tensor.Float64, 4, true))
		}, "BNStats.Mean"},
		{"bn stats dtype", func() (*G.Node, error) {
			return BatchNorm(x4, n("g3b", 3), n("b3c", 3), newStats(tensor.Float32, 3, true))
		}, "float32"},
		{"bn nil stats", func() (*G.Node, error) { return BatchNormReLU(x4, n("g3c", 3), n("b3d", 3), nil) }, "BNStats"},
		{"bn 3-D", func() (*G.Node, error) { return BatchNorm(x3, n("g3d", 3), n("b3e", 3), st3) }, "(2, 3, 8)"},
		{"addrelu shapes", func() (*G.Node, error) { return AddReLU(x4, n("a", 2, 3, 8, 7)) }, "(2, 3, 8, 7)"},
		{"add shapes", func() (*G.Node, error) { return Add(x4, n("a2", 2, 3, 8, 7)) }, "(2, 3, 8, 7)"},
		{"maxpool pad", func() (*G.Node, error) { return MaxPool2d(x4, 3, 2, 2) }, "pad"},
		{"maxpool 3-D", func() (*G.Node, error) { return MaxPool2d(x3, 3, 2, 1) }, "(2, 3, 8)"},
		{"gap 3-D", func() (*G.Node, error) { return GlobalAvgPool(x3) }, "(2, 3, 8)"},
		{"shortcut outC", func() (*G.Node, error) { return ShortcutA(x4, 2, 2) }, "output channels"},
		{"sce shapes", func() (*G.Node, error) { return SoftmaxCrossEntropy(n("l", 2, 5), n("t", 2, 4)) }, "(2, 4)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			y, err := tc.f()
			assert.Nil(t, y)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestWorkersAndBLAS(t *testing.T) {
	defer SetWorkers(0)
	SetWorkers(3)
	assert.Equal(t, 3, Workers())
	assert.Equal(t, 1, workersFor(1), "never more workers than items")
	assert.Equal(t, 3, workersFor(100))
	for _, n := range []int{0, -5} {
		SetWorkers(n)
		assert.Equal(t, runtime.GOMAXPROCS(0), Workers(), "SetWorkers(%d): GOMAXPROCS", n)
	}
	// The BLAS is the one the build tag selects (buildBLAS, from blas_tag_*_test.go).
	assert.Equal(t, buildBLAS, BLAS())
	if buildBLAS == "openblas" {
		assert.NotEmpty(t, BLASCore(), "OpenBLAS names its kernel family")
	} else {
		assert.Empty(t, BLASCore())
	}
	t.Logf("BLAS %q, core %q, workers %d", BLAS(), BLASCore(), Workers())
}
