//go:build openblas

package ops

/*
#cgo LDFLAGS: -lopenblas
#include <stdlib.h>
#include <strings.h>

void openblas_set_num_threads(int);
char *openblas_get_corename(void);
// Present only in OpenBLAS builds with DYNAMIC_ARCH (such as Debian's); weak, so that linking
// against another build still works.
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

// ops_openblas_fix_core re-selects the kernels of a DYNAMIC_ARCH OpenBLAS that did not recognise
// the CPU and fell back to its generic "Prescott" (SSE3) kernels, as OpenBLAS 0.3.21 does for
// CPUs newer than it (e.g. Emerald Rapids), which makes SGEMM 3-4x slower. It does nothing when
// OPENBLAS_CORETYPE is set (the user's choice) or when OpenBLAS recognised the CPU.
static void ops_openblas_fix_core(void) {
	if (getenv("OPENBLAS_CORETYPE") != NULL || !gotoblas_dynamic_init || !gotoblas_dynamic_quit) {
		return;
	}
	const char *name = openblas_get_corename();
	if (name == NULL || strcasecmp(name, "prescott") != 0) {
		return;
	}
	const char *want = NULL;
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
	    __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")) {
		want = "SkylakeX";
	} else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
		want = "Haswell";
	}
	if (want == NULL) {
		return;
	}
	setenv("OPENBLAS_CORETYPE", want, 1);
	gotoblas_dynamic_quit();
	gotoblas_dynamic_init();
	unsetenv("OPENBLAS_CORETYPE");
}
*/
import "C"

import (
	"strings"

	"gonum.org/v1/netlib/blas/netlib"
)

// impl is OpenBLAS through gonum's netlib cgo bindings (build tag openblas).
var impl blasImpl = netlib.Implementation{}

const implName = "openblas"

// At start-up: OpenBLAS is limited to one thread (the operators split work across Workers()
// goroutines themselves; OpenBLAS threads on top of that spin and compete for the same cores),
// and, when OpenBLAS did not recognise the CPU and fell back to its generic SSE3 kernels, its
// AVX2 or AVX-512 kernels are selected (unless OPENBLAS_CORETYPE is set).
func init() {
	C.ops_openblas_fix_core()
	C.openblas_set_num_threads(1)
	core := strings.ToLower(blasCore())
	smallKernels = core == "skylakex" || core == "cooperlake" || core == "sapphirerapids"
}

// smallKernels reports whether OpenBLAS uses its AVX-512 kernels, which include small-matrix GEMM
// kernels (see gemm). It is set once, at initialisation.
var smallKernels bool

// blasCore returns OpenBLAS's kernel family (openblas_get_corename).
func blasCore() string { return C.GoString(C.openblas_get_corename()) }
