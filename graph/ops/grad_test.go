package ops

import (
	"math/rand"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// newStats returns BNStats with running mean 0 and variance 1 (PyTorch's initial values), or the
// given values.
func newStats(dt tensor.Dtype, c int, training bool) *BNStats {
	mean := tensor.New(tensor.Of(dt), tensor.WithShape(c))
	vr := tensor.New(tensor.Of(dt), tensor.WithShape(c))
	if dt == tensor.Float32 {
		vr.Memset(float32(1))
	} else {
		vr.Memset(1.0)
	}
	return &BNStats{Mean: mean, Var: vr, Momentum: 0.1, Eps: 1e-5, Training: training}
}

func TestOpsGrad(t *testing.T) {
	evalStats := func(c int) *BNStats {
		rng := rand.New(rand.NewSource(9))
		st := newStats(tensor.Float64, c, false)
		st.Mean = randTensor(rng, -0.5, 0.5, c)
		st.Var = randTensor(rng, 0.5, 2, c)
		return st
	}
	type build func(g *G.ExprGraph, in []*G.Node) (*G.Node, error)
	cases := []struct {
		name   string
		shapes [][]int
		lo, hi []float64 // value range per input (default [-1,1))
		check  []bool
		build  build
	}{
		{"BatchNorm/train4D", [][]int{{3, 4, 3, 5}, {4}, {4}}, nil, nil, []bool{true, true, true},
			func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
				return BatchNorm(in[0], in[1], in[2], newStats(tensor.Float64, 4, true))
			}},
		{"BatchNorm/train2D", [][]int{{6, 3}, {3}, {3}}, nil, nil, []bool{true, true, true},
			func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
				return BatchNorm(in[0], in[1], in[2], newStats(tensor.Float64, 3, true))
			}},
		{"BatchNorm/eval", [][]int{{3, 4, 3, 5}, {4}, {4}}, nil, nil, []bool{true, true, true},
			func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
				return BatchNorm(in[0], in[1], in[2], evalStats(4))
			}},
		{"BatchNorm/gamma(1,C,1,1)", [][]int{{3, 4, 3, 5}, {1, 4, 1, 1}, {1, 4, 1, 1}}, nil, nil, []bool{true, true, true},
			func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
				return BatchNorm(in[0], in[1], in[2], newStats(tensor.Float64, 4, true))
			}},
		{"BatchNormReLU/train", [][]int{{3, 4, 3, 5}, {4}, {4}}, nil, nil, []bool{true, true, true},
			func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
				return BatchNormReLU(in[0], in[1], in[2], newStats(tensor.Float64, 4, true))
			}},
		{"BatchNormReLU/eval", [][]int{{3, 4, 3, 5}, {4}, {4}}, nil, nil, []bool{true, true, true},
			func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
				return BatchNormReLU(in[0], in[1], in[2], evalStats(4))
			}},
		{"BatchNormReLU/train2D", [][]int{{7, 3}, {3}, {3}}, nil, nil, []bool{true, true, true},
			func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
				return BatchNormReLU(in[0], in[1], in[2], newStats(tensor.Float64, 3, true))
			}},
		{"ReLU", [][]int{{2, 3, 4, 5}}, nil, nil, []bool{true},
			func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return ReLU(in[0]) }},
		{"ReLU/2D", [][]int{{5, 7}}, nil, nil, []bool{true},
			func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return ReLU(in[0]) }},
		{"AddReLU", [][]int{{2, 3, 4, 5}, {2, 3, 4, 5}}, nil, nil, []bool{true, true},
			func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return AddReLU(in[0], in[1]) }},
		{"Add", [][]int{{2, 3, 4, 5}, {2, 3, 4, 5}}, nil, nil, []bool{true, true},
			func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return Add(in[0], in[1]) }},
		{"MaxPool/k3s2p1", [][]int{{2, 3, 7, 6}}, nil, nil, []bool{true},
			func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return MaxPool2d(in[0], 3, 2, 1) }},
		{"MaxPool/k2s2p0", [][]int{{2, 3, 6, 5}}, nil, nil, []bool{true},
			func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return MaxPool2d(in[0], 2, 2, 0) }},
		{"MaxPool/k3s1p1", [][]int{{1, 2, 5, 5}}, nil, nil, []bool{true},
			func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return MaxPool2d(in[0], 3, 1, 1) }},
		{"GlobalAvgPool", [][]int{{3, 4, 3, 5}}, nil, nil, []bool{true},
			func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return GlobalAvgPool(in[0]) }},
		{"ShortcutA/s2/16->32", [][]int{{2, 16, 5, 6}}, nil, nil, []bool{true},
			func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return ShortcutA(in[0], 2, 32) }},
		{"ShortcutA/s1", [][]int{{2, 3, 4, 4}}, nil, nil, []bool{true},
			func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return ShortcutA(in[0], 1, 6) }},
		{"ShortcutA/s1/same", [][]int{{2, 3, 4, 4}}, nil, nil, []bool{true},
			func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return ShortcutA(in[0], 1, 3) }},
		{"SoftmaxCrossEntropy/soft", [][]int{{5, 4}, {5, 4}}, []float64{-3, 0}, []float64{3, 1}, []bool{true, false},
			func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return SoftmaxCrossEntropy(in[0], in[1]) }},
		{"SoftmaxCrossEntropy/scaled", [][]int{{5, 4}, {5, 4}}, []float64{-3, 0}, []float64{3, 1}, []bool{true, false},
			func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
				l, err := SoftmaxCrossEntropy(in[0], in[1])
				if err != nil {
					return nil, err
				}
				return G.Mul(l, G.NewConstant(2.5))
			}},
		{"Block/conv-bnrelu-conv-bn-addrelu", [][]int{{2, 3, 5, 5}, {3, 3, 3, 3}, {3}, {3}, {3, 3, 3, 3}, {3}, {3}}, nil, nil,
			[]bool{true, true, true, true, true, true, true},
			func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
				p := ConvParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
				h, err := Conv2d(in[0], in[1], p)
				if err != nil {
					return nil, err
				}
				if h, err = BatchNormReLU(h, in[2], in[3], newStats(tensor.Float64, 3, true)); err != nil {
					return nil, err
				}
				if h, err = Conv2d(h, in[4], p); err != nil {
					return nil, err
				}
				if h, err = BatchNorm(h, in[5], in[6], newStats(tensor.Float64, 3, true)); err != nil {
					return nil, err
				}
				return AddReLU(h, in[0])
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewSource(3))
			ins := make([]gradInput, len(tc.shapes))
			for i, s := range tc.shapes {
				lo, hi := -1.0, 1.0
				if tc.lo != nil {
					lo, hi = tc.lo[i], tc.hi[i]
				}
				ins[i] = gradInput{randTensor(rng, lo, hi, s...), tc.check[i]}
			}
			if strings.HasPrefix(tc.name, "Softmax") { // soft targets: rows summing to 1
				normaliseRows(ins[1].val)
			}
			worst := checkGrads(t, rng, ins, tc.build)
			t.Logf("max rel err %.2g", worst)
		})
	}
}

func normaliseRows(t *tensor.Dense) {
	k := t.Shape()[1]
	d := t.Float64s()
	for r := 0; r < len(d); r += k {
		s := 0.0
		for _, v := range d[r : r+k] {
			s += v
		}
		for i := r; i < r+k; i++ {
			d[i] /= s
		}
	}
}
