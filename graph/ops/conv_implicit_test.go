package ops

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

// The implicit-GEMM path (float32) against the im2col path run in float64: forward with and
// without bias, input gradient, filter gradient, over geometries that exercise the grouping
// (partial last groups, fewer groups than workers split by positions or by output channels),
// output channels not a multiple of 4 and taps not a multiple of 3; with the assembly
// micro-kernels where the CPU has them and with their Go definitions; bit-for-bit
// reproducibility for a given worker count; and the same bits with the wide (AVX-512) tiles and
// without.
func TestConvImplicitMatchesIm2col(t *testing.T) {
	cases := []struct{ b, c, h, w, o, k, s int }{
		{3, 16, 8, 8, 16, 3, 1},   // groups of 3 (16 images wanted), one group
		{37, 5, 6, 7, 6, 3, 1},    // many groups, the last one partial, O % 4 = 2
		{2, 16, 32, 32, 32, 3, 1}, // one image per group
		{1, 7, 5, 9, 5, 3, 1},     // one image: fewer groups than workers, split by positions
		{1, 8, 4, 4, 64, 3, 1},    // one image, many filters: split by output channels
		{4, 9, 10, 10, 12, 1, 1},  // 1x1: K = 9, no padding
		{2, 3, 9, 11, 4, 5, 1},    // 5x5 pad 2
		{2, 4, 1, 1, 3, 3, 1},     // 1x1 images
		{5, 6, 8, 8, 8, 3, 2},     // stride 2: four phases
		{3, 5, 7, 9, 6, 3, 2},     // stride 2, odd sizes: phases of unequal size
		{4, 8, 9, 7, 4, 1, 2},     // 1x1 stride 2: one phase
		{2, 3, 23, 22, 8, 7, 2},   // the ImageNet stem: 7x7 stride 2 pad 3
		{1, 16, 40, 40, 16, 3, 1}, // chunks of the forward tiles
		{9, 4, 6, 5, 5, 3, 3},     // stride 3
		{6, 4, 48, 48, 8, 3, 2},   // stride 2, several groups of two images
		{1, 7, 9, 9, 5, 3, 2},     // stride 2, one image: fewer groups than workers
		{2, 3, 17, 19, 4, 3, 2},   // stride 2, odd sizes, rows of 8 and more: the vector copies' edges
		{1, 8, 7, 7, 8, 3, 1},     // one 7x7 image: 56 grid positions, a tile of 48 or two of 24, and a narrow one
		{1, 48, 40, 40, 8, 3, 1},  // 432 taps in blocks of kChunk (the input is not small)
		{2, 40, 6, 6, 8, 3, 1},    // 360 taps in one block (a small input)
		{2, 6, 12, 12, 10, 3, 1},  // O = 10: a pair of blocks in 8-row tiles, then a padded last one
	}
	saved, savedGo, savedWide := implicitConv, implicitGo, wideTiles
	defer func() { implicitConv, implicitGo = saved, savedGo; SetWorkers(0) }()
	// The two single-image cases above take the two ways of splitting a group.
	implicitConv = true
	one := func(c, h, w, o int) *implicit {
		return implicitFor(convGeom{B: 1, C: c, H: h, W: w, O: o, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, OH: h, OW: w})
	}
	require.True(t, one(7, 5, 9, 5).splitPositions(), "split by positions")
	require.False(t, one(8, 4, 4, 64).splitPositions(), "split by output channels")
	require.Greater(t, one(48, 40, 40, 8).inputLen(), smallInput, "taps in blocks")
	modes := []bool{true} // Go micro-kernels
	if saved {
		modes = append(modes, false) // assembly
	}
	for _, goTiles := range modes {
		for _, workers := range []int{1, 2, 3} {
			for _, tc := range cases {
				name := fmt.Sprintf("go=%t/workers=%d/%+v", goTiles, workers, tc)
				t.Run(name, func(t *testing.T) {
					implicitConv, implicitGo = true, goTiles
					SetWorkers(workers)
					p := tc.k / 2
					oh, ow := (tc.h-1)/tc.s+1, (tc.w-1)/tc.s+1
					g := convGeom{B: tc.b, C: tc.c, H: tc.h, W: tc.w, O: tc.o, KH: tc.k, KW: tc.k, SH: tc.s, SW: tc.s, PH: p, PW: p, OH: oh, OW: ow}
					rng := rand.New(rand.NewSource(int64(tc.b*1000 + tc.c)))
					x := randSlice(rng, tc.b*tc.c*tc.h*tc.w)
					w := randSlice(rng, tc.o*tc.c*tc.k*tc.k)
					bias := randSlice(rng, tc.o)
					dy := randSlice(rng, tc.b*tc.o*oh*ow)

					var s scratch
					require.NotNil(t, implicitPath[float32](&s, g), "the geometry takes the implicit path")
					if tc.s > 1 {
						var sd scratch
						require.NotNil(t, stridedPath[float32](&sd, g), "the input gradient takes the phase path")
					}
					y := make([]float32, len(dy))
					convForward(g, &s, x, w, bias, y)
					s.release()
					var s64 scratch
					y64 := make([]float64, len(dy))
					convForward(g, &s64, to64(x), to64(w), to64(bias), y64)
					requireClose(t, y64, y, "y")

					convForward(g, &s, x, w, nil, y)
					s.release()
					convForward(g, &s64, to64(x), to64(w), nil, y64)
					requireClose(t, y64, y, "y without bias")

					dx := make([]float32, len(x))
					convBackwardData(g, &s, w, dy, dx)
					s.release()
					dx64 := make([]float64, len(x))
					convBackwardData(g, &s64, to64(w), to64(dy), dx64)
					requireClose(t, dx64, dx, "dx")

					dw := make([]float32, len(w))
					convBackwardFilter(g, &s, x, dy, dw)
					s.release()
					dw64 := make([]float64, len(w))
					convBackwardFilter(g, &s64, to64(x), to64(dy), dw64)
					requireClose(t, dw64, dw, "dw")

					// the same inputs again, through buffers now holding other values
					dx2 := make([]float32, len(x))
					convBackwardData(g, &s, w, dy, dx2)
					s.release()
					require.Equal(t, dx, dx2, "dx reproducible")
					dw2 := make([]float32, len(w))
					convBackwardFilter(g, &s, x, dy, dw2)
					s.release()
					require.Equal(t, dw, dw2, "dw reproducible")
					y2 := make([]float32, len(dy))
					convForward(g, &s, x, w, bias, y2)
					s.release()
					convForward(g, &s, x, w, bias, y)
					require.Equal(t, y, y2, "y reproducible")

					// the tiles of two calls' work (AVX-512) give the bits of the narrow ones
					wideTiles = !savedWide
					defer func() { wideTiles = savedWide }()
					var sw scratch
					convForward(g, &sw, x, w, bias, y2)
					sw.release()
					require.Equal(t, y, y2, "y, wide tiles %t", wideTiles)
					convBackwardData(g, &sw, w, dy, dx2)
					sw.release()
					require.Equal(t, dx, dx2, "dx, wide tiles %t", wideTiles)
					convBackwardFilter(g, &sw, x, dy, dw2)
					sw.release()
					require.Equal(t, dw, dw2, "dw, wide tiles %t", wideTiles)
				})
			}
		}
	}
}

