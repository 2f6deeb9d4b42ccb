//go:build openblas

package ops

/*
#cgo LDFLAGS: -lopenblas
void openblas_set_num_threads(int);
*/
import "C"

import "gonum.org/v1/netlib/blas/netlib"

// impl is OpenBLAS through gonum's netlib cgo bindings (build tag openblas).
var impl blasImpl = netlib.Implementation{}

const implName = "openblas"

// The operators split work across Workers() goroutines themselves; OpenBLAS threads on top of
// that spin and compete for the same cores, so OpenBLAS is limited to one thread.
func init() { C.openblas_set_num_threads(1) }
