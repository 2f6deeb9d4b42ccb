// Package ops provides the CPU operators a ResNet needs for Gorgonia (gorgonia.org/gorgonia
// v0.9.18): 2-D convolution (optionally with a bias per output channel), batch normalisation
// (optionally fused with ReLU), ReLU, the fused residual join relu(a+b), the pre-activation
// join a+b, max pooling, global average pooling, the parameter-free "option A" shortcut and
// softmax cross-entropy. They re-use their buffers from run to run.
//
// Every operator works on float32 and float64 tensors in NCHW layout and implements G.Op,
// G.UsePreallocDoer and G.SDOp (DiffWRT + SymDiff), so graphs built with these functions are
// differentiated by G.Grad and executed by G.NewTapeMachine like graphs of Gorgonia's own ops.
// The gradients are themselves operators of this package; they have no second derivative.
//
// # Buffers
//
// Each operator instance allocates its output tensor on its first run and returns the same tensor
// on every later run (the TapeMachine clears its registers on Reset, so Do is called each step;
// re-using the output avoids re-allocating every activation every training step). When the
// machine offers a pre-allocated value (UsePreallocDo), it is used only if it is a contiguous dense
// tensor of exactly the output's shape and dtype that does not overlap an input (the elementwise ReLU ops
// also accept an input's own memory and work in place); otherwise UsePreallocDo returns an error
// and the machine falls back to Do. A consequence of the re-use
// is that a value read from a node after a run is overwritten by the next run: copy it (G.Read or
// tensor.Clone) when it must outlive the run.
//
// # Convolutions
//
// On amd64 CPUs with AVX2 and FMA (not in the purego build), the float32 convolutions whose kernel
// is odd with half its size as padding (3x3 pad 1, 1x1, the 7x7 pad 3 stem), at any stride, run
// as implicit matrix products: a group of images is copied once into a padded layout (split into
// its stride x stride phase planes) where every kernel tap reads a contiguous run, and assembly
// micro-kernels multiply from there (conv_implicit.go). This covers the forward pass, the filter
// gradient and the input gradient (at stride s, phase by phase: conv_strided.go). Its sums are
// the same terms as im2col and BLAS in another order, each product fused with its addition
// (FMA): results differ by rounding only, and a run stays reproducible bit for bit for a given
// worker count. Where the CPU has AVX-512, wider micro-kernels do two or four tiles' work per
// call (48 positions, 8 output channels) with the same sums in the same order, so the bits do not
// depend on it. Other convolutions, float64,
// and CPUs without AVX2 use im2col (a column matrix) and BLAS. The work buffers of both (the
// padded copies, the column matrices) are lent by an arena shared by all ops for one run, so a
// graph holds a few of them, not one set per op.
//
// # Parallelism and BLAS
//
// Work is split across Workers() goroutines (see SetWorkers); an operator is never run
// concurrently with itself. Gorgonia sums the gradients of a node that feeds several ops (a
// residual block's input) on the machine's engine, one element at a time on one core with its
// own: run graphs on G.NewTapeMachine(g, G.WithEngine(Engine)) to have those sums split too. Matrix products go through gonum's BLAS interfaces: the pure-Go
// gonum implementation by default, OpenBLAS (through gonum.org/v1/netlib, cgo, -lopenblas, one
// OpenBLAS thread) when built with the build tag "openblas" (libopenblas-dev must be installed).
// BLAS reports which one is in use and BLASCore which OpenBLAS kernels: OpenBLAS 0.3.21 does not
// recognise recent CPUs (e.g. Intel Emerald Rapids) and falls back to SSE3 kernels 3-4x slower;
// the openblas build then selects its AVX-512 or AVX2 kernels at start-up, unless the
// environment variable OPENBLAS_CORETYPE is set.
//
// # Batch normalisation state
//
// BatchNorm and BatchNormReLU read and update running statistics held by the caller in BNStats,
// with PyTorch's semantics (see BNStats). The batch statistics of the last training forward pass
// are kept in state shared by the forward operator and its gradient operators.
package ops
