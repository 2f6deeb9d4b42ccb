package data_test

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/resnet-go/resnet/train/data"
)

// idxFile builds an IDX file: the magic number, the dimensions, then payload.
func idxFile(magic uint32, dims []uint32, payload []byte) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.BigEndian, magic)
	_ = binary.Write(&b, binary.BigEndian, dims)
	b.Write(payload)
	return b.Bytes()
}

// gzipped compresses b.
func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	z := gzip.NewWriter(&out)
	_, err := z.Write(b)
	require.NoError(t, err)
	require.NoError(t, z.Close())
	return out.Bytes()
}

// writeFile writes b to dir/name and returns the path.
func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

// ramp is n bytes counting up from start (mod 256), distinct per image in small tests.
func ramp(n, start int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(start + i)
	}
	return b
}

// cifarRecords builds binary CIFAR records: each example has its label bytes then 3072 pixels
// from ramp(3072, 7*i).
func cifarRecords(labels ...[]byte) (file []byte, pix []byte) {
	for i, l := range labels {
		p := ramp(3*32*32, 7*i)
		file = append(file, l...)
		file = append(file, p...)
		pix = append(pix, p...)
	}
	return file, pix
}

// indexed is a set of n images of c×h×w whose first two bytes encode the index (so every image
// is distinct) and whose other bytes are a ramp; labels are i % classes.
func indexed(n, c, h, w, classes int) *data.Images {
	size := c * h * w
	s := &data.Images{Name: "indexed", C: c, H: h, W: w, NumClasses: classes,
		Pix: make([]uint8, n*size), Labels: make([]uint8, n)}
	for i := 0; i < n; i++ {
		img := s.Pix[i*size : (i+1)*size]
		copy(img, ramp(size, 3*i+1))
		img[0], img[min(1, size-1)] = byte(i), byte(i>>8)
		s.Labels[i] = uint8(i % classes)
	}
	return s
}

// allocated returns the bytes of heap that f allocates (a few KB of which may be the runtime's or
// another goroutine's), to check that a reader refuses a header before allocating for it.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// pngFile builds a PNG of the given declared size, bit depth and colour type (6: RGBA) whose image
// data is a few zero bytes: a header that promises far more than the file holds.
func pngFile(width, height uint32, depth, colorType byte) []byte {
	chunk := func(b []byte, typ string, payload []byte) []byte {
		b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
		start := len(b)
		b = append(append(b, typ...), payload...)
		return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, width)
	ihdr = binary.BigEndian.AppendUint32(ihdr, height)
	ihdr = append(ihdr, depth, colorType, 0, 0, 0) // deflate, adaptive filtering, not interlaced
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write(make([]byte, 8))
	_ = zw.Close()
	b := []byte("\x89PNG\r\n\x1a\n")
	b = chunk(b, "IHDR", ihdr)
	b = chunk(b, "IDAT", z.Bytes())
	return chunk(b, "IEND", nil)
}
