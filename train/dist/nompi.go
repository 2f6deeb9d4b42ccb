//go:build !(mpi && cgo)

package dist

// MPI returns ErrNoMPI: this build has no MPI (see the package documentation).
func MPI() (Comm, error) { return nil, ErrNoMPI }

// WithMPI reports whether this build can use MPI.
const WithMPI = false
