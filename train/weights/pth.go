package weights

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/resnet-go/resnet/train/internal/bounds"
)

const (
	// zipMagic starts a zip archive, and so every .pth file of PyTorch ≥ 1.6.
	zipMagic = "PK\x03\x04"
	// legacyPTHMagic starts a .pth file of PyTorch < 1.6: a pickle (protocol 2) of a LONG1 magic
	// number.
	legacyPTHMagic = "\x80\x02\x8a"
	// maxPickle bounds data.pkl. A resnet152 state_dict's is about 60 KB; the maxValues
	// values a pickle may build take less than 32 MB.
	maxPickle = 64 << 20
	// outFactor bounds the tensors ReadPTH materialises to this many times the file's size
	// (plus bounds.MaxUnbacked): a state_dict's tensors usually cover their storages once, but
	// half-precision data is widened to float32 and tied weights (two names, one storage) are
	// copied once per name.
	outFactor = 8
)

var errLegacyPTH = errors.New("a .pth file in the format of PyTorch before 1.6 (a bare pickle, not a zip archive), which is not supported: load it and torch.save it again with a newer PyTorch")

// storageTypes maps torch's storage classes to the dtype of their elements as stored; the ones
// mapped to "" are known but not supported.
var storageTypes = map[string]Dtype{
	"FloatStorage": F32, "DoubleStorage": F64, "LongStorage": I64, "HalfStorage": f16,
	"BFloat16Storage": bf16,
	"IntStorage":      "", "ShortStorage": "", "CharStorage": "", "ByteStorage": "",
	"BoolStorage": "", "ComplexFloatStorage": "", "ComplexDoubleStorage": "",
	"QInt8Storage": "", "QUInt8Storage": "", "QInt32Storage": "", "QUInt4x2Storage": "",
	"QUInt2x4Storage": "",
}

// The globals a state_dict pickle may name.
const (
	globalOrderedDict     = "collections.OrderedDict"
	globalRebuildTensor   = "torch._utils._rebuild_tensor_v2"
	globalRebuildParam    = "torch._utils._rebuild_parameter"
	allowedGlobalsMessage = globalOrderedDict + ", " + globalRebuildTensor + ", " + globalRebuildParam + " and torch.*Storage"
)

// pyGlobal is an allowed global of the pickle.
type pyGlobal struct{ module, name string }

func (g *pyGlobal) String() string { return g.module + "." + g.name }

// pyStorage is a storage that a tensor of the pickle views: the zip entry data/KEY, holding
// numel elements of dtype.
type pyStorage struct {
	key   string
	class string // e.g. FloatStorage
	dtype Dtype  // as stored: F32, F64, I64, F16 or BF16
	numel int
	entry *zip.File
}

// pyTensor is torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …): the elements
// storage[offset + Σ i_k·stride_k] for 0 ≤ i_k < size_k, in row-major order of i.
type pyTensor struct {
	storage      *pyStorage
	offset       int
	size, stride []int
}

// ReadPTH reads a PyTorch file of size bytes from r, as written by torch.save(model.state_dict())
// in PyTorch ≥ 1.6: a zip archive whose PREFIX/data.pkl is a pickle of an OrderedDict of tensors,
// whose storages are the entries PREFIX/data/KEY. It runs no Python and executes nothing the
// pickle asks for: only the globals a state_dict needs are allowed (collections.OrderedDict,
// torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and torch.*Storage), and any
// other is refused with an error naming it. A dict holding the state_dict under the key
// "state_dict" or "model" (a common checkpoint layout) is accepted too; its other entries may
// be any plain values (numbers, strings, lists, dicts, tensors). Storages of float32, float64,
// int64, float16 and bfloat16 are supported, the last two widened to F32. Views (slices,
// transposes, tensors sharing a storage) are copied into contiguous tensors. The tensors are in
// the order of the state_dict; File.Metadata is nil.
func ReadPTH(r io.ReaderAt, size int64) (*File, error) {
	f, err := readPTH(r, size)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	return f, nil
}

