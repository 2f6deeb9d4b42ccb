package weights

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// golden is testdata/golden.json, written by testdata/gen_weights.py: what PyTorch holds in the
// golden files.
type golden struct {
	Metadata   map[string]string `json:"metadata"`
	Tensors    []goldenTensor    `json:"tensors"`    // golden.pth and golden.safetensors
	Checkpoint []goldenTensor    `json:"checkpoint"` // golden_ckpt.pth's "state_dict"
}

type goldenTensor struct {
	Name   string    `json:"name"`
	Shape  []int     `json:"shape"`
	Dtype  Dtype     `json:"dtype"`
	Values []float64 `json:"values"` // F32 and F64
	Ints   []int64   `json:"ints"`   // I64
}

// tensor is g as a Tensor.
func (g goldenTensor) tensor() Tensor {
	t := Tensor{Name: g.Name, Shape: g.Shape, Dtype: g.Dtype}
	switch g.Dtype {
	case F32:
		t.F32 = make([]float32, len(g.Values))
		for i, v := range g.Values {
			t.F32[i] = float32(v) // exact: the values are float32s (or narrower) widened by Python
		}
	case F64:
		t.F64 = g.Values
	case I64:
		t.I64 = g.Ints
	}
	return t
}

func loadGolden(t *testing.T) golden {
	b, err := os.ReadFile(filepath.Join("testdata", "golden.json"))
	require.NoError(t, err)
	var g golden
	require.NoError(t, json.Unmarshal(b, &g))
	return g
}

func goldenFile(ts []goldenTensor, meta map[string]string) *File {
	f := &File{Metadata: meta}
	for _, g := range ts {
		f.Tensors = append(f.Tensors, g.tensor())
	}
	return f
}

// TestGolden reads the files PyTorch wrote (gen_weights.py): a state_dict saved by torch.save,
// with a transposed view sharing a storage, a strided slice at an offset, an expanded tensor,
// float64, int64, float16, bfloat16 and an empty tensor; the same tensors written to safetensors
// by a minimal reference writer (header keys sorted by name, data in state_dict order); and a
// training checkpoint holding the state_dict under "state_dict" next to an optimizer state.
func TestGolden(t *testing.T) {
	g := loadGolden(t)
	require.NotEmpty(t, g.Tensors)
	for _, tc := range []struct {
		file string
		want *File
	}{
		{"golden.pth", goldenFile(g.Tensors, nil)},
		{"golden.safetensors", goldenFile(g.Tensors, g.Metadata)},
		{"golden_ckpt.pth", goldenFile(g.Checkpoint, nil)},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := ReadFile(filepath.Join("testdata", tc.file))
			require.NoError(t, err)
			assertSameFile(t, tc.want, got)

			nbt, ok := got.Get("bn1.num_batches_tracked")
			if tc.file != "golden_ckpt.pth" {
				require.True(t, ok)
				assert.Equal(t, I64, nbt.Dtype)
				assert.Empty(t, nbt.Shape, "num_batches_tracked is 0-d")
				assert.Equal(t, []int64{7}, nbt.I64)
			}
		})
	}

	// The transposed view is fc.weight transposed, element for element.
	f, err := ReadFile(filepath.Join("testdata", "golden.pth"))
	require.NoError(t, err)
	w, ok := f.Get("fc.weight")
	require.True(t, ok)
	wt, ok := f.Get("view.transposed")
	require.True(t, ok)
	require.Equal(t, []int{3, 4}, w.Shape)
	require.Equal(t, []int{4, 3}, wt.Shape)
	for i := range 3 {
		for j := range 4 {
			assert.Equal(t, w.F32[i*4+j], wt.F32[j*3+i])
		}
	}
}

// TestGoldenRoundTrip: the golden state_dict written by WriteFile reads back equal, by content
// detection, and writing is byte-for-byte deterministic.
func TestGoldenRoundTrip(t *testing.T) {
	f, err := ReadFile(filepath.Join("testdata", "golden.pth"))
	require.NoError(t, err)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.safetensors"), filepath.Join(dir, "b.bin")
	require.NoError(t, WriteFile(a, f))
	require.NoError(t, WriteFile(b, f))
	back, err := ReadFile(a)
	require.NoError(t, err)
	assertSameFile(t, f, back)
	ab, err := os.ReadFile(a)
	require.NoError(t, err)
	bb, err := os.ReadFile(b)
	require.NoError(t, err)
	assert.Equal(t, ab, bb)
	info, err := os.Stat(a)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), info.Mode().Perm())
}
