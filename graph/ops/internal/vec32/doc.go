// Package vec32 holds the SSE assembly float32 kernels of package ops (batch-norm row sums and
// affine maps, ReLU and its gradient mask), for amd64 without the purego build tag. They live in
// their own package because ops uses cgo in its openblas build, and a cgo package cannot hold Go
// assembly. The reference semantics are the Go loops in package ops, which are also the fallback.
package vec32
