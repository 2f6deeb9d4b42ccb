//go:build !purego

package ops

import "github.com/resnet-go/resnet/graph/ops/internal/vec32"

// The float32 kernels run the SSE assembly of package vec32 (SSE2 is baseline amd64: no CPU
// detection needed). The generic kernels of bn.go and relu.go reslice every slice to the length
// of the first before calling them, so that a short slice panics in Go. The Go loops remain the
// reference (kernels_test.go) and the fallback (kernels_generic.go).

func rowSums32(x []float32, shift float32) (s1, s2 float32) { return vec32.RowSums(x, shift) }

func gradSums32(g, x []float32, m float32) (s1, s2 float32) { return vec32.GradSums(g, x, m) }

func maskedGradSums32(y, dy, x []float32, m float32) (s1, s2 float32) {
	return vec32.MaskedGradSums(y, dy, x, m)
}

func affineRow32(x, y []float32, a, b float32) { vec32.AffineRow(x, y, a, b) }

func affineReluRow32(x, y []float32, a, b float32) { vec32.AffineReLURow(x, y, a, b) }

func bnDxRow32(g, x, d []float32, kg, kx, k0 float32) { vec32.BNDxRow(g, x, d, kg, kx, k0) }

func maskedBnDxRow32(y, dy, x, d []float32, kg, kx, k0 float32) {
	vec32.MaskedBNDxRow(y, dy, x, d, kg, kx, k0)
}

func relu32(a, y []float32) { vec32.ReLU(a, y) }

func add32(a, b, y []float32) { vec32.Add(a, b, y) }

func addRelu32(a, b, y []float32) { vec32.AddReLU(a, b, y) }

func reluMask32(y, dy, dx []float32) { vec32.ReLUMask(y, dy, dx) }

// implicitConv is whether the float32 convolutions of its geometries take the implicit-GEMM path
// (conv_implicit.go): its micro-kernels need AVX2 and FMA.
var implicitConv = vec32.HasAVX2FMA

func convTile4x24(k int, a []float32, lda int, b []float32, bi int, off []int, c []float32, ldc int, add bool) {
	if implicitGo || !vec32.HasAVX2FMA { // tests only
		convTileGo(tileCols, k, a, lda, b, bi, off, c, ldc, add)
		return
	}
	vec32.ConvTile4x24(k, &a[0], lda, &b[bi], &off[0], &c[0], ldc, add)
}

func convTile4x8(k int, a []float32, lda int, b []float32, bi int, off []int, c []float32, ldc int, add bool) {
	if implicitGo || !vec32.HasAVX2FMA {
		convTileGo(narrowCols, k, a, lda, b, bi, off, c, ldc, add)
		return
	}
	vec32.ConvTile4x8(k, &a[0], lda, &b[bi], &off[0], &c[0], ldc, add)
}

func dotTile4x3(n int, dy []float32, ldy int, x []float32, xi int, off *[tileTaps]int, acc *[tileRows * tileTaps * 8]float32) {
	if implicitGo || !vec32.HasAVX2FMA {
		dotTile4x3Go(n, dy, ldy, x, xi, off, acc)
		return
	}
	vec32.DotTile4x3(n, &dy[0], ldy, &x[xi], off, acc)
}

// wideTiles is whether the implicit path calls the AVX-512 tiles, each the work of two AVX2
// tiles with the same bits (tests switch it to compare the two).
var wideTiles = vec32.HasAVX512

func convTile4x48(k int, a []float32, lda int, b []float32, bi int, off []int, c []float32, ldc int, add bool) {
	if implicitGo || !vec32.HasAVX512 {
		convTile4x48Pair(k, a, lda, b, bi, off, c, ldc, add)
		return
	}
	vec32.ConvTile4x48(k, &a[0], lda, &b[bi], &off[0], &c[0], ldc, add)
}

func convTile8x48(k int, a []float32, lda int, b []float32, bi int, off []int, c []float32, ldc int, add bool) {
	if implicitGo || !vec32.HasAVX512 {
		convTile8x48Pair(k, a, lda, b, bi, off, c, ldc, add)
		return
	}
	_, _ = a[7*lda+k-1], c[7*ldc+2*tileCols-1]
	vec32.ConvTile8x48(k, &a[0], lda, &b[bi], &off[0], &c[0], ldc, add)
}

func dotTile4x6(n int, dy []float32, ldy int, x []float32, xi int, off *[2 * tileTaps]int, acc *[tileRows * 2 * tileTaps * 8]float32) {
	if implicitGo || !vec32.HasAVX512 {
		dotTile4x6Pair(n, dy, ldy, x, xi, off, acc)
		return
	}
	vec32.DotTile4x6(n, &dy[0], ldy, &x[xi], off, acc)
}

