package ops

import (
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
	if isF32[T]() {
		impl.Sgemm(trans(tA), trans(tB), m, n, k, float32(alpha), f32s(a), lda, f32s(b), ldb, float32(beta), f32s(c), ldc)
	} else {
		impl.Dgemm(trans(tA), trans(tB), m, n, k, float64(alpha), f64s(a), lda, f64s(b), ldb, float64(beta), f64s(c), ldc)
	}
}
