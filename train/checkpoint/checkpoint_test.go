package checkpoint

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sample is a checkpoint with both dtypes, a scalar, an empty tensor and awkward values.
func sample() *File {
	return &File{
		Meta: json.RawMessage(`{"model":"resnet20","epoch":3,"step":1173}`),
		Tensors: []Tensor{
			{Name: "conv1.w", Shape: []int{2, 3}, Dtype: Float32, F32: []float32{
				1, -2.5, math.SmallestNonzeroFloat32, math.MaxFloat32, float32(math.Inf(-1)), float32(math.Copysign(0, -1)),
			}},
			{Name: "bn.mean", Shape: []int{3}, Dtype: Float64, F64: []float64{math.Pi, -1e-300, math.Inf(1)}},
			{Name: "step", Shape: []int{}, Dtype: Float64, F64: []float64{42}},
			{Name: "empty", Shape: []int{0, 4}, Dtype: Float32, F32: []float32{}},
		},
	}
}

// bits32 and bits64 let float slices be compared bit for bit (so -0 and +0 differ, and equal NaNs are equal).
func bits32(x []float32) []uint32 {
	b := make([]uint32, len(x))
	for i, v := range x {
		b[i] = math.Float32bits(v)
	}
	return b
}

func bits64(x []float64) []uint64 {
	b := make([]uint64, len(x))
	for i, v := range x {
		b[i] = math.Float64bits(v)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	big := make([]float32, 3*chunk/4+7) // crosses the encode/decode buffer boundary
	for i := range big {
		big[i] = float32(i) * 0.37
	}
	bigF64 := make([]float64, chunk/8+3)
	for i := range bigF64 {
		bigF64[i] = -float64(i) / 3
	}
	tests := []struct {
		name string
		file *File
	}{
		{"mixed dtypes", sample()},
		{"no meta", &File{Tensors: []Tensor{{Name: "x", Shape: []int{1}, Dtype: Float32, F32: []float32{7}}}}},
		{"no tensors", &File{Meta: json.RawMessage(`[1,2]`)}},
		{"large float32", &File{Tensors: []Tensor{{Name: "big", Shape: []int{len(big)}, Dtype: Float32, F32: big}}}},
		{"large float64", &File{Tensors: []Tensor{{Name: "big", Shape: []int{1, len(bigF64)}, Dtype: Float64, F64: bigF64}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "model.ckpt")
			require.NoError(t, Save(path, tc.file))
			got, err := Load(path)
			require.NoError(t, err)
			if tc.file.Meta == nil {
				assert.Nil(t, got.Meta)
			} else {
				assert.JSONEq(t, string(tc.file.Meta), string(got.Meta))
			}
			require.Len(t, got.Tensors, len(tc.file.Tensors))
			for i, want := range tc.file.Tensors {
				g := got.Tensors[i]
				assert.Equal(t, want.Name, g.Name)
				assert.Equal(t, want.Shape, g.Shape)
				assert.Equal(t, want.Dtype, g.Dtype)
				if want.Dtype == Float32 {
					assert.Equal(t, bits32(want.F32), bits32(g.F32), want.Name)
					assert.NotNil(t, g.F32, "float32 data must be set even when empty")
					assert.Nil(t, g.F64)
				} else {
					assert.Equal(t, bits64(want.F64), bits64(g.F64), want.Name)
					assert.Nil(t, g.F32)
				}
			}
			matches, err := filepath.Glob(path + ".tmp-*")
			require.NoError(t, err)
			assert.Empty(t, matches, "temporary file left behind")
		})
	}
}

func TestGet(t *testing.T) {
	f := sample()
	tests := []struct {
		name  string
		found bool
	}{
		{"bn.mean", true},
		{"empty", true},
		{"missing", false},
		{"", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := f.Get(tc.name)
			assert.Equal(t, tc.found, ok)
			if tc.found {
				require.NotNil(t, got)
				assert.Equal(t, tc.name, got.Name)
				assert.Same(t, &f.Tensors[indexOf(f, tc.name)], got, "Get returns the tensor in place")
			} else {
				assert.Nil(t, got)
			}
		})
	}
	var nilFile *File
	_, ok := nilFile.Get("x")
	assert.False(t, ok)
}

func indexOf(f *File, name string) int {
	for i := range f.Tensors {
		if f.Tensors[i].Name == name {
			return i
		}
	}
	return -1
}