// pthReader holds what reading one .pth file needs.
type pthReader struct {
	r       io.ReaderAt
	size    int64
	prefix  string
	entries map[string]*zip.File
	raw     map[string][]byte // storage bytes by key, read once
	rawLeft int64             // bytes of zip entries that may still be read
	outLeft int               // bytes of tensors that may still be materialised
}

func readPTH(r io.ReaderAt, size int64) (*File, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		var magic [3]byte
		if n, _ := r.ReadAt(magic[:], 0); n == 3 && string(magic[:]) == legacyPTHMagic {
			return nil, errLegacyPTH
		}
		return nil, fmt.Errorf("not a zip archive, as torch.save writes since PyTorch 1.6: %w", err)
	}
	p := &pthReader{r: r, size: size, entries: map[string]*zip.File{}, raw: map[string][]byte{}, rawLeft: size}
	p.outLeft = int(min(int64(math.MaxInt/outFactor/2), size))*outFactor + bounds.MaxUnbacked
	var pkls []string
	for _, zf := range zr.File {
		if _, dup := p.entries[zf.Name]; dup {
			return nil, fmt.Errorf("zip archive has two entries called %q", zf.Name)
		}
		p.entries[zf.Name] = zf
		if dir, ok := strings.CutSuffix(zf.Name, "/data.pkl"); ok && dir != "" && !strings.Contains(dir, "/") {
			pkls = append(pkls, zf.Name)
		}
	}
	switch len(pkls) {
	case 0:
		return nil, errors.New("zip archive has no PREFIX/data.pkl entry: not a file of torch.save")
	case 1:
	default:
		sort.Strings(pkls)
		return nil, fmt.Errorf("zip archive has %d data.pkl entries (%s): not a file of torch.save", len(pkls), strings.Join(pkls, ", "))
	}
	p.prefix = strings.TrimSuffix(pkls[0], "data.pkl")
	if bo, ok := p.entries[p.prefix+"byteorder"]; ok { // written by PyTorch ≥ 2.1
		b, err := p.readEntry(bo, 16)
		if err != nil {
			return nil, err
		}
		if string(b) != "little" {
			return nil, fmt.Errorf("byteorder is %q: only little-endian files are supported", b)
		}
	}
	pkl, err := p.readEntry(p.entries[pkls[0]], maxPickle)
	if err != nil {
		return nil, err
	}
	u := &unpickler{in: pkl, global: findGlobal, reduce: reduce, persistent: p.storage}
	top, err := u.run()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pkls[0], err)
	}
	sd, err := stateDict(top)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pkls[0], err)
	}
	f := &File{Tensors: make([]Tensor, len(sd.keys))}
	for i, k := range sd.keys {
		name := k.(string) // checked by stateDict
		f.Tensors[i], err = p.materialise(name, sd.vals[i].(*pyTensor))
		if err != nil {
			return nil, err
		}
	}
	return f, nil
}

