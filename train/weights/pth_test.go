package weights

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readPTHBytes(b []byte) (*File, error) {
	return ReadPTH(bytes.NewReader(b), int64(len(b)))
}

// TestPTHViews: strided views of a shared storage are materialised contiguously, in row-major
// order of their indexes.
func TestPTHViews(t *testing.T) {
	storage := []storageEntry{{"0", f32Storage(12)}, {"1", binary.LittleEndian.AppendUint64(nil, uint64(1<<63+5))}}
	pkl := sdPickle(
		fakeTensor{name: "whole", key: "0", numel: 12, size: []int{3, 4}, stride: []int{4, 1}},
		fakeTensor{name: "transposed", key: "0", numel: 12, size: []int{4, 3}, stride: []int{1, 4}},
		fakeTensor{name: "column", key: "0", numel: 12, offset: 2, size: []int{3}, stride: []int{4}},
		fakeTensor{name: "corner", key: "0", numel: 12, offset: 5, size: []int{2, 2}, stride: []int{4, 1}},
		fakeTensor{name: "expanded", key: "0", numel: 12, offset: 1, size: []int{2, 3}, stride: []int{0, 1}},
		fakeTensor{name: "size-1 dim, odd stride", key: "0", numel: 12, offset: 3, size: []int{1, 2}, stride: []int{99, 1}},
		fakeTensor{name: "scalar", key: "0", numel: 12, offset: 11, size: []int{}, stride: []int{}},
		fakeTensor{name: "empty, offset at the end", key: "0", numel: 12, offset: 12, size: []int{0, 5}, stride: []int{5, 1}},
		fakeTensor{name: "long", class: "LongStorage", key: "1", numel: 1, size: []int{}, stride: []int{}},
	)
	f, err := readPTHBytes(buildPTH("my.model", pkl, storage))
	require.NoError(t, err)
	want := map[string][]float32{
		"whole":                    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
		"transposed":               {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11},
		"column":                   {2, 6, 10},
		"corner":                   {5, 6, 9, 10},
		"expanded":                 {1, 2, 3, 1, 2, 3},
		"size-1 dim, odd stride":   {3, 4},
		"scalar":                   {11},
		"empty, offset at the end": {},
	}
	require.Len(t, f.Tensors, len(want)+1)
	for name, w := range want {
		tn, ok := f.Get(name)
		require.True(t, ok, name)
		assert.Equal(t, F32, tn.Dtype)
		assert.Equal(t, w, tn.F32, name)
	}
	l, _ := f.Get("long")
	assert.Equal(t, []int64{math.MinInt64 + 5}, l.I64)
	assert.Equal(t, []int{}, l.Shape)
	assert.Equal(t, "whole", f.Tensors[0].Name, "state_dict order")
	assert.Nil(t, f.Metadata)

	// Materialised tensors do not share memory.
	a, _ := f.Get("whole")
	a.F32[0] = 100
	b, _ := f.Get("transposed")
	assert.Equal(t, float32(0), b.F32[0])
}

// TestPTHCheckpointDicts: a dict holding the state_dict under "state_dict" or "model" next to
// other values is read; the state_dict itself wins when its values are all tensors.
func TestPTHCheckpointDicts(t *testing.T) {
	storage := []storageEntry{{"0", f32Storage(4)}}
	w := fakeTensor{key: "0", numel: 4, size: []int{4}, stride: []int{1}}
	sd := func(p *pk) *pk {
		p.global("collections", "OrderedDict").op(opEmptyTuple, opReduce, opMark)
		return p.str("fc.weight").tensor(w).op(opSetItems)
	}
	for _, k := range []string{"state_dict", "model"} {
		p := newPickle().op(opEmptyDict, opMark)
		p.str("epoch").int(3).str("lr").op(opBinFloat).op(0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a)
		p.str("tensor next to it").tensor(w)
		p.str(k)
		sd(p).op(opSetItems, opStop)
		f, err := readPTHBytes(buildPTH("archive", p.Bytes(), storage))
		require.NoError(t, err, k)
		require.Len(t, f.Tensors, 1, k)
		assert.Equal(t, "fc.weight", f.Tensors[0].Name)
		assert.Equal(t, []float32{0, 1, 2, 3}, f.Tensors[0].F32)
	}
	// A _rebuild_parameter (torch.save of a dict of nn.Parameters) and a 7-argument
	// _rebuild_tensor_v2 (newer PyTorch, with metadata) read as tensors.
	p := newPickle().op(opEmptyDict).str("p").global("torch._utils", "_rebuild_parameter").op(opMark).tensor(w).op(opNewTrue)
	p.global("collections", "OrderedDict").op(opEmptyTuple, opReduce, opTuple, opReduce, opSetItem)
	p.str("m").global("torch._utils", "_rebuild_tensor_v2").op(opMark)
	p.op(opMark).str("storage").global("torch", "FloatStorage").str("0").str("cuda:0").int(4).op(opTuple, opBinPersID)
	p.int(0).ints([]int{2, 2}).ints([]int{2, 1}).op(opNewFalse).op(opEmptyDict, opEmptyDict, opTuple, opReduce, opSetItem, opStop)
	f, err := readPTHBytes(buildPTH("archive", p.Bytes(), storage))
	require.NoError(t, err)
	require.Len(t, f.Tensors, 2)
	assert.Equal(t, []int{2, 2}, f.Tensors[1].Shape)
}

