package weights

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/resnet-go/resnet/train/internal/bounds"
)

// MaxHeader is the largest safetensors header read or written, in bytes: the cap of the
// reference implementation (safetensors' MAX_HEADER_SIZE), far above the few hundred kilobytes
// that the header of a model with thousands of tensors takes.
const MaxHeader = 100_000_000

// metadataKey is the header entry that holds the file's string metadata, not a tensor.
const metadataKey = "__metadata__"

// chunk is the size of the buffer through which tensor data is read and written.
const chunk = 1 << 16

// Element types that a safetensors file may hold and that are read as F32.
const (
	f16  Dtype = "F16"
	bf16 Dtype = "BF16"
)

// ReadSafetensors reads a safetensors file of size bytes from r. Every offset and size that the
// header announces is checked against size before anything is allocated from it, so a file
// allocates at most its own size (twice that for F16 and BF16 data, which is widened to F32),
// whatever its header says.
func ReadSafetensors(r io.ReaderAt, size int64) (*File, error) {
	f, err := readSafetensors(r, size)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	return f, nil
}

// stEntry is a tensor as the header describes it, checked.
type stEntry struct {
	name       string
	dtype      Dtype // as stored: F32, F64, I64, F16 or BF16
	shape      []int
	n          int   // elements
	begin, end int64 // byte range in the data section
}

// storedSize is the bytes per element of the dtypes a safetensors file may hold here.
func storedSize(d Dtype) int {
	switch d {
	case f16, bf16:
		return 2
	}
	return d.size()
}