func TestSaveRejectsInvalidFile(t *testing.T) {
	tests := []struct {
		name string
		file *File
		want string
	}{
		{"nil file", nil, "nil File"},
		{"unknown dtype", &File{Tensors: []Tensor{{Name: "a", Shape: []int{1}, Dtype: "int8", F32: []float32{1}}}}, `unknown dtype "int8"`},
		{"short data", &File{Tensors: []Tensor{{Name: "a", Shape: []int{2, 2}, Dtype: Float32, F32: []float32{1, 2, 3}}}}, "needs 4 elements, have 3"},
		{"data in wrong slice", &File{Tensors: []Tensor{{Name: "a", Shape: []int{1}, Dtype: Float32, F64: []float64{1}}}}, "dtype is float32 but the other element slice holds 1 values"},
		{"both slices set", &File{Tensors: []Tensor{{Name: "a", Shape: []int{1}, Dtype: Float64, F32: []float32{1}, F64: []float64{1}}}}, "other element slice"},
		{"negative dimension", &File{Tensors: []Tensor{{Name: "a", Shape: []int{-1}, Dtype: Float32}}}, "shape [-1]: negative factor -1"},
		{"duplicate names", &File{Tensors: []Tensor{
			{Name: "a", Shape: []int{1}, Dtype: Float32, F32: []float32{1}},
			{Name: "a", Shape: []int{1}, Dtype: Float32, F32: []float32{2}},
		}}, `duplicate tensor name "a"`},
		{"empty name", &File{Tensors: []Tensor{{Shape: []int{1}, Dtype: Float32, F32: []float32{1}}}}, "has no name"},
		{"invalid meta", &File{Meta: json.RawMessage(`{"epoch":`)}, "Meta is not valid JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "model.ckpt")
			err := Save(path, tc.file)
			require.Error(t, err)
			assert.ErrorContains(t, err, tc.want)
			assert.ErrorContains(t, err, path)
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Empty(t, entries, "an invalid File must not create any file")
		})
	}
}

// failingWriter passes through its first n bytes and then fails, like a full disk.
type failingWriter struct {
	w io.Writer
	n int
}

var errDiskFull = errors.New("injected: no space left on device")

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) <= f.n {
		f.n -= len(p)
		return f.w.Write(p)
	}
	k, err := f.w.Write(p[:f.n])
	f.n -= k
	if err != nil {
		return k, err
	}
	return k, errDiskFull
}

func TestInterruptedSaveKeepsPreviousCheckpoint(t *testing.T) {
	next := sample()
	next.Tensors[0].F32[0] = 99
	next.Meta = json.RawMessage(`{"epoch":4}`)
	scratch := filepath.Join(t.TempDir(), "next.ckpt")
	require.NoError(t, Save(scratch, next))
	st, err := os.Stat(scratch)
	require.NoError(t, err)
	tests := []struct {
		name  string
		after int
	}{
		{"nothing written", 0},
		{"inside the preamble", 10},
		{"inside the header", 40},
		{"inside the data", 300},
		{"all but the checksum", -4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "model.ckpt")
			require.NoError(t, Save(path, sample()))
			before, err := os.ReadFile(path)
			require.NoError(t, err)
			after := tc.after
			if after < 0 {
				after += int(st.Size())
			}
			err = save(path, next, func(w io.Writer) io.Writer { return &failingWriter{w: w, n: after} })
			require.Error(t, err)
			assert.ErrorIs(t, err, errDiskFull)
			assert.ErrorContains(t, err, path)

			now, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, before, now, "the previous checkpoint must be byte-identical")
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Len(t, entries, 1, "the temporary file must be removed")
			assert.Equal(t, "model.ckpt", entries[0].Name())
			_, err = Load(path)
			assert.NoError(t, err)
		})
	}
}

func TestSaveReplacesExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.ckpt")
	require.NoError(t, Save(path, sample()))
	next := &File{Meta: json.RawMessage(`{"epoch":5}`), Tensors: []Tensor{{Name: "w", Shape: []int{2}, Dtype: Float64, F64: []float64{1, 2}}}}
	require.NoError(t, Save(path, next))
	got, err := Load(path)
	require.NoError(t, err)
	assert.JSONEq(t, `{"epoch":5}`, string(got.Meta))
	require.Len(t, got.Tensors, 1)
	assert.Equal(t, []float64{1, 2}, got.Tensors[0].F64)
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o644), st.Mode().Perm())
}

