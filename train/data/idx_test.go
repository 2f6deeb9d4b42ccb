package data_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resnet-go/resnet/train/data"
)

func TestReadIDXRoundTrip(t *testing.T) {
	pix := ramp(3*2*4, 1)
	labels := []byte{0, 9, 4}
	images := idxFile(0x803, []uint32{3, 2, 4}, pix)
	lbl := idxFile(0x801, []uint32{3}, labels)
	for _, tc := range []struct {
		name string
		gz   bool
	}{{"raw", false}, {"gzip", true}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			im, lb := images, lbl
			suffix := ""
			if tc.gz {
				im, lb, suffix = gzipped(t, images), gzipped(t, lbl), ".gz"
			}
			ip := writeFile(t, dir, "train-images-idx3-ubyte"+suffix, im)
			lp := writeFile(t, dir, "train-labels-idx1-ubyte"+suffix, lb)
			s, err := data.ReadIDX(ip, lp)
			require.NoError(t, err)
			assert.Equal(t, filepath.Base(ip), s.Name)
			assert.Equal(t, 3, s.Len())
			c, h, w := s.Shape()
			assert.Equal(t, []int{1, 2, 4}, []int{c, h, w})
			assert.Equal(t, 10, s.Classes())
			assert.Equal(t, pix, s.Pix)
			assert.Equal(t, labels, s.Labels)
			img, l := s.Image(1)
			assert.Equal(t, pix[8:16], img)
			assert.Equal(t, 9, l)
		})
	}
}

func TestReadIDXBadFiles(t *testing.T) {
	goodImages := idxFile(0x803, []uint32{3, 2, 2}, ramp(12, 0))
	goodLabels := idxFile(0x801, []uint32{3}, []byte{1, 2, 3})
	for _, tc := range []struct {
		name           string
		images, labels []byte
		gzImages       bool
		blame          string // "images" or "labels": the file the message must name
		want           []string
	}{
		{"truncated images", idxFile(0x803, []uint32{3, 2, 2}, ramp(10, 0)), goodLabels, false, "images",
			[]string{"truncated", "3 images of 2x2 need 12 bytes of pixels, the file has 10"}},
		{"truncated gzip images", idxFile(0x803, []uint32{3, 2, 2}, ramp(10, 0)), goodLabels, true, "images",
			[]string{"truncated", "the file has 10"}},
		{"truncated labels", goodImages, idxFile(0x801, []uint32{3}, []byte{1, 2}), false, "labels",
			[]string{"truncated", "announces 3 labels, the file has 2"}},
		{"truncated header", idxFile(0x803, []uint32{3}, nil), goodLabels, false, "images",
			[]string{"truncated in the IDX header"}},
		{"wrong magic", idxFile(0x12345678, []uint32{3, 2, 2}, ramp(12, 0)), goodLabels, false, "images",
			[]string{"not an IDX file", "0x12345678", "want 0x00000803"}},
		{"labels file given as images", goodLabels, goodLabels, false, "images",
			[]string{"IDX file of 1 dimensions", "want 3 for images"}},
		{"wrong dimension count", idxFile(0x802, []uint32{3, 4}, ramp(12, 0)), goodLabels, false, "images",
			[]string{"IDX file of 2 dimensions (magic 0x00000802)", "want 3"}},
		{"float elements", idxFile(0x0d03, []uint32{3, 2, 2}, ramp(48, 0)), goodLabels, false, "images",
			[]string{"element type 0x0d"}},
		{"label out of range", goodImages, idxFile(0x801, []uint32{3}, []byte{1, 10, 3}), false, "labels",
			[]string{"label 10 of record 1 is outside [0, 10)"}},
		{"count mismatch", goodImages, idxFile(0x801, []uint32{2}, []byte{1, 2}), false, "images",
			[]string{"has 3 images but", "has 2 labels"}},
		{"bad gzip header", []byte{0x1f, 0x8b, 1, 2, 3}, goodLabels, false, "images", []string{"gzip:"}},
		{"empty images", nil, goodLabels, false, "images", []string{"empty file, want an IDX images file"}},
		{"empty gzip images", []byte{}, goodLabels, true, "images", []string{"empty file"}},
		{"empty labels", goodImages, []byte{}, false, "labels", []string{"empty file, want an IDX labels file"}},
		{"no images", idxFile(0x803, []uint32{0, 2, 2}, nil), goodLabels, false, "images", []string{"announces no images"}},
		{"zero-size images", idxFile(0x803, []uint32{3, 0, 2}, nil), goodLabels, false, "images", []string{"images of 0x2"}},
		{"huge header", idxFile(0x803, []uint32{1 << 31, 1 << 16, 1 << 16}, nil), goodLabels, false, "images", []string{"more than"}},
		{"trailing data", append(append([]byte{}, goodImages...), 7), goodLabels, false, "images",
			[]string{"data after the 3 images of 2x2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			im := tc.images
			if tc.gzImages {
				im = gzipped(t, im)
			}
			ip := writeFile(t, dir, "images", im)
			lp := writeFile(t, dir, "labels", tc.labels)
			s, err := data.ReadIDX(ip, lp)
			require.Error(t, err)
			assert.Nil(t, s)
			blamed := map[string]string{"images": ip, "labels": lp}[tc.blame]
			assert.Contains(t, err.Error(), "data: "+blamed)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestReadIDXCorruptGzip(t *testing.T) {
	dir := t.TempDir()
	z := gzipped(t, idxFile(0x803, []uint32{3, 2, 2}, ramp(12, 0)))
	z[len(z)-5] ^= 0xff // the CRC-32: only reading to the end notices
	ip := writeFile(t, dir, "images.gz", z)
	lp := writeFile(t, dir, "labels", idxFile(0x801, []uint32{3}, []byte{1, 2, 3}))
	_, err := data.ReadIDX(ip, lp)
	require.Error(t, err)
	assert.Contains(t, err.Error(), ip)
	assert.Contains(t, err.Error(), "checksum")
}

func TestReadIDXMissingFile(t *testing.T) {
	dir := t.TempDir()
	lp := writeFile(t, dir, "labels", idxFile(0x801, []uint32{1}, []byte{1}))
	missing := filepath.Join(dir, "nope-images")
	_, err := data.ReadIDX(missing, lp)
	require.Error(t, err)
	assert.Contains(t, err.Error(), missing)
	assert.Contains(t, err.Error(), "no such file")
}
