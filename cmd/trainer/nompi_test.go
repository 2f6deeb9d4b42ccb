//go:build !(mpi && cgo)

package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/resnet-go/resnet/cmd/trainer/cli"
)

// A build without MPI refuses -dist mpi with an error that says how to get it, before touching
// the run directory.
func TestTrainDistWithoutMPI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	code, _, stderr := runCLI("train", "-dist", "mpi", "-out", dir, "-model", "resnet8", "-data", "synthetic", "-epochs", "1")
	assert.Equal(t, cli.ExitFailure, code)
	assert.Equal(t, "trainer train: -dist mpi: dist: built without MPI: build with -tags mpi (cgo and Open MPI's libopenmpi-dev)\n", stderr)
	assert.NoDirExists(t, dir)

	code, _, stderr = runCLI("train", "-dist", "gloo", "-out", dir)
	assert.Equal(t, cli.ExitUsage, code)
	assert.Contains(t, stderr, `-dist gloo: want none or mpi`)
	_, err := os.Stat(dir)
	assert.True(t, os.IsNotExist(err))
}