func TestSaveErrors(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(regular, []byte("x"), 0o644))
	tests := []struct {
		name string
		path string
	}{
		// A parent that is a regular file fails for root too, unlike a read-only directory.
		{"parent is a regular file", filepath.Join(regular, "model.ckpt")},
		{"directory does not exist", filepath.Join(dir, "missing", "model.ckpt")},
		{"path is a directory", dir},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Save(tc.path, sample())
			require.Error(t, err)
			assert.ErrorContains(t, err, tc.path)
		})
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left behind")
}

func TestLoadRejectsDamagedFiles(t *testing.T) {
	good := filepath.Join(t.TempDir(), "good.ckpt")
	require.NoError(t, Save(good, sample()))
	data, err := os.ReadFile(good)
	require.NoError(t, err)
	hlen := int(binary.LittleEndian.Uint64(data[len(magic)+4:]))
	dataStart := prefixLen + hlen

	flip := func(i int) []byte {
		b := append([]byte(nil), data...)
		b[i] ^= 0x10
		return b
	}
	withVersion := func(v uint32) []byte {
		b := append([]byte(nil), data...)
		binary.LittleEndian.PutUint32(b[len(magic):], v)
		return b
	}
	withHeader := func(h string) []byte {
		b := []byte(magic)
		b = binary.LittleEndian.AppendUint32(b, version)
		b = binary.LittleEndian.AppendUint64(b, uint64(len(h)))
		b = append(b, h...)
		b = append(b, make([]byte, 8)...)
		sum := crc32c(b)
		return binary.LittleEndian.AppendUint32(b, sum)
	}
	tests := []struct {
		name    string
		content []byte
		want    string
	}{
		{"empty file", nil, "truncated"},
		{"cut inside the magic", data[:5], "truncated"},
		{"cut inside the preamble", data[:prefixLen-3], "truncated"},
		{"cut inside the header", data[:prefixLen+hlen/2], "truncated"},
		{"cut inside the data", data[:dataStart+10], "truncated"},
		{"cut before the checksum", data[:len(data)-4], "truncated"},
		{"cut inside the checksum", data[:len(data)-1], "truncated"},
		{"flipped data byte", flip(dataStart + 5), "CRC-32C mismatch"},
		{"flipped checksum byte", flip(len(data) - 2), "CRC-32C mismatch"},
		{"flipped header byte", flip(prefixLen + hlen - 3), "corrupted"},
		{"trailing garbage", append(append([]byte(nil), data...), 0), "corrupted"},
		{"wrong magic", append([]byte("PK\x03\x04 a zip file, not ours"), data[20:]...), "not a checkpoint"},
		{"text file", []byte("hello"), "not a checkpoint"},
		{"future version", withVersion(2), "unsupported format version 2"},
		{"header is not JSON", withHeader(`{"meta":`), "malformed header JSON"},
		{"shape disagrees with length", withHeader(`{"meta":null,"tensors":[{"name":"a","shape":[3],"dtype":"float32","offset":0,"length":8}]}`), "has 3 elements but length is 8"},
		{"offset past the data", withHeader(`{"meta":null,"tensors":[{"name":"a","shape":[2],"dtype":"float32","offset":4,"length":8}]}`), "data section of 8 bytes"},
		{"huge offset", withHeader(`{"meta":null,"tensors":[{"name":"a","shape":[1],"dtype":"float64","offset":18446744073709551615,"length":8}]}`), "truncated"},
		{"overlapping tensors", withHeader(`{"meta":null,"tensors":[{"name":"a","shape":[1],"dtype":"float64","offset":0,"length":8},{"name":"b","shape":[1],"dtype":"float32","offset":4,"length":4}]}`), "overlaps"},
		{"shape that wraps int64", withHeader(`{"meta":null,"tensors":[{"name":"a","shape":[4294967296,4294967296],"dtype":"float32","offset":0,"length":0}]}`),
			"shape [4294967296 4294967296]: 4294967296 x 4294967296 = 18446744073709551616, more than"},
		{"negative dimension", withHeader(`{"meta":null,"tensors":[{"name":"a","shape":[-2,-2],"dtype":"float32","offset":0,"length":16}]}`), "negative factor -2"},
		{"length larger than the file", withHeader(`{"meta":null,"tensors":[{"name":"a","shape":[268435456],"dtype":"float32","offset":0,"length":1073741824}]}`), "data section of 8 bytes"},
		{"empty tensor inside another", withHeader(`{"meta":null,"tensors":[{"name":"a","shape":[2],"dtype":"float32","offset":0,"length":8},{"name":"b","shape":[0],"dtype":"float32","offset":4,"length":0}]}`), "overlaps"},
		{"unknown dtype", withHeader(`{"meta":null,"tensors":[{"name":"a","shape":[1],"dtype":"int64","offset":0,"length":8}]}`), `unknown dtype "int64"`},
		{"duplicate names", withHeader(`{"meta":null,"tensors":[{"name":"a","shape":[1],"dtype":"float32","offset":0,"length":4},{"name":"a","shape":[1],"dtype":"float32","offset":4,"length":4}]}`), "duplicate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.ckpt")
			require.NoError(t, os.WriteFile(path, tc.content, 0o644))
			f, err := Load(path)
			require.Error(t, err)
			assert.Nil(t, f)
			assert.ErrorContains(t, err, tc.want)
			assert.ErrorContains(t, err, path)
		})
	}
}

