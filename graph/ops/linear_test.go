package ops

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
)

// MatMulT against G.Mul(x, G.Transpose(w)) in both dtypes, its gradients against central
// differences in float64, and its construction errors.
func TestMatMulT(t *testing.T) {
	for _, tc := range []struct{ n, in, out int }{{1, 5, 3}, {4, 7, 10}, {33, 64, 10}, {2, 300, 200}} {
		for _, dt := range dtypes {
			t.Run(fmt.Sprintf("%v/%+v", dt, tc), func(t *testing.T) {
				rng := rand.New(rand.NewSource(5))
				g := G.NewGraph()
				x := G.NodeFromAny(g, randOf(rng, dt, -1, 1, tc.n, tc.in), G.WithName("x"))
				w := G.NodeFromAny(g, randOf(rng, dt, -1, 1, tc.out, tc.in), G.WithName("w"))
				ours, err := MatMulT(x, w)
				require.NoError(t, err)
				stock, err := G.Mul(x, G.Must(G.Transpose(w)))
				require.NoError(t, err)
				require.Equal(t, stock.Shape(), ours.Shape())
				v := runForward(t, g, stock, ours)
				assertClose(t, v[0], v[1], tolFor(dt), "x·wᵀ")
			})
		}
		if tc.in*tc.out > 5000 {
			continue // central differences of every weight: the small cases cover the products
		}
		t.Run(fmt.Sprintf("grad/%+v", tc), func(t *testing.T) {
			rng := rand.New(rand.NewSource(6))
			ins := []gradInput{{randTensor(rng, -1, 1, tc.n, tc.in), true}, {randTensor(rng, -1, 1, tc.out, tc.in), true}}
			worst := checkGrads(t, rng, ins, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
				return MatMulT(in[0], in[1])
			})
			t.Logf("max rel err %.2g", worst)
		})
	}
	g := G.NewGraph()
	x := G.NewMatrix(g, G.Float32, G.WithShape(2, 3), G.WithName("x"))
	w := G.NewMatrix(g, G.Float32, G.WithShape(4, 5), G.WithName("w"))
	_, err := MatMulT(x, w)
	require.ErrorContains(t, err, "must be (N, in) and (out, in)")
	w64 := G.NewMatrix(g, G.Float64, G.WithShape(4, 3), G.WithName("w64"))
	_, err = MatMulT(x, w64)
	require.ErrorContains(t, err, "x is float32 but w is float64")
}
