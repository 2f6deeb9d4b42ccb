//go:build !amd64 || purego

package ops

// Pure-Go versions of the float32 kernels of kernels_amd64.s: the reference loops.

func rowSums32(x []float32, shift float32) (s1, s2 float32) { return rowSumsGo(x, shift) }

func gradSums32(g, x []float32, m float32) (s1, s2 float32) { return gradSumsGo(g, x, m) }

func maskedGradSums32(y, dy, x []float32, m float32) (s1, s2 float32) {
	return maskedGradSums32Go(y, dy, x, m)
}

func affineRow32(x, y []float32, a, b float32) { affineRowGo(x, y, a, b, false) }

func affineReluRow32(x, y []float32, a, b float32) { affineRowGo(x, y, a, b, true) }

func bnDxRow32(g, x, d []float32, kg, kx, k0 float32) { bnDxRowGo(g, x, d, kg, kx, k0) }

func maskedBnDxRow32(y, dy, x, d []float32, kg, kx, k0 float32) {
	maskedBnDxRow32Go(y, dy, x, d, kg, kx, k0)
}

func relu32(a, y []float32) { reluKernelGo(a, nil, y) }

func add32(a, b, y []float32) { addGo(a, b, y) }

func addRelu32(a, b, y []float32) { reluKernelGo(a, b, y) }

func reluMask32(y, dy, dx []float32) { reluMask32Go(y, dy, dx) }

// implicitConv is false: the implicit-GEMM path (conv_implicit.go) is for the assembly
// micro-kernels; tests force it with the Go definitions.
var implicitConv = false

func convTile4x24(k int, a []float32, lda int, b []float32, bi int, off []int, c []float32, ldc int, add bool) {
	convTileGo(tileCols, k, a, lda, b, bi, off, c, ldc, add)
}

func convTile4x8(k int, a []float32, lda int, b []float32, bi int, off []int, c []float32, ldc int, add bool) {
	convTileGo(narrowCols, k, a, lda, b, bi, off, c, ldc, add)
}

func dotTile4x3(n int, dy []float32, ldy int, x []float32, xi int, off *[tileTaps]int, acc *[tileRows * tileTaps * 8]float32) {
	dotTile4x3Go(n, dy, ldy, x, xi, off, acc)
}

// wideTiles is false: the wide tiles are AVX-512 assembly (tests set it to run the driver's wide
// branches with the Go definitions).
var wideTiles = false

func convTile4x48(k int, a []float32, lda int, b []float32, bi int, off []int, c []float32, ldc int, add bool) {
	convTile4x48Pair(k, a, lda, b, bi, off, c, ldc, add)
}

func convTile8x48(k int, a []float32, lda int, b []float32, bi int, off []int, c []float32, ldc int, add bool) {
	convTile8x48Pair(k, a, lda, b, bi, off, c, ldc, add)
}

func dotTile4x6(n int, dy []float32, ldy int, x []float32, xi int, off *[2 * tileTaps]int, acc *[tileRows * 2 * tileTaps * 8]float32) {
	dotTile4x6Pair(n, dy, ldy, x, xi, off, acc)
}

func padRows(dst []float32, ldd int, src []float32, lds, rows, w int) {
	padRowsGo(dst, ldd, src, lds, rows, w)
}

func copyRows(dst []float32, ldd int, src []float32, lds, rows, w int) {
	copyRowsGo(dst, ldd, src, lds, rows, w)
}

func addRows(dst []float32, ldd int, src []float32, lds, rows, w int, bias float32) {
	addRowsGo(dst, ldd, src, lds, rows, w, bias)
}

func gatherEvenRows(dst []float32, ldd int, src []float32, lds, rows, w int) {
	gatherEvenRowsGo(dst, ldd, src, lds, rows, w)
}

func scatterHalfRows(dst []float32, ldd int, src []float32, lds, rows, w, q int) {
	scatterHalfRowsGo(dst, ldd, src, lds, rows, w, q)
}

func dotSums8x6(n int, dy []float32, ldy int, x []float32, xi int, off *[2 * tileTaps]int, sums *[2 * tileRows * 2 * tileTaps]float32) {
	dotSums8x6Go(n, dy, ldy, x, xi, off, sums)
}