// TestLoadAcceptsGaps checks that a reader follows the offsets rather than assuming Save's layout.
func TestLoadAcceptsGaps(t *testing.T) {
	h := `{"meta":{"epoch":1},"tensors":[{"name":"b","shape":[1],"dtype":"float32","offset":12,"length":4},{"name":"a","shape":[],"dtype":"float64","offset":0,"length":8}]}`
	b := []byte(magic)
	b = binary.LittleEndian.AppendUint32(b, version)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(h)))
	b = append(b, h...)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(2.5))
	b = append(b, 0xde, 0xad, 0xbe, 0xef) // gap
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(-1.5))
	b = append(b, 0, 0) // trailing gap
	b = binary.LittleEndian.AppendUint32(b, crc32c(b))
	path := filepath.Join(t.TempDir(), "gaps.ckpt")
	require.NoError(t, os.WriteFile(path, b, 0o644))

	f, err := Load(path)
	require.NoError(t, err)
	a, ok := f.Get("a")
	require.True(t, ok)
	assert.Equal(t, []float64{2.5}, a.F64)
	assert.Equal(t, []int{}, a.Shape)
	bt, ok := f.Get("b")
	require.True(t, ok)
	assert.Equal(t, []float32{-1.5}, bt.F32)
}

// TestLoadEmptyTensorAtAnotherStart checks that an empty tensor at the offset where another
// starts is accepted whichever comes first in the table: it overlaps nothing.
func TestLoadEmptyTensorAtAnotherStart(t *testing.T) {
	a := `{"name":"a","shape":[2],"dtype":"float32","offset":0,"length":8}`
	b := `{"name":"b","shape":[0,3],"dtype":"float64","offset":0,"length":0}`
	for _, tc := range []struct{ name, tensors string }{
		{"empty one first", b + "," + a},
		{"empty one last", a + "," + b},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := `{"meta":null,"tensors":[` + tc.tensors + `]}`
			raw := []byte(magic)
			raw = binary.LittleEndian.AppendUint32(raw, version)
			raw = binary.LittleEndian.AppendUint64(raw, uint64(len(h)))
			raw = append(raw, h...)
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(1.5))
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(-2))
			raw = binary.LittleEndian.AppendUint32(raw, crc32c(raw))
			path := filepath.Join(t.TempDir(), "empty.ckpt")
			require.NoError(t, os.WriteFile(path, raw, 0o644))
			f, err := Load(path)
			require.NoError(t, err)
			at, ok := f.Get("a")
			require.True(t, ok)
			assert.Equal(t, []float32{1.5, -2}, at.F32)
			bt, ok := f.Get("b")
			require.True(t, ok)
			assert.Equal(t, []float64{}, bt.F64)
			assert.Equal(t, []int{0, 3}, bt.Shape)
		})
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
		is   error
		want string
	}{
		{"missing file", filepath.Join(dir, "nope.ckpt"), fs.ErrNotExist, ""},
		{"missing directory", filepath.Join(dir, "nope", "model.ckpt"), fs.ErrNotExist, ""},
		{"a directory", dir, nil, "is a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.path)
			require.Error(t, err)
			assert.ErrorContains(t, err, tc.path)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
			if tc.want != "" {
				assert.ErrorContains(t, err, tc.want)
			}
		})
	}
}

// crc32c is the checksum the format uses, computed independently of the encoder.
func crc32c(b []byte) uint32 {
	return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))
}