// readAtFull reads len(b) bytes at off, treating a short read as an error even when the reader
// reports none.
func readAtFull(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func readSafetensors(r io.ReaderAt, size int64) (*File, error) {
	if size < 8 {
		return nil, fmt.Errorf("safetensors file of %d bytes is shorter than its 8-byte header length", size)
	}
	var pre [8]byte
	if err := readAtFull(r, pre[:], 0); err != nil {
		return nil, fmt.Errorf("reading the safetensors header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(pre[:])
	if n > uint64(size-8) {
		return nil, fmt.Errorf("safetensors header of %d bytes does not fit in a file of %d bytes", n, size)
	}
	if n > MaxHeader {
		return nil, fmt.Errorf("safetensors header of %d bytes is larger than the %d bytes allowed", n, MaxHeader)
	}
	hdr := make([]byte, n)
	if err := readAtFull(r, hdr, 8); err != nil {
		return nil, fmt.Errorf("reading the safetensors header: %w", err)
	}
	dataStart := 8 + int64(n)
	dataLen := size - dataStart
	entries, meta, err := parseHeader(hdr, dataLen)
	if err != nil {
		return nil, err
	}

	f := &File{Tensors: make([]Tensor, len(entries)), Metadata: meta}
	buf := make([]byte, max(8, min(chunk, dataLen))) // at least one element of any dtype
	for i, e := range entries {
		t, err := readTensor(r, e, dataStart, buf)
		if err != nil {
			return nil, err
		}
		f.Tensors[i] = t
	}
	return f, nil
}

// parseHeader decodes and checks the JSON header: the tensors it returns are in the order of
// their data, which covers the data section of dataLen bytes exactly, without holes or overlaps.
func parseHeader(hdr []byte, dataLen int64) ([]stEntry, map[string]string, error) {
	if !utf8.Valid(hdr) {
		return nil, nil, errors.New("safetensors header is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, fmt.Errorf("safetensors header is not a JSON object (starts %s)", quoteStart(hdr))
	}
	var (
		entries []stEntry
		meta    map[string]string
		seen    = map[string]bool{}
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("malformed safetensors header: %w", err)
		}
		name := tok.(string) // object keys are strings, or Token fails
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, fmt.Errorf("malformed safetensors header at %q: %w", name, err)
		}
		if seen[name] {
			if name == metadataKey {
				return nil, nil, fmt.Errorf("safetensors header has two %q entries", metadataKey)
			}
			return nil, nil, fmt.Errorf("safetensors header names tensor %q twice", name)
		}
		seen[name] = true
		if name == metadataKey {
			if meta, err = parseMetadata(raw); err != nil {
				return nil, nil, err
			}
			continue
		}
		e, err := parseEntry(name, raw, dataLen)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, e)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, nil, fmt.Errorf("malformed safetensors header: %w", err)
	}
	if rest := bytes.Trim(hdr[dec.InputOffset():], " \t\r\n"); len(rest) > 0 { // JSON whitespace
		return nil, nil, fmt.Errorf("safetensors header has %d bytes after its JSON object (starting %s)", len(rest), quoteStart(rest))
	}

	// The data of the tensors, in order of their offsets, must tile the data section exactly.
	sort.SliceStable(entries, func(i, j int) bool {
		a, b := entries[i], entries[j]
		return a.begin < b.begin || a.begin == b.begin && a.end < b.end
	})
	var at int64
	for i, e := range entries {
		switch {
		case e.begin < at:
			p := entries[i-1]
			return nil, nil, fmt.Errorf("tensors %q (data_offsets [%d, %d]) and %q ([%d, %d]) overlap",
				p.name, p.begin, p.end, e.name, e.begin, e.end)
		case e.begin > at:
			return nil, nil, fmt.Errorf("%d bytes of the data section before tensor %q (data_offsets [%d, %d]) belong to no tensor; the format allows no holes",
				e.begin-at, e.name, e.begin, e.end)
		}
		at = e.end
	}
	if at != dataLen {
		return nil, nil, fmt.Errorf("the tensors cover %d bytes of a data section of %d bytes; the format allows no trailing bytes", at, dataLen)
	}
	return entries, meta, nil
}

// parseEntry checks one tensor of the header against a data section of dataLen bytes.
func parseEntry(name string, raw json.RawMessage, dataLen int64) (stEntry, error) {
	e := stEntry{name: name}
	var fields map[string]json.RawMessage
	if err := decodeStrict(raw, &fields); err != nil {
		return e, fmt.Errorf("tensor %q: header entry is not a JSON object: %w", name, err)
	}
	var (
		dtype   string
		offsets []int64
	)
	for _, fld := range []struct {
		key string
		v   any
	}{{"dtype", &dtype}, {"shape", &e.shape}, {"data_offsets", &offsets}} {
		v, ok := fields[fld.key]
		if !ok {
			return e, fmt.Errorf("tensor %q: header entry has no %q", name, fld.key)
		}
		if err := decodeStrict(v, fld.v); err != nil {
			return e, fmt.Errorf("tensor %q: %s: %w", name, fld.key, err)
		}
	}
	e.dtype = Dtype(dtype)
	es := storedSize(e.dtype)
	if es == 0 {
		return e, fmt.Errorf("tensor %q: dtype %s not supported (want F32, F64, I64, F16 or BF16)", name, strconv.Quote(dtype))
	}
	if len(offsets) != 2 {
		return e, fmt.Errorf("tensor %q: data_offsets has %d numbers, want 2 (begin and end)", name, len(offsets))
	}
	e.begin, e.end = offsets[0], offsets[1]
	if e.begin < 0 || e.end < e.begin || e.end > dataLen {
		return e, fmt.Errorf("tensor %q: data_offsets [%d, %d] are not a range inside the data section of %d bytes",
			name, e.begin, e.end, dataLen)
	}
	for _, d := range e.shape {
		if d < 0 {
			return e, fmt.Errorf("tensor %q: shape %v has a negative dimension", name, e.shape)
		}
	}
	// The elements of the shape, then their bytes, bounded by the data section so that neither
	// product can wrap.
	nbytes, err := bounds.Product(int(min(dataLen, math.MaxInt)), append(slices.Clone(e.shape), es)...)
	if err != nil {
		return e, fmt.Errorf("tensor %q: shape %v of %s needs more bytes than the data section's %d: %w",
			name, e.shape, dtype, dataLen, err)
	}
	if int64(nbytes) != e.end-e.begin {
		return e, fmt.Errorf("tensor %q: shape %v of %s needs %d bytes, but data_offsets [%d, %d] hold %d",
			name, e.shape, dtype, nbytes, e.begin, e.end, e.end-e.begin)
	}
	e.n = nbytes / es
	return e, nil
}

// parseMetadata decodes the "__metadata__" entry: a JSON object of strings, or null.
func parseMetadata(raw json.RawMessage) (map[string]string, error) {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil
	}
	var m map[string]string
	if err := decodeStrict(raw, &m); err != nil {
		return nil, fmt.Errorf("safetensors %q is not an object of strings: %w", metadataKey, err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// decodeStrict decodes one JSON value into v, refusing null (which encoding/json would take as
// an empty value).
func decodeStrict(raw json.RawMessage, v any) error {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return errors.New("null")
	}
	return json.Unmarshal(raw, v)
}

// quoteStart is the first bytes of b, quoted, for an error message.
func quoteStart(b []byte) string {
	if len(b) > 16 {
		return strconv.Quote(string(b[:16])) + "…"
	}
	return strconv.Quote(string(b))
}

// readTensor reads the data of e from the data section at dataStart, through buf.
func readTensor(r io.ReaderAt, e stEntry, dataStart int64, buf []byte) (Tensor, error) {
	t := Tensor{Name: e.name, Shape: e.shape, Dtype: e.dtype}
	if t.Shape == nil {
		t.Shape = []int{}
	}
	es := storedSize(e.dtype)
	switch e.dtype {
	case F32, f16, bf16:
		t.Dtype = F32
		t.F32 = make([]float32, e.n)
	case F64:
		t.F64 = make([]float64, e.n)
	case I64:
		t.I64 = make([]int64, e.n)
	}
	off := dataStart + e.begin
	per := len(buf) / es
	for i := 0; i < e.n; i += per {
		k := min(per, e.n-i)
		b := buf[:k*es]
		if err := readAtFull(r, b, off); err != nil {
			return t, fmt.Errorf("tensor %q: reading its data: %w", e.name, err)
		}
		off += int64(len(b))
		decodeLE(e.dtype, b, t.F32[min(i, len(t.F32)):], t.F64[min(i, len(t.F64)):], t.I64[min(i, len(t.I64)):])
	}
	return t, nil
}

// decodeLE decodes the little-endian elements of b, of dtype d, into the slice for d.
func decodeLE(d Dtype, b []byte, f32 []float32, f64 []float64, i64 []int64) {
	le := binary.LittleEndian
	switch d {
	case F32:
		for j := range len(b) / 4 {
			f32[j] = math.Float32frombits(le.Uint32(b[4*j:]))
		}
	case f16:
		for j := range len(b) / 2 {
			f32[j] = halfToFloat32(le.Uint16(b[2*j:]))
		}
	case bf16:
		for j := range len(b) / 2 {
			f32[j] = math.Float32frombits(uint32(le.Uint16(b[2*j:])) << 16)
		}
	case F64:
		for j := range len(b) / 8 {
			f64[j] = math.Float64frombits(le.Uint64(b[8*j:]))
		}
	case I64:
		for j := range len(b) / 8 {
			i64[j] = int64(le.Uint64(b[8*j:]))
		}
	}
}

// halfToFloat32 widens an IEEE 754 binary16 value exactly, NaN payloads included.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
	case frac == 0: // ±0
		return math.Float32frombits(sign)
	}
	// Subnormal: frac × 2^-24, normal as a float32.
	e := uint32(127 - 15 + 1)
	for frac&0x400 == 0 {
		frac <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (frac&0x3ff)<<13)
}

