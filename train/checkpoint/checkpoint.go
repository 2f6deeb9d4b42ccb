package checkpoint

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/resnet-go/resnet/train/internal/bounds"
)

// Element types of a Tensor, as written in the header.
const (
	Float32 = "float32"
	Float64 = "float64"
)

const (
	magic   = "RESNETGO-CKPT\n"
	version = 1
	// prefixLen is magic + version + header length.
	prefixLen = len(magic) + 4 + 8
	crcLen    = 4
	// chunk is the size of the buffer tensor data is encoded into and decoded from, so that
	// neither direction needs a second copy of a whole tensor.
	chunk = 64 << 10
)

// Tensor is one named array; exactly one of F32/F64 is set, matching Dtype. Elements are in
// row-major order, len(F32) or len(F64) being the product of Shape (1 for a scalar).
type Tensor struct {
	Name  string
	Shape []int
	Dtype string // Float32 or Float64
	F32   []float32
	F64   []float64
}

// File is the content of a checkpoint: the caller's metadata and the tensors.
type File struct {
	// Meta is the caller's metadata (run config, epoch, step, model name…). It must be valid JSON
	// or empty; it is stored compacted, and comes back nil when it was empty or null.
	Meta    json.RawMessage
	Tensors []Tensor
}

// Get returns the tensor called name, so that a loader can look parameters up by name instead of
// depending on the order they were saved in.
func (f *File) Get(name string) (*Tensor, bool) {
	if f == nil {
		return nil, false
	}
	for i := range f.Tensors {
		if f.Tensors[i].Name == name {
			return &f.Tensors[i], true
		}
	}
	return nil, false
}

type header struct {
	Meta    json.RawMessage `json:"meta"`
	Tensors []entry         `json:"tensors"`
}

type entry struct {
	Name   string `json:"name"`
	Shape  []int  `json:"shape"`
	Dtype  string `json:"dtype"`
	Offset uint64 `json:"offset"`
	Length uint64 `json:"length"`
}

func elemSize(dtype string) int {
	switch dtype {
	case Float32:
		return 4
	case Float64:
		return 8
	}
	return 0
}

// numElems is the product of shape, or an error for a negative dimension or a product above
// math.MaxInt/8, so that the size in bytes of any element type fits an int.
func numElems(shape []int) (int, error) {
	n, err := bounds.Product(math.MaxInt/8, shape...)
	if err != nil {
		return 0, fmt.Errorf("shape %v: %w", shape, err)
	}
	return n, nil
}

// validate checks f and returns the header Save writes for it.
func validate(f *File) (*header, error) {
	if f == nil {
		return nil, errors.New("nil File")
	}
	h := &header{Meta: f.Meta, Tensors: make([]entry, len(f.Tensors))}
	if len(h.Meta) == 0 {
		h.Meta = json.RawMessage("null")
	} else if !json.Valid(h.Meta) {
		return nil, errors.New("Meta is not valid JSON")
	}
	seen := make(map[string]bool, len(f.Tensors))
	var off uint64
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if t.Name == "" {
			return nil, fmt.Errorf("tensor %d has no name", i)
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("duplicate tensor name %q", t.Name)
		}
		seen[t.Name] = true
		n, err := numElems(t.Shape)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		var have, other int
		switch t.Dtype {
		case Float32:
			have, other = len(t.F32), len(t.F64)
		case Float64:
			have, other = len(t.F64), len(t.F32)
		default:
			return nil, fmt.Errorf("tensor %q: unknown dtype %q (want %q or %q)", t.Name, t.Dtype, Float32, Float64)
		}
		if other != 0 {
			return nil, fmt.Errorf("tensor %q: dtype is %s but the other element slice holds %d values", t.Name, t.Dtype, other)
		}
		if have != n {
			return nil, fmt.Errorf("tensor %q: shape %v needs %d elements, have %d", t.Name, t.Shape, n, have)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		length := uint64(n) * uint64(elemSize(t.Dtype))
		h.Tensors[i] = entry{Name: t.Name, Shape: shape, Dtype: t.Dtype, Offset: off, Length: length}
		off += length
	}
	return h, nil
}

// Save writes f to path atomically: the data goes to a temporary file in the same directory, which
// is synced and then renamed over path, and the directory is synced. On failure the temporary file
// is removed and a file already at path is left as it was, so a crash mid-save never loses the
// previous checkpoint.
func Save(path string, f *File) error {
	return save(path, f, nil)
}

