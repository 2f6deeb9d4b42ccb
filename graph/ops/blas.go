package ops

import (
	"math"
	"unsafe"

	"gonum.org/v1/gonum/blas"
)

// blasImpl is what the operators need from a BLAS: single and double precision routines.
type blasImpl interface {
	blas.Float32
	blas.Float64
}

// impl (the BLAS in use) and implName are defined by exactly one of blas_gonum.go (default) and
// blas_openblas.go (build tag openblas). They are never changed at run time.

// BLAS returns the name of the BLAS implementation the operators use for their matrix products:
// "gonum" (gonum.org/v1/gonum/blas/gonum, pure Go; the default) or "openblas" (OpenBLAS through
// gonum.org/v1/netlib and cgo, selected with the build tag openblas, run with one OpenBLAS thread
// because the operators already split their work across Workers() goroutines).
func BLAS() string { return implName }

// BLASCore returns the kernel family the BLAS uses: OpenBLAS's core name (for example "SkylakeX"
// or "Haswell") in the openblas build, "" for gonum. A DYNAMIC_ARCH OpenBLAS that does not
// recognise the CPU falls back to its slow generic "Prescott" kernels; the openblas build then
// selects the AVX-512 ("SkylakeX") or AVX2 ("Haswell") kernels itself at start-up, unless the
// environment variable OPENBLAS_CORETYPE is set, which is always respected.
func BLASCore() string { return blasCore() }

func isF32[T float]() bool {
	var z T
	return unsafe.Sizeof(z) == 4
}

// f32s and f64s reinterpret a []T as the concrete slice type without copying; they must only be
// called when T is known to be float32 (resp. float64).
func f32s[T float](s []T) []float32 {
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

func f64s[T float](s []T) []float64 {
	return unsafe.Slice((*float64)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

func trans(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

// gemm computes c = alpha*op(a)*op(b) + beta*c for row-major matrices, op(a) m x k, op(b) k x n.
func gemm[T float](tA, tB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if implName == "gonum" && (m > 3*gonumBlock || n > 3*gonumBlock || ceilDiv(m, gonumBlock)*ceilDiv(n, gonumBlock) >= 4) {
		// gonum runs products of 4 or more 64x64 blocks of c on GOMAXPROCS goroutines of its
		// own; the operators already split their work across Workers() goroutines, so tile c
		// into pieces of at most 3 blocks, which gonum runs serially.
		tm, tn := gonumBlock, 3*gonumBlock
		if m > n {
			tm, tn = tn, tm
		}
		for i0 := 0; i0 < m; i0 += tm {
			i1 := min(m, i0+tm)
			var as []T
			if tA {
				as = a[i0:]
			} else {
				as = a[i0*lda:]
			}
			for j0 := 0; j0 < n; j0 += tn {
				j1 := min(n, j0+tn)
				gemm1(tA, tB, i1-i0, j1-j0, k, alpha, as, lda, fromCol(b, j0, ldb, tB), ldb, beta, c[i0*ldc+j0:], ldc)
			}
		}
		return
	}
	if smallKernels && !tA && float64(m)*float64(n)*float64(k) > smallMNK && (m <= 16 || (m <= 32 && !tB)) {
		// OpenBLAS's AVX-512 kernels multiply products with m·n·k <= 1e6 by "small matrix"
		// kernels that skip packing. For products with few rows of c, splitting the columns to
		// get there was measured faster: 16x1024x144 and 32x256x288 (NN) by 26-29%,
		// 16x144x1024 (NT) by 55%; it was not for wider c or NT products with 32 rows.
		pieces := int(math.Ceil(float64(m) * float64(n) * float64(k) / smallMNK))
		tn := (ceilDiv(n, pieces) + 15) &^ 15
		for j0 := 0; j0 < n; j0 += tn {
			j1 := min(n, j0+tn)
			gemm1(tA, tB, m, j1-j0, k, alpha, a, lda, fromCol(b, j0, ldb, tB), ldb, beta, c[j0:], ldc)
		}
		return
	}
	gemm1(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// fromCol returns op(b) starting at its column j0 (a row of b when b is transposed).
func fromCol[T float](b []T, j0, ldb int, tB bool) []T {
	if tB {
		return b[j0*ldb:]
	}
	return b[j0:]
}

// smallMNK is the size up to which OpenBLAS (0.3.21, SkylakeX kernels) uses its small-matrix
// GEMM kernels.
const smallMNK = 1e6

// gonumBlock is the block size of gonum's GEMM.
const gonumBlock = 64

func gemm1[T float](tA, tB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if isF32[T]() {
		impl.Sgemm(trans(tA), trans(tB), m, n, k, float32(alpha), f32s(a), lda, f32s(b), ldb, float32(beta), f32s(c), ldc)
	} else {
		impl.Dgemm(trans(tA), trans(tB), m, n, k, float64(alpha), f64s(a), lda, f64s(b), ldb, float64(beta), f64s(c), ldc)
	}
}
