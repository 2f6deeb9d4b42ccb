package ops

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

var convCases = []struct {
	name           string
	b, c, h, w     int
	o, kh, kw      int
	sh, sw, ph, pw int
}{
	{"3x3s1p1", 2, 3, 6, 5, 4, 3, 3, 1, 1, 1, 1},
	{"3x3s2p1", 2, 3, 7, 6, 4, 3, 3, 2, 2, 1, 1},
	{"1x1s1p0", 2, 3, 5, 4, 4, 1, 1, 1, 1, 0, 0},
	{"1x1s2p0", 2, 3, 5, 6, 4, 1, 1, 2, 2, 0, 0},
	{"7x7s2p3", 2, 2, 9, 8, 3, 7, 7, 2, 2, 3, 3},
	{"1x3s1p(0,1)", 2, 3, 4, 5, 2, 1, 3, 1, 1, 0, 1},
	{"1x3s1p0", 2, 3, 4, 5, 2, 1, 3, 1, 1, 0, 0},
	{"2x3s(2,1)p(1,0)", 3, 2, 5, 6, 2, 2, 3, 2, 1, 1, 0},
	{"3x1s1p0", 2, 3, 6, 4, 2, 3, 1, 1, 1, 0, 0},
	{"3x3s1p(0,1)", 2, 2, 6, 5, 3, 3, 3, 1, 1, 0, 1},
	// odd sizes, 1x1 and 3x3 images, batches of 1 to 5
	{"3x3s1p1 5x7", 2, 8, 5, 7, 9, 3, 3, 1, 1, 1, 1},
	{"3x3s1p1 1x1", 3, 8, 1, 1, 8, 3, 3, 1, 1, 1, 1},
	{"3x3s1p1 3x3 b1", 1, 9, 3, 3, 8, 3, 3, 1, 1, 1, 1},
	{"3x3s1p1 4x6 b5", 5, 8, 4, 6, 8, 3, 3, 1, 1, 1, 1},
}

func TestConv2dGrad(t *testing.T) {
	for _, workers := range []int{1, 2, 8} {
		for _, tc := range convCases {
			t.Run(tc.name, func(t *testing.T) {
				SetWorkers(workers)
				defer SetWorkers(0)
				rng := rand.New(rand.NewSource(1))
				ins := []gradInput{
					{randTensor(rng, -1, 1, tc.b, tc.c, tc.h, tc.w), true},
					{randTensor(rng, -1, 1, tc.o, tc.c, tc.kh, tc.kw), true},
				}
				worst := checkGrads(t, rng, ins, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
					return Conv2d(in[0], in[1], ConvParams{StrideH: tc.sh, StrideW: tc.sw, PadH: tc.ph, PadW: tc.pw})
				})
				t.Logf("workers %d: max rel err %.2g", workers, worst)
			})
		}
	}
}

func TestConv2dNoInputGrad(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	ins := []gradInput{
		{randTensor(rng, -1, 1, 2, 3, 5, 5), false},
		{randTensor(rng, -1, 1, 4, 3, 3, 3), true},
	}
	worst := checkGrads(t, rng, ins, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		y, err := Conv2d(in[0], in[1], ConvParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, NoInputGrad: true})
		require.NoError(t, err)
		// a second layer on top, so the first one's missing dx is inside the graph
		w2 := G.NodeFromAny(g, randTensor(rng, -1, 1, 2, 4, 3, 3), G.WithName("w2"))
		return Conv2d(y, w2, ConvParams{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1})
	})
	t.Logf("max rel err %.2g", worst)
}