// readEntry reads a zip entry of at most limit bytes, checking its CRC. Entries must be stored
// uncompressed, as torch.save writes them, and lie inside the file; in all, no more bytes than
// the file has are read (a hostile archive can point many entries at the same bytes).
func (p *pthReader) readEntry(zf *zip.File, limit int64) ([]byte, error) {
	if zf.Method != zip.Store {
		return nil, fmt.Errorf("zip entry %s is compressed (method %d); torch.save stores its entries uncompressed", zf.Name, zf.Method)
	}
	n := zf.UncompressedSize64
	if zf.CompressedSize64 != n {
		return nil, fmt.Errorf("zip entry %s is stored but has a compressed size of %d bytes and an uncompressed size of %d", zf.Name, zf.CompressedSize64, n)
	}
	if n > uint64(limit) {
		return nil, fmt.Errorf("zip entry %s of %d bytes is larger than the %d bytes allowed", zf.Name, n, limit)
	}
	off, err := zf.DataOffset()
	if err != nil {
		return nil, fmt.Errorf("zip entry %s: %w", zf.Name, err)
	}
	if off < 0 || off > p.size || n > uint64(p.size-off) {
		return nil, fmt.Errorf("zip entry %s of %d bytes at offset %d runs past the end of the file of %d bytes", zf.Name, n, off, p.size)
	}
	if int64(n) > p.rawLeft {
		return nil, fmt.Errorf("zip entry %s: the archive's entries hold more bytes than the file", zf.Name)
	}
	p.rawLeft -= int64(n)
	rc, err := zf.Open()
	if err != nil {
		return nil, fmt.Errorf("zip entry %s: %w", zf.Name, err)
	}
	defer rc.Close()
	b := make([]byte, n)
	if _, err := io.ReadFull(rc, b); err != nil {
		return nil, fmt.Errorf("zip entry %s: %w", zf.Name, err)
	}
	// Reading on to the end makes archive/zip check the CRC.
	if _, err := rc.Read(make([]byte, 1)); err != io.EOF {
		if err == nil {
			err = errors.New("longer than its size")
		}
		return nil, fmt.Errorf("zip entry %s: %w", zf.Name, err)
	}
	return b, nil
}

// findGlobal allows the globals of a state_dict and refuses any other.
func findGlobal(module, name string) (any, error) {
	g := &pyGlobal{module, name}
	switch g.String() {
	case globalOrderedDict, globalRebuildTensor, globalRebuildParam:
		return g, nil
	}
	if _, ok := storageTypes[name]; ok && module == "torch" {
		return g, nil
	}
	name = strings.ToValidUTF8(g.String(), "\uFFFD")
	if len(name) > 100 {
		name = name[:100] + "…"
	}
	return nil, fmt.Errorf("the pickle refers to %s, which a state_dict does not need (allowed: %s)", name, allowedGlobalsMessage)
}

// reduce applies an allowed global to its arguments.
func reduce(callable any, args pyTuple) (any, error) {
	g, ok := callable.(*pyGlobal)
	if !ok {
		return nil, fmt.Errorf("REDUCE calls a %s", pyType(callable))
	}
	switch g.String() {
	case globalOrderedDict:
		if len(args) != 0 {
			return nil, fmt.Errorf("%s called with %d arguments, want none", g, len(args))
		}
		return &pyDict{}, nil
	case globalRebuildTensor:
		return rebuildTensor(args)
	case globalRebuildParam: // (data, requires_grad, backward_hooks)
		if len(args) != 3 {
			return nil, fmt.Errorf("%s called with %d arguments, want 3", g, len(args))
		}
		t, ok := args[0].(*pyTensor)
		if !ok {
			return nil, fmt.Errorf("%s of a %s, not a tensor", g, pyType(args[0]))
		}
		return t, nil
	}
	return nil, fmt.Errorf("%s cannot be called", g)
}

// rebuildTensor checks the arguments of _rebuild_tensor_v2(storage, storage_offset, size,
// stride, requires_grad, backward_hooks[, metadata]); the last three do not matter here.
func rebuildTensor(args pyTuple) (any, error) {
	if len(args) != 6 && len(args) != 7 {
		return nil, fmt.Errorf("%s called with %d arguments, want 6 or 7", globalRebuildTensor, len(args))
	}
	st, ok := args[0].(*pyStorage)
	if !ok {
		return nil, fmt.Errorf("%s of a %s, not a storage", globalRebuildTensor, pyType(args[0]))
	}
	t := &pyTensor{storage: st}
	var err error
	if t.offset, err = toInt(args[1], "storage offset"); err != nil {
		return nil, err
	}
	if t.size, err = toInts(args[2], "size"); err != nil {
		return nil, err
	}
	if t.stride, err = toInts(args[3], "stride"); err != nil {
		return nil, err
	}
	if len(t.size) != len(t.stride) {
		return nil, fmt.Errorf("tensor of size %v has stride %v", t.size, t.stride)
	}
	return t, nil
}

