//go:build !purego

package vec32

// The convolution micro-kernels below use AVX2 and FMA; call them only when HasAVX2FMA is true.
// Their sums use fused multiply-adds, one accumulator per output element (per lane for
// DotTile4x3), in a fixed order: results are reproducible, and differ from a product through
// BLAS only in rounding.

// HasAVX2FMA reports whether the CPU and the operating system support AVX2 and FMA3.
var HasAVX2FMA = hasAVX2FMA()

func hasAVX2FMA() bool

// ConvTile4x24 sets, for r < 4 and j < 24,
//
//	c[r·ldc + j] = Σ_{i<k} a[r·lda + i] · b[off[i] + j]
//
// (with add, c[r·ldc + j] plus that sum, continuing it: splitting k changes no bit) in the order
// of i: a tile of 4 output channels (4 rows of the filter matrix a) by 24 positions of an
// implicit matrix product whose i-th row of the second factor starts off[i] elements from b
// (offsets may be negative). k must be at least 1.
//
//go:noescape
func ConvTile4x24(k int, a *float32, lda int, b *float32, off *int, c *float32, ldc int, add bool)

// ConvTile4x8 is ConvTile4x24 over 8 positions (the last few of a grid): c[r·ldc + j] for
// r < 4, j < 8, each sum in the same order as ConvTile4x24's (bit for bit).
//
//go:noescape
func ConvTile4x8(k int, a *float32, lda int, b *float32, off *int, c *float32, ldc int, add bool)

// DotTile4x3 sets, for r < 4, j < 3 and lanes l < 8,
//
//	acc[(r·3 + j)·8 + l] = Σ_{s < n/8} dy[r·ldy + 8·s + l] · x[off[j] + 8·s + l]
//
// in the order of s: twelve dot products of length n (a positive multiple of 8), each split
// over 8 lanes whose sum the caller takes.
//
//go:noescape
func DotTile4x3(n int, dy *float32, ldy int, x *float32, off *[3]int, acc *[96]float32)

// The AVX-512 variants below compute wider tiles with the same sums in the same order, so their
// results are bit for bit those of the AVX2 kernels: call them only when HasAVX512 is true.

// HasAVX512 reports whether the CPU and the operating system support AVX-512 (AVX512F).
var HasAVX512 = hasAVX512()

func hasAVX512() bool

// ConvTile4x48 is ConvTile4x24 over 48 positions: c[r·ldc + j] for r < 4, j < 48, each sum in
// the same order as ConvTile4x24's (two of its tiles side by side, bit for bit).
//
//go:noescape
func ConvTile4x48(k int, a *float32, lda int, b *float32, off *int, c *float32, ldc int, add bool)

// ConvTile8x48 is ConvTile4x48 over 8 rows (output channels): c[r·ldc + j] for r < 8, j < 48,
// each sum in the same order as ConvTile4x24's (bit for bit). Every position's 48 values of the
// second factor serve 8 rows, where ConvTile4x48 loads them for 4.
//
//go:noescape
func ConvTile8x48(k int, a *float32, lda int, b *float32, off *int, c *float32, ldc int, add bool)

// DotTile4x6 is DotTile4x3 over six offsets: for r < 4, j < 6 and lanes l < 8,
//
//	acc[(r·6 + j)·8 + l] = Σ_{s < n/8} dy[r·ldy + 8·s + l] · x[off[j] + 8·s + l]
//
// each lane's sum in the same order as DotTile4x3's (bit for bit).
//
//go:noescape
func DotTile4x6(n int, dy *float32, ldy int, x *float32, off *[6]int, acc *[192]float32)

// CopyRows copies rows rows of w values (w ≥ 8), for r < rows
//
//	dst[r·ldd + j] = src[r·lds + j], j < w
//
// and with pad writes 8 zeros after each row, dst[r·ldd + w + j] = 0 for j < 8, before the next
// row is copied (a row may overwrite the zeros of the one before): the padded layouts of the
// implicit convolutions, whose rows are a few zeros apart. The rows must not overlap src.
//
//go:noescape
func CopyRows(dst *float32, ldd int, src *float32, lds int, rows, w int, pad bool)

// AddRows is CopyRows without pad, adding bias: dst[r·ldd + j] = src[r·lds + j] + bias.
//
//go:noescape
func AddRows(dst *float32, ldd int, src *float32, lds int, rows, w int, bias float32)

// GatherEvenRows is CopyRows of every other value: for r < rows and j < w (w ≥ 8),
//
//	dst[r·ldd + j] = src[r·lds + 2j]
//
// (the phase planes of a stride-2 convolution), with pad's 8 zeros after each row. A row reads
// src[r·lds .. r·lds + 2w), one value past the last it copies.
//
//go:noescape
func GatherEvenRows(dst *float32, ldd int, src *float32, lds int, rows, w int, pad bool)

// ScatterHalfRows is the adjoint of GatherEvenRows, one phase at a time: for r < rows and j < w
// (w ≥ 8), with q = 1 when odd,
//
//	dst[r·ldd + 2j + q] = src[r·lds + j]
//
// leaving the other values of dst[r·ldd .. r·ldd + 2w) as they are (it reads them and writes them
// back: no other goroutine may write there meanwhile).
//
//go:noescape
func ScatterHalfRows(dst *float32, ldd int, src *float32, lds int, rows, w int, odd bool)

// DotSums8x6 is DotTile4x6 over 8 rows of dy with each sum finished: for r < 8, j < 6,
//
//	sums[r·6 + j] = ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))
//
// where l are the 8 lanes of (r, j) as DotTile4x3 sums them (bit for bit). Every x value loaded
// serves 8 rows, where DotTile4x6 loads it for 4, and the lanes are summed in registers.
//
//go:noescape
func DotSums8x6(n int, dy *float32, ldy int, x *float32, off *[6]int, sums *[48]float32)
