package weights

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sample is a File with every dtype, a scalar, an empty tensor, special floats and metadata.
func sample() *File {
	nan := math.Float32frombits(0x7fc00123) // a NaN with a payload
	return &File{
		Tensors: []Tensor{
			{Name: "conv1.weight", Shape: []int{2, 1, 2, 2}, Dtype: F32, F32: []float32{1, -2, 3.5, 0, float32(math.Inf(-1)), nan, 1e-45, -0}},
			{Name: "bn1.num_batches_tracked", Shape: []int{}, Dtype: I64, I64: []int64{7}},
			{Name: "fc.bias", Shape: []int{3}, Dtype: F64, F64: []float64{math.Pi, -1e300, math.SmallestNonzeroFloat64}},
			{Name: "ids", Shape: []int{2}, Dtype: I64, I64: []int64{math.MinInt64, math.MaxInt64}},
			{Name: "empty", Shape: []int{0, 3}, Dtype: F32, F32: []float32{}},
			{Name: "<&> ünïcode \"quoted\"", Shape: []int{1}, Dtype: F32, F32: []float32{42}},
		},
		Metadata: map[string]string{"format": "pt", "epoch": "3"},
	}
}

func TestSafetensorsRoundTrip(t *testing.T) {
	f := sample()
	b := encode(t, f)
	got, err := decode(b)
	require.NoError(t, err)
	assertSameFile(t, f, got)
	assert.Equal(t, b, encode(t, got), "writing is deterministic")

	// The layout: header length, then a header padded with spaces to a multiple of 8, whose
	// entries are in the order given, then the data.
	n := binary.LittleEndian.Uint64(b)
	assert.Zero(t, n%8)
	hdr := string(b[8 : 8+n])
	assert.True(t, strings.HasPrefix(hdr, `{"__metadata__":{"epoch":"3","format":"pt"},"conv1.weight":{"dtype":"F32","shape":[2,1,2,2],"data_offsets":[0,32]},"bn1.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[32,40]}`), hdr)
	assert.Contains(t, hdr, `"<&> ünïcode \"quoted\""`)
	assert.True(t, json.Valid([]byte(hdr)))
	assert.Equal(t, uint32(0x3f800000), binary.LittleEndian.Uint32(b[8+n:]), "data starts with conv1.weight[0] = 1")
}