// TestConv2dLargeMatchesGorgonia compares output and gradients with G.Conv2d at realistic sizes
// (several GEMM blocks, more images than workers).
func TestConv2dLargeMatchesGorgonia(t *testing.T) {
	for _, tc := range []struct{ b, c, h, o, k, s, p int }{
		{5, 16, 32, 32, 3, 1, 1}, {5, 16, 32, 32, 3, 2, 1}, {3, 64, 8, 64, 3, 1, 1}, {3, 32, 16, 64, 1, 2, 0}, {2, 3, 32, 16, 7, 2, 3},
	} {
		t.Run(fmt.Sprintf("%+v", tc), func(t *testing.T) {
			rng := rand.New(rand.NewSource(8))
			xv := randTensor(rng, -1, 1, tc.b, tc.c, tc.h, tc.h)
			wv := randTensor(rng, -1, 1, tc.o, tc.c, tc.k, tc.k)
			var rv *tensor.Dense
			run := func(ours bool) [][]float64 {
				g := G.NewGraph()
				x := G.NodeFromAny(g, xv, G.WithName("x"))
				w := G.NodeFromAny(g, wv, G.WithName("w"))
				var y *G.Node
				var err error
				if ours {
					y, err = Conv2d(x, w, ConvParams{StrideH: tc.s, StrideW: tc.s, PadH: tc.p, PadW: tc.p})
				} else {
					y, err = G.Conv2d(x, w, tensor.Shape{tc.k, tc.k}, []int{tc.p, tc.p}, []int{tc.s, tc.s}, []int{1, 1})
				}
				require.NoError(t, err)
				if rv == nil {
					rv = randTensor(rng, -1, 1, y.Shape()...)
				}
				r := G.NodeFromAny(g, rv, G.WithName("r"))
				loss := G.Must(G.Sum(G.Must(G.HadamardProd(y, r))))
				grads, err := G.Grad(loss, x, w)
				require.NoError(t, err)
				return runForward(t, g, y, grads[0], grads[1])
			}
			want := run(false)
			for _, workers := range []int{2, 8} { // 8: fewer images than workers
				SetWorkers(workers)
				got := run(true)
				SetWorkers(0)
				for i, name := range []string{"y", "dx", "dw"} {
					assertClose(t, want[i], got[i], 1e-10, fmt.Sprintf("workers %d: %s", workers, name))
				}
			}
		})
	}
}

// Conv2dBias: float64 gradients (x, w and bias) against central differences, for every geometry
// and for both ways of splitting the work (by image, or within an image for 8 workers).
func TestConv2dBiasGrad(t *testing.T) {
	for _, workers := range []int{1, 2, 8} {
		for _, tc := range convCases {
			t.Run(fmt.Sprintf("workers%d/%s", workers, tc.name), func(t *testing.T) {
				SetWorkers(workers)
				defer SetWorkers(0)
				rng := rand.New(rand.NewSource(1))
				ins := []gradInput{
					{randTensor(rng, -1, 1, tc.b, tc.c, tc.h, tc.w), true},
					{randTensor(rng, -1, 1, tc.o, tc.c, tc.kh, tc.kw), true},
					{randTensor(rng, -1, 1, tc.o), true},
				}
				worst := checkGrads(t, rng, ins, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
					return Conv2dBias(in[0], in[1], in[2], ConvParams{StrideH: tc.sh, StrideW: tc.sw, PadH: tc.ph, PadW: tc.pw})
				})
				t.Logf("max rel err %.2g", worst)
			})
		}
	}
}

// Conv2dBias is Conv2d followed by a per-channel addition, bit for bit, in float32 and float64,
// whether the work is split by image or within an image; its bias gradient is Σ dY over N, H, W.
func TestConv2dBiasMatchesConvPlusBias(t *testing.T) {
	for _, dt := range dtypes {
		for _, workers := range []int{1, 2, 8} {
			for _, tc := range convCases {
				t.Run(fmt.Sprintf("%v/workers%d/%s", dt, workers, tc.name), func(t *testing.T) {
					SetWorkers(workers)
					defer SetWorkers(0)
					rng := rand.New(rand.NewSource(6))
					g := G.NewGraph()
					x := G.NodeFromAny(g, randOf(rng, dt, -1, 1, tc.b, tc.c, tc.h, tc.w), G.WithName("x"))
					w := G.NodeFromAny(g, randOf(rng, dt, -1, 1, tc.o, tc.c, tc.kh, tc.kw), G.WithName("w"))
					bv := randOf(rng, dt, -1, 1, tc.o)
					bias := G.NodeFromAny(g, bv, G.WithName("bias"))
					p := ConvParams{StrideH: tc.sh, StrideW: tc.sw, PadH: tc.ph, PadW: tc.pw}
					plain, err := Conv2d(x, w, p)
					require.NoError(t, err)
					biased, err := Conv2dBias(x, w, bias, p)
					require.NoError(t, err)
					dyv := randOf(rng, dt, -1, 1, biased.Shape()...)
					dy := G.NodeFromAny(g, dyv, G.WithName("dy"))
					grads, err := biased.Op().(G.SDOp).SymDiff(G.Nodes{x, w, bias}, biased, dy)
					require.NoError(t, err)
					require.Len(t, grads, 3)
					v := runForward(t, g, plain, biased, grads[2])

					s := biased.Shape()
					want := v[0]
					wantDb := make([]float64, tc.o)
					dyd, bd := f64(dyv), f64(bv)
					for i := range want {
						o := i / (s[2] * s[3]) % s[1]
						if dt == tensor.Float32 {
							want[i] = float64(float32(want[i]) + float32(bd[o]))
						} else {
							want[i] += bd[o]
						}
						wantDb[o] += dyd[i]
					}
					assertClose(t, want, v[1], 0, "y")
					assertClose(t, wantDb, v[2], tolFor(dt), "dbias")
				})
			}
		}
	}
}
