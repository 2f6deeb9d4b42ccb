//go:build !(mpi && cgo)

package dist_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resnet-go/resnet/train/dist"
)

// Without MPI, asking for it is an error that says how to get it, never a panic.
func TestNoMPI(t *testing.T) {
	assert.False(t, dist.WithMPI)
	for _, get := range []func() (dist.Comm, error){dist.MPI, func() (dist.Comm, error) { return dist.Open("mpi") }} {
		c, err := get()
		require.ErrorIs(t, err, dist.ErrNoMPI)
		assert.Nil(t, c)
		assert.Contains(t, err.Error(), "built without MPI: build with -tags mpi")
	}
}
