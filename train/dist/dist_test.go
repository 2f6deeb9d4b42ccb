package dist_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resnet-go/resnet/train/dist"
)

func TestOpen(t *testing.T) {
	for _, name := range []string{"", "none"} {
		c, err := dist.Open(name)
		require.NoError(t, err, name)
		assert.Equal(t, dist.Single{}, c)
	}
	_, err := dist.Open("nccl")
	assert.EqualError(t, err, `dist: unknown backend "nccl" (want none, mpi)`)
}

// The group of one leaves every reduction as it is.
func TestSingle(t *testing.T) {
	var c dist.Comm = dist.Single{}
	assert.Equal(t, 0, c.Rank())
	assert.Equal(t, 1, c.Size())
	for _, op := range []dist.Op{dist.Sum, dist.Mean, dist.Max} {
		x32, x64 := []float32{1.5, -2, 3}, []float64{1.5, -2, 3}
		require.NoError(t, c.AllReduceFloat32(x32, op))
		require.NoError(t, c.AllReduceFloat64(x64, op))
		assert.Equal(t, []float32{1.5, -2, 3}, x32, op)
		assert.Equal(t, []float64{1.5, -2, 3}, x64, op)
	}
	assert.ErrorContains(t, c.AllReduceFloat32(nil, dist.Op(7)), "unknown reduction Op(7)")
	assert.NoError(t, c.Close())
}
