//go:build mpi && cgo

package dist

/*
#cgo pkg-config: ompi-c
#include <stdlib.h>
#include <mpi.h>

// Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_IN_PLACE, …) are macros over the addresses
// of its globals, which cgo cannot name: these wrappers do.

static int dist_init(int want, int *provided) {
	int done = 0;
	MPI_Initialized(&done);
	if (done) {
		return MPI_Query_thread(provided);
	}
	return MPI_Init_thread(NULL, NULL, want, provided);
}
static int dist_serialized(void) { return MPI_THREAD_SERIALIZED; }
static int dist_rank(int *r) { return MPI_Comm_rank(MPI_COMM_WORLD, r); }
static int dist_size(int *s) { return MPI_Comm_size(MPI_COMM_WORLD, s); }
static MPI_Op dist_op(int max) { return max ? MPI_MAX : MPI_SUM; }
static int dist_allreduce_f32(float *x, int n, int max) {
	return MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_FLOAT, dist_op(max), MPI_COMM_WORLD);
}
static int dist_allreduce_f64(double *x, int n, int max) {
	return MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, dist_op(max), MPI_COMM_WORLD);
}
static void dist_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }
static int dist_finalize(void) { return MPI_Finalize(); }
static void dist_error_string(int code, char *buf) {
	int n = 0;
	MPI_Error_string(code, buf, &n);
	buf[n < MPI_MAX_ERROR_STRING ? n : MPI_MAX_ERROR_STRING - 1] = 0;
}
static int dist_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"unsafe"
)

// WithMPI reports whether this build can use MPI.
const WithMPI = true

// world is the process's one MPI_COMM_WORLD: MPI is initialised once per process and cannot be
// initialised again after MPI_Finalize.
var world struct {
	sync.Mutex
	comm *mpiComm
	err  error
}

// MPI initialises MPI (on the first call) and returns MPI_COMM_WORLD: the processes mpirun
// started, rank and size as mpirun numbered them. A program run without mpirun is a group of one.
func MPI() (Comm, error) {
	world.Lock()
	defer world.Unlock()
	if world.comm == nil && world.err == nil {
		world.comm, world.err = initMPI()
	}
	if world.err != nil {
		return nil, world.err
	}
	if world.comm.closed {
		return nil, errors.New("dist: MPI was finalised (Close): a process can join its group only once")
	}
	return world.comm, nil
}

func initMPI() (*mpiComm, error) {
	// Goroutines move between OS threads, so successive calls may come from different threads
	// (never two at once: a mutex serialises them): MPI_THREAD_SERIALIZED is the level needed.
	var provided C.int
	if rc := C.dist_init(C.dist_serialized(), &provided); rc != 0 {
		return nil, mpiError("MPI_Init_thread", rc)
	}
	if provided < C.dist_serialized() {
		return nil, fmt.Errorf("dist: this MPI provides thread level %d; Go needs MPI_THREAD_SERIALIZED (%d), since goroutines move between OS threads",
			int(provided), int(C.dist_serialized()))
	}
	var rank, size C.int
	if rc := C.dist_rank(&rank); rc != 0 {
		return nil, mpiError("MPI_Comm_rank", rc)
	}
	if rc := C.dist_size(&size); rc != 0 {
		return nil, mpiError("MPI_Comm_size", rc)
	}
	return &mpiComm{rank: int(rank), size: int(size)}, nil
}

// mpiComm is MPI_COMM_WORLD.
type mpiComm struct {
	mu         sync.Mutex // MPI_THREAD_SERIALIZED: one call at a time
	rank, size int
	closed     bool
}

func (c *mpiComm) Rank() int { return c.rank }
func (c *mpiComm) Size() int { return c.size }

func (c *mpiComm) AllReduceFloat32(x []float32, op Op) error {
	if err := checkReduce(len(x), op); err != nil || len(x) == 0 {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errClosed
	}
	if rc := C.dist_allreduce_f32((*C.float)(unsafe.Pointer(&x[0])), C.int(len(x)), maxOp(op)); rc != 0 {
		return mpiError("MPI_Allreduce", rc)
	}
	if op == Mean {
		n := float32(c.size)
		for i := range x {
			x[i] /= n
		}
	}
	return nil
}

func (c *mpiComm) AllReduceFloat64(x []float64, op Op) error {
	if err := checkReduce(len(x), op); err != nil || len(x) == 0 {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errClosed
	}
	if rc := C.dist_allreduce_f64((*C.double)(unsafe.Pointer(&x[0])), C.int(len(x)), maxOp(op)); rc != 0 {
		return mpiError("MPI_Allreduce", rc)
	}
	if op == Mean {
		n := float64(c.size)
		for i := range x {
			x[i] /= n
		}
	}
	return nil
}

var errClosed = errors.New("dist: all-reduce after Close (MPI_Finalize)")

func checkReduce(n int, op Op) error {
	if err := checkOp(op); err != nil {
		return err
	}
	if n > math.MaxInt32 {
		return fmt.Errorf("dist: all-reduce of %d values: MPI counts are C ints (at most %d)", n, math.MaxInt32)
	}
	return nil
}

func maxOp(op Op) C.int {
	if op == Max {
		return 1
	}
	return 0
}

func (c *mpiComm) Abort(code int) {
	C.dist_abort(C.int(code))
	os.Exit(code) // MPI_Abort does not return; should it, the process still ends
}

func (c *mpiComm) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if rc := C.dist_finalize(); rc != 0 {
		return mpiError("MPI_Finalize", rc)
	}
	return nil
}

func mpiError(call string, rc C.int) error {
	buf := (*C.char)(C.malloc(C.size_t(C.dist_max_error_string())))
	defer C.free(unsafe.Pointer(buf))
	C.dist_error_string(rc, buf)
	return fmt.Errorf("dist: %s: %s (MPI error %d)", call, C.GoString(buf), int(rc))
}
