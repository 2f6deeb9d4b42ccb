// Package vec32 holds the assembly float32 kernels of package ops, for amd64 without the purego
// build tag:
//
//   - SSE kernels: batch-norm row sums and affine maps, ReLU and its gradient mask, addition.
//   - AVX2/FMA micro-kernels of the implicit-GEMM convolutions (ConvTile4x24, ConvTile4x8,
//     DotTile4x3) and the row copies into and out of their padded layouts (CopyRows, AddRows,
//     GatherEvenRows, ScatterHalfRows); call them only when HasAVX2FMA.
//   - AVX-512 variants of the micro-kernels, wider or over more output channels, with the same
//     sums in the same order, so the same bits (ConvTile4x48, ConvTile8x48, DotTile4x6,
//     DotSums8x6); call them only when HasAVX512.
//
// They live in their own package because ops uses cgo in its openblas build, and a cgo package
// cannot hold Go assembly. The reference semantics are the Go loops in package ops, which are
// also the fallback.
package vec32
