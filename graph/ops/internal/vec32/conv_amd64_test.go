//go:build !purego

package vec32

import (
	"math"
	"math/rand"
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