// TestSafetensorsOrder: a file's tensors come in the order of their data, whatever the order
// of the header's keys (the reference writer sorts them by name).
func TestSafetensorsOrder(t *testing.T) {
	b := stFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"b":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"c":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}`,
		0, 0, 0x80, 0x3f, 0, 0, 0, 0x40)
	f, err := decode(b)
	require.NoError(t, err)
	require.Len(t, f.Tensors, 3)
	assert.Equal(t, "c", f.Tensors[0].Name)
	assert.Equal(t, "b", f.Tensors[1].Name)
	assert.Equal(t, []float32{1}, f.Tensors[1].F32)
	assert.Equal(t, "a", f.Tensors[2].Name)
	assert.Equal(t, []float32{2}, f.Tensors[2].F32)
	assert.Nil(t, f.Metadata)
}

// TestSafetensorsHalf: F16 and BF16 are widened to F32 exactly: normals, subnormals, zeros,
// infinities, NaN.
func TestSafetensorsHalf(t *testing.T) {
	halves := []uint16{0x3c00, 0xc100, 0x7bff, 0x0400, 0x0001, 0x03ff, 0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00}
	want := []float32{1, -2.5, 65504, 6.1035156e-05, 5.9604645e-08, 6.097555e-05, 0, float32(math.Copysign(0, -1)),
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	bf := []uint16{0x3f80, 0xc049, 0x0001, 0xff80}
	wantBF := []float32{1, -3.140625, math.Float32frombits(0x00010000), float32(math.Inf(-1))}
	var data []byte
	for _, h := range append(append([]uint16{}, halves...), bf...) {
		data = binary.LittleEndian.AppendUint16(data, h)
	}
	b := stFile(`{"h":{"dtype":"F16","shape":[11],"data_offsets":[0,22]},"b":{"dtype":"BF16","shape":[2,2],"data_offsets":[22,30]}}`, data...)
	f, err := decode(b)
	require.NoError(t, err)
	h, _ := f.Get("h")
	require.Equal(t, F32, h.Dtype)
	for i := range want {
		if math.IsNaN(float64(want[i])) {
			assert.True(t, math.IsNaN(float64(h.F32[i])))
			continue
		}
		assert.Equal(t, math.Float32bits(want[i]), math.Float32bits(h.F32[i]), "half 0x%04x", halves[i])
	}
	bt, _ := f.Get("b")
	assert.Equal(t, F32, bt.Dtype)
	assert.Equal(t, bits32(wantBF), bits32(bt.F32))
	// Every binary16 value widens exactly: back to binary16 through float32 it is unchanged.
	for h := range 1 << 16 {
		x := halfToFloat32(uint16(h))
		if math.IsNaN(float64(x)) {
			if got := math.Float32bits(x) & 0x7fffff; got != uint32(h)&0x3ff<<13 {
				t.Fatalf("NaN 0x%04x widens to payload 0x%06x", h, got)
			}
			continue
		}
		if back := float32ToHalfExact(x); back != uint16(h) {
			t.Fatalf("0x%04x widens to %g, which narrows to 0x%04x", h, x, back)
		}
	}
}

// float32ToHalfExact narrows a float32 that is exactly a binary16 value.
func float32ToHalfExact(x float32) uint16 {
	b := math.Float32bits(x)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23&0xff) - 127
	frac := b & 0x7fffff
	switch {
	case exp == 128:
		return sign | 0x7c00 | uint16(frac>>13)
	case x == 0:
		return sign
	case exp < -14: // subnormal
		return sign | uint16((frac|0x800000)>>(13+uint(-14-exp)))
	}
	return sign | uint16(exp+15)<<10 | uint16(frac>>13)
}

// TestSafetensorsBad: damaged and hostile files give an error that names the problem.
func TestSafetensorsBad(t *testing.T) {
	f32 := make([]byte, 16)
	valid := encode(t, sample())
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "safetensors file of 0 bytes is shorter than its 8-byte header length"},
		{"truncated length", []byte{1, 2, 3}, "safetensors file of 3 bytes is shorter"},
		{"truncated data", valid[:len(valid)-1], `tensor "<&> ünïcode \"quoted\"": data_offsets [80, 84] are not a range inside the data section of 83 bytes`},
		{"trailing data", append(append([]byte{}, valid...), 0), "the tensors cover 84 bytes of a data section of 85 bytes; the format allows no trailing bytes"},
		{"wrong magic (a zip)", []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00"), "safetensors header of 85966670672 bytes does not fit in a file of 10 bytes"},
		{"header length past the end", append(binary.LittleEndian.AppendUint64(nil, 123456789), make([]byte, 92)...),
			"safetensors header of 123456789 bytes does not fit in a file of 100 bytes"},
		{"header not JSON", stFile("hello"), `safetensors header is not a JSON object (starts "hello   ")`},
		{"header an array", stFile("[]"), "not a JSON object"},
		{"header cut short", stFile(`{"a":{"dtype":"F32"`), `malformed safetensors header`},
		{"header not UTF-8", stFile("{\"\xff\":1}"), "safetensors header is not valid UTF-8"},
		{"entry not an object", stFile(`{"a":[1,2]}`), `tensor "a": header entry is not a JSON object`},
		{"entry null", stFile(`{"a":null}`), `tensor "a": header entry is not a JSON object: null`},
		{"no dtype", stFile(`{"a":{"shape":[],"data_offsets":[0,0]}}`), `tensor "a": header entry has no "dtype"`},
		{"no shape", stFile(`{"a":{"dtype":"F32","data_offsets":[0,0]}}`), `tensor "a": header entry has no "shape"`},
		{"no offsets", stFile(`{"a":{"dtype":"F32","shape":[]}}`), `tensor "a": header entry has no "data_offsets"`},
		{"shape null", stFile(`{"a":{"dtype":"F32","shape":null,"data_offsets":[0,4]}}`, f32[:4]...), `tensor "a": shape: null`},
		{"shape of floats", stFile(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, f32[:4]...), `tensor "a": shape: json: cannot unmarshal number 1.5`},
		{"three offsets", stFile(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4,8]}}`, f32[:4]...), `tensor "a": data_offsets has 3 numbers, want 2`},
		{"negative offset", stFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, f32[:4]...), `data_offsets [-4, 0] are not a range inside the data section of 4 bytes`},
		{"offsets reversed", stFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, f32[:4]...), `data_offsets [4, 0] are not a range`},
		{"offset out of range", stFile(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,17]}}`, f32...), `tensor "a": data_offsets [0, 17] are not a range inside the data section of 16 bytes`},
		{"offset past int64", stFile(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,18446744073709551615]}}`, f32...), `tensor "a": data_offsets: json: cannot unmarshal number 18446744073709551615`},
		{"overlapping", stFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[3],"data_offsets":[4,16]}}`, f32...),
			`tensors "a" (data_offsets [0, 8]) and "b" ([4, 16]) overlap`},
		{"same range twice", stFile(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, f32...),
			`tensors "a" (data_offsets [0, 16]) and "b" ([0, 16]) overlap`},
		{"hole", stFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}`, f32...),
			`8 bytes of the data section before tensor "a" (data_offsets [8, 16]) belong to no tensor; the format allows no holes`},
		{"size mismatch", stFile(`{"a":{"dtype":"F64","shape":[4],"data_offsets":[0,16]}}`, f32...),
			`tensor "a": shape [4] of F64 needs more bytes than the data section's 16: 4 x 8 = 32, more than 16`},
		{"size smaller than range", stFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}`, f32...),
			`tensor "a": shape [2] of F32 needs 8 bytes, but data_offsets [0, 16] hold 16`},
		{"scalar without data", stFile(`{"a":{"dtype":"I64","shape":[],"data_offsets":[0,0]}}`),
			`tensor "a": shape [] of I64 needs more bytes than the data section's 0: 8, more than 0`},
		{"shape product overflows", stFile(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}}`, f32...),
			`4294967296 x 4294967296 x 4 = 73786976294838206464, more than 16`},
		{"shape product wraps to the range", stFile(`{"a":{"dtype":"F32","shape":[2,2305843009213693954],"data_offsets":[0,16]}}`, f32...),
			`2 x 2305843009213693954 x 4 = 18446744073709551632, more than 16`},
		{"negative dim", stFile(`{"a":{"dtype":"F32","shape":[2,-2],"data_offsets":[0,16]}}`, f32...), `tensor "a": shape [2 -2] has a negative dimension`},
		{"unknown dtype", stFile(`{"a":{"dtype":"I32","shape":[4],"data_offsets":[0,16]}}`, f32...), `tensor "a": dtype "I32" not supported (want F32, F64, I64, F16 or BF16)`},
		{"dtype not a string", stFile(`{"a":{"dtype":4,"shape":[4],"data_offsets":[0,16]}}`, f32...), `tensor "a": dtype: json: cannot unmarshal number`},
		{"duplicate name", stFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}`, f32...),
			`safetensors header names tensor "a" twice`},
		{"duplicate metadata", stFile(`{"__metadata__":{},"__metadata__":{}}`), `safetensors header has two "__metadata__" entries`},
		{"metadata of numbers", stFile(`{"__metadata__":{"epoch":3}}`), `safetensors "__metadata__" is not an object of strings`},
		{"trailing garbage", stFile(`{} {}`), `safetensors header has 2 bytes after its JSON object (starting "{}")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := decode(tc.b)
			require.Error(t, err)
			assert.Nil(t, f)
			assert.Equal(t, "weights: ", err.Error()[:9])
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// lengthReader is a file of size bytes that starts with a header length of n and holds zeros.
type lengthReader struct{ n uint64 }

func (r lengthReader) ReadAt(b []byte, off int64) (int, error) {
	clear(b)
	var pre [8]byte
	binary.LittleEndian.PutUint64(pre[:], r.n)
	if off < 8 {
		copy(b, pre[off:])
	}
	return len(b), nil
}

// TestSafetensorsHeaderCap: a header longer than MaxHeader is refused before it is read, even
// when the file is long enough to hold it.
func TestSafetensorsHeaderCap(t *testing.T) {
	f, err := ReadSafetensors(lengthReader{MaxHeader + 1}, 1<<40)
	assert.Nil(t, f)
	assert.EqualError(t, err, "weights: safetensors header of 100000001 bytes is larger than the 100000000 bytes allowed")
}

// TestSafetensorsAccepts: what the format allows that a strict reader might refuse.
func TestSafetensorsAccepts(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		n    int
	}{
		{"empty header", stFile(`{}`), 0},
		{"unpadded header", append(binary.LittleEndian.AppendUint64(nil, 2), "{}"...), 0},
		{"null metadata", stFile(`{"__metadata__":null}`), 0},
		{"whitespace", stFile(" \n{ \"a\" : {\"shape\":[ 1 ],\"dtype\":\"F32\",\"data_offsets\":[0,4], \"extra\": true} }\t"), 1},
		{"zero-size tensors", stFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"F64","shape":[3,0,2],"data_offsets":[0,0]}}`), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "whitespace" {
				tc.b = append(tc.b, 0, 0, 0, 0)
			}
			f, err := decode(tc.b)
			require.NoError(t, err)
			assert.Len(t, f.Tensors, tc.n)
			assert.Nil(t, f.Metadata)
		})
	}
}

