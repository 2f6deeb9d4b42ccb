//go:build !purego

package vec32

import "testing"

// The micro-kernels on data in the L1 cache: the "MB/s" column is in Mflop/s.

// benchConvTile times a forward tile of the given rows and width on 3x3 taps of 16 channels.
func benchConvTile(b *testing.B, rows, width int, tile func(k int, a *float32, lda int, x *float32, off *int, c *float32, ldc int, add bool)) {
	const k = 144
	a := make([]float32, rows*k)
	x := make([]float32, 16*1200)
	off := make([]int, k)
	for i := range off {
		off[i] = (i/9)*1100 + (i%9/3)*34 + i%3
	}
	c := make([]float32, rows*100)
	b.SetBytes(int64(2 * rows * width * k))
	for i := 0; i < b.N; i++ {
		tile(k, &a[0], k, &x[40], &off[0], &c[0], 100, false)
	}
}

func BenchmarkConvTile4x24(b *testing.B) { benchConvTile(b, 4, 24, ConvTile4x24) }

func BenchmarkDotTile4x3(b *testing.B) {
	const n = 1104
	dy := make([]float32, 4*n)
	x := make([]float32, 3000)
	off := [3]int{0, 1, 34}
	var acc [96]float32
	b.SetBytes(2 * 12 * n)
	for i := 0; i < b.N; i++ {
		DotTile4x3(n, &dy[0], n, &x[0], &off, &acc)
	}
}

func BenchmarkConvTile4x48(b *testing.B) {
	if !HasAVX512 {
		b.Skip("CPU without AVX-512")
	}
	benchConvTile(b, 4, 48, ConvTile4x48)
}

func BenchmarkConvTile8x48(b *testing.B) {
	if !HasAVX512 {
		b.Skip("CPU without AVX-512")
	}
	benchConvTile(b, 8, 48, ConvTile8x48)
}

func BenchmarkDotTile4x6(b *testing.B) {
	benchDotTile(b, 4, func(n int, dy *float32, ldy int, x *float32, off *[6]int) {
		var acc [192]float32
		DotTile4x6(n, dy, ldy, x, off, &acc)
	})
}

func BenchmarkDotSums8x6(b *testing.B) {
	benchDotTile(b, 8, func(n int, dy *float32, ldy int, x *float32, off *[6]int) {
		var sums [48]float32
		DotSums8x6(n, dy, ldy, x, off, &sums)
	})
}

// benchDotTile times a filter-gradient tile of the given rows over six taps of 1104 positions.
func benchDotTile(b *testing.B, rows int, tile func(n int, dy *float32, ldy int, x *float32, off *[6]int)) {
	if !HasAVX512 {
		b.Skip("CPU without AVX-512")
	}
	const n = 1104
	dy := make([]float32, rows*n)
	x := make([]float32, 3000)
	off := [6]int{0, 1, 2, 34, 35, 36}
	b.SetBytes(int64(2 * rows * 6 * n))
	for i := 0; i < b.N; i++ {
		tile(n, &dy[0], n, &x[0], &off)
	}
}
