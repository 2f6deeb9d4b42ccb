//go:build !purego

package vec32

import (
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

// The AVX-512 kernels against the AVX2 ones: the same sums in the same order, so the same bits.

// dotInputs returns the operands of a filter-gradient tile test: rows rows of dY (ldy apart), x
// and six offsets into it.
func dotInputs(rng *rand.Rand, rows int) (dy, x []float32, off [6]int) {
	dy = normals(rng, rows*ldy)
	x = normals(rng, 5000)
	for j := range off {
		off[j] = rng.Intn(3000)
	}
	return dy, x, off
}

const ldy = 1200

func TestDotTile4x6(t *testing.T) {
	if !HasAVX512 {
		t.Skip("CPU without AVX-512: the kernel is never called")
	}
	rng := rand.New(rand.NewSource(4))
	for _, n := range []int{8, 16, 1088, 80} {
		dy, x, off := dotInputs(rng, 4)
		var lo, hi [96]float32
		DotTile4x3(n, &dy[0], ldy, &x[0], (*[3]int)(off[:3]), &lo)
		DotTile4x3(n, &dy[0], ldy, &x[0], (*[3]int)(off[3:]), &hi)
		var got [192]float32
		for i := range got {
			got[i] = 7 // every lane is written
		}
		DotTile4x6(n, &dy[0], ldy, &x[0], &off, &got)
		for r := 0; r < 4; r++ {
			for j := 0; j < 6; j++ {
				half, jj := lo[:], j
				if j >= 3 {
					half, jj = hi[:], j-3
				}
				want := half[(r*3+jj)*8:][:8]
				require.Equal(t, want, got[(r*6+j)*8:][:8], "n %d r %d j %d", n, r, j)
			}
		}
	}
}

func TestDotSums8x6(t *testing.T) {
	if !HasAVX512 {
		t.Skip("CPU without AVX-512: the kernel is never called")
	}
	rng := rand.New(rand.NewSource(10))
	for _, n := range []int{8, 16, 1088, 80} {
		dy, x, off := dotInputs(rng, 8)
		var lanes [384]float32
		DotTile4x6(n, &dy[0], ldy, &x[0], &off, (*[192]float32)(lanes[:192]))
		DotTile4x6(n, &dy[4*ldy], ldy, &x[0], &off, (*[192]float32)(lanes[192:]))
		var want, got [48]float32
		for i := range want {
			l := lanes[8*i : 8*i+8]
			want[i] = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))
			got[i] = 7 // every sum is written
		}
		DotSums8x6(n, &dy[0], ldy, &x[0], &off, &got)
		require.Equal(t, want, got, "n %d", n)
	}
}
