package weights

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// python is Debian's interpreter, which has PyTorch (python3-torch).
const python = "/usr/bin/python3"

// requireTorch fails the test, rather than skipping it, when PyTorch is missing: this test is
// the proof that PyTorch loads what the writer writes, and CI must run it.
func requireTorch(t *testing.T) {
	t.Helper()
	out, err := exec.Command(python, "-c", "import torch").CombinedOutput()
	if err != nil {
		t.Fatalf("this test needs %s with PyTorch (Debian: apt-get install python3-torch, which .ci/run installs): %v\n%s", python, err, out)
	}
}

// moduleFile is a File with the state_dict of torch_reads.py's module (conv1, bn1, fc, in
// PyTorch's order) and extra tensors of every dtype, with special values.
func moduleFile() *File {
	rng := rand.New(rand.NewPCG(1, 2))
	f32 := func(shape ...int) Tensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return Tensor{Shape: shape, Dtype: F32, F32: v}
	}
	named := func(name string, t Tensor) Tensor { t.Name = name; return t }
	return &File{
		Tensors: []Tensor{
			named("conv1.weight", f32(4, 3, 3, 3)),
			named("bn1.weight", f32(4)),
			named("bn1.bias", f32(4)),
			named("bn1.running_mean", f32(4)),
			{Name: "bn1.running_var", Shape: []int{4}, Dtype: F32, F32: []float32{0.5, 1, 2, 1e-5}},
			{Name: "bn1.num_batches_tracked", Shape: []int{}, Dtype: I64, I64: []int64{123456789012}},
			named("fc.weight", f32(3, 4)),
			named("fc.bias", f32(3)),
			{Name: "extra.float64", Shape: []int{2, 3}, Dtype: F64, F64: []float64{math.Pi, math.Copysign(0, -1), math.Inf(1), math.NaN(), 1e-310, -1e300}},
			{Name: "extra.float32", Shape: []int{3}, Dtype: F32, F32: []float32{math.Float32frombits(0x7fc00001), float32(math.Inf(-1)), math.SmallestNonzeroFloat32}},
			{Name: "extra.ids", Shape: []int{2, 1}, Dtype: I64, I64: []int64{math.MinInt64, math.MaxInt64}},
			{Name: "extra.empty", Shape: []int{0, 2}, Dtype: F32, F32: []float32{}},
		},
		Metadata: map[string]string{"format": "pt", "writer": "github.com/resnet-go/resnet/train/weights"},
	}
}

// TestPyTorchReadsSafetensors: a file written by WriteFile is read by a reference parser in
// Python and loaded by PyTorch into a module with strict load_state_dict, giving the same
// values bit for bit; PyTorch then saves it with torch.save (pickle protocols 2 and 4) and
// ReadFile reads those files back to the same tensors.
func TestPyTorchReadsSafetensors(t *testing.T) {
	requireTorch(t)
	dir := t.TempDir()
	want := moduleFile()
	path := filepath.Join(dir, "go.safetensors")
	require.NoError(t, WriteFile(path, want))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, filepath.Join("testdata", "torch_reads.py"), path, dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	require.NoError(t, err, "torch_reads.py")

	var got struct {
		Metadata map[string]string `json:"metadata"`
		Module   []string          `json:"module"`
		Tensors  []struct {
			Name  string  `json:"name"`
			Dtype string  `json:"dtype"`
			Shape []int   `json:"shape"`
			Ints  []int64 `json:"ints"` // elements, floats as their bits
		} `json:"tensors"`
	}
	require.NoError(t, json.Unmarshal(out, &got), "%s", out)
	assert.Equal(t, want.Metadata, got.Metadata)
	assert.Len(t, got.Module, 8, "the module's state_dict")
	require.Len(t, got.Tensors, len(want.Tensors))
	torchDtype := map[Dtype]string{F32: "torch.float32", F64: "torch.float64", I64: "torch.int64"}
	for i, w := range want.Tensors {
		g := got.Tensors[i]
		assert.Equal(t, w.Name, g.Name)
		assert.Equal(t, torchDtype[w.Dtype], g.Dtype, w.Name)
		assert.Equal(t, len(w.Shape), len(g.Shape), w.Name)
		if len(w.Shape) > 0 {
			assert.Equal(t, w.Shape, g.Shape, w.Name)
		}
		var bits []int64
		for _, x := range w.F32 {
			bits = append(bits, int64(int32(math.Float32bits(x))))
		}
		for _, x := range w.F64 {
			bits = append(bits, int64(math.Float64bits(x)))
		}
		bits = append(bits, w.I64...)
		assert.Equal(t, len(bits), len(g.Ints), w.Name)
		if len(bits) > 0 {
			assert.Equal(t, bits, g.Ints, w.Name)
		}
	}

	// PyTorch's own files of the same tensors, as ReadFile reads them.
	want.Metadata = nil
	for _, name := range []string{"p2.pth", "p4.pth"} {
		f, err := ReadFile(filepath.Join(dir, name))
		require.NoError(t, err, name)
		assertSameFile(t, want, f)
	}
}
