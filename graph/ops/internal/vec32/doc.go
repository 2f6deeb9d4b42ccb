// Package vec32 holds the assembly float32 kernels of package ops, for amd64 without the purego
// build tag: SSE kernels (batch-norm row sums and affine maps, ReLU and its gradient mask) and the
// AVX2/FMA micro-kernels of the implicit-GEMM convolutions (ConvTile4x24, DotTile4x3; call them
// only when HasAVX2FMA) and their AVX-512 variants of twice the width and the same bits
// (ConvTile4x48, DotTile4x6; only when HasAVX512). They live in their own package because ops uses cgo in its openblas
// build, and a cgo package cannot hold Go assembly. The reference semantics are the Go loops in
// package ops, which are also the fallback.
package vec32
