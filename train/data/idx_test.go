package data_test

import (
	"path/filepath"
	"strings"
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
		{"huge header", idxFile(0x803, []uint32{1 << 31, 1 << 12, 1 << 12}, nil), goodLabels, false, "images",
			[]string{"announces 2147483648 images of 4096x4096", "= 36028797018963968, more than 1099511627776 bytes"}},
		{"huge sides", idxFile(0x803, []uint32{3, 2, 1 << 16}, nil), goodLabels, false, "images",
			[]string{"announces 3 images of 2x65536: sides are at most 4096"}},
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

// TestReadIDXHostileHeaders: headers whose sizes wrap int64 or exceed what any data set needs are
// refused before anything is allocated for them. The first two panicked (makeslice: cap out of
// range) or were accepted as a data set of 64 KiB before the sizes went through bounds.Product;
// the last announces 4 GiB of labels in a file of 8 bytes, and costs at most bounds.MaxUnbacked.
func TestReadIDXHostileHeaders(t *testing.T) {
	oneLabel := idxFile(0x801, []uint32{1}, []byte{1})
	twoLabels := idxFile(0x801, []uint32{2}, []byte{1, 2})
	for _, tc := range []struct {
		name           string
		images, labels []byte
		blame          string // "images" or "labels"
		want           string
	}{
		{"sides whose product wraps int64", idxFile(0x803, []uint32{1, 0xFFFFFFFF, 0xFFFFFFFF}, nil), oneLabel, "images",
			"announces 1 images of 4294967295x4294967295: sides are at most 4096"},
		{"product that wraps to 64 KiB", idxFile(0x803, []uint32{2, 2147516416, 4294901761}, make([]byte, 64<<10)), twoLabels, "images",
			"announces 2 images of 2147516416x4294901761: sides are at most 4096"},
		{"4 GiB of labels announced", idxFile(0x803, []uint32{1, 1, 1}, []byte{0}), idxFile(0x801, []uint32{0xFFFFFFFF}, nil), "labels",
			"truncated: the header announces 4294967295 labels, the file has 0"},
	} {
		for _, gz := range []bool{false, true} {
			name := tc.name
			if gz {
				name += ", gzip"
			}
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				im, lb := tc.images, tc.labels
				if gz {
					im, lb = gzipped(t, im), gzipped(t, lb)
				}
				ip := writeFile(t, dir, "images", im)
				lp := writeFile(t, dir, "labels", lb)
				var s *data.Images
				var err error
				alloc := allocated(func() { s, err = data.ReadIDX(ip, lp) })
				require.Error(t, err)
				assert.Nil(t, s)
				blamed := map[string]string{"images": ip, "labels": lp}[tc.blame]
				assert.Contains(t, err.Error(), "data: "+blamed+": ")
				assert.Contains(t, err.Error(), tc.want)
				assert.Less(t, alloc, uint64(2<<20), "bytes allocated for a refused header")
			})
		}
	}
}

// TestReadRecordsHostileHeader: the prediction path reads IDX images through the same checks,
// and refuses the header itself rather than the shape it reads from it.
func TestReadRecordsHostileHeader(t *testing.T) {
	p := writeFile(t, t.TempDir(), "images", idxFile(0x803, []uint32{2, 2147516416, 4294901761}, make([]byte, 64<<10)))
	_, _, err := data.ReadRecords(p, "idx", 1, 28, 28)
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "data: "+p+": "), err.Error())
	assert.Contains(t, err.Error(), "announces 2 images of 2147516416x4294901761: sides are at most 4096")
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
