//go:build !purego

package vec32

import (
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The micro-kernels against their definitions summed in float64.

func TestConvTile4x24(t *testing.T) {
	if !HasAVX2FMA {
		t.Skip("CPU without AVX2 and FMA: the kernels are never called")
	}
	rng := rand.New(rand.NewSource(1))
	for _, k := range []int{1, 2, 9, 144, 577} {
		a := normals(rng, 4*k)
		b := normals(rng, 4000)
		off := make([]int, k)
		const base = 2000 // b's origin: offsets are negative or positive
		for i := range off {
			off[i] = rng.Intn(1900) - 1000
		}
		const ldc = 30
		c := make([]float32, 3*ldc+24+5)
		for i := range c {
			c[i] = 7 // untouched outside the tile
		}
		ConvTile4x24(k, &a[0], k, &b[base], &off[0], &c[0], ldc, false)
		if k > 1 { // the same sum in two calls, the second adding to the first
			c2 := append([]float32(nil), c...)
			h := k / 2
			ConvTile4x24(h, &a[0], k, &b[base], &off[0], &c2[0], ldc, false)
			ConvTile4x24(k-h, &a[h], k, &b[base], &off[h], &c2[0], ldc, true)
			require.Equal(t, c, c2, "k %d split", k)
		}
		for r := 0; r < 4; r++ {
			for j := 0; j < 30 && r*ldc+j < len(c); j++ {
				got := c[r*ldc+j]
				if j >= 24 {
					require.Equal(t, float32(7), got, "k %d r %d j %d written outside the tile", k, r, j)
					continue
				}
				var want, scale float64
				for i := 0; i < k; i++ {
					p := float64(a[r*k+i]) * float64(b[base+off[i]+j])
					want += p
					scale += math.Abs(p)
				}
				require.InDelta(t, want, float64(got), 1e-6*scale, "k %d r %d j %d", k, r, j)
			}
		}
	}
}

// TestForwardTilesSameBits checks each forward tile against the narrower ones it stands for:
// the same sums in the same order, so the same bits, with and without add, and nothing written
// outside the tile.
func TestForwardTilesSameBits(t *testing.T) {
	const base = 2000 // b's origin: offsets are negative or positive
	type tile func(k int, a *float32, lda int, b *float32, off *int, c *float32, ldc int, add bool)
	cases := []struct {
		name   string
		avx512 bool
		rows   int
		got    tile
		want   func(k int, a, b []float32, off []int, c []float32, ldc int, add bool)
	}{
		{"ConvTile4x8", false, 4, ConvTile4x8, func(k int, a, b []float32, off []int, c []float32, ldc int, add bool) {
			wide := append([]float32(nil), c...)
			ConvTile4x24(k, &a[0], k, &b[base], &off[0], &wide[0], ldc, add)
			for r := 0; r < 4; r++ {
				copy(c[r*ldc:r*ldc+8], wide[r*ldc:])
			}
		}},
		{"ConvTile4x48", true, 4, ConvTile4x48, func(k int, a, b []float32, off []int, c []float32, ldc int, add bool) {
			ConvTile4x24(k, &a[0], k, &b[base], &off[0], &c[0], ldc, add)
			ConvTile4x24(k, &a[0], k, &b[base+24], &off[0], &c[24], ldc, add)
		}},
		{"ConvTile8x48", true, 8, ConvTile8x48, func(k int, a, b []float32, off []int, c []float32, ldc int, add bool) {
			ConvTile4x48(k, &a[0], k, &b[base], &off[0], &c[0], ldc, add)
			ConvTile4x48(k, &a[4*k], k, &b[base], &off[0], &c[4*ldc], ldc, add)
		}},
	}
	rng := rand.New(rand.NewSource(3))
	for _, tc := range cases {
		if !HasAVX2FMA || tc.avx512 && !HasAVX512 {
			t.Logf("%s: skipped, the CPU lacks its instructions (it is never called)", tc.name)
			continue
		}
		for _, k := range []int{1, 2, 9, 144, 577} {
			for _, add := range []bool{false, true} {
				a := normals(rng, tc.rows*k)
				b := normals(rng, 4000)
				off := make([]int, k)
				for i := range off {
					off[i] = rng.Intn(1900) - 1000
				}
				const ldc = 53
				want := normals(rng, (tc.rows-1)*ldc+48+5) // the sums to continue with add, and outside the tile
				got := append([]float32(nil), want...)
				tc.want(k, a, b, off, want, ldc, add)
				tc.got(k, &a[0], k, &b[base], &off[0], &got[0], ldc, add)
				require.Equal(t, want, got, "%s k %d add %v", tc.name, k, add)
			}
		}
	}
}

func TestDotTile4x3(t *testing.T) {
	if !HasAVX2FMA {
		t.Skip("CPU without AVX2 and FMA: the kernels are never called")
	}
	rng := rand.New(rand.NewSource(2))
	for _, n := range []int{8, 16, 1088, 80} {
		const ldy = 1200
		dy := normals(rng, 4*ldy)
		x := normals(rng, 5000)
		off := [3]int{rng.Intn(3000), rng.Intn(3000), rng.Intn(3000)}
		var acc [96]float32
		DotTile4x3(n, &dy[0], ldy, &x[0], &off, &acc)
		for r := 0; r < 4; r++ {
			for j := 0; j < 3; j++ {
				for l := 0; l < 8; l++ {
					var want, scale float64
					for s := 0; s < n/8; s++ {
						p := float64(dy[r*ldy+8*s+l]) * float64(x[off[j]+8*s+l])
						want += p
						scale += math.Abs(p)
					}
					require.InDelta(t, want, float64(acc[(r*3+j)*8+l]), 1e-6*scale+1e-7, "n %d r %d j %d l %d", n, r, j, l)
				}
			}
		}
	}
}

// normals returns n draws of the standard normal distribution.
func normals(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// TestCopyRows checks the row copies and gathers against their definitions, element by element, with the
// zeros of pad and nothing written outside the rows and those zeros.
func TestCopyRows(t *testing.T) {
	if !HasAVX2FMA {
		t.Skip("CPU without AVX2: the kernels are never called")
	}
	rng := rand.New(rand.NewSource(6))
	for _, tc := range []struct{ rows, w, gap int }{
		{1, 8, 1}, {3, 8, 1}, {5, 9, 1}, {4, 14, 1}, {2, 16, 2}, {7, 32, 1}, {3, 56, 1}, {2, 30, 8}, {3, 12, 0},
	} {
		for _, kind := range []string{"copy", "pad", "bias", "even", "evenpad"} {
			ldd, lds := tc.w+tc.gap, tc.w+3
			step := 1
			if strings.HasPrefix(kind, "even") {
				step, lds = 2, 2*tc.w+3
			}
			src := normals(rng, tc.rows*lds)
			dst := make([]float32, tc.rows*ldd+8)
			for i := range dst {
				dst[i] = 7
			}
			want := append([]float32(nil), dst...)
			for r := 0; r < tc.rows; r++ {
				for j := 0; j < tc.w; j++ {
					v := src[r*lds+step*j]
					if kind == "bias" {
						v += 0.5
					}
					want[r*ldd+j] = v
				}
				if strings.HasSuffix(kind, "pad") {
					for j := tc.w; j < ldd; j++ {
						want[r*ldd+j] = 0
					}
				}
			}
			if strings.HasSuffix(kind, "pad") { // the last row's zeros run 8 values past it
				for j := 0; j < 8; j++ {
					want[(tc.rows-1)*ldd+tc.w+j] = 0
				}
			}
			switch kind {
			case "bias":
				AddRows(&dst[0], ldd, &src[0], lds, tc.rows, tc.w, 0.5)
			case "even", "evenpad":
				GatherEvenRows(&dst[0], ldd, &src[0], lds, tc.rows, tc.w, kind == "evenpad")
			default:
				CopyRows(&dst[0], ldd, &src[0], lds, tc.rows, tc.w, kind == "pad")
			}
			require.Equal(t, want, dst, "%+v %s", tc, kind)
		}
	}
}

// TestScatterHalfRows checks the scatter against its definition element by element: the phase's
// values land in their lanes, every other value is kept, nothing past the rows' 2w values is
// written.
func TestScatterHalfRows(t *testing.T) {
	if !HasAVX2FMA {
		t.Skip("CPU without AVX2: the kernels are never called")
	}
	rng := rand.New(rand.NewSource(7))
	for _, tc := range []struct{ rows, w, ldd int }{
		{1, 8, 16}, {3, 8, 16}, {4, 9, 19}, {2, 16, 32}, {3, 12, 50}, {2, 7 + 8, 30},
	} {
		for _, odd := range []bool{false, true} {
			q := 0
			if odd {
				q = 1
			}
			lds := tc.w + 5
			src := normals(rng, tc.rows*lds)
			dst := normals(rng, (tc.rows-1)*tc.ldd+2*tc.w+9)
			want := append([]float32(nil), dst...)
			for r := 0; r < tc.rows; r++ {
				for j := 0; j < tc.w; j++ {
					want[r*tc.ldd+2*j+q] = src[r*lds+j]
				}
			}
			ScatterHalfRows(&dst[0], tc.ldd, &src[0], lds, tc.rows, tc.w, odd)
			require.Equal(t, want, dst, "%+v odd %v", tc, odd)
		}
	}
}