// save is Save with wrap, when not nil, interposed between the encoder and the temporary file, so
// that a test can make the write fail part way.
func save(path string, f *File, wrap func(io.Writer) io.Writer) (err error) {
	h, err := validate(f)
	if err != nil {
		return fmt.Errorf("checkpoint: saving %s: %w", path, err)
	}
	hdr, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("checkpoint: saving %s: encoding header: %w", path, err)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, base+".tmp-*")
	if err != nil {
		return fmt.Errorf("checkpoint: saving %s: %w", path, err)
	}
	tmpName := tmp.Name()
	renamed := false
	defer func() {
		if !renamed {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()

	var w io.Writer = tmp
	if wrap != nil {
		w = wrap(tmp)
	}
	if err := encode(w, hdr, f); err != nil {
		return fmt.Errorf("checkpoint: saving %s: writing %s: %w", path, tmpName, err)
	}
	// CreateTemp makes the file private (0600); a checkpoint is as shareable as any output file.
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("checkpoint: saving %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("checkpoint: saving %s: syncing %s: %w", path, tmpName, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("checkpoint: saving %s: closing %s: %w", path, tmpName, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("checkpoint: saving %s: %w", path, err)
	}
	renamed = true
	// Sync the directory so that the rename itself survives a power loss.
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("checkpoint: saving %s: syncing directory: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("checkpoint: saving %s: syncing directory %s: %w", path, dir, err)
	}
	return nil
}

// encode writes the whole file format to w.
func encode(w io.Writer, hdr []byte, f *File) error {
	bw := bufio.NewWriterSize(w, chunk)
	sum := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	mw := io.MultiWriter(bw, sum)

	var pre [prefixLen]byte
	copy(pre[:], magic)
	binary.LittleEndian.PutUint32(pre[len(magic):], version)
	binary.LittleEndian.PutUint64(pre[len(magic)+4:], uint64(len(hdr)))
	if _, err := mw.Write(pre[:]); err != nil {
		return err
	}
	if _, err := mw.Write(hdr); err != nil {
		return err
	}
	buf := make([]byte, chunk)
	for i := range f.Tensors {
		t := &f.Tensors[i]
		var err error
		if t.Dtype == Float32 {
			err = writeF32(mw, buf, t.F32)
		} else {
			err = writeF64(mw, buf, t.F64)
		}
		if err != nil {
			return err
		}
	}
	var tail [crcLen]byte
	binary.LittleEndian.PutUint32(tail[:], sum.Sum32())
	if _, err := bw.Write(tail[:]); err != nil {
		return err
	}
	return bw.Flush()
}

func writeF32(w io.Writer, buf []byte, x []float32) error {
	for len(x) > 0 {
		n := min(len(x), len(buf)/4)
		for i, v := range x[:n] {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		if _, err := w.Write(buf[:4*n]); err != nil {
			return err
		}
		x = x[n:]
	}
	return nil
}

func writeF64(w io.Writer, buf []byte, x []float64) error {
	for len(x) > 0 {
		n := min(len(x), len(buf)/8)
		for i, v := range x[:n] {
			binary.LittleEndian.PutUint64(buf[8*i:], math.Float64bits(v))
		}
		if _, err := w.Write(buf[:8*n]); err != nil {
			return err
		}
		x = x[n:]
	}
	return nil
}

// Load reads and checks the checkpoint at path. Every byte is checked against the CRC before the
// File is returned, so a truncated or damaged file is an error rather than silently wrong weights.
func Load(path string) (*File, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("checkpoint: %s: is a directory, not a checkpoint", path)
	}
	f, err := decode(bufio.NewReaderSize(fd, chunk), st.Size())
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	return f, nil
}

var errTruncated = errors.New("file is truncated or corrupted")

// decode reads a checkpoint of size bytes from r.
func decode(r io.Reader, size int64) (*File, error) {
	sum := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	tr := io.TeeReader(r, sum)

	var pre [prefixLen]byte
	n, err := io.ReadFull(tr, pre[:len(magic)])
	if string(pre[:n]) != magic[:n] {
		return nil, errors.New("not a checkpoint (bad magic)")
	}
	if err != nil || size < int64(prefixLen+crcLen) {
		return nil, fmt.Errorf("%w: %d bytes is shorter than the smallest checkpoint", errTruncated, size)
	}
	if _, err := io.ReadFull(tr, pre[len(magic):]); err != nil {
		return nil, fmt.Errorf("%w: reading the preamble: %v", errTruncated, err)
	}
	if v := binary.LittleEndian.Uint32(pre[len(magic):]); v != version {
		return nil, fmt.Errorf("unsupported format version %d (this build reads version %d)", v, version)
	}
	hlen := binary.LittleEndian.Uint64(pre[len(magic)+4:])
	room := uint64(size) - uint64(prefixLen+crcLen)
	if hlen > room {
		return nil, fmt.Errorf("%w: header of %d bytes does not fit in a file of %d bytes", errTruncated, hlen, size)
	}
	hbuf := make([]byte, hlen)
	if _, err := io.ReadFull(tr, hbuf); err != nil {
		return nil, fmt.Errorf("%w: reading the header: %v", errTruncated, err)
	}
	var h header
	if err := json.Unmarshal(hbuf, &h); err != nil {
		return nil, fmt.Errorf("malformed header JSON (file is corrupted or not a version %d checkpoint): %w", version, err)
	}
	dataLen := room - hlen
	if err := checkEntries(h.Tensors, dataLen); err != nil {
		return nil, err
	}

	f := &File{Tensors: make([]Tensor, len(h.Tensors))}
	if s := string(h.Meta); s != "" && s != "null" {
		f.Meta = h.Meta
	}
	// Read the data section in file order, skipping any gaps, so each tensor is decoded straight
	// from the stream. The order is checkEntries': an empty tensor at the offset where another
	// starts comes first.
	order := make([]int, len(h.Tensors))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return spanLess(&h.Tensors[order[a]], &h.Tensors[order[b]]) })
	buf := make([]byte, chunk)
	var pos uint64
	for _, i := range order {
		e := &h.Tensors[i]
		if e.Offset < pos {
			return nil, errors.New("header: tensor data overlaps") // checkEntries rules it out
		}
		if err := skip(tr, e.Offset-pos); err != nil {
			return nil, err
		}
		t := &f.Tensors[i]
		t.Name, t.Shape, t.Dtype = e.Name, e.Shape, e.Dtype
		if t.Shape == nil {
			t.Shape = []int{}
		}
		if e.Dtype == Float32 {
			t.F32 = make([]float32, e.Length/4)
			err = readF32(tr, buf, t.F32)
		} else {
			t.F64 = make([]float64, e.Length/8)
			err = readF64(tr, buf, t.F64)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: reading tensor %q: %v", errTruncated, e.Name, err)
		}
		pos = e.Offset + e.Length
	}
	if err := skip(tr, dataLen-pos); err != nil {
		return nil, err
	}
	want := sum.Sum32()
	var tail [crcLen]byte
	if _, err := io.ReadFull(r, tail[:]); err != nil {
		return nil, fmt.Errorf("%w: reading the checksum: %v", errTruncated, err)
	}
	if got := binary.LittleEndian.Uint32(tail[:]); got != want {
		return nil, fmt.Errorf("%w: CRC-32C mismatch (stored %08x, computed %08x)", errTruncated, got, want)
	}
	// The size came from Stat; a file that grew while being read would leave bytes behind.
	if n, _ := io.CopyN(io.Discard, r, 1); n != 0 {
		return nil, errors.New("file is corrupted: data after the checksum")
	}
	return f, nil
}