// The arena lends the smallest free buffer that fits and keeps no more buffers than were ever
// lent at once.
func TestArena(t *testing.T) {
	var a arena[float32]
	b1, b2 := a.get(10), a.get(100)
	a.put(b1)
	a.put(b2)
	got := a.get(50)
	require.Equal(t, 50, len(got))
	require.Equal(t, 100, cap(got), "the smallest that fits")
	got[0] = 1
	big := a.get(1000) // none fits: a new one replaces the free 10
	require.Len(t, a.free, 0)
	a.put(got)
	a.put(big)
	require.Len(t, a.free, 2)
	again := a.get(100)
	require.Equal(t, float32(1), again[0], "the same memory again")
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.Float64()*2 - 1)
	}
	return s
}

func to64(s []float32) []float64 {
	if s == nil {
		return nil
	}
	d := make([]float64, len(s))
	for i, v := range s {
		d[i] = float64(v)
	}
	return d
}

// requireClose checks got against want within 1e-5 of want's largest magnitude (float32 sums of
// up to a few thousand terms of size 1).
func requireClose(t *testing.T, want []float64, got []float32, what string) {
	t.Helper()
	require.Len(t, got, len(want), what)
	var scale float64
	for _, v := range want {
		scale = math.Max(scale, math.Abs(v))
	}
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); d > 1e-5*scale+1e-6 || math.IsNaN(float64(got[i])) {
			require.Failf(t, what, "element %d: got %v, want %v (scale %v)", i, got[i], want[i], scale)
		}
	}
}