// TestWriteSafetensorsBad: a File that is not well formed is refused before anything is
// written.
func TestWriteSafetensorsBad(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    Tensor
		want string
	}{
		{"unknown dtype", Tensor{Name: "a", Shape: []int{1}, Dtype: "F16", F32: []float32{1}}, `tensor "a": unknown dtype "F16" (want F32, F64 or I64)`},
		{"no dtype", Tensor{Name: "a", Shape: []int{1}, F32: []float32{1}}, `tensor "a": unknown dtype ""`},
		{"too few elements", Tensor{Name: "a", Shape: []int{2, 3}, Dtype: F32, F32: []float32{1}}, `tensor "a": shape [2 3] needs 6 elements, its F32 slice holds 1`},
		{"scalar without element", Tensor{Name: "a", Dtype: I64}, `tensor "a": shape [] needs 1 elements, its I64 slice holds 0`},
		{"two slices", Tensor{Name: "a", Shape: []int{1}, Dtype: F32, F32: []float32{1}, F64: []float64{1}}, `tensor "a": dtype is F32 but its F64 slice holds 1 values`},
		{"negative dim", Tensor{Name: "a", Shape: []int{-1}, Dtype: F32}, `tensor "a": shape [-1]: negative factor -1`},
		{"bad UTF-8 name", Tensor{Name: "a\xff", Shape: []int{1}, Dtype: F32, F32: []float32{1}}, `tensor "a\xff": name is not valid UTF-8`},
		{"metadata name", Tensor{Name: "__metadata__", Shape: []int{1}, Dtype: F32, F32: []float32{1}}, `a tensor cannot be called "__metadata__"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			err := WriteSafetensors(&b, &File{Tensors: []Tensor{tc.t}})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "weights: "+tc.want)
			assert.Zero(t, b.Len(), "nothing written")
		})
	}
	dup := &File{Tensors: []Tensor{{Name: "a", Dtype: F32, F32: []float32{1}}, {Name: "a", Dtype: F32, F32: []float32{2}}}}
	assert.ErrorContains(t, WriteSafetensors(io.Discard, dup), `weights: two tensors called "a"`)
	meta := &File{Metadata: map[string]string{"k": "\xff"}}
	assert.ErrorContains(t, WriteSafetensors(io.Discard, meta), `not valid UTF-8`)
}

// failAfter fails every write after the first n bytes.
type failAfter struct {
	w io.Writer
	n int
}

func (f *failAfter) Write(b []byte) (int, error) {
	if len(b) > f.n {
		k, _ := f.w.Write(b[:f.n])
		f.n = 0
		return k, errors.New("disk full")
	}
	f.n -= len(b)
	return f.w.Write(b)
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.safetensors")
	require.NoError(t, WriteFile(path, sample()))
	old, err := os.ReadFile(path)
	require.NoError(t, err)

	// A write that fails part way leaves the old file and no temporary file.
	err = writeFileAtomic(path, &File{Tensors: []Tensor{{Name: "x", Shape: []int{100000}, Dtype: F64, F64: make([]float64, 100000)}}},
		func(w io.Writer) io.Writer { return &failAfter{w: w, n: 1000} })
	require.ErrorContains(t, err, "disk full")
	now, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, old, now)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "the temporary file is removed")

	// A bad File creates nothing; a missing directory is an error that names the path.
	bad := filepath.Join(dir, "bad.safetensors")
	err = WriteFile(bad, &File{Tensors: []Tensor{{Name: "a", Dtype: "U8"}}})
	require.ErrorContains(t, err, "weights: writing "+bad+`: tensor "a": unknown dtype "U8"`)
	assert.NoFileExists(t, bad)
	missing := filepath.Join(dir, "no", "such", "dir", "w.safetensors")
	assert.ErrorContains(t, WriteFile(missing, sample()), "weights: writing "+missing)
}

// TestReadFileErrors: errors of ReadFile name the path.
func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o644))
		return p
	}
	hundred := write("hundred.safetensors", append(binary.LittleEndian.AppendUint64(nil, 123456789), make([]byte, 92)...))
	legacy := write("legacy.pth", []byte("\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.\x80\x02M\xe9\x03."))
	zipJunk := write("junk.pth", []byte("PK\x03\x04 and then nothing"))
	empty := write("empty", nil)
	for _, tc := range []struct {
		path, want string
	}{
		{hundred, "weights: " + hundred + ": safetensors header of 123456789 bytes does not fit in a file of 100 bytes"},
		{legacy, "weights: " + legacy + ": a .pth file in the format of PyTorch before 1.6"},
		{zipJunk, "weights: " + zipJunk + ": not a zip archive, as torch.save writes since PyTorch 1.6"},
		{empty, "weights: " + empty + ": safetensors file of 0 bytes is shorter than its 8-byte header length"},
		{dir, "weights: " + dir + ": is a directory, not a weights file"},
		{filepath.Join(dir, "missing"), "weights: open " + filepath.Join(dir, "missing") + ": no such file or directory"},
	} {
		f, err := ReadFile(tc.path)
		assert.Nil(t, f)
		require.Error(t, err)
		assert.True(t, strings.HasPrefix(err.Error(), tc.want), "%q does not start with %q", err, tc.want)
	}
}
