//go:build !openblas

package ops

// buildBLAS is the BLAS the build tags select.
const buildBLAS = "gonum"