// WriteSafetensors writes f to w in the safetensors format: the tensors in the order of
// f.Tensors (header entries and data alike), f.Metadata (when not empty) as "__metadata__" with
// its keys sorted, and the header padded with spaces so that the data starts at a multiple of 8
// bytes. Equal Files give equal bytes. f is checked before anything is written: every tensor
// must be well formed (see Tensor), names unique and not "__metadata__", and all strings valid
// UTF-8.
func WriteSafetensors(w io.Writer, f *File) error {
	p, err := planSafetensors(f)
	if err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	bw := bufio.NewWriterSize(w, chunk)
	if err := p.write(bw, f); err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	return nil
}

// stPlan is a checked File's header, ready to write.
type stPlan struct{ header []byte }

// planSafetensors checks f and builds its padded header.
func planSafetensors(f *File) (*stPlan, error) {
	var h bytes.Buffer
	h.WriteByte('{')
	if len(f.Metadata) > 0 {
		keys := make([]string, 0, len(f.Metadata))
		for k, v := range f.Metadata {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, fmt.Errorf("metadata %q: %q: not valid UTF-8", k, v)
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		h.WriteString(jsonString(metadataKey) + ":{")
		for i, k := range keys {
			if i > 0 {
				h.WriteByte(',')
			}
			h.WriteString(jsonString(k) + ":" + jsonString(f.Metadata[k]))
		}
		h.WriteByte('}')
	}
	seen := make(map[string]bool, len(f.Tensors))
	var at int64
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if err := t.check(); err != nil {
			return nil, err
		}
		if t.Name == metadataKey {
			return nil, fmt.Errorf("a tensor cannot be called %q, the name of the metadata entry", metadataKey)
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("two tensors called %q", t.Name)
		}
		seen[t.Name] = true
		nbytes := int64(max(len(t.F32), len(t.F64), len(t.I64))) * int64(t.Dtype.size())
		if h.Len() > 1 {
			h.WriteByte(',')
		}
		fmt.Fprintf(&h, `%s:{"dtype":"%s","shape":[`, jsonString(t.Name), t.Dtype)
		for j, d := range t.Shape {
			if j > 0 {
				h.WriteByte(',')
			}
			h.WriteString(strconv.Itoa(d))
		}
		fmt.Fprintf(&h, `],"data_offsets":[%d,%d]}`, at, at+nbytes)
		at += nbytes
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	if h.Len() > MaxHeader {
		return nil, fmt.Errorf("safetensors header of %d bytes is larger than the %d bytes allowed", h.Len(), MaxHeader)
	}
	return &stPlan{header: h.Bytes()}, nil
}

// jsonString is s as a JSON string, with <, > and & left as they are.
func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a valid UTF-8 string always encodes
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

// write writes the header and the data of f, which p was planned from.
func (p *stPlan) write(w io.Writer, f *File) error {
	var pre [8]byte
	binary.LittleEndian.PutUint64(pre[:], uint64(len(p.header)))
	if _, err := w.Write(pre[:]); err != nil {
		return err
	}
	if _, err := w.Write(p.header); err != nil {
		return err
	}
	buf := make([]byte, chunk)
	le := binary.LittleEndian
	for i := range f.Tensors {
		t := &f.Tensors[i]
		var err error
		switch t.Dtype {
		case F32:
			err = writeChunks(w, buf, 4, len(t.F32), func(b []byte, i int) {
				le.PutUint32(b, math.Float32bits(t.F32[i]))
			})
		case F64:
			err = writeChunks(w, buf, 8, len(t.F64), func(b []byte, i int) {
				le.PutUint64(b, math.Float64bits(t.F64[i]))
			})
		case I64:
			err = writeChunks(w, buf, 8, len(t.I64), func(b []byte, i int) {
				le.PutUint64(b, uint64(t.I64[i]))
			})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// writeChunks writes n elements of es bytes each, encoded by put, through buf.
func writeChunks(w io.Writer, buf []byte, es, n int, put func(b []byte, i int)) error {
	per := len(buf) / es
	for i := 0; i < n; i += per {
		k := min(per, n-i)
		for j := range k {
			put(buf[j*es:], i+j)
		}
		if _, err := w.Write(buf[:k*es]); err != nil {
			return err
		}
	}
	return nil
}
