package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"hash/crc32"
	"image/png"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fuzz targets of the readers of outside bytes. Their seed corpora (testdata/fuzz/FuzzName)
// hold valid files, the damaged ones of the tests and the crashers of the size overflows; plain
// go test runs them, make fuzz explores from them.

// FuzzIDX reads a pair of IDX files, images and labels, gzip'd first when gz is set (an input may
// also be gzip already, which the reader detects, so that the fuzzer can reach the gzip reader's
// own errors).
func FuzzIDX(f *testing.F) {
	f.Fuzz(func(t *testing.T, images, labels []byte, gz bool) {
		im, lb := images, labels
		if gz {
			im, lb = gzipBytes(t, images), gzipBytes(t, labels)
		}
		s, err := readIDXBytes(im, lb)
		if err != nil {
			require.Nil(t, s)
			msg := err.Error()
			assert.True(t, strings.HasPrefix(msg, "data: images") || strings.HasPrefix(msg, "data: labels"), "the error names no file: %s", msg)
			return
		}
		n := len(s.Labels)
		require.Positive(t, n)
		assert.Equal(t, 1, s.C)
		assert.Equal(t, idxClasses, s.NumClasses)
		require.True(t, s.H >= 1 && s.H <= maxSide && s.W >= 1 && s.W <= maxSide, "image of %dx%d", s.H, s.W)
		require.Len(t, s.Pix, n*s.H*s.W)
		for i, l := range s.Labels {
			require.Less(t, int(l), idxClasses, "label of record %d", i)
		}
		pix, _ := s.Image(n - 1)
		assert.Len(t, pix, s.H*s.W)
		// What was read is what the files hold, after their headers.
		if !isGzip(images) && !isGzip(labels) {
			require.Len(t, images, 16+len(s.Pix))
			require.Len(t, labels, 8+n)
			assert.Equal(t, []uint32{uint32(n), uint32(s.H), uint32(s.W)}, []uint32{
				binary.BigEndian.Uint32(images[4:]), binary.BigEndian.Uint32(images[8:]), binary.BigEndian.Uint32(images[12:])})
			assert.Equal(t, images[16:], s.Pix)
			assert.Equal(t, labels[8:], s.Labels)
		}
	})
}

// readIDXBytes is ReadIDX on two files in memory, named images and labels.
func readIDXBytes(images, labels []byte) (*Images, error) {
	ls, err := newSource("labels", bytes.NewReader(labels))
	if err != nil {
		return nil, err
	}
	is, err := newSource("images", bytes.NewReader(images))
	if err != nil {
		return nil, err
	}
	return readIDXPair(is, ls)
}

// FuzzCIFAR reads binary CIFAR records: format picks CIFAR-10, CIFAR-100 coarse or fine.
func FuzzCIFAR(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte, format uint8) {
		cf := []cifarFormat{cifar10(), cifar100(false), cifar100(true)}[format%3]
		src, err := newSource("batch.bin", bytes.NewReader(b))
		if err != nil {
			assert.True(t, strings.HasPrefix(err.Error(), "data: batch.bin: "), err.Error())
			return
		}
		s := &Images{}
		err = s.readCIFARRecords(cf, src)
		if err != nil {
			assert.True(t, strings.HasPrefix(err.Error(), "data: batch.bin: "), err.Error())
			return
		}
		n := len(s.Labels)
		require.Positive(t, n)
		require.Len(t, s.Pix, n*cifarPixels)
		for i, l := range s.Labels {
			require.Less(t, int(l), cf.limits[cf.use], "label of record %d", i)
		}
		if !isGzip(b) {
			rec := len(cf.limits) + cifarPixels
			require.Len(t, b, n*rec)
			for i := 0; i < n; i++ {
				r := b[i*rec : (i+1)*rec]
				require.Equal(t, r[cf.use], s.Labels[i])
				require.Equal(t, r[len(cf.limits):], s.Pix[i*cifarPixels:(i+1)*cifarPixels])
			}
		}
	})
}

// fuzzPNGDecode bounds the declared size that FuzzPNG decodes, so that an execution stays fast;
// larger sizes are still checked against the want of 28x28 and maxPixels.
const fuzzPNGDecode = 1 << 16

// FuzzPNG reads a PNG, grey or RGB, after fixing its chunks' CRCs (so that mutations reach the
// decoder instead of failing the checksum): once wanting 28x28, once wanting its declared size
// when that is small enough to decode quickly; what it decodes must be what png.Decode gives.
func FuzzPNG(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte, rgb bool) {
		b = fixPNGCRCs(b)
		c := 1
		if rgb {
			c = 3
		}
		cfg, cfgErr := png.DecodeConfig(bytes.NewReader(b))
		pix, err := readPNG(bytes.NewReader(b), "img.png", c, 28, 28)
		if err != nil {
			assert.True(t, strings.HasPrefix(err.Error(), "data: img.png: "), err.Error())
		} else {
			require.NoError(t, cfgErr)
			require.Equal(t, []int{28, 28}, []int{cfg.Height, cfg.Width})
			require.Len(t, pix, c*28*28)
		}
		if cfgErr != nil {
			require.Error(t, err)
			return
		}
		if int64(cfg.Height)*int64(cfg.Width) > maxPixels {
			require.Error(t, err)
			assert.Contains(t, err.Error(), "more than 16777216 pixels")
		}
		if int64(cfg.Height)*int64(cfg.Width) > fuzzPNGDecode {
			return
		}
		pix, err = readPNG(bytes.NewReader(b), "img.png", c, cfg.Height, cfg.Width)
		img, decErr := png.Decode(bytes.NewReader(b))
		if err != nil {
			assert.True(t, strings.HasPrefix(err.Error(), "data: img.png: "), err.Error())
			require.Error(t, decErr, "png.Decode reads what readPNG refused")
			return
		}
		require.NoError(t, decErr)
		require.Len(t, pix, c*cfg.Height*cfg.Width)
		assert.Equal(t, planes(img, c), pix)
	})
}

// fixPNGCRCs returns a copy of b whose complete chunks after the signature have correct CRCs.
func fixPNGCRCs(b []byte) []byte {
	b = append([]byte(nil), b...)
	for i := 8; i+12 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[i:]))
		if n > len(b)-i-12 {
			break
		}
		binary.BigEndian.PutUint32(b[i+8+n:], crc32.ChecksumIEEE(b[i+4:i+8+n]))
		i += 12 + n
	}
	return b
}

// isGzip reports whether the reader would take b as gzip.
func isGzip(b []byte) bool {
	return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b
}

// gzipWriters reuse their compressors, which cost a megabyte each to make: a new one per
// execution would halve the speed of FuzzIDX.
var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

// gzipBytes compresses b.
func gzipBytes(t *testing.T, b []byte) []byte {
	var out bytes.Buffer
	z := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(z)
	z.Reset(&out)
	_, err := z.Write(b)
	require.NoError(t, err)
	require.NoError(t, z.Close())
	return out.Bytes()
}
