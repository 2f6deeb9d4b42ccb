package weights

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"math"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// assertSameFile checks that got holds the same tensors as want, floats compared bit for bit
// (NaN payloads included), and the same metadata.
func assertSameFile(t testing.TB, want, got *File) {
	t.Helper()
	require.Len(t, got.Tensors, len(want.Tensors))
	for i := range want.Tensors {
		w, g := &want.Tensors[i], &got.Tensors[i]
		assert.Equal(t, w.Name, g.Name)
		assert.Equal(t, len(w.Shape), len(g.Shape), w.Name)
		if len(w.Shape) > 0 {
			assert.Equal(t, w.Shape, g.Shape, w.Name)
		}
		assert.Equal(t, w.Dtype, g.Dtype, w.Name)
		assert.Equal(t, bits32(w.F32), bits32(g.F32), w.Name)
		assert.Equal(t, bits64(w.F64), bits64(g.F64), w.Name)
		assert.Equal(t, len(w.I64), len(g.I64), w.Name)
		if len(w.I64) > 0 {
			assert.Equal(t, w.I64, g.I64, w.Name)
		}
	}
	if len(want.Metadata) == 0 {
		assert.Empty(t, got.Metadata)
	} else {
		assert.Equal(t, want.Metadata, got.Metadata)
	}
}

func bits32(v []float32) []uint32 {
	out := make([]uint32, len(v))
	for i, x := range v {
		out[i] = math.Float32bits(x)
	}
	return out
}

func bits64(v []float64) []uint64 {
	out := make([]uint64, len(v))
	for i, x := range v {
		out[i] = math.Float64bits(x)
	}
	return out
}

// encode is WriteSafetensors to a byte slice.
func encode(t testing.TB, f *File) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, WriteSafetensors(&b, f))
	return b.Bytes()
}

// decode is ReadSafetensors of a byte slice.
func decode(b []byte) (*File, error) {
	return ReadSafetensors(bytes.NewReader(b), int64(len(b)))
}

// stFile is a safetensors file with the given header JSON (padded to a multiple of 8) and data.
func stFile(header string, data ...byte) []byte {
	for len(header)%8 != 0 {
		header += " "
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(out, header...), data...)
}

// storageEntry is a zip entry data/KEY of a .pth file.
type storageEntry struct {
	key  string
	data []byte
}

// parseStorages splits FuzzPTH's storages argument: per entry a key-length byte, the key, a
// little-endian uint32 length and that many bytes. A last entry cut short takes what is left.
func parseStorages(b []byte) []storageEntry {
	var out []storageEntry
	for len(b) > 0 {
		n := int(b[0])
		b = b[1:]
		if n > len(b) {
			break
		}
		key := string(b[:n])
		b = b[n:]
		if len(b) < 4 {
			break
		}
		size := int(binary.LittleEndian.Uint32(b))
		b = b[4:]
		size = min(size, len(b))
		out = append(out, storageEntry{key, b[:size]})
		b = b[size:]
	}
	return out
}

// buildPTH is a .pth file as torch.save lays it out: prefix/data.pkl, prefix/data/KEY for each
// storage, prefix/version, all stored uncompressed. Entries the zip writer refuses are left out.
func buildPTH(prefix string, pkl []byte, storages []storageEntry) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	add := func(name string, data []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err == nil {
			w.Write(data)
		}
	}
	add(prefix+"/data.pkl", pkl)
	for _, s := range storages {
		add(prefix+"/data/"+s.key, s.data)
	}
	add(prefix+"/version", []byte("3\n"))
	zw.Close()
	return b.Bytes()
}

// pk assembles a pickle, for tests that need one torch.save would not write.
type pk struct{ bytes.Buffer }

func newPickle() *pk {
	p := &pk{}
	p.op(opProto, 2)
	return p
}

func (p *pk) op(b ...byte) *pk { p.Write(b); return p }

func (p *pk) str(s string) *pk {
	p.op(opBinUnicode)
	p.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(s))))
	p.WriteString(s)
	return p
}

func (p *pk) int(i int) *pk {
	p.op(opBinInt)
	p.Write(binary.LittleEndian.AppendUint32(nil, uint32(int32(i))))
	return p
}

func (p *pk) global(module, name string) *pk {
	p.op(opGlobal)
	p.WriteString(module + "\n" + name + "\n")
	return p
}

func (p *pk) ints(v []int) *pk {
	p.op(opMark)
	for _, x := range v {
		p.int(x)
	}
	return p.op(opTuple)
}

// fakeTensor is a tensor entry of a state_dict pickle made by sdPickle.
type fakeTensor struct {
	name, class, key string
	numel, offset    int
	size, stride     []int
}

// tensor appends the pickle of one tensor as torch.save writes it.
func (p *pk) tensor(ft fakeTensor) *pk {
	class := ft.class
	if class == "" {
		class = "FloatStorage"
	}
	p.global("torch._utils", "_rebuild_tensor_v2").op(opMark)
	p.op(opMark).str("storage").global("torch", class).str(ft.key).str("cpu").int(ft.numel).op(opTuple, opBinPersID)
	p.int(ft.offset).ints(ft.size).ints(ft.stride).op(opNewFalse)
	p.global("collections", "OrderedDict").op(opEmptyTuple, opReduce)
	return p.op(opTuple, opReduce)
}

// sdPickle is the pickle of an OrderedDict of tensors, as torch.save writes a state_dict.
func sdPickle(tensors ...fakeTensor) []byte {
	p := newPickle().global("collections", "OrderedDict").op(opEmptyTuple, opReduce, opMark)
	for _, ft := range tensors {
		p.str(ft.name).tensor(ft)
	}
	return p.op(opSetItems, opStop).Bytes()
}

// f32Storage is the bytes of float32s 0, 1, …, n-1.
func f32Storage(n int) []byte {
	var b []byte
	for i := range n {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(i)))
	}
	return b
}

// key is the storage key of index i.
func key(i int) string { return strconv.Itoa(i) }
