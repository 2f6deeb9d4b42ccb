package weights

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/resnet-go/resnet/train/internal/bounds"
)

// Dtype is the element type of a Tensor, by its safetensors name.
type Dtype string

// The element types a Tensor holds. Readers also accept half precision (safetensors' "F16" and
// "BF16", PyTorch's HalfStorage and BFloat16Storage) and widen it to F32, which holds every such
// value exactly.
const (
	F32 Dtype = "F32" // float32, in Tensor.F32
	F64 Dtype = "F64" // float64, in Tensor.F64
	I64 Dtype = "I64" // int64, in Tensor.I64 (torchvision's num_batches_tracked)
)

// size is the bytes per element of d, 0 for a Dtype a Tensor cannot hold.
func (d Dtype) size() int {
	switch d {
	case F32:
		return 4
	case F64, I64:
		return 8
	}
	return 0
}

// Tensor is a named, dense, row-major (C-order) array. Exactly one of F32, F64 and I64 holds the
// elements: the one Dtype names, with as many elements as the product of Shape (one for a scalar,
// whose Shape is empty). The others are empty.
type Tensor struct {
	Name  string
	Shape []int
	Dtype Dtype
	F32   []float32
	F64   []float64
	I64   []int64
}

// File is the content of a weights file: tensors in the order of the file (for safetensors the
// order of their data, for a .pth file the order of the state_dict) and, for safetensors, the
// string metadata of its "__metadata__" entry (nil when there is none or it is empty).
type File struct {
	Tensors  []Tensor
	Metadata map[string]string
}

// Get returns the tensor called name, or false when f has none.
func (f *File) Get(name string) (*Tensor, bool) {
	for i := range f.Tensors {
		if f.Tensors[i].Name == name {
			return &f.Tensors[i], true
		}
	}
	return nil, false
}

// numElements is the number of elements t's shape announces, at most limit.
func numElements(shape []int, limit int) (int, error) {
	n, err := bounds.Product(limit, shape...)
	if err != nil {
		return 0, fmt.Errorf("shape %v: %w", shape, err)
	}
	return n, nil
}

// check verifies that t is well formed: a known dtype, non-negative dims, and exactly the
// elements its shape announces in the slice its dtype names.
func (t *Tensor) check() error {
	if !utf8.ValidString(t.Name) {
		return fmt.Errorf("tensor %q: name is not valid UTF-8", t.Name)
	}
	n, err := numElements(t.Shape, math.MaxInt)
	if err != nil {
		return fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	var have int
	switch t.Dtype {
	case F32:
		have = len(t.F32)
	case F64:
		have = len(t.F64)
	case I64:
		have = len(t.I64)
	default:
		return fmt.Errorf("tensor %q: unknown dtype %q (want %s, %s or %s)", t.Name, t.Dtype, F32, F64, I64)
	}
	for _, o := range []struct {
		d Dtype
		n int
	}{{F32, len(t.F32)}, {F64, len(t.F64)}, {I64, len(t.I64)}} {
		if o.d != t.Dtype && o.n != 0 {
			return fmt.Errorf("tensor %q: dtype is %s but its %s slice holds %d values", t.Name, t.Dtype, o.d, o.n)
		}
	}
	if have != n {
		return fmt.Errorf("tensor %q: shape %v needs %d elements, its %s slice holds %d", t.Name, t.Shape, n, t.Dtype, have)
	}
	return nil
}

// ReadFile reads the weights file at path, telling the format by its content: a zip archive
// (magic "PK\x03\x04") is read as a PyTorch .pth file (ReadPTH), anything else as safetensors
// (ReadSafetensors). Errors name the path.
func ReadFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("weights: %s: is a directory, not a weights file", path)
	}
	size := st.Size()
	var magic [4]byte
	n, err := fh.ReadAt(magic[:], 0)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("weights: %s: %w", path, err)
	}
	var f *File
	switch {
	case bytes.Equal(magic[:n], []byte(zipMagic)):
		f, err = readPTH(fh, size)
	case n >= 3 && bytes.Equal(magic[:3], []byte(legacyPTHMagic)):
		err = errLegacyPTH
	default:
		f, err = readSafetensors(fh, size)
	}
	if err != nil {
		return nil, fmt.Errorf("weights: %s: %w", path, err)
	}
	return f, nil
}

// WriteFile writes f to path in the safetensors format (WriteSafetensors), atomically: the bytes
// go to a temporary file in the same directory, which is synced and renamed over path, and the
// directory is synced, so a crash leaves either the old file or the new one. f is checked before
// anything is created.
func WriteFile(path string, f *File) error {
	if err := writeFileAtomic(path, f, nil); err != nil {
		return fmt.Errorf("weights: writing %s: %w", path, err)
	}
	return nil
}

// writeFileAtomic is WriteFile with wrap, when not nil, interposed before the temporary file, so
// a test can make the write fail part way.
func writeFileAtomic(path string, f *File, wrap func(io.Writer) io.Writer) error {
	plan, err := planSafetensors(f)
	if err != nil {
		return err
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, base+".tmp-*")
	if err != nil {
		return err
	}
	renamed := false
	defer func() {
		if !renamed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	var w io.Writer = tmp
	if wrap != nil {
		w = wrap(tmp)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	if err := plan.write(bw, f); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	// CreateTemp makes the file private (0600); weights are as shareable as any output file.
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	renamed = true
	// Sync the directory so that the rename itself survives a power loss.
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