// toInt is v as a non-negative int.
func toInt(v any, what string) (int, error) {
	i, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("%s is a %s, not an int", what, pyType(v))
	}
	if i < 0 || uint64(i) > math.MaxInt {
		return 0, fmt.Errorf("%s %d is out of range", what, i)
	}
	return int(i), nil
}

// toInts is a tuple of non-negative ints.
func toInts(v any, what string) ([]int, error) {
	t, ok := v.(pyTuple)
	if !ok {
		return nil, fmt.Errorf("%s is a %s, not a tuple", what, pyType(v))
	}
	out := make([]int, len(t))
	for i, x := range t {
		var err error
		if out[i], err = toInt(x, what); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// storage resolves a persistent id ('storage', torch.XStorage, key, location, numel) to the zip
// entry data/KEY, checking that it holds numel elements.
func (p *pthReader) storage(pid any) (any, error) {
	t, ok := pid.(pyTuple)
	if !ok || len(t) != 5 {
		return nil, fmt.Errorf("persistent id is a %s, not a tuple ('storage', type, key, location, numel)", describeTuple(pid))
	}
	if s, ok := t[0].(string); !ok || s != "storage" {
		return nil, fmt.Errorf("persistent id of kind %s, not 'storage'", describeValue(t[0]))
	}
	g, ok := t[1].(*pyGlobal)
	if !ok || g.module != "torch" {
		return nil, fmt.Errorf("storage type is a %s, not a torch storage class", pyType(t[1]))
	}
	dtype, ok := storageTypes[g.name]
	if !ok || dtype == "" {
		return nil, fmt.Errorf("storage type %s is not supported (want FloatStorage, DoubleStorage, LongStorage, HalfStorage or BFloat16Storage)", g)
	}
	key, ok := t[2].(string)
	if !ok {
		return nil, fmt.Errorf("storage key is a %s, not a string", pyType(t[2]))
	}
	if _, ok := t[3].(string); !ok {
		return nil, fmt.Errorf("storage location is a %s, not a string", pyType(t[3]))
	}
	numel, err := toInt(t[4], "storage size")
	if err != nil {
		return nil, err
	}
	name := p.prefix + "data/" + key
	zf, ok := p.entries[name]
	if !ok {
		return nil, fmt.Errorf("storage %q: the zip archive has no entry %s", key, name)
	}
	es := storedSize(dtype)
	if nbytes, err := bounds.Product(math.MaxInt, numel, es); err != nil || uint64(nbytes) != zf.UncompressedSize64 {
		return nil, fmt.Errorf("storage %q: %d elements of %s do not fill its zip entry of %d bytes", key, numel, g, zf.UncompressedSize64)
	}
	return &pyStorage{key: key, class: g.name, dtype: dtype, numel: numel, entry: zf}, nil
}

// describeTuple names v's type, with its length when it is a tuple.
func describeTuple(v any) string {
	if t, ok := v.(pyTuple); ok {
		return fmt.Sprintf("tuple of %d", len(t))
	}
	return pyType(v)
}

// describeValue is a string value quoted, or the type of any other.
func describeValue(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s[:min(len(s), 32)])
	}
	return pyType(v)
}

// stateDict finds the state_dict in what the pickle holds: the dict itself when all its values
// are tensors, or its "state_dict" or "model" entry when that is one.
func stateDict(top any) (*pyDict, error) {
	d, ok := top.(*pyDict)
	if !ok {
		return nil, fmt.Errorf("the pickle holds a %s, not a state_dict (a dict of tensors)", pyType(top))
	}
	bad := checkStateDict(d)
	if bad == nil {
		return d, nil
	}
	for _, k := range []string{"state_dict", "model"} {
		if v, ok := d.get(k); ok {
			if inner, ok := v.(*pyDict); ok {
				if checkStateDict(inner) == nil {
					return inner, nil
				}
			}
		}
	}
	return nil, fmt.Errorf("the pickle holds a dict that is not a state_dict, nor holds one under \"state_dict\" or \"model\": %w", bad)
}