// The row copies of the padded layouts run vec32's AVX kernels for rows of at least 8 values and
// at most 8 zeros of padding; slices are checked here, the kernels read and write lengths they
// are given.

// padRows is padRowsGo. It may also write zeros to the 8-(ldd-w) values after the last row's
// padding, where dst has room for them: the padded layouts clear or write those afterwards.
func padRows(dst []float32, ldd int, src []float32, lds, rows, w int) {
	if !vec32.HasAVX2FMA || w < 8 || ldd-w > 8 || rows < 1 {
		padRowsGo(dst, ldd, src, lds, rows, w)
		return
	}
	_, _ = dst[rows*ldd-1], src[(rows-1)*lds+w-1]
	last := fitRows(rows, dst, ldd, w+8, src, lds, w) // a row's zeros spill into the next row
	if last > 0 {
		vec32.CopyRows(&dst[0], ldd, &src[0], lds, last, w, true)
	}
	if last < rows {
		padRowsGo(dst[last*ldd:], ldd, src[last*lds:], lds, 1, w)
	}
}

// gatherEvenRows is gatherEvenRowsGo, with padRows' zeros past the last row. A row of the kernel
// reads 2w values of src, one past the last it copies: a last row without them goes through Go.
func gatherEvenRows(dst []float32, ldd int, src []float32, lds, rows, w int) {
	if !vec32.HasAVX2FMA || w < 8 || ldd-w > 8 || rows < 1 {
		gatherEvenRowsGo(dst, ldd, src, lds, rows, w)
		return
	}
	_, _ = dst[rows*ldd-1], src[(rows-1)*lds+2*(w-1)]
	last := fitRows(rows, dst, ldd, w+8, src, lds, 2*w)
	if last > 0 {
		vec32.GatherEvenRows(&dst[0], ldd, &src[0], lds, last, w, true)
	}
	if last < rows {
		gatherEvenRowsGo(dst[last*ldd:], ldd, src[last*lds:], lds, 1, w)
	}
}

// scatterHalfRows is scatterHalfRowsGo. The kernel reads and writes back each row's 2w values
// from dst[r·ldd]: a last row whose 2w values run past dst (into memory another worker may
// write) goes through Go.
func scatterHalfRows(dst []float32, ldd int, src []float32, lds, rows, w, q int) {
	if !vec32.HasAVX2FMA || w < 8 || ldd < 2*w || rows < 1 || q < 0 || q > 1 {
		scatterHalfRowsGo(dst, ldd, src, lds, rows, w, q)
		return
	}
	_, _ = dst[(rows-1)*ldd+2*(w-1)+q], src[(rows-1)*lds+w-1]
	last := fitRows(rows, dst, ldd, 2*w, src, lds, w)
	if last > 0 {
		vec32.ScatterHalfRows(&dst[0], ldd, &src[0], lds, last, w, q == 1)
	}
	if last < rows {
		scatterHalfRowsGo(dst[last*ldd:], ldd, src[last*lds:], lds, 1, w, q)
	}
}

// fitRows is how many of rows a row kernel may take whose row r reaches dstReach values of dst
// from r·ldd and srcReach of src from r·lds: all of them, or all but the last when its reach runs
// past either slice (that row goes through Go).
func fitRows(rows int, dst []float32, ldd, dstReach int, src []float32, lds, srcReach int) int {
	last := rows - 1
	if len(dst) >= last*ldd+dstReach && len(src) >= last*lds+srcReach {
		return rows
	}
	return last
}

func copyRows(dst []float32, ldd int, src []float32, lds, rows, w int) {
	if !vec32.HasAVX2FMA || w < 8 || rows < 1 {
		copyRowsGo(dst, ldd, src, lds, rows, w)
		return
	}
	_, _ = dst[(rows-1)*ldd+w-1], src[(rows-1)*lds+w-1]
	vec32.CopyRows(&dst[0], ldd, &src[0], lds, rows, w, false)
}

func addRows(dst []float32, ldd int, src []float32, lds, rows, w int, bias float32) {
	if !vec32.HasAVX2FMA || w < 8 || rows < 1 {
		addRowsGo(dst, ldd, src, lds, rows, w, bias)
		return
	}
	_, _ = dst[(rows-1)*ldd+w-1], src[(rows-1)*lds+w-1]
	vec32.AddRows(&dst[0], ldd, &src[0], lds, rows, w, bias)
}

func dotSums8x6(n int, dy []float32, ldy int, x []float32, xi int, off *[2 * tileTaps]int, sums *[2 * tileRows * 2 * tileTaps]float32) {
	if implicitGo || !vec32.HasAVX512 {
		dotSums8x6Go(n, dy, ldy, x, xi, off, sums)
		return
	}
	_ = dy[7*ldy+n-1]
	vec32.DotSums8x6(n, &dy[0], ldy, &x[xi], off, sums)
}
