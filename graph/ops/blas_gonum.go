//go:build !openblas

package ops

import "gonum.org/v1/gonum/blas/gonum"

// impl is the pure-Go gonum BLAS (default build).
var impl blasImpl = gonum.Implementation{}

const implName = "gonum"

func blasCore() string { return "" }

// smallKernels: gonum has no small-matrix kernels.
const smallKernels = false
