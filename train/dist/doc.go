// Package dist is the communication a data-parallel training run needs between its processes
// (ranks): who am I, how many are we, sum or average a gradient buffer over all of us, and stop
// everybody.
//
// Comm has two implementations: Single, the one process of an ordinary run, and MPI, the
// processes started by `mpirun -np N` (Open MPI through cgo, build tag mpi; Debian
// libopenmpi-dev). A build without the tag, and any build with CGO_ENABLED=0, still compiles:
// MPI then returns ErrNoMPI instead.
//
// The methods take float32 and float64 slices rather than a type parameter, so that the package
// can be used from Go notebooks, whose interpreters cannot load generic APIs.
package dist