// checkStateDict returns an error when d is not a dict of tensors with string keys.
func checkStateDict(d *pyDict) error {
	for i, k := range d.keys {
		name, ok := k.(string)
		if !ok {
			return fmt.Errorf("a key is a %s, not a string", pyType(k))
		}
		if _, ok := d.vals[i].(*pyTensor); !ok {
			return fmt.Errorf("entry %q is a %s, not a tensor", name, pyType(d.vals[i]))
		}
	}
	return nil
}

// materialise copies the elements of t into a contiguous tensor called name, after checking
// that they lie inside its storage and that they fit in what may still be allocated.
func (p *pthReader) materialise(name string, t *pyTensor) (Tensor, error) {
	st := t.storage
	out := Tensor{Name: name, Shape: append([]int{}, t.size...)}
	outSize := 4
	switch st.dtype {
	case F64:
		out.Dtype, outSize = F64, 8
	case I64:
		out.Dtype, outSize = I64, 8
	default:
		out.Dtype = F32
	}
	n, err := bounds.Product(p.outLeft/outSize, t.size...)
	if err != nil {
		return out, fmt.Errorf("tensor %q: size %v: %w elements (what a file of %d bytes may hold)", name, t.size, err, p.size)
	}
	p.outLeft -= n * outSize
	// The last element, offset + Σ (size_k - 1)·stride_k, must lie inside the storage; each step
	// is checked against the storage's size, so the sum cannot wrap.
	if n > 0 {
		last := t.offset
		for k := range t.size {
			step, err := bounds.Product(st.numel, t.size[k]-1, t.stride[k])
			if err != nil || last >= st.numel || step >= st.numel-last {
				return out, fmt.Errorf("tensor %q: size %v, stride %v at offset %d reach past the end of storage %q of %d elements",
					name, t.size, t.stride, t.offset, st.key, st.numel)
			}
			last += step
		}
		if last >= st.numel {
			return out, fmt.Errorf("tensor %q: offset %d is past the end of storage %q of %d elements", name, t.offset, st.key, st.numel)
		}
	}
	raw, ok := p.raw[st.key]
	if !ok {
		if raw, err = p.readEntry(st.entry, math.MaxInt64); err != nil {
			return out, err
		}
		p.raw[st.key] = raw
	}
	switch out.Dtype {
	case F32:
		out.F32 = make([]float32, n)
	case F64:
		out.F64 = make([]float64, n)
	case I64:
		out.I64 = make([]int64, n)
	}
	es := storedSize(st.dtype)
	if n == 0 {
		return out, nil
	}
	if contiguous(t.size, t.stride) {
		decodeLE(st.dtype, raw[t.offset*es:(t.offset+n)*es], out.F32, out.F64, out.I64)
		return out, nil
	}
	// Walk the index i in row-major order, keeping pos = offset + Σ i_k·stride_k.
	idx := make([]int, len(t.size))
	pos := t.offset
	for j := range n {
		src := raw[pos*es : (pos+1)*es]
		decodeLE(st.dtype, src, out.F32[min(j, len(out.F32)):], out.F64[min(j, len(out.F64)):], out.I64[min(j, len(out.I64)):])
		for k := len(idx) - 1; k >= 0; k-- {
			idx[k]++
			pos += t.stride[k]
			if idx[k] < t.size[k] {
				break
			}
			pos -= idx[k] * t.stride[k]
			idx[k] = 0
		}
	}
	return out, nil
}

// contiguous reports whether stride is the row-major stride of size (dims of size 1 may have
// any stride).
func contiguous(size, stride []int) bool {
	want := 1
	for k := len(size) - 1; k >= 0; k-- {
		if size[k] != 1 && stride[k] != want {
			return false
		}
		want *= size[k]
	}
	return true
}
