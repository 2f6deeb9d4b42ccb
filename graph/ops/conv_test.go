package ops

import (
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
	G "gorgonia.org/gorgonia"
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
