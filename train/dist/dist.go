package dist

import (
	"errors"
	"fmt"
	"os"
)

// Op is the reduction of an all-reduce.
type Op int

const (
	Sum  Op = iota // element-wise sum over the ranks
	Mean           // Sum divided by Size (x / size, in the slice's precision)
	Max            // element-wise maximum over the ranks
)

func (op Op) String() string {
	switch op {
	case Sum:
		return "sum"
	case Mean:
		return "mean"
	case Max:
		return "max"
	}
	return fmt.Sprintf("Op(%d)", int(op))
}

// Comm is a group of Size processes, numbered 0 … Size−1, that train one net together.
//
// Every collective call (the all-reduces) must be made by every rank, in the same order, with
// slices of the same length; a rank that stops calling them leaves the others waiting, which is
// what Abort is for. A Comm is used from one goroutine at a time.
type Comm interface {
	Rank() int // this process's number, 0 … Size−1
	Size() int // the number of processes
	// AllReduceFloat32 replaces x, on every rank, by the reduction of the ranks' x.
	AllReduceFloat32(x []float32, op Op) error
	// AllReduceFloat64 is AllReduceFloat32 for float64.
	AllReduceFloat64(x []float64, op Op) error
	// Abort ends every process of the group with the exit code, at once; it does not return.
	// It is for a failure on one rank that the others cannot learn of through a collective.
	Abort(code int)
	// Close leaves the group (MPI_Finalize); collective calls are errors afterwards.
	Close() error
}

// ErrNoMPI is MPI's error in a build without MPI.
var ErrNoMPI = errors.New("dist: built without MPI: build with -tags mpi (cgo and Open MPI's libopenmpi-dev)")

// Backends are the names Open accepts.
const Backends = "none, mpi"

// Open returns the Comm a name selects: "" or "none" for Single, "mpi" for MPI.
func Open(name string) (Comm, error) {
	switch name {
	case "", "none":
		return Single{}, nil
	case "mpi":
		return MPI()
	}
	return nil, fmt.Errorf("dist: unknown backend %q (want %s)", name, Backends)
}

// Single is the group of one: rank 0 of 1. Its reductions leave x as it is (the sum, mean and
// maximum of one value are that value) and Abort exits the process.
type Single struct{}

func (Single) Rank() int                                 { return 0 }
func (Single) Size() int                                 { return 1 }
func (Single) AllReduceFloat32(x []float32, op Op) error { return checkOp(op) }
func (Single) AllReduceFloat64(x []float64, op Op) error { return checkOp(op) }
func (Single) Abort(code int)                            { os.Exit(code) }
func (Single) Close() error                              { return nil }

func checkOp(op Op) error {
	if op < Sum || op > Max {
		return fmt.Errorf("dist: unknown reduction %v", op)
	}
	return nil
}