// checkEntries validates the tensor table against a data section of dataLen bytes: every tensor
// lies inside it, so that the allocations the table asks for add up to at most the file's size.
func checkEntries(es []entry, dataLen uint64) error {
	seen := make(map[string]bool, len(es))
	for i := range es {
		e := &es[i]
		if e.Name == "" {
			return fmt.Errorf("header: tensor %d has no name", i)
		}
		if seen[e.Name] {
			return fmt.Errorf("header: duplicate tensor name %q", e.Name)
		}
		seen[e.Name] = true
		size := elemSize(e.Dtype)
		if size == 0 {
			return fmt.Errorf("header: tensor %q: unknown dtype %q", e.Name, e.Dtype)
		}
		n, err := numElems(e.Shape)
		if err != nil {
			return fmt.Errorf("header: tensor %q: %w", e.Name, err)
		}
		if e.Length%uint64(size) != 0 || e.Length/uint64(size) != uint64(n) {
			return fmt.Errorf("header: tensor %q: shape %v has %d elements but length is %d bytes of %s", e.Name, e.Shape, n, e.Length, e.Dtype)
		}
		if e.Offset > dataLen || e.Length > dataLen-e.Offset {
			return fmt.Errorf("%w: tensor %q at bytes [%d, %d) of a data section of %d bytes", errTruncated, e.Name, e.Offset, e.Offset+e.Length, dataLen)
		}
	}
	spans := make([]*entry, len(es))
	for i := range es {
		spans[i] = &es[i]
	}
	sort.Slice(spans, func(a, b int) bool { return spanLess(spans[a], spans[b]) })
	for i := 1; i < len(spans); i++ {
		if prev := spans[i-1]; spans[i].Offset < prev.Offset+prev.Length {
			return errors.New("header: tensor data overlaps")
		}
	}
	return nil
}

// spanLess orders tensors by where their data starts, then ends, so that an empty tensor at the
// offset where another starts does not overlap it whatever the order of the table.
func spanLess(a, b *entry) bool {
	if a.Offset != b.Offset {
		return a.Offset < b.Offset
	}
	return a.Length < b.Length
}

func skip(r io.Reader, n uint64) error {
	if n == 0 {
		return nil
	}
	if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
		return fmt.Errorf("%w: %v", errTruncated, err)
	}
	return nil
}

func readF32(r io.Reader, buf []byte, x []float32) error {
	for len(x) > 0 {
		n := min(len(x), len(buf)/4)
		b := buf[:4*n]
		if _, err := io.ReadFull(r, b); err != nil {
			return err
		}
		for i := range x[:n] {
			x[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		x = x[n:]
	}
	return nil
}

func readF64(r io.Reader, buf []byte, x []float64) error {
	for len(x) > 0 {
		n := min(len(x), len(buf)/8)
		b := buf[:8*n]
		if _, err := io.ReadFull(r, b); err != nil {
			return err
		}
		for i := range x[:n] {
			x[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		}
		x = x[n:]
	}
	return nil
}
