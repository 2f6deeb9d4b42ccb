//go:build mpi && cgo

package dist_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resnet-go/resnet/train/dist"
)

// rankEnv makes the test binary one rank of TestMPIAllReduce's job instead of its launcher.
const rankEnv = "DIST_TEST_MPI_RANK"

// MPIRun runs the test binary's test called name as np ranks under mpirun, on this machine,
// and returns the combined output.
func mpiRun(t *testing.T, np int, name string) (string, error) {
	t.Helper()
	mpirun, err := exec.LookPath("mpirun")
	if err != nil {
		t.Fatalf("mpirun not found (Debian: openmpi-bin): %v", err)
	}
	self, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(mpirun, "-np", fmt.Sprint(np), "--oversubscribe", "--allow-run-as-root",
		"-x", rankEnv+"=1", self, "-test.run", "^"+name+"$", "-test.v")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Three ranks (so that the mean divides by a number that is not a power of two), each
// reducing values made from its rank.
func TestMPIAllReduce(t *testing.T) {
	if os.Getenv(rankEnv) == "" {
		out, err := mpiRun(t, 3, "TestMPIAllReduce")
		require.NoError(t, err, out)
		assert.Equal(t, 3, strings.Count(out, "--- PASS: TestMPIAllReduce"), out)
		return
	}
	c, err := dist.MPI()
	require.NoError(t, err)
	defer func() { assert.NoError(t, c.Close()) }()
	require.Equal(t, 3, c.Size())
	r := float64(c.Rank())
	// Rank r contributes (r+1, −r, r²/3): sums 6, −3, 5/3; maxima 3, 0, 4/3.
	in := []float64{r + 1, -r, r * r / 3}
	for _, tc := range []struct {
		op   dist.Op
		want []float64
	}{
		{dist.Sum, []float64{6, -3, 5.0 / 3}},
		{dist.Mean, []float64{2, -1, 5.0 / 9}},
		{dist.Max, []float64{3, 0, 4.0 / 3}},
	} {
		x64 := append([]float64(nil), in...)
		require.NoError(t, c.AllReduceFloat64(x64, tc.op))
		assert.InDeltaSlice(t, tc.want, x64, 1e-15, "float64 %v", tc.op)
		x32 := make([]float32, len(in))
		for i, v := range in {
			x32[i] = float32(v)
		}
		require.NoError(t, c.AllReduceFloat32(x32, tc.op))
		for i, w := range tc.want {
			assert.InDelta(t, w, float64(x32[i]), 1e-6, "float32 %v [%d]", tc.op, i)
		}
	}
	// A second MPI() is the same group; nothing to reduce is no call at all.
	again, err := dist.MPI()
	require.NoError(t, err)
	assert.Equal(t, c.Rank(), again.Rank())
	assert.NoError(t, c.AllReduceFloat32(nil, dist.Sum))
}