// TestPTHBad: damaged and hostile .pth files give an error that names the problem.
func TestPTHBad(t *testing.T) {
	four := []storageEntry{{"0", f32Storage(4)}}
	ok := fakeTensor{name: "w", key: "0", numel: 4, size: []int{4}, stride: []int{1}}
	good := sdPickle(ok)
	with := func(edit func(*fakeTensor)) []byte {
		ft := ok
		edit(&ft)
		return sdPickle(ft)
	}
	zipOf := func(entries ...storageEntry) []byte {
		var b bytes.Buffer
		zw := zip.NewWriter(&b)
		for _, e := range entries {
			method := zip.Store
			if e.key == "archive/data/0" && len(entries) == 2 {
				method = zip.Deflate
			}
			w, err := zw.CreateHeader(&zip.FileHeader{Name: e.key, Method: method})
			require.NoError(t, err)
			w.Write(e.data)
		}
		require.NoError(t, zw.Close())
		return b.Bytes()
	}
	valid := buildPTH("archive", good, four)
	corrupt := bytes.Clone(valid)
	i := bytes.Index(corrupt, []byte("FloatStorage"))
	corrupt[i] = 'G'

	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		// The archive.
		{"truncated", valid[:len(valid)/2], "not a zip archive, as torch.save writes since PyTorch 1.6: zip: not a valid zip file"},
		{"wrong magic", append([]byte("PX"), valid[2:]...), "zip entry archive/data.pkl: zip: not a valid zip file"},
		{"not a zip", []byte("hello, world"), "not a zip archive"},
		{"legacy format", []byte("\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19."), "a .pth file in the format of PyTorch before 1.6"},
		{"corrupted byte", corrupt, "zip entry archive/data.pkl: zip: checksum error"},
		{"no data.pkl", zipOf(storageEntry{"archive/data/0", f32Storage(4)}), "zip archive has no PREFIX/data.pkl entry: not a file of torch.save"},
		{"data.pkl at the root", zipOf(storageEntry{"data.pkl", good}), "no PREFIX/data.pkl entry"},
		{"two data.pkl", zipOf(storageEntry{"b/data.pkl", good}, storageEntry{"a/data.pkl", good}, storageEntry{"c", nil}),
			"zip archive has 2 data.pkl entries (a/data.pkl, b/data.pkl)"},
		{"duplicate entries", zipOf(storageEntry{"archive/data.pkl", good}, storageEntry{"archive/data.pkl", good}, storageEntry{"c", nil}),
			`zip archive has two entries called "archive/data.pkl"`},
		{"compressed storage", zipOf(storageEntry{"archive/data.pkl", good}, storageEntry{"archive/data/0", f32Storage(4)}),
			"zip entry archive/data/0 is compressed (method 8); torch.save stores its entries uncompressed"},
		{"big-endian", zipOf(storageEntry{"archive/data.pkl", good}, storageEntry{"archive/data/0", f32Storage(4)}, storageEntry{"archive/byteorder", []byte("big")}),
			`byteorder is "big": only little-endian files are supported`},

		// Storages.
		{"missing storage", buildPTH("archive", good, nil), `storage "0": the zip archive has no entry archive/data/0`},
		{"storage too short", buildPTH("archive", good, []storageEntry{{"0", f32Storage(3)}}),
			`storage "0": 4 elements of torch.FloatStorage do not fill its zip entry of 12 bytes`},
		{"storage size overflows", buildPTH("archive", with(func(f *fakeTensor) { f.numel = math.MaxInt32 }), four),
			`storage "0": 2147483647 elements of torch.FloatStorage do not fill its zip entry of 16 bytes`},
		{"unsupported storage", buildPTH("archive", with(func(f *fakeTensor) { f.class = "IntStorage" }), four),
			"storage type torch.IntStorage is not supported (want FloatStorage, DoubleStorage, LongStorage, HalfStorage or BFloat16Storage)"},
		{"unknown storage", buildPTH("archive", with(func(f *fakeTensor) { f.class = "FooStorage" }), four),
			"the pickle refers to torch.FooStorage, which a state_dict does not need"},

		// Tensors.
		{"offset past the end", buildPTH("archive", with(func(f *fakeTensor) { f.offset = 1 }), four),
			`tensor "w": size [4], stride [1] at offset 1 reach past the end of storage "0" of 4 elements`},
		{"stride past the end", buildPTH("archive", with(func(f *fakeTensor) { f.size, f.stride = []int{2, 2}, []int{3, 1} }), four),
			`tensor "w": size [2 2], stride [3 1] at offset 0 reach past the end of storage "0" of 4 elements`},
		{"stride overflows", buildPTH("archive", with(func(f *fakeTensor) { f.size, f.stride = []int{3}, []int{math.MaxInt32} }), four),
			`reach past the end of storage "0"`},
		{"scalar past the end", buildPTH("archive", with(func(f *fakeTensor) { f.offset, f.size, f.stride = 4, nil, nil }), four),
			`tensor "w": offset 4 is past the end of storage "0" of 4 elements`},
		{"negative stride", buildPTH("archive", with(func(f *fakeTensor) { f.stride = []int{-1} }), four), "stride -1 is out of range"},
		{"negative size", buildPTH("archive", with(func(f *fakeTensor) { f.size = []int{-4} }), four), "size -4 is out of range"},
		{"negative offset", buildPTH("archive", with(func(f *fakeTensor) { f.offset = -1 }), four), "storage offset -1 is out of range"},
		{"stride of another rank", buildPTH("archive", with(func(f *fakeTensor) { f.stride = []int{1, 1} }), four), "tensor of size [4] has stride [1 1]"},
		{"size product overflows", buildPTH("archive", with(func(f *fakeTensor) {
			f.size, f.stride = []int{1 << 30, 1 << 30, 1 << 30}, []int{0, 0, 0}
		}), four), `tensor "w": size [1073741824 1073741824 1073741824]: 1073741824 x 1073741824 x 1073741824 = 1237940039285380274899124224, more than`},
		{"expanded past the budget", buildPTH("archive", with(func(f *fakeTensor) { f.size, f.stride = []int{1 << 20, 4}, []int{0, 1} }), four),
			`tensor "w": size [1048576 4]: 1048576 x 4 = 4194304, more than`},

		// The pickle.
		{"not a dict", buildPTH("archive", newPickle().int(3).op(opStop).Bytes(), nil), "archive/data.pkl: the pickle holds a int, not a state_dict (a dict of tensors)"},
		{"dict of numbers", buildPTH("archive", newPickle().op(opEmptyDict).str("epoch").int(3).op(opSetItem, opStop).Bytes(), nil),
			`the pickle holds a dict that is not a state_dict, nor holds one under "state_dict" or "model": entry "epoch" is a int, not a tensor`},
		{"state_dict of numbers", buildPTH("archive", newPickle().op(opEmptyDict).str("state_dict").op(opEmptyDict).str("a").op(opNone, opSetItem, opSetItem, opStop).Bytes(), nil),
			`entry "state_dict" is a dict, not a tensor`},
		{"int keys", buildPTH("archive", newPickle().op(opEmptyDict).int(0).str("x").op(opSetItem, opStop).Bytes(), nil), "a key is a int, not a string"},
		{"forbidden global", buildPTH("archive", newPickle().global("os", "system").str("ls").op(opTuple1, opReduce, opStop).Bytes(), nil),
			"archive/data.pkl: pickle byte 2: the pickle refers to os.system, which a state_dict does not need (allowed: collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and torch.*Storage)"},
		{"forbidden stack global", buildPTH("archive", newPickle().str("builtins").str("eval").op(opStackGlobal, opStop).Bytes(), nil),
			"the pickle refers to builtins.eval"},
		{"a whole model", buildPTH("archive", newPickle().global("torch.nn.modules.conv", "Conv2d").op(opStop).Bytes(), nil),
			"the pickle refers to torch.nn.modules.conv.Conv2d, which a state_dict does not need"},
		{"call a storage class", buildPTH("archive", newPickle().global("torch", "FloatStorage").op(opEmptyTuple, opReduce, opStop).Bytes(), nil),
			"torch.FloatStorage cannot be called"},
		{"call a number", buildPTH("archive", newPickle().int(1).op(opEmptyTuple, opReduce, opStop).Bytes(), nil), "REDUCE calls a int"},
		{"OrderedDict with arguments", buildPTH("archive", newPickle().global("collections", "OrderedDict").op(opEmptyList, opTuple1, opReduce, opStop).Bytes(), nil),
			"collections.OrderedDict called with 1 arguments, want none"},
		{"rebuild with 2 arguments", buildPTH("archive", newPickle().global("torch._utils", "_rebuild_tensor_v2").int(1).int(2).op(opTuple2, opReduce, opStop).Bytes(), nil),
			"torch._utils._rebuild_tensor_v2 called with 2 arguments, want 6 or 7"},
		{"rebuild a number", buildPTH("archive", newPickle().global("torch._utils", "_rebuild_tensor_v2").op(opMark).int(1).int(0).op(opEmptyTuple, opEmptyTuple, opNewFalse, opNone, opTuple, opReduce, opStop).Bytes(), nil),
			"torch._utils._rebuild_tensor_v2 of a int, not a storage"},
		{"persistent id not a storage", buildPTH("archive", newPickle().str("module").op(opBinPersID, opStop).Bytes(), nil),
			"persistent id is a str, not a tuple ('storage', type, key, location, numel)"},
		{"persistent id of another kind", buildPTH("archive", newPickle().op(opMark).str("file").int(1).int(2).int(3).int(4).op(opTuple, opBinPersID, opStop).Bytes(), nil),
			`persistent id of kind "file", not 'storage'`},
		{"BUILD on a list", buildPTH("archive", newPickle().op(opEmptyList, opEmptyDict, opBuild, opStop).Bytes(), nil),
			"BUILD of a list from a dict: only a dict's attributes may be set"},
		{"unsupported opcode", buildPTH("archive", newPickle().op(0x81).op(opStop).Bytes(), nil),
			"pickle opcode NEWOBJ is not supported (torch.save does not emit it for a state_dict)"},
		{"unknown opcode", buildPTH("archive", newPickle().op(0xff).op(opStop).Bytes(), nil), "pickle byte 2: unknown pickle opcode 0xff"},
		{"empty pickle", buildPTH("archive", nil, nil), "archive/data.pkl: pickle byte 0: the pickle ends without STOP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := readPTHBytes(tc.b)
			require.Error(t, err)
			assert.Nil(t, f)
			assert.Equal(t, "weights: ", err.Error()[:9])
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestPTHTiedBudget: a pickle that names one storage many times (tied weights, or a hostile
// file multiplying a storage through the memo) may materialise at most outFactor times the
// file's size.
func TestPTHTiedBudget(t *testing.T) {
	const n = 1 << 16 // 256 KiB of float32
	storage := []storageEntry{{"0", f32Storage(n)}}
	tied := func(copies int) []byte {
		p := newPickle().global("collections", "OrderedDict").op(opEmptyTuple, opReduce, opMark)
		p.str("t0").tensor(fakeTensor{key: "0", numel: n, size: []int{n}, stride: []int{1}}).op(opLongBinPut, 0, 0, 1, 0)
		for i := 1; i < copies; i++ {
			p.str("t"+key(i)).op(opLongBinGet, 0, 0, 1, 0)
		}
		return p.op(opSetItems, opStop).Bytes()
	}
	f, err := readPTHBytes(buildPTH("archive", tied(2), storage))
	require.NoError(t, err, "two names for one storage are fine")
	assert.Equal(t, f.Tensors[0].F32, f.Tensors[1].F32)

	_, err = readPTHBytes(buildPTH("archive", tied(1000), storage))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `tensor "t12": size [65536]: 65536, more than`)
}
