package ops

import (
	"fmt"
	"math/rand"
	"testing"
)

// TestGemm checks gemm (including the tiling applied for gonum) against a naive product for
// every transpose combination, with sizes spanning several 64x64 blocks and padded leading
// dimensions.
func TestGemm(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, sz := range []struct{ m, n, k int }{{3, 5, 7}, {144, 256, 32}, {300, 70, 9}, {16, 1024, 144}, {200, 200, 65}} {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				t.Run(fmt.Sprintf("%dx%dx%d/%t%t", sz.m, sz.n, sz.k, tA, tB), func(t *testing.T) {
					m, n, k := sz.m, sz.n, sz.k
					ra, ca := m, k
					if tA {
						ra, ca = k, m
					}
					rb, cb := k, n
					if tB {
						rb, cb = n, k
					}
					lda, ldb, ldc := ca+3, cb+1, n+2
					a, b := make([]float64, (ra-1)*lda+ca), make([]float64, (rb-1)*ldb+cb)
					c := make([]float64, (m-1)*ldc+n)
					for _, s := range [][]float64{a, b, c} {
						for i := range s {
							s[i] = rng.Float64() - 0.5
						}
					}
					at := func(i, l int) float64 {
						if tA {
							return a[l*lda+i]
						}
						return a[i*lda+l]
					}
					bt := func(l, j int) float64 {
						if tB {
							return b[j*ldb+l]
						}
						return b[l*ldb+j]
					}
					want := append([]float64(nil), c...)
					for i := 0; i < m; i++ {
						for j := 0; j < n; j++ {
							s := 0.0
							for l := 0; l < k; l++ {
								s += at(i, l) * bt(l, j)
							}
							want[i*ldc+j] = 0.5*s + 2*want[i*ldc+j]
						}
					}
					gemm(tA, tB, m, n, k, 0.5, a, lda, b, ldb, 2, c, ldc)
					for i := 0; i < m; i++ {
						for j := 0; j < n; j++ {
							if d := c[i*ldc+j] - want[i*ldc+j]; d > 1e-12 || d < -1e-12 {
								t.Fatalf("c[%d,%d] = %v, want %v", i, j, c[i*ldc+j], want[i*ldc+j])
							}
						}
					}
				})
			}
		}
	}
}
